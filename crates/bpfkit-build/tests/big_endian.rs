//! `bpfeb-unknown-none`: the route builds big-endian objects whose BTF is fixed up in its
//! own byte order (read back by bpftool; this x86_64 kernel cannot load them).

mod common;

use bpfkit_build::Endianness;
use object::{Endianness as ObjectEndianness, Object};

#[test]
fn big_endian_objects_carry_fixed_btf() {
    let object = common::route(&common::test_crate("shapes"))
        .endianness(Endianness::Big)
        .build()
        .expect("big-endian build")
        .remove(0);
    assert!(object.path.to_string_lossy().contains("bpfeb-unknown-none"));

    let bytes = std::fs::read(&object.path).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    assert_eq!(file.endianness(), ObjectEndianness::Big);

    let btf = common::bpftool(&["btf", "dump", "file", object.path.to_str().unwrap()]);
    for expected in [
        "STRUCT 'Option_u32_'",
        "STRUCT '_closure_env_0_'",
        "INT 'char' size=4",
        "FUNC 'mix' type_id=",
        "DATASEC '.maps'",
    ] {
        assert!(btf.contains(expected), "`{expected}` in:\n{btf}");
    }
    assert!(!btf.contains('<'), "no generic brackets left:\n{btf}");
}
