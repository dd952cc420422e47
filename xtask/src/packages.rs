//! Debian packages for the guest: the 6.1 kernel image (with its modules) and, for a
//! foreign architecture, busybox-static. Fetched with `apt-get download` into the cache
//! and unpacked with `dpkg -x`; nothing is installed. A foreign architecture's package
//! lists live in a private `Dir::State::Lists` under the cache, so the system's
//! architectures and apt caches are left alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::arch::Arch;
use crate::{io_err, XtaskError};

/// An unpacked kernel package.
#[derive(Debug)]
pub struct Kernel {
    /// `uname -r` of the kernel, e.g. `6.1.0-56-amd64`.
    pub version: String,
    /// The bootable image.
    pub vmlinuz: PathBuf,
    /// `lib/modules/<version>` of the package.
    pub modules: PathBuf,
}

/// Runs `cmd` (in `dir`), returning its stdout; a failure carries stderr.
pub fn run(cmd: &mut Command) -> Result<String, XtaskError> {
    let line = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| XtaskError::Command {
        command: line.clone(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(XtaskError::Command {
            command: line,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// apt options for `arch`: none on the host's own architecture; otherwise that
/// architecture only, with private lists and no binary caches (the system's stay untouched).
fn apt_options(arch: Arch, cache: &Path) -> Result<Vec<String>, XtaskError> {
    if arch.is_host() {
        return Ok(Vec::new());
    }
    let lists = cache.join("apt-lists");
    let partial = lists.join("partial");
    std::fs::create_dir_all(&partial).map_err(io_err("create", &partial))?;
    let options = vec![
        format!("-oAPT::Architecture={}", arch.debian()),
        format!("-oAPT::Architectures={}", arch.debian()),
        format!("-oDir::State::Lists={}", lists.display()),
        "-oDir::Cache::pkgcache=".to_owned(),
        "-oDir::Cache::srcpkgcache=".to_owned(),
    ];
    let has_lists = std::fs::read_dir(&lists)
        .map_err(io_err("list", &lists))?
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("_Packages"));
    if !has_lists {
        eprintln!(
            "xtask: apt-get update for {} into {}",
            arch.debian(),
            lists.display()
        );
        run(Command::new("apt-get")
            .args(&options)
            .args(["-q", "update"]))?;
    }
    Ok(options)
}

/// The newest `linux-image-6.1.0-<abi>-<arch>` apt knows.
fn kernel_package(arch: Arch, options: &[String]) -> Result<String, XtaskError> {
    let names = run(Command::new("apt-cache")
        .args(options)
        .args(["pkgnames", "linux-image-6.1.0-"]))?;
    let suffix = format!("-{}", arch.debian());
    names
        .lines()
        .filter_map(|name| {
            let abi = name
                .strip_prefix("linux-image-6.1.0-")?
                .strip_suffix(&suffix)?;
            Some((abi.parse::<u32>().ok()?, name.to_owned()))
        })
        .max()
        .map(|(_, name)| name)
        .ok_or_else(|| {
            XtaskError::Missing(format!(
                "apt knows no linux-image-6.1.0-<abi>-{} package (apt-get update?)",
                arch.debian()
            ))
        })
}

/// The `.deb` of `package` in `<cache>/debs`, downloaded when absent.
fn deb(package: &str, options: &[String], cache: &Path) -> Result<PathBuf, XtaskError> {
    let debs = cache.join("debs");
    std::fs::create_dir_all(&debs).map_err(io_err("create", &debs))?;
    let find = || -> Result<Option<PathBuf>, XtaskError> {
        let prefix = format!("{package}_");
        Ok(std::fs::read_dir(&debs)
            .map_err(io_err("list", &debs))?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
            }))
    };
    if let Some(found) = find()? {
        return Ok(found);
    }
    eprintln!("xtask: apt-get download {package}");
    run(Command::new("apt-get")
        .current_dir(&debs)
        .args(options)
        .args(["-q", "download", package]))?;
    find()?.ok_or_else(|| XtaskError::Missing(format!("apt-get download {package} left no .deb")))
}

/// `dpkg -x deb dir` unless `dir` exists (unpacked into a temporary sibling first).
fn unpack(deb: &Path, dir: &Path) -> Result<(), XtaskError> {
    if dir.is_dir() {
        return Ok(());
    }
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    run(Command::new("dpkg").arg("-x").arg(deb).arg(&tmp))?;
    std::fs::rename(&tmp, dir).map_err(io_err("rename to", dir))
}

/// Debian's newest 6.1 kernel for `arch`, unpacked under `<cache>/kernel-<version>`.
pub fn kernel(arch: Arch, cache: &Path) -> Result<Kernel, XtaskError> {
    let options = apt_options(arch, cache)?;
    // Reuse an unpacked kernel without asking apt (works offline).
    let unpacked = std::fs::read_dir(cache)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("kernel-linux-image-") && !n.ends_with(".partial"))
        });
    let dir = match unpacked {
        Some(dir) => dir,
        None => {
            let package = kernel_package(arch, &options)?;
            let deb = deb(&package, &options, cache)?;
            let dir = cache.join(format!("kernel-{package}"));
            unpack(&deb, &dir)?;
            dir
        }
    };
    let boot = dir.join("boot");
    let vmlinuz = std::fs::read_dir(&boot)
        .map_err(io_err("list", &boot))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .ok_or_else(|| XtaskError::Missing(format!("no vmlinuz-* in {}", boot.display())))?;
    let version = vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or_default()
        .to_owned();
    let modules = dir.join("lib/modules").join(&version);
    Ok(Kernel {
        version,
        vmlinuz,
        modules,
    })
}

/// A static busybox for `arch`: the host's `/bin/busybox` (busybox-static) on the
/// host's architecture, otherwise Debian's busybox-static for `arch` unpacked in the cache.
pub fn busybox(arch: Arch, cache: &Path) -> Result<PathBuf, XtaskError> {
    let host = Path::new("/bin/busybox");
    if arch.is_host() && host.is_file() {
        return Ok(host.to_owned());
    }
    let options = apt_options(arch, cache)?;
    let dir = cache.join("busybox-static");
    if !dir.is_dir() {
        let deb = deb("busybox-static", &options, cache)?;
        unpack(&deb, &dir)?;
    }
    let path = dir.join("bin/busybox");
    if path.is_file() {
        Ok(path)
    } else {
        Err(XtaskError::Missing(format!(
            "no bin/busybox in {}",
            dir.display()
        )))
    }
}
