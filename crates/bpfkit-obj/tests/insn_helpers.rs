//! The helper-name table is what its committed generator makes of linux/bpf.h, and the
//! generator reads both spellings of `__BPF_FUNC_MAPPER`.

use std::path::PathBuf;
use std::process::Command;

fn generator() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/insn/gen-helper-names.sh")
}

fn generate(header: &std::path::Path) -> String {
    let out = Command::new("sh")
        .arg(generator())
        .arg(header)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn committed_table_is_the_generators_output_for_the_uapi_header() {
    let header = std::path::Path::new("/usr/include/linux/bpf.h");
    assert!(header.exists(), "install linux-libc-dev for linux/bpf.h");
    let committed = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/insn/helper_names.rs"),
    )
    .unwrap();
    assert_eq!(generate(header), committed);
}

#[test]
fn generator_reads_the_explicit_id_form_of_newer_headers() {
    let dir = std::env::temp_dir().join(format!("bpfkit-insn-helpers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let header = dir.join("bpf.h");
    std::fs::write(
        &header,
        "#define ___BPF_FUNC_MAPPER(FN, ctx...)\t\\\n\tFN(unspec, 0, ##ctx)\t\\\n\
         \tFN(map_lookup_elem, 1, ##ctx)\t\\\n\tFN(cgrp_storage_delete, 211, ##ctx)\t\\\n\t/* */\n",
    )
    .unwrap();
    let table = generate(&header);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        table.contains("pub const HELPER_NAMES: [&str; 212] = ["),
        "{table}"
    );
    let names: Vec<&str> = table.lines().filter(|l| l.starts_with("    \"")).collect();
    assert_eq!(names.len(), 212);
    assert_eq!(names[1], "    \"bpf_map_lookup_elem\",");
    assert_eq!(names[211], "    \"bpf_cgrp_storage_delete\",");
}
