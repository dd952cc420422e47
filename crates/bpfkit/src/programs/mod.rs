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
//!
//! [`auto::attach`] attaches any program the way its section name says.

pub mod auto;
mod error;
pub mod extension;
pub mod iter;
pub mod kprobe;
pub mod lsm;
mod perf_attach;
pub mod perf_event;
pub mod raw_tracepoint;
pub mod socket_filter;
pub mod syscall;
pub mod tracepoint;
pub mod tracing;
pub mod uprobe;
pub mod usdt;

pub use error::AttachError;

use crate::features::Feature;
use crate::sys::uapi;

macro_rules! program_types {
    ($($(#[$doc:meta])* $variant:ident = $number:expr, $kname:literal, $alias:literal, $since:literal;)*) => {
        /// A program type (`enum bpf_prog_type`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ProgramType {
            $($(#[$doc])* #[doc = concat!("`BPF_PROG_TYPE_", $kname, "` (Linux ", $since, ").")]
            #[doc(alias = $alias)]
            $variant,)*
        }

        impl ProgramType {
            /// Every program type bpfkit knows.
            pub const ALL: &'static [ProgramType] = &[$(Self::$variant),*];

            /// The `enum bpf_prog_type` number.
            pub fn number(self) -> u32 {
                match self { $(Self::$variant => $number),* }
            }

            /// The type for a kernel number, if bpfkit knows it.
            pub fn from_number(number: u32) -> Option<Self> {
                match number { $(n if n == $number => Some(Self::$variant),)* _ => None }
            }

            /// The kernel's name without prefix, e.g. `SOCKET_FILTER`.
            pub fn kernel_name(self) -> &'static str {
                match self { $(Self::$variant => $kname),* }
            }

            /// The feature "program type X" with the first kernel that has it.
            pub fn feature(self) -> Feature {
                match self {
                    $(Self::$variant => Feature {
                        name: concat!("program type ", $kname),
                        since: $since,
                    }),*
                }
            }
        }
    };
}

program_types! {
    SocketFilter = uapi::BPF_PROG_TYPE_SOCKET_FILTER, "SOCKET_FILTER", "BPF_PROG_TYPE_SOCKET_FILTER", "3.19";
    Kprobe = uapi::BPF_PROG_TYPE_KPROBE, "KPROBE", "BPF_PROG_TYPE_KPROBE", "4.1";
    SchedCls = uapi::BPF_PROG_TYPE_SCHED_CLS, "SCHED_CLS", "BPF_PROG_TYPE_SCHED_CLS", "4.1";
    SchedAct = uapi::BPF_PROG_TYPE_SCHED_ACT, "SCHED_ACT", "BPF_PROG_TYPE_SCHED_ACT", "4.1";
    Tracepoint = uapi::BPF_PROG_TYPE_TRACEPOINT, "TRACEPOINT", "BPF_PROG_TYPE_TRACEPOINT", "4.7";
    Xdp = uapi::BPF_PROG_TYPE_XDP, "XDP", "BPF_PROG_TYPE_XDP", "4.8";
    PerfEvent = uapi::BPF_PROG_TYPE_PERF_EVENT, "PERF_EVENT", "BPF_PROG_TYPE_PERF_EVENT", "4.9";
    CgroupSkb = uapi::BPF_PROG_TYPE_CGROUP_SKB, "CGROUP_SKB", "BPF_PROG_TYPE_CGROUP_SKB", "4.10";
    CgroupSock = uapi::BPF_PROG_TYPE_CGROUP_SOCK, "CGROUP_SOCK", "BPF_PROG_TYPE_CGROUP_SOCK", "4.10";
    LwtIn = uapi::BPF_PROG_TYPE_LWT_IN, "LWT_IN", "BPF_PROG_TYPE_LWT_IN", "4.10";
    LwtOut = uapi::BPF_PROG_TYPE_LWT_OUT, "LWT_OUT", "BPF_PROG_TYPE_LWT_OUT", "4.10";
    LwtXmit = uapi::BPF_PROG_TYPE_LWT_XMIT, "LWT_XMIT", "BPF_PROG_TYPE_LWT_XMIT", "4.10";
    SockOps = uapi::BPF_PROG_TYPE_SOCK_OPS, "SOCK_OPS", "BPF_PROG_TYPE_SOCK_OPS", "4.13";
    SkSkb = uapi::BPF_PROG_TYPE_SK_SKB, "SK_SKB", "BPF_PROG_TYPE_SK_SKB", "4.14";
    CgroupDevice = uapi::BPF_PROG_TYPE_CGROUP_DEVICE, "CGROUP_DEVICE", "BPF_PROG_TYPE_CGROUP_DEVICE", "4.15";
    SkMsg = uapi::BPF_PROG_TYPE_SK_MSG, "SK_MSG", "BPF_PROG_TYPE_SK_MSG", "4.17";
    RawTracepoint = uapi::BPF_PROG_TYPE_RAW_TRACEPOINT, "RAW_TRACEPOINT", "BPF_PROG_TYPE_RAW_TRACEPOINT", "4.17";
    CgroupSockAddr = uapi::BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "CGROUP_SOCK_ADDR", "BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "4.17";
    LwtSeg6local = uapi::BPF_PROG_TYPE_LWT_SEG6LOCAL, "LWT_SEG6LOCAL", "BPF_PROG_TYPE_LWT_SEG6LOCAL", "4.18";
    LircMode2 = uapi::BPF_PROG_TYPE_LIRC_MODE2, "LIRC_MODE2", "BPF_PROG_TYPE_LIRC_MODE2", "4.18";
    SkReuseport = uapi::BPF_PROG_TYPE_SK_REUSEPORT, "SK_REUSEPORT", "BPF_PROG_TYPE_SK_REUSEPORT", "4.19";
    FlowDissector = uapi::BPF_PROG_TYPE_FLOW_DISSECTOR, "FLOW_DISSECTOR", "BPF_PROG_TYPE_FLOW_DISSECTOR", "4.20";
    CgroupSysctl = uapi::BPF_PROG_TYPE_CGROUP_SYSCTL, "CGROUP_SYSCTL", "BPF_PROG_TYPE_CGROUP_SYSCTL", "5.2";
    RawTracepointWritable = uapi::BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, "RAW_TRACEPOINT_WRITABLE", "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE", "5.2";
    CgroupSockopt = uapi::BPF_PROG_TYPE_CGROUP_SOCKOPT, "CGROUP_SOCKOPT", "BPF_PROG_TYPE_CGROUP_SOCKOPT", "5.3";
    Tracing = uapi::BPF_PROG_TYPE_TRACING, "TRACING", "BPF_PROG_TYPE_TRACING", "5.5";
    StructOps = uapi::BPF_PROG_TYPE_STRUCT_OPS, "STRUCT_OPS", "BPF_PROG_TYPE_STRUCT_OPS", "5.6";
    Ext = uapi::BPF_PROG_TYPE_EXT, "EXT", "BPF_PROG_TYPE_EXT", "5.6";
    Lsm = uapi::BPF_PROG_TYPE_LSM, "LSM", "BPF_PROG_TYPE_LSM", "5.7";
    SkLookup = uapi::BPF_PROG_TYPE_SK_LOOKUP, "SK_LOOKUP", "BPF_PROG_TYPE_SK_LOOKUP", "5.9";
    Syscall = uapi::BPF_PROG_TYPE_SYSCALL, "SYSCALL", "BPF_PROG_TYPE_SYSCALL", "5.14";
    Netfilter = 32, "NETFILTER", "BPF_PROG_TYPE_NETFILTER", "6.4";
}

impl ProgramType {
    /// Whether loading needs an attach target (`attach_btf_id`): tracing, ext, LSM, struct_ops.
    pub fn needs_attach_target(self) -> bool {
        matches!(
            self,
            Self::Tracing | Self::Ext | Self::Lsm | Self::StructOps
        )
    }

    /// The expected attach type a probe load of this type needs (0 where any will do).
    pub(crate) fn probe_attach_type(self) -> u32 {
        match self {
            Self::CgroupSockAddr => uapi::BPF_CGROUP_INET4_CONNECT,
            Self::SkLookup => uapi::BPF_SK_LOOKUP,
            Self::CgroupSockopt => uapi::BPF_CGROUP_GETSOCKOPT,
            Self::Lsm => uapi::BPF_LSM_MAC,
            Self::Tracing => uapi::BPF_TRACE_FENTRY,
            Self::Netfilter => 45, // BPF_NETFILTER (Linux 6.4), beyond the 6.1 header
            _ => 0,
        }
    }
}

impl std::fmt::Display for ProgramType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kernel_name())
    }
}
