//! Programs built from raw instructions and run with PROG_TEST_RUN write maps; verifier
//! rejections carry the log; pins, info, stats, links and cgroup attach against the kernel.

mod common;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use bpfkit::info::{self, LinkInfo, ProgramInfo};
use bpfkit::maps::*;
use bpfkit::sys::{self, uapi, ProgLoadAttr, TestRunAttr};
use bpfkit_test_support::cgroup::TestCgroup;
use common::*;

fn load(prog_type: u32, name: &str, insns: &[u64]) -> OwnedFd {
    sys::prog_load(&ProgLoadAttr {
        prog_type,
        insns,
        license: c"GPL",
        name,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("load {name}: {e}"))
    .0
}

/// Socket filter: `map[1] = 42; return 7`.
fn update_program(map: &MapData) -> OwnedFd {
    let ld = ld_map_fd(1, map.as_fd().as_raw_fd());
    let insns = [
        st_w(10, -4, 1),
        st_dw(10, -16, 42),
        ld[0],
        ld[1],
        mov64_reg(2, 10),
        add64_imm(2, -4),
        mov64_reg(3, 10),
        add64_imm(3, -16),
        mov64_imm(4, 0),
        call(uapi::BPF_FUNC_map_update_elem as i32),
        mov64_imm(0, 7),
        exit(),
    ];
    load(uapi::BPF_PROG_TYPE_SOCKET_FILTER, "update_map", &insns)
}

fn run(prog: &OwnedFd, repeat: u32) -> sys::TestRunOutcome {
    let packet = [0u8; 64];
    sys::prog_test_run(
        prog.as_fd(),
        TestRunAttr {
            data_in: &packet,
            repeat,
            ..Default::default()
        },
    )
    .expect("test run")
}

#[test]
fn program_run_with_test_run_writes_the_map_userspace_reads() {
    let fds = FdCheck::start();
    {
        let data = MapData::create(&MapParams::new("from_prog", MapType::Hash, 4, 8, 4)).unwrap();
        let prog = update_program(&data);
        let map: HashMap<_, u32, u64> = HashMap::new(&data).unwrap();
        assert_eq!(map.get(&1).unwrap(), None);
        let out = run(&prog, 1);
        assert_eq!(out.retval, 7);
        assert_eq!(map.get(&1).unwrap(), Some(42));
        assert_eq!(map.keys().count(), 1);
    }
    fds.assert_no_leak();
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE on any machine these tests run on.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: valid set for the calling thread (pid 0).
    let r = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(r, 0, "sched_setaffinity({cpu})");
}

#[test]
fn per_cpu_values_written_by_a_program_land_on_the_cpu_that_ran_it() {
    let fds = FdCheck::start();
    {
        let cpus = possible_cpus().unwrap();
        let online = std::thread::available_parallelism().map_or(1, |n| n.get());
        let data =
            MapData::create(&MapParams::new("pc_prog", MapType::PercpuArray, 4, 8, 1)).unwrap();
        let ld = ld_map_fd(1, data.as_fd().as_raw_fd());
        // XDP: v = lookup(map, 0); if v { *v += 1 }; return XDP_PASS
        let insns = [
            st_w(10, -4, 0),
            ld[0],
            ld[1],
            mov64_reg(2, 10),
            add64_imm(2, -4),
            call(uapi::BPF_FUNC_map_lookup_elem as i32),
            insn(0x15, 0, 0, 3, 0), // if r0 == 0 goto +3
            insn(0x79, 1, 0, 0, 0), // r1 = *(u64 *)(r0 + 0)
            add64_imm(1, 1),
            insn(0x7b, 0, 1, 0, 0), // *(u64 *)(r0 + 0) = r1
            mov64_imm(0, uapi::XDP_PASS as i32),
            exit(),
        ];
        let prog = load(uapi::BPF_PROG_TYPE_XDP, "count_per_cpu", &insns);
        // Run on a helper thread pinned to each CPU in turn: CPU c runs c + 1 times.
        let used = cpus.min(online);
        std::thread::scope(|s| {
            s.spawn(|| {
                for cpu in 0..used {
                    pin_to_cpu(cpu);
                    let out = run(&prog, cpu as u32 + 1);
                    assert_eq!(out.retval, uapi::XDP_PASS);
                }
            });
        });
        let arr: PerCpuArray<_, u64> = PerCpuArray::new(&data).unwrap();
        let values = arr.get(0).unwrap().0;
        let expected: Vec<u64> = (0..cpus as u64)
            .map(|c| if (c as usize) < used { c + 1 } else { 0 })
            .collect();
        assert_eq!(values, expected);
    }
    fds.assert_no_leak();
}

#[test]
fn verifier_rejection_returns_the_log() {
    let fds = FdCheck::start();
    {
        // `exit` without setting r0.
        let err = sys::prog_load(&ProgLoadAttr {
            prog_type: uapi::BPF_PROG_TYPE_SOCKET_FILTER,
            insns: &[exit()],
            license: c"GPL",
            name: "bad",
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.source.call, "BPF_PROG_LOAD");
        assert_eq!(err.source.errno(), Some(libc::EACCES));
        assert!(
            err.verifier_log.contains("R0 !read_ok"),
            "{}",
            err.verifier_log
        );
        assert!(bpfkit::Report(&err).to_string().contains("R0 !read_ok"));
    }
    fds.assert_no_leak();
}

#[test]
fn verifier_error_display_is_a_summary_and_alternate_has_the_log() {
    let fds = FdCheck::start();
    {
        // 40 moves, then `exit` without setting r0: a log with a line per instruction.
        let mut insns: Vec<u64> = (0..40).map(|i| mov64_imm(1, i)).collect();
        insns.push(exit());
        let err = sys::prog_load(&ProgLoadAttr {
            prog_type: uapi::BPF_PROG_TYPE_SOCKET_FILTER,
            insns: &insns,
            license: c"GPL",
            name: "bad_long",
            log_level: 2,
            ..Default::default()
        })
        .unwrap_err();
        let log = err.verifier_log();
        assert!(log.lines().count() > 40, "{log}");
        assert_eq!(err.failing_instruction(), Some("40: (95) exit"), "{log}");
        let summary = bpfkit::Report(&err).to_string();
        println!("summary:\n{summary}");
        assert!(
            summary.starts_with("BPF_PROG_LOAD failed: Permission denied"),
            "{summary}"
        );
        assert!(summary.contains("40: (95) exit"), "{summary}");
        assert!(summary.contains("R0 !read_ok"), "{summary}");
        assert!(summary.lines().count() <= 7, "{summary}");
        assert!(!summary.contains("0: (b7) r1 = 0\n"), "{summary}");
        // The alternate form carries the whole log.
        let full = format!("{err:#}");
        assert!(full.contains(log.trim_end()), "{full}");
        assert!(full.contains("0: (b7) r1 = 0"), "{full}");
        assert!(std::error::Error::source(&err).is_none());
    }
    fds.assert_no_leak();
}

#[test]
fn requested_verifier_log_is_returned_on_success_and_grows_on_enospc() {
    let fds = FdCheck::start();
    {
        // 2000 instructions at log level 2 write far more than the initial 64 KiB buffer.
        let mut insns = vec![mov64_imm(0, 0); 2000];
        insns.push(exit());
        let (fd, log) = sys::prog_load(&ProgLoadAttr {
            prog_type: uapi::BPF_PROG_TYPE_SOCKET_FILTER,
            insns: &insns,
            license: c"GPL",
            name: "long_log",
            log_level: 2,
            ..Default::default()
        })
        .unwrap();
        assert!(log.len() > 64 * 1024, "log of {} bytes", log.len());
        assert!(
            log.contains("processed 2001 insns"),
            "{}",
            &log[log.len() - 300..]
        );
        drop(fd);
    }
    fds.assert_no_leak();
}

#[test]
fn pinned_map_reopened_keeps_its_contents_and_pins_are_removed() {
    let fds = FdCheck::start();
    {
        let dir = BpffsDir::new("pin");
        let path = dir.path.join("counts");
        {
            let map: HashMap<MapData, u32, u32> = HashMap::new(
                MapData::create(&MapParams::new("pinned", MapType::Hash, 4, 4, 8)).unwrap(),
            )
            .unwrap();
            map.insert(&1, &100, 0).unwrap();
            map.insert(&2, &200, 0).unwrap();
            map.map().pin(&path).unwrap();
        }
        let reopened: HashMap<MapData, u32, u32> =
            HashMap::new(MapData::from_pin(&path).unwrap()).unwrap();
        assert_eq!(reopened.map().name(), "pinned");
        assert_eq!(reopened.map().map_type(), MapType::Hash);
        let mut all: Vec<(u32, u32)> = reopened.iter().map(Result::unwrap).collect();
        all.sort();
        assert_eq!(all, [(1, 100), (2, 200)]);
        let err = reopened.map().pin(&path).unwrap_err();
        let text = bpfkit::Report(&err).to_string();
        assert!(text.contains("BPF_OBJ_PIN"), "{text}");

        // Programs pin the same way.
        let prog = load(
            uapi::BPF_PROG_TYPE_SOCKET_FILTER,
            "pinned_prog",
            &[mov64_imm(0, 0), exit()],
        );
        let prog_path = dir.path.join("prog");
        bpfkit::pin::pin_fd(prog.as_fd(), &prog_path).unwrap();
        let again = bpfkit::pin::open_pinned(&prog_path).unwrap();
        assert_eq!(
            ProgramInfo::from_fd(again.as_fd()).unwrap().id,
            ProgramInfo::from_fd(prog.as_fd()).unwrap().id
        );
        bpfkit::pin::unpin(&prog_path).unwrap();
        bpfkit::pin::unpin(&path).unwrap();
        assert!(!path.exists() && !prog_path.exists());
        dir.remove();
    }
    fds.assert_no_leak();
}

#[test]
fn info_lists_loaded_programs_and_maps_as_bpftool_sees_them() {
    let fds = FdCheck::start();
    {
        let data = MapData::create(&MapParams::new("info_map", MapType::Hash, 4, 8, 4)).unwrap();
        let prog = update_program(&data);
        let mine = ProgramInfo::from_fd(prog.as_fd()).unwrap();
        let map_id = data.id().unwrap();
        assert_eq!(mine.name, "update_map");
        assert_eq!(mine.program_type, uapi::BPF_PROG_TYPE_SOCKET_FILTER);
        assert_eq!(mine.map_ids, [map_id]);
        assert!(mine.gpl_compatible);

        let listed = info::loaded_programs().unwrap();
        assert_eq!(listed.iter().filter(|p| p.id == mine.id).count(), 1);
        let maps = info::loaded_maps().unwrap();
        let m = maps.iter().find(|m| m.id == map_id).expect("map listed");
        assert_eq!(
            (m.name.as_str(), m.key_size, m.value_size),
            ("info_map", 4, 8)
        );

        let j = bpftool(&["prog", "show", "id", &mine.id.to_string()]);
        assert_eq!(j["type"], "socket_filter");
        assert_eq!(j["name"], "update_map");
        assert_eq!(j["tag"], mine.tag_hex());
        assert_eq!(
            j["bytes_xlated"].as_u64(),
            Some(u64::from(mine.xlated_prog_len))
        );
        assert_eq!(
            j["bytes_jited"].as_u64(),
            Some(u64::from(mine.jited_prog_len))
        );
        assert_eq!(j["map_ids"][0].as_u64(), Some(u64::from(map_id)));

        let xlated = info::xlated_insns(prog.as_fd()).unwrap();
        assert_eq!(xlated.len() * 8, mine.xlated_prog_len as usize);
        assert_eq!(
            xlated[0],
            st_w(10, -4, 1),
            "first instruction unchanged by the verifier"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn run_time_stats_count_runs_while_enabled() {
    let fds = FdCheck::start();
    {
        let data = MapData::create(&MapParams::new("stats", MapType::Hash, 4, 8, 4)).unwrap();
        let prog = update_program(&data);
        {
            let _stats = info::enable_run_time_stats().unwrap();
            run(&prog, 25);
        }
        let i = ProgramInfo::from_fd(prog.as_fd()).unwrap();
        assert!(i.run_cnt >= 25, "run_cnt {}", i.run_cnt);
        assert!(i.run_time_ns > 0);
    }
    fds.assert_no_leak();
}

#[test]
fn raw_tracepoint_link_is_listed_until_closed() {
    let fds = FdCheck::start();
    {
        let prog = load(
            uapi::BPF_PROG_TYPE_RAW_TRACEPOINT,
            "raw_tp",
            &[mov64_imm(0, 0), exit()],
        );
        let prog_id = ProgramInfo::from_fd(prog.as_fd()).unwrap().id;
        let link = sys::raw_tracepoint_open(Some(c"sys_enter"), prog.as_fd()).unwrap();
        let li = LinkInfo::from_fd(link.as_fd()).unwrap();
        assert_eq!(li.link_type, uapi::BPF_LINK_TYPE_RAW_TRACEPOINT);
        assert_eq!(li.prog_id, prog_id);
        let links = info::loaded_links().unwrap();
        assert!(links.iter().any(|l| l.id == li.id && l.prog_id == prog_id));
        // Raw tracepoint links cannot be detached while open (EOPNOTSUPP): closing ends them.
        let err = sys::link_detach(link.as_fd()).unwrap_err();
        assert_eq!(err.errno(), Some(libc::EOPNOTSUPP));
        drop(link);
        assert!(info::loaded_links().unwrap().iter().all(|l| l.id != li.id));
    }
    fds.assert_no_leak();
}

#[test]
fn cgroup_attach_query_detach_and_links() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("attach");
        let allow = [mov64_imm(0, 1), exit()];
        let a = load(uapi::BPF_PROG_TYPE_CGROUP_SKB, "allow_a", &allow);
        let b = load(uapi::BPF_PROG_TYPE_CGROUP_SKB, "allow_b", &allow);
        let a_id = ProgramInfo::from_fd(a.as_fd()).unwrap().id;
        let b_id = ProgramInfo::from_fd(b.as_fd()).unwrap().id;
        let ingress = uapi::BPF_CGROUP_INET_INGRESS;

        sys::prog_attach(
            cg.dir.as_fd(),
            a.as_fd(),
            ingress,
            uapi::BPF_F_ALLOW_MULTI,
            None,
        )
        .unwrap();
        let q = sys::prog_query(cg.dir.as_fd(), ingress, 0, 8).unwrap();
        assert_eq!(q.prog_ids, [a_id]);
        assert_eq!(q.attach_flags, uapi::BPF_F_ALLOW_MULTI);
        sys::prog_detach(cg.dir.as_fd(), Some(a.as_fd()), ingress).unwrap();
        assert_eq!(
            sys::prog_query(cg.dir.as_fd(), ingress, 0, 8)
                .unwrap()
                .prog_cnt,
            0
        );

        let link = sys::link_create_attr(a.as_fd(), cg.dir.as_raw_fd() as u32, ingress, 0);
        // SAFETY: no pointers in a cgroup link_create.
        let link = unsafe { sys::link_create(link) }.unwrap();
        assert_eq!(
            LinkInfo::from_fd(link.as_fd()).unwrap().link_type,
            uapi::BPF_LINK_TYPE_CGROUP
        );
        assert_eq!(
            sys::prog_query(cg.dir.as_fd(), ingress, 0, 8)
                .unwrap()
                .prog_ids,
            [a_id]
        );
        sys::link_update(link.as_fd(), b.as_fd(), Some(a.as_fd())).unwrap();
        assert_eq!(
            sys::prog_query(cg.dir.as_fd(), ingress, 0, 8)
                .unwrap()
                .prog_ids,
            [b_id]
        );
        assert_eq!(LinkInfo::from_fd(link.as_fd()).unwrap().prog_id, b_id);
        sys::link_detach(link.as_fd()).unwrap();
        assert_eq!(
            sys::prog_query(cg.dir.as_fd(), ingress, 0, 8)
                .unwrap()
                .prog_cnt,
            0
        );
        drop(link);
    }
    fds.assert_no_leak();
}

#[test]
fn bound_and_frozen_maps() {
    let fds = FdCheck::start();
    {
        let data = MapData::create(&MapParams::new("frozen", MapType::Array, 4, 4, 1)).unwrap();
        let arr: Array<_, u32> = Array::new(&data).unwrap();
        arr.set(0, &9, 0).unwrap();
        data.freeze().unwrap();
        let err = arr.set(0, &10, 0).unwrap_err();
        assert!(
            matches!(&err, MapError::Syscall { source, .. } if source.errno() == Some(libc::EPERM)),
            "{err:?}"
        );
        assert_eq!(arr.get(0).unwrap(), 9);

        let prog = load(
            uapi::BPF_PROG_TYPE_SOCKET_FILTER,
            "binder",
            &[mov64_imm(0, 0), exit()],
        );
        assert!(ProgramInfo::from_fd(prog.as_fd())
            .unwrap()
            .map_ids
            .is_empty());
        sys::prog_bind_map(prog.as_fd(), data.as_fd()).unwrap();
        assert_eq!(
            ProgramInfo::from_fd(prog.as_fd()).unwrap().map_ids,
            [data.id().unwrap()]
        );
    }
    fds.assert_no_leak();
}

#[test]
fn btf_load_failure_carries_the_kernel_log_and_token_errors_name_the_command() {
    let fds = FdCheck::start();
    {
        let mut bad = btf_int();
        bad[24 + 12] = 99; // int with 99 bits: invalid
        let err = sys::btf_load(&bad).unwrap_err();
        assert_eq!(err.source.call, "BPF_BTF_LOAD");
        assert!(!err.verifier_log.is_empty());
        let good = sys::btf_load(&btf_int()).unwrap();
        drop(good);

        // /sys/fs/bpf is not mounted with delegation options here: the kernel refuses.
        let root = std::fs::File::open("/").unwrap();
        let err = sys::token_create(root.as_fd()).unwrap_err();
        assert_eq!(err.call, "BPF_TOKEN_CREATE");
        assert!(err.errno().is_some());
    }
    fds.assert_no_leak();
}

/// `BPF_PROG_TEST_RUN` writes only into the output buffers it was given, bounded by their
/// lengths: an empty `data_out` is "no output" (the kernel would treat a zero size as
/// unbounded), a short one gets ENOSPC with the bytes after it untouched, and a context a
/// syscall program writes back never reaches the caller's shared `ctx_in`.
#[test]
fn test_run_writes_only_inside_the_callers_buffers() {
    let fds = FdCheck::start();
    {
        let prog = load(
            uapi::BPF_PROG_TYPE_SOCKET_FILTER,
            "pass",
            &[mov64_imm(0, 3), exit()],
        );
        let packet: Vec<u8> = (0..64u8).collect();
        let out = sys::prog_test_run(
            prog.as_fd(),
            TestRunAttr {
                data_in: &packet,
                data_out: Some(&mut []),
                ..Default::default()
            },
        )
        .expect("empty data_out is no output");
        assert_eq!((out.retval, out.data_size_out), (3, 64));

        let mut memory = [0xeeu8; 32];
        let (short, guard) = memory.split_at_mut(16);
        let err = sys::prog_test_run(
            prog.as_fd(),
            TestRunAttr {
                data_in: &packet,
                data_out: Some(short),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENOSPC));
        // The kernel filled all 16 bytes (a socket filter's output starts with the 14-byte
        // Ethernet header it rebuilt, zeroes here, then the packet).
        assert_eq!(short, [&[0u8; 14][..], &packet[14..16]].concat());
        assert!(
            guard.iter().all(|&b| b == 0xee),
            "bytes after data_out untouched"
        );

        // Syscall program: *(u32 *)(ctx + 0) = 99; return 0.
        let syscall = sys::prog_load(&ProgLoadAttr {
            prog_type: uapi::BPF_PROG_TYPE_SYSCALL,
            insns: &[insn(0x62, 1, 0, 0, 99), mov64_imm(0, 0), exit()],
            license: c"GPL",
            name: "write_ctx",
            prog_flags: uapi::BPF_F_SLEEPABLE,
            ..Default::default()
        })
        .expect("load syscall program")
        .0;
        let ctx = [0u8; 8];
        sys::prog_test_run(
            syscall.as_fd(),
            TestRunAttr {
                ctx_in: &ctx,
                ..Default::default()
            },
        )
        .expect("run syscall program");
        assert_eq!(ctx, [0u8; 8], "shared ctx_in is not written");
        let mut ctx = [0u8; 8];
        sys::attach::prog_run_syscall(syscall.as_fd(), &mut ctx).unwrap();
        assert_eq!(u32::from_ne_bytes(ctx[..4].try_into().unwrap()), 99);
    }
    fds.assert_no_leak();
}
