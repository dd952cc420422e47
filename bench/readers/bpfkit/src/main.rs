//! bench/readers driver: ring buffer and perf buffer drain rates of bpfkit, libbpf and Aya,
//! side by side in one run, rounds alternating between the three.
//!
//!   bpfkit-readers-bench [ROUNDS]        (AYA_BENCH=path/to/aya-readers-bench adds Aya)
//!
//! Method (the same in all three): the `event_records` fixture (`record_size`,
//! `records_per_run` = 1000) is loaded, the buffer sized to hold every record (ring:
//! next power of two of records × slot + 4096; perf: as many pages per CPU), filled by
//! BPF_PROG_TEST_RUN with repeat = records / 1000 on CPU 0, then ONE consumer call that
//! empties it is timed (bpfkit `RingBuf::consume` / `PerfBuffer::consume`, libbpf
//! `ring_buffer__consume` / `perf_buffer__consume`, Aya `RingBuf::next` until `None` /
//! `read_events` until empty). Each callback reads the u64 sequence number and checks order.
//! Best of ROUNDS per side.

use std::process::Command;
use std::time::Instant;

use bpfkit::loader::Loader;
use bpfkit::readers::{PerfBuffer, PerfBufferOptions, RingBuf, Wakeup};
use bpfkit::sys::{self, TestRunAttr};
use bpfkit_test_support::{libbpf_drain, DrainResult, EventBuffer};

const RECORDS_PER_RUN: u32 = 1000;

#[derive(Default, Clone, Copy)]
struct State {
    expected: u64,
    records: u64,
    in_order: bool,
}

impl State {
    #[inline(always)]
    fn record(&mut self, data: &[u8]) {
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&data[..8]);
        let seq = u64::from_ne_bytes(seq);
        if seq != self.expected {
            self.in_order = false;
        }
        self.expected = seq + 1;
        self.records += 1;
    }
}

fn round_pow2(v: u64) -> u64 {
    let mut p = 4096;
    while p < v {
        p <<= 1;
    }
    p
}

fn pin_cpu0() {
    pin_cpu(0);
}

fn pin_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn bpfkit_drain(
    buffer: EventBuffer,
    record_size: u32,
    records: u32,
) -> Result<DrainResult, Box<dyn std::error::Error>> {
    let perf = buffer == EventBuffer::Perf;
    let slot = u64::from((record_size + 8 + 7) & !7);
    let perf_slot = u64::from((record_size + 4 + 8 + 7) & !7);
    let path = bpfkit_test_support::fixture("event_records");
    let mut loader = Loader::new();
    loader
        .set_global("record_size", &record_size.to_ne_bytes())
        .set_global("records_per_run", &RECORDS_PER_RUN.to_ne_bytes())
        .max_entries(
            "records",
            round_pow2(u64::from(records) * slot + 4096) as u32,
        );
    let obj = loader.load_file(&path)?;
    let prog = obj
        .program(if perf { "fill_perfbuf" } else { "fill_ringbuf" })
        .ok_or("program")?;
    let packet = [0u8; 64];
    let fill = || {
        sys::prog_test_run(
            prog.fd(),
            TestRunAttr {
                data_in: &packet,
                repeat: records / RECORDS_PER_RUN,
                ..Default::default()
            },
        )
    };
    let mut st = State {
        in_order: true,
        ..Default::default()
    };
    let (ns, lost) = if perf {
        let pages = (round_pow2(u64::from(records) * perf_slot + 4096) / 4096) as usize;
        let mut buffer = PerfBuffer::open(
            obj.map("perf_records").ok_or("map")?,
            &PerfBufferOptions {
                pages_per_cpu: pages,
                wakeup: Wakeup::Events(1),
                cpus: None,
            },
        )?;
        fill()?;
        let t0 = Instant::now();
        buffer.consume(|_, sample| st.record(sample))?;
        (t0.elapsed().as_nanos() as f64, buffer.lost())
    } else {
        let mut ring = RingBuf::new(obj.map("records").ok_or("map")?)?;
        fill()?;
        let t0 = Instant::now();
        ring.consume(|record| st.record(record))?;
        (t0.elapsed().as_nanos() as f64, 0)
    };
    Ok(DrainResult {
        records: st.records,
        ns,
        records_per_sec: st.records as f64 * 1e9 / ns,
        in_order: st.in_order,
        lost,
    })
}

fn aya_drain(
    aya: &str,
    buffer: EventBuffer,
    record_size: u32,
    records: u32,
) -> Result<DrainResult, String> {
    let obj = bpfkit_test_support::fixture("event_records");
    let command = if buffer == EventBuffer::Perf {
        "perfbuf-drain"
    } else {
        "ringbuf-drain"
    };
    let out = Command::new(aya)
        .arg(command)
        .arg(&obj)
        .args([record_size.to_string(), records.to_string(), "1".into()])
        .output()
        .map_err(|e| format!("cannot run {aya}: {e}"))?;
    parse_result(&out.stdout)
}

fn parse_result(stdout: &[u8]) -> Result<DrainResult, String> {
    let v: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| format!("printed {:?}: {e}", String::from_utf8_lossy(stdout)))?;
    if let Some(e) = v.get("error") {
        return Err(e.to_string());
    }
    let num = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
    Ok(DrainResult {
        records: num("records") as u64,
        ns: num("ns"),
        records_per_sec: num("records_per_sec"),
        in_order: v.get("in_order").and_then(|x| x.as_bool()).unwrap_or(false),
        lost: num("lost") as u64,
    })
}

/// Stream rate with sampled wake-ups: a producer thread on CPU 0 runs fill_perfbuf (1000
/// samples per run, repeat 10) until `records` are sent while this thread, on CPU 1, waits in
/// `PerfBuffer::poll` on rings woken every `wakeup` samples; timed from the producer's start
/// until every sample is received (or reported lost). Same as bench/readers/libbpf_stream.c.
fn bpfkit_stream(
    records: u32,
    wakeup: u32,
    pages: usize,
) -> Result<DrainResult, Box<dyn std::error::Error>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let path = bpfkit_test_support::fixture("event_records");
    let mut loader = Loader::new();
    loader.set_global("records_per_run", &RECORDS_PER_RUN.to_ne_bytes());
    let obj = loader.load_file(&path)?;
    let prog = obj.program("fill_perfbuf").ok_or("program")?;
    let mut buffer = PerfBuffer::open(
        obj.map("perf_records").ok_or("map")?,
        &PerfBufferOptions {
            pages_per_cpu: pages,
            wakeup: Wakeup::Events(wakeup),
            cpus: None,
        },
    )?;
    pin_cpu(1);
    let done = AtomicBool::new(false);
    let mut st = State {
        in_order: true,
        ..Default::default()
    };
    let t0 = Instant::now();
    std::thread::scope(|s| -> Result<(), Box<dyn std::error::Error>> {
        let producer = s.spawn(|| -> Result<(), String> {
            pin_cpu(0);
            let packet = [0u8; 64];
            let mut sent = 0;
            while sent < records {
                sys::prog_test_run(
                    prog.fd(),
                    TestRunAttr {
                        data_in: &packet,
                        repeat: 10,
                        ..Default::default()
                    },
                )
                .map_err(|e| e.to_string())?;
                sent += 10 * RECORDS_PER_RUN;
            }
            done.store(true, Ordering::Release);
            Ok(())
        });
        while st.records + buffer.lost() < u64::from(records) {
            let n = buffer.poll(Some(std::time::Duration::from_millis(10)), |_, s| {
                st.record(s)
            })?;
            if done.load(Ordering::Acquire) && n == 0 && buffer.consume(|_, s| st.record(s))? == 0 {
                break;
            }
        }
        producer.join().map_err(|_| "producer panicked")??;
        Ok(())
    })?;
    let ns = t0.elapsed().as_nanos() as f64;
    pin_cpu0();
    Ok(DrainResult {
        records: st.records,
        ns,
        records_per_sec: st.records as f64 * 1e9 / ns,
        in_order: st.in_order,
        lost: buffer.lost(),
    })
}

/// Sequence numbers of one producer, with drops: they only increase.
#[derive(Default, Clone, Copy)]
struct StreamState {
    received: u64,
    last: u64,
    gaps: u64,
    in_order: bool,
}

impl StreamState {
    #[inline(always)]
    fn record(&mut self, data: &[u8]) {
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&data[..8]);
        let seq = u64::from_ne_bytes(seq);
        if self.received > 0 && seq <= self.last {
            self.in_order = false;
        } else if self.received > 0 {
            self.gaps += seq - self.last - 1;
        } else {
            self.gaps += seq;
        }
        self.last = seq;
        self.received += 1;
    }
}

/// Which bpfkit reader the ring stream benchmark uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RingReader {
    Tokio,
    Poll,
}

/// Ring buffer stream with default wake-ups: a producer thread on CPU 0 runs fill_ringbuf
/// (1000 records per run, repeat 10) without pause while this thread, on CPU 1, reads for
/// `millis` ms (AsyncRingBuf::consume on a current-thread runtime, or RingBuf::poll). Same
/// as `libbpf_stream ring` and the Aya side's `ringbuf-stream`.
fn bpfkit_ring_stream(
    reader: RingReader,
    record_size: u32,
    ring_bytes: u32,
    millis: u64,
    wakeup_every: u32,
) -> Result<DrainResult, Box<dyn std::error::Error>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let path = bpfkit_test_support::fixture("event_records");
    let mut loader = Loader::new();
    loader
        .set_global("records_per_run", &RECORDS_PER_RUN.to_ne_bytes())
        .set_global("ringbuf_wakeup_every", &wakeup_every.to_ne_bytes())
        .set_global("record_size", &record_size.to_ne_bytes())
        .max_entries("records", ring_bytes);
    let obj = loader.load_file(&path)?;
    let prog = obj.program("fill_ringbuf").ok_or("program")?;
    let ring = RingBuf::new(obj.map("records").ok_or("map")?)?;
    pin_cpu(1);
    let stop = AtomicBool::new(false);
    let mut st = StreamState {
        in_order: true,
        ..Default::default()
    };
    let window = std::time::Duration::from_millis(millis);
    let mut elapsed = std::time::Duration::ZERO;
    std::thread::scope(|s| -> Result<(), Box<dyn std::error::Error>> {
        let producer = s.spawn(|| -> Result<(), String> {
            pin_cpu(0);
            let packet = [0u8; 64];
            while !stop.load(Ordering::Relaxed) {
                sys::prog_test_run(
                    prog.fd(),
                    TestRunAttr {
                        data_in: &packet,
                        repeat: 10,
                        ..Default::default()
                    },
                )
                .map_err(|e| e.to_string())?;
            }
            Ok(())
        });
        let t0 = Instant::now();
        let result: Result<(), Box<dyn std::error::Error>> = match reader {
            RingReader::Tokio => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(async {
                    let mut stream = bpfkit::readers::AsyncRingBuf::new(ring)?;
                    while t0.elapsed() < window {
                        let left = window.saturating_sub(t0.elapsed());
                        let _ = tokio::time::timeout(left, stream.consume(|r| st.record(r))).await;
                    }
                    Ok(())
                }),
            RingReader::Poll => {
                let mut ring = ring;
                while t0.elapsed() < window {
                    ring.poll(Some(std::time::Duration::from_millis(100)), |r| {
                        st.record(r)
                    })?;
                }
                Ok(())
            }
        };
        elapsed = t0.elapsed();
        stop.store(true, Ordering::Relaxed);
        producer.join().map_err(|_| "producer panicked")??;
        result
    })?;
    pin_cpu0();
    let ns = elapsed.as_nanos() as f64;
    Ok(DrainResult {
        records: st.received,
        ns,
        records_per_sec: st.received as f64 * 1e9 / ns,
        in_order: st.in_order,
        lost: st.gaps,
    })
}

fn libbpf_ring_stream(
    exe: &str,
    record_size: u32,
    ring_bytes: u32,
    millis: u64,
    wakeup_every: u32,
) -> Result<DrainResult, String> {
    let obj = bpfkit_test_support::fixture("event_records");
    let out = Command::new(exe)
        .arg("ring")
        .arg(&obj)
        .args([
            record_size.to_string(),
            ring_bytes.to_string(),
            millis.to_string(),
            wakeup_every.to_string(),
        ])
        .output()
        .map_err(|e| format!("cannot run {exe}: {e}"))?;
    parse_result(&out.stdout)
}

fn aya_ring_stream(
    aya: &str,
    record_size: u32,
    ring_bytes: u32,
    millis: u64,
    wakeup_every: u32,
) -> Result<DrainResult, String> {
    let obj = bpfkit_test_support::fixture("event_records");
    let out = Command::new(aya)
        .arg("ringbuf-stream")
        .arg(&obj)
        .args([
            record_size.to_string(),
            ring_bytes.to_string(),
            millis.to_string(),
            wakeup_every.to_string(),
        ])
        .output()
        .map_err(|e| format!("cannot run {aya}: {e}"))?;
    parse_result(&out.stdout)
}

fn libbpf_stream(
    exe: &str,
    records: u32,
    wakeup: u32,
    pages: usize,
) -> Result<DrainResult, String> {
    let obj = bpfkit_test_support::fixture("event_records");
    let out = Command::new(exe)
        .arg(&obj)
        .args([records.to_string(), wakeup.to_string(), pages.to_string()])
        .output()
        .map_err(|e| format!("cannot run {exe}: {e}"))?;
    parse_result(&out.stdout)
}

fn keep_best(best: &mut Option<DrainResult>, r: DrainResult) {
    if best.is_none_or(|b| r.ns < b.ns) {
        *best = Some(r);
    }
}

fn show(r: &Option<DrainResult>) -> String {
    match r {
        Some(r) => format!(
            "{:>7.1} M/s{}",
            r.records_per_sec / 1e6,
            if r.in_order && r.lost == 0 {
                ""
            } else {
                " (!order/lost)"
            }
        ),
        None => format!("{:>11}", "n/a"),
    }
}

// libbpf's ring buffer consumer, linked in for the same-ring A/B method.
#[link(name = "bpf")]
extern "C" {
    fn ring_buffer__new(
        map_fd: libc::c_int,
        sample_cb: extern "C" fn(*mut libc::c_void, *mut libc::c_void, usize) -> libc::c_int,
        ctx: *mut libc::c_void,
        opts: *const libc::c_void,
    ) -> *mut libc::c_void;
    fn ring_buffer__consume(rb: *mut libc::c_void) -> libc::c_int;
    fn ring_buffer__free(rb: *mut libc::c_void);
}

extern "C" fn libbpf_record(
    ctx: *mut libc::c_void,
    data: *mut libc::c_void,
    size: usize,
) -> libc::c_int {
    // SAFETY: `ctx` is the `State` passed to ring_buffer__new, `data` a record of `size` bytes.
    let (st, record) = unsafe {
        (
            &mut *(ctx as *mut State),
            std::slice::from_raw_parts(data as *const u8, size),
        )
    };
    st.record(record);
    0
}

/// Same-ring A/B: fill one ring once, then drain the same records again and again, rounds
/// alternating between bpfkit's `RingBuf::consume` and libbpf's `ring_buffer__consume`
/// (linked into this process), rewinding the shared consumer position before each drain.
/// Removes the allocation and fill of every round from the comparison. Returns (bpfkit,
/// libbpf) records per second: best and median.
fn same_ring_ab(
    record_size: u32,
    records: u32,
    rounds: u32,
) -> Result<[(f64, f64); 2], Box<dyn std::error::Error>> {
    use std::os::fd::{AsFd, AsRawFd};
    let slot = u64::from((record_size + 8 + 7) & !7);
    let size = round_pow2(u64::from(records) * slot + 4096) as u32;
    let path = bpfkit_test_support::fixture("event_records");
    let mut loader = Loader::new();
    loader
        .set_global("record_size", &record_size.to_ne_bytes())
        .set_global("records_per_run", &RECORDS_PER_RUN.to_ne_bytes())
        .max_entries("records", size);
    let obj = loader.load_file(&path)?;
    let map = obj.map("records").ok_or("map")?;
    let prog = obj.program("fill_ringbuf").ok_or("program")?;
    let packet = [0u8; 64];
    sys::prog_test_run(
        prog.fd(),
        TestRunAttr {
            data_in: &packet,
            repeat: records / RECORDS_PER_RUN,
            ..Default::default()
        },
    )?;
    // The consumer page, to rewind the consumer position before each drain.
    // SAFETY: mapping the ring's first page read-write, as both readers do.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            map.as_fd().as_raw_fd(),
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err("mmap consumer page".into());
    }
    // SAFETY: the first word of the mapped consumer page.
    let consumer = unsafe { &*(page as *const std::sync::atomic::AtomicU64) };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds * 2 {
        consumer.store(0, std::sync::atomic::Ordering::SeqCst);
        let mut st = State {
            in_order: true,
            ..Default::default()
        };
        let ns = if round % 2 == 0 {
            let mut ring = RingBuf::new(map)?;
            let t0 = Instant::now();
            ring.consume(|r| st.record(r))?;
            t0.elapsed().as_nanos() as f64
        } else {
            // SAFETY: a ring buffer map fd; the callback context outlives the ring buffer.
            let rb = unsafe {
                ring_buffer__new(
                    map.as_fd().as_raw_fd(),
                    libbpf_record,
                    &mut st as *mut State as *mut libc::c_void,
                    std::ptr::null(),
                )
            };
            if rb.is_null() {
                return Err("ring_buffer__new".into());
            }
            let t0 = Instant::now();
            // SAFETY: `rb` is live until freed below.
            unsafe { ring_buffer__consume(rb) };
            let ns = t0.elapsed().as_nanos() as f64;
            // SAFETY: freed once.
            unsafe { ring_buffer__free(rb) };
            ns
        };
        if st.records != u64::from(records) || !st.in_order {
            return Err(format!(
                "round {round}: {} records, in order {}",
                st.records, st.in_order
            )
            .into());
        }
        let rate = f64::from(records) * 1e9 / ns;
        if round % 2 == 0 {
            ours.push(rate);
        } else {
            theirs.push(rate);
        }
    }
    // SAFETY: unmapping what was mapped above.
    unsafe { libc::munmap(page, 4096) };
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() - 1], v[v.len() / 2])
    };
    Ok([stats(&mut ours), stats(&mut theirs)])
}

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let aya = std::env::var("AYA_BENCH").ok();
    pin_cpu0();
    // Ring sizes: the next power of two of records × slot + 4096 (8 B: 16 MiB, 16 B:
    // 32 MiB, 64 B: 128 MiB, 256 B, 1 KiB and 4 KiB: 256 MiB). Perf rings per CPU, with the
    // 12-byte sample header: 8 B 32 MiB, 16 B 32 MiB, 64 B 128 MiB, 256 B, 1 KiB, 4 KiB 64 MiB.
    let cases = [
        ("ringbuf 8 B", EventBuffer::Ring, 8u32, 1_000_000u32),
        ("ringbuf 16 B", EventBuffer::Ring, 16, 1_000_000),
        ("ringbuf 64 B", EventBuffer::Ring, 64, 1_000_000),
        ("ringbuf 256 B", EventBuffer::Ring, 256, 900_000),
        ("ringbuf 1 KiB", EventBuffer::Ring, 1024, 200_000),
        ("ringbuf 4 KiB", EventBuffer::Ring, 4096, 50_000),
        ("perfbuf 8 B", EventBuffer::Perf, 8, 1_000_000),
        ("perfbuf 16 B", EventBuffer::Perf, 16, 1_000_000),
        ("perfbuf 64 B", EventBuffer::Perf, 64, 1_000_000),
        ("perfbuf 256 B", EventBuffer::Perf, 256, 200_000),
        ("perfbuf 1 KiB", EventBuffer::Perf, 1024, 50_000),
        ("perfbuf 4 KiB", EventBuffer::Perf, 4096, 12_000),
    ];
    let only = std::env::var("BENCH_ONLY").ok();
    println!("drain method, best of {rounds} rounds, alternating bpfkit / libbpf / aya; records per drain in brackets");
    println!(
        "{:<24} {:>14} {:>14} {:>14} {:>14} {:>12}",
        "case", "bpfkit", "libbpf", "aya", "bpfkit/libbpf", "bpfkit/best"
    );
    for (label, buffer, size, records) in cases {
        if only.as_deref().is_some_and(|o| !label.contains(o))
            || std::env::var("SAME_RING").as_deref() == Ok("only")
        {
            continue;
        }
        let (mut ours, mut libbpf, mut theirs) = (None, None, None);
        for round in 0..rounds {
            // Alternate which side goes first, so neither always follows the other's freeing
            // of a large ring.
            for side in [round % 2, 1 - round % 2] {
                if side == 0 {
                    match bpfkit_drain(buffer, size, records) {
                        Ok(r) => keep_best(&mut ours, r),
                        Err(e) => eprintln!("{label}: bpfkit: {e}"),
                    }
                } else {
                    match libbpf_drain(buffer, size, records, 1) {
                        Ok(r) => keep_best(&mut libbpf, r),
                        Err(e) => eprintln!("{label}: libbpf: {e}"),
                    }
                }
            }
            if let Some(aya) = &aya {
                match aya_drain(aya, buffer, size, records) {
                    Ok(r) => keep_best(&mut theirs, r),
                    Err(e) => eprintln!("{label}: aya: {e}"),
                }
            }
        }
        let rate = |r: &Option<DrainResult>| r.map_or(0.0, |r| r.records_per_sec);
        let best_other = rate(&libbpf).max(rate(&theirs));
        println!(
            "{:<24} {:>14} {:>14} {:>14} {:>13.2}x {:>11.2}x",
            format!("{label} [{records}]"),
            show(&ours),
            show(&libbpf),
            show(&theirs),
            rate(&ours) / rate(&libbpf),
            rate(&ours) / best_other,
        );
    }
    if std::env::var("SAME_RING").is_ok_and(|v| v != "0") {
        println!();
        println!(
            "same ring, drained {rounds} times per side, alternating (consumer position rewound; \
             libbpf linked in): best / median records per second"
        );
        println!(
            "{:<24} {:>22} {:>22} {:>14} {:>14}",
            "case", "bpfkit", "libbpf", "best ratio", "median ratio"
        );
        for (label, buffer, size, records) in cases {
            if buffer != EventBuffer::Ring || only.as_deref().is_some_and(|o| !label.contains(o)) {
                continue;
            }
            match same_ring_ab(size, records, rounds) {
                Ok([(ob, om), (lb, lm)]) => println!(
                    "{:<24} {:>22} {:>22} {:>13.2}x {:>13.2}x",
                    format!("{label} [{records}]"),
                    format!("{:.1} / {:.1} M/s", ob / 1e6, om / 1e6),
                    format!("{:.1} / {:.1} M/s", lb / 1e6, lm / 1e6),
                    ob / lb,
                    om / lm
                ),
                Err(e) => eprintln!("{label}: same ring: {e}"),
            }
        }
    }
    let stream_only = std::env::var("STREAM_ONLY").ok();
    if let (Ok(exe), true) = (
        std::env::var("LIBBPF_STREAM"),
        !matches!(stream_only.as_deref(), Some("perf" | "none")),
    ) {
        let (ring_bytes, millis) = (16u32 << 20, 1000u64);
        println!();
        println!(
            "ring stream, default wake-ups (w64: forced every 64th record, none on the others), 16 MiB ring, producer on CPU 0 without pause, reader on \
             CPU 1 for {millis} ms; records received per second (dropped by the producer per second); best of {} rounds",
            rounds.min(3)
        );
        println!(
            "{:<16} {:>24} {:>24} {:>24} {:>24}",
            "case", "bpfkit tokio", "bpfkit poll", "libbpf poll", "aya tokio"
        );
        for (size, wakeup) in [(16u32, 0u32), (256, 0), (16, 64), (256, 64)] {
            let mut best: [Option<DrainResult>; 4] = [None; 4];
            for _ in 0..rounds.min(3) {
                let runs: [Result<DrainResult, String>; 4] = [
                    bpfkit_ring_stream(RingReader::Tokio, size, ring_bytes, millis, wakeup)
                        .map_err(|e| e.to_string()),
                    bpfkit_ring_stream(RingReader::Poll, size, ring_bytes, millis, wakeup)
                        .map_err(|e| e.to_string()),
                    libbpf_ring_stream(&exe, size, ring_bytes, millis, wakeup),
                    match &aya {
                        Some(aya) => aya_ring_stream(aya, size, ring_bytes, millis, wakeup),
                        None => Err("no AYA_BENCH".into()),
                    },
                ];
                for (i, r) in runs.into_iter().enumerate() {
                    match r {
                        Ok(r) => {
                            if best[i].is_none_or(|b| r.records_per_sec > b.records_per_sec) {
                                best[i] = Some(r);
                            }
                        }
                        Err(e) if e == "no AYA_BENCH" => {}
                        Err(e) => eprintln!("ring stream {size} B side {i}: {e}"),
                    }
                }
            }
            let cell = |r: &Option<DrainResult>| match r {
                Some(r) => format!(
                    "{:.2} M/s ({:.1} M/s drop){}",
                    r.records_per_sec / 1e6,
                    r.lost as f64 * 1e3 / r.ns,
                    if r.in_order { "" } else { " !order" }
                ),
                None => "n/a".into(),
            };
            println!(
                "{:<16} {:>24} {:>24} {:>24} {:>24}",
                if wakeup == 0 {
                    format!("ring {size} B")
                } else {
                    format!("ring {size} B w{wakeup}")
                },
                cell(&best[0]),
                cell(&best[1]),
                cell(&best[2]),
                cell(&best[3])
            );
        }
    }
    if let (Ok(exe), true) = (
        std::env::var("LIBBPF_STREAM"),
        !matches!(stream_only.as_deref(), Some("ring" | "none")),
    ) {
        let (records, wakeup, pages) = (1_000_000u32, 64u32, 1024usize);
        let (mut ours, mut libbpf) = (None, None);
        for _ in 0..rounds.min(3) {
            match bpfkit_stream(records, wakeup, pages) {
                Ok(r) => keep_best(&mut ours, r),
                Err(e) => eprintln!("stream: bpfkit: {e}"),
            }
            match libbpf_stream(&exe, records, wakeup, pages) {
                Ok(r) => keep_best(&mut libbpf, r),
                Err(e) => eprintln!("stream: libbpf: {e}"),
            }
        }
        let rate = |r: &Option<DrainResult>| r.map_or(0.0, |r| r.records_per_sec);
        println!(
            "{:<24} {:>14} {:>14} {:>14} {:>13.2}x",
            format!("perf stream 16 B w{wakeup} [{records}]"),
            format!("{:.3} M/s", rate(&ours) / 1e6),
            format!("{:.3} M/s", rate(&libbpf) / 1e6),
            "n/a",
            rate(&ours) / rate(&libbpf),
        );
        for (side, r) in [("bpfkit", ours), ("libbpf", libbpf)] {
            if let Some(r) = r {
                println!(
                    "  stream {side}: {} received, {} lost, in order: {}",
                    r.records, r.lost, r.in_order
                );
            }
        }
    }
}
