//! `bpfkit top` against a tracepoint program this test loads and runs (on its own getppid
//! calls): `--count`/`--once --json` show counters that grow, statistics are off again after
//! top exits, and the full-screen view draws in a pseudo-terminal and quits on `q`.

use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bpfkit::info::ProgramInfo;
use bpfkit::sys::{self, uapi, ProgLoadAttr};
use bpfkit_test_support::{
    perf_event_open, perf_event_set_bpf, tracepoint_id, PerfEventAttr, PERF_TYPE_TRACEPOINT,
};
use serde_json::Value;

/// Statistics are global: one top at a time, or one test's top would count for another's
/// "stats are off" check.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A tracepoint program (`return 0`) attached to `syscalls/sys_enter_getppid` for the calling
/// thread only, so its runs are this thread's getppid calls.
struct Traced {
    prog: OwnedFd,
    _perf: OwnedFd,
    id: u32,
}

impl Traced {
    fn new(name: &str) -> Self {
        // mov64 r0, 0; exit
        let insns = [0x0000_0000_0000_00b7_u64, 0x0000_0000_0000_0095];
        let (prog, _) = sys::prog_load(&ProgLoadAttr {
            prog_type: uapi::BPF_PROG_TYPE_TRACEPOINT,
            insns: &insns,
            license: c"GPL",
            name,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("load {name}: {e}"));
        let tp = tracepoint_id("syscalls", "sys_enter_getppid").expect("tracepoint id");
        let attr = PerfEventAttr {
            type_: PERF_TYPE_TRACEPOINT,
            size: PerfEventAttr::SIZE,
            config: tp,
            sample_period: 1,
            wakeup_events: 1,
            ..Default::default()
        };
        let perf = perf_event_open(&attr, 0, -1, "sys_enter_getppid").expect("perf_event_open");
        perf_event_set_bpf(&perf, &prog).expect("attach");
        let id = ProgramInfo::from_fd(prog.as_fd()).unwrap().id;
        Self {
            prog,
            _perf: perf,
            id,
        }
    }

    /// Runs the program `n` times.
    fn trigger(&self, n: u32) {
        for _ in 0..n {
            // SAFETY: getppid has no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
    }

    fn run_cnt(&self) -> u64 {
        ProgramInfo::from_fd(self.prog.as_fd()).unwrap().run_cnt
    }
}

fn top(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("top")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bpfkit top")
}

/// Runs top with `args` while triggering `traced`, returns its stdout lines.
fn top_lines_while_triggering(traced: &Traced, args: &[&str]) -> Vec<Value> {
    let mut child = top(args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "bpfkit top {args:?} did not end");
        traced.trigger(200);
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "bpfkit top {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON array per line"))
        .collect()
}

fn entry_of(sample: &Value, id: u32) -> &Value {
    sample
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("program {id} not in {sample}"))
}

/// Whether run counting is off now: `traced`'s run_cnt stays still over triggers. Other
/// processes on the machine may hold statistics on for a moment (their own tests), so a few
/// tries are allowed.
fn stats_stay_off(traced: &Traced) -> bool {
    (0..20).any(|_| {
        let before = traced.run_cnt();
        traced.trigger(500);
        let still = traced.run_cnt() == before;
        if !still {
            std::thread::sleep(Duration::from_millis(250));
        }
        still
    })
}

fn sysctl_stats() -> String {
    std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn count_json_shows_run_count_and_time_growing_between_samples() {
    let _serial = serial();
    let traced = Traced::new("bktop_count");
    let id = traced.id.to_string();
    let samples = top_lines_while_triggering(
        &traced,
        &["--count", "2", "--interval", "0.3", "--json", "--id", &id],
    );
    assert_eq!(samples.len(), 2, "{samples:?}");
    let (first, second) = (
        entry_of(&samples[0], traced.id),
        entry_of(&samples[1], traced.id),
    );
    assert_eq!(samples[0].as_array().unwrap().len(), 1, "--id keeps one");
    assert_eq!(first["name"], "bktop_count");
    assert_eq!(first["type"], "tracepoint");
    let runs = |v: &Value, f: &str| v[f].as_u64().unwrap();
    assert!(runs(first, "run_cnt") > 0);
    assert!(runs(second, "run_cnt") > runs(first, "run_cnt"));
    assert!(runs(second, "run_time_ns") > runs(first, "run_time_ns"));
    assert_eq!(
        runs(second, "run_cnt") - runs(first, "run_cnt"),
        runs(second, "run_cnt_delta"),
        "the delta is the growth between the two samples"
    );
    assert!(second["runs_per_sec"].as_f64().unwrap() > 0.0);
    assert!(second["avg_ns"].as_f64().unwrap() > 0.0);
    assert!(second["cpu_percent"].as_f64().unwrap() > 0.0);
    let me = std::process::id();
    assert!(
        second["pids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == me),
        "this process holds the program: {second}"
    );
}

#[test]
fn once_json_lists_the_program_with_runs_in_the_interval() {
    let _serial = serial();
    let traced = Traced::new("bktop_once");
    let samples = top_lines_while_triggering(
        &traced,
        &[
            "--once",
            "--json",
            "--interval",
            "0.3",
            "--name",
            "bktop_once",
            "--type",
            "tracepoint",
        ],
    );
    assert_eq!(samples.len(), 1);
    let p = entry_of(&samples[0], traced.id);
    assert!(p["run_cnt_delta"].as_u64().unwrap() > 0, "{p}");
    assert!(p["run_time_ns_delta"].as_u64().unwrap() > 0, "{p}");
    // Every listed program passed the filters.
    for q in samples[0].as_array().unwrap() {
        assert!(q["name"].as_str().unwrap().contains("bktop_once"));
        assert_eq!(q["type"], "tracepoint");
    }
}

#[test]
fn statistics_are_off_again_after_top_exits() {
    let _serial = serial();
    let traced = Traced::new("bktop_off");
    let sysctl_before = sysctl_stats();
    if sysctl_before == "1" {
        println!("SKIP kernel.bpf_stats_enabled is 1 on this machine: statistics are always on");
        return;
    }
    assert!(
        stats_stay_off(&traced),
        "run counting is on before top runs"
    );
    let samples = top_lines_while_triggering(&traced, &["--once", "--json", "--interval", "0.2"]);
    assert!(
        entry_of(&samples[0], traced.id)["run_cnt_delta"]
            .as_u64()
            .unwrap()
            > 0
    );
    let counted = traced.run_cnt();
    assert!(counted > 0);
    assert_eq!(sysctl_stats(), sysctl_before, "the sysctl is as it was");
    assert!(
        stats_stay_off(&traced),
        "run_cnt still grows after top exited"
    );
}

/// A pseudo-terminal pair of `rows` x `cols`.
fn openpty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds to the given ints and reads the winsize; name and termios
    // may be null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty returned two new fds owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn tui_draws_in_a_pseudo_terminal_and_quits_on_q() {
    let _serial = serial();
    let traced = Traced::new("bktop_tui");
    let (master, slave) = openpty(40, 200);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bpfkit"));
    cmd.args(["top", "--interval", "0.2", "--name", "bktop_tui"])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: between fork and exec the child only calls setsid and ioctl, both
    // async-signal-safe; the slave is its stdin (fd 0) by then.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn bpfkit top in a pty");
    // The master reads EOF (EIO) only once no slave fd is left open here.
    drop(cmd);
    drop(slave);

    let screen = Arc::new(Mutex::new(Vec::new()));
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let reader_screen = Arc::clone(&screen);
    let reader_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child's side is closed.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            reader_screen.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });

    let screen_text = || Screen::replay(&screen.lock().unwrap()).text();
    let deadline = Instant::now() + Duration::from_secs(20);
    let drawn = |text: &str| {
        let rows: Vec<&str> = text.lines().collect();
        rows.first()
            .is_some_and(|r| r.starts_with("bpfkit top - 1 programs"))
            && rows
                .iter()
                .any(|r| r.contains("NAME") && r.contains("RUNS/S") && r.contains("CPU %"))
            && rows
                .iter()
                .any(|r| r.contains("tracepoint") && r.contains("bktop_tui"))
    };
    while !drawn(&screen_text()) {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the view never showed its header and the program; screen:\n{}",
                screen_text()
            );
        }
        traced.trigger(100);
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut writer = std::fs::File::from(master.try_clone().unwrap());
    writer.write_all(b"q").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("q did not end the view");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    drop(writer);
    drop(master);
    reader_thread.join().unwrap();
    // The alternate screen was left and the cursor shown again (DECSET 1049 off, DECTCEM on).
    let bytes = screen.lock().unwrap();
    let tail = String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(64)..]).into_owned();
    assert!(
        tail.contains("\x1b[?1049l") && tail.contains("\x1b[?25h"),
        "terminal restored on exit: {tail:?}"
    );
}

/// The screen a byte stream draws, for the subset of VT100 ratatui writes: printable
/// characters, cursor positioning `ESC [ row ; col H`; other CSI sequences (colours,
/// modes) change nothing visible here and are skipped.
struct Screen {
    cells: Vec<Vec<char>>,
}

impl Screen {
    fn replay(bytes: &[u8]) -> Screen {
        let mut screen = Screen { cells: Vec::new() };
        let (mut row, mut col) = (0usize, 0usize);
        let text = String::from_utf8_lossy(bytes);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                if chars.next_if_eq(&'[').is_none() {
                    continue;
                }
                let mut params = String::new();
                let mut end = ' ';
                for p in chars.by_ref() {
                    if ('@'..='~').contains(&p) {
                        end = p;
                        break;
                    }
                    params.push(p);
                }
                if end == 'H' {
                    let mut it = params.split(';').map(|n| n.parse::<usize>().unwrap_or(1));
                    row = it.next().unwrap_or(1).saturating_sub(1);
                    col = it.next().unwrap_or(1).saturating_sub(1);
                } else if end == 'J' && params == "2" {
                    screen.cells.clear();
                }
                continue;
            }
            if c == '\r' {
                col = 0;
                continue;
            }
            if c == '\n' {
                row += 1;
                continue;
            }
            if c.is_control() {
                continue;
            }
            if screen.cells.len() <= row {
                screen.cells.resize(row + 1, Vec::new());
            }
            let line = &mut screen.cells[row];
            if line.len() <= col {
                line.resize(col + 1, ' ');
            }
            line[col] = c;
            col += 1;
        }
        screen
    }

    fn text(&self) -> String {
        self.cells
            .iter()
            .map(|l| l.iter().collect::<String>().trim_end().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
