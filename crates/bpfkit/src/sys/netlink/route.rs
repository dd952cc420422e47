//! Route requests: IPv4 routes with a BPF light-weight tunnel encap.

use super::{Message, NetlinkResult, RouteSocket};
use super::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};

pub(super) const RTM_NEWROUTE: u16 = 24;
pub(super) const RTM_DELROUTE: u16 = 25;
pub(super) const RTA_DST: u16 = 1;
pub(super) const RTA_OIF: u16 = 4;
pub(super) const RTA_GATEWAY: u16 = 5;
pub(super) const RTA_TABLE: u16 = 15;
pub(super) const RTA_ENCAP_TYPE: u16 = 21;
pub(super) const RTA_ENCAP: u16 = 22;
/// `LWTUNNEL_ENCAP_BPF`.
pub(super) const LWTUNNEL_ENCAP_BPF: u16 = 6;
pub(super) const LWT_BPF_PROG_FD: u16 = 1;
pub(super) const LWT_BPF_PROG_NAME: u16 = 2;
/// `RT_TABLE_MAIN`.
pub const RT_TABLE_MAIN: u32 = 254;
pub(super) const RTPROT_STATIC: u8 = 4;
pub(super) const RT_SCOPE_UNIVERSE: u8 = 0;
pub(super) const RT_SCOPE_LINK: u8 = 253;
pub(super) const RTN_UNICAST: u8 = 1;

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
}
