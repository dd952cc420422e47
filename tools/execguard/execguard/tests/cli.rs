//! The CLI refuses bad input with a clear message and exit status 1, before loading anything
//! (so these run on any kernel).

use std::process::Command;

fn execguard(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_execguard"))
        .args(args)
        .output()
        .expect("run execguard");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_is_a_clear_error() {
    let (code, err) = execguard(&[]);
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "execguard: nothing to guard: give at least one --deny PATH or --cgroup PATH"
        )
    );

    let (code, err) = execguard(&["--deny", "/nonexistent/execguard-cli"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("execguard: /nonexistent/execguard-cli: No such file or directory"),
        "{err}"
    );

    let dir = std::env::temp_dir();
    let dir = dir.to_str().unwrap();
    let (code, err) = execguard(&["--deny", dir]);
    assert_eq!(code, 1);
    assert!(err.contains("not a regular file"), "{err}");

    let (code, err) = execguard(&["--cgroup", dir]);
    assert_eq!(code, 1);
    assert!(err.contains("not a cgroup v2 directory"), "{err}");

    let exe = env!("CARGO_BIN_EXE_execguard");
    let (code, err) = execguard(&["--deny", exe, "--duration", "0"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--duration must be a positive number of seconds, not 0"),
        "{err}"
    );
}
