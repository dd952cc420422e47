//! What differs between the architectures of the matrix: Rust triple, Debian names, QEMU.

/// A guest architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86_64: Debian `amd64`, `qemu-system-x86_64 -accel tcg`.
    X86_64,
    /// aarch64: Debian `arm64`, `qemu-system-aarch64 -M virt -cpu cortex-a57`.
    Aarch64,
}

impl Arch {
    /// `x86_64` or `aarch64` (also accepts Debian's `amd64`/`arm64`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "x86_64" | "amd64" => Some(Self::X86_64),
            "aarch64" | "arm64" => Some(Self::Aarch64),
            _ => None,
        }
    }

    /// The name used on the command line and for the cache directory.
    pub fn name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        }
    }

    /// Debian's architecture name.
    pub fn debian(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Aarch64 => "arm64",
        }
    }

    /// The Rust target the test binaries are built for (static musl).
    pub fn triple(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-unknown-linux-musl",
            Self::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// libbpf's `__TARGET_ARCH_*` for C fixtures.
    pub fn bpf_target_arch(self) -> &'static str {
        match self {
            Self::X86_64 => "x86",
            Self::Aarch64 => "arm64",
        }
    }

    /// Whether this is the machine's own architecture (its packages need no extra lists).
    pub fn is_host(self) -> bool {
        std::env::consts::ARCH == self.name()
    }

    /// The QEMU binary and its machine arguments (TCG: KVM is unusably slow here).
    pub fn qemu(self) -> (&'static str, &'static [&'static str], &'static str) {
        match self {
            // no_timer_check: on a loaded host TCG's 8254 timer can miss the kernel's
            // IO-APIC check, which then panics at boot ("IO-APIC + timer doesn't work").
            Self::X86_64 => (
                "qemu-system-x86_64",
                &["-accel", "tcg"],
                "console=ttyS0 no_timer_check",
            ),
            Self::Aarch64 => (
                "qemu-system-aarch64",
                &["-M", "virt", "-cpu", "cortex-a57"],
                "console=ttyAMA0",
            ),
        }
    }
}
