//! `bpfkit gen types`: Rust from the kernel's BTF and from an object's `.BTF`.

use std::process::{Command, Output};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("run bpfkit")
}

#[test]
fn gen_types_writes_kernel_types_to_a_file() {
    if !std::path::Path::new(VMLINUX).exists() {
        println!("SKIP {VMLINUX} missing");
        return;
    }
    let out_path = std::env::temp_dir().join(format!("bpfkit-gen-cli-{}.rs", std::process::id()));
    let out_str = out_path.to_str().expect("utf-8 temp path");
    let out = bpfkit(&["gen", "types", "trace_event_raw_sys_enter", "-o", out_str]);
    let source = std::fs::read_to_string(&out_path);
    let _ = std::fs::remove_file(&out_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = source.expect("output file written");
    assert!(source.contains("\npub struct trace_event_raw_sys_enter {"));
    assert!(source.contains("offset_of!(trace_event_raw_sys_enter, args) == 16);"));
    assert!(
        source.contains("\npub struct trace_entry {"),
        "reached types are included"
    );
}

#[test]
fn gen_types_reads_an_objects_btf_in_userspace_flavour() {
    let object = bpfkit_test_support::fixture("gen_types");
    let out = bpfkit(&[
        "gen",
        "types",
        "--userspace",
        "--btf",
        object.to_str().expect("utf-8 path"),
        "struct with_fnptr",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = String::from_utf8(out.stdout).expect("utf-8");
    assert!(source.contains("pub cb: u64,"), "{source}");
    assert!(
        source.contains("size_of::<with_fnptr>() == 24);"),
        "{source}"
    );
}

#[test]
fn gen_types_reads_module_btf_on_its_base() {
    let corpus = bpfkit_test_support::corpus_dir().join("cilium/btf/testdata");
    let base = bpfkit_test_support::corpus_vmlinux_btf();
    let out = bpfkit(&[
        "gen",
        "types",
        "--btf",
        corpus.join("btf_testmod.btf").to_str().expect("utf-8 path"),
        "--base-btf",
        base.to_str().expect("utf-8 path"),
        "bpf_testmod_test_writable_ctx",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        source.contains("offset_of!(bpf_testmod_test_writable_ctx, val) == 4);"),
        "{source}"
    );
}

#[test]
fn gen_types_names_an_unknown_type() {
    let object = bpfkit_test_support::fixture("gen_types");
    let out = bpfkit(&[
        "gen",
        "types",
        "--btf",
        object.to_str().expect("utf-8 path"),
        "no_such_type",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no struct, union, enum or typedef named `no_such_type`"),
        "{stderr}"
    );
}

/// `bpfkit gen skel OBJ -o FILE`: a typed skeleton of a clang object, embedding the object by
/// a path relative to FILE (what `include_bytes!` resolves against).
#[test]
fn gen_skel_writes_a_skeleton_embedding_the_object_relative_to_the_output() {
    let object = bpfkit_test_support::corpus_dir().join("libbpf-tools/opensnoop.bpf.o");
    let dir = std::env::temp_dir().join(format!("bpfkit-gen-skel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out_path = dir.join("opensnoop.rs");
    let out = bpfkit(&[
        "gen",
        "skel",
        object.to_str().expect("utf-8 path"),
        "-o",
        out_path.to_str().expect("utf-8 path"),
    ]);
    let source = std::fs::read_to_string(&out_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = source.expect("output file written");
    let embedded = source
        .lines()
        .find_map(|l| l.split_once("include_bytes!(\"").map(|(_, rest)| rest))
        .and_then(|l| l.strip_suffix("\"));"))
        .expect("embedded object");
    let resolved = std::fs::canonicalize(dir.join(embedded));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!embedded.starts_with('/'), "relative: {embedded}");
    assert_eq!(
        resolved.expect("embedded path resolves from the output's directory"),
        std::fs::canonicalize(&object).expect("object")
    );
    // .rodata variables as fields, the `start` hash map typed from BTF, programs by name.
    assert!(source.contains("    pub targ_pid: pid_t,"), "{source}");
    assert!(source.contains("pub type StartValue = args_t;"), "{source}");
    assert!(
        source.contains("::bpfkit::maps::HashMap<&'a ::bpfkit::maps::MapData, types::StartKey, types::StartValue>"),
        "{source}"
    );
    assert!(source.contains("pub fn tracepoint__syscalls__sys_enter_openat(&self)"));
    assert!(source.contains("unsafe impl ::bpfkit::maps::Pod for args_t {}"));
}

#[test]
fn gen_skel_refuses_non_objects_and_objects_without_btf() {
    let not_elf = std::env::temp_dir().join(format!("bpfkit-gen-skel-{}.o", std::process::id()));
    std::fs::write(&not_elf, b"not an object").expect("write");
    let out = bpfkit(&["gen", "skel", not_elf.to_str().expect("utf-8")]);
    let _ = std::fs::remove_file(&not_elf);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ELF object"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let no_btf = bpfkit_test_support::corpus_dir().join("cilium/testdata/loader-clang-7-el.elf");
    let out = bpfkit(&["gen", "skel", no_btf.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no .BTF section"), "{stderr}");
}
