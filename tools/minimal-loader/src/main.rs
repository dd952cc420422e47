//! The size benchmark (`cargo build -p minimal-loader --profile min-size --target
//! <arch>-unknown-linux-musl`): loads the object given as the only argument (the
//! kernel-matrix program `xtask/ebpf/vm-execs`), attaches its `record_execve` program to
//! the tracepoint its section names, runs `true` until its ring buffer `EVENTS` has
//! delivered 10 events, prints them and its peak RSS, and exits. Also run in both VMs.
//! `tools/minimal-loader/size.sh` builds it by the stable and the build-std route and
//! prints each binary's size.
//!
//! Output goes through `write(2)` with hand-made number formatting, not `println!`: the
//! binary's size is the point, and `std::io::Stdout` and `format!` add to it.

use std::process::{Command, ExitCode};

use bpfkit::loader::Loader;
use bpfkit::programs::auto;
use bpfkit::readers::RingBuf;

/// How many events to read.
const EVENTS: usize = 10;

/// A line of output under construction, written with one `write(2)`.
struct Line(Vec<u8>);

impl Line {
    fn new() -> Self {
        Line(Vec::with_capacity(128))
    }

    fn text(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    /// `n` in decimal.
    fn num(mut self, mut n: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.0.extend_from_slice(&digits[at..]);
        self
    }

    /// Writes the line and a newline to `fd` (1 or 2); a failed write is ignored, as
    /// there is nowhere left to report it.
    fn write_to(mut self, fd: libc::c_int) {
        self.0.push(b'\n');
        let mut rest = self.0.as_slice();
        while !rest.is_empty() {
            // SAFETY: `rest` is a live, initialised byte slice of `rest.len()` bytes.
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            let Ok(n) = usize::try_from(n) else { return };
            if n == 0 {
                return;
            }
            rest = &rest[n..];
        }
    }
}

/// Why a run failed: a message and, when a library error caused it, that error's text.
struct Failure(&'static str, String);

fn run(path: &str) -> Result<(), Failure> {
    let obj = Loader::new()
        .load_file(path)
        .map_err(|e| Failure("loading", e.to_string()))?;
    let prog = obj.program("record_execve").ok_or(Failure(
        "no program record_execve in the object",
        String::new(),
    ))?;
    let map = obj
        .map("EVENTS")
        .ok_or(Failure("no map EVENTS in the object", String::new()))?;
    let mut ring = RingBuf::new(map).map_err(|e| Failure("ring buffer EVENTS", e.to_string()))?;
    let _link =
        auto::attach(prog).map_err(|e| Failure("attaching record_execve", e.to_string()))?;
    let true_bin = if std::path::Path::new("/bin/true").exists() {
        "/bin/true"
    } else {
        "/usr/bin/true"
    };
    let mut seen = 0;
    for _ in 0..100 {
        Command::new(true_bin)
            .status()
            .map_err(|e| Failure("running true", e.to_string()))?;
        while let Some(record) = ring
            .next()
            .map_err(|e| Failure("reading EVENTS", e.to_string()))?
        {
            if seen == EVENTS {
                break;
            }
            // ExecEvent: pid u32 at 0, tgid u32 at 4, comm [u8; 16] at 24.
            let pid = record
                .get(..4)
                .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            let comm = record.get(24..40).unwrap_or_default();
            let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
            Line::new()
                .text(b"event ")
                .num(seen as u64 + 1)
                .text(b": pid ")
                .num(u64::from(pid))
                .text(b" comm ")
                .text(&comm[..end])
                .write_to(1);
            seen += 1;
        }
        if seen == EVENTS {
            break;
        }
    }
    if seen < EVENTS {
        return Err(Failure(
            "fewer than 10 events after 100 execs",
            String::new(),
        ));
    }
    let status = std::fs::read("/proc/self/status").unwrap_or_default();
    if let Some(hwm) = status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"VmHWM:"))
    {
        Line::new()
            .text(b"minimal-loader: 10 events read; peak RSS ")
            .text(hwm.trim_ascii())
            .write_to(1);
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        Line::new()
            .text(b"usage: minimal-loader OBJECT.bpf.o")
            .write_to(2);
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(what, cause)) => {
            let mut line = Line::new()
                .text(b"minimal-loader: ")
                .text(path.as_bytes())
                .text(b": ")
                .text(what.as_bytes());
            if !cause.is_empty() {
                line = line.text(b": ").text(cause.as_bytes());
            }
            line.write_to(2);
            ExitCode::FAILURE
        }
    }
}
