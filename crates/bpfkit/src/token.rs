//! BPF tokens (Linux 6.9): how a process in a user namespace, without capabilities in the
//! initial one, creates maps and loads BTF and programs.
//!
//! A privileged process mounts a bpffs whose superblock belongs to the user namespace and
//! whose `delegate_cmds`/`delegate_maps`/`delegate_progs`/`delegate_attachs` options say what
//! it delegates. Inside the namespace, `BPF_TOKEN_CREATE` on that mount's root gives a token,
//! and `BPF_MAP_CREATE`, `BPF_BTF_LOAD` and `BPF_PROG_LOAD` with the token (and
//! `BPF_F_TOKEN_FD`) are checked against the namespace's capabilities and the delegation.
//!
//! The [`Loader`](crate::loader::Loader) finds a token by itself ([`TokenSource::Auto`]): from
//! the bpffs named by `BPFKIT_TOKEN_PATH` (empty: none), else from `/sys/fs/bpf` when the
//! process is outside the initial user namespace (there the kernel never makes tokens).
//! Feature probes use the same token.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::sys::{self, SyscallError};

/// The environment variable naming the bpffs to create the token from (empty: no token).
pub const TOKEN_PATH_ENV: &str = "BPFKIT_TOKEN_PATH";

/// Where the automatic token comes from when `BPFKIT_TOKEN_PATH` is unset.
pub const DEFAULT_TOKEN_PATH: &str = "/sys/fs/bpf";

/// Creating a BPF token failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The bpffs could not be opened.
    #[error("BPF token: opening the bpffs {path:?}")]
    Open {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `BPF_TOKEN_CREATE` was refused.
    #[error("BPF token: creating it from {path:?} was refused{}", hint_text(.source))]
    Create {
        /// The bpffs.
        path: PathBuf,
        /// The refused call.
        #[source]
        source: SyscallError,
    },
}

fn hint_text(e: &SyscallError) -> &'static str {
    match e.errno() {
        Some(libc::EINVAL) => {
            " (the kernel has no BPF tokens (Linux 6.9), or the path is not a bpffs mount root)"
        }
        Some(libc::ENOENT) => " (the bpffs delegates nothing: mount it with delegate_* options)",
        Some(libc::EOPNOTSUPP) => {
            " (tokens exist only outside the initial user namespace, where capabilities suffice)"
        }
        Some(libc::EPERM) => {
            " (the bpffs belongs to another user namespace than this process's, or the \
             process lacks CAP_BPF there)"
        }
        _ => "",
    }
}

/// A BPF token: an fd that lends a delegating bpffs's permissions to bpf(2) commands.
#[derive(Debug)]
pub struct Token {
    fd: OwnedFd,
    path: PathBuf,
}

impl AsFd for Token {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Token {
    /// A token from the bpffs mounted at `path` (its root).
    pub fn create(path: impl AsRef<Path>) -> Result<Self, TokenError> {
        let path = path.as_ref();
        let dir = crate::sys::fdtrace::open_read(path, "bpffs directory").map_err(|source| {
            TokenError::Open {
                path: path.to_owned(),
                source,
            }
        })?;
        Self::from_bpffs(dir.as_fd(), path)
    }

    /// A token from an open bpffs root (a directory fd, or the mount fd `fsmount` returns);
    /// `label` names it in errors.
    pub fn from_bpffs(
        bpffs: BorrowedFd<'_>,
        label: impl Into<PathBuf>,
    ) -> Result<Self, TokenError> {
        let path = label.into();
        let fd = sys::token_create(bpffs).map_err(|source| TokenError::Create {
            path: path.clone(),
            source,
        })?;
        log::debug!("BPF token fd {} from {path:?}", fd.as_raw_fd());
        Ok(Self { fd, path })
    }

    /// The bpffs it was created from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where a loader takes its token from.
#[derive(Debug, Clone, Default)]
pub enum TokenSource {
    /// `BPFKIT_TOKEN_PATH` if set (empty: no token; a failure is an error), else
    /// `/sys/fs/bpf` outside the initial user namespace (a failure there means no token).
    #[default]
    Auto,
    /// The bpffs at this path (a failure is an error).
    Path(PathBuf),
    /// This token.
    Token(Arc<Token>),
    /// No token.
    Disabled,
}

impl TokenSource {
    /// The token to use, if any.
    pub fn resolve(&self) -> Result<Option<Arc<Token>>, TokenError> {
        let token = match self {
            Self::Auto => auto()?,
            Self::Path(path) => Some(Arc::new(Token::create(path)?)),
            Self::Token(t) => Some(t.clone()),
            Self::Disabled => None,
        };
        if let Some(t) = &token {
            use_for_probes(t);
        }
        Ok(token)
    }
}

/// The automatic token (see [`TokenSource::Auto`]), created once per process. Errors (a
/// `BPFKIT_TOKEN_PATH` that gives no token) are not remembered.
pub fn auto() -> Result<Option<Arc<Token>>, TokenError> {
    static AUTO: Mutex<Option<Option<Arc<Token>>>> = Mutex::new(None);
    let mut cached = AUTO.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(token) = &*cached {
        return Ok(token.clone());
    }
    let token = match std::env::var_os(TOKEN_PATH_ENV) {
        Some(path) if path.is_empty() => None,
        Some(path) => Some(Arc::new(Token::create(PathBuf::from(path))?)),
        // The kernel refuses tokens in the initial user namespace: no syscall there.
        None if crate::caps::in_initial_user_namespace() != Some(false) => None,
        None => match Token::create(DEFAULT_TOKEN_PATH) {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                log::debug!("no BPF token: {}", crate::Report(&e));
                None
            }
        },
    };
    if let Some(t) = &token {
        // Cached for the rest of the process: not a leak at exit.
        crate::sys::fdtrace::keep_open(t.as_fd(), "the automatic BPF token cache");
    }
    *cached = Some(token.clone());
    Ok(token)
}

static PROBE_TOKEN: Mutex<Option<Arc<Token>>> = Mutex::new(None);

/// Let feature probes use `token` (the first token a loader resolved stays).
fn use_for_probes(token: &Arc<Token>) {
    let mut probe = PROBE_TOKEN.lock().unwrap_or_else(|e| e.into_inner());
    if probe.is_none() {
        // Held for the process's feature probes from now on: not a leak at exit.
        crate::sys::fdtrace::keep_open(token.as_fd(), "the BPF token feature probes use");
        *probe = Some(token.clone());
    }
}

/// The token feature probes pass: the one a loader resolved first, else the automatic one.
pub fn probe_token() -> Option<Arc<Token>> {
    if let Some(t) = &*PROBE_TOKEN.lock().unwrap_or_else(|e| e.into_inner()) {
        return Some(t.clone());
    }
    auto().ok().flatten()
}
