//! Debian packages for the guest: the kernel image (with its modules) of one release of
//! the matrix and, for a foreign architecture, busybox-static. Fetched with `apt-get
//! download` into the cache and unpacked with `dpkg -x`; nothing is installed. A foreign
//! architecture's or another Debian suite's package lists live in a private
//! `Dir::State::Lists` under the cache, so the system's architectures, sources and apt
//! caches are left alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::arch::Arch;
use crate::{io_err, XtaskError};

/// A kernel release of the matrix, named by its upstream series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelRelease {
    /// Debian bullseye's 5.10 (`linux-image-5.10.0-<abi>-<arch>`), from private bullseye and
    /// bullseye-security lists: BTF, ring buffers and XDP links, but none of the BTF kinds
    /// FLOAT/DECL_TAG/TYPE_TAG/ENUM64, no tcx, and BPF memory charged to RLIMIT_MEMLOCK.
    V5_10,
    /// Debian bookworm's 6.1 (`linux-image-6.1.0-<abi>-<arch>`), from the system's lists.
    V6_1,
    /// Debian trixie's 6.12 (`linux-image-6.12.<n>+deb13-<arch>`), from private trixie
    /// lists: has `CONFIG_FPROBE` (kprobe.multi) and uprobe.multi links.
    V6_12,
}

impl KernelRelease {
    /// Every release, oldest first.
    pub const ALL: [Self; 3] = [Self::V5_10, Self::V6_1, Self::V6_12];

    /// `5.10`, `6.1` or `6.12`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "5.10" => Some(Self::V5_10),
            "6.1" => Some(Self::V6_1),
            "6.12" => Some(Self::V6_12),
            _ => None,
        }
    }

    /// The name used on the command line and in the cache directory.
    pub fn name(self) -> &'static str {
        match self {
            Self::V5_10 => "5.10",
            Self::V6_1 => "6.1",
            Self::V6_12 => "6.12",
        }
    }

    /// The `sources.list` of the private lists (`None`: the system's own, bookworm).
    /// bullseye's newest kernels are only in bullseye-security.
    fn private_sources(self) -> Option<&'static str> {
        match self {
            Self::V5_10 => Some(
                "deb http://deb.debian.org/debian bullseye main\n\
                 deb http://security.debian.org/debian-security bullseye-security main\n",
            ),
            Self::V6_1 => None,
            Self::V6_12 => Some("deb http://deb.debian.org/debian trixie main\n"),
        }
    }

    /// What every kernel image package name of this release starts with.
    fn package_prefix(self) -> &'static str {
        match self {
            Self::V5_10 => "linux-image-5.10.0-",
            Self::V6_1 => "linux-image-6.1.0-",
            Self::V6_12 => "linux-image-6.12.",
        }
    }
}

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

/// apt options for `arch` and `release`: none on the host's own architecture with the
/// system's suite; otherwise that architecture only, with private lists (and, for another
/// suite, a private `sources.list`) and no binary caches (the system's stay untouched).
fn apt_options(
    arch: Arch,
    release: KernelRelease,
    cache: &Path,
) -> Result<Vec<String>, XtaskError> {
    let sources = release.private_sources();
    if arch.is_host() && sources.is_none() {
        return Ok(Vec::new());
    }
    let lists = cache.join("apt-lists");
    let partial = lists.join("partial");
    std::fs::create_dir_all(&partial).map_err(io_err("create", &partial))?;
    let mut options = vec![
        format!("-oAPT::Architecture={}", arch.debian()),
        format!("-oAPT::Architectures={}", arch.debian()),
        format!("-oDir::State::Lists={}", lists.display()),
        "-oDir::Cache::pkgcache=".to_owned(),
        "-oDir::Cache::srcpkgcache=".to_owned(),
    ];
    if let Some(text) = sources {
        let sources = cache.join("sources.list");
        std::fs::write(&sources, text).map_err(io_err("write", &sources))?;
        options.push(format!("-oDir::Etc::SourceList={}", sources.display()));
        options.push("-oDir::Etc::SourceParts=/dev/null".to_owned());
    }
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

/// The generic kernel images of `release` apt knows, newest first
/// (`linux-image-6.1.0-<abi>-<arch>`, `linux-image-6.12.<n>+deb13-<arch>`; not the `-rt`,
/// `-cloud`, `-dbg` or `-unsigned` flavours).
fn kernel_packages(
    arch: Arch,
    release: KernelRelease,
    options: &[String],
) -> Result<Vec<String>, XtaskError> {
    let prefix = release.package_prefix();
    let names = run(Command::new("apt-cache")
        .args(options)
        .args(["pkgnames", prefix]))?;
    let found = kernel_packages_newest_first(&names, prefix, arch.debian());
    if found.is_empty() {
        return Err(XtaskError::Missing(format!(
            "apt knows no {prefix}<n>-{} package (apt-get update?)",
            arch.debian()
        )));
    }
    Ok(found)
}

/// Among `names` (one a line), the `<prefix><n>[+suffix]-<debian arch>` packages by
/// decreasing `n`, where the part between prefix and arch holds no `-` (that excludes other
/// flavours).
fn kernel_packages_newest_first(names: &str, prefix: &str, debian_arch: &str) -> Vec<String> {
    let suffix = format!("-{debian_arch}");
    let mut found: Vec<(u32, String)> = names
        .lines()
        .filter_map(|name| {
            let middle = name.strip_prefix(prefix)?.strip_suffix(&suffix)?;
            if middle.contains('-') {
                return None;
            }
            let digits = middle.split('+').next()?;
            Some((digits.parse::<u32>().ok()?, name.to_owned()))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found.into_iter().map(|(_, name)| name).collect()
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

/// Debian's newest kernel of `release` for `arch`, unpacked under `<cache>/kernel-<package>`.
pub fn kernel(arch: Arch, release: KernelRelease, cache: &Path) -> Result<Kernel, XtaskError> {
    let options = apt_options(arch, release, cache)?;
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
            // The newest whose download works: a mirror may list a package its pool lacks
            // (bullseye-security's arm64 kernels, seen 2026-12), then the next one is taken.
            let mut failures = Vec::new();
            let mut got = None;
            for package in kernel_packages(arch, release, &options)? {
                match deb(&package, &options, cache) {
                    Ok(deb) => {
                        got = Some((package, deb));
                        break;
                    }
                    Err(e) => {
                        eprintln!("xtask: {e}; trying an older kernel package");
                        failures.push(package);
                    }
                }
            }
            let (package, deb) = got.ok_or_else(|| {
                XtaskError::Missing(format!(
                    "no kernel package could be downloaded (tried {})",
                    failures.join(", ")
                ))
            })?;
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
    // bookworm ships modules under lib/, trixie (merged /usr) under usr/lib/.
    let modules = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|m| dir.join(m).join(&version))
        .find(|m| m.is_dir())
        .ok_or_else(|| {
            XtaskError::Missing(format!(
                "no lib/modules/{version} or usr/lib/modules/{version} in {}",
                dir.display()
            ))
        })?;
    Ok(Kernel {
        version,
        vmlinuz,
        modules,
    })
}

/// A static busybox for `arch`: the host's `/bin/busybox` (busybox-static) on the
/// host's architecture, otherwise the busybox-static for `arch` of the system's own Debian
/// suite (the lists the 6.1 VM uses), unpacked in `cache`.
pub fn busybox(arch: Arch, cache: &Path) -> Result<PathBuf, XtaskError> {
    let host = Path::new("/bin/busybox");
    if arch.is_host() && host.is_file() {
        return Ok(host.to_owned());
    }
    let options = apt_options(arch, KernelRelease::V6_1, cache)?;
    let dir = cache.join("busybox-static");
    if !dir.is_dir() {
        let deb = deb("busybox-static", &options, cache)?;
        unpack(&deb, &dir)?;
    }
    // trixie's package (merged /usr) has it under usr/bin.
    ["bin/busybox", "usr/bin/busybox"]
        .iter()
        .map(|p| dir.join(p))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            XtaskError::Missing(format!(
                "no bin/busybox or usr/bin/busybox in {}",
                dir.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::kernel_packages_newest_first;

    #[test]
    fn kernel_packages_are_the_generic_flavour_newest_first() {
        let trixie = "linux-image-6.12.117+deb13-amd64-dbg\nlinux-image-6.12.117+deb13-rt-amd64\n\
                      linux-image-6.12.107+deb13-amd64\nlinux-image-6.12.117+deb13-cloud-amd64\n\
                      linux-image-6.12.117+deb13-amd64\nlinux-image-6.12.117+deb13-amd64-unsigned\n";
        assert_eq!(
            kernel_packages_newest_first(trixie, "linux-image-6.12.", "amd64"),
            [
                "linux-image-6.12.117+deb13-amd64",
                "linux-image-6.12.107+deb13-amd64"
            ]
        );
        let bookworm = "linux-image-6.1.0-9-amd64\nlinux-image-6.1.0-56-amd64\n\
                        linux-image-6.1.0-56-cloud-amd64\nlinux-image-6.1.0-41-arm64\n";
        assert_eq!(
            kernel_packages_newest_first(bookworm, "linux-image-6.1.0-", "amd64"),
            ["linux-image-6.1.0-56-amd64", "linux-image-6.1.0-9-amd64"]
        );
        assert!(kernel_packages_newest_first(bookworm, "linux-image-6.1.0-", "riscv64").is_empty());
    }
}
