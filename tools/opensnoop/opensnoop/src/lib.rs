//! opensnoop's userspace library: decoding the kernel side's `OpenEvent` records
//! ([`Open`]), naming open flags ([`flag_names`]) and printing columns or JSON lines.
//! The binary (`src/main.rs`) loads [`OPENSNOOP_BPF`], attaches and polls.

use bpfkit::maps::Pod;
use tool_abi::opensnoop::OpenEvent;
use tool_common::errno;
use tool_common::output::{c_str, json_string};

/// The kernel side, built by build.rs from `../opensnoop-ebpf`: programs `open_enter`,
/// `openat_enter`, `openat2_enter` and their `*_exit`, maps `START` and `EVENTS`.
pub static OPENSNOOP_BPF: &[u8] = bpfkit_build::include_ebpf!("opensnoop");

/// One open, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Process id.
    pub pid: u32,
    /// Real user id.
    pub uid: u32,
    /// Command name.
    pub comm: String,
    /// The file descriptor, or a negative errno.
    pub ret: i64,
    /// Open flags.
    pub flags: u64,
    /// Creation mode.
    pub mode: u64,
    /// The path (lossy UTF-8).
    pub path: String,
}

/// A ring buffer record of the wrong size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("opensnoop record of {len} bytes, expected {expected}")]
pub struct DecodeError {
    /// Record length.
    pub len: usize,
    /// `size_of::<OpenEvent>()`.
    pub expected: usize,
}

impl Open {
    /// Decodes an `EVENTS` record.
    pub fn decode(record: &[u8]) -> Result<Open, DecodeError> {
        let event = OpenEvent::from_bytes(record).ok_or(DecodeError {
            len: record.len(),
            expected: size_of::<OpenEvent>(),
        })?;
        Ok(Open {
            pid: event.pid,
            uid: event.uid,
            comm: c_str(&event.comm),
            ret: event.ret,
            flags: event.flags,
            mode: event.mode,
            path: c_str(&event.path),
        })
    }

    /// The fd, when the open succeeded.
    pub fn fd(&self) -> Option<i64> {
        (self.ret >= 0).then_some(self.ret)
    }

    /// The errno, when it failed.
    pub fn errno(&self) -> Option<u32> {
        (self.ret < 0).then(|| (-self.ret) as u32)
    }
}

/// `O_*` names of `flags` for the host architecture (`O_RDONLY`, `O_WRONLY` or `O_RDWR`
/// first, then the others set; unknown bits as one octal number).
///
/// ```
/// assert_eq!(opensnoop::flag_names((libc::O_WRONLY | libc::O_CREAT) as u64), "O_WRONLY|O_CREAT");
/// ```
pub fn flag_names(flags: u64) -> String {
    let access = match flags & libc::O_ACCMODE as u64 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let mut names = vec![access.to_owned()];
    let mut rest = flags & !(libc::O_ACCMODE as u64);
    for (bit, name) in [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_NOCTTY, "O_NOCTTY"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_DSYNC, "O_DSYNC"),
        (libc::O_ASYNC, "O_ASYNC"),
        (libc::O_DIRECT, "O_DIRECT"),
        (libc::O_LARGEFILE, "O_LARGEFILE"),
        (libc::O_DIRECTORY, "O_DIRECTORY"),
        (libc::O_NOFOLLOW, "O_NOFOLLOW"),
        (libc::O_NOATIME, "O_NOATIME"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_PATH, "O_PATH"),
        (libc::O_TMPFILE & !libc::O_DIRECTORY, "O_TMPFILE"),
        (libc::O_SYNC & !libc::O_DSYNC, "__O_SYNC"),
    ] {
        let bit = bit as u64;
        if bit != 0 && rest & bit != 0 {
            names.push(name.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("0{rest:o}"));
    }
    names.join("|")
}

/// The column header for text output.
pub const HEADER: &str = "PID    COMM              FD ERR FLAGS    PATH";

/// One text line: pid, command, fd (-1 on failure), errno (0 on success), flags in octal,
/// path — libbpf-tools' columns (`opensnoop -e`), character for character.
pub fn text_line(open: &Open) -> String {
    format!(
        "{:<6} {:<16} {:>3} {:>3} {:08o} {}",
        open.pid,
        open.comm,
        open.fd().unwrap_or(-1),
        open.errno().unwrap_or(0),
        open.flags,
        open.path
    )
}

/// One JSON line: pid, uid, comm, fd (null on failure), errno name and value (null on
/// success), flags (number and names), mode, path.
pub fn json_line(open: &Open) -> String {
    let null = || "null".to_owned();
    format!(
        "{{\"pid\":{},\"uid\":{},\"comm\":{},\"fd\":{},\"errno\":{},\"errno_value\":{},\"flags\":{},\"flags_text\":{},\"mode\":{},\"path\":{}}}",
        open.pid,
        open.uid,
        json_string(&open.comm),
        open.fd().map_or_else(null, |fd| fd.to_string()),
        open.errno().map_or_else(null, |e| json_string(&errno::name_or_number(e))),
        open.errno().map_or_else(null, |e| e.to_string()),
        open.flags,
        json_string(&flag_names(open.flags)),
        open.mode,
        json_string(&open.path)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(ret: i64) -> Open {
        Open {
            pid: 7,
            uid: 0,
            comm: "cat".into(),
            ret,
            flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
            mode: 0,
            path: "/etc/\"passwd\"".into(),
        }
    }

    #[test]
    fn decodes_a_record() {
        let mut event = OpenEvent::ZERO;
        event.pid = 42;
        event.ret = -2;
        event.flags = 0o100;
        event.comm[..3].copy_from_slice(b"cat");
        event.path[..4].copy_from_slice(b"/tmp");
        let open = Open::decode(event.as_bytes()).unwrap();
        assert_eq!(
            (open.pid, open.ret, open.errno(), open.fd()),
            (42, -2, Some(2), None)
        );
        assert_eq!((open.comm.as_str(), open.path.as_str()), ("cat", "/tmp"));
        assert_eq!(
            Open::decode(&[0; 8]),
            Err(DecodeError {
                len: 8,
                expected: size_of::<OpenEvent>()
            })
        );
    }

    #[test]
    fn lines_have_libbpf_tools_columns() {
        let line = text_line(&open(3));
        assert_eq!(
            line.split_whitespace().collect::<Vec<_>>(),
            [
                "7",
                "cat",
                "3",
                "0",
                &format!("{:08o}", libc::O_CLOEXEC),
                "/etc/\"passwd\""
            ]
        );
        assert_eq!(HEADER.find("PATH"), line.find("/etc"));
        assert_eq!(
            json_line(&open(-13)),
            format!(
                "{{\"pid\":7,\"uid\":0,\"comm\":\"cat\",\"fd\":null,\"errno\":\"EACCES\",\"errno_value\":13,\"flags\":{},\"flags_text\":\"O_RDONLY|O_CLOEXEC\",\"mode\":0,\"path\":\"/etc/\\\"passwd\\\"\"}}",
                libc::O_CLOEXEC
            )
        );
    }

    #[test]
    fn unknown_flag_bits_print_in_octal() {
        assert_eq!(flag_names(0o2 | 0o40000000000), "O_RDWR|040000000000");
    }
}
