//! rtnetlink, written by hand: the XDP (`IFLA_XDP`) and tc (`clsact` qdisc, `cls_bpf`
//! filter) attachments that predate bpf links, for kernels without XDP links (5.9) or tcx
//! (6.6), and for programs attached by other tools.
//!
//! A request is one `struct nlmsghdr` + fixed header (`ifinfomsg` or `tcmsg`) + attributes
//! (`struct nlattr`, 4-byte aligned, nested ones flagged `NLA_F_NESTED`). Every request asks
//! for an ack; extended acks (`NETLINK_EXT_ACK`) bring the kernel's message, which
//! [`NetlinkError`] keeps.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const RTM_GETTFILTER: u16 = 46;

const RTM_DELLINK: u16 = 17;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_NETKIT_PEER_INFO: u16 = 1;
const IFLA_NETKIT_MODE: u16 = 5;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const RTA_ENCAP_TYPE: u16 = 21;
const RTA_ENCAP: u16 = 22;
/// `LWTUNNEL_ENCAP_BPF`.
const LWTUNNEL_ENCAP_BPF: u16 = 6;
const LWT_BPF_PROG_FD: u16 = 1;
const LWT_BPF_PROG_NAME: u16 = 2;
/// `RT_TABLE_MAIN`.
pub const RT_TABLE_MAIN: u32 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;

const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;
const IFLA_XDP_EXPECTED_FD: u16 = 8;

/// `XDP_FLAGS_UPDATE_IF_NOEXIST`: fail with EBUSY if a program is attached.
pub const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1;
/// `XDP_FLAGS_SKB_MODE`: generic XDP, after the skb is built (any device).
pub const XDP_FLAGS_SKB_MODE: u32 = 2;
/// `XDP_FLAGS_DRV_MODE`: in the driver, before skb allocation.
pub const XDP_FLAGS_DRV_MODE: u32 = 4;
/// `XDP_FLAGS_HW_MODE`: offloaded to the NIC.
pub const XDP_FLAGS_HW_MODE: u32 = 8;
/// `XDP_FLAGS_REPLACE`: replace only the program given as `IFLA_XDP_EXPECTED_FD` (5.7).
pub const XDP_FLAGS_REPLACE: u32 = 16;

const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_ID: u16 = 11;
const TCA_BPF_TAG: u16 = 10;
/// `TCA_BPF_FLAG_ACT_DIRECT`: the classifier's return value is the tc action.
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;

/// `TC_H_CLSACT`: the parent of the clsact qdisc.
pub const TC_H_CLSACT: u32 = 0xffff_fff1;
/// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`: the ingress hook of clsact.
pub const TC_PARENT_INGRESS: u32 = 0xffff_fff2;
/// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)`: the egress hook of clsact.
pub const TC_PARENT_EGRESS: u32 = 0xffff_fff3;
/// `ETH_P_ALL` in network byte order, as tc filters' protocol.
const ETH_P_ALL_BE: u16 = 0x0003u16.to_be();

/// A failed rtnetlink request: the errno and, when the kernel sent one, its extended-ack
/// message (`"Underlying driver does not support XDP in native mode"`).
#[derive(Debug, thiserror::Error)]
#[error("netlink {request}: {io_error}{}", .message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
pub struct NetlinkError {
    /// The request (`RTM_SETLINK IFLA_XDP`, ...).
    pub request: &'static str,
    /// The errno.
    #[source]
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
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> NetlinkResult<Self> {
        const REQUEST: &str = "socket(AF_NETLINK, NETLINK_ROUTE)";
        // SAFETY: plain socket(2) call.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(NetlinkError::io(REQUEST, io::Error::last_os_error()));
        }
        // SAFETY: a fresh fd nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
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

    fn request(
        &self,
        request: &'static str,
        message: Message,
        each: impl FnMut(u16, &[u8]),
    ) -> NetlinkResult<()> {
        self.send(request, &message.finish())?;
        self.receive(request, each)
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

/// The XDP programs attached to an interface, as `RTM_GETLINK` reports them (program ids,
/// 0 for none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpQuery {
    /// `IFLA_XDP_ATTACHED`: 0 none, 1 driver, 2 generic (skb), 3 offload, 4 several.
    pub attach_mode: u8,
    /// `IFLA_XDP_PROG_ID`: the program when exactly one is attached.
    pub prog_id: u32,
    /// `IFLA_XDP_DRV_PROG_ID`.
    pub drv_prog_id: u32,
    /// `IFLA_XDP_SKB_PROG_ID`.
    pub skb_prog_id: u32,
    /// `IFLA_XDP_HW_PROG_ID`.
    pub hw_prog_id: u32,
}

/// A `cls_bpf` filter's place: interface, clsact hook, priority and handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcFilterId {
    /// The interface.
    pub ifindex: u32,
    /// [`TC_PARENT_INGRESS`] or [`TC_PARENT_EGRESS`].
    pub parent: u32,
    /// The filter priority (1..=0xffff).
    pub priority: u16,
    /// The filter handle.
    pub handle: u32,
}

/// One tc filter found by [`RouteSocket::tc_filter_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcFilter {
    /// Where it is.
    pub id: TcFilterId,
    /// `TCA_KIND`: `bpf` for `cls_bpf`; the fields below are only set for it.
    pub kind: String,
    /// `TCA_BPF_ID`: the program id.
    pub prog_id: u32,
    /// `TCA_BPF_NAME`.
    pub name: String,
    /// `TCA_BPF_FLAGS` has direct-action.
    pub direct_action: bool,
    /// `TCA_BPF_TAG`.
    pub tag: Vec<u8>,
}

/// An IPv4 route carrying a BPF light-weight tunnel encap (`ip route add PREFIX encap bpf
/// xmit ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LwtRoute {
    /// Destination prefix address (host order).
    pub dst: u32,
    /// Prefix length.
    pub prefix_len: u8,
    /// Output interface.
    pub ifindex: u32,
    /// Next hop (host order), 0 for an on-link route.
    pub gateway: u32,
    /// Routing table (`RT_TABLE_MAIN` is 254).
    pub table: u32,
}

/// `LWT_BPF_IN` (1), `LWT_BPF_OUT` (2) or `LWT_BPF_XMIT` (3): where on the route the
/// program runs.
pub type LwtHook = u16;

impl RouteSocket {
    /// `RTM_SETLINK` with `IFLA_XDP`: attach `prog_fd` (or detach, with -1) in the mode the
    /// `XDP_FLAGS_*` say; with `expected_fd` (and `XDP_FLAGS_REPLACE`), only over that program.
    pub fn xdp_set(
        &self,
        ifindex: u32,
        prog_fd: i32,
        flags: u32,
        expected_fd: Option<i32>,
    ) -> NetlinkResult<()> {
        const REQUEST: &str = "RTM_SETLINK IFLA_XDP";
        let mut m = Message::new(RTM_SETLINK, 0, &ifinfomsg(ifindex));
        let nest = m.begin_nest(IFLA_XDP);
        m.attr(IFLA_XDP_FD, &prog_fd.to_ne_bytes());
        let mut flags = flags;
        if let Some(expected) = expected_fd {
            flags |= XDP_FLAGS_REPLACE;
            m.attr(IFLA_XDP_EXPECTED_FD, &expected.to_ne_bytes());
        }
        if flags != 0 {
            m.attr_u32(IFLA_XDP_FLAGS, flags);
        }
        m.end_nest(nest);
        self.request(REQUEST, m, |_, _| {})
    }

    /// `RTM_GETLINK` of one interface: its XDP programs.
    pub fn xdp_query(&self, ifindex: u32) -> NetlinkResult<XdpQuery> {
        const REQUEST: &str = "RTM_GETLINK";
        let m = Message::new(RTM_GETLINK, 0, &ifinfomsg(ifindex));
        let mut query = XdpQuery::default();
        self.request(REQUEST, m, |msg_type, body| {
            if msg_type != RTM_NEWLINK || body.len() < 16 {
                return;
            }
            for (kind, payload) in attrs(&body[16..]) {
                if kind != IFLA_XDP {
                    continue;
                }
                for (k, v) in attrs(payload) {
                    let value = u32_of(v).unwrap_or(0);
                    match k {
                        IFLA_XDP_ATTACHED => query.attach_mode = v.first().copied().unwrap_or(0),
                        IFLA_XDP_PROG_ID => query.prog_id = value,
                        IFLA_XDP_DRV_PROG_ID => query.drv_prog_id = value,
                        IFLA_XDP_SKB_PROG_ID => query.skb_prog_id = value,
                        IFLA_XDP_HW_PROG_ID => query.hw_prog_id = value,
                        _ => {}
                    }
                }
            }
        })?;
        Ok(query)
    }

    /// `RTM_NEWQDISC` of a `clsact` qdisc on `ifindex`. Returns `false` if one was there already.
    pub fn clsact_create(&self, ifindex: u32) -> NetlinkResult<bool> {
        const REQUEST: &str = "RTM_NEWQDISC clsact";
        let mut m = Message::new(
            RTM_NEWQDISC,
            NLM_F_CREATE | NLM_F_EXCL,
            &tcmsg(ifindex, 0xffff_0000, TC_H_CLSACT, 0),
        );
        m.attr_str(TCA_KIND, "clsact");
        match self.request(REQUEST, m, |_, _| {}) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `RTM_DELQDISC` of the `clsact` qdisc on `ifindex` (removing every filter on it).
    pub fn clsact_destroy(&self, ifindex: u32) -> NetlinkResult<()> {
        const REQUEST: &str = "RTM_DELQDISC clsact";
        let mut m = Message::new(
            RTM_DELQDISC,
            0,
            &tcmsg(ifindex, 0xffff_0000, TC_H_CLSACT, 0),
        );
        m.attr_str(TCA_KIND, "clsact");
        self.request(REQUEST, m, |_, _| {})
    }

    /// `RTM_NEWTFILTER` of a `cls_bpf` filter running `prog_fd`. Priority or handle 0 let the
    /// kernel choose; the returned id has the values it chose. `replace` overwrites a filter
    /// with the same priority and handle instead of failing with EEXIST.
    pub fn tc_filter_create(
        &self,
        id: TcFilterId,
        prog_fd: i32,
        name: &str,
        direct_action: bool,
        replace: bool,
    ) -> NetlinkResult<TcFilterId> {
        const REQUEST: &str = "RTM_NEWTFILTER bpf";
        let flags = NLM_F_CREATE | NLM_F_ECHO | if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
        let info = (u32::from(id.priority) << 16) | u32::from(ETH_P_ALL_BE);
        let mut m = Message::new(
            RTM_NEWTFILTER,
            flags,
            &tcmsg(id.ifindex, id.handle, id.parent, info),
        );
        m.attr_str(TCA_KIND, "bpf");
        let nest = m.begin_nest(TCA_OPTIONS);
        m.attr(TCA_BPF_FD, &prog_fd.to_ne_bytes());
        m.attr_str(TCA_BPF_NAME, name);
        if direct_action {
            m.attr_u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
        }
        m.end_nest(nest);
        let mut made = id;
        self.request(REQUEST, m, |msg_type, body| {
            if msg_type == RTM_NEWTFILTER && body.len() >= 20 {
                made.handle = u32_of(&body[8..12]).unwrap_or(made.handle);
                made.priority = (u32_of(&body[16..20]).unwrap_or(0) >> 16) as u16;
            }
        })?;
        Ok(made)
    }

    /// `RTM_DELTFILTER` of one `cls_bpf` filter.
    pub fn tc_filter_destroy(&self, id: TcFilterId) -> NetlinkResult<()> {
        const REQUEST: &str = "RTM_DELTFILTER bpf";
        let info = (u32::from(id.priority) << 16) | u32::from(ETH_P_ALL_BE);
        let mut m = Message::new(
            RTM_DELTFILTER,
            0,
            &tcmsg(id.ifindex, id.handle, id.parent, info),
        );
        m.attr_str(TCA_KIND, "bpf");
        self.request(REQUEST, m, |_, _| {})
    }

    /// `RTM_GETTFILTER` dump: the `cls_bpf` filters on one clsact hook (an empty list if the
    /// interface has no clsact qdisc).
    pub fn tc_filter_list(&self, ifindex: u32, parent: u32) -> NetlinkResult<Vec<TcFilter>> {
        const REQUEST: &str = "RTM_GETTFILTER dump";
        let m = Message::new(RTM_GETTFILTER, NLM_F_DUMP, &tcmsg(ifindex, 0, parent, 0));
        let mut out = Vec::new();
        let result = self.request(REQUEST, m, |msg_type, body| {
            if msg_type != RTM_NEWTFILTER || body.len() < 20 {
                return;
            }
            let handle = u32_of(&body[8..12]).unwrap_or(0);
            let info = u32_of(&body[16..20]).unwrap_or(0);
            let attributes = attrs(&body[20..]);
            let kind = attributes
                .iter()
                .find(|(k, _)| *k == TCA_KIND)
                .map(|(_, v)| String::from_utf8_lossy(v).trim_end_matches('\0').to_owned())
                .unwrap_or_default();
            // The first message of each priority announces the chain (handle 0, no options).
            if handle == 0 {
                return;
            }
            let mut filter = TcFilter {
                id: TcFilterId {
                    ifindex,
                    parent,
                    priority: (info >> 16) as u16,
                    handle,
                },
                prog_id: 0,
                kind,
                name: String::new(),
                direct_action: false,
                tag: Vec::new(),
            };
            for (k, v) in attributes {
                if k != TCA_OPTIONS || filter.kind != "bpf" {
                    continue;
                }
                for (k, v) in attrs(v) {
                    match k {
                        TCA_BPF_ID => filter.prog_id = u32_of(v).unwrap_or(0),
                        TCA_BPF_NAME => {
                            filter.name =
                                String::from_utf8_lossy(v).trim_end_matches('\0').to_owned()
                        }
                        TCA_BPF_FLAGS => {
                            filter.direct_action =
                                u32_of(v).unwrap_or(0) & TCA_BPF_FLAG_ACT_DIRECT != 0
                        }
                        TCA_BPF_TAG => filter.tag = v.to_vec(),
                        _ => {}
                    }
                }
            }
            out.push(filter);
        });
        match result {
            Ok(()) => Ok(out),
            // No qdisc: nothing is attached.
            Err(e) if matches!(e.errno(), Some(libc::EINVAL | libc::ENOENT)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn route_message(msg_type: u16, flags: u16, route: &LwtRoute) -> Message {
        let mut rtmsg = [0u8; 12];
        rtmsg[0] = libc::AF_INET as u8;
        rtmsg[1] = route.prefix_len;
        rtmsg[4] = if route.table < 256 {
            route.table as u8
        } else {
            0
        };
        rtmsg[5] = RTPROT_STATIC;
        rtmsg[6] = if route.gateway == 0 {
            RT_SCOPE_LINK
        } else {
            RT_SCOPE_UNIVERSE
        };
        rtmsg[7] = RTN_UNICAST;
        let mut m = Message::new(msg_type, flags, &rtmsg);
        m.attr(RTA_DST, &route.dst.to_be_bytes());
        m.attr_u32(RTA_OIF, route.ifindex);
        if route.gateway != 0 {
            m.attr(RTA_GATEWAY, &route.gateway.to_be_bytes());
        }
        m.attr_u32(RTA_TABLE, route.table);
        m
    }

    /// `RTM_NEWROUTE` of `route` with a BPF encap running `prog_fd` (named `name`) at `hook`;
    /// `replace` overwrites an existing route to the same prefix.
    pub fn lwt_route_create(
        &self,
        route: &LwtRoute,
        hook: LwtHook,
        prog_fd: i32,
        name: &str,
        replace: bool,
    ) -> NetlinkResult<()> {
        const REQUEST: &str = "RTM_NEWROUTE encap bpf";
        let flags = NLM_F_CREATE | if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
        let mut m = Self::route_message(RTM_NEWROUTE, flags, route);
        m.attr(RTA_ENCAP_TYPE, &LWTUNNEL_ENCAP_BPF.to_ne_bytes());
        let encap = m.begin_nest(RTA_ENCAP);
        let prog = m.begin_nest(hook);
        m.attr(LWT_BPF_PROG_FD, &prog_fd.to_ne_bytes());
        m.attr_str(LWT_BPF_PROG_NAME, name);
        m.end_nest(prog);
        m.end_nest(encap);
        self.request(REQUEST, m, |_, _| {})
    }

    /// `RTM_DELROUTE` of `route`.
    pub fn route_destroy(&self, route: &LwtRoute) -> NetlinkResult<()> {
        const REQUEST: &str = "RTM_DELROUTE";
        let m = Self::route_message(RTM_DELROUTE, 0, route);
        self.request(REQUEST, m, |_, _| {})
    }

    /// `RTM_NEWLINK` of a netkit pair (Linux 6.7, `CONFIG_NETKIT`): `primary` here, `peer` in
    /// the network namespace open as `peer_netns` (here when `None`); `l2` picks
    /// `NETKIT_L2` over `NETKIT_L3`. EOPNOTSUPP on kernels without netkit.
    pub fn netkit_create(
        &self,
        primary: &str,
        peer: &str,
        peer_netns: Option<std::os::fd::BorrowedFd<'_>>,
        l2: bool,
    ) -> NetlinkResult<()> {
        const REQUEST: &str = "RTM_NEWLINK netkit";
        let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifinfomsg(0));
        m.attr_str(IFLA_IFNAME, primary);
        let info = m.begin_nest(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "netkit");
        let data = m.begin_nest(IFLA_INFO_DATA);
        // The peer: a `struct ifinfomsg` followed by its own attributes.
        let peer_info = m.begin_nest(IFLA_NETKIT_PEER_INFO);
        m.buf.extend_from_slice(&ifinfomsg(0));
        m.attr_str(IFLA_IFNAME, peer);
        if let Some(ns) = peer_netns {
            m.attr_u32(IFLA_NET_NS_FD, ns.as_raw_fd() as u32);
        }
        m.end_nest(peer_info);
        m.attr_u32(IFLA_NETKIT_MODE, u32::from(l2));
        m.end_nest(data);
        m.end_nest(info);
        self.request(REQUEST, m, |_, _| {})
    }

    /// `RTM_DELLINK` of interface `ifindex` (a netkit or veth pair goes with its peer).
    pub fn link_delete(&self, ifindex: u32) -> NetlinkResult<()> {
        const REQUEST: &str = "RTM_DELLINK";
        let m = Message::new(RTM_DELLINK, 0, &ifinfomsg(ifindex));
        self.request(REQUEST, m, |_, _| {})
    }
}

#[cfg(test)]
mod tests {
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
