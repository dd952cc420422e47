//! Every C fixture compiles with clang-19 into a BPF ELF object, in both byte orders.

use bpfkit_test_support::{fixture, fixture_big_endian, fixture_names, libbpf_parse};

/// (EI_DATA, e_machine) of an ELF file: 1 = little-endian, 2 = big-endian; EM_BPF is 247.
fn elf_data_and_machine(bytes: &[u8]) -> (u8, u16) {
    assert_eq!(&bytes[..4], b"\x7fELF");
    let machine = match bytes[5] {
        2 => u16::from_be_bytes([bytes[18], bytes[19]]),
        _ => u16::from_le_bytes([bytes[18], bytes[19]]),
    };
    (bytes[5], machine)
}

#[test]
fn every_fixture_compiles_to_a_bpf_elf_object() {
    let names = fixture_names();
    assert!(names.len() >= 19, "fixtures: {names:?}");
    std::thread::scope(|s| {
        for name in &names {
            s.spawn(move || {
                let bytes = std::fs::read(fixture(name)).unwrap();
                assert_eq!(elf_data_and_machine(&bytes), (1, 247), "{name}");
            });
        }
    });
}

#[test]
fn every_fixture_compiles_big_endian_and_libbpf_1_1_refuses_it() {
    for name in fixture_names() {
        let path = fixture_big_endian(&name);
        assert!(path.ends_with(format!("{name}.bpfeb.o")));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(elf_data_and_machine(&bytes), (2, 247), "{name}");
    }
    // libbpf 1.1 only opens objects of the host's byte order.
    let err = libbpf_parse(&fixture_big_endian("tail_calls")).unwrap_err();
    assert!(err.starts_with("errno 4003 (Endian mismatch)"), "{err}");
    assert!(err.contains("endianness mismatch"), "{err}");
}
