//! Bad input never panics: thousands of truncated and bit-flipped versions of every corpus
//! object go through `ObjectSpec::parse`, and of every `.BTF` and `.BTF.ext` section
//! through `Btf::parse` (plus lookups and the writer) and `BtfExt::parse`. Each must give
//! an error or a successful parse. Specific corruptions must give errors that name the
//! section and the offset.
//!
//! The mutations come from a fixed-seed PRNG, so every run tests the same inputs; the
//! iteration counts keep the test well under a minute in debug builds.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use bpfkit_obj::btf::{Btf, BtfExt, BtfMut};
use bpfkit_obj::insn::{decode_slots, disassemble, Insns, NoSymbols};
use bpfkit_obj::object::ObjectSpec;
use object::{Object, ObjectSection};

/// splitmix64: a tiny deterministic generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Outcome counts of one parser over all its inputs.
#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    err: usize,
}

/// Runs `parse` on `input`, failing the test with `what` if it panics.
fn run<T, E: std::fmt::Display>(
    tally: &mut Tally,
    what: &dyn Fn() -> String,
    input: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, E>,
) {
    match catch_unwind(AssertUnwindSafe(|| {
        parse(input).map(|_| ()).map_err(|e| e.to_string())
    })) {
        Ok(Ok(())) => tally.ok += 1,
        Ok(Err(message)) => {
            assert!(!message.is_empty(), "{}: empty error message", what());
            tally.err += 1;
        }
        Err(_) => panic!("{} panicked ({} bytes)", what(), input.len()),
    }
}

/// Everything a consumer of parsed BTF does: walk every type, resolve sizes, look names
/// up, and write it back out.
fn exercise_btf(data: &[u8]) -> Result<usize, bpfkit_obj::btf::BtfError> {
    let btf = Btf::parse(data)?;
    let mut seen = 0;
    for item in btf.types() {
        let (id, _ty) = item?;
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
        if let Ok(name) = btf.name(id) {
            let name = name.to_string();
            let _ = btf.ids_by_name(&name);
        }
        seen += 1;
    }
    let written = BtfMut::from_btf(&btf)?.to_bytes()?;
    let _ = Btf::parse(&written)?;
    Ok(seen)
}

/// Parses an object and, when that succeeds, walks and disassembles every program.
fn exercise_object(data: &[u8]) -> Result<usize, bpfkit_obj::object::ObjectError> {
    let spec = ObjectSpec::parse(data)?;
    let endian = if spec.big_endian {
        object::Endianness::Big
    } else {
        object::Endianness::Little
    };
    let mut count = 0;
    for prog in spec.programs.iter().chain(&spec.subprograms) {
        if let Ok(slots) = decode_slots(&prog.instructions, endian) {
            let _ = disassemble(&slots, &NoSymbols);
        }
        count += Insns::new(&prog.instructions, endian).count();
    }
    Ok(count)
}

/// The `.BTF` and `.BTF.ext` sections of an object, with their offsets in the file.
fn btf_sections(data: &[u8]) -> Vec<(&'static str, u64, Vec<u8>)> {
    let file = object::File::parse(data).expect("corpus object is valid ELF");
    [".BTF", ".BTF.ext"]
        .into_iter()
        .filter_map(|name| {
            let section = file.section_by_name(name)?;
            let (offset, _) = section.file_range()?;
            Some((name, offset, section.data().ok()?.to_vec()))
        })
        .collect()
}

/// `count` truncated copies (lengths chosen over the whole range, denser at the start where
/// the headers are) and `count` copies with 1-8 flipped bits.
fn mutations(data: &[u8], rng: &mut Rng, count: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::with_capacity(2 * count);
    for i in 0..count {
        let len = if i % 2 == 0 {
            rng.below(data.len().min(512))
        } else {
            rng.below(data.len())
        };
        out.push((format!("truncated to {len}"), data[..len].to_vec()));
    }
    for _ in 0..count {
        let mut copy = data.to_vec();
        let flips = 1 + rng.below(8);
        let mut desc = String::from("bits flipped at");
        for _ in 0..flips {
            // Half of the flips hit the first 256 bytes (headers), half anywhere.
            let at = if rng.below(2) == 0 {
                rng.below(copy.len().min(256))
            } else {
                rng.below(copy.len())
            };
            let bit = rng.below(8);
            if let Some(byte) = copy.get_mut(at) {
                *byte ^= 1 << bit;
            }
            desc.push_str(&format!(" {at}.{bit}"));
        }
        out.push((desc, copy));
    }
    out
}

#[test]
fn truncated_and_bit_flipped_corpus_objects_never_panic() {
    let objects = bpfkit_test_support::corpus_objects();
    assert!(objects.len() >= 60);
    let mut rng = Rng(0x6270_666b_6974);
    let (mut elf, mut btf, mut ext) = (Tally::default(), Tally::default(), Tally::default());
    for path in &objects {
        let data = std::fs::read(path).unwrap();
        let short = path.file_name().unwrap().to_string_lossy().to_string();
        for (desc, input) in mutations(&data, &mut rng, 100) {
            run(
                &mut elf,
                &|| format!("ObjectSpec::parse({short} {desc})"),
                &input,
                exercise_object,
            );
        }
        for (name, offset, section) in btf_sections(&data) {
            for (desc, input) in mutations(&section, &mut rng, 100) {
                let what = || format!("{name} of {short} (file offset {offset}) {desc}");
                if name == ".BTF" {
                    run(&mut btf, &what, &input, exercise_btf);
                } else {
                    run(&mut ext, &what, &input, BtfExt::parse);
                }
            }
        }
    }
    eprintln!("ELF {elf:?}, BTF {btf:?}, BTF.ext {ext:?}");
    // Thousands of inputs per parser, and the mutations really reach the error paths.
    assert!(elf.ok + elf.err >= 10_000 && elf.err >= 5000, "ELF {elf:?}");
    assert!(btf.ok + btf.err >= 10_000 && btf.err >= 5000, "BTF {btf:?}");
    assert!(
        ext.ok + ext.err >= 10_000 && ext.err >= 5000,
        "BTF.ext {ext:?}"
    );
}

fn corpus(rel: &str) -> Vec<u8> {
    let path = bpfkit_test_support::corpus_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", Path::new(&path).display()))
}

fn section_range(data: &[u8], name: &str) -> (usize, usize) {
    let file = object::File::parse(data).unwrap();
    let (offset, size) = file.section_by_name(name).unwrap().file_range().unwrap();
    (offset as usize, size as usize)
}

#[test]
fn bad_btf_magic_in_an_object_names_the_section_and_offset() {
    let mut data = corpus("libbpf-tools/execsnoop.bpf.o");
    let (btf_at, _) = section_range(&data, ".BTF");
    data[btf_at] ^= 0xff;
    let err = ObjectSpec::parse(&data).unwrap_err().to_string();
    assert_eq!(
        err,
        "section '.BTF': needed for '.maps': bad BTF magic 0xeb60 at offset 0, expected 0xeb9f"
    );
}

#[test]
fn btf_type_section_past_the_end_names_the_section_and_offsets() {
    let data = corpus("libbpf-tools/execsnoop.bpf.o");
    let (btf_at, btf_len) = section_range(&data, ".BTF");
    let mut btf = data[btf_at..btf_at + btf_len].to_vec();
    // struct btf_header: magic u16, version u8, flags u8, hdr_len u32, type_off u32,
    // type_len u32 (offset 12), str_off u32, str_len u32. Make type_len overrun the blob.
    btf[12..16].copy_from_slice(&(btf_len as u32 * 2).to_le_bytes());
    let err = Btf::parse(&btf).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "BTF type section (offset 0, {} bytes after the header) exceeds the {btf_len}-byte blob",
            btf_len * 2
        )
    );
}

#[test]
fn btf_ext_record_size_too_small_names_the_block_and_offset() {
    let data = corpus("libbpf-tools/execsnoop.bpf.o");
    let (at, len) = section_range(&data, ".BTF.ext");
    let mut ext = data[at..at + len].to_vec();
    // struct btf_ext_header: magic, version, flags, hdr_len u32, func_info_off u32 (8),
    // func_info_len (12), ...; the func_info block starts with its record size.
    let hdr_len = u32::from_le_bytes(ext[4..8].try_into().unwrap()) as usize;
    let func_off = u32::from_le_bytes(ext[8..12].try_into().unwrap()) as usize;
    let rec_at = hdr_len + func_off;
    ext[rec_at..rec_at + 4].copy_from_slice(&4u32.to_le_bytes());
    let err = BtfExt::parse(&ext).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(".BTF.ext func_info: record size 4 at offset {rec_at} is invalid (minimum 8)")
    );
}

#[test]
fn section_beyond_the_end_of_the_file_names_the_section() {
    let mut data = corpus("libbpf-tools/execsnoop.bpf.o");
    let file = object::File::parse(&*data).unwrap();
    let index = file.section_by_name(".BTF.ext").unwrap().index().0;
    drop(file);
    // Elf64_Ehdr: e_shoff at 0x28; Elf64_Shdr is 64 bytes with sh_offset at +24.
    let shoff = u64::from_le_bytes(data[0x28..0x30].try_into().unwrap()) as usize;
    let at = shoff + index * 64 + 24;
    let past_end = data.len() as u64 + 4096;
    data[at..at + 8].copy_from_slice(&past_end.to_le_bytes());
    let err = ObjectSpec::parse(&data).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("section {index} '.BTF.ext': contents outside the file: Invalid ELF section size or offset")
    );
}

#[test]
fn truncated_objects_fail_cleanly_at_every_length_of_the_headers() {
    let data = corpus("cilium/testdata/loader-clang-14-el.elf");
    let mut errors = 0;
    for len in 0..data.len().min(4096) {
        let result = catch_unwind(|| ObjectSpec::parse(&data[..len]).map(|_| ()));
        match result {
            Ok(Err(_)) => errors += 1,
            Ok(Ok(())) => {}
            Err(_) => panic!("ObjectSpec::parse panicked on the first {len} bytes"),
        }
    }
    assert!(errors >= data.len().min(4096) / 2, "{errors} errors");
}

/// Regression: a `.bss` whose header claims more than `isize::MAX` bytes made the data-map
/// builder abort with "capacity overflow" (found by the bit flips above).
#[test]
fn oversized_bss_is_an_error_naming_the_section() {
    let mut data = corpus("cilium/testdata/loader-clang-9-el.elf");
    let file = object::File::parse(&*data).unwrap();
    let index = file.section_by_name(".bss").unwrap().index().0;
    drop(file);
    // Elf64_Shdr.sh_size is at +32.
    let shoff = u64::from_le_bytes(data[0x28..0x30].try_into().unwrap()) as usize;
    let at = shoff + index * 64 + 32;
    data[at..at + 8].copy_from_slice(&(1u64 << 62).to_le_bytes());
    let err = ObjectSpec::parse(&data).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("section {index} '.bss': size 4611686018427387904 exceeds the largest map value (4294967295 bytes)")
    );
}
