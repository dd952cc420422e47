//! cilium/ebpf's test objects: old clang without function symbols, legacy and iproute2
//! maps, static functions in program sections, relocations of every sort.

use bpfkit_obj::object::{
    object_name_from_path, ExternKind, Linkage, MapDefinition, MapType, ObjectSpec, Pinning,
    ProgramType, RelocationTarget,
};
use bpfkit_test_support::corpus_dir;

fn parse(rel: &str) -> ObjectSpec {
    let path = corpus_dir().join(rel);
    let bytes = std::fs::read(&path).unwrap();
    ObjectSpec::parse_named(&bytes, &object_name_from_path(&path.to_string_lossy()))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// (name, section, callees) of every program.
fn programs(spec: &ObjectSpec) -> Vec<(String, String, Vec<String>)> {
    spec.programs
        .iter()
        .map(|p| {
            let mut calls: Vec<String> = p
                .relocations
                .iter()
                .filter_map(|r| match &r.target {
                    RelocationTarget::Call { function } => Some(function.clone()),
                    _ => None,
                })
                .collect();
            calls.sort();
            (p.name.clone(), p.section.name.clone(), calls)
        })
        .collect()
}

#[test]
fn clang_7_without_function_symbols_splits_like_newer_clang() {
    let old = parse("cilium/testdata/loader-clang-7-el.elf");
    assert!(old.programs.iter().all(|p| !p.instructions.is_empty()));
    for newer in [
        "cilium/testdata/loader-clang-9-el.elf",
        "cilium/testdata/loader-clang-14-el.elf",
    ] {
        let new = parse(newer);
        assert_eq!(programs(&old), programs(&new), "{newer}");
        let subs = |s: &ObjectSpec| -> Vec<(String, usize)> {
            s.subprograms
                .iter()
                .map(|p| (p.name.clone(), p.insn_count()))
                .collect()
        };
        assert_eq!(subs(&old), subs(&new), "{newer}");
    }
    let expected = [
        ("static_fn", "static"),
        ("global_fn3", "other"),
        ("xdp_prog", "xdp"),
        ("no_relocation", "socket"),
        ("asm_relocation", "socket/2"),
        ("data_sections", "socket/3"),
        ("anon_const", "socket/4"),
    ];
    let got: Vec<(&str, &str)> = old
        .programs
        .iter()
        .map(|p| (p.name.as_str(), p.section.name.as_str()))
        .collect();
    assert_eq!(got, expected);
    let xdp = old.program("xdp_prog").unwrap();
    assert_eq!(xdp.section.program_type, ProgramType::Xdp);
    assert_eq!(programs(&old)[2].2, ["global_fn", "static_fn"]);
    // A static function in its own section is a program with static linkage.
    assert_eq!(old.program("static_fn").unwrap().linkage, Linkage::Static);
    assert_eq!(old.license, "MIT");
}

#[test]
fn legacy_maps_are_read_from_bpf_map_def() {
    let spec = parse("cilium/testdata/loader-clang-7-el.elf");
    let legacy: Vec<_> = spec
        .maps
        .iter()
        .filter(|m| m.definition == MapDefinition::Legacy)
        .map(|m| {
            (
                m.name.as_str(),
                m.map_type,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.map_flags,
                m.section_offset,
            )
        })
        .collect();
    assert_eq!(
        legacy,
        [
            ("hash_map", MapType::Hash, 4, 8, 1, 1, 0),
            ("hash_map2", MapType::Hash, 4, 8, 2, 0, 20),
            (
                "perf_event_array",
                MapType::PerfEventArray,
                0,
                0,
                4096,
                0,
                40
            ),
            ("array_of_hash_map", MapType::ArrayOfMaps, 4, 0, 2, 0, 60),
        ]
    );
    // The program refers to them by symbol.
    let xdp = spec.program("xdp_prog").unwrap();
    let maps: Vec<&str> = xdp
        .relocations
        .iter()
        .filter_map(|r| match &r.target {
            RelocationTarget::Map { map } => Some(map.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        maps.contains(&"hash_map") && maps.contains(&"hash_map2"),
        "{maps:?}"
    );
    // MY_CONST is an undefined symbol without BTF: an extern the loader must be told about.
    assert_eq!(spec.externs.len(), 1);
    assert_eq!(spec.externs[0].name, "MY_CONST");
    assert_eq!(spec.externs[0].kind, ExternKind::Untyped);
}

#[test]
fn iproute2_bpf_elf_map_keeps_pinning_and_ids() {
    let spec = parse("cilium/testdata/iproute2_map_compat-el.elf");
    assert_eq!(spec.maps.len(), 1);
    let m = &spec.maps[0];
    assert_eq!(m.name, "hash_map");
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (MapType::Hash, 4, 8, 2)
    );
    assert_eq!(m.pinning, Pinning::GlobalNamespace);
    let extra = m.iproute2.unwrap();
    assert_eq!((extra.id, extra.inner_id, extra.inner_idx), (0, 0, 0));
}

#[test]
fn btf_maps_carry_pinning_inner_maps_and_key_value_types() {
    let spec = parse("cilium/testdata/loader-clang-14-el.elf");
    let pin = spec.map("btf_pin").unwrap();
    assert_eq!(pin.pinning, Pinning::ByName);
    assert_eq!(pin.definition, MapDefinition::Btf);
    let outer = spec.map("btf_outer_map").unwrap();
    let inner = outer.inner_map.as_deref().unwrap();
    assert_eq!(
        (inner.map_type, inner.key_size, inner.value_size),
        (MapType::Hash, 4, 4)
    );
    let btf = bpfkit_obj::btf::Btf::parse(spec.btf.as_deref().unwrap()).unwrap();
    let hash = spec.map("hash_map").unwrap();
    let key = hash.btf_key_type_id.unwrap();
    assert_eq!(btf.resolve_size(key).unwrap(), 4);
    assert_eq!(
        btf.resolve_size(hash.btf_value_type_id.unwrap()).unwrap(),
        8
    );
    // Global data: value type is the section's DATASEC; `.rodata` holds a global, so it is
    // mmapable; `.rodata.test` (static only) is not.
    let rodata = spec.map("loader_c.rodata").unwrap();
    assert_eq!(
        btf.name(rodata.btf_value_type_id.unwrap()).unwrap(),
        ".rodata"
    );
    assert_eq!(rodata.map_flags, 0x480);
    assert_eq!(rodata.data.as_ref().map(Vec::len), Some(24));
    assert_eq!(spec.map(".rodata.test").unwrap().map_flags, 0x80);
}

#[test]
fn static_legacy_map_symbols_are_maps_too() {
    // libbpf 1.x refuses the object (legacy section); cilium refuses static maps. The
    // definitions themselves are well-formed, so the spec lists both, by offset.
    let spec = parse("cilium/testdata/invalid_map_static-el.elf");
    let maps: Vec<_> = spec
        .maps
        .iter()
        .map(|m| (m.name.as_str(), m.section_offset, m.definition.clone()))
        .collect();
    assert_eq!(
        maps,
        [
            ("dummy", 0, MapDefinition::Legacy),
            ("hash_map", 20, MapDefinition::Legacy)
        ]
    );
}
