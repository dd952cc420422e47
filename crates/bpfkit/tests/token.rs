//! BPF tokens (Linux 6.9): a child in its own user namespace, without capabilities in the
//! initial one, with a bpffs this test (root) delegated to it at `/sys/fs/bpf` of its mount
//! namespace. Without a token its loads fail with an error that says why; with the token the
//! loader finds by itself it loads the `token` fixture, attaches a raw tracepoint and a
//! socket filter, and reads the counts the kernel wrote.
//!
//! One test in this binary: the child is forked, so no other test thread may be running.

use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use bpfkit::features::{self, Probe, Support};
use bpfkit::loader::{Loader, Object};
use bpfkit::programs::{raw_tracepoint, socket_filter};
use bpfkit::token::TokenSource;
use bpfkit::Report;
use bpfkit_test_support::fixture;
use bpfkit_test_support::userns::{run_with_delegated_bpffs, Delegated};

const GETPIDS: u64 = 5;
const PACKETS: u64 = 3;

fn loader() -> Loader {
    let mut l = Loader::new();
    l.set_global("target_tgid", &std::process::id().to_ne_bytes())
        .set_global("target_nr", &(libc::SYS_getpid as u64).to_ne_bytes());
    l
}

fn seen(object: &Object, slot: u32) -> Result<u64, String> {
    let map = object.map("seen").ok_or("no map seen")?;
    let mut v = [0u8; 8];
    let found = map
        .lookup_bytes(&slot.to_ne_bytes(), &mut v, 0)
        .map_err(|e| format!("reading seen[{slot}]: {}", Report(&e)))?;
    if !found {
        return Err(format!("seen[{slot}] missing"));
    }
    Ok(u64::from_ne_bytes(v))
}

/// The child's part: returns "key=value" lines for the parent to check.
fn in_the_namespace(obj: &Path) -> Result<String, String> {
    let mut report = Vec::new();
    // Not root of the initial user namespace any more.
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").map_err(|e| e.to_string())?;
    report.push(format!(
        "uid_map={}",
        uid_map.split_whitespace().collect::<Vec<_>>().join(" ")
    ));

    // 1. No token: refused, and the error says why.
    match loader().token_source(TokenSource::Disabled).load_file(obj) {
        Ok(_) => return Err("loading without a token succeeded in a user namespace".into()),
        Err(e) => report.push(format!("without_token={}", Report(&e))),
    }
    // 2. A path that is no bpffs: a clear error.
    match loader().token_path("/proc").load_file(obj) {
        Ok(_) => return Err("a token from /proc".into()),
        Err(e) => report.push(format!("bad_path={}", Report(&e))),
    }

    // 3. The token found by itself (BPFKIT_TOKEN_PATH unset: /sys/fs/bpf).
    let object = loader()
        .load_file(obj)
        .map_err(|e| format!("load with the automatic token: {}", Report(&e)))?;
    report.push(format!("btf_loaded={}", object.btf_fd().is_some()));
    let prog = object.program("count_getpid").ok_or("no count_getpid")?;
    let link = raw_tracepoint::attach(prog, "sys_enter")
        .map_err(|e| format!("raw_tp attach: {}", Report(&e)))?;
    let before = seen(&object, 0)?;
    for _ in 0..GETPIDS {
        // SAFETY: getpid(2) has no arguments; called directly so no library caches it.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    let after = seen(&object, 0)?;
    drop(link);
    report.push(format!("getpid_counted={}", after - before));

    let rx = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    rx.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let filter = object.program("count_packets").ok_or("no count_packets")?;
    let link = socket_filter::attach(filter, &rx)
        .map_err(|e| format!("socket filter attach: {}", Report(&e)))?;
    let tx = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let to = rx.local_addr().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    for i in 0..PACKETS {
        tx.send_to(&[i as u8; 10], to).map_err(|e| e.to_string())?;
        rx.recv(&mut buf).map_err(|e| format!("packet {i}: {e}"))?;
    }
    drop(link);
    report.push(format!("packets_counted={}", seen(&object, 1)?));

    // 4. The path given to the loader.
    let again = loader()
        .token_path("/sys/fs/bpf")
        .load_file(obj)
        .map_err(|e| format!("load with token_path: {}", Report(&e)))?;
    report.push(format!("token_path_programs={}", again.programs().count()));
    Ok(report.join("\n"))
}

/// This process's bpffs mounts (`/proc/self/mountinfo` lines of type bpf).
fn bpffs_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter(|l| l.contains(" - bpf "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn loads_and_attaches_through_a_token_in_a_user_namespace() {
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
    let mounts_before = bpffs_mounts();
    let outcome = run_with_delegated_bpffs(Path::new("/sys/fs/bpf"), || in_the_namespace(&obj))
        .expect("the child ran");
    let report = match outcome {
        Delegated::Skip(why) => {
            println!("SKIP {why}");
            return;
        }
        Delegated::Ran(report) => report,
    };
    println!("{report}");
    assert_eq!(
        bpffs_mounts(),
        mounts_before,
        "the child's bpffs stays in its mount namespace"
    );
    let field = |key: &str| -> String {
        report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} missing from {report}"))
            .to_owned()
    };
    assert_eq!(field("uid_map"), "0 65534 1");
    let refused = field("without_token");
    assert!(
        refused.contains("not permitted")
            && refused.contains("user namespace")
            && refused.contains("BPF token"),
        "{refused}"
    );
    let bad = field("bad_path");
    assert!(
        bad.contains("BPF token") && bad.contains("\"/proc\""),
        "{bad}"
    );
    assert_eq!(
        field("btf_loaded"),
        "true",
        "BPF_BTF_LOAD went through the token"
    );
    assert_eq!(field("getpid_counted"), GETPIDS.to_string());
    assert_eq!(field("packets_counted"), PACKETS.to_string());
    assert_eq!(field("token_path_programs"), "2");
}
