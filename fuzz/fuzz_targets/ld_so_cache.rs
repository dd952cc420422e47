//! glibc's `ld.so.cache` (`bpfkit_fuzz_targets::ld_so_cache`).
//! The body lives in the workspace crate so the corpus replay test runs it on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bpfkit_fuzz_targets::ld_so_cache(data));
