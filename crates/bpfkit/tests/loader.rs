//! The Loader against the real kernel: the corpus loads wherever libbpf (bpftool) loads it,
//! with the same programs and translated instructions; global data, pins, errors.

mod common;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use bpfkit::loader::{LoadError, Loader};
use bpfkit::maps::{Array, HashMap, MapError};
use bpfkit::sys::{self, TestRunAttr};
use bpfkit_test_support::{corpus_dir, mask_fd_immediates, prog_dump_xlated, prog_loadall, Insn};
use common::*;

/// Every corpus object: libbpf-tools and cilium's test objects.
fn corpus() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in ["libbpf-tools", "cilium/testdata"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir().join(dir))
            .expect("corpus dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "o" || e == "elf"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

fn xlated(fd: std::os::fd::BorrowedFd<'_>) -> Vec<Insn> {
    bpfkit::info::xlated_insns(fd)
        .expect("xlated")
        .iter()
        .map(|w| Insn::from_bytes(w.to_le_bytes()))
        .collect()
}

/// (name, type, key, value, max_entries, flags) of each map id, as bpftool shows them, sorted.
fn map_shapes(ids: &[u32]) -> Vec<(String, String, u64, u64, u64, u64)> {
    let mut out: Vec<_> = ids
        .iter()
        .map(|id| {
            let j = bpftool(&["map", "show", "id", &id.to_string()]);
            (
                j["name"].as_str().unwrap_or_default().to_owned(),
                j["type"].to_string(),
                j["bytes_key"].as_u64().unwrap_or(0),
                j["bytes_value"].as_u64().unwrap_or(0),
                j["max_entries"].as_u64().unwrap_or(0),
                j["flags"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_corpus_object_libbpf_loads_loads_with_the_same_programs_maps_and_instructions() {
    let fds = FdCheck::start();
    let mut problems = Vec::new();
    let mut loaded_by_both = 0;
    for path in corpus() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(truth) = prog_loadall(&path) else {
            continue;
        };
        let object = match Loader::new().load_file(&path) {
            Ok(o) => o,
            Err(e) => {
                problems.push(format!("{name}: libbpf loads it, bpfkit fails: {e}"));
                continue;
            }
        };
        loaded_by_both += 1;
        let has_btf = object.btf_fd().is_some();
        for theirs in &truth.programs {
            let Some(ours) = object.program(&theirs.pin_name) else {
                problems.push(format!("{name}: program {} missing", theirs.pin_name));
                continue;
            };
            let info = ours.info().unwrap();
            let j = bpftool(&["prog", "show", "id", &info.id.to_string()]);
            if j["type"].as_str() != Some(theirs.prog_type.as_str()) {
                problems.push(format!(
                    "{name}/{}: type {} vs libbpf {}",
                    theirs.pin_name, j["type"], theirs.prog_type
                ));
            }
            if has_btf && info.btf_id == 0 {
                problems.push(format!("{name}/{}: no btf_id", theirs.pin_name));
            }
            let ours_maps = map_shapes(&info.map_ids);
            let theirs_maps = map_shapes(&theirs.map_ids);
            if ours_maps != theirs_maps {
                problems.push(format!(
                    "{name}/{}: maps differ:\n  bpfkit {ours_maps:?}\n  libbpf {theirs_maps:?}",
                    theirs.pin_name
                ));
            }
            // func/line info (the spec's .BTF.ext records, rebased by the linker): the same
            // instruction offsets, function types and lines as libbpf's.
            let theirs_fd = sys::get_fd_by_id(sys::ObjectKind::Prog, theirs.id).unwrap();
            let ext = |fd| {
                let c = bpfkit::info::program_code(fd).unwrap();
                let lines: Vec<(u32, u32)> = c
                    .line_info
                    .iter()
                    .map(|l| (l.insn_off, l.line_col))
                    .collect();
                (c.func_info, lines)
            };
            let (ours_ext, theirs_ext) = (ext(ours.fd()), ext(theirs_fd.as_fd()));
            if ours_ext != theirs_ext {
                problems.push(format!(
                    "{name}/{}: func/line info differ: {} func {} lines vs libbpf {} func {} lines",
                    theirs.pin_name,
                    ours_ext.0.len(),
                    ours_ext.1.len(),
                    theirs_ext.0.len(),
                    theirs_ext.1.len()
                ));
            }
            drop(theirs_fd);
            let ours_x = mask_fd_immediates(&xlated(ours.fd()));
            let theirs_x = mask_fd_immediates(&prog_dump_xlated(theirs.id).unwrap());
            if ours_x != theirs_x {
                let first = ours_x.iter().zip(&theirs_x).position(|(a, b)| a != b);
                problems.push(format!(
                    "{name}/{}: xlated differs ({} vs {} insns, first difference at {first:?})",
                    theirs.pin_name,
                    ours_x.len(),
                    theirs_x.len()
                ));
            }
        }
        drop(object);
        drop(truth);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // bpftool loads 32 of the 52 libbpf-tools objects on this kernel, plus cilium's.
    assert!(
        loaded_by_both >= 32,
        "only {loaded_by_both} objects loaded by both"
    );
    fds.assert_no_leak();
}

#[test]
fn libbpf_tools_with_runtime_sized_maps_load_once_sized() {
    let fds = FdCheck::start();
    for tool in ["capable", "offcputime", "wakeuptime"] {
        let path = corpus_dir().join(format!("libbpf-tools/{tool}.bpf.o"));
        let err = Loader::new().load_file(&path).unwrap_err();
        assert!(
            matches!(&err, LoadError::MapSetup { map, reason, .. } if map == "stackmap" && reason.contains("max_entries is 0")),
            "{tool}: {err}"
        );
        let object = Loader::new()
            .max_entries("stackmap", 1024)
            .value_size("stackmap", 127 * 8)
            .load_file(&path)
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        let stackmap = object.map("stackmap").unwrap();
        assert_eq!(
            (stackmap.max_entries(), stackmap.value_size()),
            (1024, 1016)
        );
        assert!(object.programs().count() >= 1);
    }
    fds.assert_no_leak();
}

#[test]
fn legacy_map_objects_load() {
    let fds = FdCheck::start();
    for name in [
        "iproute2_map_compat-el.elf",
        "subprog_reloc-el.elf",
        "invalid_map_static-el.elf",
    ] {
        let path = corpus_dir().join("cilium/testdata").join(name);
        let spec = bpfkit_obj::object::ObjectSpec::parse(&std::fs::read(&path).unwrap()).unwrap();
        assert!(spec
            .maps
            .iter()
            .any(|m| m.definition == bpfkit_obj::object::MapDefinition::Legacy));
        let object = Loader::new()
            .load_file(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for m in spec
            .maps
            .iter()
            .filter(|m| m.definition == bpfkit_obj::object::MapDefinition::Legacy)
        {
            let ours = object.map(&m.name).unwrap();
            let (bt, k, v, n) = {
                let j = bpftool(&["map", "show", "id", &ours.id().unwrap().to_string()]);
                (
                    j["type"].clone(),
                    j["bytes_key"].as_u64(),
                    j["bytes_value"].as_u64(),
                    j["max_entries"].as_u64(),
                )
            };
            assert_eq!(bt, m.map_type.kernel_name(), "{name}/{}", m.name);
            assert_eq!(
                (k, v, n),
                (
                    Some(m.key_size.into()),
                    Some(m.value_size.into()),
                    Some(m.max_entries.into())
                )
            );
        }
    }
    fds.assert_no_leak();
}

#[test]
fn verifier_rejection_through_the_loader_carries_the_log() {
    let fds = FdCheck::start();
    {
        // The object calls bpf_trace_printk without a GPL license.
        let path = corpus_dir().join("cilium/testdata/strings-el.elf");
        let err = Loader::new().load_file(&path).unwrap_err();
        let LoadError::Program {
            program, source, ..
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!(program, "filter");
        assert!(
            source
                .verifier_log
                .contains("cannot call GPL-restricted function"),
            "{}",
            source.verifier_log
        );
        assert!(bpfkit::Report(&err)
            .to_string()
            .contains("program 'filter'"));
    }
    fds.assert_no_leak();
}

#[test]
fn refused_trampoline_programs_carry_a_hint() {
    let fds = FdCheck::start();
    {
        // vfsstat's fentry programs: this host refuses trampolines (EPERM, ftrace locked
        // down, TESTING.md); where they load, there is nothing to explain.
        let path = corpus_dir().join("libbpf-tools/vfsstat.bpf.o");
        match Loader::new().load_file(&path) {
            Ok(_) => {}
            Err(LoadError::Program {
                hint,
                source,
                program,
                ..
            }) => {
                assert_eq!(source.source.errno(), Some(libc::EPERM), "{program}");
                assert!(hint.is_some_and(|h| h.contains("trampoline")), "{hint:?}");
            }
            Err(e) => panic!("{e}"),
        }
    }
    fds.assert_no_leak();
}

#[test]
fn program_ifindex_loads_the_program_for_that_device() {
    let fds = FdCheck::start();
    {
        let path = bpfkit_test_support::fixture("xdp_offload");
        let plain = Loader::new().load_file(&path).expect("xdp_offload loads");
        let info =
            bpfkit::info::ProgramInfo::from_fd(plain.program("xdp_offload_drop").unwrap().fd())
                .unwrap();
        assert_eq!(info.ifindex, 0, "loaded for the host");
        drop(plain);

        // Loopback has no BPF offload: the kernel refuses the program for it, which it
        // would not if prog_ifindex did not reach BPF_PROG_LOAD (netdevsim, which offloads,
        // is in vm_xdp_offload).
        // SAFETY: a NUL-terminated constant name.
        let lo = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        assert_ne!(lo, 0);
        let err = Loader::new()
            .program_ifindex("xdp_offload_drop", lo)
            .load_file(&path)
            .unwrap_err();
        let LoadError::Program {
            program,
            source,
            hint,
            ..
        } = &err
        else {
            panic!("{}", bpfkit::Report(&err));
        };
        assert_eq!(program, "xdp_offload_drop");
        assert!(
            matches!(source.source.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP)),
            "{}",
            bpfkit::Report(&err)
        );
        assert!(
            hint.is_some_and(|h| h.contains("program_ifindex")),
            "{hint:?}"
        );

        let err = Loader::new()
            .program_ifindex("no_such_program", lo)
            .load_file(&path)
            .unwrap_err();
        assert!(
            matches!(&err, LoadError::UnknownName { kind: "program", name, known, .. }
                if name == "no_such_program" && known == &["xdp_offload_drop"]),
            "{err}"
        );
    }
    fds.assert_no_leak();
}

/// Compile tests/fixtures/NAME.bpf.c with clang-19 into a temp file.
fn compile_fixture(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.bpf.c"));
    let dir = std::env::temp_dir().join(format!("bpfkit-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join(format!("{name}.bpf.o"));
    let status = Command::new("clang-19")
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

#[test]
fn global_data_rodata_override_and_pinned_map_reuse() {
    let fds = FdCheck::start();
    {
        let obj_path = compile_fixture("globals");
        let dir = BpffsDir::new("loader");
        let load = || {
            Loader::new()
                .pin_dir(&dir.path)
                .set_global("factor", &7u32.to_ne_bytes())
                .load_file(&obj_path)
                .unwrap()
        };
        let object = load();
        let prog = object.program("count").unwrap();
        assert!(prog.info().unwrap().btf_id != 0, "program has BTF");
        let packet = [0u8; 64];
        sys::prog_test_run(
            prog.fd(),
            TestRunAttr {
                data_in: &packet,
                ..Default::default()
            },
        )
        .unwrap();

        let results: HashMap<_, u32, u64> = HashMap::new(object.map("results").unwrap()).unwrap();
        assert_eq!(
            results.get(&1).unwrap(),
            Some(5 * 7),
            "counter * overridden factor"
        );
        let data: Array<_, u64> = Array::new(object.map("globals.data").unwrap()).unwrap();
        assert_eq!(
            data.get(0).unwrap(),
            6,
            ".data counter incremented by the program"
        );
        let bss: Array<_, u64> = Array::new(object.map("globals.bss").unwrap()).unwrap();
        assert_eq!(bss.get(0).unwrap(), 35);
        let rodata_map = object.map("globals.rodata").unwrap();
        let rodata: Array<_, u32> = Array::new(rodata_map).unwrap();
        assert_eq!(rodata.get(0).unwrap(), 7);
        let err = rodata.set(0, &1, 0).unwrap_err();
        assert!(
            matches!(&err, MapError::Syscall { source, .. } if source.errno() == Some(libc::EPERM)),
            ".rodata frozen: {err:?}"
        );

        // Programs pin too; the pin keeps the same program.
        let prog_pin = dir.path.join("count");
        prog.pin(&prog_pin).unwrap();
        let reopened = bpfkit::pin::open_pinned(&prog_pin).unwrap();
        assert_eq!(
            bpfkit::info::ProgramInfo::from_fd(std::os::fd::AsFd::as_fd(&reopened))
                .unwrap()
                .id,
            prog.id().unwrap()
        );
        drop(reopened);
        bpfkit::pin::unpin(&prog_pin).unwrap();

        // A second load reuses the pinned map, contents included.
        let pin = dir.path.join("results");
        assert!(pin.exists());
        let first_id = object.map("results").unwrap().id().unwrap();
        drop(object);
        let again = load();
        assert_eq!(again.map("results").unwrap().id().unwrap(), first_id);
        let results: HashMap<_, u32, u64> = HashMap::new(again.map("results").unwrap()).unwrap();
        assert_eq!(results.get(&1).unwrap(), Some(35));
        drop(again);
        bpfkit::pin::unpin(&pin).unwrap();
        dir.remove();
        std::fs::remove_file(obj_path).unwrap();
    }
    fds.assert_no_leak();
}

#[test]
fn kconfig_and_typeless_ksym_externs_get_the_kernel_values() {
    let fds = FdCheck::start();
    {
        let obj_path = compile_fixture("kconfig");
        let object = Loader::new().load_file(&obj_path).unwrap();
        let prog = object.program("read_config").unwrap();
        let packet = [0u8; 64];
        sys::prog_test_run(
            prog.fd(),
            TestRunAttr {
                data_in: &packet,
                ..Default::default()
            },
        )
        .unwrap();
        let bss: Array<_, [u64; 5]> = Array::new(object.map("kconfig.bss").unwrap()).unwrap();
        let out = bss.get(0).unwrap();

        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut v = release
            .trim()
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u64>().unwrap_or(0));
        let (a, b, c) = (v.next().unwrap(), v.next().unwrap(), v.next().unwrap());
        assert_eq!(
            out[0],
            (a << 16) + (b << 8) + c.min(255),
            "LINUX_KERNEL_VERSION"
        );
        let config = kernel_config();
        let hz: u64 = config
            .lines()
            .find_map(|l| l.strip_prefix("CONFIG_HZ="))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(out[1], hz, "CONFIG_HZ");
        assert_eq!(out[2], 1, "CONFIG_BPF_SYSCALL=y");
        assert_eq!(out[3], 0, "a weak unknown CONFIG_ reads 0");
        let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
        let addr = kallsyms
            .lines()
            .find(|l| l.ends_with(" schedule"))
            .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
            .unwrap();
        assert_eq!(out[4], addr, "typeless ksym address from kallsyms");
        drop(object);
        std::fs::remove_file(obj_path).unwrap();
    }
    fds.assert_no_leak();
}

#[test]
fn a_failed_load_removes_the_pins_it_created() {
    let fds = FdCheck::start();
    {
        let obj_path = compile_fixture("globals");
        let dir = BpffsDir::new("failed");
        // .rodata is created after `results` is pinned; shrunk to 1-byte values, its
        // 4 initial bytes do not fit and the load fails there.
        let err = Loader::new()
            .pin_dir(&dir.path)
            .value_size("globals.rodata", 1)
            .load_file(&obj_path)
            .unwrap_err();
        assert!(
            matches!(&err, LoadError::Map { map, source: MapError::ValueSize { .. }, .. } if map == "globals.rodata"),
            "{err}"
        );
        assert!(
            !dir.path.join("results").exists(),
            "pin removed after the failure"
        );
        dir.remove();
        std::fs::remove_file(obj_path).unwrap();
    }
    fds.assert_no_leak();
}

#[test]
fn truncated_and_bit_flipped_objects_are_errors_not_panics() {
    let fds = FdCheck::start();
    {
        let path = corpus_dir().join("libbpf-tools/execsnoop.bpf.o");
        let bytes = std::fs::read(&path).unwrap();
        let mut errors = 0;
        for cut in (0..bytes.len()).step_by(bytes.len() / 40 + 1) {
            if Loader::new().load(&bytes[..cut], "cut").is_err() {
                errors += 1;
            }
        }
        assert!(errors >= 39, "truncated objects fail to load: {errors}");
        // Deterministic bit flips over the whole file: each load either fails with an
        // error or loads (a flip in padding); none panics.
        let mut state = 0x2545_f491_u64;
        for _ in 0..60 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut flipped = bytes.clone();
            let at = (state as usize) % flipped.len();
            flipped[at] ^= 1 << (state >> 61);
            let _ = Loader::new().load(&flipped, "flipped");
        }
    }
    fds.assert_no_leak();
}

#[test]
fn unknown_global_size_mismatch_is_an_error() {
    let fds = FdCheck::start();
    {
        let obj_path = compile_fixture("globals");
        let err = Loader::new()
            .set_global("factor", &7u64.to_ne_bytes())
            .load_file(&obj_path)
            .unwrap_err();
        assert!(
            matches!(&err, LoadError::Global { name, .. } if name == "factor"),
            "{err}"
        );
        assert_eq!(
            bpfkit::Report(&err).to_string(),
            "object 'globals': global 'factor': is 4 bytes, 8 given"
        );
        std::fs::remove_file(obj_path).unwrap();
    }
    fds.assert_no_leak();
}

/// A name that is not in the object is refused at load, naming the name and listing the
/// object's names, before anything reaches the kernel; the names that are there reach the
/// kernel (max_entries as the kernel reports it, the global in the frozen `.rodata`).
#[test]
fn overrides_naming_nothing_in_the_object_are_errors() {
    let fds = FdCheck::start();
    {
        let obj_path = compile_fixture("globals");
        let object = Loader::new()
            .max_entries("results", 16)
            .set_global("factor", &9u32.to_ne_bytes())
            .load_file(&obj_path)
            .unwrap();
        let results = object.map("results").unwrap();
        let info = bpfkit::info::map_info(std::os::fd::AsFd::as_fd(results)).unwrap();
        assert_eq!(info.max_entries, 16, "the kernel's max_entries");
        let rodata: Array<_, u32> = Array::new(object.map("globals.rodata").unwrap()).unwrap();
        assert_eq!(rodata.get(0).unwrap(), 9);
        drop(object);

        let before = sys::bpf_calls_on_this_thread();
        let err = Loader::new()
            .set_global("factr", &9u32.to_ne_bytes())
            .load_file(&obj_path)
            .unwrap_err();
        assert!(
            matches!(&err, LoadError::UnknownName { kind: "global variable", name, known, .. }
                if name == "factr" && known.iter().any(|k| k == "factor")),
            "{err:?}"
        );
        assert_eq!(
            bpfkit::Report(&err).to_string(),
            "object 'globals': no global variable named 'factr'; \
             the object's global variables: factor, counter, scratch"
        );
        for loader in [
            Loader::new().max_entries("no_such_map", 8).clone(),
            Loader::new().value_size("no_such_map", 8).clone(),
        ] {
            let err = loader.load_file(&obj_path).unwrap_err();
            assert!(
                matches!(&err, LoadError::UnknownName { kind: "map", name, .. } if name == "no_such_map"),
                "{err:?}"
            );
            assert_eq!(
                bpfkit::Report(&err).to_string(),
                "object 'globals': no map named 'no_such_map'; \
                 the object's maps: results, globals.rodata, globals.data, globals.bss"
            );
        }
        assert_eq!(
            sys::bpf_calls_on_this_thread(),
            before,
            "refused before any bpf(2) call"
        );
        std::fs::remove_file(obj_path).unwrap();
    }
    fds.assert_no_leak();
}

/// The spec editors are what the loader reads: a global set on the spec is in the frozen
/// `.rodata` and scales what the program computes, a map resized on the spec has that size
/// in the kernel, and a program switched off is not loaded.
#[test]
fn spec_edits_are_what_the_kernel_gets() {
    let fds = FdCheck::start();
    {
        let obj_path = compile_fixture("globals");
        let bytes = std::fs::read(&obj_path).unwrap();
        let mut spec = bpfkit_obj::object::ObjectSpec::parse_named(&bytes, "globals").unwrap();
        spec.variable_mut("factor").unwrap().set(&11u32).unwrap();
        spec.map_mut("results").unwrap().max_entries = 24;
        let object = Loader::new().load_spec(&spec).unwrap();
        let results_map = object.map("results").unwrap();
        let info = bpfkit::info::map_info(std::os::fd::AsFd::as_fd(results_map)).unwrap();
        assert_eq!(info.max_entries, 24);
        let rodata: Array<_, u32> = Array::new(object.map("globals.rodata").unwrap()).unwrap();
        assert_eq!(rodata.get(0).unwrap(), 11);
        sys::prog_test_run(
            object.program("count").unwrap().fd(),
            TestRunAttr {
                data_in: &[0u8; 64],
                ..Default::default()
            },
        )
        .unwrap();
        let results: HashMap<_, u32, u64> = HashMap::new(results_map).unwrap();
        assert_eq!(
            results.get(&1).unwrap(),
            Some(5 * 11),
            "counter * edited factor"
        );
        drop(object);

        spec.program_mut("count").unwrap().section.autoload = false;
        let object = Loader::new().load_spec(&spec).unwrap();
        assert!(object.program("count").is_none());
        assert_eq!(object.programs().count(), 0);
        drop(object);
        std::fs::remove_file(obj_path).unwrap();
    }
    fds.assert_no_leak();
}

/// The public API a harness needs without `sys`: only some programs loaded by name, a typed
/// `BPF_PROG_TEST_RUN` whose output buffers are the library's, and the kernel's BTF.
#[test]
fn only_named_programs_load_and_test_run_returns_data_context_and_retval() {
    use bpfkit::loader::{KernelBtf, TestRun};
    let fds = FdCheck::start();
    {
        let obj_path = compile_fixture("test_run");
        let err = Loader::new()
            .only_programs(&["rewrite", "no_such_prog"])
            .load_file(&obj_path)
            .unwrap_err();
        assert_eq!(
            bpfkit::Report(&err).to_string(),
            "object 'test_run': no program named 'no_such_prog'; \
             the object's programs: rewrite, add_args, left_out"
        );
        let object = Loader::new()
            .only_programs(&["rewrite", "add_args"])
            .load_file(&obj_path)
            .unwrap();
        let mut names: Vec<&str> = object.programs().map(|p| p.name()).collect();
        names.sort();
        assert_eq!(names, ["add_args", "rewrite"]);
        assert!(
            bpfkit::info::ProgramInfo::from_fd(object.program("rewrite").unwrap().fd()).is_ok()
        );

        let packet = [0x11u8; 64];
        let out = object
            .program("rewrite")
            .unwrap()
            .test_run(&TestRun {
                data: &packet,
                // One run: the kernel reuses the frame across repetitions, so each would
                // cut another 4 bytes.
                repeat: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.retval, 3, "XDP_TX");
        assert_eq!(out.data.len(), 60, "4 bytes cut from the tail");
        assert_eq!(out.data[0], 0xab);
        assert!(out.data[1..].iter().all(|&b| b == 0x11));
        assert!(out.duration < std::time::Duration::from_secs(1));

        let args: Vec<u8> = [2u32, 40, 0, 0]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let out = object
            .program("add_args")
            .unwrap()
            .test_run(&TestRun {
                context: &args,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.retval, 7);
        assert_eq!(
            u32::from_ne_bytes(out.context[8..12].try_into().unwrap()),
            42,
            "the program's sum in the context it wrote back"
        );
        drop(object);

        let kernel = KernelBtf::vmlinux().unwrap();
        let len = std::fs::metadata("/sys/kernel/btf/vmlinux").unwrap().len();
        assert_eq!(kernel.bytes().len() as u64, len);
        let btf = kernel.parse().unwrap();
        let id = btf
            .id_by_name_kind("task_struct", bpfkit_obj::btf::Kind::Struct)
            .expect("task_struct in vmlinux");
        assert_eq!(btf.name(id).unwrap(), "task_struct");
        drop(btf);
        drop(kernel);
        std::fs::remove_file(obj_path).unwrap();
    }
    fds.assert_no_leak();
}

/// A map replaced on the spec by an existing map is the map the program writes: the value
/// the program stores is read through the caller's own handle, and the object's map is
/// the same kernel map (same id). A replacement of another shape is refused, naming the
/// property, at the edit and (after a later edit) at load.
#[test]
fn a_replaced_map_is_the_one_the_program_writes() {
    use bpfkit::maps::{MapData, MapParams, MapType};
    let fds = FdCheck::start();
    {
        let obj_path = compile_fixture("globals");
        let bytes = std::fs::read(&obj_path).unwrap();
        let mut spec = bpfkit_obj::object::ObjectSpec::parse_named(&bytes, "globals").unwrap();

        let mut params = MapParams::new("shared_results", MapType::Hash, 4, 8, 8);
        params.map_flags = 0;
        let existing = MapData::create(&params).unwrap();
        let wrong =
            MapData::create(&MapParams::new("wrong_size", MapType::Hash, 4, 8, 16)).unwrap();

        let err = spec
            .map_mut("results")
            .unwrap()
            .replace_with(&wrong)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "map 'results': cannot be replaced by 'wrong_size': \
             its max_entries is 16, the object's map wants 8"
        );
        assert!(spec.map_mut("results").unwrap().replacement.is_none());

        spec.map_mut("results")
            .unwrap()
            .replace_with(&existing)
            .unwrap();
        let object = Loader::new().load_spec(&spec).unwrap();
        assert_eq!(
            object.map("results").unwrap().id().unwrap(),
            existing.id().unwrap(),
            "the object's map is the existing one"
        );
        let out = object
            .program("count")
            .unwrap()
            .test_run(&bpfkit::loader::TestRun {
                data: &[0u8; 64],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.retval, 0);
        drop(object);
        // The object is gone; the caller's handle still has what the program wrote.
        let results: HashMap<_, u32, u64> = HashMap::new(&existing).unwrap();
        assert_eq!(results.get(&1).unwrap(), Some(5 * 3), "counter * factor");

        // Resized after the replacement: the loader checks the definition as it is then.
        spec.map_mut("results").unwrap().max_entries = 32;
        let err = Loader::new().load_spec(&spec).unwrap_err();
        assert_eq!(
            bpfkit::Report(&err).to_string(),
            "object 'globals': map 'results': cannot be replaced by 'shared_results': \
             its max_entries is 8, the object's map wants 32"
        );
        drop(spec);
        drop((existing, wrong));
        std::fs::remove_file(obj_path).unwrap();
    }
    fds.assert_no_leak();
}
