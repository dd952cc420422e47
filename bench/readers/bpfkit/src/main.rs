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

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let aya = std::env::var("AYA_BENCH").ok();
    pin_cpu0();
    let cases = [
        ("ringbuf 16 B", EventBuffer::Ring, 16u32, 1_000_000u32),
        ("ringbuf 256 B", EventBuffer::Ring, 256, 200_000),
        ("perfbuf 16 B", EventBuffer::Perf, 16, 1_000_000),
    ];
    println!("drain method, best of {rounds} rounds, alternating bpfkit / libbpf / aya; records per drain in brackets");
    println!(
        "{:<24} {:>14} {:>14} {:>14} {:>14} {:>12}",
        "case", "bpfkit", "libbpf", "aya", "bpfkit/libbpf", "bpfkit/best"
    );
    for (label, buffer, size, records) in cases {
        let (mut ours, mut libbpf, mut theirs) = (None, None, None);
        for _ in 0..rounds {
            match bpfkit_drain(buffer, size, records) {
                Ok(r) => keep_best(&mut ours, r),
                Err(e) => eprintln!("{label}: bpfkit: {e}"),
            }
            match libbpf_drain(buffer, size, records, 1) {
                Ok(r) => keep_best(&mut libbpf, r),
                Err(e) => eprintln!("{label}: libbpf: {e}"),
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
    if let Ok(exe) = std::env::var("LIBBPF_STREAM") {
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
