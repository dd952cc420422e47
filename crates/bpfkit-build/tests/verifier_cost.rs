//! What the verifier processes for a Rust program against the same logic in C built by
//! clang-19 -O2 (the goal: at most 1.05x). Needs root and clang-19.

mod common;

use std::path::Path;
use std::process::Command;

/// `processed N insns` of the verifier log of the object's only program.
fn processed_insns(object: &Path, tag: &str) -> u64 {
    let dir = format!("/sys/fs/bpf/bpfkit-build-cost-{}-{tag}", std::process::id());
    let out = Command::new("bpftool")
        .args(["-d", "prog", "loadall", object.to_str().unwrap(), &dir])
        .output()
        .expect("bpftool runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    log.lines()
        .find_map(|l| l.strip_prefix("processed "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `processed N insns` in:\n{log}"))
}

/// `gcc -print-multiarch` (`x86_64-linux-gnu`): where Debian keeps `asm/types.h`.
fn multiarch() -> String {
    let out = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .expect("gcc is installed (.ci/run installs it)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn counter_costs_the_verifier_no_more_than_the_same_c_program() {
    let rust = common::build("counter");
    let source = common::test_crate("counter").join("counter.bpf.c");
    let c_object = common::shared_target_dir().join("counter.bpf.o");
    std::fs::create_dir_all(common::shared_target_dir()).unwrap();
    let status = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg(format!("-I/usr/include/{}", multiarch()))
        .arg("-c")
        .arg(&source)
        .arg("-o")
        .arg(&c_object)
        .status()
        .expect("clang-19 is installed (.ci/run installs it)");
    assert!(status.success());

    let rust_insns = processed_insns(&rust.path, "rust");
    let c_insns = processed_insns(&c_object, "c");
    eprintln!("verifier processed insns: Rust {rust_insns}, C {c_insns}");
    assert!(
        rust_insns * 100 <= c_insns * 105,
        "Rust {rust_insns} vs C {c_insns} processed insns"
    );
}
