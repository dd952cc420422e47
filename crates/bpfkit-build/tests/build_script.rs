//! `build_ebpf` from a real build script: testdata/rust/userspace builds the counter eBPF
//! crate in its build.rs and embeds the object with `include_ebpf!`.

mod common;

use std::path::Path;
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
        .filter(|p| p.is_file() && p.parent().unwrap().to_string_lossy().contains("userspace-"))
        // Older builds of copies of the crate (other tests, other checkouts) may sit beside it.
        .find(|p| {
            std::fs::read_to_string(p)
                .is_ok_and(|t| t.contains("testdata/rust/userspace/../counter/Cargo.toml"))
        })
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

/// Copies the files of a testdata crate (manifest, lock, sources, cargo config).
fn copy_crate(from: &std::path::Path, to: &std::path::Path) {
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src/main.rs",
        "src/lib.rs",
        ".cargo/config.toml",
    ] {
        if from.join(file).is_file() {
            std::fs::create_dir_all(to.join(file).parent().unwrap()).unwrap();
            std::fs::copy(from.join(file), to.join(file)).unwrap();
        }
    }
}

/// A warning in the eBPF crate shows in the output of `cargo build` of the userspace crate
/// (as a `cargo:warning`), not only in the build script's log, and so does a one-line
/// summary of the nested build (crate, target, route, crates compiled). Copies of counter (renamed
/// `warned`, with an unused variable) and userspace are built in a temporary directory.
#[test]
fn kernel_crate_warnings_reach_the_users_build_output() {
    let root = std::env::temp_dir().join(format!("bpfkit-warned-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_crate(&common::test_crate("counter"), &root.join("warned"));
    copy_crate(&common::test_crate("testprog"), &root.join("testprog"));
    copy_crate(&common::test_crate("userspace"), &root.join("userspace"));
    let edit = |path: &str, from: &str, to: &str| {
        let file = root.join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{path} has {from:?}");
        std::fs::write(&file, text.replace(from, to)).unwrap();
    };
    edit(
        "warned/Cargo.toml",
        "name = \"counter\"",
        "name = \"warned\"",
    );
    let _ = std::fs::remove_file(root.join("warned/Cargo.lock"));
    edit(
        "warned/src/main.rs",
        "let pid = testprog::current_tgid();",
        "let pid = testprog::current_tgid();\n    let unused_by_the_test = 7u32;",
    );
    // Another package name: the test above finds its build script's output by name.
    edit(
        "userspace/Cargo.toml",
        "name = \"userspace\"",
        "name = \"warned-user\"",
    );
    let _ = std::fs::remove_file(root.join("userspace/Cargo.lock"));
    edit("userspace/build.rs", "\"../counter\"", "\"../warned\"");
    edit(
        "userspace/src/main.rs",
        "include_ebpf!(\"counter\")",
        "include_ebpf!(\"warned\")",
    );
    // The userspace crate's dependencies come from this repository, by absolute path.
    let repo = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap();
    edit(
        "userspace/Cargo.toml",
        "path = \"../../../crates/bpfkit-build\"",
        &format!("path = \"{}/crates/bpfkit-build\"", repo.display()),
    );

    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--manifest-path"])
        .arg(root.join("userspace/Cargo.toml"))
        .arg("--target-dir")
        .arg(common::shared_target_dir().with_file_name("bpfkit-userspace"))
        .env("BPFKIT_LINK", common::linker())
        .env("BPFKIT_EBPF_TARGET_DIR", common::shared_target_dir())
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "userspace build failed:\n{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("unused variable: `unused_by_the_test`"))
        .unwrap_or_else(|| panic!("no warning from the eBPF crate in:\n{stderr}"));
    assert!(
        warning.starts_with("warning: warned-user@0.1.0: warning:"),
        "{warning}"
    );
    // Which crate, then the source line.
    assert!(
        stderr.contains("warning: warned-user@0.1.0: in the eBPF crate ")
            && stderr.contains("warned:"),
        "the eBPF crate is named:\n{stderr}"
    );
    assert!(
        stderr.contains("--> src/main.rs:27:9"),
        "the warning names its source line:\n{stderr}"
    );
    // The nested build's progress, summed up in one line (cargo shows nothing else of it).
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("warning: warned-user@0.1.0: bpfkit: built eBPF crate warned for "))
        .unwrap_or_else(|| panic!("no build summary in:\n{stderr}"));
    assert!(
        summary.contains("(route ") && summary.contains(" crate") && summary.contains("warned"),
        "the summary names the route and the crates compiled: {summary}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
