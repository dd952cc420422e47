//! Generates the skeletons this crate's tests use, as a user's build script would:
//! - `syscount.rs` from libbpf-tools' `syscount.bpf.o` of the corpus (clang's object,
//!   embedded), when the corpus is there (`BPFKIT_CORPUS`, else `../shared/corpus` next to
//!   the repository); otherwise the `skel_no_corpus` cfg is set and the test skips;
//! - `skel_counter.rs` from `testdata/rust-ebpf/skel-counter`, built with
//!   `bpfkit_build::build_ebpf`, its skeleton made by `Skeleton::from_out_dir` (embedded
//!   from `OUT_DIR` as `include_ebpf!` does);
//! - `corpus.rs`: a skeleton (not embedded) of every corpus object with BTF, so that they
//!   all compile is part of building this crate; generation errors are listed for a test.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rustc-check-cfg=cfg(skel_no_corpus)");
    println!("cargo:rerun-if-env-changed=BPFKIT_CORPUS");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest"));

    let corpus = std::env::var_os("BPFKIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared/corpus"));
    let syscount = corpus.join("libbpf-tools/syscount.bpf.o");
    if syscount.is_file() {
        println!("cargo:rerun-if-changed={}", syscount.display());
        if let Err(e) = bpfkit_gen::Skeleton::from_file(&syscount)
            .and_then(|s| s.write_to(out.join("syscount.rs")))
        {
            eprintln!("error: skeleton of {}: {e}", syscount.display());
            std::process::exit(1);
        }
        corpus_skeletons(&corpus, &out);
    } else {
        println!("cargo:rustc-cfg=skel_no_corpus");
    }

    let objects = match bpfkit_build::build_ebpf("../../testdata/rust-ebpf/skel-counter") {
        Ok(objects) => objects,
        Err(e) => {
            eprintln!("error: building skel-counter: {e}");
            std::process::exit(1);
        }
    };
    for object in objects {
        let module = out.join(format!("{}.rs", object.name.replace('-', "_")));
        if let Err(e) =
            bpfkit_gen::Skeleton::from_out_dir(&object.name).and_then(|s| s.write_to(&module))
        {
            eprintln!("error: skeleton of {}: {e}", object.name);
            std::process::exit(1);
        }
    }
}

/// Every `.o`/`.elf` below `dir`, sorted.
fn objects_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            objects_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "o" || e == "elf") {
            out.push(path);
        }
    }
}

fn corpus_skeletons(corpus: &Path, out: &Path) {
    let mut objects = Vec::new();
    objects_under(corpus, &mut objects);
    objects.sort();
    let mut index = String::new();
    let mut generated = Vec::new();
    let mut no_btf = Vec::new();
    let mut failed = Vec::new();
    for (i, path) in objects.iter().enumerate() {
        let rel = path
            .strip_prefix(corpus)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                failed.push((rel, e.to_string()));
                continue;
            }
        };
        let name = bpfkit_obj_name(path);
        match bpfkit_gen::Skeleton::new(bytes, name).generate() {
            Ok(source) => {
                let file = format!("corpus_{i}.rs");
                if std::fs::read(out.join(&file)).ok().as_deref() != Some(source.as_bytes()) {
                    std::fs::write(out.join(&file), source).expect("write skeleton");
                }
                index.push_str(&format!(
                    "/// Skeleton of corpus object `{rel}`.\npub mod m{i} {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/{file}\"));\n}}\n"
                ));
                generated.push(rel);
            }
            Err(bpfkit_gen::GenError::Elf { reason }) if reason.contains("no .BTF") => {
                no_btf.push(rel)
            }
            Err(e) => failed.push((rel, e.to_string())),
        }
    }
    index.push_str(&format!(
        "/// Corpus objects (relative paths) whose skeleton generated and compiled.\npub const GENERATED: &[&str] = &{generated:?};\n\
         /// Corpus objects without BTF (no skeleton possible).\npub const NO_BTF: &[&str] = &{no_btf:?};\n\
         /// Corpus objects whose skeleton failed to generate, with the error.\npub const FAILED: &[(&str, &str)] = &{failed:?};\n"
    ));
    std::fs::write(out.join("corpus.rs"), index).expect("write corpus.rs");
}

/// libbpf's object name: the file name up to its first dot.
fn bpfkit_obj_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.split('.').next().unwrap_or_default().to_owned()
}
