//! tc requests: the `clsact` qdisc and `cls_bpf` filters on its ingress and egress hooks.

use super::{attrs, tcmsg, u32_of, Message, NetlinkResult, RouteSocket};
use super::{NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REPLACE};

pub(super) const RTM_NEWQDISC: u16 = 36;
pub(super) const RTM_DELQDISC: u16 = 37;
pub(super) const RTM_NEWTFILTER: u16 = 44;
pub(super) const RTM_DELTFILTER: u16 = 45;
pub(super) const RTM_GETTFILTER: u16 = 46;
pub(super) const TCA_KIND: u16 = 1;
pub(super) const TCA_OPTIONS: u16 = 2;
pub(super) const TCA_BPF_FD: u16 = 6;
pub(super) const TCA_BPF_NAME: u16 = 7;
pub(super) const TCA_BPF_FLAGS: u16 = 8;
pub(super) const TCA_BPF_ID: u16 = 11;
pub(super) const TCA_BPF_TAG: u16 = 10;
/// `TCA_BPF_FLAG_ACT_DIRECT`: the classifier's return value is the tc action.
pub(super) const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;

/// `TC_H_CLSACT`: the parent of the clsact qdisc.
pub const TC_H_CLSACT: u32 = 0xffff_fff1;
/// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`: the ingress hook of clsact.
pub const TC_PARENT_INGRESS: u32 = 0xffff_fff2;
/// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)`: the egress hook of clsact.
pub const TC_PARENT_EGRESS: u32 = 0xffff_fff3;
/// `ETH_P_ALL` in network byte order, as tc filters' protocol.
pub(super) const ETH_P_ALL_BE: u16 = 0x0003u16.to_be();

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

impl RouteSocket {
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
}
