//! Program types, named as the kernel names them (`enum bpf_prog_type`), and one attach module
//! per type; each `attach(...)` returns a [`Link`](crate::links::Link).
//!
//! | module | sections | how |
//! |---|---|---|
//! | [`tracepoint`] | `tracepoint/`, `tp/` | perf event + perf link (ioctl fallback) |
//! | [`raw_tracepoint`] | `raw_tp/`, `raw_tp.w/` | `BPF_RAW_TRACEPOINT_OPEN` |
//! | [`tracing`] | `tp_btf/`, `fentry/`, `fexit/`, `fmod_ret/` | tracing link on `attach_btf_id` |
//! | [`lsm`] | `lsm/` | tracing link on the LSM hook |
//! | [`kprobe`] | `kprobe/`, `kretprobe/`, `ksyscall/`, `kprobe.multi/` | kprobe PMU, tracefs, kprobe_multi link |
//! | [`perf_event`] | `perf_event` | sampling perf events per CPU |
//! | [`iter`] | `iter/` | iterator link, readable iterator fds |
//! | [`syscall`] | `syscall` | run with `BPF_PROG_TEST_RUN` |
//! | [`socket_filter`] | `socket` | `SO_ATTACH_BPF` |
//! | [`cgroup`] | `cgroup_skb/`, `cgroup/…`, `sockops` | cgroup link, or `BPF_PROG_ATTACH` with multi/override |
//! | [`lwt`] | `lwt_in`, `lwt_out`, `lwt_xmit` | a route with a BPF encap (rtnetlink) |
//! | [`netfilter`] | `netfilter` | netfilter link: family, hook, priority, defrag |
//! | [`netkit`] | `netkit/primary`, `netkit/peer` | netkit link (before/after, revision) |
//! | [`netns`] | `sk_lookup`, `flow_dissector` | netns link |
//! | [`sock_map`] | `sk_msg`, `sk_skb/…` | `BPF_PROG_ATTACH` to a sockmap/sockhash, or a sockmap link |
//! | [`sk_reuseport`] | `sk_reuseport` | `SO_ATTACH_REUSEPORT_EBPF` |
//! | [`tc`] | `tc`, `tcx/ingress`, `tcx/egress`, `classifier` | tcx link (before/after, revision), netlink `cls_bpf` fallback |
//! | [`xdp`] | `xdp`, `xdp.frags` | XDP link on an interface, rtnetlink `IFLA_XDP` fallback |
//!
//! [`auto::attach`] attaches any program the way its section name says.

pub mod auto;
pub mod cgroup;
mod error;
pub mod extension;
mod interface;
pub mod iter;
pub mod kprobe;
pub mod lsm;
pub mod lwt;
pub mod netfilter;
pub mod netkit;
pub mod netns;
mod perf_attach;
pub mod perf_event;
pub mod proc_maps;
mod prog_attach;
pub mod raw_tracepoint;
pub mod sk_reuseport;
pub mod sock_map;
pub mod socket_filter;
pub mod syscall;
pub mod tc;
pub mod tracepoint;
pub mod tracing;
pub mod uprobe;
pub mod usdt;
pub mod xdp;

pub use error::AttachError;
pub use interface::{Interface, QueryError};

pub use bpfkit_obj::object::ProgramType;

use std::sync::OnceLock;

use crate::features::Feature;
use crate::sys::uapi;

/// Runtime facts about a [`ProgramType`] that the object crate does not carry.
pub trait ProgramTypeExt: Copy {
    /// The `enum bpf_prog_type` number.
    fn number(self) -> u32;
    /// The type for a kernel number, if bpfkit knows it.
    fn from_number(number: u32) -> Option<Self>;
    /// The feature "program type X" with the first kernel that has it.
    fn feature(self) -> Feature;
    /// Whether loading needs an attach target (`attach_btf_id`): tracing, ext, LSM, struct_ops.
    fn needs_attach_target(self) -> bool;
}

impl ProgramTypeExt for ProgramType {
    fn number(self) -> u32 {
        self as u32
    }

    fn from_number(number: u32) -> Option<Self> {
        ProgramType::from_u32(number)
    }

    fn feature(self) -> Feature {
        Feature {
            name: feature_name(self),
            since: first_kernel(self),
        }
    }

    fn needs_attach_target(self) -> bool {
        matches!(
            self,
            ProgramType::Tracing | ProgramType::Ext | ProgramType::Lsm | ProgramType::StructOps
        )
    }
}

/// The expected attach type a probe load of this type needs (0 where any will do).
pub(crate) fn probe_attach_type(t: ProgramType) -> u32 {
    match t {
        ProgramType::CgroupSockAddr => uapi::BPF_CGROUP_INET4_CONNECT,
        ProgramType::SkLookup => uapi::BPF_SK_LOOKUP,
        ProgramType::CgroupSockopt => uapi::BPF_CGROUP_GETSOCKOPT,
        ProgramType::Lsm => uapi::BPF_LSM_MAC,
        ProgramType::Tracing => uapi::BPF_TRACE_FENTRY,
        ProgramType::Netfilter => uapi::BPF_NETFILTER,
        _ => 0,
    }
}

/// `"program type SOCKET_FILTER"`, built once from the kernel names bpfkit-obj holds.
fn feature_name(t: ProgramType) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ProgramType::ALL
            .iter()
            .map(|t| format!("program type {}", t.kernel_name().to_ascii_uppercase()))
            .collect()
    });
    ProgramType::ALL
        .iter()
        .position(|&x| x == t)
        .and_then(|i| names.get(i))
        .map_or("program type", String::as_str)
}

/// The first Linux release with the program type.
fn first_kernel(t: ProgramType) -> &'static str {
    use ProgramType::*;
    match t {
        Unspec | SocketFilter => "3.19",
        Kprobe | SchedCls | SchedAct => "4.1",
        Tracepoint => "4.7",
        Xdp => "4.8",
        PerfEvent => "4.9",
        CgroupSkb | CgroupSock | LwtIn | LwtOut | LwtXmit => "4.10",
        SockOps => "4.13",
        SkSkb => "4.14",
        CgroupDevice => "4.15",
        SkMsg | RawTracepoint | CgroupSockAddr => "4.17",
        LwtSeg6local | LircMode2 => "4.18",
        SkReuseport => "4.19",
        FlowDissector => "4.20",
        CgroupSysctl | RawTracepointWritable => "5.2",
        CgroupSockopt => "5.3",
        Tracing => "5.5",
        StructOps | Ext => "5.6",
        Lsm => "5.7",
        SkLookup => "5.9",
        Syscall => "5.14",
        Netfilter => "6.4",
    }
}
