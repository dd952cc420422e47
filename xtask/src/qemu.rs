//! Boots the guest under QEMU (TCG), streams its serial console to stdout and returns
//! the console with the status `/init` printed. A timeout kills a hung VM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::arch::Arch;
use crate::initramfs::STATUS_MARKER;
use crate::{io_err, XtaskError};

/// What the guest printed.
#[derive(Debug, Default)]
pub struct Console {
    /// Every console line, `\r` removed.
    pub lines: Vec<String>,
    /// The number of failed suites the guest reported, if it got that far.
    pub status: Option<i32>,
    /// QEMU was killed after the timeout.
    pub timed_out: bool,
    /// How QEMU exited (or was killed).
    pub exit: String,
}

/// Boots `kernel` with `initrd` and returns its console; `Err` only when QEMU does not run.
pub fn run(
    arch: Arch,
    kernel: &Path,
    initrd: &Path,
    timeout: Duration,
) -> Result<Console, XtaskError> {
    let (binary, machine, console) = arch.qemu();
    // The kernel unpacks the initramfs into RAM while its image is still there: twice its
    // size plus room to run, else "Initramfs unpacking failed: write error" (seen with a
    // 696 MB suite at 2048 MB).
    let initrd_mb = std::fs::metadata(initrd)
        .map_err(io_err("stat", initrd))?
        .len()
        .div_ceil(1 << 20);
    let memory_mb = 2048.max(1024 + 2 * initrd_mb);
    let mut cmd = Command::new(binary);
    cmd.args(machine)
        .arg("-m")
        .arg(memory_mb.to_string())
        .args(["-nographic", "-no-reboot", "-kernel"])
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(format!("{console} panic=-1 loglevel=4"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    eprintln!("xtask: {cmd:?}");
    let mut child = cmd.spawn().map_err(|e| XtaskError::Command {
        command: binary.to_owned(),
        detail: e.to_string(),
    })?;
    let Some(stdout) = child.stdout.take() else {
        return Err(XtaskError::Missing("QEMU's stdout".into()));
    };
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_owned();
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut console = Console::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                println!("{line}");
                if let Some(rest) = line.trim().strip_prefix(STATUS_MARKER) {
                    console.status = rest.trim().parse::<i32>().ok();
                }
                console.lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Only this function's own child is killed.
                let _ = child.kill();
                console.timed_out = true;
                break;
            }
        }
    }
    let exit = child.wait().map_err(|e| XtaskError::Command {
        command: binary.to_owned(),
        detail: e.to_string(),
    })?;
    let _ = reader.join();
    console.exit = exit.to_string();
    Ok(console)
}
