//! Every C fixture compiles with clang-19 into a BPF ELF object.

use bpfkit_test_support::{fixture, fixture_names};

#[test]
fn every_fixture_compiles_to_a_bpf_elf_object() {
    let names = fixture_names();
    assert!(names.len() >= 10, "fixtures: {names:?}");
    std::thread::scope(|s| {
        for name in &names {
            s.spawn(move || {
                let bytes = std::fs::read(fixture(name)).unwrap();
                assert_eq!(&bytes[..4], b"\x7fELF", "{name}");
                // e_machine (offset 18, little-endian) is EM_BPF (247).
                assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), 247, "{name}");
            });
        }
    });
}
