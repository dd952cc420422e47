//! Readers soak: producers on every CPU (threads pinned with sched_setaffinity, each running
//! the `readers_soak` fixture with BPF_PROG_TEST_RUN in bursts and pauses) write per-CPU
//! sequence-numbered records while one reader drains them for `BPFKIT_SOAK_SECS` seconds
//! (5 by default) per reader kind. Checks exact accounting per CPU (attempted = received +
//! lost: ring buffer losses counted by the program, perf buffer losses as the reader reports
//! them from PERF_RECORD_LOST, and equal to the program's count), every record intact and in
//! per-CPU order, and a watchdog: no gap of 1 s or more while data is pending. Run as root.

mod readers_common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bpfkit::cpus::online_cpus;
use bpfkit::maps::MapData;
use bpfkit::readers::{
    AsyncPerfBuffer, AsyncRingBuf, PerfBuffer, PerfBufferOptions, RingBuf, RingBufPoller,
};
use readers_common::{current_cpu, load, pin_to_cpu, tokio_runtime, FdCheck, Loaded};

/// A gap this long without progress while data is pending fails the test.
const STALL: Duration = Duration::from_secs(1);
/// How long a reader waits before looking at the clock: longer than [`STALL`], so that a
/// missed wake-up is not papered over by a timeout that happens to drain the buffer.
const TICK: Duration = Duration::from_millis(1500);
/// A second look after a suspected perf stall (a wake-up may be in flight).
const GRACE: Duration = Duration::from_millis(100);
/// Ring buffer size: small, so bursts fill it and the loss paths run too.
const RING_SIZE: u32 = 64 * 1024;
/// Perf buffer data pages per CPU.
const PERF_PAGES: usize = 16;

fn soak_duration() -> Duration {
    let secs = std::env::var("BPFKIT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(5);
    Duration::from_secs(secs.max(1))
}

/// The fixture's per-CPU counters (`struct counters` of `soak_counters`).
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    ring_seq: u64,
    ring_dropped: u64,
    perf_seq: u64,
    perf_dropped: u64,
}

fn counters(obj: &Loaded, cpu: u32) -> Counters {
    let mut value = [0u8; 32];
    let found = obj
        .map("soak_counters")
        .lookup_bytes(&cpu.to_ne_bytes(), &mut value, 0)
        .unwrap();
    assert!(found, "soak_counters[{cpu}] missing");
    let word = |i: usize| u64::from_ne_bytes(value[i * 8..i * 8 + 8].try_into().unwrap());
    Counters {
        ring_seq: word(0),
        ring_dropped: word(1),
        perf_seq: word(2),
        perf_dropped: word(3),
    }
}

/// What the reader received, per CPU.
struct Tracker {
    cpus: Vec<u32>,
    next_seq: Vec<u64>,
    received: Vec<u64>,
    /// Sequence numbers skipped (records the producer failed to write).
    gaps: Vec<u64>,
    exact_len: bool,
}

impl Tracker {
    fn new(cpus: &[u32], exact_len: bool) -> Self {
        let max = *cpus.iter().max().unwrap() as usize + 1;
        Self {
            cpus: cpus.to_vec(),
            next_seq: vec![0; max],
            received: vec![0; max],
            gaps: vec![0; max],
            exact_len,
        }
    }

    /// Check one record: header, length, pattern, per-CPU order.
    fn record(&mut self, data: &[u8]) {
        assert!(data.len() >= 16, "record of {} bytes", data.len());
        let seq = u64::from_le_bytes(data[..8].try_into().unwrap());
        let cpu = u32::from_le_bytes(data[8..12].try_into().unwrap());
        let len = u32::from_le_bytes(data[12..16].try_into().unwrap()) as usize;
        assert_eq!(len, 16 + 8 * (seq as usize & 7), "length of record {seq}");
        if self.exact_len {
            assert_eq!(data.len(), len, "ring record {seq} of CPU {cpu}");
        } else {
            assert!(
                data.len() >= len,
                "perf sample {seq} of CPU {cpu} too short"
            );
        }
        for (i, &b) in data[..len].iter().enumerate().skip(16) {
            assert_eq!(b, (i & 0xff) as u8, "byte {i} of record {seq} of CPU {cpu}");
        }
        let c = cpu as usize;
        assert!(
            self.cpus.contains(&cpu),
            "record from CPU {cpu}, producers on {:?}",
            self.cpus
        );
        assert!(
            seq >= self.next_seq[c],
            "CPU {cpu}: record {seq} after {} (out of order or duplicated)",
            self.next_seq[c]
        );
        self.gaps[c] += seq - self.next_seq[c];
        self.next_seq[c] = seq + 1;
        self.received[c] += 1;
    }

    fn total(&self) -> u64 {
        self.received.iter().sum()
    }
}

/// Start producer threads, one pinned to each CPU, running `prog` (64 records per run) in bursts
/// of random length separated by random pauses (0..500 µs), so the reader both falls behind
/// (full buffer, losses) and catches up (empty buffer, sleeps and wake-ups).
fn start_producers<'s, 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    obj: &'e Loaded,
    prog: &'static str,
    cpus: &[u32],
    stop: &'e AtomicBool,
    runs: &'e AtomicU64,
) -> Vec<std::thread::ScopedJoinHandle<'s, ()>> {
    cpus.iter()
        .map(|&cpu| {
            scope.spawn(move || {
                pin_to_cpu(cpu);
                assert_eq!(current_cpu(), cpu);
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(cpu + 1);
                while !stop.load(Ordering::Relaxed) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    for _ in 0..(rng % 16) + 1 {
                        obj.run(prog, 1);
                        runs.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_micros((rng >> 8) % 500));
                }
            })
        })
        .collect()
}

/// Run `prog` once on every CPU (from a pinned thread): after a drain this succeeds, and a
/// perf ring reports the losses still owed (the kernel writes PERF_RECORD_LOST before the
/// next sample that fits).
fn run_once_on_every_cpu(obj: &Loaded, prog: &str, cpus: &[u32]) {
    std::thread::scope(|s| {
        for &cpu in cpus {
            s.spawn(move || {
                pin_to_cpu(cpu);
                obj.run(prog, 1);
            });
        }
    });
}

/// Watches a ring buffer's shared positions from another mapping: fails when the consumer
/// position stays put for [`STALL`] while the producer position is ahead of it.
fn ring_watchdog(map: &MapData, stop: &AtomicBool, failure: &Mutex<Option<String>>) {
    let view = RingBuf::new(map).unwrap();
    let mut last_cons = view.consumer_position();
    let mut since = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(10));
        let cons = view.consumer_position();
        let prod = view.producer_position();
        if cons != last_cons || prod == cons {
            last_cons = cons;
            since = Instant::now();
        } else if since.elapsed() >= STALL {
            *failure.lock().unwrap() = Some(format!(
                "stall: consumer position {cons} unchanged for {:?} with {} bytes pending",
                since.elapsed(),
                prod - cons
            ));
            stop.store(true, Ordering::Relaxed);
            return;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RingKind {
    Blocking,
    Poller,
    Tokio,
}

fn soak_ring(kind: RingKind) {
    let fds = FdCheck::start();
    {
        let obj = load("readers_soak", &[], &[("soak_records", RING_SIZE)]);
        let cpus = online_cpus().unwrap();
        let mut tracker = Tracker::new(&cpus, true);
        let ring = RingBuf::new(obj.map("soak_records")).unwrap();
        let stop = AtomicBool::new(false);
        let runs = AtomicU64::new(0);
        let failure = Mutex::new(None);
        let duration = soak_duration();
        let mut waits = 0u64;
        let started = Instant::now();
        let ring = std::thread::scope(|s| {
            let handles = start_producers(s, &obj, "soak_ring", &cpus, &stop, &runs);
            s.spawn(|| ring_watchdog(obj.map("soak_records"), &stop, &failure));
            let done = || stop.load(Ordering::Relaxed) || started.elapsed() >= duration;
            let tick = Some(TICK);
            let ring = match kind {
                RingKind::Blocking => {
                    let mut ring = ring;
                    while !done() {
                        ring.poll(tick, |r| tracker.record(r)).unwrap();
                        waits += 1;
                    }
                    ring
                }
                RingKind::Poller => {
                    let mut poller = RingBufPoller::new().unwrap();
                    let index = poller.add(ring).unwrap();
                    while !done() {
                        poller
                            .poll(tick, |i, r| {
                                assert_eq!(i, index);
                                tracker.record(r)
                            })
                            .unwrap();
                        waits += 1;
                    }
                    poller.into_rings().pop().unwrap()
                }
                RingKind::Tokio => tokio_runtime().block_on(async {
                    let mut stream = AsyncRingBuf::new(ring).unwrap();
                    while !done() {
                        // The timeout only lets us look at the clock; the watchdog judges stalls.
                        let _ =
                            tokio::time::timeout(TICK, stream.consume(|r| tracker.record(r))).await;
                        waits += 1;
                    }
                    stream.into_inner()
                }),
            };
            stop.store(true, Ordering::Relaxed);
            for h in handles {
                h.join().unwrap();
            }
            ring
        });
        if let Some(f) = failure.lock().unwrap().take() {
            panic!("{kind:?}: {f}");
        }
        let mut ring = ring;
        ring.consume(|r| tracker.record(r)).unwrap();
        assert_eq!(ring.pending_bytes(), 0);
        let (mut attempted, mut dropped) = (0, 0);
        for &cpu in &cpus {
            let c = counters(&obj, cpu);
            let i = cpu as usize;
            assert_eq!(
                c.ring_seq,
                tracker.received[i] + c.ring_dropped,
                "{kind:?} CPU {cpu}: attempted = received + dropped"
            );
            assert_eq!(
                tracker.gaps[i] + (c.ring_seq - tracker.next_seq[i]),
                c.ring_dropped,
                "{kind:?} CPU {cpu}: sequence numbers missed = dropped"
            );
            assert!(tracker.received[i] > 0, "{kind:?}: nothing from CPU {cpu}");
            attempted += c.ring_seq;
            dropped += c.ring_dropped;
        }
        println!(
            "ring {kind:?}: {:.1} s, {} CPUs, {} runs, attempted {attempted}, received {}, \
             dropped {dropped}, {waits} waits",
            started.elapsed().as_secs_f64(),
            cpus.len(),
            runs.load(Ordering::Relaxed),
            tracker.total()
        );
        assert_eq!(attempted, tracker.total() + dropped);
    }
    fds.assert_no_leak();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PerfKind {
    Blocking,
    Tokio,
}

fn soak_perf(kind: PerfKind) {
    let fds = FdCheck::start();
    {
        let obj = load("readers_soak", &[], &[]);
        let cpus = online_cpus().unwrap();
        let mut tracker = Tracker::new(&cpus, false);
        let options = PerfBufferOptions {
            pages_per_cpu: PERF_PAGES,
            ..Default::default()
        };
        let buffer = PerfBuffer::open(obj.map("soak_perf_records"), &options).unwrap();
        let stop = AtomicBool::new(false);
        let runs = AtomicU64::new(0);
        let duration = soak_duration();
        let mut waits = 0u64;
        let started = Instant::now();
        // The perf rings cannot be watched from another mapping, so the watchdog is here: a
        // wait of STALL or more that brings nothing while bytes are pending, followed by a
        // grace wait that brings nothing either, is a stall.
        let stalled =
            |waited: Duration, n: usize, pending: u64| n == 0 && waited >= STALL && pending > 0;
        let buffer = std::thread::scope(|s| {
            let handles = start_producers(s, &obj, "soak_perf", &cpus, &stop, &runs);
            let done = || started.elapsed() >= duration;
            let buffer = match kind {
                PerfKind::Blocking => {
                    let mut buffer = buffer;
                    while !done() {
                        let t = Instant::now();
                        let n = buffer.poll(Some(TICK), |_, r| tracker.record(r)).unwrap();
                        waits += 1;
                        if stalled(t.elapsed(), n, buffer.pending_bytes()) {
                            let grace = buffer.poll(Some(GRACE), |_, r| tracker.record(r));
                            let pending = buffer.pending_bytes();
                            stop.store(true, Ordering::Relaxed);
                            assert!(
                                grace.unwrap() > 0,
                                "{kind:?} stall: no wake-up for {:?} with {pending} bytes pending",
                                t.elapsed()
                            );
                        }
                    }
                    buffer
                }
                PerfKind::Tokio => tokio_runtime().block_on(async {
                    let mut stream = AsyncPerfBuffer::new(buffer).unwrap();
                    while !done() {
                        let t = Instant::now();
                        let n =
                            tokio::time::timeout(TICK, stream.consume(|_, r| tracker.record(r)))
                                .await
                                .map_or(0, |r| r.unwrap());
                        waits += 1;
                        if stalled(t.elapsed(), n, stream.get_ref().pending_bytes()) {
                            let grace = tokio::time::timeout(
                                GRACE,
                                stream.consume(|_, r| tracker.record(r)),
                            )
                            .await;
                            let pending = stream.get_ref().pending_bytes();
                            stop.store(true, Ordering::Relaxed);
                            assert!(
                                grace.is_ok(),
                                "{kind:?} stall: no wake-up for {:?} with {pending} bytes pending",
                                t.elapsed()
                            );
                        }
                    }
                    stream.into_inner()
                }),
            };
            stop.store(true, Ordering::Relaxed);
            for h in handles {
                h.join().unwrap();
            }
            buffer
        });
        let mut buffer = buffer;
        buffer.consume(|_, r| tracker.record(r)).unwrap();
        // Losses are reported in front of the next sample that fits: write one more per CPU.
        run_once_on_every_cpu(&obj, "soak_perf", &cpus);
        buffer.consume(|_, r| tracker.record(r)).unwrap();
        assert_eq!(buffer.pending_bytes(), 0);
        let (mut attempted, mut lost) = (0, 0);
        for &cpu in &cpus {
            let c = counters(&obj, cpu);
            let i = cpu as usize;
            assert_eq!(
                c.perf_seq,
                tracker.received[i] + buffer.lost_on(cpu),
                "{kind:?} CPU {cpu}: attempted = received + lost (reader's count)"
            );
            assert_eq!(
                buffer.lost_on(cpu),
                c.perf_dropped,
                "{kind:?} CPU {cpu}: PERF_RECORD_LOST counts = failed outputs"
            );
            assert_eq!(
                tracker.gaps[i] + (c.perf_seq - tracker.next_seq[i]),
                c.perf_dropped,
                "{kind:?} CPU {cpu}: sequence numbers missed = lost"
            );
            assert!(tracker.received[i] > 0, "{kind:?}: nothing from CPU {cpu}");
            attempted += c.perf_seq;
            lost += buffer.lost_on(cpu);
        }
        println!(
            "perf {kind:?}: {:.1} s, {} CPUs, {} runs, attempted {attempted}, received {}, \
             lost {lost}, {waits} waits",
            started.elapsed().as_secs_f64(),
            cpus.len(),
            runs.load(Ordering::Relaxed),
            tracker.total()
        );
        assert_eq!(attempted, tracker.total() + lost);
    }
    fds.assert_no_leak();
}

#[test]
fn soak_ring_buffer_blocking_poll() {
    soak_ring(RingKind::Blocking);
}

#[test]
fn soak_ring_buffer_poller() {
    soak_ring(RingKind::Poller);
}

#[test]
fn soak_ring_buffer_tokio() {
    soak_ring(RingKind::Tokio);
}

#[test]
fn soak_perf_buffer_blocking_poll() {
    soak_perf(PerfKind::Blocking);
}

#[test]
fn soak_perf_buffer_tokio() {
    soak_perf(PerfKind::Tokio);
}
