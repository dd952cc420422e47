//! Instruction decode → encode is identity on every program section of every corpus
//! object, and every instruction there has a typed view (nothing decodes as unknown).

use bpfkit_obj::insn::{decode_slots, disassemble, encode_slots, Insns, Instruction, NoSymbols};
use object::{Object, ObjectSection, SectionFlags};

/// Executable sections (`SHF_EXECINSTR`) of an object with their contents.
fn program_sections(data: &[u8]) -> (object::Endianness, Vec<(String, Vec<u8>)>) {
    let file = object::File::parse(data).expect("corpus object parses as ELF");
    let endian = if file.is_little_endian() {
        object::Endianness::Little
    } else {
        object::Endianness::Big
    };
    let sections = file
        .sections()
        .filter(|s| match s.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0,
            _ => false,
        })
        .map(|s| {
            let name = s.name().unwrap_or("?").to_string();
            (name, s.data().expect("section data").to_vec())
        })
        .collect();
    (endian, sections)
}

#[test]
fn decode_encode_is_identity_on_every_corpus_program() {
    let objects = bpfkit_test_support::corpus_objects();
    assert!(objects.len() >= 60, "corpus has {} objects", objects.len());
    let (mut sections, mut slots_total, mut logical_total) = (0, 0, 0);
    for path in &objects {
        let data = std::fs::read(path).unwrap();
        let (endian, progs) = program_sections(&data);
        for (name, bytes) in progs {
            let where_ = format!("{} section {name}", path.display());
            let slots = decode_slots(&bytes, endian).unwrap_or_else(|e| panic!("{where_}: {e}"));
            assert_eq!(
                encode_slots(&slots, endian),
                bytes,
                "{where_}: re-encoding differs"
            );
            let mut covered = 0;
            let mut reencoded = Vec::with_capacity(bytes.len());
            for item in Insns::new(&bytes, endian) {
                let (index, insn) = item.unwrap_or_else(|e| panic!("{where_}: {e}"));
                assert_eq!(index, covered, "{where_}: logical insns are contiguous");
                assert_ne!(
                    insn.instruction(),
                    Instruction::Unknown,
                    "{where_}: insn {index} {:?} has no typed view",
                    insn.first()
                );
                covered += insn.slots();
                insn.encode_into(endian, &mut reencoded);
                logical_total += 1;
            }
            assert_eq!(covered * 8, bytes.len(), "{where_}: every slot visited");
            assert_eq!(reencoded, bytes, "{where_}: logical re-encoding differs");
            let text = disassemble(&slots, &NoSymbols).unwrap();
            assert!(!text.contains("BUG_"), "{where_}: {text}");
            sections += 1;
            slots_total += slots.len();
        }
    }
    eprintln!(
        "{sections} program sections, {slots_total} slots, {logical_total} logical instructions"
    );
    assert!(
        sections >= 100 && slots_total > 10_000,
        "{sections} sections, {slots_total} slots"
    );
}
