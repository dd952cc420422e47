//! `bpfkit run --iface IF --cgroup PATH`: XDP, tc and cgroup programs, whose sections name no
//! target, attach to the interface and cgroup given; run inside a network namespace the test
//! creates, the final counts equal the datagrams sent while it ran.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bpfkit_test_support::fixture;
use bpfkit_test_support::netns::{send_udp, VethPair, VETH_A};

const PORT: u16 = 4794;

#[test]
fn run_attaches_xdp_and_tc_programs_to_the_interface_given() {
    let pair = VethPair::new("cli-run");
    let object = fixture("net_counters");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &pair.a.name])
        .arg(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("run")
        .arg(&object)
        .args(["--duration", "3", "--iface", VETH_A])
        .args(["--set", &format!("udp_port={PORT}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bpfkit runs");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut attached = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("bpfkit run prints what it attached, then 'tracing'");
        if line.starts_with("tracing") {
            break;
        }
        attached.push(line);
    }
    // One XDP program per interface: xdp_count attaches, xdp_drop is refused (EBUSY).
    // All three tc programs attach to ingress (tcx), in order; the cgroup ones need --cgroup.
    assert_eq!(
        attached,
        [
            "attached xdp_count (xdp)",
            "attached tc_count (tc)",
            "attached tc_drop (tc)",
            "attached tc_second (tc)",
        ]
    );
    pair.b.run(|| send_udp(pair.addr_a, PORT, 10));
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("xdp_drop") && stderr.contains("busy"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not attached: cgroup_skb_count"),
        "{stderr}"
    );
    let lines: Vec<String> = rx.iter().collect();
    let counts: Vec<&str> = lines
        .iter()
        .skip_while(|l| *l != "map counts:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(String::as_str)
        .collect();
    // xdp_count saw all 10; on ingress tc_count counted them and passed them on, tc_drop
    // counted and dropped them, so tc_second (slot 4) saw none.
    assert!(counts.contains(&"  0 => 10"), "{counts:?}");
    assert!(counts.contains(&"  2 => 10"), "{counts:?}");
    assert!(counts.contains(&"  3 => 10"), "{counts:?}");
    assert!(
        !counts.iter().any(|l| l.starts_with("  4 =>")),
        "{counts:?}"
    );
}

#[test]
fn run_attaches_cgroup_programs_to_the_cgroup_given() {
    let root = std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| std::path::PathBuf::from(f[1]))
        })
        .expect("cgroup2 is mounted");
    let cgroup = root.join(format!("bpfkit-cli-run-{}", std::process::id()));
    let _ = std::fs::remove_dir(&cgroup);
    std::fs::create_dir(&cgroup).unwrap();
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _remove = Remove(cgroup.clone());
    let output = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("run")
        .arg(fixture("net_cgroup"))
        .args(["--duration", "0.2", "--cgroup"])
        .arg(&cgroup)
        .output()
        .expect("bpfkit runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let attached: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("attached "))
        .collect();
    for expected in [
        "attached connect4_rewrite (cgroup/connect4)",
        "attached sysctl_deny (cgroup/sysctl)",
        "attached dev_deny (cgroup/dev)",
        "attached sockops_count (sockops)",
        "attached connect6_deny (cgroup/connect6)",
    ] {
        assert!(
            attached.contains(&expected),
            "{expected} not in {attached:?}"
        );
    }
    assert_eq!(attached.len(), 10, "{attached:?}");
    // Detached when run ends: nothing left on the cgroup.
    let show = Command::new("bpftool")
        .args(["cgroup", "show"])
        .arg(&cgroup)
        .output()
        .unwrap();
    assert!(show.stdout.iter().all(u8::is_ascii_whitespace), "{show:?}");
}
