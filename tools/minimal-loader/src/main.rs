//! The size benchmark (`cargo build -p minimal-loader --profile min-size --target
//! <arch>-unknown-linux-musl`): loads the object given as the only argument (the
//! kernel-matrix program `xtask/ebpf/vm-execs`), attaches its `record_execve` program to
//! the tracepoint its section names, runs `true` until its ring buffer `EVENTS` has
//! delivered 10 events, prints them and its peak RSS, and exits. Also run in both VMs.

use std::process::{Command, ExitCode};

use bpfkit::loader::Loader;
use bpfkit::programs::auto;
use bpfkit::readers::RingBuf;

/// How many events to read.
const EVENTS: usize = 10;

fn run(path: &str) -> Result<(), String> {
    let obj = Loader::new().load_file(path).map_err(|e| e.to_string())?;
    let prog = obj
        .program("record_execve")
        .ok_or("no program record_execve in the object")?;
    let map = obj.map("EVENTS").ok_or("no map EVENTS in the object")?;
    let mut ring = RingBuf::new(map).map_err(|e| e.to_string())?;
    let _link = auto::attach(prog).map_err(|e| e.to_string())?;
    let true_bin = if std::path::Path::new("/bin/true").exists() {
        "/bin/true"
    } else {
        "/usr/bin/true"
    };
    let mut seen = 0;
    for _ in 0..100 {
        Command::new(true_bin)
            .status()
            .map_err(|e| format!("running {true_bin}: {e}"))?;
        while let Some(record) = ring.next().map_err(|e| e.to_string())? {
            if seen == EVENTS {
                break;
            }
            // ExecEvent: pid u32 at 0, tgid u32 at 4, comm [u8; 16] at 24.
            let pid = record
                .get(..4)
                .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            let comm = record.get(24..40).unwrap_or_default();
            let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
            println!(
                "event {}: pid {pid} comm {}",
                seen + 1,
                String::from_utf8_lossy(&comm[..end])
            );
            seen += 1;
        }
        if seen == EVENTS {
            break;
        }
    }
    if seen < EVENTS {
        return Err(format!("only {seen} events after 100 execs"));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(hwm) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        println!(
            "minimal-loader: {EVENTS} events read; peak RSS {}",
            hwm.trim_start_matches("VmHWM:").trim()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: minimal-loader OBJECT.bpf.o");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minimal-loader: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
