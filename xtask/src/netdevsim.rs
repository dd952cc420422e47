//! netdevsim for the x86_64 6.1 VM: Debian builds its kernels without `CONFIG_NETDEVSIM`,
//! so `scripts/netdevsim-module` builds the module out of tree (linux-source against the
//! package's linux-headers, with the host's gcc-12, packages fetched by `apt-get download`)
//! into the unpacked kernel package of the VM cache, where [`crate::initramfs`] loads it.
//! Built once: a later run finds the `.ko` and builds nothing. A failed build (no network,
//! no gcc-12, headers and source of different versions) is not an error of the run: its
//! reason is handed to the guest, where `attach_xdp_offload` prints it with its `SKIP`.

use std::process::Command;
use std::time::Instant;

use crate::arch::Arch;
use crate::packages::{Kernel, KernelRelease};
use crate::repo_root;

/// Where the module lies inside the package's `lib/modules/<version>`.
const MODULE_PATH: &str = "kernel/drivers/net/netdevsim/netdevsim.ko";

/// Builds netdevsim into `kernel` when this VM is the one it is made for and it is missing.
/// Returns why the guest has no netdevsim (`None`: it has it, or this VM does not need it).
pub fn ensure(arch: Arch, release: KernelRelease, kernel: &Kernel) -> Option<String> {
    // Bookworm's kernels are built with gcc-12, the compiler of a bookworm host; the other
    // kernels' compilers (bullseye's gcc-10, trixie's gcc-14) are not there to match.
    if arch != Arch::X86_64 || release != KernelRelease::V6_1 || !arch.is_host() {
        return None;
    }
    let module = kernel.modules.join(MODULE_PATH);
    if module.is_file() {
        return None;
    }
    let script = repo_root().join("scripts/netdevsim-module");
    eprintln!(
        "xtask: building netdevsim for {} ({})",
        kernel.version,
        script.display()
    );
    let started = Instant::now();
    // Absolute: the script runs from the repository root.
    let modules = std::fs::canonicalize(&kernel.modules).unwrap_or_else(|_| kernel.modules.clone());
    let reason = match Command::new(&script).arg(&modules).output() {
        Err(e) => format!("could not start {}: {e}", script.display()),
        Ok(out) if out.status.success() && module.is_file() => {
            eprintln!(
                "xtask: netdevsim built in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            return None;
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output");
            format!(
                "building netdevsim for {} failed ({}): {}",
                kernel.version,
                out.status,
                last.trim()
            )
        }
    };
    eprintln!("xtask: {reason}; attach_xdp_offload will SKIP");
    Some(reason)
}
