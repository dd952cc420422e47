//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`, minimized by `scripts/fuzz
//! --minimize`) and the crash inputs (`fuzz/regressions/<target>/`) through the same entry
//! points the fuzzers run: every input a fuzzer once found interesting, or that once crashed
//! a parser, must still pass on stable.

use std::path::PathBuf;

fn corpus_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_corpus_input_passes_its_target() {
    let root = corpus_root();
    let mut total = 0;
    for (name, entry) in bpfkit_fuzz_targets::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus of target {name} at {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        assert!(!files.is_empty(), "target {name} has an empty corpus");
        if let Ok(crashes) = std::fs::read_dir(root.join("../regressions").join(name)) {
            files.extend(crashes.map(|e| e.expect("directory entry").path()));
        }
        files.sort();
        for file in &files {
            let data = std::fs::read(file).expect("corpus file");
            let result = std::panic::catch_unwind(|| entry(&data));
            assert!(
                result.is_ok(),
                "target {name} panics on {} (reproduce: cargo +nightly fuzz run {name} {})",
                file.display(),
                file.display()
            );
        }
        println!("{name}: {} inputs", files.len());
        total += files.len();
    }
    println!("{total} inputs replayed");
}

#[test]
fn every_target_has_a_corpus_directory_and_a_fuzz_binary() {
    let fuzz_toml = std::fs::read_to_string(corpus_root().join("../Cargo.toml")).unwrap();
    for (name, _) in bpfkit_fuzz_targets::TARGETS {
        assert!(
            corpus_root().join(name).is_dir(),
            "fuzz/corpus/{name} missing"
        );
        assert!(
            fuzz_toml.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
    }
}
