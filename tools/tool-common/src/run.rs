//! The run loop: until Ctrl-C/SIGTERM, `--duration`, or the `-c` command's exit, with a
//! callback every `--interval`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::child::TracedChild;

/// Why the loop could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A signal handler could not be installed.
    #[error("installing the {signal} handler")]
    Signal {
        /// The signal's name.
        signal: &'static str,
        /// What sigaction(2) said.
        #[source]
        source: std::io::Error,
    },
    /// `--duration` or `--interval` is not a positive number.
    #[error("--{option} must be a positive number of seconds, not {value}")]
    Seconds {
        /// The option's name.
        option: &'static str,
        /// The value given.
        value: f64,
    },
}

/// Set by SIGINT/SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Whether SIGINT or SIGTERM has arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Makes SIGINT and SIGTERM set the stop flag (without `SA_RESTART`, so a blocking poll
/// returns `EINTR`).
pub fn install_stop_handlers() -> Result<(), RunError> {
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which
        // is async-signal-safe.
        let ret = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if ret != 0 {
            return Err(RunError::Signal {
                signal: name,
                source: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}

/// A positive, finite number of seconds as a duration.
pub fn seconds(option: &'static str, value: Option<f64>) -> Result<Option<Duration>, RunError> {
    match value {
        Some(s) if !(s.is_finite() && s > 0.0 && s < 1e9) => {
            Err(RunError::Seconds { option, value: s })
        }
        Some(s) => Ok(Some(Duration::from_secs_f64(s))),
        None => Ok(None),
    }
}

/// What the loop asks the tool to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Wait for events at most this long (poll a buffer, or sleep).
    Wait(Duration),
    /// An interval has passed: print (and reset) the aggregates.
    Interval,
    /// Time to stop: drain what is left and print the final output.
    Stop,
}

/// The loop's clock: call [`RunLoop::step`] until it says [`Step::Stop`].
#[derive(Debug)]
pub struct RunLoop {
    deadline: Option<Instant>,
    interval: Option<Duration>,
    next_interval: Option<Instant>,
    child: Option<TracedChild>,
    released: bool,
    child_done: bool,
    stopped: bool,
}

/// Longest single wait, so Ctrl-C and a child's exit are noticed quickly.
const MAX_WAIT: Duration = Duration::from_millis(100);

impl RunLoop {
    /// Starts the clock; `duration`/`interval` in seconds as given on the command line.
    /// With `child`, the first [`RunLoop::step`] releases it and the loop stops once it
    /// has exited. Installs the Ctrl-C handlers.
    pub fn new(
        duration: Option<f64>,
        interval: Option<f64>,
        child: Option<TracedChild>,
    ) -> Result<RunLoop, RunError> {
        let duration = seconds("duration", duration)?;
        let interval = seconds("interval", interval)?;
        install_stop_handlers()?;
        let now = Instant::now();
        Ok(RunLoop {
            deadline: duration.map(|d| now + d),
            interval,
            next_interval: interval.map(|i| now + i),
            child,
            released: false,
            child_done: false,
            stopped: false,
        })
    }

    /// The next step. After the child exits, one more short wait drains its last events
    /// before `Stop`.
    pub fn step(&mut self) -> Step {
        if self.stopped {
            return Step::Stop;
        }
        let now = Instant::now();
        if stop_requested() || self.child_done || self.deadline.is_some_and(|d| now >= d) {
            self.stopped = true;
            return Step::Stop;
        }
        if let Some(child) = &mut self.child {
            if !self.released {
                child.release();
                self.released = true;
            }
            if child.try_wait().is_some() {
                self.child_done = true;
                return Step::Wait(Duration::ZERO);
            }
        }
        if let (Some(next), Some(interval)) = (self.next_interval, self.interval) {
            if now >= next {
                self.next_interval = Some(next + interval);
                return Step::Interval;
            }
        }
        let mut wait = MAX_WAIT;
        for until in [self.deadline, self.next_interval].into_iter().flatten() {
            wait = wait.min(until.saturating_duration_since(now));
        }
        Step::Wait(wait)
    }

    /// The traced child's exit status, once it has exited.
    pub fn child_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(TracedChild::try_wait)
    }
}

/// Sleeps for a [`Step::Wait`] (for tools that read maps only at the end), returning early
/// on a signal.
pub fn sleep(wait: Duration) {
    if wait.is_zero() {
        return;
    }
    let ts = libc::timespec {
        tv_sec: wait.as_secs().try_into().unwrap_or(libc::c_long::MAX as _),
        tv_nsec: wait.subsec_nanos() as libc::c_long,
    };
    // SAFETY: nanosleep reads `ts`; the remainder pointer may be null. EINTR (a signal)
    // just ends the sleep early.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_seconds_are_refused() {
        assert!(seconds("duration", Some(0.0)).is_err());
        assert!(seconds("duration", Some(-1.0)).is_err());
        assert!(seconds("interval", Some(f64::NAN)).is_err());
        let err = seconds("interval", Some(f64::INFINITY)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--interval must be a positive number of seconds, not inf"
        );
        assert_eq!(
            seconds("duration", Some(1.5)).unwrap(),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn duration_ends_the_loop_and_intervals_fire_on_time() {
        let start = Instant::now();
        let mut run = RunLoop::new(Some(0.35), Some(0.1), None).unwrap();
        let mut intervals = 0;
        loop {
            match run.step() {
                Step::Wait(d) => {
                    assert!(d <= MAX_WAIT);
                    sleep(d);
                }
                Step::Interval => intervals += 1,
                Step::Stop => break,
            }
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(350), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(intervals, 3);
        assert_eq!(run.step(), Step::Stop);
    }
}
