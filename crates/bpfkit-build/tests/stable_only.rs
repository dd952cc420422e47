//! The default route is plain stable: a real build (testdata/rust/userspace, whose build.rs
//! builds the counter eBPF crate, with no `BPFKIT_ROUTE` in its environment, so on the
//! default donor route) runs under `strace -f -e trace=execve`, and no rustc or cargo it
//! executes gets a `-Z` argument or a `RUSTC_BOOTSTRAP` other than `-1`. Needs strace
//! (.ci/run installs it).

mod common;

use std::path::Path;
use std::process::Command;

/// One `execve` of the trace: program, arguments, environment.
#[derive(Debug)]
struct Exec {
    program: String,
    args: Vec<String>,
    env: Vec<String>,
}

/// Reads a C string literal as strace prints it, starting at `"`; returns it and the rest.
fn string_literal(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &text[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// Reads `["a", "b"]`; returns the strings and the rest.
fn string_array(text: &str) -> Option<(Vec<String>, &str)> {
    let mut rest = text.trim_start().strip_prefix('[')?;
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix(']') {
            return Some((out, after));
        }
        let (s, after) = string_literal(rest)?;
        out.push(s);
        rest = after;
    }
}

/// The `execve` calls of an `strace -f -v -s N -e trace=execve` log.
fn execs(log: &str) -> Vec<Exec> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("execve(") else {
            continue;
        };
        let call = &line[at + "execve(".len()..];
        let parsed = string_literal(call).and_then(|(program, rest)| {
            let (args, rest) = string_array(rest.strip_prefix(',')?)?;
            let (env, _) = string_array(rest.strip_prefix(',')?)?;
            Some(Exec { program, args, env })
        });
        out.push(parsed.unwrap_or_else(|| panic!("unparsed execve line: {line}")));
    }
    out
}

#[test]
fn the_default_route_runs_rustc_and_cargo_without_rustc_bootstrap_or_z_flags() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("SKIP strace is not installed");
        return;
    }
    let userspace = common::test_crate("userspace");
    let target_dir = common::shared_target_dir().with_file_name("bpfkit-userspace");
    // A fresh eBPF target directory, so the nested build compiles (and so executes rustc);
    // a new name each time, so cargo reruns the build script (rerun-if-env-changed).
    let ebpf_dir = common::shared_target_dir()
        .with_file_name(format!("bpfkit-stable-only-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ebpf_dir);
    let log = ebpf_dir.with_extension("strace");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-v", "-s", "65536", "-e", "trace=execve", "-o"])
        .arg(&log)
        .arg(env!("CARGO"))
        .args(["build", "--quiet", "--offline", "--manifest-path"])
        .arg(userspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // The default route, whatever the caller's environment selects.
        .env_remove("BPFKIT_ROUTE")
        .env("BPFKIT_LINK", common::linker())
        .env("BPFKIT_EBPF_TARGET_DIR", &ebpf_dir)
        .env_remove("RUSTC_BOOTSTRAP")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("strace runs");
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        out.status.success(),
        "userspace build on the default route failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let object = ebpf_dir
        .join(bpfkit_build::link::retarget::DONOR_TARGET)
        .join("release/counter");
    assert!(
        object.is_file(),
        "{} not built; cargo said:\n{}",
        object.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&ebpf_dir);

    let execs = execs(&trace);
    let tool = |e: &Exec| {
        let name = Path::new(&e.program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        matches!(
            name.as_str(),
            "rustc" | "cargo" | "rustdoc" | "clippy-driver"
        )
    };
    let tools: Vec<&Exec> = execs.iter().filter(|e| tool(e)).collect();
    let compiled_counter = tools.iter().any(|e| {
        e.args.windows(2).any(|w| w == ["--crate-name", "counter"])
            && e.args
                .windows(2)
                .any(|w| w == ["--target", bpfkit_build::link::retarget::DONOR_TARGET])
    });
    assert!(
        compiled_counter,
        "rustc compiled the counter crate for the donor: the default route ({} rustc/cargo \
         execs traced)",
        tools.len()
    );
    for exec in &tools {
        let z_flag = exec.args.iter().skip(1).find(|a| a.starts_with("-Z"));
        assert!(
            z_flag.is_none(),
            "{} got {z_flag:?}: {:?}",
            exec.program,
            exec.args
        );
        let bootstrap = exec
            .env
            .iter()
            .find(|v| v.starts_with("RUSTC_BOOTSTRAP=") && v.as_str() != "RUSTC_BOOTSTRAP=-1");
        assert!(
            bootstrap.is_none(),
            "{} ran with {bootstrap:?}: {:?}",
            exec.program,
            exec.args
        );
        let nightly = exec.args.iter().find(|a| a.starts_with('+'));
        assert!(
            nightly.is_none(),
            "{} got a toolchain override {nightly:?}",
            exec.program
        );
    }
    eprintln!(
        "stable only: {} execs traced, {} of rustc/cargo, none with -Z or RUSTC_BOOTSTRAP",
        execs.len(),
        tools.len()
    );
}

#[test]
fn parses_strace_execve_lines() {
    let log = r#"4242 execve("/usr/bin/rustc", ["rustc", "--crate-name", "a \"b\"", "-Z", "x"], ["PATH=/bin", "RUSTC_BOOTSTRAP=1"]) = 0
4243 execve("/bin/sh", ["sh"], []) = -1 ENOENT (No such file or directory)
4243 +++ exited with 0 +++"#;
    let execs = execs(log);
    assert_eq!(execs.len(), 2);
    assert_eq!(execs[0].program, "/usr/bin/rustc");
    assert_eq!(
        execs[0].args,
        ["rustc", "--crate-name", "a \"b\"", "-Z", "x"]
    );
    assert_eq!(execs[0].env, ["PATH=/bin", "RUSTC_BOOTSTRAP=1"]);
    assert!(execs[1].env.is_empty());
}
