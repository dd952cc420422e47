//! Which capabilities this process holds, read from `/proc/self/status` (`CapEff`), so that a
//! refusal (EPERM, EACCES) can say which capability is missing instead of only "Operation not
//! permitted".

/// A Linux capability bpfkit's operations need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// `CAP_DAC_READ_SEARCH` (2): read tracefs (`/sys/kernel/tracing` is root-only, 0700).
    DacReadSearch,
    /// `CAP_NET_ADMIN` (12): networking programs (XDP, tc, netfilter) and their links.
    NetAdmin,
    /// `CAP_SYS_ADMIN` (21): everything BPF before Linux 5.8's split.
    SysAdmin,
    /// `CAP_PERFMON` (38, Linux 5.8): tracing programs, perf events, pointer reads.
    Perfmon,
    /// `CAP_BPF` (39, Linux 5.8): maps, BTF, program loads.
    Bpf,
}

impl Capability {
    /// The capability's number in the kernel's bit sets.
    pub fn bit(self) -> u32 {
        match self {
            Self::DacReadSearch => 2,
            Self::NetAdmin => 12,
            Self::SysAdmin => 21,
            Self::Perfmon => 38,
            Self::Bpf => 39,
        }
    }

    /// The kernel's name (`CAP_BPF`).
    pub fn name(self) -> &'static str {
        match self {
            Self::DacReadSearch => "CAP_DAC_READ_SEARCH",
            Self::NetAdmin => "CAP_NET_ADMIN",
            Self::SysAdmin => "CAP_SYS_ADMIN",
            Self::Perfmon => "CAP_PERFMON",
            Self::Bpf => "CAP_BPF",
        }
    }
}

/// Parses the `CapEff:` line of a `/proc/PID/status` text.
pub fn parse_effective(status: &str) -> Option<u64> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

/// This process's effective capability set, or `None` if `/proc` cannot tell.
pub fn effective() -> Option<u64> {
    parse_effective(&crate::sys::fdtrace::read_to_string("/proc/self/status", "proc file").ok()?)
}

/// Whether this process holds `cap` (`None`: cannot tell).
pub fn has(cap: Capability) -> Option<bool> {
    effective().map(|set| set & (1u64 << cap.bit()) != 0)
}

/// For a refusal of an operation that needs `needed` (or `CAP_SYS_ADMIN`, which covers all
/// of BPF): the ones this process lacks, in words, e.g. "this process lacks CAP_BPF (and is
/// not CAP_SYS_ADMIN)". `None` when it holds them all or `/proc` cannot tell, so the
/// refusal has another cause.
pub fn missing_hint(needed: &[Capability]) -> Option<String> {
    if in_initial_user_namespace() == Some(false)
        && needed
            .iter()
            .any(|c| matches!(c, Capability::Bpf | Capability::Perfmon))
    {
        return Some(USER_NAMESPACE_HINT.to_owned());
    }
    let set = effective()?;
    missing_in(set, needed)
}

/// Why a process in a user namespace is refused: its capabilities count only there.
pub const USER_NAMESPACE_HINT: &str = "this process runs in a user namespace, whose \
    capabilities BPF does not accept: it needs a BPF token (Linux 6.9) from a bpffs that the \
    initial namespace mounted with delegate_* options (found at /sys/fs/bpf, or where \
    BPFKIT_TOKEN_PATH or --token-path says)";

/// Parses a `/proc/PID/uid_map` text: whether it is the initial user namespace's identity
/// map of every uid (`0 0 4294967295`).
pub fn is_initial_uid_map(uid_map: &str) -> bool {
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// Whether this process is in the initial user namespace (`None`: `/proc` cannot tell).
/// Elsewhere its capabilities do not count for BPF, and only a BPF token lets it load.
pub fn in_initial_user_namespace() -> Option<bool> {
    let map = crate::sys::fdtrace::read_to_string("/proc/self/uid_map", "proc file").ok()?;
    Some(is_initial_uid_map(&map))
}

fn missing_in(set: u64, needed: &[Capability]) -> Option<String> {
    let held = |c: Capability| set & (1u64 << c.bit()) != 0;
    let sys_admin = held(Capability::SysAdmin);
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|&c| !held(c))
        // CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, not for the others.
        .filter(|&c| !(sys_admin && matches!(c, Capability::Bpf | Capability::Perfmon)))
        .map(Capability::name)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let covered_by_admin = needed
        .iter()
        .any(|c| matches!(c, Capability::Bpf | Capability::Perfmon));
    Some(format!(
        "this process lacks {}{}",
        missing.join(" and "),
        if covered_by_admin && !sys_admin {
            " (or CAP_SYS_ADMIN); run as root or grant them, e.g. with \
             `setpriv --inh-caps=+bpf,+perfmon --ambient-caps=+bpf,+perfmon`"
        } else {
            ""
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_is_read_from_proc_status() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000000c000000000\n";
        let set = parse_effective(status).unwrap();
        assert_eq!(set, (1 << 38) | (1 << 39));
        assert_eq!(parse_effective("Name:\tx\n"), None);
    }

    #[test]
    fn only_the_identity_map_of_every_uid_is_the_initial_namespace() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0      65534          1\n"));
        assert!(!is_initial_uid_map(""));
        assert!(!is_initial_uid_map("0 0 4294967295\n1 1 1\n"));
    }

    #[test]
    fn the_hint_names_only_what_is_missing() {
        let bpf_perfmon = (1 << 38) | (1 << 39);
        assert_eq!(
            missing_in(bpf_perfmon, &[Capability::Bpf, Capability::Perfmon]),
            None
        );
        let hint = missing_in(1 << 38, &[Capability::Bpf, Capability::Perfmon]).unwrap();
        assert!(
            hint.starts_with("this process lacks CAP_BPF (or CAP_SYS_ADMIN)"),
            "{hint}"
        );
        let hint = missing_in(bpf_perfmon, &[Capability::DacReadSearch]).unwrap();
        assert_eq!(hint, "this process lacks CAP_DAC_READ_SEARCH");
        // CAP_SYS_ADMIN covers CAP_BPF and CAP_PERFMON but not CAP_NET_ADMIN.
        let admin = 1 << 21;
        assert_eq!(
            missing_in(admin, &[Capability::Bpf, Capability::Perfmon]),
            None
        );
        let hint = missing_in(admin, &[Capability::Bpf, Capability::NetAdmin]).unwrap();
        assert_eq!(hint, "this process lacks CAP_NET_ADMIN");
    }
}
