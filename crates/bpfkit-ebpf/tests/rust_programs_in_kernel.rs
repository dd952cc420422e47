//! Rust programs written with bpfkit-ebpf, built through bpfkit-build and loaded by libbpf
//! (`bpftool prog loadall`) into the running kernel. Needs root.

use bpfkit::sys::uapi;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bpfkit_test_support::{map_dump, prog_loadall, PerfEventAttr, PERF_EVENT_IOC_ENABLE};

/// Builds `testdata/rust-ebpf/<name>` once per test binary and returns its object.
fn build(name: &str) -> PathBuf {
    build_crate(&format!("testdata/rust-ebpf/{name}"), name)
}

/// Builds the eBPF crate at `dir` (relative to the repository root) once per test binary and
/// returns its object named `name`.
fn build_crate(dir: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let started = std::time::Instant::now();
    let objects = bpfkit_build::EbpfBuild::new(root.join(dir))
        .target_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-ebpf"))
        .quiet(true)
        .build()
        .unwrap_or_else(|e| panic!("building {name}: {e}"));
    eprintln!("built {dir} in {:.2} s", started.elapsed().as_secs_f64());
    let path = objects
        .into_iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no object named {name}"))
        .path;
    built.push((name.to_string(), path.clone()));
    path
}

/// `BPF_OBJ_GET` of a pinned program or map; panics with the kernel's refusal.
fn bpf_obj_get(pinned: &Path) -> std::os::fd::OwnedFd {
    bpfkit_test_support::bpf_obj_get(pinned).unwrap_or_else(|e| panic!("{e}"))
}

/// [`bpfkit_test_support::perf_event_open`]; panics with the kernel's refusal.
fn perf_event_open(attr: &PerfEventAttr, pid: i32, cpu: i32, what: &str) -> std::os::fd::OwnedFd {
    bpfkit_test_support::perf_event_open(attr, pid, cpu, what).unwrap_or_else(|e| panic!("{e}"))
}

/// [`bpfkit_test_support::perf_event_set_bpf`]; panics with the kernel's refusal.
fn perf_event_set_bpf(perf: &std::os::fd::OwnedFd, prog: &std::os::fd::OwnedFd) {
    bpfkit_test_support::perf_event_set_bpf(perf, prog).unwrap_or_else(|e| panic!("{e}"))
}

/// Attaches a pinned tracepoint program through one perf event for every task on CPU 0 (the
/// program array belongs to the tracepoint, so it runs on every CPU). Closing the returned
/// fd detaches it.
fn attach_tracepoint(prog_pin: &Path, category: &str, name: &str) -> std::os::fd::OwnedFd {
    bpfkit_test_support::attach_tracepoint(prog_pin, category, name, -1, 0)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

#[test]
fn execve_tracepoint_loads_with_btf_and_records_exec_of_child() {
    let object = build("execve-events");
    let loaded = prog_loadall(&object).expect("libbpf loads the Rust object");
    let prog = loaded
        .program("record_execve")
        .expect("program pinned under its Rust name");
    assert_eq!(prog.prog_type, "tracepoint");
    let btf_id = prog.info["btf_id"].as_u64().unwrap_or(0);
    assert!(
        btf_id > 0,
        "program must carry BTF the kernel accepted: {}",
        prog.info
    );
    eprintln!(
        "execve-events: verified_insns={} xlated_insns={}",
        verified_insns(&loaded.pin_dir().join("record_execve")),
        prog.xlated_insns
    );
    let last_exec = loaded.map("LAST_EXEC").expect("LAST_EXEC pinned");
    assert_eq!(last_exec.info["type"], "hash");
    assert_eq!(last_exec.info["bytes_key"], 4);
    assert_eq!(last_exec.info["bytes_value"], 168);
    let events = loaded.map("EVENTS").expect("EVENTS pinned");
    assert_eq!(events.info["type"], "ringbuf");
    assert_eq!(events.info["max_entries"], 64 * 1024);

    // Exec a uniquely named link to /bin/true so the event is recognisable.
    let exe = std::env::temp_dir().join(format!("bpfkit-execve-{}", std::process::id()));
    let _ = std::fs::remove_file(&exe);
    std::os::unix::fs::symlink("/bin/true", &exe).expect("symlink");
    let attachment = attach_tracepoint(
        &loaded.pin_dir().join("record_execve"),
        "syscalls",
        "sys_enter_execve",
    );
    // SAFETY: gettid has no memory effects.
    let tid = unsafe { libc::gettid() };
    let my_comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).expect("comm");
    let child = std::process::Command::new(&exe).spawn().expect("spawn");
    let child_pid = child.id();
    let status = child.wait_with_output().expect("wait").status;
    assert!(status.success());
    drop(attachment);
    let _ = std::fs::remove_file(&exe);

    let entries = map_dump(last_exec.id).expect("dump LAST_EXEC");
    let entry = entries
        .iter()
        .find(|e| u32_at(&e.key, 0) == child_pid)
        .unwrap_or_else(|| {
            panic!(
                "no exec recorded for child {child_pid} among {} entries",
                entries.len()
            )
        });
    let v = &entry.value;
    assert_eq!(u32_at(v, 0), child_pid, "pid");
    assert_eq!(u32_at(v, 4), child_pid, "tgid");
    // SAFETY: getuid/getgid have no memory effects.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_eq!(u32_at(v, 8), uid, "uid");
    assert_eq!(u32_at(v, 12), gid, "gid");
    assert!(
        u64::from_ne_bytes(v[16..24].try_into().unwrap()) > 0,
        "ktime_ns"
    );
    assert_eq!(
        c_str(&v[24..40]),
        my_comm.trim_end(),
        "comm is the spawning thread's"
    );
    assert_eq!(c_str(&v[40..168]), exe.to_str().unwrap(), "filename");

    // bpftool formats the value through the map's BTF: the Rust field names are there.
    let formatted = entry
        .formatted
        .as_ref()
        .expect("map has BTF, bpftool formats values");
    let value = &formatted["value"];
    for field in ["pid", "tgid", "uid", "gid", "ktime_ns", "comm", "filename"] {
        assert!(
            value.get(field).is_some(),
            "field {field} missing in {formatted}"
        );
    }
    assert_eq!(value["pid"], child_pid);
}

/// `bpf_prog_info.verified_insns` (offset 216, Linux ≥ 5.16) of a pinned program: the
/// verifier's "processed N insns".
fn verified_insns(prog_pin: &Path) -> u32 {
    use std::os::fd::AsRawFd;
    let prog = bpf_obj_get(prog_pin);
    let mut info = [0u8; 232];
    // union bpf_attr for BPF_OBJ_GET_INFO_BY_FD: bpf_fd (u32), info_len (u32), info (u64).
    let mut attr = [0u64; 2];
    attr[0] = prog.as_raw_fd() as u64 | ((info.len() as u64) << 32);
    attr[1] = info.as_mut_ptr() as u64;
    // SAFETY: BPF_OBJ_GET_INFO_BY_FD (15) writes at most info_len bytes into `info`.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, 15, attr.as_mut_ptr(), 16) };
    assert_eq!(
        ret,
        0,
        "BPF_OBJ_GET_INFO_BY_FD: {}",
        std::io::Error::last_os_error()
    );
    u32::from_ne_bytes(info[216..220].try_into().expect("4 bytes"))
}

/// A copy of `obj` with the one-byte global `symbol` set to `value`, as a loader rewrites
/// `.rodata` before loading.
fn with_global_u8(obj: &Path, symbol: &str, value: u8) -> PathBuf {
    with_globals(obj, &[(symbol, &[value])])
}

/// A copy of `obj` with each `.rodata` global overwritten by its bytes.
fn with_globals(obj: &Path, globals: &[(&str, &[u8])]) -> PathBuf {
    let mut bytes = std::fs::read(obj).expect("read object");
    let mut name = obj
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("obj")
        .to_string();
    for (symbol, value) in globals {
        let offset = elf_symbol_file_offset(&bytes, symbol);
        bytes[offset..offset + value.len()].copy_from_slice(value);
        name.push_str(&format!(
            "-{symbol}-{}",
            value
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(".")
        ));
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.o"));
    std::fs::write(&out, bytes).expect("write patched object");
    out
}

/// File offset of a `.rodata*` symbol's bytes in a little-endian ELF64 object (read by hand:
/// only the section headers and the symbol table are needed).
fn elf_symbol_file_offset(elf: &[u8], symbol: &str) -> usize {
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let section = |i: usize| shoff + i * shentsize;
    let cstr = |o: usize| {
        let end = elf[o..].iter().position(|b| *b == 0).unwrap() + o;
        std::str::from_utf8(&elf[o..end]).unwrap()
    };
    let shstr = u64_at(section(shstrndx) + 0x18);
    let symtab = (0..shnum)
        .map(section)
        .find(|&h| u32_at(h + 4) == 2)
        .expect(".symtab");
    let strtab = u64_at(section(u32_at(symtab + 0x28)) + 0x18);
    let (sym_off, sym_size) = (u64_at(symtab + 0x18), u64_at(symtab + 0x20));
    for sym in (sym_off..sym_off + sym_size).step_by(24) {
        if cstr(strtab + u32_at(sym)) != symbol {
            continue;
        }
        let shndx = u16_at(sym + 6);
        let header = section(shndx);
        let name = cstr(shstr + u32_at(header));
        assert!(
            name.starts_with(".rodata"),
            "{symbol} is in {name}, not .rodata"
        );
        return u64_at(header + 0x18) + u64_at(sym + 8);
    }
    panic!("no symbol {symbol}");
}

/// Runs a pinned XDP/skb program once on `packet` (BPF_PROG_TEST_RUN via bpftool).
fn test_run(prog_pin: &Path, packet: &[u8]) {
    let input =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("packet-{}", std::process::id()));
    std::fs::write(&input, packet).expect("write packet");
    let out = std::process::Command::new("bpftool")
        .args(["prog", "run", "pinned"])
        .arg(prog_pin)
        .arg("data_in")
        .arg(&input)
        .args(["repeat", "1"])
        .output()
        .expect("bpftool runs");
    let _ = std::fs::remove_file(&input);
    assert!(
        out.status.success(),
        "bpftool prog run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `mmap(NULL, len, prot, MAP_SHARED, fd, offset)` of a BPF map or perf event; panics naming
/// `what` and the errno if the kernel refuses. The caller unmaps it with `libc::munmap`.
fn mmap_shared(
    fd: std::os::fd::RawFd,
    len: usize,
    prot: i32,
    offset: usize,
    what: &str,
) -> *mut u8 {
    // SAFETY: a fresh shared mapping at an address the kernel picks overlaps nothing of ours.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            fd,
            offset as libc::off_t,
        )
    };
    assert_ne!(
        ptr,
        libc::MAP_FAILED,
        "mmap {what}: {}",
        std::io::Error::last_os_error()
    );
    ptr.cast()
}

/// Every pending record of a pinned `BPF_MAP_TYPE_RINGBUF` of `size` bytes, read through
/// the kernel's mmap layout (consumer page, producer page, data pages mapped twice).
fn drain_ringbuf(map_pin: &Path, size: usize) -> Vec<Vec<u8>> {
    drain_ringbuf_fd(std::os::fd::AsFd::as_fd(&bpf_obj_get(map_pin)), size)
}

/// [`drain_ringbuf`] on an open ring buffer map.
fn drain_ringbuf_fd(map: std::os::fd::BorrowedFd<'_>, size: usize) -> Vec<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let page = 4096usize;
    // The consumer page read-write and producer + data read-only, as the ring buffer's mmap
    // contract allows; both are unmapped below.
    let prot_rw = libc::PROT_READ | libc::PROT_WRITE;
    let cons = mmap_shared(map.as_raw_fd(), page, prot_rw, 0, "consumer");
    let prod = mmap_shared(
        map.as_raw_fd(),
        page + 2 * size,
        libc::PROT_READ,
        page,
        "producer",
    );
    let mut records = Vec::new();
    // SAFETY: positions are u64 at the start of their pages; records lie in the data area,
    // mapped twice so a record crossing the end reads contiguously.
    unsafe {
        let cons_pos = &*(cons as *const std::sync::atomic::AtomicU64);
        let prod_pos = &*(prod as *const std::sync::atomic::AtomicU64);
        let data = prod.add(page);
        let mut pos = cons_pos.load(std::sync::atomic::Ordering::Acquire);
        let end = prod_pos.load(std::sync::atomic::Ordering::Acquire);
        while pos < end {
            let hdr = data.add(pos as usize & (size - 1));
            let len_word = (*(hdr as *const std::sync::atomic::AtomicU32))
                .load(std::sync::atomic::Ordering::Acquire);
            assert_eq!(len_word & (1 << 31), 0, "record still busy");
            let len = (len_word & !(3 << 30)) as usize;
            if len_word & (1 << 30) == 0 {
                records.push(std::slice::from_raw_parts(hdr.add(8), len).to_vec());
            }
            pos += ((len + 8 + 7) & !7) as u64;
        }
        cons_pos.store(pos, std::sync::atomic::Ordering::Release);
        libc::munmap(cons.cast(), page);
        libc::munmap(prod.cast(), page + 2 * size);
    }
    records
}

#[test]
fn log_records_of_every_argument_type_arrive_formatted() {
    let object = with_global_u8(&build("logging"), "BPFKIT_LOG_LEVEL", 5);
    let loaded = prog_loadall(&object).expect("libbpf loads the logging object");
    let prog = loaded.program("log_everything").expect("program pinned");
    assert!(
        prog.info["btf_id"].as_u64().unwrap_or(0) > 0,
        "BTF accepted: {}",
        prog.info
    );
    let logs = loaded.map("BPFKIT_LOGS").expect("BPFKIT_LOGS pinned");
    assert_eq!(logs.info["type"], "ringbuf");
    test_run(&loaded.pin_dir().join("log_everything"), &[0u8; 64]);
    let records = drain_ringbuf(&loaded.pin_dir().join("maps/BPFKIT_LOGS"), 64 * 1024);
    let got: Vec<(bpfkit_log_common::Level, String, String)> = records
        .iter()
        .map(|r| {
            let rec = bpfkit_log::decode(r).unwrap_or_else(|e| panic!("record {r:?}: {e}"));
            (
                rec.level,
                rec.target.to_string(),
                rec.message().unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect();
    use bpfkit_log_common::Level::*;
    let expected = vec![
        (Error, "logging", "unsigned 8 16 32 64"),
        (Warn, "logging", "signed -8 -16 -32 -64"),
        (Info, "logging", "hex beef CAFE bool true packet 64 bytes"),
        (
            Info,
            "logging",
            "ipv4 10.1.2.3 192.168.0.1 ipv6 2001:db8::1 mac 02:42:ac:11:00:0a",
        ),
        (Debug, "logging", "name bpfkit str from rust"),
        (Trace, "custom", "bytes 0102ff"),
    ];
    let got_ref: Vec<(bpfkit_log_common::Level, &str, &str)> = got
        .iter()
        .map(|(l, t, m)| (*l, t.as_str(), m.as_str()))
        .collect();
    assert_eq!(got_ref, expected);
}

#[test]
fn disabled_log_levels_cost_no_verified_instructions() {
    let built = build("logging");
    let mut counts = Vec::new();
    for level in [0u8, 1, 3, 5] {
        let object = with_global_u8(&built, "BPFKIT_LOG_LEVEL", level);
        let loaded = prog_loadall(&object).expect("loads");
        let insns = verified_insns(&loaded.pin_dir().join("log_everything"));
        eprintln!("logging: BPFKIT_LOG_LEVEL={level} verified_insns={insns}");
        counts.push(insns);
    }
    // Each enabled level adds its calls; with logging off only the level checks remain.
    assert!(
        counts[0] < counts[1] && counts[1] < counts[2] && counts[2] < counts[3],
        "{counts:?}"
    );
    assert!(
        counts[0] <= 20,
        "logging off still walks {} insns",
        counts[0]
    );
}

#[test]
fn every_map_type_is_created_and_the_kernel_side_apis_work() {
    let loaded = prog_loadall(&build("maps")).expect("libbpf loads every map definition");
    let expected_types = [
        ("RESULTS", "array"),
        ("HASH", "hash"),
        ("LRU", "lru_hash"),
        ("PERCPU_HASH", "percpu_hash"),
        ("LRU_PERCPU_HASH", "lru_percpu_hash"),
        ("PERCPU", "percpu_array"),
        ("FIFO", "queue"),
        ("LIFO", "stack"),
        ("SEEN", "bloom_filter"),
        ("ROUTES", "lpm_trie"),
        ("JUMPS", "prog_array"),
        ("STACKS", "stack_trace"),
        ("EVENTS", "ringbuf"),
        ("PERF", "perf_event_array"),
        ("FROM_USER", "user_ringbuf"),
        ("INNER_TABLES", "array_of_maps"),
        ("NAMED_TABLES", "hash_of_maps"),
        ("SK_DATA", "sk_storage"),
        ("INODE_DATA", "inode_storage"),
        ("TASK_DATA", "task_storage"),
        ("CGRP_DATA", "cgrp_storage"),
        ("SOCKS", "sockmap"),
        ("SOCKS_BY_PORT", "sockhash"),
        ("DEVS", "devmap"),
        ("DEVS_BY_INDEX", "devmap_hash"),
        ("CPUS", "cpumap"),
        ("XSKS", "xskmap"),
    ];
    for (name, kind) in expected_types {
        let map = loaded
            .map(name)
            .unwrap_or_else(|| panic!("map {name} not created"));
        // bpftool 7.1 predates BPF_MAP_TYPE_CGRP_STORAGE and prints its number.
        let ok = map.info["type"] == kind || (kind == "cgrp_storage" && map.info["type"] == 32);
        assert!(ok, "{name}: expected {kind}, got {}", map.info);
    }
    let routes = &loaded.map("ROUTES").unwrap().info;
    assert_eq!(
        (routes["bytes_key"].as_u64(), routes["flags"].as_u64()),
        (Some(8), Some(1))
    );
    for prog in ["exercise_maps", "tail_target", "touch_definitions"] {
        let p = loaded
            .program(prog)
            .unwrap_or_else(|| panic!("{prog} not loaded"));
        assert!(p.info["btf_id"].as_u64().unwrap_or(0) > 0, "{prog} has BTF");
    }
    eprintln!(
        "maps: exercise_maps verified_insns={}",
        verified_insns(&loaded.pin_dir().join("exercise_maps"))
    );

    // Slot 0 of JUMPS -> tail_target, as userspace fills a program array.
    let status = std::process::Command::new("bpftool")
        .args(["map", "update", "pinned"])
        .arg(loaded.pin_dir().join("maps/JUMPS"))
        .args(["key", "0", "0", "0", "0", "value", "pinned"])
        .arg(loaded.pin_dir().join("tail_target"))
        .status()
        .expect("bpftool runs");
    assert!(status.success());
    test_run(
        &loaded.pin_dir().join("exercise_maps"),
        &[0xc0, 0xa8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );

    let results = map_dump(loaded.map("RESULTS").unwrap().id).expect("dump RESULTS");
    let value = |slot: u32| {
        let e = results
            .iter()
            .find(|e| u32_at(&e.key, 0) == slot)
            .expect("array slot");
        u64::from_ne_bytes(e.value[..8].try_into().unwrap())
    };
    assert_eq!(value(0), 700, "HashMap insert + get_copy");
    assert_eq!(value(1), 800, "LruHashMap");
    assert_eq!(value(2), 1801, "PerCpuHashMap + LruPerCpuHashMap");
    assert_eq!(value(3), 10, "remove succeeds once, then ENOENT");
    assert_eq!(value(4), 31, "PerCpuArray set + get");
    assert_eq!(value(5), 12, "Queue pops 1 (FIFO), Stack pops 2 (LIFO)");
    assert_eq!(value(6), 1, "BloomFilter contains what was inserted");
    assert_eq!(
        value(7),
        21,
        "LpmTrie: /16 wins for 10.1.2.3, /8 for 10.9.9.9"
    );
    assert_eq!(
        value(8),
        4510,
        "bpf_loop closure summed 0..10 over 10 iterations"
    );
    assert_eq!(value(9), 1, "spin-locked counter");
    assert_eq!(value(10), 1234, "Global in .rodata");
    assert_eq!(value(11), 1, "GlobalMut in .bss");
    assert_eq!(
        value(12),
        0xc0a8_0001,
        "XdpContext::load of the packet's first 4 bytes"
    );
    assert_eq!(value(13), 1, "RingBuf::output");
    assert_eq!(value(14), 99, "ProgramArray::tail_call reached tail_target");
}

#[test]
fn execsnoop_reports_pid_ppid_uid_comm_args_and_return_code() {
    use execsnoop_common::{ExecEvent, EVENT_HEADER_SIZE};
    // ppid comes from task_struct.real_parent->tgid through CO-RE, relocated by libbpf.
    let object = build_crate("tools/execsnoop/execsnoop-ebpf", "execsnoop");
    let loaded = prog_loadall(&object).expect("libbpf loads execsnoop");
    for prog in ["execve_enter", "execve_exit"] {
        let p = loaded
            .program(prog)
            .unwrap_or_else(|| panic!("{prog} loaded"));
        assert!(p.info["btf_id"].as_u64().unwrap_or(0) > 0, "{prog} has BTF");
        eprintln!(
            "execsnoop: {prog} verified_insns={}",
            verified_insns(&loaded.pin_dir().join(prog))
        );
    }
    let exe = std::env::temp_dir().join(format!("bpfkit-execsnoop-{}", std::process::id()));
    let _ = std::fs::remove_file(&exe);
    std::os::unix::fs::symlink("/bin/true", &exe).expect("symlink");
    let missing = std::env::temp_dir().join(format!("bpfkit-missing-{}", std::process::id()));
    let child_pid;
    {
        let _enter = attach_tracepoint(
            &loaded.pin_dir().join("execve_enter"),
            "syscalls",
            "sys_enter_execve",
        );
        let _exit = attach_tracepoint(
            &loaded.pin_dir().join("execve_exit"),
            "syscalls",
            "sys_exit_execve",
        );
        let child = std::process::Command::new(&exe)
            .args(["alpha", "beta gamma"])
            .spawn()
            .expect("spawn");
        child_pid = child.id();
        assert!(child.wait_with_output().expect("wait").status.success());
        assert!(std::process::Command::new(&missing).spawn().is_err());
    }
    let _ = std::fs::remove_file(&exe);

    let events: Vec<ExecEvent> = drain_ringbuf(&loaded.pin_dir().join("maps/EVENTS"), 256 * 1024)
        .into_iter()
        .map(|bytes| {
            assert!(
                bytes.len() >= EVENT_HEADER_SIZE && bytes.len() <= std::mem::size_of::<ExecEvent>()
            );
            let mut event = ExecEvent::ZERO;
            // SAFETY: ExecEvent is plain data; `bytes` fits inside it (checked above).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    (&mut event as *mut ExecEvent).cast::<u8>(),
                    bytes.len(),
                )
            };
            event
        })
        .collect();
    let ours = events
        .iter()
        .find(|e| e.pid == child_pid)
        .unwrap_or_else(|| panic!("no event for {child_pid}"));
    // SAFETY: getuid has no memory effects.
    let uid = unsafe { libc::getuid() };
    assert_eq!(ours.ppid, std::process::id(), "ppid is the test process");
    assert_eq!(ours.uid, uid);
    assert_eq!(ours.retval, 0);
    let link_name = exe.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        c_str(&ours.comm),
        &link_name[..15],
        "comm after exec is the link's name, cut to 15"
    );
    let args: Vec<String> = ours
        .args()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(args, [exe.to_str().unwrap(), "alpha", "beta gamma"]);

    let failed = events
        .iter()
        .find(|e| e.args().next() == Some(missing.to_str().unwrap().as_bytes()))
        .expect("event for the failed exec");
    assert_eq!(failed.retval, -libc::ENOENT);
    assert_eq!(failed.ppid, std::process::id());
}

/// Benchmark: verifier-processed instructions of the Rust execsnoop against libbpf-tools'
/// execsnoop.bpf.o (clang, from the corpus) with the same argument limit (60). The goal of
/// issue 5 is at most 1.05x.
#[test]
fn execsnoop_verified_insns_against_libbpf_tools() {
    let c_object = bpfkit_test_support::corpus_dir().join("libbpf-tools/execsnoop.bpf.o");
    if !c_object.exists() {
        eprintln!("skipping: {} not present", c_object.display());
        return;
    }
    let c_object = with_globals(&c_object, &[("max_args", &60i32.to_ne_bytes())]);
    let c = prog_loadall(&c_object).expect("libbpf-tools execsnoop loads");
    let c_enter = verified_insns(&c.pin_dir().join("tracepoint__syscalls__sys_enter_execve"));
    let c_exit = verified_insns(&c.pin_dir().join("tracepoint__syscalls__sys_exit_execve"));
    let rust =
        prog_loadall(&build_crate("tools/execsnoop/execsnoop-ebpf", "execsnoop")).expect("loads");
    let r_enter = verified_insns(&rust.pin_dir().join("execve_enter"));
    let r_exit = verified_insns(&rust.pin_dir().join("execve_exit"));
    eprintln!("execsnoop verified insns: enter rust={r_enter} c={c_enter} ({:.3}x); exit rust={r_exit} c={c_exit} ({:.3}x)",
        r_enter as f64 / c_enter as f64, r_exit as f64 / c_exit as f64);
    assert!(r_enter as f64 <= 1.05 * c_enter as f64, "enter over 1.05x");
    // The Rust exit program also counts ring-buffer drops in the kernel (tool-abi's per-CPU
    // LOST counter: a map lookup and an increment on the failure path); libbpf-tools' exit
    // has no such counter (its perf buffer reports losses in userspace). Like for like, with
    // the counter in both, is execsnoop's own verifier_cost test against its C twin (1.05x);
    // here the exit only guards against growth beyond that counter's cost.
    assert!(
        r_exit as f64 <= 1.15 * c_exit as f64,
        "exit over 1.15x (1.05x plus the lost counter)"
    );
}

/// BPF_PROG_TEST_RUN on a pinned program with optional packet data and context; returns the
/// program's return value.
fn prog_test_run(prog_pin: &Path, data: &[u8], ctx: &[u8]) -> u32 {
    prog_test_run_packet(prog_pin, data, ctx).0
}

/// BPF_PROG_TEST_RUN returning the program's return value and the packet it left.
fn prog_test_run_packet(prog_pin: &Path, data: &[u8], ctx: &[u8]) -> (u32, Vec<u8>) {
    let prog = bpf_obj_get(prog_pin);
    prog_test_run_fd(std::os::fd::AsFd::as_fd(&prog), data, ctx)
}

/// BPF_PROG_TEST_RUN on an open program: its return value and the packet it left.
fn prog_test_run_fd(prog: std::os::fd::BorrowedFd<'_>, data: &[u8], ctx: &[u8]) -> (u32, Vec<u8>) {
    use std::os::fd::AsRawFd;
    let mut data_out = vec![0u8; data.len() + 256];
    // union bpf_attr, test member: prog_fd, retval, data_size_in, data_size_out, data_in,
    // data_out, repeat, duration, ctx_size_in, ctx_size_out, ctx_in, ctx_out, flags, cpu.
    let mut attr = [0u8; 80];
    let put32 =
        |a: &mut [u8; 80], at: usize, v: u32| a[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    let put64 =
        |a: &mut [u8; 80], at: usize, v: u64| a[at..at + 8].copy_from_slice(&v.to_ne_bytes());
    put32(&mut attr, 0, prog.as_raw_fd() as u32);
    if !data.is_empty() {
        put32(&mut attr, 8, data.len() as u32);
        put32(&mut attr, 12, data_out.len() as u32);
        put64(&mut attr, 16, data.as_ptr() as u64);
        put64(&mut attr, 24, data_out.as_mut_ptr() as u64);
    }
    if !ctx.is_empty() {
        put32(&mut attr, 40, ctx.len() as u32);
        put64(&mut attr, 48, ctx.as_ptr() as u64);
    }
    // SAFETY: BPF_PROG_TEST_RUN (10) reads the buffers named in `attr` and writes at most
    // data_size_out bytes to `data_out`, and the retval into `attr`.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, 10, attr.as_mut_ptr(), attr.len()) };
    assert_eq!(
        ret,
        0,
        "BPF_PROG_TEST_RUN: {}",
        std::io::Error::last_os_error()
    );
    let out_len = u32::from_ne_bytes(attr[12..16].try_into().unwrap()) as usize;
    data_out.truncate(out_len.min(data_out.len()));
    (u32::from_ne_bytes(attr[4..8].try_into().unwrap()), data_out)
}

fn array_u64(map_id: u32, slot: u32) -> u64 {
    let entries = map_dump(map_id).expect("dump array");
    let e = entries
        .iter()
        .find(|e| u32_at(&e.key, 0) == slot)
        .expect("array slot");
    u64::from_ne_bytes(e.value[..8].try_into().unwrap())
}

#[test]
fn each_runnable_program_type_records_its_context() {
    let loaded = prog_loadall(&build("program-types")).expect("libbpf loads program-types");
    let results = loaded.map("RESULTS").expect("RESULTS").id;
    for (prog, kind) in [
        ("tc_observe", "sched_cls"),
        ("socket_observe", "socket_filter"),
        ("cgroup_egress", "cgroup_skb"),
        ("dissect", "flow_dissector"),
        ("raw_args", "raw_tracepoint"),
        ("on_exec", "tracing"),
        ("on_sample", "perf_event"),
    ] {
        let p = loaded
            .program(prog)
            .unwrap_or_else(|| panic!("{prog} loaded"));
        assert_eq!(p.prog_type, kind, "{prog}");
        assert!(p.info["btf_id"].as_u64().unwrap_or(0) > 0, "{prog} has BTF");
    }
    let pin = |name: &str| loaded.pin_dir().join(name);
    // Ethernet (IPv4) + a 20-byte IPv4 header from 10.0.0.1 + 6 bytes of payload.
    let mut packet = vec![0u8; 40];
    packet[12..14].copy_from_slice(&[0x08, 0x00]);
    packet[14] = 0x45;
    packet[26..30].copy_from_slice(&[10, 0, 0, 1]);

    assert_eq!(
        prog_test_run(&pin("tc_observe"), &packet, &[]),
        0,
        "TC_ACT_OK"
    );
    assert_eq!(
        array_u64(results, 0),
        40,
        "tc: skb->len includes the Ethernet header"
    );
    assert_eq!(array_u64(results, 1), 0x0800, "tc: skb->protocol");
    assert_eq!(
        array_u64(results, 2),
        0x42,
        "tc: mark written then read back"
    );

    assert_eq!(
        prog_test_run(&pin("socket_observe"), &packet, &[]),
        20,
        "socket filter keeps 20 bytes"
    );
    assert_eq!(
        array_u64(results, 3),
        26,
        "socket filter: skb starts at the network header"
    );
    assert_eq!(
        array_u64(results, 4),
        10,
        "socket filter: byte 12 of the IPv4 header"
    );

    assert_eq!(
        prog_test_run(&pin("cgroup_egress"), &packet, &[]),
        1,
        "cgroup_skb allows"
    );
    assert_eq!(array_u64(results, 5), 26);

    assert_eq!(prog_test_run(&pin("dissect"), &packet, &[]), 0, "BPF_OK");
    assert_eq!(
        array_u64(results, 6),
        14_040,
        "flow dissector: nhoff 14, 40 bytes of packet"
    );

    let args: Vec<u8> = [7u64, 9].iter().flat_map(|v| v.to_ne_bytes()).collect();
    assert_eq!(prog_test_run(&pin("raw_args"), &[], &args), 0);
    assert_eq!(array_u64(results, 7), 7009, "raw tracepoint arguments");

    // tp_btf: attach with BPF_RAW_TRACEPOINT_OPEN, exec a child, find its pid.
    let child_pid = {
        use std::os::fd::{AsRawFd, FromRawFd};
        let prog = bpf_obj_get(&pin("on_exec"));
        let mut attr = [0u64; 2];
        attr[1] = prog.as_raw_fd() as u64;
        // SAFETY: BPF_RAW_TRACEPOINT_OPEN (17) reads name (0: from attach_btf_id) and prog_fd.
        let fd = unsafe { libc::syscall(libc::SYS_bpf, 17, attr.as_mut_ptr(), 16) };
        assert!(
            fd >= 0,
            "BPF_RAW_TRACEPOINT_OPEN: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a new fd owned by nobody else; dropping it detaches.
        let _link = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
        let child = std::process::Command::new("/bin/true")
            .spawn()
            .expect("spawn");
        let pid = child.id();
        assert!(child.wait_with_output().expect("wait").status.success());
        pid
    };
    let execed = map_dump(loaded.map("EXECED").expect("EXECED").id).expect("dump EXECED");
    let entry = execed.iter().find(|e| u32_at(&e.key, 0) == child_pid);
    let entry = entry.unwrap_or_else(|| panic!("tp_btf saw no exec of {child_pid}"));
    assert_eq!(
        u32_at(&entry.value, 0),
        1,
        "task storage counted the child's one exec"
    );

    // perf_event: a software cpu-clock event on this thread every 100 µs of CPU time.
    {
        let attr = PerfEventAttr {
            type_: 1, // PERF_TYPE_SOFTWARE
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: 0, // PERF_COUNT_SW_CPU_CLOCK
            sample_period: 100_000,
            ..Default::default()
        };
        // pid 0 / cpu -1: this thread on any CPU.
        let perf = perf_event_open(&attr, 0, -1, "cpu-clock");
        let prog = bpf_obj_get(&pin("on_sample"));
        perf_event_set_bpf(&perf, &prog);
        let start = std::time::Instant::now();
        let mut spin = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(100) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
    }
    let samples = array_u64(results, 9);
    assert!(
        samples >= 10,
        "perf_event program ran {samples} times in 100 ms of CPU"
    );
    assert_eq!(
        array_u64(results, 10),
        100_000,
        "sample_period seen by the program"
    );
    let stack_id = array_u64(results, 11);
    assert!(stack_id > 0, "get_stackid stored a user stack");
    let stacks = map_dump(loaded.map("STACKS").expect("STACKS").id).expect("dump STACKS");
    let stack = stacks
        .iter()
        .find(|e| u32_at(&e.key, 0) as u64 == stack_id - 1)
        .expect("stack by id");
    let first_ip = u64::from_ne_bytes(stack.value[..8].try_into().unwrap());
    assert!(
        first_ip > 0 && first_ip < 0x8000_0000_0000,
        "a user-space instruction pointer: {first_ip:#x}"
    );
}

#[test]
fn program_types_the_host_cannot_run_pass_the_verifier() {
    let loaded =
        prog_loadall(&build("program-types-load")).expect("libbpf loads program-types-load");
    for (prog, kind) in [
        ("unlink_entry", "kprobe"),
        ("unlink_return", "kprobe"),
        ("openat_entry", "kprobe"),
        ("user_entry", "kprobe"),
        ("user_return", "kprobe"),
        ("usdt_probe", "kprobe"),
        ("sock_events", "sock_ops"),
        ("redirect_msg", "sk_msg"),
        ("redirect_skb", "sk_skb"),
        ("parse_skb", "sk_skb"),
        ("lookup", "sk_lookup"),
        ("sock_create", "cgroup_sock"),
        ("connect4", "cgroup_sock_addr"),
        ("sysctl", "cgroup_sysctl"),
        ("getsockopt", "cgroup_sockopt"),
        ("device", "cgroup_device"),
    ] {
        let p = loaded
            .program(prog)
            .unwrap_or_else(|| panic!("{prog} loaded"));
        assert_eq!(p.prog_type, kind, "{prog}");
        assert!(p.info["btf_id"].as_u64().unwrap_or(0) > 0, "{prog} has BTF");
        eprintln!(
            "program-types-load: {prog} ({kind}) verified_insns={}",
            verified_insns(&loaded.pin_dir().join(prog))
        );
    }
}

/// Builds `program-types-tracing` with one feature (once per test binary; builds are
/// serialised because they share a target directory) and returns a copy of its object.
fn build_tracing_variant(feature: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(f, _)| f == feature) {
        return path.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let objects =
        bpfkit_build::EbpfBuild::new(root.join("testdata/rust-ebpf/program-types-tracing"))
            .target_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-ebpf-tracing"))
            .features([feature])
            .quiet(true)
            .build()
            .unwrap_or_else(|e| panic!("building program-types-tracing/{feature}: {e}"));
    let copy =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("program-types-tracing-{feature}.o"));
    std::fs::copy(&objects[0].path, &copy).expect("copy object");
    built.push((feature.to_string(), copy.clone()));
    copy
}

/// fentry/fexit/fmod_ret/lsm/iter: each program loads with BTF where the host allows its
/// attach kind, and otherwise fails only for the reason TESTING.md records for this host
/// (EPERM for trampolines). On a kernel that allows them (the VM matrix) they must load.
#[test]
fn tracing_program_types_load_where_the_host_allows() {
    for (feature, prog, kind) in [
        ("iter", "each_task", "tracing"),
        ("fentry", "unlink_entry", "tracing"),
        ("fexit", "unlink_exit", "tracing"),
        ("fmod_ret", "deny_nothing", "tracing"),
        ("lsm", "file_open", "lsm"),
    ] {
        let object = build_tracing_variant(feature);
        match prog_loadall(&object) {
            Ok(loaded) => {
                let p = loaded
                    .program(prog)
                    .unwrap_or_else(|| panic!("{prog} loaded"));
                assert_eq!(p.prog_type, kind, "{prog}");
                assert!(p.info["btf_id"].as_u64().unwrap_or(0) > 0, "{prog} has BTF");
                eprintln!(
                    "tracing: {feature}: loaded, verified_insns={}",
                    verified_insns(&loaded.pin_dir().join(prog))
                );
            }
            Err(e) => {
                // This host locks ftrace down: trampoline programs (and BPF LSM) are refused
                // at load with EPERM; anything else is a bug in the object.
                assert_ne!(
                    feature, "iter",
                    "task iterators load on every BTF kernel: {e}"
                );
                assert!(
                    e.contains("BPF program load failed: Operation not permitted"),
                    "{feature}: {e}"
                );
                eprintln!("tracing: {feature}: refused by this host with EPERM");
            }
        }
    }
}

/// The same Rust objects through bpfkit's own loader: every program loads with BTF, and the
/// verifier walks exactly as many instructions as for libbpf's load of the same object.
#[test]
fn rust_objects_load_with_bpfkit_loader_as_with_libbpf() {
    let objects = [
        build("execve-events"),
        build("maps"),
        build("logging"),
        build("program-types"),
        build("program-types-load"),
        build_crate("tools/execsnoop/execsnoop-ebpf", "execsnoop"),
        // Kfunc calls (bpfkit-link's `bpfkit$kfunc$` declarations), resolved by both loaders.
        build_crate("testdata/rust/kfunc", "kfunc"),
    ];
    for object in &objects {
        let libbpf = prog_loadall(object).expect("libbpf loads");
        let ours = bpfkit::loader::Loader::new()
            .load_file(object)
            .unwrap_or_else(|e| panic!("bpfkit loads {}: {e}", object.display()));
        let mut names: Vec<&str> = ours.programs().map(|p| p.name()).collect();
        names.sort_unstable();
        let libbpf_names: Vec<&str> = libbpf
            .programs
            .iter()
            .map(|p| p.pin_name.as_str())
            .collect();
        assert_eq!(names, libbpf_names, "{}", object.display());
        for program in ours.programs() {
            let info = program.info().expect("prog info");
            assert!(info.btf_id > 0, "{}: BTF accepted", program.name());
            let libbpf_insns = verified_insns(&libbpf.pin_dir().join(program.name()));
            assert_eq!(
                info.verified_insns,
                libbpf_insns,
                "{} verified insns",
                program.name()
            );
        }
        eprintln!(
            "bpfkit loader: {} ({} programs) ok",
            object.display(),
            names.len()
        );
    }
}

/// Compiles `testdata/rust-ebpf/c/<name>.bpf.c` with clang-19 -O2 -g.
fn build_c(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = root.join(format!("testdata/rust-ebpf/c/{name}.bpf.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.bpf.o"));
    let status = std::process::Command::new(bpfkit_test_support::CLANG)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang-19 runs");
    assert!(status.success(), "clang-19 failed on {}", source.display());
    out
}

/// Benchmark: the same logic in Rust (bpfkit route) and C (clang-19 -O2), verified
/// instructions side by side. Issue 5's goal is at most 1.05x.
#[test]
fn rust_programs_verify_in_as_few_instructions_as_c() {
    for (rust, c, prog) in [
        ("execve-events", "execve_events", "record_execve"),
        ("maps", "maps", "exercise_maps"),
    ] {
        let r = prog_loadall(&build(rust)).expect("Rust object loads");
        let c_loaded = prog_loadall(&build_c(c)).expect("C object loads");
        let r_insns = verified_insns(&r.pin_dir().join(prog));
        let c_insns = verified_insns(&c_loaded.pin_dir().join(prog));
        let ratio = r_insns as f64 / c_insns as f64;
        eprintln!("{prog}: verified insns rust={r_insns} c={c_insns} ({ratio:.3}x)");
        assert!(ratio <= 1.05, "{prog}: Rust {r_insns} vs C {c_insns}");
    }
}

/// Benchmark: verified instructions of a program whose only work is one `info!` with four
/// integers, logging on and off. (Aya's aya-log-ebpf 0.1 for the same message, built
/// through the bpfkit route and loaded by bpfkit's loader: 345; see testdata/rust-ebpf/README.md.)
#[test]
fn one_log_call_costs_a_few_dozen_verified_instructions() {
    let built = build("log-one");
    let on = prog_loadall(&with_global_u8(&built, "BPFKIT_LOG_LEVEL", 3)).expect("loads");
    let off = prog_loadall(&with_global_u8(&built, "BPFKIT_LOG_LEVEL", 0)).expect("loads");
    let on_insns = verified_insns(&on.pin_dir().join("log_one"));
    let off_insns = verified_insns(&off.pin_dir().join("log_one"));
    eprintln!("log_one: verified insns level info={on_insns} off={off_insns}");
    assert!(on_insns <= 60, "one info! with 4 integers: {on_insns}");
    assert!(
        off_insns <= 6,
        "disabled: only the level check remains: {off_insns}"
    );
}

/// `BPF_PROG_ATTACH` of a pinned program to `target` (a cgroup or a sockmap/sockhash fd).
fn prog_attach(target: &std::os::fd::OwnedFd, prog_pin: &Path, attach_type: u32) {
    use std::os::fd::AsRawFd;
    let prog = bpf_obj_get(prog_pin);
    // union bpf_attr for BPF_PROG_ATTACH: target_fd, attach_bpf_fd, attach_type, attach_flags.
    let mut attr = [
        target.as_raw_fd() as u32,
        prog.as_raw_fd() as u32,
        attach_type,
        0,
    ];
    // SAFETY: BPF_PROG_ATTACH (8) reads the 16-byte `attr`.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, 8, attr.as_mut_ptr(), 16) };
    assert_eq!(
        ret,
        0,
        "BPF_PROG_ATTACH {}: {}",
        prog_pin.display(),
        std::io::Error::last_os_error()
    );
}

fn seen_values(loaded: &bpfkit_test_support::LoadedObject) -> std::collections::HashMap<u32, u64> {
    map_dump(loaded.map("SEEN").expect("SEEN").id)
        .expect("dump SEEN")
        .iter()
        .map(|e| {
            (
                u32_at(&e.key, 0),
                u64::from_ne_bytes(e.value[..8].try_into().unwrap()),
            )
        })
        .collect()
}

/// cgroup sock, sock_addr, sysctl, sockopt and device programs attached to a fresh cgroup v2;
/// a forked child joins it, then creates and connects a socket, reads a sysctl, asks for a
/// socket option and opens /dev/null. Each program records what its context showed.
#[test]
fn cgroup_programs_see_what_a_task_in_the_cgroup_does() {
    use std::ffi::CString;
    use std::os::fd::FromRawFd;
    let root = Path::new("/sys/fs/cgroup/unified");
    let root = if root.join("cgroup.procs").exists() {
        root.to_path_buf()
    } else {
        PathBuf::from("/sys/fs/cgroup")
    };
    let dir = root.join(format!("bpfkit-ebpf-test-{}", std::process::id()));
    std::fs::create_dir(&dir).expect("create cgroup");
    let loaded = prog_loadall(&build("program-types-load")).expect("loads");
    {
        let path = CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: opening a directory read-only; the fd is owned below.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
        assert!(fd >= 0, "open cgroup: {}", std::io::Error::last_os_error());
        // SAFETY: a new fd owned by nobody else.
        let cgroup = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let pin = |name: &str| loaded.pin_dir().join(name);
        prog_attach(
            &cgroup,
            &pin("sock_create"),
            uapi::BPF_CGROUP_INET_SOCK_CREATE,
        );
        prog_attach(&cgroup, &pin("device"), uapi::BPF_CGROUP_DEVICE);
        prog_attach(&cgroup, &pin("connect4"), uapi::BPF_CGROUP_INET4_CONNECT);
        prog_attach(&cgroup, &pin("sysctl"), uapi::BPF_CGROUP_SYSCTL);
        prog_attach(&cgroup, &pin("getsockopt"), uapi::BPF_CGROUP_GETSOCKOPT);

        // Everything the child uses is prepared before fork (no allocation after it).
        let procs = CString::new(dir.join("cgroup.procs").to_str().unwrap()).unwrap();
        let sysctl = CString::new("/proc/sys/kernel/ostype").unwrap();
        let null = CString::new("/dev/null").unwrap();
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: 4242u16.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([10, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: the child only makes system calls and leaves with _exit.
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork: {}", std::io::Error::last_os_error());
        if child == 0 {
            // SAFETY: async-signal-safe calls on prepared buffers; the child never returns.
            unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                let joined = fd >= 0 && libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
                libc::close(fd);
                if !joined {
                    libc::_exit(2);
                }
                let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
                let connected = libc::connect(
                    s,
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                );
                let mut kind = 0i32;
                let mut len = 4u32;
                libc::getsockopt(
                    s,
                    libc::SOL_SOCKET,
                    libc::SO_TYPE,
                    (&mut kind as *mut i32).cast(),
                    &mut len,
                );
                let mut buf = [0u8; 64];
                let f = libc::open(sysctl.as_ptr(), libc::O_RDONLY);
                libc::read(f, buf.as_mut_ptr().cast(), buf.len());
                libc::close(f);
                let n = libc::open(null.as_ptr(), libc::O_RDONLY);
                libc::close(n);
                libc::_exit(if connected == 0 && n >= 0 { 0 } else { 3 });
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "child ended abnormally");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "child: 2 = could not join the cgroup, 3 = connect or open failed"
        );
        drop(cgroup);
    }
    let _ = std::fs::remove_dir(&dir);
    let seen = seen_values(&loaded);
    assert_eq!(
        seen.get(&11),
        Some(&(2 * 100 + 17)),
        "sock_create: AF_INET, IPPROTO_UDP"
    );
    assert_eq!(
        seen.get(&12),
        Some(&(4242u16.to_be() as u64)),
        "connect4: user_port (network order)"
    );
    assert_eq!(
        seen.get(&13),
        Some(&130),
        "sysctl: name 'kernel/ostype' (13), read"
    );
    assert_eq!(
        seen.get(&14),
        Some(&((libc::SOL_SOCKET as u64) * 1000 + libc::SO_TYPE as u64)),
        "getsockopt"
    );
    assert_eq!(seen.get(&15), Some(&1003), "device: /dev/null is 1:3");
}

/// File offset of the dynamic symbol `name` in the ELF shared object at `path`.
fn dynsym_file_offset(path: &Path, name: &str) -> u64 {
    let elf = std::fs::read(path).expect("read shared object");
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c));
    let section = |i: usize| shoff + i * shentsize;
    let dynsym = (0..shnum)
        .map(section)
        .find(|&h| u32_at(h + 4) == 11)
        .expect(".dynsym");
    let strtab = u64_at(section(u32_at(dynsym + 0x28)) + 0x18);
    let (off, size) = (u64_at(dynsym + 0x18), u64_at(dynsym + 0x20));
    let value = (off..off + size)
        .step_by(24)
        .find(|&sym| {
            let start = strtab + u32_at(sym);
            let end = start + elf[start..].iter().position(|b| *b == 0).unwrap();
            &elf[start..end] == name.as_bytes() && u64_at(sym + 8) != 0
        })
        .map(|sym| u64_at(sym + 8))
        .unwrap_or_else(|| panic!("{name} not in {}", path.display()));
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (kind, offset, vaddr, filesz) =
            (u32_at(ph), u64_at(ph + 8), u64_at(ph + 16), u64_at(ph + 32));
        if kind == 1 && value >= vaddr && value < vaddr + filesz {
            return (value - vaddr + offset) as u64;
        }
    }
    panic!("{name} outside every PT_LOAD of {}", path.display());
}

/// uprobe and uretprobe programs attached (perf_event_open on the uprobe PMU) to libc's
/// `getpid` for this thread only; calling it fires both.
#[test]
fn uprobe_and_uretprobe_see_a_libc_call_of_this_thread() {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let libc_path = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
        .expect("libc mapped")
        .to_string();
    let offset = dynsym_file_offset(Path::new(&libc_path), "getpid");
    let pmu: u32 = std::fs::read_to_string("/sys/bus/event_source/devices/uprobe/type")
        .expect("uprobe PMU")
        .trim()
        .parse()
        .expect("PMU type");
    let loaded = prog_loadall(&build("program-types-load")).expect("loads");
    let path = std::ffi::CString::new(libc_path.clone()).unwrap();
    // SAFETY: gettid has no memory effects.
    let tid = unsafe { libc::gettid() };
    let mut links = Vec::new();
    for (prog, retprobe) in [("user_entry", 0u64), ("user_return", 1)] {
        let attr = PerfEventAttr {
            type_: pmu,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: retprobe, // the PMU's `retprobe` format bit is config:0
            sample_period: 1,
            wakeup_events: 1,
            config1: path.as_ptr() as u64,
            config2: offset,
            ..Default::default()
        };
        let perf = perf_event_open(&attr, tid, -1, &format!("uprobe {libc_path}+{offset:#x}"));
        // Closing `perf` detaches the program.
        let program = bpf_obj_get(&loaded.pin_dir().join(prog));
        perf_event_set_bpf(&perf, &program);
        links.push(perf);
    }
    // SAFETY: getpid has no memory effects.
    let pid = unsafe { libc::getpid() };
    drop(links);
    let seen = seen_values(&loaded);
    assert!(seen.contains_key(&4), "uprobe ran: {seen:?}");
    assert_eq!(
        seen.get(&5),
        Some(&(pid as u64)),
        "uretprobe saw getpid's return value"
    );
}

/// sk_lookup run with BPF_PROG_TEST_RUN on a `struct bpf_sk_lookup` context (TCP to
/// 127.0.0.1:8080), and sock_ops attached to a cgroup whose member (a forked child) opens a
/// TCP connection over loopback: the programs record the local port and the TCP events.
#[test]
fn sk_lookup_and_sock_ops_see_their_connections() {
    use std::os::fd::FromRawFd;
    let loaded = prog_loadall(&build("program-types-load")).expect("loads");
    // struct bpf_sk_lookup: sk/cookie (8), family, protocol, remote_ip4, remote_ip6[4],
    // remote_port (be16) + pad, local_ip4, local_ip6[4], local_port, ingress_ifindex.
    let mut ctx = [0u8; 72];
    ctx[8..12].copy_from_slice(&(libc::AF_INET as u32).to_ne_bytes());
    ctx[12..16].copy_from_slice(&(libc::IPPROTO_TCP as u32).to_ne_bytes());
    ctx[16..20].copy_from_slice(&[127, 0, 0, 1]);
    ctx[36..38].copy_from_slice(&40000u16.to_be_bytes());
    ctx[40..44].copy_from_slice(&[127, 0, 0, 1]);
    ctx[60..64].copy_from_slice(&8080u32.to_ne_bytes());
    assert_eq!(
        prog_test_run(&loaded.pin_dir().join("lookup"), &[], &ctx),
        1,
        "SK_PASS"
    );
    assert_eq!(
        seen_values(&loaded).get(&10),
        Some(&8080),
        "sk_lookup: local_port"
    );

    let root = Path::new("/sys/fs/cgroup/unified");
    let root = if root.join("cgroup.procs").exists() {
        root.to_path_buf()
    } else {
        PathBuf::from("/sys/fs/cgroup")
    };
    let dir = root.join(format!("bpfkit-ebpf-sockops-{}", std::process::id()));
    std::fs::create_dir(&dir).expect("create cgroup");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().unwrap().port();
    {
        let path = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: opening a directory read-only; the fd is owned below.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
        assert!(fd >= 0, "open cgroup: {}", std::io::Error::last_os_error());
        // SAFETY: a new fd owned by nobody else.
        let cgroup = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        prog_attach(
            &cgroup,
            &loaded.pin_dir().join("sock_events"),
            uapi::BPF_CGROUP_SOCK_OPS,
        );
        let procs = std::ffi::CString::new(dir.join("cgroup.procs").to_str().unwrap()).unwrap();
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: the child only makes system calls and leaves with _exit.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            // SAFETY: async-signal-safe calls on prepared buffers; the child never returns.
            unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(2);
                }
                libc::close(fd);
                let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                let ok = libc::connect(
                    s,
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                );
                libc::close(s);
                libc::_exit(if ok == 0 { 0 } else { 3 });
            }
        }
        let accepted = listener.accept();
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child status {status}"
        );
        let (stream, peer) = accepted.expect("the child's connection is accepted");
        assert_eq!(
            peer.ip(),
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            "the connection came from the child in the cgroup"
        );
        assert_eq!(
            stream.local_addr().expect("local address").port(),
            port,
            "the child connected to the listener"
        );
    }
    let _ = std::fs::remove_dir(&dir);
    let op = seen_values(&loaded).get(&7).copied();
    // BPF_SOCK_OPS_* are 1..=15 on 6.x; the child's connection produced at least one.
    assert!(matches!(op, Some(1..=15)), "sock_ops recorded op {op:?}");
}

/// A TCP connection over loopback: the listener's port, the client and the accepted server side.
fn loopback_pair() -> (u16, std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("listener address");
    let client = std::net::TcpStream::connect(addr).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (addr.port(), client, server)
}

/// Reads exactly `len` bytes from `stream`, waiting at most 5 s; panics with `what` otherwise.
fn read_within(stream: &mut std::net::TcpStream, len: usize, what: &str) -> Vec<u8> {
    use std::io::Read;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("set read timeout");
    let mut got = vec![0u8; len];
    stream
        .read_exact(&mut got)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    got
}

/// `BPF_MAP_UPDATE_ELEM` of a socket fd into a pinned sockmap/sockhash under `key`.
fn sock_map_insert(map_pin: &Path, key: &[u8], socket: std::os::fd::RawFd) {
    map_update_u32(
        std::os::fd::AsFd::as_fd(&bpf_obj_get(map_pin)),
        key,
        socket as u32,
    );
}

/// `BPF_MAP_UPDATE_ELEM` of a 4-byte value (a number, or an fd of a socket, perf event or
/// inner map) into an open map under `key`. Perf event array entries live only as long as
/// the map fd used to insert them.
fn map_update_u32(map: std::os::fd::BorrowedFd<'_>, key: &[u8], value: u32) {
    use std::os::fd::AsRawFd;
    // union bpf_attr for BPF_MAP_UPDATE_ELEM: map_fd (u32, padded to 8), key, value, flags.
    let mut attr = [0u64; 4];
    attr[0] = map.as_raw_fd() as u64;
    attr[1] = key.as_ptr() as u64;
    attr[2] = (&value as *const u32) as u64;
    // SAFETY: BPF_MAP_UPDATE_ELEM (2) reads key and value of the map's sizes.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, 2, attr.as_mut_ptr(), 32) };
    assert_eq!(
        ret,
        0,
        "BPF_MAP_UPDATE_ELEM: {}",
        std::io::Error::last_os_error()
    );
}

/// sk_msg attached to a sockmap holding a client socket sees the message it sends and
/// redirects it (to the same socket's egress); the sk_skb parser/verdict pair attached to a
/// sockhash holding a server socket sees arriving data and sends it back out of that socket,
/// so the client reads its own bytes echoed.
#[test]
fn sk_msg_and_sk_skb_see_and_redirect_socket_data() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let loaded = prog_loadall(&build("program-types-load")).expect("loads");
    let pin = |name: &str| loaded.pin_dir().join(name);
    let attach_to_map = |map: &str, prog: &str, attach_type: u32| {
        let map_fd = bpf_obj_get(&pin(&format!("maps/{map}")));
        prog_attach(&map_fd, &pin(prog), attach_type);
    };
    attach_to_map("SOCKS", "redirect_msg", uapi::BPF_SK_MSG_VERDICT);
    attach_to_map("SOCKS_BY_PORT", "parse_skb", uapi::BPF_SK_SKB_STREAM_PARSER);
    attach_to_map(
        "SOCKS_BY_PORT",
        "redirect_skb",
        uapi::BPF_SK_SKB_STREAM_VERDICT,
    );

    // sk_msg: the client's sendmsg passes through the program.
    let (_, mut client, mut server) = loopback_pair();
    sock_map_insert(&pin("maps/SOCKS"), &0u32.to_ne_bytes(), client.as_raw_fd());
    client.write_all(b"hello").expect("send");
    let got = read_within(&mut server, 5, "server receives the redirected message");
    assert_eq!(got, b"hello");
    assert_eq!(
        seen_values(&loaded).get(&8),
        Some(&5),
        "sk_msg: message size"
    );

    // sk_skb: data arriving at the server socket is redirected back out of it.
    let (port, mut client, server) = loopback_pair();
    sock_map_insert(
        &pin("maps/SOCKS_BY_PORT"),
        &u32::from(port).to_ne_bytes(),
        server.as_raw_fd(),
    );
    client.write_all(b"ping").expect("send");
    let echo = read_within(&mut client, 4, "client receives the echo");
    assert_eq!(echo, b"ping");
    assert_eq!(
        seen_values(&loaded).get(&9),
        Some(&4),
        "sk_skb: packet length"
    );
}

/// The task iterator attached with BPF_LINK_CREATE and run by reading a BPF_ITER_CREATE fd:
/// it visits tasks (a non-NULL `task_struct` pointer reaches the program).
#[test]
fn task_iterator_visits_tasks_when_read() {
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd};
    let loaded = prog_loadall(&build_tracing_variant("iter")).expect("iterator loads");
    let prog = bpf_obj_get(&loaded.pin_dir().join("each_task"));
    // union bpf_attr for BPF_LINK_CREATE: prog_fd, target_fd, attach_type (BPF_TRACE_ITER), flags.
    let mut attr = [prog.as_raw_fd() as u32, 0, 28, 0, 0, 0, 0, 0];
    // SAFETY: BPF_LINK_CREATE (28) reads the 32-byte `attr` (no iterator info).
    let link = unsafe { libc::syscall(libc::SYS_bpf, 28, attr.as_mut_ptr(), 32) };
    assert!(
        link >= 0,
        "BPF_LINK_CREATE: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new fd owned by nobody else.
    let link = unsafe { std::os::fd::OwnedFd::from_raw_fd(link as i32) };
    let mut attr = [link.as_raw_fd() as u32, 0];
    // SAFETY: BPF_ITER_CREATE (33) reads link_fd and flags.
    let iter = unsafe { libc::syscall(libc::SYS_bpf, 33, attr.as_mut_ptr(), 8) };
    assert!(
        iter >= 0,
        "BPF_ITER_CREATE: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new fd owned by nobody else.
    let mut iter = unsafe { std::fs::File::from_raw_fd(iter as i32) };
    let mut out = Vec::new();
    iter.read_to_end(&mut out).expect("run the iterator");
    let seen = seen_values(&loaded);
    let task = seen.get(&4).copied().unwrap_or(0);
    // Kernel addresses sit in the top half of the address space (x86_64 and arm64).
    assert!(
        task >= 0xffff_0000_0000_0000,
        "a kernel task_struct address reached the program: {task:#x}"
    );
}

/// `Pinned*` definitions through bpfkit's loader with a pin directory: the first load pins
/// them by name, the second reuses them (same map ids), the unpinned map is per load.
#[test]
fn pinned_map_definitions_are_shared_between_loads() {
    let object = build("pinned-maps");
    let dir = PathBuf::from(format!(
        "/sys/fs/bpf/bpfkit-ebpf-pins-{}",
        std::process::id()
    ));
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mounts");
    if !mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
    {
        let _ = std::process::Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .status();
    }
    std::fs::create_dir_all(&dir).expect("pin dir");
    let map_id = |o: &bpfkit::loader::Object, name: &str| {
        let map = o.map(name).unwrap_or_else(|| panic!("map {name}"));
        bpfkit::info::MapInfo::from_fd(std::os::fd::AsFd::as_fd(map))
            .expect("map info")
            .id
    };
    let result = std::panic::catch_unwind(|| {
        let first = bpfkit::loader::Loader::new()
            .pin_dir(&dir)
            .load_file(&object)
            .expect("first load");
        let second = bpfkit::loader::Loader::new()
            .pin_dir(&dir)
            .load_file(&object)
            .expect("second load");
        for name in ["SHARED_COUNTS", "SHARED_RECENT", "SHARED_TOTAL"] {
            assert!(dir.join(name).exists(), "{name} pinned by name");
            assert_eq!(map_id(&first, name), map_id(&second, name), "{name} shared");
        }
        assert!(!dir.join("PRIVATE").exists());
        assert_ne!(
            map_id(&first, "PRIVATE"),
            map_id(&second, "PRIVATE"),
            "unpinned maps are per load"
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Packet rewriting from Rust: direct access through `XdpContext::ptr_at`, `adjust_head`,
/// `SkBuffContext::store` and `change_tail`; the kernel returns the rewritten packet.
#[test]
fn packet_rewrites_reach_the_packet() {
    let loaded = prog_loadall(&build("packets")).expect("loads");
    let pin = |name: &str| loaded.pin_dir().join(name);
    let mut frame = vec![0u8; 60];
    frame[..6].copy_from_slice(&[1, 1, 1, 1, 1, 1]);
    frame[6..12].copy_from_slice(&[2, 2, 2, 2, 2, 2]);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    frame[14] = 0x45;
    frame[22] = 64; // TTL

    let (verdict, out) = prog_test_run_packet(&pin("swap_macs"), &frame, &[]);
    assert_eq!(verdict, 2, "XDP_PASS");
    assert_eq!(&out[..12], &[2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]);
    assert_eq!(&out[12..], &frame[12..]);

    let (verdict, out) = prog_test_run_packet(&pin("push_tag"), &frame, &[]);
    assert_eq!(verdict, 2, "XDP_PASS");
    assert_eq!(out.len(), frame.len() + 4);
    assert_eq!(&out[..4], &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(&out[4..], &frame[..]);

    let (verdict, out) = prog_test_run_packet(&pin("rewrite_ttl"), &frame, &[]);
    assert_eq!(verdict, 0, "TC_ACT_OK");
    assert_eq!(out.len(), 34, "trimmed to Ethernet + IPv4 header");
    assert_eq!(out[22], 7, "TTL rewritten");
    assert_eq!(&out[..22], &frame[..22]);
}

/// `printk!` writes a formatted line into the kernel's trace buffer.
#[test]
fn printk_reaches_the_trace_buffer() {
    let loaded = prog_loadall(&build("packets")).expect("loads");
    let tracefs = Path::new("/sys/kernel/tracing");
    if !tracefs.join("trace").exists() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "tracefs", "none", "/sys/kernel/tracing"])
            .status();
    }
    // A word unique to this run, so other users of the trace buffer do not matter.
    let marker = 0x5eed_0000u32 | (std::process::id() & 0xffff);
    let mut packet = vec![0u8; 40];
    packet[..4].copy_from_slice(&marker.to_be_bytes());
    assert_eq!(
        prog_test_run(&loaded.pin_dir().join("print_packet"), &packet, &[]),
        2
    );
    let trace = std::fs::read_to_string(tracefs.join("trace")).expect("read trace");
    let expected = format!("bpfkit-printk {marker:x} len 40");
    assert!(
        trace.lines().any(|l| l.ends_with(&expected)),
        "no line ending with {expected:?}"
    );
}

/// The log level set through bpfkit's loader (`Loader::set_global`, the `.rodata` rewrite a
/// userspace reader does): at `trace` every record arrives, at `off` none does and the
/// verifier walks only the level checks.
#[test]
fn log_level_set_by_bpfkit_loader_filters_and_prunes() {
    let object = build("logging");
    let mut counts = Vec::new();
    for level in [5u8, 0] {
        let loaded = bpfkit::loader::Loader::new()
            .set_global("BPFKIT_LOG_LEVEL", &[level])
            .load_file(&object)
            .expect("bpfkit loads the logging object");
        let program = loaded.program("log_everything").expect("program");
        let insns = program.info().expect("info").verified_insns;
        let (verdict, _) = prog_test_run_fd(program.fd(), &[0u8; 64], &[]);
        assert_eq!(verdict, 2, "XDP_PASS");
        let logs = loaded.map("BPFKIT_LOGS").expect("BPFKIT_LOGS");
        let records = drain_ringbuf_fd(std::os::fd::AsFd::as_fd(logs), 64 * 1024);
        let messages: Vec<String> = records
            .iter()
            .map(|r| {
                bpfkit_log::decode(r)
                    .and_then(|d| d.message())
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        eprintln!(
            "bpfkit loader, level {level}: {} records, verified_insns={insns}",
            messages.len()
        );
        counts.push((messages.len(), insns));
    }
    assert_eq!(counts[0].0, 6, "level trace: every call logs");
    assert_eq!(counts[1].0, 0, "level off: nothing logs");
    assert_eq!(
        counts[1].1, 18,
        "level off: only the six level checks are walked"
    );
    assert!(counts[0].1 > 200);
}

/// `PerfEventArray::output`: a `PERF_COUNT_SW_BPF_OUTPUT` event per CPU in the array, the
/// program run once, and the sample read back from the mmapped perf ring of some CPU.
#[test]
fn perf_event_array_output_reaches_a_perf_buffer() {
    use std::os::fd::{AsFd, AsRawFd};
    let loaded = prog_loadall(&build("packets")).expect("loads");
    // Kept open for the whole test: closing it would clear the entries it inserted.
    let samples = bpf_obj_get(&loaded.pin_dir().join("maps/SAMPLES"));
    // SAFETY: sysconf has no memory effects.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as i32;
    let page = 4096usize;
    let pages = 1 + 4; // metadata page + 4 data pages
    let mut rings = Vec::new();
    for cpu in 0..cpus {
        let attr = PerfEventAttr {
            type_: 1,   // PERF_TYPE_SOFTWARE
            config: 10, // PERF_COUNT_SW_BPF_OUTPUT
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            sample_type: 1 << 10, // PERF_SAMPLE_RAW
            sample_period: 1,
            wakeup_events: 1,
            ..Default::default()
        };
        let fd = perf_event_open(&attr, -1, cpu, "software bpf-output");
        // Read-write as perf requires; unmapped below.
        let prot_rw = libc::PROT_READ | libc::PROT_WRITE;
        let ring = mmap_shared(fd.as_raw_fd(), pages * page, prot_rw, 0, "perf ring");
        map_update_u32(
            samples.as_fd(),
            &(cpu as u32).to_ne_bytes(),
            fd.as_raw_fd() as u32,
        );
        // SAFETY: enabling takes no argument.
        unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) };
        rings.push((fd, ring));
    }
    let marker = *b"bpfkit!!";
    let mut packet = vec![0u8; 40];
    packet[..8].copy_from_slice(&marker);
    let prog = bpf_obj_get(&loaded.pin_dir().join("sample_packet"));
    assert_eq!(prog_test_run_fd(prog.as_fd(), &packet, &[]).0, 2);
    let mut found = Vec::new();
    for (_, ring) in &rings {
        // SAFETY: the metadata page's data_head (offset 1024) is written by the kernel; records
        // between 0 and data_head (no wrap for one small sample) lie in the data pages.
        unsafe {
            let head = std::ptr::read_volatile(ring.add(1024).cast::<u64>()) as usize;
            let data = ring.add(page);
            let mut at = 0usize;
            while at < head {
                let kind = std::ptr::read(data.add(at).cast::<u32>());
                let size = std::ptr::read(data.add(at + 6).cast::<u16>()) as usize;
                if kind == 9 {
                    // PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW: u32 size, then the raw bytes.
                    let raw_len = std::ptr::read(data.add(at + 8).cast::<u32>()) as usize;
                    found.push(
                        std::slice::from_raw_parts(data.add(at + 12), raw_len.min(8)).to_vec(),
                    );
                }
                at += size.max(8);
            }
        }
    }
    for (_, ring) in &rings {
        // SAFETY: unmapping what was mapped above.
        unsafe { libc::munmap(ring.cast(), pages * page) };
    }
    assert_eq!(
        found,
        vec![marker.to_vec()],
        "one sample carrying the packet's first 8 bytes"
    );
}

/// `BPF_MAP_CREATE` of an array of `u32` with four entries (the inner maps' template).
fn create_u32_array() -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, ...
    let mut attr = [0u32; 18];
    attr[..4].copy_from_slice(&[2, 4, 4, 4]); // BPF_MAP_TYPE_ARRAY, u32 -> u32, 4 entries
                                              // SAFETY: BPF_MAP_CREATE (0) reads `attr`.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0,
            attr.as_mut_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    assert!(
        fd >= 0,
        "BPF_MAP_CREATE: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new fd owned by nobody else.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }
}

/// ArrayOfMaps / HashOfMaps: userspace puts inner arrays in the outer maps; the program
/// looks them up and reads an element through the inner definition's own methods.
#[test]
fn map_in_map_lookups_reach_the_inner_maps() {
    use std::os::fd::{AsFd, AsRawFd};
    let loaded = prog_loadall(&build("maps")).expect("loads");
    let (first, second) = (create_u32_array(), create_u32_array());
    map_update_u32(first.as_fd(), &2u32.to_ne_bytes(), 7);
    map_update_u32(second.as_fd(), &2u32.to_ne_bytes(), 9);
    let outer = bpf_obj_get(&loaded.pin_dir().join("maps/INNER_TABLES"));
    map_update_u32(outer.as_fd(), &0u32.to_ne_bytes(), first.as_raw_fd() as u32);
    let named = bpf_obj_get(&loaded.pin_dir().join("maps/NAMED_TABLES"));
    map_update_u32(
        named.as_fd(),
        &1u32.to_ne_bytes(),
        second.as_raw_fd() as u32,
    );
    assert_eq!(
        prog_test_run(&loaded.pin_dir().join("touch_definitions"), &[0u8; 16], &[]),
        2,
        "XDP_PASS"
    );
    assert_eq!(
        array_u64(loaded.map("RESULTS").unwrap().id, 15),
        7009,
        "inner[2] of both outer maps"
    );
}

/// UserRingBuf: this process writes three u64 samples through the producer side of the
/// mmapped user ring buffer; the program drains them with a closure that sums them.
#[test]
fn user_ring_buffer_samples_are_drained_by_the_program() {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    let loaded = prog_loadall(&build("maps")).expect("loads");
    let map = bpf_obj_get(&loaded.pin_dir().join("maps/FROM_USER"));
    let (page, size) = (4096usize, 4096usize);
    // The consumer page is read-only for userspace; producer page + data (twice) are
    // writable; both are unmapped below.
    let prot_rw = libc::PROT_READ | libc::PROT_WRITE;
    let cons = mmap_shared(map.as_raw_fd(), page, libc::PROT_READ, 0, "consumer");
    let prod = mmap_shared(map.as_raw_fd(), page + 2 * size, prot_rw, page, "producer");
    // SAFETY: positions are u64 at the start of their pages; each sample is an 8-byte header
    // (length, page offset) and 8 bytes of data, written before the producer position moves.
    unsafe {
        let prod_pos = &*(prod as *const AtomicU64);
        let mut pos = prod_pos.load(Ordering::Acquire);
        for value in [5u64, 6, 7] {
            let at = prod.add(page + (pos as usize & (size - 1)));
            (*(at.add(4) as *const AtomicU32)).store(0, Ordering::Relaxed);
            std::ptr::write(at.add(8).cast::<u64>(), value);
            (*(at as *const AtomicU32)).store(8, Ordering::Release);
            pos += 16;
            prod_pos.store(pos, Ordering::Release);
        }
        let _ = cons;
    }
    assert_eq!(
        prog_test_run(&loaded.pin_dir().join("touch_definitions"), &[0u8; 16], &[]),
        2
    );
    // SAFETY: unmapping what was mapped above.
    unsafe {
        libc::munmap(cons.cast(), page);
        libc::munmap(prod.cast(), page + 2 * size);
    }
    assert_eq!(
        array_u64(loaded.map("RESULTS").unwrap().id, 16),
        183,
        "sum 18, 3 samples"
    );
}

/// A `log::Log` that keeps (level, target, message) of every record it is given.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<(log::Level, String, String)>>>);

impl log::Log for Captured {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let entry = (
            record.level(),
            record.target().to_string(),
            record.args().to_string(),
        );
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
    }
    fn flush(&self) {}
}

impl Captured {
    fn messages(&self) -> Vec<(log::Level, String, String)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

const EXPECTED_LOGS: [(log::Level, &str, &str); 6] = [
    (log::Level::Error, "logging", "unsigned 8 16 32 64"),
    (log::Level::Warn, "logging", "signed -8 -16 -32 -64"),
    (
        log::Level::Info,
        "logging",
        "hex beef CAFE bool true packet 64 bytes",
    ),
    (
        log::Level::Info,
        "logging",
        "ipv4 10.1.2.3 192.168.0.1 ipv6 2001:db8::1 mac 02:42:ac:11:00:0a",
    ),
    (log::Level::Debug, "logging", "name bpfkit str from rust"),
    (log::Level::Trace, "custom", "bytes 0102ff"),
];

fn as_expected(got: &[(log::Level, String, String)]) -> Vec<(log::Level, &str, &str)> {
    got.iter()
        .map(|(l, t, m)| (*l, t.as_str(), m.as_str()))
        .collect()
}

/// `EbpfLogger` on bpfkit's loader and ring buffer reader: blocking (`wait_and_forward`) and
/// on tokio (`run`), every record reaches the `log::Log` with its level, target and message.
#[test]
fn ebpf_logger_forwards_records_blocking_and_on_tokio() {
    let object = build("logging");
    let load = || {
        bpfkit::loader::Loader::new()
            .set_global("BPFKIT_LOG_LEVEL", &[5])
            .load_file(&object)
            .expect("bpfkit loads the logging object")
    };

    let loaded = load();
    let captured = Captured::default();
    let mut logs = bpfkit_log::EbpfLogger::new(&loaded)
        .expect("log ring")
        .with_logger(Box::new(captured.clone()));
    let program = loaded.program("log_everything").expect("program");
    assert_eq!(prog_test_run_fd(program.fd(), &[0u8; 64], &[]).0, 2);
    let forwarded = logs
        .wait_and_forward(Some(std::time::Duration::from_secs(5)))
        .expect("forward");
    assert_eq!(forwarded, 6);
    assert_eq!(as_expected(&captured.messages()), EXPECTED_LOGS);
    assert_eq!(logs.decode_errors(), 0);

    let loaded = load();
    let captured = Captured::default();
    let logs = bpfkit_log::EbpfLogger::new(&loaded)
        .expect("log ring")
        .with_logger(Box::new(captured.clone()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        let task = tokio::spawn(logs.run());
        let program = loaded.program("log_everything").expect("program");
        assert_eq!(prog_test_run_fd(program.fd(), &[0u8; 64], &[]).0, 2);
        for _ in 0..500 {
            if captured.messages().len() >= 6 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        task.abort();
    });
    assert_eq!(as_expected(&captured.messages()), EXPECTED_LOGS);
}

/// `core_read!`/`core_field_size!`/`core_field_exists!`: the program reads its caller's tgid and parent's
/// tgid from `task_struct` at offsets CO-RE moved to the running kernel's, loaded by libbpf
/// and by bpfkit's loader.
#[test]
fn core_read_follows_task_struct_to_the_parent() {
    let object = build("core-read");
    let libbpf = prog_loadall(&object).expect("libbpf relocates and loads");
    let attachment = attach_tracepoint(
        &libbpf.pin_dir().join("on_getppid"),
        "syscalls",
        "sys_enter_getppid",
    );
    // SAFETY: getppid/getpid have no memory effects.
    let (ppid, pid) = unsafe { (libc::getppid(), libc::getpid()) };
    drop(attachment);
    let seen = map_dump(libbpf.map("SEEN").expect("SEEN").id).expect("dump SEEN");
    let mine = seen
        .iter()
        .find(|e| u32_at(&e.key, 0) == pid as u32)
        .expect("an entry for this process");
    let v = &mine.value;
    assert_eq!(u32_at(v, 0) as i32, pid, "task_struct.tgid");
    assert_eq!(u32_at(v, 4) as i32, ppid, "task_struct.real_parent->tgid");
    assert_eq!(u32_at(v, 8), 4, "size of tgid");
    assert_eq!(u32_at(v, 12), 0, "a member no kernel has does not exist");

    let ours = bpfkit::loader::Loader::new()
        .load_file(&object)
        .expect("bpfkit relocates and loads");
    let program = ours.program("on_getppid").expect("program");
    assert_eq!(
        program.info().expect("info").verified_insns,
        verified_insns(&libbpf.pin_dir().join("on_getppid")),
        "same relocated program as libbpf's"
    );
}
