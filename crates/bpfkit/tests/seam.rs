//! The fallback and error branches around kernel calls, driven through `sys::seam` with no
//! kernel involved: every call is answered by the test (an errno, or a `/dev/null` fd standing
//! in for the kernel object), so these tests need no privileges. Each checks the exact calls
//! made and that no fd is left open.

mod common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use bpfkit::links::Link;
use bpfkit::loader::{LoadError, Loader, Object, Program};
use bpfkit::maps::{MapData, MapError, MapParams, MapType};
use bpfkit::programs::perf_event::{self, PerfEventKind, PerfEventScope, SamplePolicy};
use bpfkit::programs::AttachError;
use bpfkit::sys::seam::{self, Call, PerfIoctl, Reply};
use bpfkit::sys::{self, Command};
use common::fake::{fake_fd, fake_kernel};
use common::FdCheck;

fn compile_fixture(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.bpf.c"));
    let dir = std::env::temp_dir().join(format!("bpfkit-seam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join(format!("{name}.bpf.o"));
    let status = Process::new("clang-19")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang-19 runs");
    assert!(status.success(), "compiling {}", src.display());
    out
}

fn fixture() -> Vec<u8> {
    std::fs::read(compile_fixture("seam")).expect("read fixture object")
}

/// Load the fixture with every call answered by `fake_kernel`, except where `inject`
/// answers first; returns the result and the calls made.
fn load_faked(
    elf: &[u8],
    mut inject: impl FnMut(&Call) -> Option<Reply>,
) -> (Result<Object, LoadError>, Vec<Call>) {
    let calls = RefCell::new(Vec::new());
    let result = seam::with_override(
        |call| {
            calls.borrow_mut().push(*call);
            inject(call).unwrap_or_else(|| fake_kernel(call))
        },
        || Loader::new().load(elf, "seam"),
    );
    (result, calls.into_inner())
}

/// No error of the chain repeats its source's text: each part is printed once by `Report`.
fn assert_chain_does_not_repeat(err: &(dyn std::error::Error + 'static)) {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(source) = e.source() {
            let (outer, inner) = (e.to_string(), source.to_string());
            assert!(
                !outer.contains(&inner),
                "'{outer}' repeats its source '{inner}'"
            );
        }
        next = e.source();
    }
}

fn count(calls: &[Call], wanted: Call) -> usize {
    calls.iter().filter(|c| **c == wanted).count()
}

/// `perf_event::attach` of `program` (CPU clock, sampling period 1000000, CPU 0) against the
/// fake kernel, every call recorded in `calls`; `inject` answers a call instead of the fake
/// when it returns `Some`.
fn attach_cpu_clock(
    program: &Program,
    calls: &RefCell<Vec<Call>>,
    inject: impl Fn(&Call) -> Option<Reply>,
) -> Result<Link, AttachError> {
    seam::with_override(
        |call| {
            calls.borrow_mut().push(*call);
            inject(call).unwrap_or_else(|| fake_kernel(call))
        },
        || {
            perf_event::attach(
                program,
                PerfEventKind::CpuClock,
                SamplePolicy::Period(1_000_000),
                PerfEventScope::Cpu(0),
            )
        },
    )
}

#[test]
fn perf_link_einval_falls_back_to_set_bpf_ioctl() {
    let elf = fixture();
    let fds = FdCheck::start();
    {
        let (object, _) = load_faked(&elf, |_| None);
        let object = object.expect("faked load");
        let program = object.program("on_sample").expect("program on_sample");
        let calls = RefCell::new(Vec::new());
        let link = attach_cpu_clock(program, &calls, |call| match call {
            Call::Bpf(Command::LinkCreate) => Some(Reply::Errno(libc::EINVAL)),
            _ => None,
        })
        .expect("attach falls back to the ioctl");
        assert_eq!(
            calls.take(),
            vec![
                Call::PerfEventOpen {
                    type_: sys::perf_event::PERF_TYPE_SOFTWARE,
                    config: sys::perf_event::PERF_COUNT_SW_CPU_CLOCK,
                    pid: -1,
                    cpu: 0
                },
                Call::Bpf(Command::LinkCreate),
                Call::PerfIoctl(PerfIoctl::SetBpf),
                Call::PerfIoctl(PerfIoctl::Enable),
            ]
        );
        // The link holds the perf event fd (no link fd): dropping it disables and closes it.
        seam::with_override(
            |call| {
                calls.borrow_mut().push(*call);
                fake_kernel(call)
            },
            || drop(link),
        );
        assert_eq!(
            calls.take(),
            vec![Call::PerfIoctl(PerfIoctl::Disable)],
            "dropping an ioctl-attached event disables it"
        );

        // EOPNOTSUPP from BPF_LINK_CREATE is the other "no perf link" answer; a failing
        // PERF_EVENT_IOC_SET_BPF is then reported and the event fd closed.
        let err = attach_cpu_clock(program, &calls, |call| match call {
            Call::Bpf(Command::LinkCreate) => Some(Reply::Errno(libc::EOPNOTSUPP)),
            Call::PerfIoctl(PerfIoctl::SetBpf) => Some(Reply::Errno(libc::EACCES)),
            _ => None,
        })
        .expect_err("SET_BPF refused");
        assert_chain_does_not_repeat(&err);
        match &err {
            AttachError::Syscall { source, .. } => {
                assert_eq!(source.errno(), Some(libc::EACCES));
                assert_eq!(source.call, "PERF_EVENT_IOC_SET_BPF");
            }
            other => panic!("expected a syscall error, got {other:?}"),
        }
        assert_eq!(
            count(&calls.borrow(), Call::PerfIoctl(PerfIoctl::Enable)),
            0
        );

        // Any other BPF_LINK_CREATE errno is an error, without trying the ioctl.
        calls.borrow_mut().clear();
        let err = attach_cpu_clock(program, &calls, |call| match call {
            Call::Bpf(Command::LinkCreate) => Some(Reply::Errno(libc::EPERM)),
            _ => None,
        })
        .expect_err("EPERM is not a fallback case");
        assert!(
            matches!(&err, AttachError::Syscall { source, .. } if source.errno() == Some(libc::EPERM))
        );
        assert_eq!(
            count(&calls.borrow(), Call::PerfIoctl(PerfIoctl::SetBpf)),
            0
        );
    }
    fds.assert_no_leak();
}

#[test]
fn map_create_enospc_is_reported_with_nothing_left_open() {
    let fds = FdCheck::start();
    let mut calls = 0;
    let err = seam::with_override(
        |call| match call {
            Call::Bpf(Command::MapCreate) => {
                calls += 1;
                Reply::Errno(libc::ENOSPC)
            }
            _ => Reply::Kernel,
        },
        || MapData::create(&MapParams::new("big", MapType::Hash, 4, 8, 1 << 20)),
    )
    .expect_err("ENOSPC");
    assert_eq!(calls, 1, "ENOSPC is not retried");
    match err {
        MapError::Syscall { name, source } => {
            assert_eq!(name, "big");
            assert_eq!(source.errno(), Some(libc::ENOSPC));
        }
        other => panic!("expected a syscall error, got {other:?}"),
    }
    fds.assert_no_leak();
}

#[test]
fn map_create_eperm_retries_once_after_raising_memlock() {
    let fds = FdCheck::start();
    {
        let mut calls = 0;
        let result = seam::with_override(
            |call| match call {
                Call::Bpf(Command::MapCreate) => {
                    calls += 1;
                    if calls == 1 {
                        Reply::Errno(libc::EPERM)
                    } else {
                        Reply::Return(fake_fd())
                    }
                }
                _ => Reply::Kernel,
            },
            || MapData::create(&MapParams::new("memlocked", MapType::Array, 4, 8, 4)),
        );
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes a valid `rlimit`.
        let ret = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
        assert_eq!(ret, 0);
        if limit.rlim_cur == libc::RLIM_INFINITY {
            // The limit could be raised (CAP_SYS_RESOURCE, or a hard limit of infinity): one
            // retry, which the fake answers with a map.
            assert_eq!(calls, 2, "one retry after EPERM");
            let map = result.expect("the retry succeeds");
            assert_eq!(map.name(), "memlocked");
        } else {
            // It could not: no retry, the EPERM is reported.
            assert_eq!(calls, 1, "no retry when RLIMIT_MEMLOCK cannot be raised");
            match result {
                Err(MapError::Syscall { source, .. }) => {
                    assert_eq!(source.errno(), Some(libc::EPERM))
                }
                other => panic!("expected EPERM, got {other:?}"),
            }
            println!("memlock limit could not be raised: the no-retry branch was checked");
        }
    }
    fds.assert_no_leak();
}

#[test]
fn prog_load_eagain_is_retried_then_reported() {
    let fds = FdCheck::start();
    let insns = [0x0000_0000_0000_00b7u64, 0x0000_0000_0000_0095];
    let attr = sys::ProgLoadAttr {
        prog_type: sys::uapi::BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &insns,
        license: c"GPL",
        name: "eagain",
        ..Default::default()
    };
    {
        // Two interrupted verifications, then the load goes through.
        let mut calls = 0;
        let (fd, _log) = seam::with_override(
            |call| match call {
                Call::Bpf(Command::ProgLoad) => {
                    calls += 1;
                    if calls <= 2 {
                        Reply::Errno(libc::EAGAIN)
                    } else {
                        Reply::Return(fake_fd())
                    }
                }
                _ => Reply::Kernel,
            },
            || sys::prog_load(&attr),
        )
        .expect("EAGAIN is retried");
        assert_eq!(calls, 3);
        drop(fd);
    }
    // EAGAIN every time: the retries run out and EAGAIN is reported, with no log retry.
    let mut calls = 0;
    let err = seam::with_override(
        |call| match call {
            Call::Bpf(Command::ProgLoad) => {
                calls += 1;
                Reply::Errno(libc::EAGAIN)
            }
            _ => Reply::Kernel,
        },
        || sys::prog_load(&attr),
    )
    .expect_err("EAGAIN every time");
    assert_eq!(calls, 1 + sys::PROG_LOAD_EAGAIN_RETRIES as usize);
    assert_eq!(err.source.errno(), Some(libc::EAGAIN));
    fds.assert_no_leak();
}

#[test]
fn loader_error_paths_close_every_fd() {
    let elf = fixture();
    let fds = FdCheck::start();
    {
        // The faked kernel accepts everything: the object holds its maps and program.
        let (object, calls) = load_faked(&elf, |_| None);
        let object = object.expect("faked load");
        assert!(object.program("on_sample").is_some());
        assert!(
            count(&calls, Call::Bpf(Command::MapCreate)) >= 2,
            "{calls:?}"
        );
        assert_eq!(count(&calls, Call::Bpf(Command::ProgLoad)), 1, "{calls:?}");
    }
    fds.assert_no_leak();

    // Each failure point in turn, with the errno the kernel gives there.
    for (failing, errno) in [
        (Command::ProgLoad, libc::EPERM),
        (Command::ProgLoad, libc::EINVAL),
        (Command::MapCreate, libc::ENOSPC),
        (Command::MapUpdateElem, libc::E2BIG),
        (Command::BtfLoad, libc::EPERM),
    ] {
        let fds = FdCheck::start();
        let (result, calls) = load_faked(&elf, |call| match call {
            Call::Bpf(c) if *c == failing => Some(Reply::Errno(errno)),
            _ => None,
        });
        let issued = count(&calls, Call::Bpf(failing));
        match result {
            Err(err) => {
                assert!(issued > 0, "{failing} failed without being called: {err}");
                assert_chain_does_not_repeat(&err);
            }
            Ok(object) => {
                // Only BTF is optional: the object loads without it.
                assert_eq!(
                    failing,
                    Command::BtfLoad,
                    "{failing} failed but the load succeeded"
                );
                assert!(issued > 0);
                drop(object);
            }
        }
        fds.assert_no_leak();
    }
}

#[test]
fn error_chain_names_each_part_once() {
    let elf = fixture();
    let fds = FdCheck::start();
    let (result, _) = load_faked(&elf, |call| match call {
        Call::Bpf(Command::MapCreate) => Some(Reply::Errno(libc::EPERM)),
        _ => None,
    });
    let err = result.expect_err("map creation refused");
    assert!(matches!(&err, LoadError::Map { map, .. } if map == "per_cpu_samples"));
    assert_chain_does_not_repeat(&err);
    let line = bpfkit::Report(&err).to_string();
    assert_eq!(
        line,
        "object 'seam': map 'per_cpu_samples': BPF_MAP_CREATE failed: \
         Operation not permitted (os error 1)"
    );
    // The source is reachable for callers that match on it.
    let map_error = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<MapError>())
        .expect("a MapError source");
    assert!(
        matches!(map_error, MapError::Syscall { source, .. } if source.errno() == Some(libc::EPERM))
    );

    // A refused program: the hint stays beside the program, the errno comes once, last.
    let (result, _) = load_faked(&elf, |call| match call {
        Call::Bpf(Command::ProgLoad) => Some(Reply::Errno(libc::EPERM)),
        _ => None,
    });
    let err = result.expect_err("program refused");
    assert_chain_does_not_repeat(&err);
    let line = bpfkit::Report(&err).to_string();
    assert_eq!(line.matches("on_sample").count(), 1, "{line}");
    assert_eq!(line.matches("os error 1").count(), 1, "{line}");
    assert!(
        line.starts_with("object 'seam': program 'on_sample' (hint: "),
        "{line}"
    );
    assert!(
        line.ends_with("BPF_PROG_LOAD failed: Operation not permitted (os error 1)"),
        "{line}"
    );
    fds.assert_no_leak();
}

#[test]
fn feature_probes_cache_only_definite_answers() {
    use bpfkit::features::{self, Probe, Support};
    let fds = FdCheck::start();
    let probe_map = |errno: Option<i32>| {
        let mut calls = 0;
        let support = seam::with_override(
            |call| match call {
                Call::Bpf(Command::MapCreate) => {
                    calls += 1;
                    errno.map_or_else(|| Reply::Return(fake_fd()), Reply::Errno)
                }
                _ => Reply::Errno(libc::ENOSYS),
            },
            || {
                (
                    features::map_type_support(MapType::BloomFilter),
                    features::require_map_type(MapType::BloomFilter),
                )
            },
        );
        (support, calls)
    };
    // Without privileges the probe cannot tell: not "unsupported", not cached, and
    // `require_*` leaves the decision to the operation itself.
    let ((support, required), calls) = probe_map(Some(libc::EPERM));
    assert_eq!(support, Support::Unknown { errno: libc::EPERM });
    assert!(required.is_ok());
    assert_eq!(calls, 2, "asked again: the first answer was not cached");
    let ((support, _), calls) = probe_map(Some(libc::ENOMEM));
    assert_eq!(
        support,
        Support::Unknown {
            errno: libc::ENOMEM
        }
    );
    assert!(calls > 0);
    // EINVAL is the kernel not knowing the type: cached, and later answers are not asked.
    let ((support, required), calls) = probe_map(Some(libc::EINVAL));
    assert_eq!(support, Support::Unsupported);
    let missing = required.expect_err("known to be missing");
    assert_eq!(missing.feature.min_kernel(), Some((5, 16)), "{missing}");
    assert_eq!(calls, 1);
    let ((support, _), calls) = probe_map(None);
    assert_eq!(support, Support::Unsupported);
    assert_eq!(calls, 0, "cached");

    // A probe of a command by a bad fd: EPERM open, EBADF yes (cached).
    let token = |errno: i32| {
        seam::with_override(
            |call| match call {
                Call::Bpf(Command::TokenCreate) => Reply::Errno(errno),
                _ => Reply::Errno(libc::ENOSYS),
            },
            || features::support(Probe::Token),
        )
    };
    assert_eq!(token(libc::EPERM), Support::Unknown { errno: libc::EPERM });
    assert_eq!(token(libc::EBADF), Support::Supported);
    assert_eq!(token(libc::EINVAL), Support::Supported, "cached");
    fds.assert_no_leak();
}

#[test]
fn unsupported_map_type_names_the_feature_and_first_kernel() {
    let fds = FdCheck::start();
    let create = |errno: i32| {
        seam::with_override(
            |call| match call {
                Call::Bpf(Command::MapCreate) => Reply::Errno(errno),
                _ => Reply::Errno(libc::ENOSYS),
            },
            || MapData::create(&MapParams::new("user_rb", MapType::UserRingbuf, 0, 0, 4096)),
        )
        .expect_err("refused")
    };
    // Without privileges the probe cannot tell: no feature is claimed missing.
    let err = seam::with_override(
        |call| match call {
            Call::Bpf(Command::MapCreate) => Reply::Errno(libc::EPERM),
            _ => Reply::Errno(libc::ENOSYS),
        },
        || bpfkit::features::map_type_support(MapType::UserRingbuf),
    );
    assert_eq!(
        err,
        bpfkit::features::Support::Unknown { errno: libc::EPERM }
    );
    // EINVAL and the probe's EINVAL: the type is missing, machine-readably.
    let err = create(libc::EINVAL);
    let feature = err.missing_feature().expect("a missing feature");
    assert_eq!(feature.min_kernel(), Some((6, 1)));
    assert!(matches!(&err, MapError::Unsupported { name, .. } if name == "user_rb"));
    let line = bpfkit::Report(&err).to_string();
    assert!(line.contains("requires Linux 6.1"), "{line}");
    assert_chain_does_not_repeat(&err);
    fds.assert_no_leak();
}
