//! CO-RE relocation (`bpfkit_fuzz_targets::core`; input layout there).
//! The body lives in the workspace crate so the corpus replay test runs it on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bpfkit_fuzz_targets::core(data));
