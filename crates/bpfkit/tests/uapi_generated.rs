//! `src/sys/uapi.rs` is what `gen/gen_uapi.py` makes of the vendored `gen/include/linux/bpf.h`:
//! the test re-runs the generator (python3 + clang-19, then rustfmt) and compares byte for byte,
//! so an edit by hand or a header update without regeneration fails here.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn uapi_rs_matches_the_generator_output() {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".into());
    for (tool, arg) in [
        ("python3", "--version"),
        (clang.as_str(), "--version"),
        ("rustfmt", "--version"),
    ] {
        if !have(tool, arg) {
            println!("SKIP {tool} is not installed: cannot re-run gen/gen_uapi.py");
            return;
        }
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = Command::new("python3")
        .arg(crate_dir.join("gen/gen_uapi.py"))
        .output()
        .expect("run python3");
    assert!(
        generated.status.success(),
        "gen_uapi.py failed: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let mut rustfmt = Command::new("rustfmt")
        .args(["--edition", "2021"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rustfmt");
    let mut stdin = rustfmt.stdin.take().expect("rustfmt stdin");
    let input = generated.stdout;
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let formatted = rustfmt.wait_with_output().expect("rustfmt output");
    writer
        .join()
        .expect("writer thread")
        .expect("write to rustfmt");
    assert!(
        formatted.status.success(),
        "rustfmt failed: {}",
        String::from_utf8_lossy(&formatted.stderr)
    );
    let committed = std::fs::read(crate_dir.join("src/sys/uapi.rs")).expect("read uapi.rs");
    if formatted.stdout != committed {
        let new = String::from_utf8_lossy(&formatted.stdout);
        let old = String::from_utf8_lossy(&committed);
        let first = new
            .lines()
            .zip(old.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| new.lines().count().min(old.lines().count()));
        panic!(
            "src/sys/uapi.rs is not the generator's output (first difference at line {}: \
             generator {:?}, file {:?}); regenerate from crates/bpfkit with \
             `python3 gen/gen_uapi.py > src/sys/uapi.rs && rustfmt --edition 2021 src/sys/uapi.rs`",
            first + 1,
            new.lines().nth(first),
            old.lines().nth(first)
        );
    }
    // The generated file really is the vendored header's: a constant newer than Linux 6.1.
    assert_eq!(bpfkit::sys::uapi::BPF_TOKEN_CREATE, 36);
    assert_eq!(bpfkit::sys::uapi::BPF_TRACE_UPROBE_SESSION, 57);
}

/// `pub const NAME: u32 = VALUE;` lines of the generated file.
fn generated_constants() -> std::collections::HashMap<String, u64> {
    include_str!("../src/sys/uapi.rs")
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("pub const ")?;
            let (name, rest) = rest.split_once(": ")?;
            let value = rest.split_once(" = ")?.1.strip_suffix(';')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// bpfkit-obj's `ProgramType`/`AttachType`/`MapType` (which cannot depend on bpfkit) carry
/// their own numbers: each must be the generated header's value for its kernel name.
#[test]
fn object_kinds_have_the_generated_headers_numbers() {
    use bpfkit_obj::object::{AttachType, MapType, ProgramType};
    let consts = generated_constants();
    let mut checked = 0;
    let mut check = |prefix: &str, name: &str, value: u32| {
        let c = format!("{prefix}{}", name.to_uppercase());
        assert_eq!(consts.get(&c).copied(), Some(u64::from(value)), "{c}");
        checked += 1;
    };
    for &t in ProgramType::ALL {
        check("BPF_PROG_TYPE_", t.kernel_name(), t as u32);
    }
    for &t in AttachType::ALL {
        check("BPF_", t.kernel_name(), t as u32);
    }
    for &t in MapType::ALL {
        check("BPF_MAP_TYPE_", t.kernel_name(), t as u32);
    }
    assert!(checked > 100, "{checked} kinds checked");
}
