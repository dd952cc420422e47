//! Instructions: any bytes, in both byte orders, decode, iterate as logical instructions,
//! disassemble, and encode back to the same bytes.
#![no_main]

use bpfkit_obj::insn::{decode_slots, disassemble, encode_slots, Insns, NoSymbols};
use libfuzzer_sys::fuzz_target;
use object::Endianness;

fuzz_target!(|data: &[u8]| {
    for endian in [Endianness::Little, Endianness::Big] {
        let mut reencoded = Vec::with_capacity(data.len());
        for item in Insns::new(data, endian) {
            let Ok((_, insn)) = item else {
                break;
            };
            let _ = insn.instruction();
            let _ = insn.to_string();
            insn.encode_into(endian, &mut reencoded);
        }
        assert_eq!(&data[..reencoded.len()], &reencoded[..]);
        let whole = &data[..data.len() / 8 * 8];
        let slots = decode_slots(whole, endian).expect("a multiple of 8 bytes decodes");
        assert_eq!(encode_slots(&slots, endian), whole);
        let _ = disassemble(&slots, &NoSymbols);
    }
});
