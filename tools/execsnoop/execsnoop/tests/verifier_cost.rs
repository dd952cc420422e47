//! Benchmark (issue 5): instructions the verifier processes (`bpf_prog_info.verified_insns`)
//! for execsnoop's Rust kernel side against the same logic in C (`../bench/execsnoop.bpf.c`,
//! clang-19 -O2 -mcpu=v3 like the Rust route's default), both loaded by bpfkit's Loader.
//! Goal: at most 1.05x. Needs root and clang-19 (installed by .ci/run).

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfkit::loader::Loader;

/// `gcc -print-multiarch` (`x86_64-linux-gnu`): where Debian keeps `asm/types.h`.
fn multiarch() -> String {
    let out = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .expect("gcc is installed (.ci/run installs it)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn build_c_twin() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/execsnoop.bpf.c");
    let object = Path::new(env!("CARGO_TARGET_TMPDIR")).join("execsnoop-c.bpf.o");
    let out = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg(format!("-I/usr/include/{}", multiarch()))
        .arg("-c")
        .arg(&source)
        .arg("-o")
        .arg(&object)
        .output()
        .expect("clang-19 is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    object
}

/// (btf_id, verified_insns) of each program, loaded with the given filters.
fn costs(elf: &[u8], name: &str, pid: u32, uid: u32) -> Vec<(String, u32, u32)> {
    let mut loader = Loader::new();
    loader.set_global("TARGET_PID", &pid.to_ne_bytes());
    loader.set_global("TARGET_UID", &uid.to_ne_bytes());
    let object = loader
        .load(elf, name)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    ["execve_enter", "execve_exit"]
        .into_iter()
        .map(|prog| {
            let info = object
                .program(prog)
                .unwrap_or_else(|| panic!("{name}: no program {prog}"))
                .info()
                .expect("bpf_prog_info");
            (prog.to_string(), info.btf_id, info.verified_insns)
        })
        .collect()
}

#[test]
fn rust_execsnoop_costs_the_verifier_at_most_5_percent_more_than_c() {
    let c_elf = std::fs::read(build_c_twin()).expect("read C object");
    for (pid, uid, filters) in [(0, u32::MAX, "no filters"), (1, 0, "--pid 1 --uid 0")] {
        let rust = costs(execsnoop::skel::OBJECT, "execsnoop", pid, uid);
        let c = costs(&c_elf, "execsnoop_c", pid, uid);
        for ((prog, btf_id, r), (_, _, c)) in rust.iter().zip(&c) {
            assert!(*btf_id > 0, "Rust {prog} carries BTF the kernel accepted");
            eprintln!(
                "execsnoop {prog} ({filters}): verified_insns Rust {r}, C {c} ({:.3}x)",
                *r as f64 / *c as f64
            );
            assert!(
                u64::from(*r) * 100 <= u64::from(*c) * 105,
                "{prog} ({filters}): Rust {r} vs C {c} verified insns"
            );
        }
    }
}

#[test]
fn unset_filters_are_pruned_by_the_verifier() {
    // Frozen .rodata: with both filters off the verifier knows the filter branches are never
    // taken and skips them; a set filter must be compared at run time, so it walks more.
    let enter = |pid, uid| costs(execsnoop::skel::OBJECT, "execsnoop", pid, uid)[0].2;
    let open = enter(0, u32::MAX);
    let by_pid = enter(1, u32::MAX);
    let by_uid = enter(0, 0);
    eprintln!("execve_enter verified_insns: no filter {open}, --pid {by_pid}, --uid {by_uid}");
    assert!(open < by_pid, "no filter {open} vs --pid {by_pid}");
    assert!(open < by_uid, "no filter {open} vs --uid {by_uid}");
}
