//! Every third-party object of the corpus (clang's BTF from cilium and libbpf-tools):
//! all of its types generate, and the results compile together in one crate with every
//! size and offset asserted.

mod common;

use bpfkit_gen::{GenError, Generator};

#[test]
fn every_corpus_object_generates_and_compiles() {
    let scratch = common::Scratch::new("corpus");
    let mut root = String::from("#![no_std]\n#![deny(warnings)]\n");
    let mut generated = 0;
    for (i, path) in bpfkit_test_support::corpus_objects().iter().enumerate() {
        let bytes = std::fs::read(path).expect("read corpus object");
        match Generator::new(bytes).all_types().generate() {
            Ok(source) => {
                std::fs::write(scratch.path(&format!("m{i}.rs")), source).expect("write module");
                root.push_str(&format!("pub mod m{i};\n"));
                generated += 1;
            }
            // Objects built without -g have no BTF to generate from.
            Err(GenError::Elf { reason }) if reason.contains("no .BTF") => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    assert!(generated >= 60, "only {generated} corpus objects have BTF");
    std::fs::write(scratch.path("lib.rs"), root).expect("write lib.rs");
    let out = common::rustc()
        .args([
            "--crate-type",
            "lib",
            "--edition",
            "2021",
            "--emit=metadata",
        ])
        .arg("-o")
        .arg(scratch.path("out.rmeta"))
        .arg(scratch.path("lib.rs"))
        .output()
        .expect("run rustc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
