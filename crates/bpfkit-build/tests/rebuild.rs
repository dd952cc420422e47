//! Edit-rebuild latency of the route: one line of an eBPF crate changes, the object is
//! rebuilt (compile + bpfkit-link) with `core` already built in the shared target dir.

mod common;

use std::path::Path;
use std::time::Instant;

fn copy_crate(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("src")).unwrap();
    for file in ["Cargo.toml", "Cargo.lock", "src/main.rs", "src/lib.rs"] {
        if from.join(file).is_file() {
            std::fs::copy(from.join(file), to.join(file)).unwrap();
        }
    }
}

#[test]
fn a_one_line_edit_rebuilds_within_seconds() {
    let root = std::env::temp_dir().join(format!("bpfkit-rebuild-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_crate(&common::test_crate("counter"), &root.join("counter"));
    copy_crate(&common::test_crate("testprog"), &root.join("testprog"));
    let program = root.join("counter");

    let first = common::build_dir(&program);
    let before = std::fs::read(&first.path).unwrap();

    let main = program.join("src/main.rs");
    let source = std::fs::read_to_string(&main).unwrap();
    let edited = source.replace("stats.calls += 1;", "stats.calls += 2;");
    assert_ne!(source, edited, "the edited line exists");
    std::fs::write(&main, edited).unwrap();

    let start = Instant::now();
    let second = common::build_dir(&program);
    let elapsed = start.elapsed();
    eprintln!(
        "rebuild after a one-line edit: {:.2} s",
        elapsed.as_secs_f64()
    );

    assert_eq!(first.path, second.path);
    assert_ne!(
        std::fs::read(&second.path).unwrap(),
        before,
        "the object changed"
    );
    // The goal is 3 s on a 2-core machine; the bound leaves room for a loaded CI host.
    assert!(elapsed.as_secs_f64() < 15.0, "rebuild took {elapsed:?}");
    std::fs::remove_dir_all(&root).unwrap();
}
