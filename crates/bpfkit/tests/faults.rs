//! Fault injection against the real kernel: every kernel call of loading, attaching and
//! reading (`BPF_MAP_CREATE`, `BPF_BTF_LOAD`, `BPF_PROG_LOAD`, `BPF_LINK_CREATE` and its
//! `PERF_EVENT_IOC_SET_BPF`/`_ENABLE` fallback, `perf_event_open`, `mmap`, `epoll_*`, and the
//! tokio readers' reactor registration and readiness) fails
//! in turn, at each of its occurrences, with each of EPERM, EINVAL, E2BIG, ENOSPC, ENOMEM,
//! EAGAIN and EINTR, through `sys::seam` (the other calls go to the kernel). Each case checks:
//! the result is either success through a documented fallback or retry, or an error whose
//! report names the failing call and errno; no fd is left open; and the same operation then
//! works (the object, program or map is still usable: the event of a fresh attach is read
//! back). EINTR once is retried and succeeds; EINTR every time is reported after
//! `seam::EINTR_RETRIES` repeats. Each group prints its table. Run as root.

mod common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::time::Duration;

use bpfkit::links::Link;
use bpfkit::loader::{Loader, Object};
use bpfkit::programs::{tracepoint, AttachError};
use bpfkit::readers::{
    AsyncPerfBuffer, AsyncRingBuf, PerfBuffer, PerfBufferOptions, RingBuf, RingBufPoller,
};
use bpfkit::sys::seam::{self, Call, PerfIoctl, Reply};
use bpfkit::sys::Command;
use bpfkit::Report;
use common::fake::ERRNOS;
use common::{fd_count, serial};

/// Numbers the paths `assert_delivers` opens.
static NEXT_TAG: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn fixture() -> PathBuf {
    bpfkit_test_support::fixture("run_records")
}

fn load(path: &PathBuf) -> Result<Object, bpfkit::loader::LoadError> {
    let mut loader = Loader::new();
    loader.set_global("target_pid", &(std::process::id() as i32).to_ne_bytes());
    loader.load_file(path)
}

/// The step a call is, as error reports name it.
fn step(call: &Call) -> &'static str {
    match call {
        Call::Bpf(c) => c.name(),
        Call::PerfEventOpen { .. } => "perf_event_open",
        Call::PerfIoctl(PerfIoctl::SetBpf) => "PERF_EVENT_IOC_SET_BPF",
        Call::PerfIoctl(PerfIoctl::Enable) => "PERF_EVENT_IOC_ENABLE",
        Call::PerfIoctl(PerfIoctl::Disable) => "PERF_EVENT_IOC_DISABLE",
        Call::Mmap { .. } => "mmap",
        Call::EpollCreate => "epoll_create1",
        Call::EpollCtl => "epoll_ctl",
        Call::EpollWait => "epoll_wait",
        _ => "other",
    }
}

/// Run `body` with the `nth` (1-based) call that `step(call) == target` failing with `errno`
/// (and every later one too if `always`); returns the result and how many target calls
/// were made.
fn with_fault<R>(
    target: &str,
    nth: usize,
    errno: i32,
    always: bool,
    body: impl FnOnce() -> R,
) -> (R, usize) {
    with_faults(&[], target, nth, errno, always, body)
}

/// [`with_fault`], with every call of each step in `fixed` failing with its errno as well.
fn with_faults<R>(
    fixed: &[(&str, i32)],
    target: &str,
    nth: usize,
    errno: i32,
    always: bool,
    body: impl FnOnce() -> R,
) -> (R, usize) {
    let mut seen = 0;
    let result = seam::with_override(
        |call| {
            let name = step(call);
            if let Some((_, e)) = fixed.iter().find(|(s, _)| *s == name) {
                return Reply::Errno(*e);
            }
            if name != target {
                return Reply::Kernel;
            }
            seen += 1;
            if seen == nth || (always && seen > nth) {
                Reply::Errno(errno)
            } else {
                Reply::Kernel
            }
        },
        body,
    );
    (result, seen)
}

/// The target calls `body` makes without faults.
fn count_calls<R>(target: &str, body: impl FnOnce() -> R) -> usize {
    let (_, n) = with_fault(target, usize::MAX, 0, false, body);
    n
}

/// Trigger an openat of a fresh path and read it back from the object's ring buffer.
fn assert_delivers(object: &Object, what: &str) {
    let mut ring = RingBuf::new(object.map("opens").expect("opens")).expect("ring buffer");
    while ring.next().expect("drain").is_some() {}
    let name = open_fresh_path();
    let mut found = false;
    while let Some(record) = ring.next().expect("ring read") {
        found |= record_path(&record) == name.as_bytes();
    }
    assert!(found, "{what}: the event was not read back ({name})");
}

/// An openat (failing with ENOENT) of a short path no other call used; the path.
fn open_fresh_path() -> String {
    // A short unique path (the record keeps 63 bytes of it).
    let name = format!(
        "/nonexistent-bpfkit-faults/{}",
        NEXT_TAG.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let c_name = CString::new(name.clone()).unwrap();
    // SAFETY: a NUL-terminated path; fails with ENOENT, opens nothing.
    let ret = unsafe { libc::openat(libc::AT_FDCWD, c_name.as_ptr(), libc::O_RDONLY) };
    assert_eq!(ret, -1);
    name
}

/// The path of a `struct open_record` (pid u32, comm [u8; 16], path [i8; 64]).
fn record_path(record: &[u8]) -> &[u8] {
    let path = &record[20..];
    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
    &path[..end]
}

fn attach(object: &Object) -> Result<Link, bpfkit::programs::AttachError> {
    tracepoint::attach(
        object.program("record_openat").expect("record_openat"),
        "syscalls",
        "sys_enter_openat",
    )
}

/// One table row: which call failed with which errno, at which of its occurrences, and what
/// happened (`ok` for a fallback or retry, or the error report).
struct Table {
    title: &'static str,
    rows: BTreeMap<(String, String), Vec<String>>,
}

impl Table {
    fn new(title: &'static str) -> Self {
        Self {
            title,
            rows: BTreeMap::new(),
        }
    }

    fn add(&mut self, step: &str, errno: &str, outcome: String) {
        self.rows
            .entry((step.to_string(), errno.to_string()))
            .or_default()
            .push(outcome);
    }

    fn print(&self) {
        println!("| {} step | errno | outcome per occurrence |", self.title);
        println!("|---|---|---|");
        for ((step, errno), outcomes) in &self.rows {
            println!("| {step} | {errno} | {} |", outcomes.join("; "));
        }
    }
}

/// Check one faulted result: an error must name `target` and the errno; returns the
/// table's outcome text.
fn judge<T, E: std::error::Error + 'static>(
    result: &Result<T, E>,
    target: &str,
    errno: i32,
    what: &str,
) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(e) => {
            let report = Report(e).to_string();
            let errno_text = std::io::Error::from_raw_os_error(errno).to_string();
            assert!(
                report.contains(target) || (target == "BPF_PROG_LOAD" && report.contains("load")),
                "{what}: the error does not name {target}: {report}"
            );
            assert!(
                report.contains(&errno_text),
                "{what}: the error does not carry the errno ({errno_text}): {report}"
            );
            let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
            while let Some(err) = next {
                if let Some(source) = err.source() {
                    assert!(
                        !err.to_string().contains(&source.to_string()),
                        "{what}: '{err}' repeats its source '{source}'"
                    );
                }
                next = err.source();
            }
            format!("error: {report}")
        }
    }
}

/// EINTR every time: the call is made `EINTR_RETRIES` more times, then the EINTR is
/// reported like any errno (or, for an optional step, the operation goes on without it).
fn check_eintr_always<T, E: std::error::Error + 'static>(
    target: &str,
    body: impl FnOnce() -> Result<T, E>,
) -> String {
    let (result, calls) = with_fault(target, 1, libc::EINTR, true, body);
    let outcome = judge(&result, target, libc::EINTR, "EINTR always");
    // Each attempt of the step (the loader may try a step twice, e.g. BTF sanitized
    // differently) makes the call 1 + EINTR_RETRIES times.
    assert_eq!(
        calls % (1 + seam::EINTR_RETRIES as usize),
        0,
        "{target}: EINTR repeats ({calls} calls)"
    );
    format!("always: {outcome} after {calls} calls")
}

#[test]
fn load_faults() {
    let _serial = serial();
    let path = fixture();
    // A clean load first: the feature probes are cached, so the calls below are the
    // object's own.
    let object = load(&path).expect("clean load");
    drop(object);
    let fds = fd_count();
    let mut table = Table::new("load");
    for target in ["BPF_MAP_CREATE", "BPF_BTF_LOAD", "BPF_PROG_LOAD"] {
        let occurrences = count_calls(target, || load(&path).map(drop));
        assert!(occurrences > 0, "{target} not called by a load");
        for (errno, errno_name) in ERRNOS {
            for nth in 1..=occurrences {
                let what = format!("{target} #{nth} {errno_name}");
                let (result, _) = with_fault(target, nth, errno, false, || load(&path));
                let outcome = judge(&result, target, errno, &what);
                match &result {
                    Ok(object) => assert_delivers_attached(object, &what),
                    Err(e) => assert_ne!(
                        errno,
                        libc::EINTR,
                        "{what}: EINTR once is retried: {}",
                        Report(e)
                    ),
                }
                drop(result);
                assert_eq!(fd_count(), fds, "{what}: fds left open");
                table.add(target, errno_name, format!("#{nth}: {outcome}"));
            }
            if errno == libc::EINTR {
                let outcome = check_eintr_always(target, || load(&path).map(drop));
                table.add(target, errno_name, outcome);
            } else {
                // Every call of the step fails (a retry, e.g. BPF_PROG_LOAD again with a
                // verifier log, fails too).
                let what = format!("{target} always {errno_name}");
                let (result, _) = with_fault(target, 1, errno, true, || load(&path));
                let outcome = judge(&result, target, errno, &what);
                drop(result);
                assert_eq!(fd_count(), fds, "{what}: fds left open");
                table.add(target, errno_name, format!("always: {outcome}"));
            }
            // After the fault, the same load works.
            let object = load(&path)
                .unwrap_or_else(|e| panic!("reload after {target} {errno_name}: {}", Report(&e)));
            assert_delivers_attached(&object, &format!("reload after {target} {errno_name}"));
            drop(object);
            assert_eq!(fd_count(), fds);
        }
    }
    table.print();
}

/// Attach `object` and read an event back; detach.
fn assert_delivers_attached(object: &Object, what: &str) {
    let link = attach(object).unwrap_or_else(|e| panic!("{what}: attach: {}", Report(&e)));
    assert_delivers(object, what);
    drop(link);
}

/// One faulted attach, judged: a link it made (EINTR once must make one) is of `kind` if
/// given, a bpf link's kernel info names the program, and an event arrives through it; once
/// dropped, no fd is left. Returns the table's outcome.
fn check_attach(
    object: &Object,
    result: Result<Link, AttachError>,
    (target, errno, what): (&str, i32, &str),
    kind: Option<&str>,
    fds: usize,
) -> String {
    let outcome = judge(&result, target, errno, what);
    match &result {
        Ok(link) => {
            if let Some(kind) = kind {
                assert_eq!(link.kind(), kind, "{what}");
            }
            if link.fd().is_some() {
                let program = object.program("record_openat").unwrap().id().unwrap();
                assert_eq!(link.info().unwrap().prog_id, program, "{what}: link info");
            }
            assert_delivers(object, what);
        }
        Err(e) => assert_ne!(
            errno,
            libc::EINTR,
            "{what}: EINTR once is retried: {}",
            Report(e)
        ),
    }
    drop(result);
    assert_eq!(fd_count(), fds, "{what}: fds left open");
    outcome
}

#[test]
fn attach_faults() {
    let _serial = serial();
    let object = load(&fixture()).expect("load");
    drop(attach(&object).expect("clean attach"));
    let fds = fd_count();
    let mut table = Table::new("attach");
    for target in ["perf_event_open", "BPF_LINK_CREATE"] {
        for (errno, errno_name) in ERRNOS {
            let what = format!("{target} {errno_name}");
            let (result, _) = with_fault(target, 1, errno, false, || attach(&object));
            let outcome = check_attach(&object, result, (target, errno, &what), None, fds);
            table.add(target, errno_name, outcome);
            if errno == libc::EINTR {
                table.add(
                    target,
                    errno_name,
                    check_eintr_always(target, || attach(&object)),
                );
            }
            assert_delivers_attached(&object, &format!("attach after {what}"));
            assert_eq!(fd_count(), fds);
        }
    }
    // The ioctl fallback (no perf link: BPF_LINK_CREATE says EINVAL): each of its steps fails.
    for target in ["PERF_EVENT_IOC_SET_BPF", "PERF_EVENT_IOC_ENABLE"] {
        for (errno, errno_name) in ERRNOS {
            let what = format!("{target} {errno_name}");
            let (result, _) = with_faults(
                &[("BPF_LINK_CREATE", libc::EINVAL)],
                target,
                1,
                errno,
                false,
                || attach(&object),
            );
            let target_errno = (target, errno, what.as_str());
            let outcome = check_attach(&object, result, target_errno, Some("perf_event"), fds);
            table.add(&format!("{target} (ioctl fallback)"), errno_name, outcome);
            assert_delivers_attached(&object, &format!("attach after {what}"));
        }
    }
    table.print();
}

/// Both readers of `object`'s maps: a poller holding the `opens` ring buffer, and the
/// `tallies` perf buffer.
struct Readers {
    poller: RingBufPoller,
    perf: PerfBuffer,
}

/// Open both readers and a poller on `object`'s maps, wait once.
fn open_readers(object: &Object) -> Result<Readers, bpfkit::readers::ReaderError> {
    let ring = RingBuf::new(object.map("opens").expect("opens"))?;
    let perf = PerfBuffer::open(
        object.map("tallies").expect("tallies"),
        &PerfBufferOptions {
            pages_per_cpu: 1,
            ..Default::default()
        },
    )?;
    let mut poller = RingBufPoller::new()?;
    poller.add(ring)?;
    poller.poll(Some(Duration::ZERO), |_, _| {})?;
    Ok(Readers { poller, perf })
}

/// With `object` attached, an openat's record arrives through the readers: its path
/// through the poller's ring buffer, its tally (this pid, flags 7) through the perf buffer.
fn assert_readers_deliver(object: &Object, readers: &mut Readers, what: &str) {
    let link = attach(object).unwrap_or_else(|e| panic!("{what}: attach: {}", Report(&e)));
    readers.poller.consume(|_, _| {}).expect("drain ring");
    readers.perf.consume(|_, _| {}).expect("drain perf");
    let name = open_fresh_path();
    let mut paths = Vec::new();
    readers
        .poller
        .poll(Some(Duration::from_secs(1)), |_, r| {
            paths.push(record_path(r).to_vec())
        })
        .expect("poll the ring buffer");
    assert!(
        paths.iter().any(|p| p == name.as_bytes()),
        "{what}: the ring buffer did not deliver {name}"
    );
    let mut tallies = Vec::new();
    readers
        .perf
        .poll(Some(Duration::from_secs(1)), |_, r| {
            let field = |at: usize| u32::from_ne_bytes(r[at..at + 4].try_into().unwrap());
            tallies.push((field(8), field(12)))
        })
        .expect("poll the perf buffer");
    assert!(
        tallies.contains(&(std::process::id(), 7)),
        "{what}: the perf buffer did not deliver the tally: {tallies:?}"
    );
    drop(link);
}

#[test]
fn reader_faults() {
    let _serial = serial();
    let object = load(&fixture()).expect("load");
    drop(open_readers(&object).expect("clean readers"));
    let fds = fd_count();
    let mut table = Table::new("readers");
    for target in [
        "mmap",
        "perf_event_open",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
    ] {
        let occurrences = count_calls(target, || open_readers(&object));
        assert!(occurrences > 0, "{target} not called by the readers");
        for (errno, errno_name) in ERRNOS {
            for nth in 1..=occurrences {
                let what = format!("{target} #{nth} {errno_name}");
                let (mut result, _) =
                    with_fault(target, nth, errno, false, || open_readers(&object));
                let outcome = judge(&result, target, errno, &what);
                match &mut result {
                    Ok(readers) => assert_readers_deliver(&object, readers, &what),
                    Err(e) => assert_ne!(
                        errno,
                        libc::EINTR,
                        "{what}: EINTR is retried (epoll_wait: none ready): {}",
                        Report(&*e)
                    ),
                }
                drop(result);
                assert_eq!(fd_count(), fds, "{what}: fds left open");
                table.add(target, errno_name, format!("#{nth}: {outcome}"));
            }
            if errno == libc::EINTR && target != "epoll_wait" {
                table.add(
                    target,
                    errno_name,
                    check_eintr_always(target, || open_readers(&object)),
                );
            }
            // After the fault the readers open again and read an event.
            drop(
                open_readers(&object).unwrap_or_else(|e| {
                    panic!("readers after {target} {errno_name}: {}", Report(&e))
                }),
            );
            assert_delivers_attached(&object, &format!("read after {target} {errno_name}"));
            assert_eq!(fd_count(), fds);
        }
    }
    table.print();
}

/// The commands the tables above cover, so a renamed step fails loudly.
#[test]
fn steps_are_named_as_errors_name_them() {
    assert_eq!(step(&Call::Bpf(Command::MapCreate)), "BPF_MAP_CREATE");
    assert_eq!(step(&Call::Bpf(Command::BtfLoad)), "BPF_BTF_LOAD");
    assert_eq!(step(&Call::Bpf(Command::ProgLoad)), "BPF_PROG_LOAD");
    assert_eq!(step(&Call::Bpf(Command::LinkCreate)), "BPF_LINK_CREATE");
}

/// An async reader of `object`'s maps: the `opens` ring buffer or the `tallies` perf buffer.
enum AsyncReader {
    Ring(AsyncRingBuf),
    Perf(AsyncPerfBuffer),
}

impl AsyncReader {
    /// Register a fresh reader of `kind` with the current runtime.
    fn open(object: &Object, kind: &str) -> Result<Self, bpfkit::readers::ReaderError> {
        Ok(match kind {
            "AsyncRingBuf" => Self::Ring(AsyncRingBuf::new(RingBuf::new(
                object.map("opens").expect("opens"),
            )?)?),
            _ => Self::Perf(AsyncPerfBuffer::new(PerfBuffer::open(
                object.map("tallies").expect("tallies"),
                &PerfBufferOptions {
                    pages_per_cpu: 1,
                    ..Default::default()
                },
            )?)?),
        })
    }

    /// Read what is there without waiting.
    fn drain(&mut self) {
        match self {
            Self::Ring(r) => r.get_mut().consume(|_| {}).map(drop),
            Self::Perf(p) => p.get_mut().consume(|_, _| {}).map(drop),
        }
        .expect("drain");
    }

    /// Wait for records and read them: the paths of the ring buffer's records, or
    /// `pid <tgid>` of the perf buffer's tallies.
    async fn consume(&mut self) -> Result<Vec<String>, bpfkit::readers::ReaderError> {
        let mut seen = Vec::new();
        match self {
            Self::Ring(r) => {
                r.consume(|record| {
                    seen.push(String::from_utf8_lossy(record_path(record)).into_owned())
                })
                .await?
            }
            Self::Perf(p) => {
                p.consume(|_, r| {
                    let pid = u32::from_ne_bytes(r[8..12].try_into().unwrap());
                    seen.push(format!("pid {pid}"));
                })
                .await?
            }
        };
        Ok(seen)
    }

    /// Whether `seen` (from [`AsyncReader::consume`]) has the openat of `path`.
    fn saw(&self, seen: &[String], path: &str) -> bool {
        let wanted = match self {
            Self::Ring(_) => path.to_string(),
            Self::Perf(_) => format!("pid {}", std::process::id()),
        };
        seen.contains(&wanted)
    }
}

/// An openat of a fresh path from another thread of this process, 50 ms from now; joined
/// for the path.
fn open_later() -> std::thread::JoinHandle<String> {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        open_fresh_path()
    })
}

/// The tokio readers (`AsyncRingBuf`, `AsyncPerfBuffer`): their registration with the reactor
/// (an `epoll_ctl` ADD) and each readiness (the reactor's `epoll_wait`) fail through the seam
/// with each errno. Registration: EINTR once is retried, any other errno is an error naming
/// `epoll_ctl (tokio)` with the reader's fd and mappings released. Readiness: EINTR is
/// retried (every time: reported after `EINTR_RETRIES`), EAGAIN clears the readiness and
/// waits for the next (no spinning: a few readinesses for one event, even with EAGAIN every
/// time; the record is read), any other errno is reported once
/// naming `epoll_wait (tokio)`; in every case the next call on the same stream reads the
/// event. fds are flat after each case.
#[test]
fn async_reader_faults() {
    let _serial = serial();
    let object = load(&fixture()).expect("load");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let link = attach(&object).expect("attach");
    let fds = fd_count();
    let mut table = Table::new("async readers");
    let register_table = |kind: &str, errno: i32, always: bool| {
        let mut seen = 0;
        let result = seam::with_override(
            |call| {
                if *call == Call::ReactorRegister {
                    seen += 1;
                    if seen == 1 || always {
                        return Reply::Errno(errno);
                    }
                }
                Reply::Kernel
            },
            || runtime.block_on(async { AsyncReader::open(&object, kind) }),
        );
        (result, seen)
    };
    for kind in ["AsyncRingBuf", "AsyncPerfBuffer"] {
        for (errno, errno_name) in ERRNOS {
            for always in [false, true] {
                let what = format!("{kind} register {errno_name} (always: {always})");
                let (result, calls) = register_table(kind, errno, always);
                let outcome = judge(&result, "epoll_ctl (tokio)", errno, &what);
                match result {
                    Ok(mut reader) => {
                        assert!(errno == libc::EINTR && !always, "{what}: registered");
                        assert_eq!(calls, 2, "{what}: one retry");
                        reader.drain();
                        let producer = open_later();
                        let seen = runtime
                            .block_on(async {
                                tokio::time::timeout(Duration::from_secs(2), reader.consume()).await
                            })
                            .expect("an event within 2 s")
                            .unwrap_or_else(|e| panic!("{what}: {}", Report(&e)));
                        let path = producer.join().expect("producer");
                        assert!(reader.saw(&seen, &path), "{what}: {path} not in {seen:?}");
                        drop(reader);
                    }
                    Err(_) => {
                        assert!(errno != libc::EINTR || always, "{what}: EINTR retried");
                        if errno == libc::EINTR {
                            assert_eq!(calls, 1 + seam::EINTR_RETRIES as usize, "{what}");
                        }
                    }
                }
                assert_eq!(fd_count(), fds, "{what}: fds left open");
                table.add(
                    &format!("{kind} registration"),
                    errno_name,
                    format!("{}: {outcome}", if always { "always" } else { "once" }),
                );
            }
        }
        // Readiness faults, on one stream that stays in use throughout.
        let mut reader = runtime
            .block_on(async { AsyncReader::open(&object, kind) })
            .expect("register");
        for (errno, errno_name) in ERRNOS {
            for always in [false, true] {
                let what = format!("{kind} readiness {errno_name} (always: {always})");
                reader.drain();
                let producer = open_later();
                let mut seen = 0;
                let result = seam::with_override(
                    |call| {
                        if *call == Call::ReactorReady {
                            seen += 1;
                            if seen == 1 || always {
                                return Reply::Errno(errno);
                            }
                        }
                        Reply::Kernel
                    },
                    || {
                        runtime.block_on(async {
                            tokio::time::timeout(Duration::from_millis(500), reader.consume()).await
                        })
                    },
                );
                let path = producer.join().expect("producer");
                let (outcome, seen) = match result {
                    Err(_elapsed) => panic!("{what}: no answer within 500 ms"),
                    Ok(Ok(seen)) if errno == libc::EINTR && !always => {
                        ("ok (retried)".to_string(), Some(seen))
                    }
                    // EAGAIN: nothing was ready after all; the readiness is cleared and the
                    // ring read again, where the record is. Waiting, not spinning: a few
                    // readinesses for the one event (a spin would make thousands).
                    Ok(Ok(seen_records)) if errno == libc::EAGAIN => {
                        assert!(seen <= 8, "{what}: {seen} readinesses for one event");
                        (format!("ok (waited, {seen} readiness)"), Some(seen_records))
                    }
                    Ok(Ok(_)) => panic!("{what}: read despite the fault"),
                    Ok(Err(e)) => {
                        assert!(
                            errno != libc::EAGAIN && (errno != libc::EINTR || always),
                            "{what}: {}",
                            Report(&e)
                        );
                        if errno == libc::EINTR {
                            assert_eq!(seen, 1 + seam::EINTR_RETRIES as usize, "{what}");
                        } else {
                            assert_eq!(seen, 1, "{what}: reported once");
                        }
                        let result: Result<(), _> = Err(e);
                        (judge(&result, "epoll_wait (tokio)", errno, &what), None)
                    }
                };
                // The event is read: by the faulted call, or by the next one on the same
                // stream (without waiting: it is there).
                let seen = seen.unwrap_or_else(|| {
                    runtime
                        .block_on(async {
                            tokio::time::timeout(Duration::from_secs(2), reader.consume()).await
                        })
                        .unwrap_or_else(|_| panic!("{what}: the stream is stuck"))
                        .unwrap_or_else(|e| panic!("{what}: next read: {}", Report(&e)))
                });
                assert!(reader.saw(&seen, &path), "{what}: {path} not in {seen:?}");
                table.add(
                    &format!("{kind} readiness"),
                    errno_name,
                    format!("{}: {outcome}", if always { "always" } else { "once" }),
                );
            }
        }
        drop(reader);
        assert_eq!(fd_count(), fds, "{kind}: fds left open");
    }
    drop(link);
    table.print();
}
