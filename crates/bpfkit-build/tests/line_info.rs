//! Verifier logs point at the user's source: `testdata/rust/rejected` writes into its
//! read-only tracepoint record through `core::ptr::write_volatile` (inlined `core`) and calls an
//! inlined library helper; bpfkit-link moves the line info of inlined library code to the
//! user's call site, so every `.BTF.ext` line record of the program names
//! `rejected/src/main.rs`, and the verifier's rejection is annotated with the user's line
//! (`; … @ main.rs:16`), not core's `ptr/mod.rs`. Loading needs root and bpftool.

mod common;

use std::process::Command;

use bpfkit_obj::btf::Btf;
use bpfkit_obj::object::ObjectSpec;

/// The line of `src/main.rs` holding the write the verifier refuses.
const BAD_LINE: u32 = 16;

#[test]
fn line_info_and_verifier_log_name_the_users_lines() {
    let object = common::build("rejected");
    let bytes = std::fs::read(&object.path).expect("read object");
    let spec = ObjectSpec::parse(&bytes).expect("parse object");
    let btf = Btf::parse(spec.btf.as_deref().expect("object has BTF")).expect("parse BTF");
    let program = spec
        .programs
        .iter()
        .find(|p| p.name == "write_into_the_record")
        .expect("program");
    let mut lines = Vec::new();
    for record in &program.btf_ext.line_info {
        let file = btf.string_at(record.file_name_off).expect("file name");
        let line = record.line_col >> 10;
        assert!(
            file.ends_with("rejected/src/main.rs"),
            "insn {}: line info names {file}:{line}, not the user's crate",
            record.insn_offset
        );
        lines.push(line);
    }
    assert!(
        lines.contains(&BAD_LINE),
        "the write has the user's line: {lines:?}"
    );

    // The verifier refuses it and says where, in the user's terms.
    let dir = format!("/sys/fs/bpf/bpfkit-build-lines-{}", std::process::id());
    let out = Command::new("bpftool")
        .args(["-d", "prog", "loadall"])
        .arg(&object.path)
        .arg(&dir)
        .output()
        .expect("bpftool runs");
    let _ = std::fs::remove_dir_all(&dir);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the verifier accepted it:\n{log}");
    let annotations: Vec<&str> = log.lines().filter(|l| l.starts_with("; ")).collect();
    assert!(
        annotations
            .iter()
            .any(|l| l.ends_with(&format!(" @ main.rs:{BAD_LINE}")) && l.contains("write_volatile")),
        "the rejected write is annotated with the user's line:\n{log}"
    );
    assert!(
        annotations.iter().all(|l| l.contains(" @ main.rs:")),
        "every annotation names the user's file:\n{log}"
    );
    assert!(
        log.contains("invalid bpf_context access off=16 size=8"),
        "the verifier's reason:\n{log}"
    );
}
