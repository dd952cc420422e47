//! bpfkit's own object parser (bpfkit-obj) reads what the Rust route produces, as it reads
//! clang's output: programs, BTF-defined maps, func/line info, CO-RE records, both byte
//! orders. No kernel needed.

mod common;

use bpfkit_build::Endianness;
use bpfkit_obj::btf::{BtfExt, CoreReloKind};
use bpfkit_obj::object::{MapType, ObjectSpec, ProgramType};

fn spec(path: &std::path::Path, name: &str) -> ObjectSpec {
    let bytes = std::fs::read(path).unwrap();
    ObjectSpec::parse_named(&bytes, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn btf_ext(spec: &ObjectSpec) -> BtfExt {
    BtfExt::parse(spec.btf_ext.as_deref().expect(".BTF.ext present")).expect(".BTF.ext parses")
}

#[test]
fn counter_parses_into_a_tracepoint_and_a_btf_hash_map() {
    let object = common::build("counter");
    let spec = spec(&object.path, "counter");
    assert!(!spec.big_endian);
    assert_eq!(spec.license, "GPL");
    let names: Vec<&str> = spec.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["count_getpid"]);
    let program = &spec.programs[0];
    assert_eq!(program.section.program_type, ProgramType::Tracepoint);
    assert_eq!(
        program.section.attach_target.as_deref(),
        Some("syscalls/sys_enter_getpid")
    );
    let ext = btf_ext(&spec);
    let func_info: usize = ext.func_info.sections.iter().map(|s| s.records.len()).sum();
    let line_info: usize = ext.line_info.sections.iter().map(|s| s.records.len()).sum();
    assert_eq!(func_info, 1, "func info for the one function");
    assert!(line_info > 5, "line info from the Rust source: {line_info}");

    let counts = spec
        .maps
        .iter()
        .find(|m| m.name == "COUNTS")
        .expect("COUNTS");
    assert_eq!(counts.map_type, MapType::Hash);
    assert_eq!(
        (counts.key_size, counts.value_size, counts.max_entries),
        (4, 24, 1024)
    );
    assert!(counts.btf_value_type_id.is_some());
}

#[test]
fn corereloc_carries_one_core_record_per_marker_access() {
    let object = common::build("corereloc");
    let spec = spec(&object.path, "corereloc");
    let ext = btf_ext(&spec);
    let mut kinds: Vec<CoreReloKind> = ext
        .core_relo
        .sections
        .iter()
        .flat_map(|s| s.records.iter().map(|r| r.kind))
        .collect();
    kinds.sort_by_key(|k| *k as u32);
    // byte offset of tgid and pid (the $offset$ marker shares tgid's), size of tgid,
    // existence of tgid and of the missing member.
    assert_eq!(
        kinds,
        [
            CoreReloKind::FieldByteOffset,
            CoreReloKind::FieldByteOffset,
            CoreReloKind::FieldByteSize,
            CoreReloKind::FieldExists,
            CoreReloKind::FieldExists,
        ]
    );
}

#[test]
fn big_endian_shapes_parse_with_their_static_subprograms() {
    let object = common::route(&common::test_crate("shapes"))
        .endianness(Endianness::Big)
        .build()
        .expect("big-endian build")
        .remove(0);
    let spec = spec(&object.path, "shapes");
    assert!(spec.big_endian);
    assert_eq!(spec.programs.len(), 1);
    assert!(
        !spec.subprograms.is_empty(),
        "#[inline(never)] functions land in .text"
    );
    let shapes = spec
        .maps
        .iter()
        .find(|m| m.name == "SHAPES")
        .expect("SHAPES");
    assert_eq!(shapes.map_type, MapType::Array);
    assert_eq!(shapes.max_entries, 1);
}
