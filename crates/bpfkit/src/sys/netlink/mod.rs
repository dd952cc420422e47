//! rtnetlink, written by hand: the XDP (`IFLA_XDP`) and tc (`clsact` qdisc, `cls_bpf`
//! filter) attachments that predate bpf links, for kernels without XDP links (5.9) or tcx
//! (6.6), and for programs attached by other tools.
//!
//! A request is one `struct nlmsghdr` + fixed header (`ifinfomsg` or `tcmsg`) + attributes
//! (`struct nlattr`, 4-byte aligned, nested ones flagged `NLA_F_NESTED`). Every request asks
//! for an ack; extended acks (`NETLINK_EXT_ACK`) bring the kernel's message, which
//! [`NetlinkError`] keeps.

//!
//! One file per family of requests: `link.rs` (XDP, netkit, deleting links), `tc.rs` (clsact,
//! `cls_bpf`), `route.rs` (routes with a BPF encap).

mod link;
mod route;
mod tc;

pub use link::*;
pub use route::*;
pub use tc::*;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::seam::{self, Call, Reply};

/// `NETLINK_EXT_ACK` socket option (Linux 4.12).
const NETLINK_EXT_ACK: libc::c_int = 11;
/// `NETLINK_CAP_ACK`: the ack echoes only the request header.
const NETLINK_CAP_ACK: libc::c_int = 10;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_ECHO: u16 = 0x8;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
/// In an `NLMSG_ERROR` header: TLVs follow the echoed request.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// A failed rtnetlink request: the errno and, when the kernel sent one, its extended-ack
/// message (`"Underlying driver does not support XDP in native mode"`).
#[derive(Debug, thiserror::Error)]
#[error("netlink {request}: {io_error}{}", .message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
pub struct NetlinkError {
    /// The request (`RTM_SETLINK IFLA_XDP`, ...).
    pub request: &'static str,
    /// The errno (shown in the Display; this error is a leaf of error chains).
    pub io_error: io::Error,
    /// The kernel's extended-ack message.
    pub message: Option<String>,
}

impl NetlinkError {
    fn io(request: &'static str, io_error: io::Error) -> Self {
        Self {
            request,
            io_error,
            message: None,
        }
    }

    /// The raw errno.
    pub fn errno(&self) -> Option<i32> {
        self.io_error.raw_os_error()
    }
}

/// Result of one rtnetlink request.
pub type NetlinkResult<T> = Result<T, NetlinkError>;

/// A message under construction: header, fixed part, attributes; nests are closed by
/// patching their length.
struct Message {
    buf: Vec<u8>,
}

impl Message {
    fn new(msg_type: u16, flags: u16, fixed: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, patched in finish()
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&1u32.to_ne_bytes()); // seq
        buf.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
        buf.extend_from_slice(fixed);
        let mut m = Self { buf };
        m.align();
        m
    }

    fn align(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, attr_type: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&attr_type.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.align();
    }

    fn attr_u32(&mut self, attr_type: u16, value: u32) {
        self.attr(attr_type, &value.to_ne_bytes());
    }

    fn attr_str(&mut self, attr_type: u16, value: &str) {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.attr(attr_type, &bytes);
    }

    /// Opens a nested attribute; returns where to patch its length.
    fn begin_nest(&mut self, attr_type: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(attr_type | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end_nest(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// `struct ifinfomsg` for interface `ifindex`.
fn ifinfomsg(ifindex: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    m
}

/// `struct tcmsg`.
fn tcmsg(ifindex: u32, handle: u32, parent: u32, info: u32) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    m[8..12].copy_from_slice(&handle.to_ne_bytes());
    m[12..16].copy_from_slice(&parent.to_ne_bytes());
    m[16..20].copy_from_slice(&info.to_ne_bytes());
    m
}

/// Attributes of a message body, as `(type without flags, payload)`; stops at a malformed one.
fn attrs(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let kind = u16::from_ne_bytes([data[2], data[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > data.len() {
            break;
        }
        out.push((kind, &data[4..len]));
        let next = (len + 3) & !3;
        data = &data[next.min(data.len())..];
    }
    out
}

fn u32_of(payload: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(payload.get(..4)?.try_into().ok()?))
}

/// A `NETLINK_ROUTE` socket, closed on drop. It talks to the network namespace of the thread
/// that opened it, wherever it is used later: attachments keep theirs to detach in the same
/// namespace.
#[derive(Debug)]
pub struct RouteSocket {
    fd: OwnedFd,
}

impl RouteSocket {
    /// Opens a socket in the calling thread's network namespace, through the syscall seam
    /// ([`Call::Netlink`] with this request's name; [`Reply::Return`] counts as
    /// [`Reply::Kernel`]: the socket is always really opened).
    pub fn open() -> NetlinkResult<Self> {
        const REQUEST: &str = "socket(AF_NETLINK, NETLINK_ROUTE)";
        let mut interrupted = 0;
        let fd = loop {
            let result = match seam::decide(&Call::Netlink { request: REQUEST }) {
                Reply::Errno(errno) => Err(io::Error::from_raw_os_error(errno)),
                Reply::Kernel | Reply::Return(_) => {
                    // SAFETY: plain socket(2) call.
                    let fd = unsafe {
                        libc::socket(
                            libc::AF_NETLINK,
                            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                            libc::NETLINK_ROUTE,
                        )
                    };
                    if fd < 0 {
                        Err(io::Error::last_os_error())
                    } else {
                        Ok(fd)
                    }
                }
            };
            match result {
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        && interrupted < seam::EINTR_RETRIES =>
                {
                    interrupted += 1;
                }
                Err(e) => return Err(NetlinkError::io(REQUEST, e)),
                Ok(fd) => break fd,
            }
        };
        // SAFETY: a fresh fd nothing else owns.
        let fd = unsafe { crate::sys::fdtrace::own(fd, "netlink socket") };
        for option in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: the value is a live c_int of the stated size. Failure (kernels before
            // 4.12) only loses the extended-ack messages.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_NETLINK,
                    option,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
        Ok(Self { fd })
    }

    fn send(&self, request: &'static str, message: &[u8]) -> NetlinkResult<()> {
        // SAFETY: a zeroed sockaddr_nl addressed to the kernel (pid 0).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `message` and `addr` are live for the call, with their lengths.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
                0,
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(NetlinkError::io(request, io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Receives until the ack (or `NLMSG_DONE` of a dump), handing every other message
    /// (type, body) to `each`.
    fn receive(
        &self,
        request: &'static str,
        mut each: impl FnMut(u16, &[u8]),
    ) -> NetlinkResult<()> {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: `buf` is live and writable for its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(NetlinkError::io(request, e));
            }
            let mut data = &buf[..n as usize];
            while data.len() >= 16 {
                let len = u32::from_ne_bytes(data[0..4].try_into().unwrap_or_default()) as usize;
                let msg_type = u16::from_ne_bytes([data[4], data[5]]);
                let flags = u16::from_ne_bytes([data[6], data[7]]);
                if len < 16 || len > data.len() {
                    return Err(NetlinkError::io(
                        request,
                        io::Error::new(io::ErrorKind::InvalidData, "truncated netlink message"),
                    ));
                }
                let body = &data[16..len];
                match msg_type {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => return ack_result(request, flags, body),
                    _ => each(msg_type, body),
                }
                data = &data[((len + 3) & !3).min(data.len())..];
            }
        }
    }

    /// Send `message` and receive up to its ack, through the syscall seam
    /// ([`Call::Netlink`]). A request interrupted by a signal (`EINTR`: the kernel did
    /// nothing) is sent again, up to [`seam::EINTR_RETRIES`] times.
    fn request(
        &self,
        request: &'static str,
        message: Message,
        mut each: impl FnMut(u16, &[u8]),
    ) -> NetlinkResult<()> {
        let message = message.finish();
        let mut interrupted = 0;
        loop {
            let result = match seam::decide(&Call::Netlink { request }) {
                Reply::Kernel => self
                    .send(request, &message)
                    .and_then(|()| self.receive(request, &mut each)),
                Reply::Errno(errno) => Err(NetlinkError::io(
                    request,
                    io::Error::from_raw_os_error(errno),
                )),
                Reply::Return(_) => Ok(()),
            };
            match result {
                Err(e) if e.errno() == Some(libc::EINTR) && interrupted < seam::EINTR_RETRIES => {
                    interrupted += 1;
                }
                other => return other,
            }
        }
    }
}

/// An `NLMSG_ERROR` body: `struct nlmsgerr` (errno, echoed request header), then TLVs.
fn ack_result(request: &'static str, flags: u16, body: &[u8]) -> NetlinkResult<()> {
    let error = body
        .get(..4)
        .map_or(-libc::EIO, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    if error == 0 {
        return Ok(());
    }
    let message = if flags & NLM_F_ACK_TLVS != 0 && body.len() > 20 {
        attrs(&body[20..])
            .into_iter()
            .find(|(k, _)| *k == NLMSGERR_ATTR_MSG)
            .map(|(_, v)| String::from_utf8_lossy(v).trim_end_matches('\0').to_owned())
    } else {
        None
    };
    Err(NetlinkError {
        request,
        io_error: io::Error::from_raw_os_error(-error),
        message,
    })
}
#[cfg(test)]
mod tests {
    use super::link::{IFLA_XDP, IFLA_XDP_FD, RTM_SETLINK};
    use super::tc::TCA_BPF_NAME;
    use super::*;

    #[test]
    fn nested_attributes_are_aligned_and_their_lengths_patched() {
        let mut m = Message::new(RTM_SETLINK, 0, &ifinfomsg(7));
        let nest = m.begin_nest(IFLA_XDP);
        m.attr(IFLA_XDP_FD, &5i32.to_ne_bytes());
        m.attr_str(TCA_BPF_NAME, "ab");
        m.end_nest(nest);
        let bytes = m.finish();
        assert_eq!(bytes.len(), 16 + 16 + 4 + 8 + 8);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 52);
        assert_eq!(u32::from_ne_bytes(bytes[20..24].try_into().unwrap()), 7);
        let top = attrs(&bytes[32..]);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].0, IFLA_XDP);
        let inner = attrs(top[0].1);
        assert_eq!(inner[0], (IFLA_XDP_FD, &5i32.to_ne_bytes()[..]));
        assert_eq!(inner[1], (TCA_BPF_NAME, &b"ab\0"[..]));
    }

    #[test]
    fn an_ack_with_a_message_keeps_errno_and_text() {
        let mut body = (-libc::EOPNOTSUPP).to_ne_bytes().to_vec();
        body.extend_from_slice(&[0u8; 16]);
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        body.extend_from_slice(b"no\0\0");
        let e = ack_result("test", NLM_F_ACK_TLVS, &body).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EOPNOTSUPP));
        assert_eq!(e.message.as_deref(), Some("no"));
        assert!(ack_result("test", 0, &0i32.to_ne_bytes()).is_ok());
    }
}
