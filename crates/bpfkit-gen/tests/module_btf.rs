//! Split BTF: a kernel module's types (cilium's `btf_testmod.btf`) generated on top of its
//! vmlinux base, module-only types and the base types they reach.

mod common;

use bpfkit_gen::{Flavour, Generator};
use bpfkit_test_support::{corpus_dir, corpus_vmlinux_btf};

fn module() -> Generator {
    let module = std::fs::read(corpus_dir().join("cilium/btf/testdata/btf_testmod.btf"))
        .expect("read btf_testmod.btf");
    Generator::new(module)
        .base_from_file(corpus_vmlinux_btf())
        .expect("read base BTF")
}

#[test]
fn module_types_compile_on_their_base() {
    for flavour in [Flavour::Kernel, Flavour::Userspace] {
        let source = module()
            .flavour(flavour)
            .types([
                "bpf_testmod_test_read_ctx",
                "bpf_testmod_test_writable_ctx",
                "trace_event_raw_bpf_testmod_test_read",
            ])
            .generate()
            .expect("generate module types");
        for needle in [
            "size_of::<bpf_testmod_test_read_ctx>() == 24);",
            "offset_of!(bpf_testmod_test_read_ctx, len) == 16);",
            "offset_of!(bpf_testmod_test_writable_ctx, val) == 4);",
            "offset_of!(trace_event_raw_bpf_testmod_test_read, comm) == 12);",
            // Reached from the module's record: `struct trace_entry` of the base.
            "\npub struct trace_entry {",
        ] {
            assert!(source.contains(needle), "{flavour:?}: missing {needle:?}");
        }
        if let Err(e) = common::check_lib(&source, &[]) {
            panic!("{flavour:?} module output does not compile:\n{e}");
        }
    }
}

#[test]
fn all_module_types_compile_in_userspace_flavour() {
    let source = module()
        .flavour(Flavour::Userspace)
        .all_types()
        .generate()
        .expect("generate the whole module");
    assert!(source.contains("\npub struct bpf_testmod_test_write_ctx {"));
    if let Err(e) = common::check_lib(&source, &[]) {
        panic!("module output does not compile:\n{e}");
    }
}

#[test]
fn split_btf_without_its_base_is_an_error() {
    let module = std::fs::read(corpus_dir().join("cilium/btf/testdata/btf_testmod.btf"))
        .expect("read btf_testmod.btf");
    let err = Generator::new(module)
        .types(["bpf_testmod_test_read_ctx"])
        .generate()
        .expect_err("split BTF needs its base");
    assert!(matches!(err, bpfkit_gen::GenError::Btf(_)), "{err}");
}
