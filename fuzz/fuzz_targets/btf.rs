//! BTF: `Btf::parse` on arbitrary bytes, then every lookup (type walk, names, sizes,
//! modifier skipping), the writer (`BtfMut::from_btf` + `to_bytes`, whose output must
//! parse again), and split BTF on top of it.
#![no_main]

use bpfkit_obj::btf::{Btf, BtfMut, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::parse(data) else {
        return;
    };
    let mut names = Vec::new();
    for item in btf.types() {
        let Ok((id, _ty)) = item else {
            break;
        };
        let _ = btf.kind(id);
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
        if let Ok(name) = btf.name(id) {
            if names.len() < 64 {
                names.push(name.to_string());
            }
        }
    }
    for name in &names {
        let _ = btf.ids_by_name(name);
        let _ = btf.id_by_name_kind(name, Kind::Struct);
    }
    let _ = btf.pointer_size();
    if let Ok(written) = BtfMut::from_btf(&btf).and_then(|b| b.to_bytes()) {
        let again = Btf::parse(&written).expect("written BTF parses");
        assert_eq!(again.type_count(), btf.type_count());
    }
    // The same bytes as split BTF on top of themselves.
    if let Ok(split) = Btf::parse_split(data, &btf) {
        for item in split.types().take(256) {
            if item.is_err() {
                break;
            }
        }
    }
});
