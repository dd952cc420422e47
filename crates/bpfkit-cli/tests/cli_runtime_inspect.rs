//! `bpfkit prog list|show`, `bpfkit map list|dump`, `bpfkit link list` against bpftool's view
//! of the same kernel objects (runs as root on the real kernel), and `bpfkit load --set`
//! seen through `map dump`'s BTF formatting.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use bpfkit::loader::Loader;
use bpfkit::maps::{possible_cpus, MapData, MapParams, MapType};
use bpfkit_test_support::{bpftool_json, corpus_dir};
use serde_json::{json, Value};

/// The tests of this file run one at a time, so the fd counts are this test's own.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("run bpfkit")
}

fn json_of(args: &[&str]) -> Value {
    let out = bpfkit(args);
    assert!(
        out.status.success(),
        "bpfkit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// A fresh pin directory on the bpffs, removed (unloading what is pinned there) on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = PathBuf::from(format!(
            "/sys/fs/bpf/bpfkit-cli-inspect-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn execsnoop() -> String {
    corpus_dir()
        .join("libbpf-tools/execsnoop.bpf.o")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn prog_show_and_list_report_what_bpftool_reports() {
    let _serial = serial();
    let dir = PinDir::new();
    let loaded = json_of(&[
        "load",
        &execsnoop(),
        "--pin-dir",
        dir.0.to_str().unwrap(),
        "--json",
    ]);
    let list = json_of(&["prog", "list", "--json"]);
    for p in loaded["programs"].as_array().unwrap() {
        let id = p["id"].as_u64().unwrap();
        let ours = json_of(&["prog", "show", &id.to_string(), "--json"]);
        let theirs = bpftool_json(["prog", "show", "id", &id.to_string()]).unwrap();
        for (o, t) in [
            ("id", "id"),
            ("type", "type"),
            ("tag", "tag"),
            ("gpl_compatible", "gpl_compatible"),
            ("uid", "uid"),
            ("bytes_xlated", "bytes_xlated"),
            ("bytes_jited", "bytes_jited"),
            ("map_ids", "map_ids"),
            ("btf_id", "btf_id"),
        ] {
            assert_eq!(
                ours[o], theirs[t],
                "prog {id} {o}: {ours} vs bpftool {theirs}"
            );
        }
        // The kernel keeps 15 bytes of the name; bpftool completes it from BTF.
        let name = ours["name"].as_str().unwrap();
        assert_eq!(name.len(), 15.min(p["name"].as_str().unwrap().len()));
        assert!(theirs["name"].as_str().unwrap().starts_with(name));
        assert!(ours["verified_insns"].as_u64().unwrap() > 0);
        let listed = list
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"].as_u64() == Some(id))
            .unwrap_or_else(|| panic!("prog {id} not in prog list"));
        assert_eq!(listed, &ours);
    }
    // An id that does not exist is an error naming it.
    let out = bpfkit(&["prog", "show", "4294967295"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("program id 4294967295"));
}

#[test]
fn map_list_matches_bpftool_and_dump_formats_set_globals_and_structs_through_btf() {
    let _serial = serial();
    let dir = PinDir::new();
    let loaded = json_of(&[
        "load",
        &execsnoop(),
        "--pin-dir",
        dir.0.to_str().unwrap(),
        "--set",
        "targ_uid=1234",
        "--set",
        "ignore_failed=true",
        "--set",
        "max_args=7",
        "--json",
    ]);
    // map list: every map of the load, as bpftool shows it.
    let list = json_of(&["map", "list", "--json"]);
    for m in loaded["maps"].as_array().unwrap() {
        let id = m["id"].as_u64().unwrap();
        let theirs = bpftool_json(["map", "show", "id", &id.to_string()]).unwrap();
        let ours = list
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"].as_u64() == Some(id))
            .unwrap_or_else(|| panic!("map {id} not in map list"));
        for (o, t) in [
            ("type", "type"),
            ("name", "name"),
            ("flags", "flags"),
            ("key_size", "bytes_key"),
            ("value_size", "bytes_value"),
            ("max_entries", "max_entries"),
        ] {
            assert_eq!(
                ours[o], theirs[t],
                "map {id} {o}: {ours} vs bpftool {theirs}"
            );
        }
        // bpftool omits btf_id 0.
        assert_eq!(
            ours["btf_id"].as_u64(),
            Some(theirs["btf_id"].as_u64().unwrap_or(0))
        );
    }

    // .rodata through its DATASEC: the values set with --set, by variable name, equal to
    // bpftool's formatted dump of the same pin.
    let rodata_pin = dir.path("maps/execsnoo_rodata");
    let ours = json_of(&["map", "dump", &rodata_pin, "--json"]);
    assert_eq!(ours["btf"], json!(true));
    let value = &ours["entries"][0]["value"];
    assert_eq!(value["targ_uid"], json!(1234));
    assert_eq!(value["ignore_failed"], json!(true));
    assert_eq!(value["max_args"], json!(7));
    assert_eq!(value["empty_event"]["comm"], json!(""));
    let theirs = bpftool_json(["map", "dump", "pinned", &rodata_pin]).unwrap();
    for var in theirs[0]["formatted"]["value"][".rodata"]
        .as_array()
        .unwrap()
    {
        let (name, v) = var.as_object().unwrap().iter().next().unwrap();
        assert_eq!(&value[name], v, ".rodata {name}: {value} vs bpftool {var}");
    }

    // A hash of `struct event` written from user space: same fields and values as bpftool.
    let execs_pin = dir.path("maps/execs");
    let execs = MapData::from_pin(&execs_pin).unwrap();
    let mut event = vec![0u8; execs.value_size() as usize];
    for (off, v) in [(0, 42i32), (4, 7), (8, 1000), (12, -2), (16, 3), (20, 12)] {
        event[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    event[24..28].copy_from_slice(b"bash");
    event[40..48].copy_from_slice(b"ls\0-l\0/\0");
    execs.update_bytes(&42u32.to_ne_bytes(), &event, 0).unwrap();
    let ours = json_of(&["map", "dump", &execs_pin, "--json"]);
    let entries = ours["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["key"], json!(42));
    let v = &entries[0]["value"];
    assert_eq!(
        (
            &v["pid"],
            &v["ppid"],
            &v["uid"],
            &v["retval"],
            &v["args_count"]
        ),
        (&json!(42), &json!(7), &json!(1000), &json!(-2), &json!(3))
    );
    assert_eq!(v["comm"], json!("bash"));
    let theirs = bpftool_json(["map", "dump", "pinned", &execs_pin]).unwrap();
    let formatted = &theirs[0]["formatted"];
    assert_eq!(formatted["key"], json!(42));
    for field in [
        "pid",
        "ppid",
        "uid",
        "retval",
        "args_count",
        "args_size",
        "comm",
    ] {
        assert_eq!(v[field], formatted["value"][field], "{field}");
    }
    let text = String::from_utf8(bpfkit(&["map", "dump", &execs_pin]).stdout).unwrap();
    assert!(
        text.contains("\"comm\":\"bash\"") && text.ends_with("Found 1 elements\n"),
        "{text}"
    );
    drop(execs);
}

#[test]
fn map_dump_by_id_without_btf_prints_hex_and_per_cpu_values_per_cpu() {
    let _serial = serial();
    let fds = fd_count();
    {
        let map =
            MapData::create(&MapParams::new("cli_pcpu", MapType::PercpuArray, 4, 8, 2)).unwrap();
        let cpus = possible_cpus().unwrap();
        let mut values = Vec::new();
        for cpu in 0..cpus {
            values.extend_from_slice(&(0x0100 + cpu as u64).to_ne_bytes());
        }
        map.update_bytes(&1u32.to_ne_bytes(), &values, 0).unwrap();
        let id = map.id().unwrap();
        let ours = json_of(&["map", "dump", &id.to_string(), "--json"]);
        assert_eq!(ours["btf"], json!(false));
        assert_eq!(ours["type"], json!("percpu_array"));
        let entries = ours["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1]["key"], json!("01 00 00 00"));
        let per_cpu = entries[1]["values"].as_array().unwrap();
        assert_eq!(per_cpu.len(), cpus);
        for (cpu, v) in per_cpu.iter().enumerate() {
            assert_eq!(v["cpu"], json!(cpu));
            assert_eq!(
                v["value"],
                json!(format!("{:02x} 01 00 00 00 00 00 00", cpu))
            );
        }
        // A queue has no keys: the error names the map type.
        let queue = MapData::create(&MapParams::new("cli_queue", MapType::Queue, 0, 4, 4)).unwrap();
        let out = bpfkit(&["map", "dump", &queue.id().unwrap().to_string()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("is a queue map"));
    }
    assert_eq!(fd_count(), fds, "fds leaked");
}

#[test]
fn link_list_shows_a_raw_tracepoint_link_like_bpftool() {
    let _serial = serial();
    let fds = fd_count();
    {
        let object = Loader::new()
            .load_file(corpus_dir().join("libbpf-tools/biolatency.bpf.o"))
            .unwrap();
        let prog = object.program("block_rq_insert").unwrap();
        let name = std::ffi::CString::new("block_rq_insert").unwrap();
        let link = bpfkit::sys::raw_tracepoint_open(Some(&name), prog.fd()).unwrap();
        let info = bpfkit::info::LinkInfo::from_fd(link.as_fd()).unwrap();
        let ours = json_of(&["link", "list", "--json"]);
        let mine = ours
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"].as_u64() == Some(info.id.into()))
            .unwrap_or_else(|| panic!("link {} not in {ours}", info.id));
        assert_eq!(mine["prog_id"], json!(prog.id().unwrap()));
        assert_eq!(mine["type"], json!("raw_tracepoint"));
        let theirs = bpftool_json(["link", "show", "id", &info.id.to_string()]).unwrap();
        assert_eq!(mine["type"], theirs["type"]);
        assert_eq!(mine["prog_id"], theirs["prog_id"]);
        drop(link);
        // Gone from the list once closed (link release is immediate on the last fd).
        let after = json_of(&["link", "list", "--json"]);
        assert!(after
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["id"].as_u64() != Some(info.id.into())));
    }
    assert_eq!(fd_count(), fds, "fds leaked");
}
