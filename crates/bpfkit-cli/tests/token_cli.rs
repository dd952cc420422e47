//! `bpfkit load --token-path`: in a child in its own user namespace (no capabilities in the
//! initial one) with a bpffs this test (root) delegated to it, the CLI loads the `token`
//! fixture through the token; the kernel lists its programs and map. `bpfkit trace` there
//! finds the token by itself and runs a BEGIN probe. A path that gives no
//! token is a clear error. One test in this binary: the child is forked.

use std::path::Path;
use std::process::Command;

use bpfkit::features::{self, Probe, Support};
use bpfkit_test_support::fixture;
use bpfkit_test_support::userns::{run_with_delegated_bpffs, Delegated};

#[test]
fn load_goes_through_the_token_path_in_a_user_namespace() {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP not root: delegating a bpffs needs CAP_SYS_ADMIN");
        return;
    }
    match features::support(Probe::Token) {
        Support::Supported => {}
        other => {
            println!("SKIP BPF_TOKEN_CREATE: {other:?} (BPF tokens need Linux 6.9)");
            return;
        }
    }
    let obj = fixture("token");
    let bad = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(["load", "--token-path", "/proc"])
        .arg(&obj)
        .output()
        .expect("bpfkit runs");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("BPF token: creating it from \"/proc\" was refused"),
        "{stderr}"
    );

    let outcome = run_with_delegated_bpffs(Path::new("/sys/fs/bpf"), || {
        let out = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
            .args(["load", "--json", "--token-path", "/sys/fs/bpf"])
            .arg(&obj)
            .output()
            .map_err(|e| format!("running bpfkit: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "bpfkit load failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let trace = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
            .args([
                "trace",
                "-e",
                "BEGIN { @n = count(); @n = count(); exit(); }",
            ])
            .output()
            .map_err(|e| format!("running bpfkit trace: {e}"))?;
        if !trace.status.success() {
            return Err(format!(
                "bpfkit trace failed: {}",
                String::from_utf8_lossy(&trace.stderr)
            ));
        }
        Ok(format!(
            "{}\n--- trace ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&trace.stdout)
        ))
    })
    .expect("the child ran");
    let stdout = match outcome {
        Delegated::Skip(why) => {
            println!("SKIP {why}");
            return;
        }
        Delegated::Ran(stdout) => stdout,
    };
    let (stdout, trace) = stdout
        .split_once("\n--- trace ---\n")
        .expect("both outputs");
    // `bpfkit trace` found the token by itself: its BEGIN probe ran and counted twice.
    assert!(trace.contains("@n: 2"), "{trace}");
    let json: serde_json::Value = serde_json::from_str(stdout).expect("JSON");
    let mut programs: Vec<&str> = json["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .map(|p| {
            assert!(p["id"].as_u64().unwrap() > 0, "{p}");
            p["name"].as_str().unwrap()
        })
        .collect();
    programs.sort();
    assert_eq!(programs, ["count_getpid", "count_packets"]);
    let maps: Vec<&str> = json["maps"]
        .as_array()
        .expect("maps")
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(maps.contains(&"seen"), "{maps:?}");
}
