//! The host's CPUs and page size, one reader for the whole crate: kernel CPU lists
//! (`0-3,5`) from `/sys/devices/system/cpu/{online,possible}` and `sysconf(_SC_PAGESIZE)`.

use std::sync::OnceLock;

/// The online CPUs' list.
pub const ONLINE: &str = "/sys/devices/system/cpu/online";
/// The possible CPUs' list (how many values a per-CPU map element has).
pub const POSSIBLE: &str = "/sys/devices/system/cpu/possible";

/// A CPU list file could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the CPU list {path}: {reason}")]
pub struct CpuListError {
    /// The file.
    pub path: &'static str,
    /// Why.
    pub reason: String,
}

/// Parse a kernel CPU list such as `0-3,5,7-8` (surrounding whitespace ignored); `None` if
/// malformed or empty.
///
/// ```
/// assert_eq!(bpfkit::cpus::parse_cpu_list("0-3,5\n"), Some(vec![0, 1, 2, 3, 5]));
/// assert_eq!(bpfkit::cpus::parse_cpu_list("3-1"), None);
/// ```
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

fn read_cpu_list(path: &'static str) -> Result<Vec<u32>, CpuListError> {
    let err = |reason: String| CpuListError { path, reason };
    let text =
        crate::sys::fdtrace::read_to_string(path, "sysfs file").map_err(|e| err(e.to_string()))?;
    parse_cpu_list(&text).ok_or_else(|| err(format!("unparsable CPU list {text:?}")))
}

/// The online CPUs, in order.
pub fn online_cpus() -> Result<Vec<u32>, CpuListError> {
    read_cpu_list(ONLINE)
}

/// The number of possible CPUs: how many values the kernel copies for a per-CPU map
/// element. Read once and cached.
pub fn possible_cpu_count() -> Result<usize, CpuListError> {
    static CPUS: OnceLock<Result<usize, CpuListError>> = OnceLock::new();
    CPUS.get_or_init(|| read_cpu_list(POSSIBLE).map(|c| c.len()))
        .clone()
}

/// The system page size (4096 if `sysconf` cannot tell).
pub fn page_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions and no memory effects.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
    })
}

#[cfg(test)]
mod tests {
    use super::parse_cpu_list;

    #[test]
    fn cpu_lists_parse_like_the_kernel_prints_them() {
        assert_eq!(parse_cpu_list("0-3\n"), Some(vec![0, 1, 2, 3]));
        assert_eq!(parse_cpu_list("0,2-3,7"), Some(vec![0, 2, 3, 7]));
        assert_eq!(parse_cpu_list("0-3,5,7-8"), Some(vec![0, 1, 2, 3, 5, 7, 8]));
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a-b"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list(""), None);
    }
}
