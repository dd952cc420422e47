//! Regression tests of CLI defects a new user hit in the first hour (issue 12): long help,
//! closed pipes, pins of the wrong kind, `--pin-dir` off a bpffs, record decoding, split BTF,
//! link targets and `prog dump`. Runs as root on the real kernel.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use bpfkit_test_support::corpus_dir;
use serde_json::Value;

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("run bpfkit")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(args: &[&str]) -> Value {
    let out = bpfkit(args);
    assert!(out.status.success(), "bpfkit {args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// A fresh pin directory on the bpffs, removed (unloading what is pinned there) on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new() -> Self {
        bpfkit_test_support::ensure_bpffs().unwrap();
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = PathBuf::from(format!(
            "/sys/fs/bpf/bpfkit-cli-regress-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }

    fn as_str(&self) -> &str {
        self.0.to_str().unwrap()
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
fn inspect_load_and_run_help_show_their_long_help() {
    let inspect = bpfkit(&["inspect", "--help"]);
    assert!(inspect.status.success());
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        text.contains("read from the file alone (no kernel needed)"),
        "inspect --help lacks its long help:\n{text}"
    );
    assert!(text.contains("\"core_relocations\""), "{text}");

    let load = bpfkit(&["load", "--help"]);
    assert!(load.status.success());
    let text = String::from_utf8_lossy(&load.stdout);
    assert!(
        text.contains("each map at DIR/maps/<map name>"),
        "load --help lacks its long help:\n{text}"
    );
    let run = bpfkit(&["run", "--help"]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        text.contains("--record MAP=TYPE names the struct"),
        "{text}"
    );
    // The short help (-h) keeps the one-line summary.
    let short = bpfkit(&["load", "-h"]);
    assert!(String::from_utf8_lossy(&short.stdout).contains("like `bpftool prog loadall`"));
}

/// Run `bpfkit args` with stdout a pipe whose read end is already closed, so the first write
/// fails with EPIPE: the process must end quietly (SIGPIPE or exit 0), never with a panic.
fn run_into_closed_pipe(args: &[&str]) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a live array of two ints for the kernel to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds were just created by pipe2 and are owned by nothing else.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "bpfkit {args:?} panicked: {err}");
    assert_ne!(out.status.code(), Some(101), "bpfkit {args:?}: {err}");
    assert!(
        out.status.signal() == Some(libc::SIGPIPE) || out.status.success(),
        "bpfkit {args:?} into a closed pipe: {:?} {err}",
        out.status
    );
}

#[test]
fn writing_to_a_closed_pipe_ends_quietly() {
    let dir = PinDir::new();
    let loaded = json_of(&["load", &execsnoop(), "--pin-dir", dir.as_str(), "--json"]);
    assert!(!loaded["programs"].as_array().unwrap().is_empty());
    // Every one of these writes at least one line: the object's maps and programs exist.
    run_into_closed_pipe(&["prog", "list"]);
    run_into_closed_pipe(&["prog", "list", "--json"]);
    run_into_closed_pipe(&["map", "list"]);
    run_into_closed_pipe(&["map", "dump", &dir.path("maps/execsnoo_rodata")]);
    run_into_closed_pipe(&["inspect", "--json", &execsnoop()]);
    run_into_closed_pipe(&["inspect", &execsnoop()]);
    run_into_closed_pipe(&["btf", "summary", "/sys/kernel/btf/vmlinux"]);
    run_into_closed_pipe(&["link", "list"]);
}

#[test]
fn pins_open_as_the_kind_they_hold_and_show_accepts_pin_paths() {
    let dir = PinDir::new();
    let loaded = json_of(&["load", &execsnoop(), "--pin-dir", dir.as_str(), "--json"]);
    let prog = &loaded["programs"][0];
    let prog_pin = prog["pin"].as_str().unwrap();
    let map = loaded["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "execsnoo.rodata")
        .unwrap();
    let map_pin = map["pin"].as_str().unwrap();

    // A pinned program given to `map dump`/`map show`: said so, nothing read as map info.
    for sub in ["dump", "show"] {
        let out = bpfkit(&["map", sub, prog_pin]);
        assert_eq!(out.status.code(), Some(1), "map {sub} of a program pin");
        let err = stderr(&out);
        assert!(err.contains("is a pinned program, not a map"), "{err}");
        assert!(err.contains(prog_pin), "{err}");
    }
    // And the other way round.
    let out = bpfkit(&["prog", "show", map_pin]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is a pinned map, not a program"),
        "{}",
        stderr(&out)
    );

    // `prog show PIN` and `map show PIN` show the object pinned there, as bpftool does.
    let shown = json_of(&["prog", "show", prog_pin, "--json"]);
    assert_eq!(shown["id"], prog["id"]);
    let theirs = bpfkit_test_support::bpftool_json(["prog", "show", "pinned", prog_pin]).unwrap();
    assert_eq!(shown["id"], theirs["id"]);
    assert_eq!(shown["tag"], theirs["tag"]);
    let shown = json_of(&["map", "show", map_pin, "--json"]);
    let theirs = bpfkit_test_support::bpftool_json(["map", "show", "pinned", map_pin]).unwrap();
    assert_eq!(shown["id"], map["id"]);
    for (ours, bpftool) in [
        ("id", "id"),
        ("key_size", "bytes_key"),
        ("value_size", "bytes_value"),
        ("max_entries", "max_entries"),
        ("btf_id", "btf_id"),
    ] {
        assert_eq!(shown[ours], theirs[bpftool], "{ours}");
    }
    let by_id = json_of(&["map", "show", &map["id"].to_string(), "--json"]);
    assert_eq!(by_id, shown);
}

#[test]
fn pin_dir_off_a_bpffs_is_refused_before_loading_and_leaves_nothing() {
    // A directory on tmpfs/ext4: refused, and the missing parents are not created.
    let base = std::env::temp_dir().join(format!("bpfkit-pin-dir-{}", std::process::id()));
    let pin_dir = base.join("a/b");
    for command in ["load", "run"] {
        let out = bpfkit(&[
            command,
            &execsnoop(),
            "--pin-dir",
            pin_dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let err = stderr(&out);
        assert!(
            err.contains("is not on a bpf filesystem"),
            "{command}: {err}"
        );
        assert!(
            err.contains("mount -t bpf bpf /sys/fs/bpf"),
            "{command}: {err}"
        );
        assert!(!base.exists(), "{command} left {} behind", base.display());
    }

    // No bpffs mounted at /sys/fs/bpf (a private mount namespace where it is unmounted).
    let script = format!(
        "umount /sys/fs/bpf 2>/dev/null; {} load {} --pin-dir /sys/fs/bpf/bpfkit-x",
        env!("CARGO_BIN_EXE_bpfkit"),
        execsnoop()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/sys/fs/bpf is not on a bpf filesystem"),
        "{err}"
    );

    // On a bpffs, a load that fails removes the directories it made for the pins.
    bpfkit_test_support::ensure_bpffs().unwrap();
    let dir = PinDir::new();
    let deep = dir.0.join("x/y");
    let not_an_object = std::env::current_exe().unwrap();
    let out = bpfkit(&[
        "load",
        not_an_object.to_str().unwrap(),
        "--pin-dir",
        deep.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !dir.0.exists(),
        "a failed load left {} behind",
        dir.0.display()
    );
    // And one that succeeds pins there.
    let loaded = json_of(&[
        "load",
        &execsnoop(),
        "--pin-dir",
        deep.to_str().unwrap(),
        "--json",
    ]);
    let pin = loaded["programs"][0]["pin"].as_str().unwrap();
    assert!(std::path::Path::new(pin).exists());
    // A relative --pin-dir is checked and created from the current directory.
    let out = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(["load", &execsnoop(), "--pin-dir", "rel/dir"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.0.join("rel/dir/maps").is_dir());
}

/// Probed by the uprobe of `link_list_shows_each_links_attach_target`.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_cli_link_probe_target(value: i64) -> i64 {
    std::hint::black_box(value) + 1
}

/// File offset of `symbol` in the ELF file at `path` (what a uprobe is attached at).
fn symbol_file_offset(path: &std::path::Path, symbol: &str) -> u64 {
    use object::{Object, ObjectSection, ObjectSymbol};
    let bytes = std::fs::read(path).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(symbol))
        .unwrap_or_else(|| panic!("no symbol {symbol}"));
    let section = file.section_by_index(sym.section_index().unwrap()).unwrap();
    sym.address() - section.address() + section.file_range().unwrap().0
}

/// `bpfkit link list --json`, the entry of link `id`.
fn listed_link(id: u32) -> Value {
    let list = json_of(&["link", "list", "--json"]);
    list.as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("link {id} not listed: {list}"))
        .clone()
}

#[test]
fn link_list_shows_each_links_attach_target() {
    use bpfkit::programs::{raw_tracepoint, tracepoint, uprobe};
    use std::os::fd::AsFd;

    let object = bpfkit::loader::Loader::new()
        .load_file(bpfkit_test_support::fixture("attach_counters"))
        .expect("attach_counters loads");

    // A tracepoint (a perf_event link).
    let tp = tracepoint::attach(
        object.program("count_openat_tp").unwrap(),
        "syscalls",
        "sys_enter_openat",
    )
    .unwrap();
    let tp_id = tp.info().unwrap().id;
    let listed = listed_link(tp_id);
    assert_eq!(listed["type"], "perf_event");
    assert_eq!(
        listed["target"],
        serde_json::json!({ "kind": "tracepoint", "name": "sys_enter_openat" })
    );

    // A raw tracepoint, which bpftool also shows.
    let raw =
        raw_tracepoint::attach(object.program("count_openat_raw").unwrap(), "sys_enter").unwrap();
    let raw_id = raw.info().unwrap().id;
    let listed = listed_link(raw_id);
    let theirs =
        bpfkit_test_support::bpftool_json(["link", "show", "id", &raw_id.to_string()]).unwrap();
    assert_eq!(listed["target"]["kind"], "raw_tracepoint");
    assert_eq!(listed["target"]["name"], theirs["tp_name"]);

    // A uprobe on a function of this test binary: the file and the offset.
    let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
    let offset = symbol_file_offset(&exe, "bpfkit_cli_link_probe_target");
    let up = uprobe::attach_offset(
        object.program("on_entry").unwrap(),
        &exe,
        offset,
        &uprobe::UprobeOptions {
            pid: Some(std::process::id() as i32),
            ..Default::default()
        },
    )
    .unwrap();
    let up_id = up.info().unwrap().id;
    let listed = listed_link(up_id);
    assert_eq!(
        listed["target"],
        serde_json::json!({ "kind": "uprobe", "path": exe, "offset": offset })
    );
    let text = bpfkit(&["link", "list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{up_id}: ")))
        .unwrap();
    assert!(
        line.ends_with(&format!("uprobe {}:{offset:#x}", exe.display())),
        "{line}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{tp_id}: ")))
        .unwrap();
    assert!(line.ends_with("tracepoint sys_enter_openat"), "{line}");
    bpfkit_cli_link_probe_target(1);

    // A cgroup link on a cgroup this test makes: the cgroup's path from its id.
    let cgroup = PathBuf::from(format!(
        "/sys/fs/cgroup/unified/bpfkit-cli-link-{}",
        std::process::id()
    ));
    if !PathBuf::from("/sys/fs/cgroup/unified/cgroup.procs").exists() {
        println!("SKIP cgroup link: no cgroup2 at /sys/fs/cgroup/unified");
        return;
    }
    std::fs::create_dir(&cgroup).unwrap();
    let net = bpfkit::loader::Loader::new()
        .load_file(bpfkit_test_support::fixture("prog_net"))
        .expect("prog_net loads");
    let dir = std::fs::File::open(&cgroup).unwrap();
    let attr = bpfkit::sys::link_create_attr(
        net.program("cgroup_skb_ingress").unwrap().fd(),
        std::os::fd::AsRawFd::as_raw_fd(&dir) as u32,
        bpfkit::sys::uapi::BPF_CGROUP_INET_INGRESS,
        0,
    );
    // SAFETY: the attr has no pointers; the fds it names are alive.
    let link = unsafe { bpfkit::sys::link_create(attr) };
    let result = link
        .as_ref()
        .map(|fd| listed_link(bpfkit::info::LinkInfo::from_fd(fd.as_fd()).unwrap().id))
        .map_err(|e| e.to_string());
    drop(link);
    drop(dir);
    let _ = std::fs::remove_dir(&cgroup);
    let listed = result.unwrap();
    assert_eq!(listed["type"], "cgroup");
    assert_eq!(listed["target"]["path"], cgroup.to_str().unwrap());
    assert_eq!(listed["target"]["attach_type"], "cgroup_inet_ingress");
}

/// bpftool 7.1 predates the kernel's per-CPU address instruction (`mov` with off 1), which it
/// prints as a plain move; the kernel's verifier log and bpfkit print it as
/// `&(void __percpu *)(rN)`. Everything else must read the same.
fn same_disasm(ours: &str, bpftool: &str) -> bool {
    ours == bpftool || (ours.contains("&(void __percpu *)") && ours.starts_with("(bf)"))
}

#[test]
fn prog_dump_xlated_matches_bpftool_and_jited_gives_each_function() {
    let dir = PinDir::new();
    let mut checked_calls = 0;
    let mut checked_src = 0;
    for fixture in ["bpf_calls", "attach_counters"] {
        let obj = bpfkit_test_support::fixture(fixture);
        let sub = dir.path(fixture);
        let loaded = json_of(&["load", obj.to_str().unwrap(), "--pin-dir", &sub, "--json"]);
        // Every program of bpf_calls (BPF-to-BPF calls); of attach_counters the ones with
        // helper calls, global data, a ring buffer and a format string (each dump reads
        // /proc/kallsyms, so not all eleven).
        let wanted = |name: &str| {
            fixture == "bpf_calls" || ["count_openat_tp", "list_tasks", "on_entry"].contains(&name)
        };
        for p in loaded["programs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| wanted(p["name"].as_str().unwrap()))
        {
            let id = p["id"].to_string();
            let ours = json_of(&["prog", "dump", "xlated", &id, "--json"]);
            let ours = ours.as_array().unwrap();
            let theirs =
                bpfkit_test_support::bpftool_json(["prog", "dump", "xlated", "id", &id]).unwrap();
            let theirs = theirs.as_array().unwrap();
            assert_eq!(
                ours.len(),
                theirs.len(),
                "{fixture} prog {id}: instruction count"
            );
            for (o, t) in ours.iter().zip(theirs) {
                let (od, td) = (o["disasm"].as_str().unwrap(), t["disasm"].as_str().unwrap());
                assert!(
                    same_disasm(od, td),
                    "{fixture} prog {id}: {od} vs bpftool {td}"
                );
                // bpftool 7.1's JSON writer mangles backslashes ("\\n" becomes "\nn").
                if !o["src"].as_str().unwrap_or_default().contains('\\') {
                    assert_eq!(o["src"], t["src"], "{fixture} prog {id} at {}", o["index"]);
                }
                assert_eq!(
                    o["proto"], t["proto"],
                    "{fixture} prog {id} at {}",
                    o["index"]
                );
                checked_calls += usize::from(od.contains("call "));
                checked_src += usize::from(o["src"].is_string());
            }
            // The text form, opened by pin path: prototype first, source lines, indices.
            let out = bpfkit(&["prog", "dump", "xlated", p["pin"].as_str().unwrap()]);
            assert!(out.status.success(), "{}", stderr(&out));
            let text = String::from_utf8(out.stdout).unwrap();
            let first = text.lines().next().unwrap();
            assert_eq!(
                Some(first.trim_end_matches(':')),
                ours[0]["proto"].as_str(),
                "{text}"
            );
            assert!(text.contains("\n; "), "{text}");
            assert!(text.contains("\n   0: ("), "{text}");

            // jited: one block per kernel function, the sizes add up to bytes_jited.
            let jited = json_of(&["prog", "dump", "jited", &id, "--json"]);
            let show = bpfkit_test_support::bpftool_json(["prog", "show", "id", &id]).unwrap();
            let functions = jited.as_array().unwrap();
            let total: u64 = functions.iter().map(|f| f["size"].as_u64().unwrap()).sum();
            assert_eq!(
                total,
                show["bytes_jited"].as_u64().unwrap(),
                "{fixture} prog {id}"
            );
            let tag = show["tag"].as_str().unwrap();
            assert!(
                functions[0]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("bpf_prog_{tag}_")),
                "{functions:?}"
            );
            let hex = functions[0]["bytes"].as_str().unwrap();
            assert_eq!(
                hex.split(' ').count() as u64,
                functions[0]["size"].as_u64().unwrap()
            );
        }
    }
    // The subprograms of bpf_calls are separate kernel functions.
    let first = json_of(&[
        "prog",
        "dump",
        "jited",
        &dir.path("bpf_calls/first_prog"),
        "--json",
    ]);
    assert_eq!(
        first.as_array().unwrap().len(),
        3,
        "first_prog + static_double + global_add"
    );
    assert!(
        checked_calls > 0 && checked_src > 0,
        "calls {checked_calls} src {checked_src}"
    );
}

/// What `run_records` saw: exit success, stdout lines, stderr, and the traced process's pid
/// and comm.
struct RunRecords {
    ok: bool,
    lines: Vec<String>,
    err: String,
    pid: u32,
    comm: String,
}

/// `bpfkit run run_records --duration 2 --set target_pid=<child> EXTRA`, where the child is a
/// shell that, once tracing started, opens `path` three times itself (redirections of the
/// builtin `:` happen in the shell's own process). Other threads of this test binary open
/// files too, so the target is not this process.
fn run_records(extra: &[&str], path: &std::path::Path) -> RunRecords {
    use std::io::{BufRead, BufReader, Read, Write};
    let script = format!(
        "read go; : < '{p}'; : < '{p}'; : < '{p}'",
        p = path.display()
    );
    let mut shell = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = shell.id();
    let object = bpfkit_test_support::fixture("run_records");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("run")
        .arg(&object)
        .args(["--duration", "2", "--set"])
        .arg(format!("target_pid={pid}"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        let done = line.starts_with("tracing");
        lines.push(std::mem::take(&mut line).trim_end().to_owned());
        if done {
            break;
        }
    }
    // The comm is the shell's once it has exec'd (the fork still runs this binary).
    let me = std::fs::read_link("/proc/self/exe").unwrap();
    while std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == me) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap()
        .trim_end()
        .to_owned();
    let mut stdin = shell.stdin.take().unwrap();
    let _ = stdin.write_all(b"go\n");
    drop(stdin);
    assert!(shell.wait().unwrap().success());
    lines.extend(stdout.lines().map_while(Result::ok));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    RunRecords {
        ok: child.wait().unwrap().success(),
        lines,
        err,
        pid,
        comm,
    }
}

#[test]
fn run_decodes_records_of_any_struct_name_and_takes_record_types_by_name() {
    let path = std::env::temp_dir().join(format!("bpfkit-run-records-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();

    // No --record: `struct tally` is the only struct of its size, so perf records decode;
    // `opens` records fit both open_record and decoy_record: hex, and a hint naming both.
    let RunRecords {
        ok,
        lines,
        err,
        pid,
        ..
    } = run_records(&[], &path);
    assert!(ok, "{err}");
    let tallies: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("tallies: "))
        .collect();
    assert_eq!(tallies.len(), 3, "{lines:#?}");
    for (k, l) in tallies.iter().enumerate() {
        assert_eq!(
            l.as_str(),
            format!("tallies: {{calls: {}, pid: {pid}, flags: 7}}", k + 1)
        );
    }
    let opens: Vec<&String> = lines.iter().filter(|l| l.starts_with("opens: ")).collect();
    assert_eq!(opens.len(), 3, "{lines:#?}");
    assert!(opens[0].contains(" |"), "hex with ASCII: {}", opens[0]);
    assert!(
        err.contains("opens: 84-byte records fit several types (open_record, decoy_record)")
            && err.contains("--record opens=TYPE"),
        "{err}"
    );
    assert_eq!(
        err.matches("fit several types").count(),
        1,
        "hinted once: {err}"
    );

    // --record names the type: pid, comm (__u8[16]) and path (__s8[64]) as text.
    let RunRecords {
        ok,
        lines,
        err,
        pid,
        comm,
    } = run_records(&["--record", "opens=open_record"], &path);
    assert!(ok, "{err}");
    let expected = format!(
        "opens: {{pid: {pid}, comm: {comm:?}, path: {:?}}}",
        path.to_str().unwrap()
    );
    let opens: Vec<&String> = lines.iter().filter(|l| l.starts_with("opens: ")).collect();
    assert_eq!(opens.len(), 3, "{lines:#?}");
    assert!(
        opens.iter().all(|l| **l == expected),
        "{opens:#?}\nexpected {expected}"
    );
    assert!(!err.contains("fit several types"), "{err}");

    // Bad --record values are errors naming what is missing.
    for (arg, message) in [
        (
            "nosuch=open_record",
            "no ring buffer or perf event array 'nosuch'",
        ),
        (
            "opens=no_such_type",
            "no struct or union named 'no_such_type'",
        ),
        ("opens", "expected MAP=TYPE"),
    ] {
        let RunRecords { ok, err, .. } = run_records(&["--record", arg], &path);
        assert!(!ok);
        assert!(err.contains(message), "--record {arg}: {err}");
    }
    let _ = std::fs::remove_file(&path);
}
