//! Attach tests on the running kernel: each program type counts exactly what a child process
//! or this test did, links detach on drop, and kprobe/fentry give their clear errors here.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use bpfkit::features;
use bpfkit::loader::{LoadError, Loader, Object};
use bpfkit::programs::{self, AttachError};
use bpfkit_test_support::fixture;
use common::FdCheck;

/// A forked child that waits for a byte on a pipe, then issues `openat` exactly `opens`
/// times (on a path that does not exist) and exits.
struct OpeningChild {
    pid: i32,
    go: OwnedFd,
}

impl OpeningChild {
    fn spawn(opens: usize) -> Self {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a live two-int array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the child only calls async-signal-safe functions (read, syscall, _exit).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            let mut byte = 0u8;
            // SAFETY: reading one byte into a live local; raw syscalls; no allocation.
            unsafe {
                libc::close(fds[1]);
                libc::read(fds[0], &mut byte as *mut u8 as *mut libc::c_void, 1);
                for _ in 0..opens {
                    libc::syscall(
                        libc::SYS_openat,
                        libc::AT_FDCWD,
                        c"/nonexistent/bpfkit-attach-test".as_ptr(),
                        libc::O_RDONLY,
                    );
                }
                libc::_exit(0);
            }
        }
        // SAFETY: both pipe fds are ours; the read end is closed in the parent.
        unsafe { libc::close(fds[0]) };
        // SAFETY: the write end is a fresh fd owned by nothing else.
        let go = unsafe { OwnedFd::from_raw_fd(fds[1]) };
        Self { pid, go }
    }

    fn run_to_exit(self) {
        let byte = 1u8;
        // SAFETY: writing one byte from a live local.
        unsafe {
            libc::write(
                self.go.as_raw_fd(),
                &byte as *const u8 as *const libc::c_void,
                1,
            )
        };
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(self.pid, &mut status, 0) }, self.pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}

/// `attach_counters` with `target_pid` set, without the programs the kernel lacks a feature
/// for, as the loader's error names it (probed: program type SYSCALL before 5.14, BPF
/// cookies before 5.15); their tests SKIP.
fn load_counters(target_pid: i32) -> Object {
    let path = fixture("attach_counters");
    let spec = bpfkit_obj::object::ObjectSpec::parse(&std::fs::read(&path).unwrap()).unwrap();
    let mut loadable: Vec<String> = spec.programs.iter().map(|p| p.name.clone()).collect();
    loop {
        let result = Loader::new()
            .set_global("target_pid", &target_pid.to_ne_bytes())
            .only_programs(&loadable)
            .load_file(&path);
        match result {
            Ok(object) => return object,
            Err(LoadError::Program {
                program,
                requires: Some(feature),
                ..
            }) if loadable.contains(&program) => {
                println!(
                    "attach_counters: {program} left out: the kernel lacks {} (Linux {})",
                    feature.name, feature.since
                );
                loadable.retain(|p| *p != program);
            }
            Err(e) => panic!("attach_counters loads: {}", bpfkit::Report(&e)),
        }
    }
}

fn count(object: &Object, slot: u32) -> u64 {
    let map = object.map("counts").expect("counts map");
    let mut value = [0u8; 8];
    assert!(map
        .lookup_bytes(&slot.to_ne_bytes(), &mut value, 0)
        .unwrap());
    u64::from_ne_bytes(value)
}

fn program_ids(object: &Object) -> Vec<u32> {
    object.programs().map(|p| p.id().unwrap()).collect()
}

fn links_of(ids: &[u32]) -> Vec<bpfkit::info::LinkInfo> {
    bpfkit::info::loaded_links()
        .unwrap()
        .into_iter()
        .filter(|l| ids.contains(&l.prog_id))
        .collect()
}

#[test]
fn tracepoint_sys_enter_openat_counts_exactly_the_opens_of_a_child() {
    let fds = FdCheck::start();
    let child = OpeningChild::spawn(7);
    let object = load_counters(child.pid);
    let program = object.program("count_openat_tp").unwrap();
    let link = programs::tracepoint::attach(program, "syscalls", "sys_enter_openat").unwrap();
    assert_eq!(link.kind(), "bpf");
    let info = link.info().unwrap();
    assert_eq!(info.link_type, bpfkit::sys::uapi::BPF_LINK_TYPE_PERF_EVENT);
    assert_eq!(info.prog_id, program.id().unwrap());
    child.run_to_exit();
    assert_eq!(count(&object, 0), 7);
    let ids = program_ids(&object);
    assert_eq!(links_of(&ids).len(), 1);
    assert!(
        common::link_listed(info.id),
        "bpftool lists link {}",
        info.id
    );
    drop(link);
    assert!(links_of(&ids).is_empty(), "link detached after drop");
    assert!(
        !common::link_listed(info.id),
        "bpftool no longer lists link {}",
        info.id
    );
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn raw_tracepoint_sys_enter_counts_exactly_the_openat_calls_of_a_child() {
    let fds = FdCheck::start();
    let child = OpeningChild::spawn(5);
    let object = load_counters(child.pid);
    let program = object.program("count_openat_raw").unwrap();
    let link = programs::raw_tracepoint::attach(program, "sys_enter").unwrap();
    assert_eq!(
        link.info().unwrap().link_type,
        bpfkit::sys::uapi::BPF_LINK_TYPE_RAW_TRACEPOINT
    );
    child.run_to_exit();
    assert_eq!(count(&object, 1), 5);
    drop(link);
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn tp_btf_sys_enter_counts_exactly_the_openat_calls_of_a_child() {
    let fds = FdCheck::start();
    let child = OpeningChild::spawn(4);
    let object = load_counters(child.pid);
    let program = object.program("count_openat_btf").unwrap();
    let link = programs::tracing::attach(program).unwrap();
    // tp_btf links are raw tracepoint links (BPF_TRACE_RAW_TP); fentry/fexit make TRACING.
    assert_eq!(
        link.info().unwrap().link_type,
        bpfkit::sys::uapi::BPF_LINK_TYPE_RAW_TRACEPOINT
    );
    child.run_to_exit();
    assert_eq!(count(&object, 2), 4);
    drop(link);
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn auto_attach_follows_the_section_names() {
    let fds = FdCheck::start();
    let child = OpeningChild::spawn(3);
    let object = load_counters(child.pid);
    let mut links = Vec::new();
    for name in ["count_openat_tp", "count_openat_raw", "count_openat_btf"] {
        links.push(programs::auto::attach(object.program(name).unwrap()).unwrap());
    }
    let not_auto = programs::auto::attach(object.program("count_packets").unwrap()).unwrap_err();
    assert!(
        matches!(not_auto, AttachError::NotAutoAttachable { .. }),
        "{not_auto}"
    );
    child.run_to_exit();
    assert_eq!(
        [count(&object, 0), count(&object, 1), count(&object, 2)],
        [3, 3, 3]
    );
    let ids = program_ids(&object);
    // The tracepoint is a bpf link only where the kernel has perf links (5.15); before, it
    // is attached with PERF_EVENT_IOC_SET_BPF and lists no link.
    let perf_links = features::supported(features::Probe::PerfEventLink);
    assert_eq!(links_of(&ids).len(), if perf_links { 3 } else { 2 });
    drop(links);
    assert!(links_of(&ids).is_empty());
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn perf_event_samples_arrive_from_the_cpu_clock() {
    let fds = FdCheck::start();
    let object = load_counters(0);
    let program = object.program("count_samples").unwrap();
    use programs::perf_event::{PerfEventKind, PerfEventScope, SamplePolicy};
    // One sample per ms of CPU time of this process.
    let link = programs::perf_event::attach(
        program,
        PerfEventKind::CpuClock,
        SamplePolicy::Period(1_000_000),
        // SAFETY: gettid has no preconditions.
        PerfEventScope::Task(unsafe { libc::gettid() }),
    )
    .unwrap();
    let thread_cpu_ns = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a live out-parameter.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    };
    let cpu_start = thread_cpu_ns();
    let mut x = 0u64;
    while thread_cpu_ns() - cpu_start < 200_000_000 {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
    drop(link);
    let cpu_ms = (thread_cpu_ns() - cpu_start) / 1_000_000;
    let samples = count(&object, 3);
    assert!(
        samples * 10 >= cpu_ms * 7 && samples <= cpu_ms + 5,
        "{samples} samples for {cpu_ms} ms of this thread's CPU time at one per ms"
    );
    let after = count(&object, 3);
    assert_eq!(after, samples, "no samples after the link is dropped");
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn perf_event_on_all_cpus_is_a_group_of_one_link_per_online_cpu() {
    let fds = FdCheck::start();
    let object = load_counters(0);
    use bpfkit::cpus::online_cpus;
    use programs::perf_event::{PerfEventKind, PerfEventScope, SamplePolicy};
    let link = programs::perf_event::attach(
        object.program("count_samples").unwrap(),
        PerfEventKind::CpuClock,
        SamplePolicy::Frequency(100),
        PerfEventScope::AllCpus,
    )
    .unwrap();
    let cpus = online_cpus().unwrap();
    if cpus.len() > 1 {
        assert_eq!(link.members().len(), cpus.len());
    }
    drop(link);
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn iter_task_lists_this_process() {
    let fds = FdCheck::start();
    let child = OpeningChild::spawn(0);
    let object = load_counters(0);
    let link = programs::iter::attach(object.program("list_tasks").unwrap()).unwrap();
    assert_eq!(
        link.info().unwrap().link_type,
        bpfkit::sys::uapi::BPF_LINK_TYPE_ITER
    );
    let text = String::from_utf8(programs::iter::read_all(&link).unwrap()).unwrap();
    let me = format!("pid {}", std::process::id());
    assert!(
        text.lines().any(|l| l == me),
        "{me} not in the iterator's output"
    );
    let child_line = format!("pid {}", child.pid);
    assert!(
        text.lines().any(|l| l == child_line),
        "the child {child_line} is listed"
    );
    child.run_to_exit();
    let text = String::from_utf8(programs::iter::read_all(&link).unwrap()).unwrap();
    assert!(
        !text.lines().any(|l| l == child_line),
        "the reaped child is gone"
    );
    drop(link);
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn syscall_program_runs_and_writes_its_context() {
    if features::program_type_support(programs::ProgramType::Syscall)
        == features::Support::Unsupported
    {
        use bpfkit::programs::ProgramTypeExt as _;
        let feature = programs::ProgramType::Syscall.feature();
        println!(
            "SKIP syscall_program: the probe finds no {} (Linux {})",
            feature.name, feature.since
        );
        return;
    }
    let fds = FdCheck::start();
    let object = load_counters(0);
    let program = object.program("double_it").unwrap();
    let mut ctx = [0u8; 16];
    ctx[..8].copy_from_slice(&21u64.to_ne_bytes());
    let ret = programs::syscall::run(program, &mut ctx).unwrap();
    assert_eq!(ret, 42);
    assert_eq!(u64::from_ne_bytes(ctx[8..].try_into().unwrap()), 42);
    assert_eq!(count(&object, 6), 1);
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn socket_filter_counts_loopback_packets_until_detached() {
    let fds = FdCheck::start();
    let object = load_counters(0);
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let link = programs::socket_filter::attach(object.program("count_packets").unwrap(), &receiver)
        .unwrap();
    let mut buf = [0u8; 64];
    for i in 0..5u8 {
        sender
            .send_to(&[i; 10], receiver.local_addr().unwrap())
            .unwrap();
        let (n, _) = receiver.recv_from(&mut buf).unwrap();
        assert_eq!((n, buf[0]), (10, i), "the filter accepts whole packets");
    }
    assert_eq!(count(&object, 4), 5);
    drop(link);
    sender
        .send_to(&[9; 10], receiver.local_addr().unwrap())
        .unwrap();
    receiver.recv_from(&mut buf).unwrap();
    assert_eq!(count(&object, 4), 5, "no packet counted after detach");
    drop((receiver, sender, object));
    fds.assert_no_leak();
}

#[test]
fn raw_tracepoint_link_pins_reopens_and_updates_its_program() {
    let fds = FdCheck::start();
    let dir = common::BpffsDir::new("attach-pin");
    let child = OpeningChild::spawn(2);
    let object = load_counters(child.pid);
    let raw = object.program("count_openat_raw").unwrap();
    let link = programs::raw_tracepoint::attach(raw, "sys_enter").unwrap();
    let id = link.info().unwrap().id;
    let pin = dir.path.join("link");
    link.pin(&pin).unwrap();
    drop(link);
    assert_eq!(
        bpfkit::info::loaded_links()
            .unwrap()
            .iter()
            .filter(|l| l.id == id)
            .count(),
        1,
        "a pinned link stays attached after drop"
    );
    let reopened = bpfkit::links::Link::from_pin(&pin).unwrap();
    assert_eq!(reopened.info().unwrap().id, id);
    // Raw tracepoint links cannot change program: the kernel says EOPNOTSUPP / EINVAL.
    let err = reopened.update_program(raw.fd(), None).unwrap_err();
    assert!(
        matches!(err, bpfkit::links::LinkError::Syscall { .. }),
        "{err}"
    );
    child.run_to_exit();
    assert_eq!(count(&object, 1), 2, "the pinned link counted");
    bpfkit::pin::unpin(&pin).unwrap();
    reopened.detach().unwrap();
    // Where raw tracepoint links cannot be detached early (5.10: EOPNOTSUPP), the link goes
    // when its last reference does; the unpinned inode's is dropped after an RCU grace
    // period, so the id may stay listed for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while bpfkit::info::loaded_links()
        .unwrap()
        .iter()
        .any(|l| l.id == id)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "link {id} still listed 5 s after detach"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(object);
    dir.remove();
    fds.assert_no_leak();
}

#[test]
fn kprobe_fails_with_a_clear_error_when_the_kernel_has_no_kprobes() {
    let fds = FdCheck::start();
    // Only what this test attaches: the object's sleepable uprobe needs 6.0.
    let object = Loader::new()
        .only_programs(&[
            "kprobe_unlinkat",
            "kprobe_multi_unlinkat",
            "ksyscall_getpid",
        ])
        .load_file(fixture("prog_tracing"))
        .unwrap_or_else(|e| panic!("prog_tracing loads: {}", bpfkit::Report(&e)));
    let program = object.program("kprobe_unlinkat").or_else(|| {
        object
            .programs()
            .find(|p| p.section().name == "kprobe/do_unlinkat")
    });
    let program = program.expect("kprobe program");
    let result = programs::auto::attach(program);
    if programs::kprobe::kprobes_available() {
        let link = result.expect("kprobes exist here, so the attach works");
        drop(link);
    } else {
        let err = result.unwrap_err();
        assert!(matches!(err, AttachError::Unsupported { .. }), "{err}");
        let text = bpfkit::Report(&err).to_string();
        assert!(text.contains("CONFIG_KPROBES"), "{text}");
        assert!(text.contains("kprobe do_unlinkat"), "{text}");
        let multi = object
            .programs()
            .find(|p| p.section().name == "kprobe.multi/do_unlinkat")
            .unwrap();
        let text = programs::auto::attach(multi).unwrap_err().to_string();
        assert!(
            text.contains("kprobe_multi") && text.contains("CONFIG_KPROBES"),
            "{text}"
        );
        let ksyscall = object
            .programs()
            .find(|p| p.section().name == "ksyscall/getpid")
            .unwrap();
        let text = programs::auto::attach(ksyscall).unwrap_err().to_string();
        assert!(
            text.contains("__x64_sys_getpid") || !cfg!(target_arch = "x86_64"),
            "{text}"
        );
    }
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn fentry_fails_with_eperm_and_says_why_where_trampolines_are_locked_down() {
    let fds = FdCheck::start();
    // Only fentry: the object's sleepable LSM program needs a kernel whose file_open hook
    // is sleepable.
    let object = match Loader::new()
        .only_programs(&["fentry_unlinkat"])
        .load_file(fixture("prog_trampoline"))
    {
        Ok(o) => o,
        Err(e) => {
            // This host refuses trampoline programs already at load (EPERM, ftrace locked
            // down): the error chain names the program, the errno and the reason.
            let text = bpfkit::Report(&e).to_string();
            assert!(text.contains("program 'fentry_unlinkat'"), "{text}");
            assert!(text.contains("Operation not permitted"), "{text}");
            assert!(text.contains("trampoline"), "{text}");
            fds.assert_no_leak();
            return;
        }
    };
    let program = object
        .programs()
        .find(|p| p.section().name == "fentry/do_unlinkat")
        .unwrap();
    match programs::tracing::attach(program) {
        Ok(link) => drop(link), // a kernel with working trampolines (the VM)
        Err(err) => {
            assert_eq!(err.errno(), Some(libc::EPERM), "{err}");
            let text = bpfkit::Report(&err).to_string();
            assert!(
                text.contains("trampoline") && text.contains("fentry/do_unlinkat"),
                "{text}"
            );
        }
    }
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn wrong_program_type_is_refused_before_the_kernel() {
    let fds = FdCheck::start();
    let object = load_counters(0);
    let before = bpfkit::sys::bpf_calls_on_this_thread();
    let err = programs::raw_tracepoint::attach(object.program("count_packets").unwrap(), "x")
        .unwrap_err();
    assert!(matches!(err, AttachError::WrongProgramType { .. }), "{err}");
    assert_eq!(bpfkit::sys::bpf_calls_on_this_thread(), before);
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn perf_event_on_hardware_cycles_samples_or_says_there_is_no_pmu() {
    let fds = FdCheck::start();
    let object = load_counters(0);
    use programs::perf_event::{PerfEventKind, PerfEventScope, SamplePolicy};
    let result = programs::perf_event::attach(
        object.program("count_samples").unwrap(),
        PerfEventKind::Hardware(0), // PERF_COUNT_HW_CPU_CYCLES
        SamplePolicy::Frequency(1000),
        PerfEventScope::AllCpus,
    );
    let has_cpu_pmu = std::path::Path::new("/sys/bus/event_source/devices/cpu").exists();
    match result {
        Ok(link) => {
            assert!(has_cpu_pmu, "hardware events without a cpu PMU");
            drop(link);
        }
        Err(err) => {
            assert!(!has_cpu_pmu, "{err}");
            let text = bpfkit::Report(&err).to_string();
            assert!(
                text.contains("perf_event_open") && text.contains("Hardware(0)"),
                "{text}"
            );
            assert!(text.contains("no hardware PMU"), "{text}");
        }
    }
    drop(object);
    fds.assert_no_leak();
}
