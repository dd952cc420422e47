//! `.BTF.ext`: `BtfExt::parse` on arbitrary bytes; what parses must write back to bytes
//! that parse to the same value (an info block without records is written as absent, so
//! its record size is not compared).
#![no_main]

use bpfkit_obj::btf::{BtfExt, InfoBlock};
use libfuzzer_sys::fuzz_target;

fn same_block<T: PartialEq + std::fmt::Debug>(a: &InfoBlock<T>, b: &InfoBlock<T>) {
    assert_eq!(a.sections, b.sections);
    if !a.sections.is_empty() {
        assert_eq!(a.rec_size, b.rec_size);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(ext) = BtfExt::parse(data) else {
        return;
    };
    if let Ok(bytes) = ext.to_bytes() {
        let again = BtfExt::parse(&bytes).expect("written .BTF.ext parses");
        assert_eq!(
            (again.big_endian, again.flags, &again.header_extra),
            (ext.big_endian, ext.flags, &ext.header_extra)
        );
        same_block(&again.func_info, &ext.func_info);
        same_block(&again.line_info, &ext.line_info);
        same_block(&again.core_relo, &ext.core_relo);
    }
});
