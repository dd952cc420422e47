//! Aya side of bench/readers: the drain benchmark with aya's RingBuf / PerfEventArray.
//!   aya-readers-bench ringbuf-drain|perfbuf-drain OBJ RECORD_SIZE RECORDS ROUNDS
//! Same method as testdata/oracle/libbpf_bench.c: the event_records fixture (record_size,
//! records_per_run = 1000) fills the buffer by BPF_PROG_TEST_RUN with repeat RECORDS / 1000
//! on CPU 0, then one drain (aya's `RingBuf::next` loop / `read_events` until empty on every
//! CPU) is timed; best of ROUNDS. Prints {"records","ns","records_per_sec","in_order","lost"}.
//!   aya-readers-bench ringbuf-stream OBJ RECORD_SIZE RING_BYTES MILLIS WAKEUP_EVERY
//! Ring stream (WAKEUP_EVERY: 0 = default wake-ups, N = forced every Nth record), as bench/readers/libbpf_stream.c's `ring` mode: a
//! producer thread on CPU 0 runs fill_ringbuf (repeat 10) without pause while this thread,
//! on CPU 1, reads for MILLIS ms with aya's documented tokio pattern (`AsyncFd<RingBuf>`:
//! `readable_mut`, `next()` until `None`, `clear_ready`). "lost" = sequence gaps.

use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

use aya::maps::{PerfEventArray, RingBuf};
use aya::programs::Xdp;
use bytes::BytesMut;

const RECORDS_PER_RUN: u32 = 1000;

/// The `test` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    pad: u32,
}

fn test_run(prog_fd: i32, repeat: u32) -> std::io::Result<()> {
    let packet = [0u8; 64];
    let mut attr = TestRunAttr {
        prog_fd: prog_fd as u32,
        data_size_in: packet.len() as u32,
        data_in: packet.as_ptr() as u64,
        repeat,
        ..Default::default()
    };
    // SAFETY: BPF_PROG_TEST_RUN (10) reads `attr` and the packet it points to.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            10,
            &mut attr as *mut TestRunAttr,
            std::mem::size_of::<TestRunAttr>(),
        )
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn pin_cpu0() {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn round_pow2(v: u64) -> u64 {
    let mut p = 4096;
    while p < v {
        p <<= 1;
    }
    p
}

#[derive(Default, Clone, Copy)]
struct State {
    expected: u64,
    records: u64,
    lost: u64,
    in_order: bool,
}

impl State {
    #[inline]
    fn record(&mut self, data: &[u8]) {
        let seq = u64::from_ne_bytes(data[..8].try_into().unwrap());
        if seq != self.expected {
            self.in_order = false;
        }
        self.expected = seq + 1;
        self.records += 1;
    }
}

fn drain_once(
    perf: bool,
    obj: &[u8],
    record_size: u32,
    records: u32,
) -> Result<(f64, State), Box<dyn std::error::Error>> {
    let slot = u64::from((record_size + 8 + 7) & !7);
    let perf_slot = u64::from((record_size + 4 + 8 + 7) & !7);
    let mut loader = aya::EbpfLoader::new();
    loader
        .set_global("record_size", &record_size, true)
        .set_global("records_per_run", &RECORDS_PER_RUN, true)
        .set_max_entries(
            "records",
            round_pow2(u64::from(records) * slot + 4096) as u32,
        );
    let mut ebpf = loader.load(obj)?;
    let prog_name = if perf { "fill_perfbuf" } else { "fill_ringbuf" };
    let prog: &mut Xdp = ebpf.program_mut(prog_name).ok_or("program")?.try_into()?;
    prog.load()?;
    let prog_fd = prog.fd()?.as_fd().as_raw_fd();
    let mut st = State {
        in_order: true,
        ..Default::default()
    };
    let ns;
    if perf {
        let pages = (round_pow2(u64::from(records) * perf_slot + 4096) / 4096) as usize;
        let mut array = PerfEventArray::try_from(ebpf.take_map("perf_records").ok_or("map")?)?;
        let cpus = aya::util::online_cpus().map_err(|(_, e)| e)?;
        let mut buffers = Vec::new();
        for cpu in cpus {
            buffers.push(array.open(cpu, Some(pages))?);
        }
        test_run(prog_fd, records / RECORDS_PER_RUN)?;
        let mut out: Vec<BytesMut> = (0..1024).map(|_| BytesMut::with_capacity(64)).collect();
        let t0 = Instant::now();
        for buf in &mut buffers {
            loop {
                let events = buf.read_events(&mut out)?;
                for b in &out[..events.read] {
                    st.record(b);
                }
                st.lost += events.lost as u64;
                if events.read == 0 && events.lost == 0 {
                    break;
                }
            }
        }
        ns = t0.elapsed().as_nanos() as f64;
    } else {
        let mut ring = RingBuf::try_from(ebpf.take_map("records").ok_or("map")?)?;
        test_run(prog_fd, records / RECORDS_PER_RUN)?;
        let t0 = Instant::now();
        while let Some(item) = ring.next() {
            st.record(&item);
        }
        ns = t0.elapsed().as_nanos() as f64;
    }
    Ok((ns, st))
}

fn pin_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn ring_stream(
    obj: &[u8],
    record_size: u32,
    ring_bytes: u32,
    millis: u64,
    wakeup_every: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::unix::AsyncFd;
    let mut loader = aya::EbpfLoader::new();
    loader
        .set_global("record_size", &record_size, true)
        .set_global("records_per_run", &RECORDS_PER_RUN, true)
        .set_global("ringbuf_wakeup_every", &wakeup_every, true)
        .set_max_entries("records", ring_bytes);
    let mut ebpf = loader.load(obj)?;
    let prog: &mut Xdp = ebpf
        .program_mut("fill_ringbuf")
        .ok_or("program")?
        .try_into()?;
    prog.load()?;
    let prog_fd = prog.fd()?.as_fd().as_raw_fd();
    let ring = RingBuf::try_from(ebpf.take_map("records").ok_or("map")?)?;
    pin_cpu(1);
    let stop = AtomicBool::new(false);
    let (mut received, mut last, mut gaps, mut in_order) = (0u64, 0u64, 0u64, true);
    let window = std::time::Duration::from_millis(millis);
    let mut elapsed = std::time::Duration::ZERO;
    std::thread::scope(|s| -> Result<(), Box<dyn std::error::Error>> {
        let producer = s.spawn(|| {
            pin_cpu(0);
            while !stop.load(Ordering::Relaxed) {
                test_run(prog_fd, 10).expect("test run");
            }
        });
        let t0 = Instant::now();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let result: std::io::Result<()> = rt.block_on(async {
            #[allow(deprecated)] // aya documents AsyncFd::new
            let mut fd = AsyncFd::new(ring)?;
            while t0.elapsed() < window {
                let left = window.saturating_sub(t0.elapsed());
                let Ok(guard) = tokio::time::timeout(left, fd.readable_mut()).await else {
                    break;
                };
                let mut guard = guard?;
                let ring = guard.get_inner_mut();
                while let Some(item) = ring.next() {
                    let seq = u64::from_ne_bytes(item[..8].try_into().unwrap());
                    if received > 0 && seq <= last {
                        in_order = false;
                    } else if received > 0 {
                        gaps += seq - last - 1;
                    } else {
                        gaps += seq;
                    }
                    last = seq;
                    received += 1;
                }
                guard.clear_ready();
            }
            Ok(())
        });
        elapsed = t0.elapsed();
        stop.store(true, Ordering::Relaxed);
        producer.join().map_err(|_| "producer panicked")?;
        Ok(result?)
    })?;
    let ns = elapsed.as_nanos() as f64;
    println!(
        "{{\"records\":{received},\"ns\":{ns:.0},\"records_per_sec\":{:.0},\"in_order\":{in_order},\"lost\":{gaps}}}",
        received as f64 * 1e9 / ns
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 7 && args[1] == "ringbuf-stream" {
        let obj = std::fs::read(&args[2]).expect("read object");
        let parse = |i: usize| args[i].parse::<u64>().expect("number");
        if let Err(e) = ring_stream(
            &obj,
            parse(3) as u32,
            parse(4) as u32,
            parse(5),
            parse(6) as u32,
        ) {
            println!("{{\"error\":\"{}\"}}", e.to_string().replace('"', "'"));
        }
        return;
    }
    if args.len() != 6 || !(args[1] == "ringbuf-drain" || args[1] == "perfbuf-drain") {
        eprintln!(
            "usage: aya-readers-bench ringbuf-drain|perfbuf-drain OBJ RECORD_SIZE RECORDS ROUNDS"
        );
        std::process::exit(2);
    }
    pin_cpu0();
    let perf = args[1] == "perfbuf-drain";
    let obj = std::fs::read(&args[2]).expect("read object");
    let (size, records, rounds): (u32, u32, u32) = (
        args[3].parse().expect("RECORD_SIZE"),
        args[4].parse().expect("RECORDS"),
        args[5].parse().expect("ROUNDS"),
    );
    let mut best: Option<(f64, State)> = None;
    for _ in 0..rounds {
        match drain_once(perf, &obj, size, records) {
            Ok((ns, st)) => {
                if best.is_none_or(|(b, _)| ns < b) {
                    best = Some((ns, st));
                }
            }
            Err(e) => {
                println!("{{\"error\":\"{}\"}}", e.to_string().replace('"', "'"));
                return;
            }
        }
    }
    let (ns, st) = best.unwrap_or_default();
    println!(
        "{{\"records\":{},\"ns\":{:.0},\"records_per_sec\":{:.0},\"in_order\":{},\"lost\":{}}}",
        st.records,
        ns,
        if ns > 0.0 {
            st.records as f64 * 1e9 / ns
        } else {
            0.0
        },
        st.in_order,
        st.lost
    );
}
