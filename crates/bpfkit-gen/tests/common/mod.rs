//! Shared by the bpfkit-gen tests: compile generated Rust with the toolchain's rustc.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "bpfkit-gen-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `rustc`, as cargo would run it.
pub fn rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

/// Type-checks `generated` as module `gen` of a `no_std` library for the host (const
/// evaluation included, so the size/offset assertions run). Err carries rustc's output.
pub fn check_lib(generated: &str, extra_args: &[&str]) -> Result<(), String> {
    let scratch = Scratch::new("lib");
    write_crate(
        &scratch.0,
        generated,
        "#![no_std]\n#![deny(warnings)]\npub mod gen;\n",
    );
    let out = rustc()
        .args([
            "--crate-type",
            "lib",
            "--edition",
            "2021",
            "--emit=metadata",
        ])
        .args(extra_args)
        .arg("-o")
        .arg(scratch.path("out.rmeta"))
        .arg(scratch.path("lib.rs"))
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Builds and runs a host binary whose `main.rs` is `main` with `generated` as module
/// `gen`; returns its stdout.
pub fn run_bin(generated: &str, main: &str) -> Result<String, String> {
    let scratch = Scratch::new("bin");
    write_crate(&scratch.0, generated, main);
    let exe = scratch.path("prog");
    let out = rustc()
        .args(["--edition", "2021", "-O"])
        .arg("-o")
        .arg(&exe)
        .arg(scratch.path("lib.rs"))
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let run = Command::new(&exe)
        .output()
        .map_err(|e| format!("cannot run the test binary: {e}"))?;
    if !run.status.success() {
        return Err(String::from_utf8_lossy(&run.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&run.stdout).into_owned())
}

fn write_crate(dir: &Path, generated: &str, root: &str) {
    std::fs::write(dir.join("gen.rs"), generated).expect("write gen.rs");
    std::fs::write(dir.join("lib.rs"), root).expect("write lib.rs");
}
