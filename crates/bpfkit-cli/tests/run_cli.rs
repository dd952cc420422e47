//! `bpfkit run` on the corpus' execsnoop and opensnoop objects prints events for commands this
//! test runs while it traces, then the maps.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bpfkit_test_support::corpus_dir;

/// Start `bpfkit run OBJ --duration SECS`; returns the child and a channel of its stdout lines.
/// Waits until it printed `attached_programs` "attached" lines and "tracing".
fn start(object: &Path, secs: u32, attached_programs: usize) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("run")
        .arg(object)
        .args(["--duration", &secs.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("bpfkit runs");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut attached = 0;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("bpfkit run prints what it attached, then 'tracing'");
        if line.starts_with("tracing") {
            break;
        }
        assert!(line.starts_with("attached "), "{line}");
        attached += 1;
    }
    assert_eq!(attached, attached_programs);
    (child, rx)
}

fn finish(mut child: Child, rx: mpsc::Receiver<String>) -> Vec<String> {
    assert!(
        child.wait().unwrap().success(),
        "bpfkit run exits 0 after --duration"
    );
    rx.iter().collect()
}

#[test]
fn run_execsnoop_prints_the_exec_of_a_command_this_test_runs() {
    let object = corpus_dir().join("libbpf-tools/execsnoop.bpf.o");
    let (child, rx) = start(&object, 3, 2);
    // A command with a name no other process uses: a copy of `true`.
    let dir = std::env::temp_dir().join(format!("bpfkit-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("bkr{}", std::process::id());
    let command = dir.join(&name);
    std::fs::copy("/bin/true", &command).unwrap();
    assert!(Command::new(&command).status().unwrap().success());
    let lines = finish(child, rx);
    std::fs::remove_dir_all(&dir).unwrap();
    let comm = format!("comm: \"{}\"", &name[..name.len().min(15)]);
    let event = lines
        .iter()
        .find(|l| l.starts_with("events: {") && l.contains(&comm))
        .unwrap_or_else(|| {
            panic!(
                "no BTF-decoded exec event with {comm} in:\n{}",
                lines.join("\n")
            )
        });
    assert!(event.contains("retval: 0"), "{event}");
    assert!(
        event.contains(&format!("args: \"{}\"", command.display())),
        "{event}"
    );
    assert!(
        lines.iter().any(|l| l == "map execsnoo.rodata:"),
        "maps are printed at the end"
    );
}

#[test]
fn run_opensnoop_prints_the_open_of_a_path_this_test_opens() {
    let object = corpus_dir().join("libbpf-tools/opensnoop.bpf.o");
    let (child, rx) = start(&object, 3, 4);
    let path = format!("/tmp/bpfkit-run-open-{}", std::process::id());
    assert!(std::fs::File::open(&path).is_err(), "{path} does not exist");
    let lines = finish(child, rx);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("events: ") && l.contains(&path)),
        "no event with {path}"
    );
}

#[test]
fn run_set_changes_a_rodata_constant_and_rejects_unknown_names() {
    let object = corpus_dir().join("libbpf-tools/execsnoop.bpf.o");
    let out = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("run")
        .arg(&object)
        .args([
            "--duration",
            "0.2",
            "--set",
            "max_args=7",
            "--set",
            "ignore_failed=false",
        ])
        .args(["--max-entries", "execs=128"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let rodata = text
        .lines()
        .skip_while(|l| *l != "map execsnoo.rodata:")
        .nth(1)
        .expect("the .rodata map is printed");
    assert!(
        rodata.contains("ignore_failed: false") && rodata.contains("max_args: 7"),
        "{rodata}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("run")
        .arg(&object)
        .args(["--duration", "0.2", "--set", "no_such_var=1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no_such_var") && err.contains("no such global"),
        "{err}"
    );

    // A map the object does not have is refused by name, with the object's maps listed.
    for command in ["run", "load"] {
        let out = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
            .arg(command)
            .arg(&object)
            .args(["--max-entries", "no_such_map=8"])
            .args(if command == "run" {
                &["--duration", "0.2"][..]
            } else {
                &[][..]
            })
            .output()
            .unwrap();
        assert!(!out.status.success(), "{command}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no map named 'no_such_map'") && err.contains("execs, events"),
            "{command}: {err}"
        );
    }
}

#[test]
fn run_prints_ring_buffer_records_decoded_through_btf_and_the_final_counts() {
    let object = bpfkit_test_support::fixture("attach_counters");
    // A shell that waits for a line, then becomes `cat` (same pid) opening two missing files.
    let mut target = Command::new("sh")
        .args([
            "-c",
            "read x; exec cat /no/such/bpfkit-a /no/such/bpfkit-b 2>/dev/null",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = target.id();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("run")
        .arg(&object)
        .args(["--duration", "3", "--set", &format!("target_pid={pid}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("tracing starts");
        if line.starts_with("tracing") {
            break;
        }
    }
    use std::io::Write;
    target.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(
        !target.wait().unwrap().success(),
        "cat fails on missing files"
    );
    let lines = finish(child, rx);
    let events: Vec<&String> = lines.iter().filter(|l| l.starts_with("opens: {")).collect();
    for file in ["/no/such/bpfkit-a", "/no/such/bpfkit-b"] {
        let want = format!("{{pid: {pid}, comm: \"cat\", filename: \"{file}\"}}");
        assert!(
            events.iter().any(|l| l.contains(&want)),
            "no {want} in {events:?}"
        );
    }
    let counts = lines
        .iter()
        .skip_while(|l| *l != "map counts:")
        .nth(1)
        .expect("the counts map is printed");
    assert_eq!(
        counts,
        &format!("  0 => {}", events.len()),
        "one record per counted open"
    );
}

/// `bpfkit run` auto-attaches a `uprobe.session/libc.so.6:getppid` program with its own
/// attach type: every getppid() call of the target process runs it twice, on entry and on
/// return, and the printed map counts both.
#[test]
fn run_uprobe_session_counts_an_entry_and_a_return_per_call() {
    const CALLS: u32 = 5;
    let object = bpfkit_test_support::fixture("attach_session");
    let mut target = Command::new(bpfkit_test_support::c_program("session_target"))
        .arg(CALLS.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(target.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n");
    let pid = target.id();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("run")
        .arg(&object)
        .args(["--duration", "2", "--set", &format!("target_pid={pid}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
            .expect("tracing starts");
        if line.starts_with("tracing") {
            break;
        }
        attached.push(line);
    }
    assert_eq!(
        attached,
        ["attached on_getppid (uprobe.session/libc.so.6:getppid)"]
    );
    use std::io::Write;
    target.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(target.wait().unwrap().success());
    let lines = finish(child, rx);
    let counts: Vec<&String> = lines
        .iter()
        .skip_while(|l| *l != "map counts:")
        .skip(1)
        .take(2)
        .collect();
    assert_eq!(
        counts,
        [&format!("  0 => {CALLS}"), &format!("  1 => {CALLS}")],
        "entries and returns of {CALLS} calls in:\n{}",
        lines.join("\n")
    );
}
