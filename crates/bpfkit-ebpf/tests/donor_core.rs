//! What `core` breaks, pinned on both routes (the donor route links rustup's prebuilt
//! `core`, the bpfel route one built for BPF): `<[u8]>::contains` on a 32-byte slice is
//! `core`'s word-at-a-time `memchr`, whose pointer alignment (`ptr & !7`) the verifier
//! rejects on both routes (slices under 16 bytes take its byte loop and verify);
//! `iter().any(..)`, the documented alternative, verifies and answers correctly on both.
//! `testdata/rust-ebpf/donor-core`. Needs root.

use std::path::{Path, PathBuf};

use bpfkit::loader::{Loader, Object, TestRun};
use bpfkit_build::{EbpfBuild, Route};

fn build(route: Route, name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    EbpfBuild::new(root.join("testdata/rust-ebpf/donor-core"))
        .route(route)
        .target_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-ebpf"))
        .quiet(true)
        .build()
        .unwrap_or_else(|e| panic!("building donor-core on the {} route: {e}", route.name()))
        .into_iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no object {name}"))
        .path
}

fn load(path: &Path, needle: u8) -> Result<Object, bpfkit::loader::LoadError> {
    Loader::new()
        .set_global("NEEDLE", &[needle])
        .load_file(path)
}

/// XDP_PASS (2) when the needle is in the haystack, XDP_DROP (1) when not.
fn search(object: &Object, program: &str, haystack: &[u8; 32]) -> u32 {
    object
        .map("HAYSTACK")
        .expect("HAYSTACK")
        .update_bytes(&0u32.to_ne_bytes(), haystack, 0)
        .expect("set the haystack");
    object
        .program(program)
        .expect("program")
        .test_run(&TestRun {
            data: &[0u8; 64],
            ..Default::default()
        })
        .expect("test run")
        .retval
}

fn searches_correctly(route: Route, program: &str) {
    let object = load(&build(route, program), 0x42).unwrap_or_else(|e| {
        panic!(
            "{program} on the {} route: {:#}",
            route.name(),
            bpfkit::Report(&e)
        )
    });
    let mut haystack = [7u8; 32];
    assert_eq!(search(&object, program, &haystack), 1, "no 0x42 yet");
    haystack[27] = 0x42;
    assert_eq!(search(&object, program, &haystack), 2, "0x42 at 27");
}

#[test]
fn iter_any_searches_correctly_on_both_routes() {
    searches_correctly(Route::Bpfel, "slice_any");
    searches_correctly(Route::Donor, "slice_any");
}

#[test]
fn slice_contains_of_32_bytes_is_rejected_by_the_verifier_on_both_routes() {
    for route in [Route::Bpfel, Route::Donor] {
        let err = load(&build(route, "slice_contains"), 0x42)
            .err()
            .unwrap_or_else(|| {
                panic!(
                    "core's memchr now verifies on the {} route: update the docs (PIPELINE.md, \
                 bpfkit-ebpf) and this test",
                    route.name()
                )
            });
        let message = format!("{:#}", bpfkit::Report(&err));
        assert!(
            message.contains("slice_contains") && message.contains("on pointer prohibited"),
            "{}: the verifier refuses memchr's pointer alignment: {message}",
            route.name()
        );
    }
}
