//! `--pid`, `--comm` and `--cgroup PATH`: resolved here, checked in the kernel by the
//! globals of `tool_abi::filter_globals!`, which [`set_filter!`](crate::set_filter) writes
//! into a tool's typed skeleton before load.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use clap::Args;
use tool_abi::filter as abi;

/// The filter options of every tool.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only this process id.
    #[arg(short = 'p', long, value_parser = clap::value_parser!(u32).range(1..))]
    pub pid: Option<u32>,
    /// Only tasks with this command name (as `/proc/PID/comm` shows it: 15 bytes at most).
    #[arg(long)]
    pub comm: Option<String>,
    /// Only tasks in this cgroup (v2) directory or below it.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
}

/// Why a filter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The command name is longer than the kernel keeps.
    #[error("--comm {comm:?} is longer than the 15 bytes the kernel keeps of a command name")]
    CommTooLong {
        /// The name given.
        comm: String,
    },
    /// The cgroup path could not be read.
    #[error("--cgroup {}", path.display())]
    Cgroup {
        /// The path given.
        path: PathBuf,
        /// What stat(2) said.
        #[source]
        source: std::io::Error,
    },
    /// The path is not a directory of a cgroup v2 file system.
    #[error("--cgroup {}: not a cgroup v2 directory (cgroup2 is mounted at /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems)", path.display())]
    NotCgroup2 {
        /// The path given.
        path: PathBuf,
    },
}

/// A resolved filter, ready to be written into a skeleton's `.rodata`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    /// Process id (0: any).
    pub pid: u32,
    /// Command name words (see `tool_abi::filter::comm_words`), if the filter is on.
    pub comm: Option<(u64, u64)>,
    /// Cgroup id and level (id 0: off).
    pub cgroup: (u64, u32),
}

/// `CGROUP2_SUPER_MAGIC` from `<linux/magic.h>`.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

impl Filter {
    /// Resolves the options; `pid` (from `-c`) overrides `--pid`.
    pub fn resolve(args: &FilterArgs, pid: Option<u32>) -> Result<Filter, FilterError> {
        let comm = match &args.comm {
            Some(comm) if comm.len() >= tool_abi::COMM_LEN => {
                return Err(FilterError::CommTooLong { comm: comm.clone() })
            }
            Some(comm) => Some(abi::comm_words(comm.as_bytes())),
            None => None,
        };
        let cgroup = match &args.cgroup {
            Some(path) => cgroup_id_and_level(path)?,
            None => (0, 0),
        };
        Ok(Filter {
            pid: pid.or(args.pid).unwrap_or(0),
            comm,
            cgroup,
        })
    }
}

/// Writes a [`Filter`] into a typed skeleton's `.rodata`: `set_filter!(open.rodata(),
/// &filter)` sets the `FILTER_*` fields that `tool_abi::filter_globals!` defines in the
/// kernel crate (a kernel crate without them does not compile here).
#[macro_export]
macro_rules! set_filter {
    ($rodata:expr, $filter:expr) => {{
        let rodata = $rodata;
        let filter: &$crate::filter::Filter = $filter;
        let (lo, hi) = filter.comm.unwrap_or((0, 0));
        rodata.FILTER_PID = filter.pid;
        rodata.FILTER_COMM_ON = u32::from(filter.comm.is_some());
        rodata.FILTER_COMM_LO = lo;
        rodata.FILTER_COMM_HI = hi;
        rodata.FILTER_CGROUP_ID = filter.cgroup.0;
        rodata.FILTER_CGROUP_LEVEL = filter.cgroup.1;
    }};
}

fn is_cgroup2(path: &Path) -> Result<bool, std::io::Error> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a zeroed statfs is valid output space; `c_path` is NUL-terminated.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; statfs writes only into `fs`.
    if unsafe { libc::statfs(c_path.as_ptr(), &mut fs) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fs.f_type as i64 == CGROUP2_SUPER_MAGIC)
}

/// A cgroup v2 directory's id (its inode number, which is the kernfs id the kernel reports
/// as the cgroup id on 64-bit systems) and its level (directories below the cgroup2 root).
pub fn cgroup_id_and_level(path: &Path) -> Result<(u64, u32), FilterError> {
    let err = |source| FilterError::Cgroup {
        path: path.to_owned(),
        source,
    };
    let canonical = path.canonicalize().map_err(err)?;
    let meta = std::fs::metadata(&canonical).map_err(err)?;
    if !meta.is_dir() || !is_cgroup2(&canonical).map_err(err)? {
        return Err(FilterError::NotCgroup2 {
            path: path.to_owned(),
        });
    }
    // Walk up while the parent is still on the same cgroup2 mount.
    let mut level = 0;
    let mut dir = canonical.as_path();
    while let Some(parent) = dir.parent() {
        let same_mount = std::fs::metadata(parent).is_ok_and(|m| m.dev() == meta.dev());
        if !same_mount {
            break;
        }
        level += 1;
        dir = parent;
    }
    Ok((meta.ino(), level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_longer_than_the_kernel_keeps_is_refused() {
        let args = FilterArgs {
            comm: Some("a-very-long-command".into()),
            ..FilterArgs::default()
        };
        let err = Filter::resolve(&args, None).unwrap_err();
        assert!(err.to_string().contains("15 bytes"), "{err}");
    }

    #[test]
    fn command_pid_overrides_pid_option() {
        let args = FilterArgs {
            pid: Some(7),
            comm: Some("sh".into()),
            ..FilterArgs::default()
        };
        let filter = Filter::resolve(&args, Some(42)).unwrap();
        assert_eq!(filter.pid, 42);
        assert_eq!(filter.comm, Some(tool_abi::filter::comm_words(b"sh")));
    }

    #[test]
    fn a_non_cgroup_directory_is_refused() {
        let err = cgroup_id_and_level(Path::new("/")).unwrap_err();
        assert!(matches!(err, FilterError::NotCgroup2 { .. }), "{err}");
        let err = cgroup_id_and_level(Path::new("/nonexistent-cgroup")).unwrap_err();
        assert!(matches!(err, FilterError::Cgroup { .. }), "{err}");
    }
}
