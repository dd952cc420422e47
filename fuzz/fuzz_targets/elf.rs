//! ELF objects: `ObjectSpec::parse` on arbitrary bytes, then everything a loader reads
//! from the spec (program instructions walked and disassembled, map and BTF sections).
#![no_main]

use bpfkit_obj::insn::{decode_slots, disassemble, Insns, NoSymbols};
use bpfkit_obj::object::ObjectSpec;
use libfuzzer_sys::fuzz_target;
use object::Endianness;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = ObjectSpec::parse(data) else {
        return;
    };
    let endian = if spec.big_endian {
        Endianness::Big
    } else {
        Endianness::Little
    };
    for prog in spec.programs.iter().chain(&spec.subprograms) {
        for item in Insns::new(&prog.instructions, endian) {
            if let Ok((_, insn)) = item {
                let _ = insn.instruction();
            }
        }
        if let Ok(slots) = decode_slots(&prog.instructions, endian) {
            let _ = disassemble(&slots, &NoSymbols);
        }
    }
    if let Some(btf) = &spec.btf {
        let _ = bpfkit_obj::btf::Btf::parse(btf);
    }
    if let Some(ext) = &spec.btf_ext {
        let _ = bpfkit_obj::btf::BtfExt::parse(ext);
    }
});
