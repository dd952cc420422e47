//! Kernel-flavour output in a real eBPF program: `testdata/rust-ebpf/gen-types` generates the
//! running kernel's 300 most-referenced structs/unions plus `task_struct` and tracepoint
//! records in its build.rs (bpfkit-gen's build-script API), builds for bpfel through
//! bpfkit-build, and libbpf loads it: the `raw_syscalls/sys_enter` record is read by field
//! name and `task_struct.tgid`/`real_parent` through CO-RE over the generated struct.
//! Needs root and rust-src.

use std::path::Path;

use bpfkit_obj::btf::Btf;
use bpfkit_obj::object::ObjectSpec;
use bpfkit_test_support::{
    attach_tracepoint, map_dump, mask_fd_immediates, prog_dump_xlated, prog_loadall,
};

const MAGIC: u64 = 0x7ead_beef;

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// `type.member.member…` for each CO-RE relocation of the object (anonymous members as
/// `<anon>`), sorted, deduplicated.
fn core_accesses(object: &Path) -> Vec<String> {
    let bytes = std::fs::read(object).expect("read object");
    let spec = ObjectSpec::parse(&bytes).expect("parse object");
    let btf_bytes = spec.btf.clone().expect("object has BTF");
    let btf = Btf::parse(&btf_bytes).expect("parse BTF");
    let mut out = Vec::new();
    for relo in spec
        .programs
        .iter()
        .chain(&spec.subprograms)
        .flat_map(|p| &p.btf_ext.core_relos)
    {
        let mut id = relo.type_id;
        let mut path = btf.type_by_id(id).expect("root type").name().to_string();
        for index in relo.access.split(':').skip(1) {
            let index: usize = index.parse().expect("a member index");
            let composite = btf.type_by_id(id).expect("type");
            let member = composite.members().get(index).expect("a member");
            let name = if member.name.is_empty() {
                "<anon>"
            } else {
                member.name
            };
            path = format!("{path}.{name}");
            id = btf
                .skip_mods_and_typedefs(member.type_id)
                .expect("member type");
        }
        out.push(path);
    }
    out.sort();
    out.dedup();
    out
}

/// Field `n` (1-based, as proc(5) numbers them) of `/proc/self/stat`.
fn proc_self_stat_field(n: usize) -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command (field 2, in parentheses, may contain spaces) start at 3.
    let after_comm = &stat[stat.rfind(')').expect("comm") + 2..];
    after_comm
        .split(' ')
        .nth(n - 3)
        .and_then(|f| f.parse().ok())
        .expect("numeric field")
}

#[test]
fn generated_types_build_for_bpfel_and_core_read_the_parent() {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        println!("SKIP no /sys/kernel/btf/vmlinux");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let started = std::time::Instant::now();
    let objects = bpfkit_build::EbpfBuild::new(root.join("testdata/rust-ebpf/gen-types"))
        .target_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-ebpf"))
        .quiet(true)
        .build()
        .unwrap_or_else(|e| panic!("building gen-types: {e}"));
    eprintln!(
        "built gen-types in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let object = &objects
        .iter()
        .find(|o| o.name == "gen-types")
        .expect("gen-types object")
        .path;

    // The accesses are CO-RE relocations on the generated struct's members, not offsets.
    assert_eq!(
        core_accesses(object),
        [
            "mm_struct.<anon>.start_stack",
            "task_struct.mm",
            "task_struct.real_parent",
            "task_struct.tgid"
        ],
        "CO-RE relocations in the object"
    );

    let loaded = prog_loadall(object).expect("libbpf relocates and loads the program");
    let attached = attach_tracepoint(
        &loaded.pin_dir().join("on_sys_enter"),
        "raw_syscalls",
        "sys_enter",
        0,
        -1,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: getpid/getppid have no memory effects; getpgid of a pid that does not exist
    // only returns ESRCH.
    // Only the first syscall carrying MAGIC is kept (raw_syscalls records show six argument
    // registers whatever the syscall takes, so a later one may still hold MAGIC).
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_getpgid, MAGIC as libc::c_long) };
    drop(attached);

    let seen = map_dump(loaded.map("SEEN").expect("SEEN map").id).expect("dump SEEN");
    let mine = seen
        .iter()
        .find(|e| le_u32(&e.key, 0) == pid as u32)
        .unwrap_or_else(|| panic!("no entry for pid {pid}: {seen:?}"));
    let v = &mine.value;
    assert_eq!(
        le_u64(v, 0) as i64,
        libc::SYS_getpgid,
        "record.id read by name"
    );
    assert_eq!(le_u64(v, 8), MAGIC, "record.args[0] read by name");
    assert_eq!(le_u32(v, 16) as i32, pid, "task_struct.tgid through CO-RE");
    assert_eq!(
        le_u32(v, 20) as i32,
        ppid,
        "task_struct.real_parent->tgid through CO-RE"
    );
    assert_eq!(
        le_u32(v, 24),
        64,
        "size of the generated trace_event_raw_sys_enter"
    );
    assert_eq!(
        le_u64(v, 32),
        proc_self_stat_field(28),
        "mm->start_stack (in an anonymous struct) through CO-RE"
    );

    // bpfkit's loader relocates the same accesses to the same program as libbpf.
    let theirs = loaded.program("on_sys_enter").expect("pinned program").id;
    let ours = bpfkit::loader::Loader::new()
        .load_file(object)
        .expect("bpfkit relocates and loads");
    let ours = ours
        .program("on_sys_enter")
        .expect("program")
        .info()
        .expect("info")
        .id;
    assert_eq!(
        mask_fd_immediates(&prog_dump_xlated(ours).expect("xlated")),
        mask_fd_immediates(&prog_dump_xlated(theirs).expect("xlated")),
        "same relocated program as libbpf's"
    );
}
