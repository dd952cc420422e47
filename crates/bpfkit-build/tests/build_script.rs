//! `build_ebpf` from a real build script: testdata/rust/userspace builds the counter eBPF
//! crate in its build.rs and embeds the object with `include_ebpf!`.

mod common;

use std::process::Command;

#[test]
fn a_build_script_builds_and_embeds_the_object_aligned() {
    let userspace = common::test_crate("userspace");
    let target_dir = common::shared_target_dir().with_file_name("bpfkit-userspace");
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline", "--manifest-path"])
        .arg(userspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("BPFKIT_LINK", common::linker())
        .env("BPFKIT_EBPF_TARGET_DIR", common::shared_target_dir())
        // Host flags that would break the BPF build if they leaked into it (the crate's
        // .cargo/config.toml adds more: another linker, BPF rustflags).
        .env("RUSTFLAGS", "-C target-cpu=native")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "userspace build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    let object = common::shared_target_dir()
        .join(common::route_triple())
        .join("release/counter");
    let expected_len = std::fs::metadata(&object).expect("counter object").len();
    assert_eq!(
        fields,
        [expected_len.to_string().as_str(), "0", "true"],
        "length, alignment, ELF magic"
    );

    // The build script asked cargo to rerun when any source of the eBPF crate changes.
    let build_dir = target_dir.join("debug/build");
    let output = std::fs::read_dir(&build_dir)
        .expect("build dir")
        .flatten()
        .map(|e| e.path().join("output"))
        .find(|p| p.is_file() && p.parent().unwrap().to_string_lossy().contains("userspace-"))
        .expect("build script output");
    let text = std::fs::read_to_string(output).unwrap();
    for source in [
        "counter/src/main.rs",
        "testprog/src/lib.rs",
        "counter/Cargo.toml",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("cargo:rerun-if-changed=") && l.ends_with(source)),
            "rerun-if-changed for {source} in:\n{text}"
        );
    }
}
