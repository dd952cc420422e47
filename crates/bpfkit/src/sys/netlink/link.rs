//! Link requests: XDP on an interface (`IFLA_XDP`), netkit pairs, deleting links.

use std::os::fd::AsRawFd;

use super::{attrs, ifinfomsg, u32_of, Message, NetlinkResult, RouteSocket};
use super::{NLM_F_CREATE, NLM_F_EXCL};

pub(super) const RTM_NEWLINK: u16 = 16;
pub(super) const RTM_GETLINK: u16 = 18;
pub(super) const RTM_SETLINK: u16 = 19;
pub(super) const RTM_DELLINK: u16 = 17;
pub(super) const IFLA_IFNAME: u16 = 3;
pub(super) const IFLA_LINKINFO: u16 = 18;
pub(super) const IFLA_NET_NS_FD: u16 = 28;
pub(super) const IFLA_INFO_KIND: u16 = 1;
pub(super) const IFLA_INFO_DATA: u16 = 2;
pub(super) const IFLA_NETKIT_PEER_INFO: u16 = 1;
pub(super) const IFLA_NETKIT_MODE: u16 = 5;
pub(super) const IFLA_XDP: u16 = 43;
pub(super) const IFLA_XDP_FD: u16 = 1;
pub(super) const IFLA_XDP_ATTACHED: u16 = 2;
pub(super) const IFLA_XDP_FLAGS: u16 = 3;
pub(super) const IFLA_XDP_PROG_ID: u16 = 4;
pub(super) const IFLA_XDP_DRV_PROG_ID: u16 = 5;
pub(super) const IFLA_XDP_SKB_PROG_ID: u16 = 6;
pub(super) const IFLA_XDP_HW_PROG_ID: u16 = 7;
pub(super) const IFLA_XDP_EXPECTED_FD: u16 = 8;

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
        self.pair_create(
            "RTM_NEWLINK netkit",
            "netkit",
            primary,
            peer,
            peer_netns,
            |m| m.attr_u32(IFLA_NETKIT_MODE, u32::from(l2)),
        )
    }

    /// `RTM_NEWLINK` of a veth pair: `name` here, `peer` in the namespace open as
    /// `peer_netns` (here when `None`). The same peer encoding as netkit's.
    pub fn veth_create(
        &self,
        name: &str,
        peer: &str,
        peer_netns: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> NetlinkResult<()> {
        self.pair_create("RTM_NEWLINK veth", "veth", name, peer, peer_netns, |_| {})
    }

    /// A device pair of `kind` whose `IFLA_INFO_DATA` starts with the peer (attribute 1:
    /// `VETH_INFO_PEER`, `IFLA_NETKIT_PEER_INFO`), then what `extra` adds.
    fn pair_create(
        &self,
        request: &'static str,
        kind: &str,
        name: &str,
        peer: &str,
        peer_netns: Option<std::os::fd::BorrowedFd<'_>>,
        extra: impl FnOnce(&mut Message),
    ) -> NetlinkResult<()> {
        let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifinfomsg(0));
        m.attr_str(IFLA_IFNAME, name);
        let info = m.begin_nest(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, kind);
        let data = m.begin_nest(IFLA_INFO_DATA);
        // The peer: a `struct ifinfomsg` followed by its own attributes.
        let peer_info = m.begin_nest(IFLA_NETKIT_PEER_INFO);
        m.buf.extend_from_slice(&ifinfomsg(0));
        m.attr_str(IFLA_IFNAME, peer);
        if let Some(ns) = peer_netns {
            m.attr_u32(IFLA_NET_NS_FD, ns.as_raw_fd() as u32);
        }
        m.end_nest(peer_info);
        extra(&mut m);
        m.end_nest(data);
        m.end_nest(info);
        self.request(request, m, |_, _| {})
    }

    /// `RTM_DELLINK` of interface `ifindex` (a netkit or veth pair goes with its peer).
    pub fn link_delete(&self, ifindex: u32) -> NetlinkResult<()> {
        const REQUEST: &str = "RTM_DELLINK";
        let m = Message::new(RTM_DELLINK, 0, &ifinfomsg(ifindex));
        self.request(REQUEST, m, |_, _| {})
    }
}
