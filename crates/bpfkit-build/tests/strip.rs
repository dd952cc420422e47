//! `EbpfBuild::strip_dwarf`: objects without DWARF that keep the BTF the kernel needs.

mod common;

use object::{Object, ObjectSection};

fn section_names(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    file.sections()
        .filter_map(|s| s.name().ok().map(String::from))
        .collect()
}

#[test]
fn stripping_dwarf_keeps_btf_and_shrinks_the_object() {
    let full = common::build("counter");
    let full_size = std::fs::metadata(&full.path).unwrap().len();
    assert!(section_names(&full.path).contains(&".debug_info".to_string()));

    let stripped = common::route(&common::test_crate("counter"))
        .strip_dwarf(true)
        .build()
        .expect("stripped build")
        .remove(0);
    let sections = section_names(&stripped.path);
    assert!(
        !sections.iter().any(|s| s.starts_with(".debug_")),
        "{sections:?}"
    );
    assert!(sections.contains(&".BTF".to_string()), "{sections:?}");
    assert!(sections.contains(&".BTF.ext".to_string()), "{sections:?}");
    let stripped_size = std::fs::metadata(&stripped.path).unwrap().len();
    eprintln!("counter object: {full_size} bytes with DWARF, {stripped_size} stripped");
    assert!(
        stripped_size * 2 < full_size,
        "{stripped_size} vs {full_size}"
    );

    let loaded = common::Loaded::new(&stripped.path, "stripped");
    let info = loaded.program_info("count_getpid");
    assert!(info["btf_id"].as_u64().is_some_and(|id| id > 0), "{info}");
}
