//! `bpfkit new`: every template makes a project that is rustfmt-clean, builds against
//! this checkout (`--path`) and whose kernel crate passes a host `cargo check --all-targets`
//! (what rust-analyzer runs) without warnings; the tracepoint template's binary prints an
//! exec the test makes.
//!
//! The projects share one target directory (`<target>/new-templates`) and the workspace's
//! eBPF target directory, so bpfkit and BPF `core` are compiled once for all templates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn target_root() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`.
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("..")
}

fn bpfkit(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn cargo(dir: &Path, args: &[&str]) -> Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_root().join("new-templates"))
        .env("BPFKIT_EBPF_TARGET_DIR", target_root().join("bpfkit-ebpf"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap()
}

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates project `name` from `template` in a fresh directory and builds it.
fn new_and_build(name: &str, template: &str) -> PathBuf {
    let parent = std::env::temp_dir().join(format!("bpfkit-new-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    let repo = repo();
    let out = bpfkit(
        &[
            "new",
            name,
            "--template",
            template,
            "--path",
            repo.to_str().unwrap(),
        ],
        &parent,
    );
    assert_ok("bpfkit new", &out);
    let project = parent.join(name);
    for file in [
        "Cargo.toml",
        "README.md",
        &format!("{name}-ebpf/src/main.rs"),
        &format!("{name}-common/src/lib.rs"),
        &format!("{name}/build.rs"),
        &format!("{name}/src/main.rs"),
    ] {
        assert!(project.join(file).is_file(), "{file} was not made");
    }
    // Pin the dependency versions this checkout is tested with.
    std::fs::copy(repo.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    assert_ok(
        "cargo fmt --check",
        &cargo(&project, &["fmt", "--all", "--", "--check"]),
    );
    assert_ok(
        "cargo fmt --check (kernel crate)",
        &cargo(
            &project.join(format!("{name}-ebpf")),
            &["fmt", "--", "--check"],
        ),
    );
    assert_ok("cargo build", &cargo(&project, &["build", "-p", name]));
    // What rust-analyzer runs on the kernel crate: a host `cargo check` of every target,
    // which must pass without a warning.
    let check = cargo(
        &project.join(format!("{name}-ebpf")),
        &["check", "--all-targets", "--message-format=short"],
    );
    assert_ok("cargo check --all-targets (kernel crate, host)", &check);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        !stderr.contains("warning"),
        "host check of the kernel crate warned:\n{stderr}"
    );
    project
}

#[test]
fn every_template_builds() {
    for (name, template) in [
        ("newkp", "kprobe"),
        ("newup", "uprobe"),
        ("newlsm", "lsm"),
        ("newtc", "tc"),
        ("newcg", "cgroup-skb"),
    ] {
        let project = new_and_build(name, template);
        let binary = target_root().join("new-templates/debug").join(name);
        assert!(binary.is_file(), "{} was not built", binary.display());
        std::fs::remove_dir_all(project.parent().unwrap()).unwrap();
    }
}

#[test]
fn tracepoint_template_prints_an_exec_the_test_makes() {
    let project = new_and_build("newtp", "tracepoint");
    let binary = target_root().join("new-templates/debug/newtp");
    let help = Command::new(&binary).arg("--help").output().unwrap();
    assert_ok("newtp --help", &help);
    assert_eq!(
        String::from_utf8_lossy(&help.stdout),
        "Usage (as root): newtp [--duration SECONDS]\n"
    );
    let bad = Command::new(&binary).arg("--bogus").output().unwrap();
    assert!(!bad.status.success());
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "newtp: unknown argument `--bogus` (see --help)\n"
    );
    // A uniquely named copy of `true`: its command name is what the event must carry.
    let marker = format!("bkn{}", std::process::id());
    let exe = project.join(&marker);
    std::fs::copy("/bin/true", &exe).unwrap();

    let child = Command::new(&binary)
        .args(["--duration", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Exec the marker a few times once the program is attached (attach takes well under 2 s).
    std::thread::sleep(std::time::Duration::from_millis(2000));
    for _ in 0..3 {
        let status = Command::new(&exe).status().unwrap();
        assert!(status.success());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_ok("the newtp binary", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(&marker)).collect();
    assert!(
        lines.len() >= 3,
        "expected 3 exec events of {marker}, got:\n{stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Columns: PID COMM UID — the test runs as root.
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(fields[1], marker);
    assert_eq!(fields[2], "0", "uid of root");
    assert!(fields[0].parse::<u32>().unwrap() > 1);
    std::fs::remove_dir_all(project.parent().unwrap()).unwrap();
}

#[test]
fn xdp_template_prints_the_frames_of_a_private_loopback() {
    let project = new_and_build("newxdp", "xdp");
    let binary = target_root().join("new-templates/debug/newxdp");
    // A private network namespace (`unshare -n`): its own `lo`, nothing else sees the XDP
    // program, and 5 UDP datagrams to 127.0.0.1 are all the traffic there is.
    let script = format!(
        "ip link set lo up && {{ {} --iface lo --duration 4 & }} && sleep 2 && \
         for i in 1 2 3 4 5; do echo bpfkit > /dev/udp/127.0.0.1/9; done; wait",
        binary.display()
    );
    let out = Command::new("unshare")
        .args(["-n", "bash", "-c", &script])
        .output()
        .unwrap();
    assert_ok("the newxdp binary in a private netns", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // lo's frames carry a zeroed Ethernet header with EtherType IPv4; a UDP datagram of 7
    // bytes is 14 + 20 + 8 + 7 = 49 bytes on the wire.
    let udp: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split_whitespace().collect::<Vec<_>>() == ["49", "0x0800"])
        .collect();
    assert_eq!(
        udp.len(),
        5,
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(project.parent().unwrap()).unwrap();
}

#[test]
fn bad_names_and_existing_directories_are_refused() {
    let parent = std::env::temp_dir().join(format!("bpfkit-new-{}-bad", std::process::id()));
    std::fs::create_dir_all(parent.join("taken")).unwrap();
    let out = bpfkit(&["new", "2fast"], &parent);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`2fast` is not a usable project name"));
    let out = bpfkit(&["new", "taken"], &parent);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = bpfkit(&["new", "x", "--path", "/nonexistent-bpfkit"], &parent);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no bpfkit checkout there"));
    assert!(!parent.join("x").exists(), "nothing is left behind");
    std::fs::remove_dir_all(&parent).unwrap();
}
