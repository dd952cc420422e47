//! Chooses the architecture whose `pt_regs` layout kprobe/uprobe contexts use.
//!
//! eBPF code is compiled for BPF (`target_arch` is `bpf` on the bpfel route, `riscv64` on
//! the default donor route), so neither names the machine probed; the register
//! layout of the kernel being probed is that of the build host unless
//! `BPFKIT_TARGET_ARCH` (`x86_64` or `aarch64`) says otherwise.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(bpf_target_arch, values(\"x86_64\", \"aarch64\"))");
    // Set by bpfkit-build on both routes (the donor route's target_arch is riscv64).
    println!("cargo::rustc-check-cfg=cfg(bpfkit_ebpf)");
    println!("cargo::rerun-if-env-changed=BPFKIT_TARGET_ARCH");
    let arch = std::env::var("BPFKIT_TARGET_ARCH").unwrap_or_else(|_| {
        let host = std::env::var("HOST").unwrap_or_default();
        host.split('-').next().unwrap_or("x86_64").to_string()
    });
    let arch = if arch == "aarch64" {
        "aarch64"
    } else {
        "x86_64"
    };
    println!("cargo::rustc-cfg=bpf_target_arch=\"{arch}\"");
}
