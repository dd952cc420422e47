//! `bpfkit trace`'s language (`bpfkit_fuzz_targets::trace_lang`).
//! The body lives in the workspace crate so the corpus replay test runs it on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bpfkit_fuzz_targets::trace_lang(data));
