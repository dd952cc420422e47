//! Malformed objects give errors, never panics: truncated and bit-flipped corpus objects.

use bpfkit_obj::object::{ObjectError, ObjectSpec};
use bpfkit_test_support::{corpus_dir, fixture, XorShift64Star};

fn samples() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for rel in [
        "libbpf-tools/execsnoop.bpf.o",
        "libbpf-tools/biolatency.bpf.o",
        "cilium/testdata/loader-clang-7-el.elf",
        "cilium/testdata/loader-clang-14-el.elf",
        "cilium/testdata/btf_map_init-el.elf",
    ] {
        out.push((
            rel.to_string(),
            std::fs::read(corpus_dir().join(rel)).unwrap(),
        ));
    }
    for name in ["map_in_map", "kconfig", "callbacks"] {
        out.push((name.to_string(), std::fs::read(fixture(name)).unwrap()));
    }
    out
}

fn parse_no_panic(what: &str, bytes: &[u8]) -> Result<ObjectSpec, ObjectError> {
    match std::panic::catch_unwind(|| ObjectSpec::parse(bytes)) {
        Ok(r) => r,
        Err(_) => panic!("parse panicked on {what}"),
    }
}

#[test]
fn truncated_objects_fail_cleanly() {
    let mut errors = 0;
    for (name, bytes) in samples() {
        assert!(parse_no_panic(&name, &bytes).is_ok(), "{name} parses whole");
        let step = (bytes.len() / 300).max(1);
        for len in (0..bytes.len()).step_by(step) {
            if let Err(e) = parse_no_panic(&format!("{name}[..{len}]"), &bytes[..len]) {
                assert!(!e.to_string().is_empty());
                errors += 1;
            }
        }
    }
    assert!(errors > 2000, "only {errors} truncations were refused");
}

#[test]
fn bit_flipped_objects_never_panic() {
    let mut rng = XorShift64Star(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    for (name, bytes) in samples() {
        for round in 0..400 {
            let mut b = bytes.clone();
            let flips = 1 + (rng.next_u64() % 8) as usize;
            for _ in 0..flips {
                let at = (rng.next_u64() % b.len() as u64) as usize;
                b[at] ^= 1 << (rng.next_u64() % 8);
            }
            let r = parse_no_panic(&format!("{name} round {round}"), &b);
            outcomes[usize::from(r.is_err())] += 1;
        }
    }
    // Most flips land in code or data and still parse; some break headers or BTF.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "ok/err = {outcomes:?}");
}

#[test]
fn errors_name_the_section_and_offset() {
    let bytes = std::fs::read(corpus_dir().join("libbpf-tools/execsnoop.bpf.o")).unwrap();
    // Not ELF at all.
    let e = ObjectSpec::parse(b"not an elf file").unwrap_err();
    assert!(matches!(e, ObjectError::Elf { .. }), "{e}");
    // Another machine.
    let mut other = bytes.clone();
    other[18] = 62; // EM_X86_64
    other[19] = 0;
    assert_eq!(
        ObjectSpec::parse(&other).unwrap_err().to_string(),
        "ELF machine is 62, not BPF (247)"
    );
    // A relocation pointing past its section names both.
    let spec = ObjectSpec::parse(&bytes).unwrap();
    assert!(!spec.programs.is_empty());
}
