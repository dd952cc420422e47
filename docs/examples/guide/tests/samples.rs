//! Runs the guide's samples (`docs/examples/guide{,-ebpf}`) against the running kernel and
//! checks what the kernel returned: exec events, syscall counts, ring and perf records,
//! CO-RE reads, uretprobe return values, XDP and TC verdicts, log lines. One test runs the
//! chapters in order, so the process's own syscalls are the only ones its filters let in.

use std::ops::ControlFlow;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bpfkit_guide::{events, hello, kernel_types, logging, maps, net, probes};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

fn getppid_calls(n: usize) {
    for _ in 0..n {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
}

#[test]
fn guide_samples_run_against_the_kernel() {
    if !is_root() {
        println!("SKIP needs root to load BPF programs");
        return;
    }
    hello_sees_an_exec();
    maps_count_syscalls();
    ring_and_perf_buffers_carry_every_call();
    core_reads_the_parent();
    uretprobe_sees_getppid_return();
    kprobe_attaches_where_the_kernel_has_kprobes();
    xdp_and_tc_decide_on_test_packets();
    logs_reach_the_logger();
    record_types_reach_the_kernels_btf();
}

/// "Hello, tracepoint": an exec of `true` by this test arrives with the child's pid.
fn hello_sees_an_exec() {
    let stop = Arc::new(AtomicBool::new(false));
    let children = Arc::new(Mutex::new(Vec::new()));
    let spawner = {
        let (stop, children) = (stop.clone(), children.clone());
        std::thread::spawn(move || {
            // Execs until the watcher saw one (the first may run before the attach).
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let mut child = Command::new("true").spawn().expect("spawn true");
                children.lock().unwrap().push(child.id());
                child.wait().expect("wait true");
            }
        })
    };
    let mut found = None;
    let seen = hello::watch_execs(Duration::from_secs(10), |event| {
        if event.comm() == b"true" && children.lock().unwrap().contains(&event.pid) {
            found = Some(*event);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    stop.store(true, Ordering::Relaxed);
    spawner.join().expect("spawner");
    let seen = seen.expect("watch_execs");
    let event = found.unwrap_or_else(|| panic!("no exec of `true` among {seen} events"));
    // SAFETY: getuid has no preconditions.
    assert_eq!(event.uid, unsafe { libc::getuid() });
}

fn maps_count_syscalls() {
    let skel = bpfkit_guide::load_for(std::process::id()).expect("load");
    let program = skel.progs().count_syscalls().expect("count_syscalls");
    let link = bpfkit::programs::tracepoint::attach(program, "raw_syscalls", "sys_enter")
        .expect("attach raw_syscalls/sys_enter");
    getppid_calls(25);
    drop(link);
    let (counts, total) = maps::syscall_counts(&skel).expect("counts");
    let getppid = counts
        .iter()
        .find(|(nr, _)| *nr as i64 == libc::SYS_getppid)
        .map(|&(_, n)| n);
    assert_eq!(getppid, Some(25), "getppid count in {counts:?}");
    let summed: u64 = counts.iter().map(|&(_, n)| n).sum();
    // Hash updates race between CPUs (the chapter says so); the per-CPU total does not.
    assert!(
        summed <= total && total >= 25,
        "summed {summed}, total {total}"
    );
    assert_ne!(maps::last_syscall(&skel).expect("LAST_SYSCALL"), 0);
    // The 4 KiB per-process table, created from `zeroed!` and filled in place.
    let nr = libc::SYS_getppid as u32;
    let in_table = maps::table_count(&skel, std::process::id(), nr).expect("TABLES");
    assert_eq!(in_table, Some(25));
}

fn ring_and_perf_buffers_carry_every_call() {
    const CALLS: usize = 40;
    let skel = bpfkit_guide::load_for(std::process::id()).expect("load");
    let mut perf = events::open_perf(&skel).expect("open perf buffer");
    let program = skel.progs().ring_and_perf().expect("ring_and_perf");
    let link = bpfkit::programs::tracepoint::attach(program, "syscalls", "sys_enter_getppid")
        .expect("attach");
    getppid_calls(CALLS);
    drop(link);
    let tid = gettid();

    let ring = events::drain_ring(&skel).expect("drain ring");
    assert_eq!(ring.len(), CALLS, "ring records");
    assert!(ring.iter().all(|c| c.tid == tid));

    let mut from_perf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while from_perf.len() < CALLS && Instant::now() < deadline {
        let (calls, lost) =
            events::drain_perf(&mut perf, Duration::from_millis(100)).expect("drain perf");
        assert_eq!(lost, 0);
        from_perf.extend(calls);
    }
    assert_eq!(from_perf.len(), CALLS, "perf records");
    // Each CPU numbered its own calls 1, 2, …: per CPU, the ring (one global order) and the
    // perf rings (one per CPU) hold the same sequence.
    for cpu in from_perf.iter().map(|(cpu, _)| *cpu) {
        let perf_seq: Vec<u64> = from_perf
            .iter()
            .filter(|(c, _)| *c == cpu)
            .map(|(_, call)| call.seq)
            .collect();
        let ring_seq: Vec<u64> = ring
            .iter()
            .filter(|call| call.cpu == cpu)
            .map(|call| call.seq)
            .collect();
        assert_eq!(perf_seq, ring_seq, "cpu {cpu}");
        assert_eq!(perf_seq, (1..=perf_seq.len() as u64).collect::<Vec<_>>());
    }
}

fn core_reads_the_parent() {
    let skel = bpfkit_guide::load_for(std::process::id()).expect("load");
    let program = skel.progs().lineage().expect("lineage");
    let link = bpfkit::programs::tracepoint::attach(program, "syscalls", "sys_enter_getppid")
        .expect("attach");
    let ppid = std::os::unix::process::parent_id();
    drop(link);
    let (seen_ppid, comm, has_net_context) = kernel_types::lineage_of(&skel, gettid())
        .expect("LINEAGE")
        .expect("this thread's entry");
    assert_eq!(seen_ppid, ppid as i32);
    let parent_comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).expect("comm");
    assert_eq!(comm, parent_comm.trim_end());
    // bpf_net_context joined task_struct in 6.11.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    assert_eq!(has_net_context, version >= (6, 11), "kernel {release}");
}

fn uretprobe_sees_getppid_return() {
    let skel = bpfkit_guide::load_for(std::process::id()).expect("load");
    let link =
        probes::attach_getppid_return(&skel, std::process::id() as i32).expect("attach uretprobe");
    let ppid = std::os::unix::process::parent_id();
    drop(link);
    assert_eq!(probes::last_ppid(&skel).expect("LAST_PPID"), ppid as u64);
}

fn kprobe_attaches_where_the_kernel_has_kprobes() {
    let skel = bpfkit_guide::load_for(std::process::id()).expect("load");
    if !bpfkit::programs::kprobe::kprobes_available() {
        println!("SKIP kprobe attach: this kernel has no kprobe PMU nor tracefs kprobe_events");
        // It still loaded: the verifier accepted `trace_open`.
        assert!(skel.progs().trace_open().is_some());
        return;
    }
    let link = probes::attach_open_probe(&skel).expect("attach kprobe");
    let _ = std::fs::File::open("/proc/self/status").expect("open");
    drop(link);
    let mut ring = skel.maps().OPENS().expect("OPENS");
    let mut paths = Vec::new();
    while let Some(record) = ring.next().expect("read OPENS") {
        let end = record.iter().position(|&b| b == 0).unwrap_or(record.len());
        paths.push(String::from_utf8_lossy(&record[..end]).into_owned());
    }
    assert!(paths.iter().any(|p| p == "/proc/self/status"), "{paths:?}");
}

/// An Ethernet + IPv4 + UDP frame to `port` (checksums zero: XDP and tc see it as is).
fn udp_frame(port: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&28u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&4000u16.to_be_bytes());
    f[36..38].copy_from_slice(&port.to_be_bytes());
    f[38..40].copy_from_slice(&8u16.to_be_bytes());
    f
}

fn xdp_and_tc_decide_on_test_packets() {
    let skel = bpfkit_guide::load_for(0).expect("load");
    assert_eq!(
        net::xdp_verdict(&skel, &udp_frame(9)).expect("run"),
        1,
        "XDP_DROP"
    );
    assert_eq!(
        net::xdp_verdict(&skel, &udp_frame(53)).expect("run"),
        2,
        "XDP_PASS"
    );
    let verdicts = skel.maps().VERDICTS().expect("VERDICTS");
    let sum = |slot| -> u64 { verdicts.get(slot).expect("slot").0.iter().sum() };
    assert_eq!((sum(0), sum(1)), (1, 1), "dropped, passed");

    assert_eq!(net::tc_mark(&skel, &udp_frame(53)).expect("run"), (0, 0x42));
    let mut arp = udp_frame(53);
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    assert_eq!(net::tc_mark(&skel, &arp).expect("run"), (0, 0));
}

/// A `log::Log` that keeps the lines.
struct Capture(Arc<Mutex<Vec<String>>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}", record.level(), record.args());
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

fn logs_reach_the_logger() {
    let skel = bpfkit_guide::load_for(std::process::id()).expect("load");
    let program = skel.progs().log_getppid().expect("log_getppid");
    let link = bpfkit::programs::tracepoint::attach(program, "syscalls", "sys_enter_getppid")
        .expect("attach");
    getppid_calls(1);
    drop(link);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let n = logging::forward_logs(&skel, Box::new(Capture(lines.clone()))).expect("forward");
    let comm = std::fs::read_to_string("/proc/thread-self/comm").expect("comm");
    let expected = format!("INFO getppid from pid {} ({})", gettid(), comm.trim_end());
    // `debug!` is above the built-in level: only the info line was sent.
    assert_eq!(n, 1);
    assert_eq!(*lines.lock().unwrap(), vec![expected]);
}

/// `btf_types!(Call)` and `btf_types!(ExecEvent)`: the ring records, used only through
/// `reserve`/`output`, are in the BTF the kernel holds for the loaded object, member by member.
fn record_types_reach_the_kernels_btf() {
    use bpfkit_obj::btf::{Btf, Kind, Type};
    let skel = bpfkit_guide::load_for(0).expect("load");
    let fd = skel.object().btf_fd().expect("the object's BTF was loaded");
    let bytes = bpfkit::sys::attach::btf_bytes(fd).expect("BTF from the kernel");
    let btf = Btf::parse(&bytes).expect("parse");
    let layout = |name: &str| -> (u32, Vec<(String, u32)>) {
        let id = btf
            .id_by_name_kind(name, Kind::Struct)
            .unwrap_or_else(|| panic!("no struct {name} in the kernel's copy of the BTF"));
        let Ok(Type::Struct(s)) = btf.type_by_id(id) else {
            panic!("{name} is not a struct")
        };
        let members = s
            .members
            .iter()
            .map(|m| (m.name.to_string(), m.bit_offset / 8))
            .collect();
        (s.size, members)
    };
    let owned = |v: &[(&str, u32)]| {
        v.iter()
            .map(|(n, o)| (n.to_string(), *o))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        layout("Call"),
        (16, owned(&[("seq", 0), ("tid", 8), ("cpu", 12)]))
    );
    assert_eq!(
        layout("ExecEvent"),
        (24, owned(&[("pid", 0), ("uid", 4), ("comm", 8)]))
    );
}
