//! "Hello, tracepoint": print each exec the `hello` program reports.

// ANCHOR: hello_user
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use bpfkit::programs::tracepoint;
use guide_common::ExecEvent;

use crate::Error;

/// Attaches `hello` and hands each exec event to `on_event` until it says `Break` or
/// `timeout` passes. Returns how many events it saw.
pub fn watch_execs(
    timeout: Duration,
    mut on_event: impl FnMut(&ExecEvent) -> ControlFlow<()>,
) -> Result<usize, Error> {
    let skel = crate::load_for(0)?;
    let program = skel.progs().hello().ok_or("hello not loaded")?;
    // The link detaches the program when dropped: at return, on error, or at exit.
    let _link = tracepoint::attach(program, "sched", "sched_process_exec")?;
    let mut ring = skel.maps().EXECS_RING()?;

    let deadline = Instant::now() + timeout;
    let mut seen = 0;
    let mut done = false;
    while !done && Instant::now() < deadline {
        // Sleeps until the kernel wakes us or 100 ms pass, then drains what is there.
        ring.poll(Some(Duration::from_millis(100)), |record| {
            if let Some(event) = ExecEvent::from_bytes(record) {
                seen += 1;
                done |= on_event(&event).is_break();
            }
        })?;
    }
    Ok(seen)
}
// ANCHOR_END: hello_user
