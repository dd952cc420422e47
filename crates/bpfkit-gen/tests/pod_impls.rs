//! `Generator::pod_impls`: which userspace types get `unsafe impl bpfkit::maps::Pod`, and
//! that every emitted impl's layout proof holds when compiled (against a stand-in `bpfkit`
//! crate with the same trait path, so the test needs no build of bpfkit).

mod common;

use bpfkit_gen::{Flavour, Generator};

fn generated() -> String {
    let path = bpfkit_test_support::fixture("gen_types");
    Generator::from_file(path)
        .expect("read fixture")
        .flavour(Flavour::Userspace)
        .pod_impls(true)
        .all_types()
        .generate()
        .expect("generate")
}

fn has_pod(source: &str, name: &str) -> bool {
    source.contains(&format!("unsafe impl ::bpfkit::maps::Pod for {name} {{}}"))
}

#[test]
fn pod_only_where_every_byte_is_a_plain_member() {
    let source = generated();
    // Structs: explicit padding and bitfield storage are byte arrays, so they qualify.
    for name in [
        "bits",
        "span9",
        "packed_rec",
        "with_fnptr",
        "with_anon",
        "flex",
    ] {
        assert!(has_pod(&source, name), "{name} should be Pod");
    }
    // A union whose members all cover it (the anonymous one in `with_anon`) qualifies...
    assert!(has_pod(&source, "__anon_with_anon_1"), "{source}");
    // ...one with narrower (bitfield) members does not: a value built from one of them
    // leaves bytes uninitialized. Nor does a struct containing it.
    assert!(!has_pod(&source, "bits_union"));
    assert!(!has_pod(&source, "all_types"));
    // Enums are integer newtypes.
    assert!(
        source.contains("unsafe impl ::bpfkit::maps::Pod for small_signed {}"),
        "{source}"
    );
    // Without the option, nothing.
    let plain = Generator::from_file(bpfkit_test_support::fixture("gen_types"))
        .expect("read fixture")
        .flavour(Flavour::Userspace)
        .all_types()
        .generate()
        .expect("generate");
    assert!(!plain.contains("Pod"));
}

#[test]
fn pod_proofs_compile() {
    let source = generated();
    let scratch = common::Scratch::new("pod");
    std::fs::write(
        scratch.path("bpfkit.rs"),
        "#![no_std]\npub mod maps {\n    /// Stand-in for bpfkit's trait.\n    pub unsafe trait Pod: Copy + 'static {}\n    unsafe impl Pod for u8 {}\n    unsafe impl Pod for u16 {}\n    unsafe impl Pod for u32 {}\n    unsafe impl Pod for u64 {}\n    unsafe impl Pod for u128 {}\n    unsafe impl Pod for i8 {}\n    unsafe impl Pod for i16 {}\n    unsafe impl Pod for i32 {}\n    unsafe impl Pod for i64 {}\n    unsafe impl Pod for i128 {}\n    unsafe impl Pod for f32 {}\n    unsafe impl Pod for f64 {}\n    unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}\n}\n",
    )
    .expect("write stand-in");
    let out = common::rustc()
        .args([
            "--crate-type",
            "rlib",
            "--edition",
            "2021",
            "--crate-name",
            "bpfkit",
            "-o",
        ])
        .arg(scratch.path("libbpfkit.rlib"))
        .arg(scratch.path("bpfkit.rs"))
        .output()
        .expect("run rustc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let extern_arg = format!("bpfkit={}", scratch.path("libbpfkit.rlib").display());
    common::check_lib(&source, &["--extern", &extern_arg]).unwrap_or_else(|e| panic!("{e}"));
}
