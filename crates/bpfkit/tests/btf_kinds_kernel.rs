//! BTF sanitizing against the running kernel: the `btf_kinds` fixture carries FLOAT,
//! DECL_TAG, TYPE_TAG and ENUM64, which kernels before 5.13, 5.16, 5.17 and 6.0 reject. The
//! loader must sanitize exactly the kinds the kernel's probes say it lacks: the BTF the
//! kernel holds afterwards (read back by fd) has a kind if and only if its probe is
//! supported, the `.data` map carries that BTF, and the program runs (`BPF_PROG_TEST_RUN`)
//! with its global struct read and written through the map. Runs on the host (6.18: nothing
//! to sanitize) and in every kernel-matrix VM (5.10 lacks all four).

use std::os::fd::AsFd;

use bpfkit::features::{self, Probe};
use bpfkit::loader::{Loader, TestRun};
use bpfkit_obj::btf::{Btf, Kind};

/// `struct tagged_record` of the fixture: `int plain` at 0, `float` at 4, `double` at 8,
/// the 64-bit enum at 16, the pointer at 24.
const RECORD_SIZE: usize = 32;

#[test]
fn btf_kinds_fixture_loads_with_exactly_the_unsupported_kinds_sanitized_and_runs() {
    let path = bpfkit_test_support::fixture("btf_kinds");
    let object = Loader::new()
        .load_file(&path)
        .unwrap_or_else(|e| panic!("load btf_kinds: {}", bpfkit::Report(&e)));

    let btf_fd = object.btf_fd().expect("the object's BTF is loaded");
    let raw = bpfkit::sys::attach::btf_bytes(btf_fd).expect("read the loaded BTF back");
    let btf = Btf::parse(&raw).expect("the kernel's copy of the BTF parses");
    let kinds: Vec<Kind> = btf
        .types()
        .map(|t| t.expect("a BTF type").1.kind())
        .collect();
    for (probe, kind) in [
        (Probe::BtfFloat, Kind::Float),
        (Probe::BtfDeclTag, Kind::DeclTag),
        (Probe::BtfTypeTag, Kind::TypeTag),
        (Probe::BtfEnum64, Kind::Enum64),
    ] {
        let supported = features::supported(probe);
        let present = kinds.contains(&kind);
        assert_eq!(
            present, supported,
            "{kind:?} in the kernel's copy of the BTF: {present}, probe {probe:?}: {supported}"
        );
        if !supported {
            let feature = probe.feature();
            println!(
                "btf_kinds: {kind:?} sanitized: the probe finds no {} (Linux {})",
                feature.name, feature.since
            );
        }
    }
    assert!(
        kinds.contains(&Kind::Struct) && kinds.contains(&Kind::Datasec),
        "the record struct and .data DATASEC stay: {kinds:?}"
    );

    let (name, data) = object
        .maps()
        .find(|(name, _)| name.ends_with(".data"))
        .expect("a .data map");
    let info = bpfkit::info::MapInfo::from_fd(data.as_fd()).expect("map info of .data");
    assert_ne!(info.btf_id, 0, "{name} carries the object's BTF");

    let program = object.program("use_btf_kinds").expect("use_btf_kinds");
    let out = program
        .test_run(&TestRun {
            data: &[0u8; 64],
            repeat: 1,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("test_run: {}", bpfkit::Report(&e)));
    assert_eq!(
        out.retval, 1,
        "record.flags == WIDE_HIGH through the 64-bit enum"
    );

    let mut value = vec![0u8; data.value_size() as usize];
    assert!(data
        .lookup_bytes(&0u32.to_ne_bytes(), &mut value, 0)
        .unwrap());
    assert!(value.len() >= RECORD_SIZE, "{name} holds the record");
    let plain = i32::from_ne_bytes(value[0..4].try_into().unwrap());
    let flags = u64::from_ne_bytes(value[16..24].try_into().unwrap());
    assert_eq!(plain, 2, "tagged_helper(1) stored back into record.plain");
    assert_eq!(flags, 0x1234_5678_0000_0000, "record.flags as initialised");
}
