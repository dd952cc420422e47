//! The project's C BPF fixtures (`testdata/c/*.bpf.c`), compiled by clang-19 on demand.
//!
//! A fixture may declare extra clang flags on a line of its header comment of the form
//! `// clang-flags: -mcpu=v4`. Fixtures that `#include "vmlinux.h"` get one generated
//! from `/sys/kernel/btf/vmlinux` with `bpftool btf dump ... format c` into the cache.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::cache::{cached_artifact, run, stable_hash};

/// The compiler the fixtures are built with.
pub const CLANG: &str = "clang-19";
/// The kernel BTF fixtures' `vmlinux.h` is generated from.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// `testdata/c` of the repository: the fixture sources.
pub fn fixture_source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/c")
}

/// The names of every fixture (`testdata/c/<name>.bpf.c`), sorted.
pub fn fixture_names() -> Vec<String> {
    let dir = fixture_source_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list fixtures in {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".bpf.c")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// The object file of fixture `name`, compiled with `clang-19 -O2 -g -target bpf
/// -I/usr/include/<multiarch> -D__TARGET_ARCH_<arch> -I testdata/c/include [declared flags]`
/// into the test cache (once per distinct source, flags, headers and kernel BTF; safe
/// across parallel tests). Panics with clang's diagnostics when it does not compile.
///
/// ```no_run
/// let obj = bpfkit_test_support::fixture("tail_calls");
/// assert!(obj.ends_with("tail_calls.bpf.o"));
/// ```
pub fn fixture(name: &str) -> PathBuf {
    try_fixture(name).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Like [`fixture`], returning clang's (or bpftool's) error instead of panicking.
pub fn try_fixture(name: &str) -> Result<PathBuf, String> {
    build_fixture(name, "bpf")
}

/// Fixture `name` compiled for big-endian BPF (`-target bpfeb`, otherwise the same flags
/// as [`fixture`]): the corpus has no big-endian objects. The file is
/// `<name>.bpfeb.o` in the cache. Panics with clang's diagnostics on failure.
///
/// ```no_run
/// let be = bpfkit_test_support::fixture_big_endian("tail_calls");
/// assert_eq!(std::fs::read(be).unwrap()[5], 2); // EI_DATA = ELFDATA2MSB
/// ```
pub fn fixture_big_endian(name: &str) -> PathBuf {
    build_fixture(name, "bpfeb").unwrap_or_else(|e| panic!("fixture {name} (bpfeb): {e}"))
}

/// Where prebuilt fixture objects are taken from instead of compiling (a VM without clang):
/// `<dir>/<name>.bpf.o` (`<name>.<target>.o` for other targets). Set by `cargo xtask vm-test`.
pub const PREBUILT_FIXTURES_ENV: &str = "BPFKIT_PREBUILT_FIXTURES";

/// Compiles fixture `name` for clang target `target` (`bpf`, `bpfel` or `bpfeb`), or takes
/// it from `$BPFKIT_PREBUILT_FIXTURES` when that is set.
fn build_fixture(name: &str, target: &str) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(PREBUILT_FIXTURES_ENV) {
        let file_name = match target {
            "bpf" => format!("{name}.bpf.o"),
            other => format!("{name}.{other}.o"),
        };
        let path = Path::new(&dir).join(file_name);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "not prebuilt: no {} ({PREBUILT_FIXTURES_ENV} is set, clang is not used)",
                path.display()
            ))
        };
    }
    let dir = fixture_source_dir();
    let src_path = dir.join(format!("{name}.bpf.c"));
    let source = std::fs::read_to_string(&src_path)
        .map_err(|e| format!("cannot read {}: {e}", src_path.display()))?;
    let declared = declared_flags(&source);
    let include_dir = dir.join("include");
    let mut flags: Vec<String> = ["-O2", "-g", "-target", target, "-Wall", "-Werror"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    flags.push(format!("-I/usr/include/{}", multiarch()?));
    // bpf_tracing.h's pt_regs accessors need the target architecture.
    flags.push(format!("-D__TARGET_ARCH_{}", target_arch()));
    flags.push(format!("-I{}", include_dir.display()));
    flags.extend(declared);

    let mut key: Vec<Vec<u8>> = vec![source.clone().into_bytes(), CLANG.into()];
    key.extend(flags.iter().map(|f| f.clone().into_bytes()));
    key.push(headers_fingerprint(&include_dir).into_bytes());
    let vmlinux_dir = if source.contains("\"vmlinux.h\"") {
        let header = vmlinux_header()?;
        key.push(header.display().to_string().into_bytes());
        header.parent().map(Path::to_path_buf)
    } else {
        None
    };
    let key_refs: Vec<&[u8]> = key.iter().map(Vec::as_slice).collect();
    let file_name = match target {
        "bpf" => format!("{name}.bpf.o"),
        other => format!("{name}.{other}.o"),
    };
    cached_artifact("fixture", &key_refs, &file_name, |tmp| {
        let mut cmd = Command::new(CLANG);
        cmd.args(&flags);
        if let Some(vdir) = &vmlinux_dir {
            cmd.arg(format!("-I{}", vdir.display()));
        }
        cmd.arg("-c").arg(&src_path).arg("-o").arg(tmp);
        run(&mut cmd).map(drop)
    })
}

/// Flags from a `// clang-flags: ...` line of the fixture's source.
fn declared_flags(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("// clang-flags:"))
        .flat_map(|rest| rest.split_whitespace().map(str::to_owned))
        .collect()
}

/// libbpf's name of the host architecture for `__TARGET_ARCH_*`.
fn target_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86",
        "aarch64" => "arm64",
        "riscv64" => "riscv",
        "powerpc64" => "powerpc",
        "s390x" => "s390",
        other => other,
    }
}

/// `gcc -print-multiarch`, e.g. `x86_64-linux-gnu` (where `asm/types.h` lives).
fn multiarch() -> Result<String, String> {
    static ARCH: OnceLock<Result<String, String>> = OnceLock::new();
    ARCH.get_or_init(|| {
        let out = run(Command::new("gcc").arg("-print-multiarch"))?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    })
    .clone()
}

/// Names and contents of the shared fixture headers, so editing one rebuilds the fixtures.
fn headers_fingerprint(include_dir: &Path) -> String {
    let mut parts: Vec<(String, Vec<u8>)> = std::fs::read_dir(include_dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(e.path()).unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    let refs: Vec<&[u8]> = parts
        .iter()
        .flat_map(|(n, c)| [n.as_bytes(), c.as_slice()])
        .collect();
    format!("{:016x}", stable_hash(&refs))
}

/// `vmlinux.h` for the running kernel, generated once into the cache by
/// `bpftool btf dump file /sys/kernel/btf/vmlinux format c`.
pub fn vmlinux_header() -> Result<PathBuf, String> {
    static HEADER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    HEADER
        .get_or_init(|| {
            let btf = std::fs::read(VMLINUX_BTF)
                .map_err(|e| format!("cannot read {VMLINUX_BTF}: {e}"))?;
            cached_artifact("vmlinux-h", &[&btf], "vmlinux.h", |tmp| {
                let out = run(Command::new("bpftool").args([
                    "btf",
                    "dump",
                    "file",
                    VMLINUX_BTF,
                    "format",
                    "c",
                ]))?;
                std::fs::write(tmp, out).map_err(|e| format!("cannot write {}: {e}", tmp.display()))
            })
        })
        .clone()
}

/// The userspace test program `testdata/c/userspace/<name>.c` (e.g. `usdt_target`, a
/// USDT and uprobe target), compiled with `gcc -O1 -g -Wall -Werror -I testdata/c/include`
/// into the test cache. Panics with gcc's diagnostics when it does not compile.
pub fn c_program(name: &str) -> PathBuf {
    let dir = fixture_source_dir();
    let src_path = dir.join("userspace").join(format!("{name}.c"));
    let include_dir = dir.join("include");
    let build = || -> Result<PathBuf, String> {
        let source = std::fs::read(&src_path)
            .map_err(|e| format!("cannot read {}: {e}", src_path.display()))?;
        let flags = ["-O1", "-g", "-Wall", "-Werror"];
        let mut key: Vec<&[u8]> = vec![&source, b"gcc"];
        key.extend(flags.iter().map(|f| f.as_bytes()));
        let headers = headers_fingerprint(&include_dir);
        key.push(headers.as_bytes());
        cached_artifact("c-program", &key, name, |tmp| {
            let mut cmd = Command::new("gcc");
            cmd.args(flags)
                .arg(format!("-I{}", include_dir.display()))
                .arg("-o")
                .arg(tmp)
                .arg(&src_path);
            run(&mut cmd).map(drop)
        })
    };
    build().unwrap_or_else(|e| panic!("C program {name}: {e}"))
}
