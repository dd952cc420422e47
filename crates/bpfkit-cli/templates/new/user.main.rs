//! {{name}}: loads the embedded eBPF object, attaches its programs{{attach_doc}}, and prints
//! each event the kernel side sends through the `EVENTS` ring buffer.
//!
//! Usage (as root): `{{name}} {{usage_args}}[--duration SECONDS]`

use std::error::Error;
use std::time::{Duration, Instant};

use bpfkit::loader::Loader;
use bpfkit::readers::{RingBuf, RingBufPoller};
use {{name_snake}}_common::Event;

/// The kernel side, built by build.rs from `../{{name}}-ebpf`.
static {{NAME_UPPER}}_BPF: &[u8] = bpfkit_build::include_ebpf!("{{name}}");
/// The kernel side's program this tool attaches.
const PROGRAM: &str = "{{program}}";

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The error and its causes, e.g. "object '…': map 'EVENTS': …: Operation not permitted".
            eprintln!("{{name}}: {}", bpfkit::Report(&*e));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let mut duration = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--duration" => {
                let secs: f64 = args.next().ok_or("--duration needs SECONDS")?.parse()?;
                duration = Some(Duration::from_secs_f64(secs));
            }
            "-h" | "--help" => {
                println!("Usage (as root): {{name}} {{usage_args}}[--duration SECONDS]");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (see --help)").into()),
        }
    }

    let object = Loader::new().load({{NAME_UPPER}}_BPF, "{{name}}")?;
    let program = object.program(PROGRAM).ok_or("no such program")?;
    // The link detaches when it is dropped (at the end of main, or when the process exits).
    let _link = {{attach_call}};

    let events = object.map("EVENTS").ok_or("no EVENTS map")?;
    let mut poller = RingBufPoller::new()?;
    poller.add(RingBuf::new(events)?)?;
    eprintln!("{{name}}: {{what}}; Ctrl-C to stop");
    println!("{:<8} {:<16} {}", "PID", "COMM", "{{value_column}}");

    let deadline = duration.map(|d| Instant::now() + d);
    while deadline.is_none_or(|d| Instant::now() < d) {
        poller.poll(Some(Duration::from_millis(100)), |_, record| {
            if let Some(event) = Event::from_bytes(record) {
                println!(
                    "{:<8} {:<16} {}",
                    event.pid,
                    String::from_utf8_lossy(event.comm()),
                    event.value
                );
            }
        })?;
    }
    Ok(())
}
