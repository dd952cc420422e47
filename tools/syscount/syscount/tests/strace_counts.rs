//! Runs `syscount` (as root, against the running kernel) on a workload it starts with `-c`
//! and compares its counts with `strace -c -f` of the same workload: exactly 1000 getppid
//! calls and 37 failing opens, and every other syscall the workload makes. Needs strace and
//! a C compiler (installed by .ci/run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The workload, compiled once for all tests of this file (they run in parallel).
fn workload() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workload.c");
            tool_common::testing::compile_c(
                source,
                env!("CARGO_TARGET_TMPDIR"),
                "syscount-workload",
            )
        })
        .clone()
}

/// `syscount --json --top 0 EXTRA -c WORKLOAD ARGS`: the JSON rows it printed.
fn syscount(extra: &[&str], workload: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_syscount"))
        .args(["--json", "--top", "0"])
        .args(extra)
        .arg("-c")
        .arg(workload)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run syscount");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "syscount failed: {stderr}");
    assert!(stderr.starts_with("syscount: tracing ("), "{stderr}");
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// `strace -f -c` of the workload: syscall name → (calls, errors).
fn strace(workload: &Path, args: &[&str]) -> BTreeMap<String, (u64, u64)> {
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join({
        static RUNS: AtomicU32 = AtomicU32::new(0);
        format!(
            "strace-{}-{}.txt",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        )
    });
    let status = Command::new("strace")
        .args(["-f", "-c", "-U", "name,calls,errors", "-o"])
        .arg(&report)
        .arg(workload)
        .args(args)
        .status()
        .expect("strace is installed (.ci/run installs it)");
    assert!(status.success(), "strace {status}");
    let text = std::fs::read_to_string(&report).expect("strace report");
    std::fs::remove_file(&report).expect("remove strace report");
    let mut table = BTreeMap::new();
    for line in text.lines().skip(2) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() || cols[0].starts_with('-') || cols[0] == "total" {
            continue;
        }
        let calls = cols[1]
            .parse()
            .unwrap_or_else(|_| panic!("strace line {line:?}"));
        let errors = cols.get(2).map_or(0, |e| e.parse().expect("errors"));
        table.insert(cols[0].to_owned(), (calls, errors));
    }
    table
}

fn counts(rows: &[serde_json::Value]) -> BTreeMap<String, u64> {
    rows.iter()
        .map(|r| {
            (
                r["syscall"].as_str().expect("syscall").to_owned(),
                r["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

/// Asserts that syscount counted every syscall strace counted, as often, and nothing else;
/// `except` lists calls whose counts may differ run to run.
fn assert_same_counts(
    ours: &BTreeMap<String, u64>,
    theirs: &BTreeMap<String, (u64, u64)>,
    except: &[&str],
) {
    for (name, (calls, _)) in theirs {
        // exit_group never returns: syscount counts returns (strace 6 does not list it).
        if except.contains(&name.as_str()) || name == "exit_group" {
            continue;
        }
        assert_eq!(
            ours.get(name),
            Some(calls),
            "{name}: syscount {ours:?} strace {theirs:?}"
        );
    }
    for name in ours.keys() {
        assert!(
            except.contains(&name.as_str()) || theirs.contains_key(name),
            "{name} counted by syscount only: {ours:?} vs strace {theirs:?}"
        );
    }
}

#[test]
fn counts_equal_strace_for_every_syscall_of_the_workload() {
    let workload = workload();
    let args = ["1000", "37"];
    let ours = counts(&syscount(&[], &workload, &args));
    let theirs = strace(&workload, &args);

    assert_eq!(ours.get("getppid"), Some(&1000), "{ours:?}");
    assert_eq!(theirs.get("getppid"), Some(&(1000, 0)), "{theirs:?}");
    // The child is held stopped outside any syscall until the attach: no extra `read` (a
    // child held in read(2) on a pipe returned from it after the attach), one `execve`.
    assert_eq!(ours.get("execve"), Some(&1), "{ours:?}");
    assert_eq!(
        ours.get("read"),
        theirs.get("read").map(|c| &c.0),
        "{ours:?}"
    );
    assert_same_counts(&ours, &theirs, &[]);
}

#[test]
fn failures_are_counted_per_errno_and_equal_strace_errors() {
    let workload = workload();
    let args = ["10", "37"];
    let rows = syscount(&["--failures"], &workload, &args);
    let theirs = strace(&workload, &args);
    let open = theirs.get("openat").expect("strace saw openat");
    let enoent: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["syscall"] == "openat" && r["errno"] == "ENOENT")
        .collect();
    assert_eq!(enoent.len(), 1, "{rows:?}");
    assert_eq!(enoent[0]["errno_value"], libc::ENOENT);
    assert!(open.1 >= 37, "strace errors {open:?}");
    assert_eq!(
        enoent[0]["count"], open.1,
        "ENOENT opens: syscount {rows:?} strace {open:?}"
    );
    // Only failures: no getppid (which cannot fail), every row an errno.
    assert!(rows
        .iter()
        .all(|r| r["syscall"] != "getppid" && r["errno_value"].as_u64().unwrap() > 0));
    let failed: u64 = theirs.values().map(|(_, e)| e).sum();
    let counted: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(
        counted, failed,
        "all failures: syscount {rows:?} strace {theirs:?}"
    );
}

#[test]
fn per_process_counts_name_the_child_and_latency_has_totals() {
    let workload = workload();
    let rows = syscount(&["--process", "--latency"], &workload, &["2000", "0"]);
    assert_eq!(
        rows.len(),
        1,
        "only the child is in the run's cgroup (the workload forks nothing): {rows:?}"
    );
    let row = &rows[0];
    assert_eq!(row["comm"], "syscount-worklo", "comm is cut to 15 bytes");
    let count = row["count"].as_u64().unwrap();
    // The same workload counted per syscall makes the same calls in total.
    let per_syscall: u64 = syscount(&[], &workload, &["2000", "0"])
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(count, per_syscall, "{row}");
    assert!(count > 2000, "{row}");
    let total = row["total_ns"].as_u64().unwrap();
    assert!(total > 0, "{row}");
    assert_eq!(row["avg_ns"].as_u64().unwrap(), total / count);
}

#[test]
fn errno_filter_keeps_only_that_errno() {
    let workload = workload();
    let rows = syscount(&["--failures", "--errno", "EACCES"], &workload, &["0", "5"]);
    assert!(rows.iter().all(|r| r["errno"] == "EACCES"), "{rows:?}");
    assert!(!rows.iter().any(|r| r["syscall"] == "openat"), "{rows:?}");
}

/// `-c sh -c SCRIPT` where the shell forks `cat`s and `ls`es of marker paths: syscount
/// counts the whole process tree (the command runs in a cgroup of its own), as `strace -f`
/// does. Compared are syscalls whose counts do not vary run to run for a fixed script
/// (every call but brk, getrandom and futex, which may vary). The shell's fork (vfork or
/// clone) is counted once, as strace counts it, not again for the new task's return (0),
/// and the shell's rt_sigreturn after each SIGCHLD is counted (its exit carries syscall
/// number -1). execve is also checked against its known count: the shell plus one per
/// forked program. The grandchildren write their cgroup to a file: it is the run's own
/// directory, and it is gone after the run.
#[test]
fn counts_include_what_the_command_forks_and_equal_strace_f() {
    const ROUNDS: u64 = 4;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("syscount-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("marker dir");
    let marker = dir.join("marker");
    let cgroup_file = dir.join("cgroup");
    let script = format!(
        "i=0; while [ $i -lt {ROUNDS} ]; do cat {m}-$i 2>/dev/null; ls {m}-ls-$i 2>/dev/null; i=$((i+1)); done; cat /proc/self/cgroup > {c}",
        m = marker.display(),
        c = cgroup_file.display()
    );
    let sh = Path::new("sh");
    let ours = counts(&syscount(&[], sh, &["-c", &script]));
    let cgroup = std::fs::read_to_string(&cgroup_file).expect("the grandchild's cgroup");
    let theirs = strace(sh, &["-c", &script]);
    std::fs::remove_dir_all(&dir).expect("remove marker dir");

    // Each round forks two programs (cat, ls), then the final cat: 2 * ROUNDS + 1 forked
    // programs plus the shell itself.
    assert_eq!(ours.get("execve"), Some(&(2 * ROUNDS + 2)), "{ours:?}");
    for name in ["openat", "close", "mmap", "newfstatat", "access", "wait4"] {
        assert!(
            theirs.get(name).is_some_and(|c| c.0 > 0),
            "strace saw no {name}: {theirs:?}"
        );
    }
    let forks: u64 = ["clone", "clone3", "fork", "vfork"]
        .iter()
        .filter_map(|name| ours.get(*name))
        .sum();
    assert_eq!(forks, 2 * ROUNDS + 1, "one fork per program: {ours:?}");
    assert_same_counts(&ours, &theirs, &["brk", "getrandom", "futex"]);
    // The forked programs ran in the run's own cgroup, removed after the run.
    tool_common::testing::assert_run_cgroup_removed("syscount", &cgroup);
}

/// Waits until process `pid` sleeps (state `S`) in a read of stdin: `/proc/PID/syscall`
/// reads `NR ARG0 ...` then.
fn blocked_in_read(pid: u32) {
    let start = std::time::Instant::now();
    let blocked = format!("{} 0x0 ", libc::SYS_read);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let sleeping = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('S'));
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        if sleeping && syscall.starts_with(&blocked) {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{pid} never blocked in read: {stat} {syscall}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Starts `dd` reading `n` one-byte records from a pipe (blocked in its first read), runs
/// `tracer` on its pid (which returns once attached), feeds it, waits for its exit, and
/// returns what `finish` makes of the tracer's run.
fn traced_dd<T, R>(n: usize, tracer: impl FnOnce(u32) -> T, finish: impl FnOnce(T) -> R) -> R {
    use std::io::Write;
    let mut dd = Command::new("dd")
        .args(["of=/dev/null", "bs=1", &format!("count={n}")])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run dd");
    blocked_in_read(dd.id());
    let running = tracer(dd.id());
    // strace settles its attach by interrupting and restarting the read: feed dd only once
    // it is blocked in the read again.
    std::thread::sleep(std::time::Duration::from_millis(300));
    blocked_in_read(dd.id());
    let mut input = dd.stdin.take().unwrap();
    input.write_all(&vec![b'x'; n]).unwrap();
    drop(input);
    assert!(dd.wait().unwrap().success());
    finish(running)
}

/// `-p PID` on a running process: counts equal `strace -c -p PID` on the same workload
/// (the read in flight when the tracer attaches is counted once by both; fed while strace
/// is still attaching, that read is missing from strace's count, hence the pause).
#[test]
fn pid_mode_counts_equal_strace_p() {
    use std::io::{BufRead, BufReader};
    const N: usize = 300;
    let ours = traced_dd(
        N,
        |pid| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_syscount"))
                .args(["--json", "--top", "0", "-p", &pid.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run syscount");
            let mut stderr = BufReader::new(child.stderr.take().unwrap());
            let mut line = String::new();
            stderr.read_line(&mut line).unwrap();
            assert!(line.starts_with("syscount: tracing ("), "{line}");
            child
        },
        |child| {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            String::from_utf8(out.stdout).unwrap()
        },
    );
    let ours = counts(
        &ours
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect::<Vec<_>>(),
    );
    let report =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("strace-p-{}.txt", std::process::id()));
    traced_dd(
        N,
        |pid| {
            let mut child = Command::new("strace")
                .args(["-c", "-U", "name,calls,errors", "-o"])
                .arg(&report)
                .args(["-p", &pid.to_string()])
                .stderr(Stdio::piped())
                .spawn()
                .expect("strace is installed (.ci/run installs it)");
            let mut stderr = BufReader::new(child.stderr.take().unwrap());
            let mut line = String::new();
            stderr.read_line(&mut line).unwrap();
            assert!(line.contains("attached"), "{line}");
            child
        },
        |mut child| assert!(child.wait().unwrap().success()),
    );
    let text = std::fs::read_to_string(&report).expect("strace report");
    std::fs::remove_file(&report).unwrap();
    let theirs: BTreeMap<String, (u64, u64)> = text
        .lines()
        .skip(2)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() < 2 || cols[0].starts_with('-') || cols[0] == "total" {
                return None;
            }
            Some((cols[0].to_owned(), (cols[1].parse().ok()?, 0)))
        })
        .collect();
    assert_eq!(ours.get("read"), Some(&(N as u64)), "{ours:?}");
    assert_same_counts(&ours, &theirs, &[]);
}
