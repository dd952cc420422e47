//! uprobe/uretprobe on a function of this test binary and on a libc function (arguments and
//! return values), and USDT on a probe of a C test program, with the libbpf usdt.bpf.h protocol.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use bpfkit::loader::{Loader, Object};
use bpfkit::programs::{self, uprobe};
use bpfkit_test_support::{c_program, fixture, map_dump};
use common::FdCheck;

/// The function probed in this binary.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_attach_test_target(value: i64) -> i64 {
    std::hint::black_box(value) * 3
}

fn load_counters(target_pid: i32) -> Object {
    Loader::new()
        .set_global("target_pid", &target_pid.to_ne_bytes())
        .load_file(fixture("attach_counters"))
        .expect("attach_counters loads")
}

fn count(object: &Object, slot: u32) -> u64 {
    let map = object.map("counts").expect("counts map");
    let mut value = [0u8; 8];
    assert!(map
        .lookup_bytes(&slot.to_ne_bytes(), &mut value, 0)
        .unwrap());
    u64::from_ne_bytes(value)
}

fn probe_pair(
    object: &Object,
    binary: &str,
    symbol: &str,
) -> (bpfkit::links::Link, bpfkit::links::Link) {
    let pid = Some(std::process::id() as i32);
    let entry = uprobe::attach(
        object.program("on_entry").unwrap(),
        binary,
        uprobe::UprobeTarget::Symbol(symbol, 0),
        &uprobe::UprobeOptions {
            pid,
            ..Default::default()
        },
    )
    .unwrap();
    let exit = uprobe::attach(
        object.program("on_return").unwrap(),
        binary,
        uprobe::UprobeTarget::Symbol(symbol, 0),
        &uprobe::UprobeOptions {
            retprobe: true,
            pid,
            ..Default::default()
        },
    )
    .unwrap();
    (entry, exit)
}

#[test]
fn uprobe_and_uretprobe_on_a_function_of_this_binary_see_args_and_return_values() {
    let fds = FdCheck::start();
    let object = load_counters(std::process::id() as i32);
    let exe = std::env::current_exe().unwrap();
    let (entry, exit) = probe_pair(&object, exe.to_str().unwrap(), "bpfkit_attach_test_target");
    let mut sum = 0;
    for v in 1..=4 {
        sum += bpfkit_attach_test_target(v);
    }
    assert_eq!(sum, 30);
    assert_eq!(count(&object, 7), 4, "calls");
    assert_eq!(count(&object, 8), 1 + 2 + 3 + 4, "sum of arguments");
    assert_eq!(count(&object, 9), 30, "sum of return values");
    drop((entry, exit));
    bpfkit_attach_test_target(100);
    assert_eq!(count(&object, 7), 4, "no calls counted after detach");
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn uprobe_and_uretprobe_on_libc_labs_found_through_the_ld_so_cache() {
    let fds = FdCheck::start();
    let libc_path = uprobe::ld_so_cache_lookup("libc.so.6").expect("libc.so.6 in ld.so.cache");
    let mapped = uprobe::library_in_maps(std::process::id() as i32, "libc.so.6").unwrap();
    assert_eq!(
        std::fs::canonicalize(&libc_path).unwrap(),
        std::fs::canonicalize(&mapped).unwrap(),
        "the cache names the libc this process maps"
    );
    let object = load_counters(std::process::id() as i32);
    let (entry, exit) = probe_pair(&object, "libc.so.6", "labs");
    let mut total = 0;
    for v in [-5i64, 7, -11] {
        // SAFETY: labs has no preconditions.
        total += unsafe { libc::labs(std::hint::black_box(v) as libc::c_long) } as i64;
    }
    assert_eq!(total, 23);
    assert_eq!(count(&object, 7), 3, "calls");
    assert_eq!(count(&object, 8) as i64, -5 + 7 - 11, "sum of arguments");
    assert_eq!(count(&object, 9), 23, "sum of return values");
    drop((entry, exit, object));
    fds.assert_no_leak();
}

#[test]
fn unknown_uprobe_symbol_is_a_target_error_naming_the_file() {
    let fds = FdCheck::start();
    let object = load_counters(0);
    let exe = std::env::current_exe().unwrap();
    let err = uprobe::attach(
        object.program("on_entry").unwrap(),
        exe.to_str().unwrap(),
        uprobe::UprobeTarget::Symbol("no_such_function_here", 0),
        &uprobe::UprobeOptions::default(),
    )
    .unwrap_err();
    let text = bpfkit::Report(&err).to_string();
    assert!(text.contains("no symbol 'no_such_function_here'"), "{text}");
    assert!(
        text.contains(exe.file_name().unwrap().to_str().unwrap()),
        "{text}"
    );
    drop(object);
    fds.assert_no_leak();
}

/// The value of global `name` from bpftool's BTF-formatted dump of a `.bss` map.
fn bss_var(object: &Object, name: &str) -> i64 {
    let (_, map) = object
        .maps()
        .find(|(n, _)| n.ends_with(".bss"))
        .expect(".bss map");
    let entries = map_dump(map.id().unwrap()).unwrap();
    fn find(v: &serde_json::Value, name: &str) -> Option<i64> {
        match v {
            serde_json::Value::Object(m) => m
                .get(name)
                .and_then(|x| x.as_i64())
                .or_else(|| m.values().find_map(|x| find(x, name))),
            serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, name)),
            _ => None,
        }
    }
    find(
        entries[0].formatted.as_ref().expect("BTF-formatted .bss"),
        name,
    )
    .unwrap_or_else(|| panic!("{name} not in .bss"))
}

#[test]
fn usdt_probe_and_uprobes_in_a_c_program_see_the_probe_arguments() {
    let fds = FdCheck::start();
    let target = c_program("usdt_target");
    let notes = programs::usdt::parse_notes(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].provider.as_str(), notes[0].name.as_str()),
        ("bpfkit", "tick")
    );
    assert_eq!(
        notes[0].args.split_whitespace().count(),
        2,
        "{}",
        notes[0].args
    );

    let mut child = Command::new(&target)
        .arg("5")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let pid: i32 = line.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(pid, child.id() as i32);

    let object = Loader::new().load_file(fixture("usdt_uprobe")).unwrap();
    let path = target.to_str().unwrap();
    let usdt = programs::usdt::attach(
        object.program("on_tick").unwrap(),
        path,
        "bpfkit",
        "tick",
        &programs::usdt::UsdtOptions {
            pid: Some(pid),
            ..Default::default()
        },
    )
    .unwrap();
    let options = |retprobe| uprobe::UprobeOptions {
        retprobe,
        pid: Some(pid),
        ..Default::default()
    };
    let symbol = uprobe::UprobeTarget::Symbol("bpfkit_uprobe_target", 0);
    let entry = uprobe::attach(
        object.program("on_target_entry").unwrap(),
        path,
        symbol.clone(),
        &options(false),
    )
    .unwrap();
    let exit = uprobe::attach(
        object.program("on_target_return").unwrap(),
        path,
        symbol,
        &options(true),
    )
    .unwrap();

    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "15", "the target's own sum of return values");
    assert!(child.wait().unwrap().success());

    assert_eq!(bss_var(&object, "ticks"), 5);
    assert_eq!(bss_var(&object, "tick_index_sum"), 10);
    assert_eq!(bss_var(&object, "tick_scaled_sum"), 100);
    assert_eq!(bss_var(&object, "uprobe_calls"), 5);
    assert_eq!(bss_var(&object, "uprobe_arg_sum"), 10);
    assert_eq!(bss_var(&object, "uretprobe_ret_sum"), 15);
    drop((usdt, entry, exit, object, out));
    fds.assert_no_leak();
}

#[test]
fn usdt_argument_specs_parse_as_libbpf_encodes_them() {
    use programs::usdt::{encode_spec, parse_arg, UsdtArg};
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let _serial = FdCheck::start();
    assert_eq!(
        parse_arg("-4@%eax"),
        Some(UsdtArg::Reg {
            reg_off: 80,
            size: -4
        })
    );
    assert_eq!(
        parse_arg("8@-8(%rbp)"),
        Some(UsdtArg::RegDeref {
            reg_off: 32,
            offset: -8,
            size: 8
        })
    );
    assert_eq!(
        parse_arg("4@$5"),
        Some(UsdtArg::Const { value: 5, size: 4 })
    );
    assert_eq!(parse_arg("3@%eax"), None, "sizes are 1, 2, 4 or 8");
    let spec = encode_spec("-4@%edi 8@%rsi", 77).unwrap();
    assert_eq!(&spec[8..12], &1u32.to_ne_bytes(), "arg 0 is a register");
    assert_eq!(&spec[12..14], &112i16.to_ne_bytes(), "rdi in pt_regs");
    assert_eq!((spec[14], spec[15]), (1, 32), "signed, shift 64-32");
    assert_eq!(&spec[16 + 12..16 + 14], &104i16.to_ne_bytes(), "rsi");
    assert_eq!(spec[16 + 15], 0, "8-byte arg: no shift");
    assert_eq!(&spec[192..200], &77u64.to_ne_bytes(), "usdt cookie");
    assert_eq!(&spec[200..202], &2i16.to_ne_bytes(), "arg count");
}

/// Second probe target in this binary, for multi-attach.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_attach_test_target_two(value: i64) -> i64 {
    std::hint::black_box(value) + 1
}

#[test]
fn uprobe_cookie_reaches_the_program() {
    let fds = FdCheck::start();
    let object = load_counters(std::process::id() as i32);
    let exe = std::env::current_exe().unwrap();
    let link = uprobe::attach(
        object.program("on_cookie_single").unwrap(),
        exe.to_str().unwrap(),
        uprobe::UprobeTarget::Symbol("bpfkit_attach_test_target", 0),
        &uprobe::UprobeOptions {
            pid: Some(std::process::id() as i32),
            cookie: Some(0x1234),
            ..Default::default()
        },
    )
    .unwrap();
    bpfkit_attach_test_target(1);
    bpfkit_attach_test_target(2);
    assert_eq!(count(&object, 10), 2 * 0x1234);
    drop((link, object));
    fds.assert_no_leak();
}

#[test]
fn uprobe_multi_link_attaches_two_functions_with_their_own_cookies() {
    let fds = FdCheck::start();
    let object = Loader::new()
        .set_global("target_pid", &(std::process::id() as i32).to_ne_bytes())
        .load_file(fixture("attach_multi"))
        .expect("attach_multi loads");
    let exe = std::env::current_exe().unwrap();
    let offsets: Vec<u64> = ["bpfkit_attach_test_target", "bpfkit_attach_test_target_two"]
        .iter()
        .map(|s| uprobe::symbol_file_offset(&exe, s).unwrap())
        .collect();
    let link = uprobe::attach_multi(
        object.program("on_cookie").unwrap(),
        &exe,
        &offsets,
        &uprobe::UprobeMultiOptions {
            pid: Some(std::process::id() as i32),
            cookies: vec![1000, 1],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        link.info().unwrap().link_type,
        bpfkit::sys::uapi::BPF_LINK_TYPE_UPROBE_MULTI
    );
    bpfkit_attach_test_target(5);
    bpfkit_attach_test_target_two(5);
    bpfkit_attach_test_target_two(6);
    assert_eq!((count(&object, 0), count(&object, 1)), (1000 + 1 + 1, 3));
    drop(link);
    bpfkit_attach_test_target(5);
    assert_eq!(count(&object, 1), 3, "nothing counted after detach");
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn iter_link_update_swaps_the_program_that_runs() {
    let fds = FdCheck::start();
    let object = load_counters(std::process::id() as i32);
    let first = object.program("list_tasks").unwrap();
    let second = object.program("list_tasks_comm").unwrap();
    let link = programs::iter::attach(first).unwrap();
    let before = String::from_utf8(programs::iter::read_all(&link).unwrap()).unwrap();
    assert!(before.contains(&format!("pid {}\n", std::process::id())));
    link.update_program(second.fd(), Some(first.fd())).unwrap();
    assert_eq!(link.info().unwrap().prog_id, second.id().unwrap());
    let after = String::from_utf8(programs::iter::read_all(&link).unwrap()).unwrap();
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(
        after,
        format!("comm {}", comm),
        "only this process, by the new program"
    );
    // Replacing with the wrong expected old program is refused.
    let err = link
        .update_program(first.fd(), Some(first.fd()))
        .unwrap_err();
    assert!(
        bpfkit::Report(&err).to_string().contains("update program"),
        "{err}"
    );
    drop((link, object));
    fds.assert_no_leak();
}

#[test]
fn usdt_semaphore_is_raised_while_attached() {
    let fds = FdCheck::start();
    let target = c_program("attach_usdt_semaphore");
    let notes = programs::usdt::parse_notes(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(notes.len(), 1);
    assert_ne!(notes[0].semaphore, 0, "the note names the semaphore");

    let mut child = Command::new(&target)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let pid: i32 = line.split_whitespace().next().unwrap().parse().unwrap();

    let object = Loader::new().load_file(fixture("usdt_uprobe")).unwrap();
    let link = programs::usdt::attach(
        object.program("on_tick").unwrap(),
        target.to_str().unwrap(),
        "bpfkit",
        "sema_tick",
        &programs::usdt::UsdtOptions {
            pid: Some(pid),
            ..Default::default()
        },
    )
    .unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "sema 1", "the kernel raised the semaphore");
    assert!(child.wait().unwrap().success());
    assert_eq!(bss_var(&object, "ticks"), 3);
    assert_eq!(bss_var(&object, "tick_index_sum"), 3 * 42);
    drop((link, object, out));
    fds.assert_no_leak();
}

/// The function the uprobe.session test probes (called by no other test).
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_session_test_target(value: i64) -> i64 {
    std::hint::black_box(value) + 1
}

/// A uprobe.session program (expected attach type BPF_TRACE_UPROBE_SESSION, Linux 6.13)
/// attaches with a link of its own attach type and runs twice per call: once on entry,
/// once on return (`bpf_session_is_return()`), counted apart in the map.
#[test]
fn uprobe_session_counts_every_entry_and_every_return() {
    let fds = FdCheck::start();
    {
        let object = Loader::new()
            .set_global("target_pid", &(std::process::id() as i32).to_ne_bytes())
            .load_file(fixture("attach_session"))
            .expect("attach_session loads");
        let program = object.program("on_session").unwrap();
        assert_eq!(
            program.section().expected_attach_type,
            Some(bpfkit_obj::object::AttachType::TraceUprobeSession)
        );
        let exe = std::env::current_exe().unwrap();
        let offset = uprobe::symbol_file_offset(&exe, "bpfkit_session_test_target").unwrap();
        let options = uprobe::UprobeMultiOptions {
            pid: Some(std::process::id() as i32),
            ..Default::default()
        };
        let err = uprobe::attach_multi(
            program,
            &exe,
            &[offset],
            &uprobe::UprobeMultiOptions {
                retprobe: true,
                ..options.clone()
            },
        )
        .unwrap_err();
        assert!(
            bpfkit::Report(&err)
                .to_string()
                .contains("retprobe does not apply"),
            "{err}"
        );

        // What bpfkit did before: the uprobe_multi attach type, which the kernel refuses
        // for a program loaded as a session.
        let c_exe = std::ffi::CString::new(exe.to_str().unwrap()).unwrap();
        let err = bpfkit::sys::attach::link_create_uprobe_multi(
            program.fd(),
            bpfkit::sys::uapi::BPF_TRACE_UPROBE_MULTI,
            &c_exe,
            &[offset],
            &[],
            &[],
            std::process::id(),
            false,
        )
        .unwrap_err();
        assert_eq!(err.errno(), Some(libc::EINVAL), "{err}");

        let link = uprobe::attach_multi(program, &exe, &[offset], &options).unwrap();
        let info = link.info().unwrap();
        assert_eq!(
            (info.link_type, info.prog_id),
            (
                bpfkit::sys::uapi::BPF_LINK_TYPE_UPROBE_MULTI,
                program.id().unwrap()
            )
        );
        const CALLS: i64 = 7;
        let sum: i64 = (0..CALLS).map(|v| bpfkit_session_test_target(v)).sum();
        assert_eq!(sum, (1..=CALLS).sum::<i64>());
        assert_eq!(
            (count(&object, 0), count(&object, 1)),
            (CALLS as u64, CALLS as u64),
            "(entries, returns)"
        );
        drop(link);
        bpfkit_session_test_target(1);
        assert_eq!(count(&object, 0), CALLS as u64, "nothing after detach");
    }
    fds.assert_no_leak();
}
