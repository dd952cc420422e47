//! The Rust→BPF route end to end: testdata crates built by `bpfkit-build` with the
//! `bpfkit-link` linker, loaded by libbpf (bpftool) into the running kernel. Needs root.

mod common;

use common::{build, raw_getpid, Loaded, TracepointLink};

/// The tests run on threads of one process and `counter` counts getpid calls per process:
/// each test holds this lock from attaching to `sys_enter_getpid` until it detaches, so no
/// other test's calls land in its window.
static GETPID_WINDOW: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn getpid_window() -> std::sync::MutexGuard<'static, ()> {
    GETPID_WINDOW.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn counter_loads_with_btf_and_counts_getpid_calls_by_pid() {
    let object = build("counter");
    let loaded = Loaded::new(&object.path, "counter");

    let info = loaded.program_info("count_getpid");
    assert_eq!(info["type"], "tracepoint");
    assert!(
        info["btf_id"].as_u64().is_some_and(|id| id > 0),
        "the kernel accepted the program's BTF: {info}"
    );

    let _window = getpid_window();
    let link = TracepointLink::attach(
        &loaded.program("count_getpid"),
        "syscalls",
        "sys_enter_getpid",
    );
    let pid = raw_getpid();
    for _ in 0..4 {
        raw_getpid();
    }
    drop(link);

    let dump = loaded.dump_map("COUNTS");
    let (_, ours) = dump
        .iter()
        .find(|(key, _)| *key == pid)
        .unwrap_or_else(|| panic!("no entry for pid {pid} in {dump:?}"));
    // Field names come from the BTF of the Rust `Stats` struct.
    assert_eq!(ours["calls"], 5, "{ours}");
    assert_eq!(ours["pid"], pid, "{ours}");
    assert!(
        ours["last_seen_ns"].as_u64().is_some_and(|t| t > 0),
        "{ours}"
    );
}

#[test]
fn rust_type_shapes_carry_btf_the_kernel_accepts() {
    let object = build("shapes");
    let loaded = Loaded::new(&object.path, "shapes");
    let info = loaded.program_info("shapes");
    assert!(
        info["btf_id"].as_u64().is_some_and(|id| id > 0),
        "the kernel accepted the BTF of every shape: {info}"
    );

    // The map value is printed through BTF, field by field, in offset order.
    let dump = loaded.dump_map("SHAPES");
    let value = &dump[0].1;
    for field in [
        "reordered",
        "event",
        "pair",
        "maybe",
        "wrapped",
        "letter",
        "unit",
        "phantom",
        "wide",
    ] {
        assert!(value.get(field).is_some(), "field `{field}` in {value}");
    }
    assert_eq!(
        value["reordered"],
        serde_json::json!({"a": 0, "b": 0, "c": 0})
    );
    assert_eq!(
        value["event"][""]["Exec"],
        serde_json::json!({"pid": 0, "ppid": 0}),
        "data-carrying enum variants keep their fields: {value}"
    );

    // Names the kernel rejects were rewritten, types LLVM drops were added.
    let btf = common::bpftool(&["btf", "dump", "file", object.path.to_str().unwrap()]);
    for expected in [
        "STRUCT 'Option_u32_'",
        "STRUCT '_u8_u32_'",
        "STRUCT '_closure_env_0_'",
        "STRUCT 'Wrapper_u16_3_'",
        "STRUCT '_str'",
        "INT 'char' size=4",
        "FUNC 'shapes' type_id=",
        "FUNC 'mix' type_id=",
        "FLOAT 'f64' size=8",
    ] {
        assert!(btf.contains(expected), "`{expected}` in:\n{btf}");
    }
    assert!(!btf.contains('<'), "no generic brackets left:\n{btf}");
    // rustc placed `b` first, then `c`, then `a`: BTF lists members by offset.
    let reordered: Vec<&str> = btf
        .lines()
        .skip_while(|l| !l.contains("STRUCT 'Reordered' size=16 vlen=3"))
        .skip(1)
        .take(3)
        .map(str::trim)
        .collect();
    assert_eq!(
        reordered.iter().map(|l| &l[..3]).collect::<Vec<_>>(),
        ["'b'", "'c'", "'a'"],
        "{reordered:?}"
    );
    assert!(reordered[0].ends_with("bits_offset=0"), "{reordered:?}");
    assert!(
        btf.contains("'arg0' type_id="),
        "unnamed parameters got names"
    );
    assert!(btf.contains("FUNC 'mix' type_id=") && btf.contains("linkage=static"));
}

#[test]
fn variable_length_copies_are_lowered_to_loops_the_verifier_accepts() {
    let object = build("memops");
    let loaded = Loaded::new(&object.path, "memops");
    let info = loaded.program_info("memops");
    assert!(info["btf_id"].as_u64().is_some_and(|id| id > 0), "{info}");

    // Source buffer (key 0): bytes 1..=32.
    let map = loaded.map("BUFFERS");
    let mut update = vec![
        "map".to_string(),
        "update".into(),
        "pinned".into(),
        map.to_str().unwrap().into(),
        "key".into(),
    ];
    update.extend(["0", "0", "0", "0", "value"].map(String::from));
    update.extend(["0", "0", "0", "0"].map(String::from));
    update.extend((1..=32).map(|b: u8| b.to_string()));
    common::bpftool(&update.iter().map(String::as_str).collect::<Vec<_>>());

    let _window = getpid_window();
    let link = TracepointLink::attach(&loaded.program("memops"), "syscalls", "sys_enter_getpid");
    let pid = raw_getpid();
    drop(link);

    let len = (pid as usize & 15) + 1;
    let dump = loaded.dump_map("BUFFERS");
    let dst = &dump[1].1;
    assert_eq!(dst["len"], len as u64, "{dst}");
    let bytes: Vec<u64> = dst["bytes"]
        .as_array()
        .expect("bytes array")
        .iter()
        .map(|b| b.as_u64().expect("byte"))
        .collect();
    // copy_from_slice of 0..len, fill of the rest, then copy_within of 0..len to 16.
    let expected: Vec<u64> = (0..32)
        .map(|i| match i {
            i if i < len => i as u64 + 1,
            i if (16..16 + len).contains(&i) => (i - 16) as u64 + 1,
            _ => 0xaa,
        })
        .collect();
    assert_eq!(bytes, expected);
}

/// `bpfkit$kfunc$` declarations become kfunc calls: libbpf resolves them against vmlinux
/// BTF and the verifier accepts the acquire/release pair.
#[test]
fn kfunc_declarations_become_kfunc_calls_libbpf_resolves() {
    let object = build("kfunc");
    let loaded = Loaded::new(&object.path, "kfunc");
    let info = loaded.program_info("on_newtask");
    assert!(info["btf_id"].as_u64().is_some_and(|id| id > 0), "{info}");
    let pinned = loaded.program("on_newtask");
    let xlated = common::bpftool(&["prog", "dump", "xlated", "pinned", pinned.to_str().unwrap()]);
    for kfunc in [
        "bpf_task_acquire",
        "bpf_rcu_read_lock",
        "bpf_rcu_read_unlock",
        "bpf_task_release",
    ] {
        assert!(
            xlated.contains(&format!("call {kfunc}#")),
            "{kfunc}: {xlated}"
        );
    }
}

/// An opaque `task_struct` (like `bpfkit_ebpf::bindings::task_struct`) seen before the
/// stand-in does not capture the marker: the type with the member wins.
#[test]
fn core_markers_pick_the_task_struct_that_has_the_member() {
    let object = build("coreshadow");
    let loaded = Loaded::new(&object.path, "coreshadow");
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
    // The program records whoever calls getpid last, system-wide: another process may call
    // it inside the window, so try a few windows until ours is the last call.
    let mut observed = serde_json::Value::Null;
    for _ in 0..5 {
        let _window = getpid_window();
        let link = TracepointLink::attach(
            &loaded.program("coreshadow"),
            "syscalls",
            "sys_enter_getpid",
        );
        let pid = raw_getpid();
        drop(link);
        observed = loaded.dump_map("OBSERVED")[0].1.clone();
        if observed["tgid"] == pid {
            break;
        }
    }
    assert_eq!(observed["tgid"], std::process::id(), "{observed}");
    assert_eq!(observed["pid"], tid, "{observed}");
}

#[test]
fn core_markers_relocate_task_struct_members_to_the_running_kernel() {
    let object = build("corereloc");
    let loaded = Loaded::new(&object.path, "corereloc");
    let info = loaded.program_info("corereloc");
    assert!(info["btf_id"].as_u64().is_some_and(|id| id > 0), "{info}");

    let _window = getpid_window();
    let link = TracepointLink::attach(&loaded.program("corereloc"), "syscalls", "sys_enter_getpid");
    let pid = raw_getpid();
    drop(link);
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;

    let dump = loaded.dump_map("OBSERVED");
    let observed = &dump[0].1;
    // The stand-in puts tgid at offset 4; libbpf moved the reads to the kernel's offsets.
    assert_eq!(observed["tgid"], pid, "{observed}");
    assert_eq!(observed["pid"], tid, "{observed}");
    assert_eq!(observed["tgid_exists"], 1, "{observed}");
    assert_eq!(observed["missing_exists"], 0, "{observed}");
    assert_eq!(observed["tgid_size"], 4, "{observed}");
    assert!(
        observed["tgid_offset"].as_u64().is_some_and(|o| o > 8),
        "the kernel's offset of task_struct.tgid, not the stand-in's 4: {observed}"
    );
}
