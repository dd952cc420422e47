//! `Interface`: a network interface named by index or name, for the XDP, tc and netkit
//! attach functions.

use std::ffi::CString;

/// A network interface of the calling thread's network namespace.
///
/// ```
/// use bpfkit::programs::Interface;
/// assert_eq!(Interface::from(1).index().unwrap(), 1);
/// assert_eq!(Interface::from("lo").index().unwrap(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface<'a> {
    /// An interface index (`ip link` shows it first).
    Index(u32),
    /// An interface name (`eth0`), resolved with `if_nametoindex` at attach time.
    Name(&'a str),
}

impl From<u32> for Interface<'_> {
    fn from(index: u32) -> Self {
        Self::Index(index)
    }
}

impl<'a> From<&'a str> for Interface<'a> {
    fn from(name: &'a str) -> Self {
        Self::Name(name)
    }
}

impl<'a> From<&'a String> for Interface<'a> {
    fn from(name: &'a String) -> Self {
        Self::Name(name)
    }
}

impl std::fmt::Display for Interface<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Index(i) => write!(f, "ifindex {i}"),
            Self::Name(n) => f.write_str(n),
        }
    }
}

impl Interface<'_> {
    /// The interface index; a name that names no interface is an error (ENODEV), as is
    /// index 0.
    pub fn index(&self) -> std::io::Result<u32> {
        match *self {
            Self::Index(0) => Err(std::io::Error::from_raw_os_error(libc::ENODEV)),
            Self::Index(i) => Ok(i),
            Self::Name(name) => {
                let c = CString::new(name)
                    .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
                // SAFETY: `c` is a NUL-terminated string that outlives the call.
                let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
                if index == 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(index)
                }
            }
        }
    }

    /// [`index`](Self::index) with an [`AttachError::Target`](super::AttachError::Target)
    /// naming the program.
    pub(crate) fn resolve(&self, program: &str) -> Result<u32, super::AttachError> {
        self.index().map_err(|e| {
            super::AttachError::target(
                program,
                &self.to_string(),
                format!("no such interface: {e}"),
            )
        })
    }
}

/// Why listing the programs attached to an interface failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The interface does not exist.
    #[error("interface {interface}")]
    Interface {
        /// The interface as given.
        interface: String,
        /// `if_nametoindex`'s error.
        #[source]
        source: std::io::Error,
    },
    /// `BPF_PROG_QUERY` failed.
    #[error("interface {interface}")]
    Syscall {
        /// The interface as given.
        interface: String,
        /// The call and errno.
        #[source]
        source: crate::sys::SyscallError,
    },
    /// An rtnetlink request failed.
    #[error("interface {interface}")]
    Netlink {
        /// The interface as given.
        interface: String,
        /// The request, errno and the kernel's message.
        #[source]
        source: crate::sys::netlink::NetlinkError,
    },
}

impl Interface<'_> {
    /// [`index`](Self::index) with a [`QueryError`].
    pub(crate) fn resolve_for_query(&self) -> Result<u32, QueryError> {
        self.index().map_err(|source| QueryError::Interface {
            interface: self.to_string(),
            source,
        })
    }
}
