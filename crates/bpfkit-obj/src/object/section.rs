//! Section names → program type, expected attach type and attach target (libbpf's convention).
//!
//! A program's ELF section name says what it is: `SEC("tp/syscalls/sys_enter_execve")` is a
//! [`ProgramType::Tracepoint`] attached to `syscalls/sys_enter_execve`. The table below
//! follows libbpf's `section_defs`, first match wins, so the same object means the same thing
//! to bpfkit and to libbpf. A name that matches nothing is not an error here: the program gets
//! [`ProgramType::Unspec`] and loading it fails with an error naming the section.

use super::kinds::{AttachType, ProgramType};

/// How a table entry's prefix matches a section name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Match {
    /// The whole name equals the prefix (`"tc"`).
    Exact,
    /// The name equals the prefix or continues with `/` and a target (`"kprobe/do_exit"`).
    WithTarget,
}

/// What libbpf does when it attaches a program of a section kind on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AutoAttach {
    /// No automatic attachment: the caller attaches explicitly (tc, xdp, cgroup, ...).
    None,
    /// kprobe/kretprobe, with the function (and optional `+offset`) as target.
    Kprobe,
    /// uprobe/uretprobe, with `binary:function[+offset]` as target.
    Uprobe,
    /// ksyscall/kretsyscall, with the syscall name as target.
    Ksyscall,
    /// USDT, with `binary:provider:name` as target.
    Usdt,
    /// Tracepoint, with `category/name` as target.
    Tracepoint,
    /// Raw tracepoint, with the tracepoint name as target.
    RawTracepoint,
    /// BTF-typed tracing (tp_btf, fentry, fexit, fmod_ret, freplace) through a link.
    Trace,
    /// kprobe.multi/kretprobe.multi, with a glob pattern as target.
    KprobeMulti,
    /// kprobe.session, with a glob pattern as target.
    KprobeSession,
    /// uprobe.multi/uretprobe.multi/uprobe.session, with `binary:pattern` as target.
    UprobeMulti,
    /// BPF LSM, with the hook name as target.
    Lsm,
    /// BPF iterator, with the iterator name as target.
    Iter,
}

/// One row of the section table.
#[derive(Clone, Copy, Debug)]
struct SectionDef {
    prefix: &'static str,
    matching: Match,
    program_type: ProgramType,
    attach_type: Option<AttachType>,
    flags: u8,
    auto_attach: AutoAttach,
}

const NONE: u8 = 0;
/// The expected attach type may be dropped on kernels that do not know it.
const ATTACH_OPTIONAL: u8 = 1;
/// The target is found through a BTF id (fentry, lsm, iter, ...).
const ATTACH_BTF: u8 = 2;
/// The program may sleep (`BPF_F_SLEEPABLE`).
const SLEEPABLE: u8 = 4;
/// The XDP program handles multi-buffer packets (`BPF_F_XDP_HAS_FRAGS`).
const XDP_FRAGS: u8 = 8;
/// USDT: the loader may switch the attach type to `uprobe_multi` where supported.
const USDT: u8 = 16;

macro_rules! def {
    ($prefix:literal, $m:ident, $pt:ident, $at:expr, $flags:expr, $auto:ident) => {
        SectionDef {
            prefix: $prefix,
            matching: Match::$m,
            program_type: ProgramType::$pt,
            attach_type: $at,
            flags: $flags,
            auto_attach: AutoAttach::$auto,
        }
    };
}

use AttachType as A;

/// The table, in libbpf's order (first match wins).
#[rustfmt::skip]
const SECTION_DEFS: &[SectionDef] = &[
    def!("socket", Exact, SocketFilter, None, NONE, None),
    def!("sk_reuseport/migrate", Exact, SkReuseport, Some(A::SkReuseportSelectOrMigrate), NONE, None),
    def!("sk_reuseport", Exact, SkReuseport, Some(A::SkReuseportSelect), NONE, None),
    def!("kprobe", WithTarget, Kprobe, None, NONE, Kprobe),
    def!("uprobe", WithTarget, Kprobe, None, NONE, Uprobe),
    def!("uprobe.s", WithTarget, Kprobe, None, SLEEPABLE, Uprobe),
    def!("kretprobe", WithTarget, Kprobe, None, NONE, Kprobe),
    def!("uretprobe", WithTarget, Kprobe, None, NONE, Uprobe),
    def!("uretprobe.s", WithTarget, Kprobe, None, SLEEPABLE, Uprobe),
    def!("kprobe.multi", WithTarget, Kprobe, Some(A::TraceKprobeMulti), NONE, KprobeMulti),
    def!("kretprobe.multi", WithTarget, Kprobe, Some(A::TraceKprobeMulti), NONE, KprobeMulti),
    def!("kprobe.session", WithTarget, Kprobe, Some(A::TraceKprobeSession), NONE, KprobeSession),
    def!("uprobe.multi", WithTarget, Kprobe, Some(A::TraceUprobeMulti), NONE, UprobeMulti),
    def!("uretprobe.multi", WithTarget, Kprobe, Some(A::TraceUprobeMulti), NONE, UprobeMulti),
    def!("uprobe.session", WithTarget, Kprobe, Some(A::TraceUprobeSession), NONE, UprobeMulti),
    def!("uprobe.multi.s", WithTarget, Kprobe, Some(A::TraceUprobeMulti), SLEEPABLE, UprobeMulti),
    def!("uretprobe.multi.s", WithTarget, Kprobe, Some(A::TraceUprobeMulti), SLEEPABLE, UprobeMulti),
    def!("uprobe.session.s", WithTarget, Kprobe, Some(A::TraceUprobeSession), SLEEPABLE, UprobeMulti),
    def!("ksyscall", WithTarget, Kprobe, None, NONE, Ksyscall),
    def!("kretsyscall", WithTarget, Kprobe, None, NONE, Ksyscall),
    def!("usdt", WithTarget, Kprobe, None, USDT, Usdt),
    def!("usdt.s", WithTarget, Kprobe, None, USDT | SLEEPABLE, Usdt),
    def!("tc/ingress", Exact, SchedCls, Some(A::TcxIngress), NONE, None),
    def!("tc/egress", Exact, SchedCls, Some(A::TcxEgress), NONE, None),
    def!("tcx/ingress", Exact, SchedCls, Some(A::TcxIngress), NONE, None),
    def!("tcx/egress", Exact, SchedCls, Some(A::TcxEgress), NONE, None),
    def!("tc", Exact, SchedCls, None, NONE, None),
    def!("classifier", Exact, SchedCls, None, NONE, None),
    def!("action", Exact, SchedAct, None, NONE, None),
    def!("netkit/primary", Exact, SchedCls, Some(A::NetkitPrimary), NONE, None),
    def!("netkit/peer", Exact, SchedCls, Some(A::NetkitPeer), NONE, None),
    def!("tracepoint", WithTarget, Tracepoint, None, NONE, Tracepoint),
    def!("tp", WithTarget, Tracepoint, None, NONE, Tracepoint),
    def!("tracepoint.s", WithTarget, Tracepoint, None, SLEEPABLE, Tracepoint),
    def!("tp.s", WithTarget, Tracepoint, None, SLEEPABLE, Tracepoint),
    def!("raw_tracepoint", WithTarget, RawTracepoint, None, NONE, RawTracepoint),
    def!("raw_tp", WithTarget, RawTracepoint, None, NONE, RawTracepoint),
    def!("raw_tracepoint.s", WithTarget, RawTracepoint, None, SLEEPABLE, RawTracepoint),
    def!("raw_tp.s", WithTarget, RawTracepoint, None, SLEEPABLE, RawTracepoint),
    def!("raw_tracepoint.w", WithTarget, RawTracepointWritable, None, NONE, RawTracepoint),
    def!("raw_tp.w", WithTarget, RawTracepointWritable, None, NONE, RawTracepoint),
    def!("tp_btf", WithTarget, Tracing, Some(A::TraceRawTp), ATTACH_BTF, Trace),
    def!("tp_btf.s", WithTarget, Tracing, Some(A::TraceRawTp), ATTACH_BTF | SLEEPABLE, Trace),
    def!("fentry", WithTarget, Tracing, Some(A::TraceFentry), ATTACH_BTF, Trace),
    def!("fmod_ret", WithTarget, Tracing, Some(A::ModifyReturn), ATTACH_BTF, Trace),
    def!("fexit", WithTarget, Tracing, Some(A::TraceFexit), ATTACH_BTF, Trace),
    def!("fentry.s", WithTarget, Tracing, Some(A::TraceFentry), ATTACH_BTF | SLEEPABLE, Trace),
    def!("fmod_ret.s", WithTarget, Tracing, Some(A::ModifyReturn), ATTACH_BTF | SLEEPABLE, Trace),
    def!("fexit.s", WithTarget, Tracing, Some(A::TraceFexit), ATTACH_BTF | SLEEPABLE, Trace),
    def!("freplace", WithTarget, Ext, None, ATTACH_BTF, Trace),
    def!("lsm", WithTarget, Lsm, Some(A::LsmMac), ATTACH_BTF, Lsm),
    def!("lsm.s", WithTarget, Lsm, Some(A::LsmMac), ATTACH_BTF | SLEEPABLE, Lsm),
    def!("lsm_cgroup", WithTarget, Lsm, Some(A::LsmCgroup), ATTACH_BTF, None),
    def!("iter", WithTarget, Tracing, Some(A::TraceIter), ATTACH_BTF, Iter),
    def!("iter.s", WithTarget, Tracing, Some(A::TraceIter), ATTACH_BTF | SLEEPABLE, Iter),
    def!("syscall", Exact, Syscall, None, SLEEPABLE, None),
    def!("xdp.frags/devmap", Exact, Xdp, Some(A::XdpDevmap), XDP_FRAGS, None),
    def!("xdp/devmap", Exact, Xdp, Some(A::XdpDevmap), NONE, None),
    def!("xdp.frags/cpumap", Exact, Xdp, Some(A::XdpCpumap), XDP_FRAGS, None),
    def!("xdp/cpumap", Exact, Xdp, Some(A::XdpCpumap), NONE, None),
    def!("xdp.frags", Exact, Xdp, Some(A::Xdp), XDP_FRAGS, None),
    def!("xdp", Exact, Xdp, Some(A::Xdp), ATTACH_OPTIONAL, None),
    def!("perf_event", Exact, PerfEvent, None, NONE, None),
    def!("lwt_in", Exact, LwtIn, None, NONE, None),
    def!("lwt_out", Exact, LwtOut, None, NONE, None),
    def!("lwt_xmit", Exact, LwtXmit, None, NONE, None),
    def!("lwt_seg6local", Exact, LwtSeg6local, None, NONE, None),
    def!("sockops", Exact, SockOps, Some(A::CgroupSockOps), ATTACH_OPTIONAL, None),
    def!("sk_skb/stream_parser", Exact, SkSkb, Some(A::SkSkbStreamParser), ATTACH_OPTIONAL, None),
    def!("sk_skb/stream_verdict", Exact, SkSkb, Some(A::SkSkbStreamVerdict), ATTACH_OPTIONAL, None),
    def!("sk_skb/verdict", Exact, SkSkb, Some(A::SkSkbVerdict), ATTACH_OPTIONAL, None),
    def!("sk_skb", Exact, SkSkb, None, NONE, None),
    def!("sk_msg", Exact, SkMsg, Some(A::SkMsgVerdict), ATTACH_OPTIONAL, None),
    def!("lirc_mode2", Exact, LircMode2, Some(A::LircMode2), ATTACH_OPTIONAL, None),
    def!("flow_dissector", Exact, FlowDissector, Some(A::FlowDissector), ATTACH_OPTIONAL, None),
    def!("cgroup_skb/ingress", Exact, CgroupSkb, Some(A::CgroupInetIngress), ATTACH_OPTIONAL, None),
    def!("cgroup_skb/egress", Exact, CgroupSkb, Some(A::CgroupInetEgress), ATTACH_OPTIONAL, None),
    def!("cgroup/skb", Exact, CgroupSkb, None, NONE, None),
    def!("cgroup/sock_create", Exact, CgroupSock, Some(A::CgroupInetSockCreate), NONE, None),
    def!("cgroup/sock_release", Exact, CgroupSock, Some(A::CgroupInetSockRelease), NONE, None),
    def!("cgroup/sock", Exact, CgroupSock, Some(A::CgroupInetSockCreate), ATTACH_OPTIONAL, None),
    def!("cgroup/post_bind4", Exact, CgroupSock, Some(A::CgroupInet4PostBind), NONE, None),
    def!("cgroup/post_bind6", Exact, CgroupSock, Some(A::CgroupInet6PostBind), NONE, None),
    def!("cgroup/bind4", Exact, CgroupSockAddr, Some(A::CgroupInet4Bind), NONE, None),
    def!("cgroup/bind6", Exact, CgroupSockAddr, Some(A::CgroupInet6Bind), NONE, None),
    def!("cgroup/connect4", Exact, CgroupSockAddr, Some(A::CgroupInet4Connect), NONE, None),
    def!("cgroup/connect6", Exact, CgroupSockAddr, Some(A::CgroupInet6Connect), NONE, None),
    def!("cgroup/connect_unix", Exact, CgroupSockAddr, Some(A::CgroupUnixConnect), NONE, None),
    def!("cgroup/sendmsg4", Exact, CgroupSockAddr, Some(A::CgroupUdp4Sendmsg), NONE, None),
    def!("cgroup/sendmsg6", Exact, CgroupSockAddr, Some(A::CgroupUdp6Sendmsg), NONE, None),
    def!("cgroup/sendmsg_unix", Exact, CgroupSockAddr, Some(A::CgroupUnixSendmsg), NONE, None),
    def!("cgroup/recvmsg4", Exact, CgroupSockAddr, Some(A::CgroupUdp4Recvmsg), NONE, None),
    def!("cgroup/recvmsg6", Exact, CgroupSockAddr, Some(A::CgroupUdp6Recvmsg), NONE, None),
    def!("cgroup/recvmsg_unix", Exact, CgroupSockAddr, Some(A::CgroupUnixRecvmsg), NONE, None),
    def!("cgroup/getpeername4", Exact, CgroupSockAddr, Some(A::CgroupInet4Getpeername), NONE, None),
    def!("cgroup/getpeername6", Exact, CgroupSockAddr, Some(A::CgroupInet6Getpeername), NONE, None),
    def!("cgroup/getpeername_unix", Exact, CgroupSockAddr, Some(A::CgroupUnixGetpeername), NONE, None),
    def!("cgroup/getsockname4", Exact, CgroupSockAddr, Some(A::CgroupInet4Getsockname), NONE, None),
    def!("cgroup/getsockname6", Exact, CgroupSockAddr, Some(A::CgroupInet6Getsockname), NONE, None),
    def!("cgroup/getsockname_unix", Exact, CgroupSockAddr, Some(A::CgroupUnixGetsockname), NONE, None),
    def!("cgroup/sysctl", Exact, CgroupSysctl, Some(A::CgroupSysctl), NONE, None),
    def!("cgroup/getsockopt", Exact, CgroupSockopt, Some(A::CgroupGetsockopt), NONE, None),
    def!("cgroup/setsockopt", Exact, CgroupSockopt, Some(A::CgroupSetsockopt), NONE, None),
    def!("cgroup/dev", Exact, CgroupDevice, Some(A::CgroupDevice), ATTACH_OPTIONAL, None),
    def!("struct_ops", WithTarget, StructOps, None, NONE, None),
    def!("struct_ops.s", WithTarget, StructOps, None, SLEEPABLE, None),
    def!("sk_lookup", Exact, SkLookup, Some(A::SkLookup), NONE, None),
    def!("netfilter", Exact, Netfilter, Some(A::Netfilter), NONE, None),
];

/// What a program's section name says about it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProgramSection {
    /// The section name as written, without libbpf's leading `?` (see [`autoload`](Self::autoload)).
    pub name: String,
    /// The table entry that matched (`"kretprobe"`, `"cgroup/connect4"`), `None` if none did.
    pub kind: Option<&'static str>,
    /// The program type; [`ProgramType::Unspec`] when the name matched no entry.
    pub program_type: ProgramType,
    /// The `expected_attach_type` passed at load time, if the kind has one.
    pub expected_attach_type: Option<AttachType>,
    /// What follows `kind/` in the name: a function, `category/tracepoint`, `binary:symbol`, ...
    pub attach_target: Option<String>,
    /// The program may sleep (`BPF_F_SLEEPABLE`).
    pub sleepable: bool,
    /// The attach target is resolved to a BTF id at load time (`attach_btf_id`).
    pub attach_btf: bool,
    /// The expected attach type may be dropped on kernels that predate it.
    pub attach_type_optional: bool,
    /// XDP multi-buffer support (`BPF_F_XDP_HAS_FRAGS`).
    pub xdp_frags: bool,
    /// USDT probe (the loader may use `uprobe_multi` links for it).
    pub usdt: bool,
    /// How libbpf would attach this program on its own.
    pub auto_attach: AutoAttach,
    /// `false` when the section name starts with `?`: libbpf does not load such programs
    /// unless asked to.
    pub autoload: bool,
}

impl ProgramSection {
    /// Interprets a program's ELF section name.
    ///
    /// ```
    /// use bpfkit_obj::object::{ProgramSection, ProgramType};
    /// let s = ProgramSection::parse("tp/syscalls/sys_enter_execve");
    /// assert_eq!(s.program_type, ProgramType::Tracepoint);
    /// assert_eq!(s.attach_target.as_deref(), Some("syscalls/sys_enter_execve"));
    /// ```
    pub fn parse(section_name: &str) -> ProgramSection {
        let (autoload, name) = match section_name.strip_prefix('?') {
            Some(rest) => (false, rest),
            None => (true, section_name),
        };
        let found = SECTION_DEFS
            .iter()
            .find_map(|def| def_matches(def, name).map(|target| (def, target)));
        match found {
            Some((def, target)) => ProgramSection {
                name: name.to_string(),
                kind: Some(def.prefix),
                program_type: def.program_type,
                expected_attach_type: def.attach_type,
                attach_target: target.map(str::to_string),
                sleepable: def.flags & SLEEPABLE != 0,
                attach_btf: def.flags & ATTACH_BTF != 0,
                attach_type_optional: def.flags & ATTACH_OPTIONAL != 0,
                xdp_frags: def.flags & XDP_FRAGS != 0,
                usdt: def.flags & USDT != 0,
                auto_attach: def.auto_attach,
                autoload,
            },
            None => ProgramSection {
                name: name.to_string(),
                kind: None,
                program_type: ProgramType::Unspec,
                expected_attach_type: None,
                attach_target: None,
                sleepable: false,
                attach_btf: false,
                attach_type_optional: false,
                xdp_frags: false,
                usdt: false,
                auto_attach: AutoAttach::None,
                autoload,
            },
        }
    }

    /// Whether the name matched an entry of the table (else the type is `Unspec`).
    pub fn is_known(&self) -> bool {
        self.kind.is_some()
    }

    /// Whether libbpf would attach this program by itself: the kind has an automatic
    /// attachment and the section names a target.
    pub fn can_auto_attach(&self) -> bool {
        self.auto_attach != AutoAttach::None
            && self.attach_target.as_deref().is_some_and(|t| !t.is_empty())
    }
}

/// `Some(target)` if `def` matches `name`; the target is what follows `prefix/`.
fn def_matches<'n>(def: &SectionDef, name: &'n str) -> Option<Option<&'n str>> {
    match def.matching {
        Match::Exact => (name == def.prefix).then_some(None),
        Match::WithTarget => {
            let rest = name.strip_prefix(def.prefix)?;
            if rest.is_empty() {
                Some(None)
            } else {
                rest.strip_prefix('/').map(Some)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> ProgramSection {
        ProgramSection::parse(name)
    }

    #[test]
    fn tracepoint_target_is_category_and_name() {
        let s = parse("tracepoint/syscalls/sys_enter_openat");
        assert_eq!(s.kind, Some("tracepoint"));
        assert_eq!(s.program_type, ProgramType::Tracepoint);
        assert_eq!(s.expected_attach_type, None);
        assert_eq!(
            s.attach_target.as_deref(),
            Some("syscalls/sys_enter_openat")
        );
        assert!(s.can_auto_attach());
    }

    #[test]
    fn kretprobe_is_not_mistaken_for_kprobe() {
        let s = parse("kretprobe/do_unlinkat");
        assert_eq!(s.kind, Some("kretprobe"));
        assert_eq!(s.program_type, ProgramType::Kprobe);
        assert_eq!(s.attach_target.as_deref(), Some("do_unlinkat"));
    }

    #[test]
    fn prefix_needs_a_slash_separator() {
        // "kprobex" is not "kprobe" + target.
        let s = parse("kprobex/foo");
        assert_eq!(s.program_type, ProgramType::Unspec);
        assert!(!s.is_known());
        // "kprobe.multi" has its own entry.
        let m = parse("kprobe.multi/vfs_*");
        assert_eq!(m.expected_attach_type, Some(AttachType::TraceKprobeMulti));
        assert_eq!(m.attach_target.as_deref(), Some("vfs_*"));
        assert_eq!(m.auto_attach, AutoAttach::KprobeMulti);
    }

    #[test]
    fn sleepable_variants_set_the_flag() {
        for (name, ty) in [
            ("fentry.s/do_sys_openat2", ProgramType::Tracing),
            ("lsm.s/file_open", ProgramType::Lsm),
            ("uprobe.s//bin/bash:readline", ProgramType::Kprobe),
            ("iter.s/task", ProgramType::Tracing),
            ("syscall", ProgramType::Syscall),
            ("struct_ops.s/init", ProgramType::StructOps),
        ] {
            let s = parse(name);
            assert!(s.sleepable, "{name}");
            assert_eq!(s.program_type, ty, "{name}");
        }
        assert!(!parse("fentry/do_sys_openat2").sleepable);
    }

    #[test]
    fn btf_attached_kinds() {
        let f = parse("fexit/vfs_read");
        assert_eq!(f.program_type, ProgramType::Tracing);
        assert_eq!(f.expected_attach_type, Some(AttachType::TraceFexit));
        assert!(f.attach_btf);
        assert_eq!(f.attach_target.as_deref(), Some("vfs_read"));
        let r = parse("freplace/get_constant");
        assert_eq!(r.program_type, ProgramType::Ext);
        assert_eq!(r.expected_attach_type, None);
        assert!(r.attach_btf);
        let l = parse("lsm_cgroup/socket_bind");
        assert_eq!(l.expected_attach_type, Some(AttachType::LsmCgroup));
        assert!(!l.can_auto_attach());
        let t = parse("tp_btf/sched_switch");
        assert_eq!(t.expected_attach_type, Some(AttachType::TraceRawTp));
    }

    #[test]
    fn raw_tracepoint_writable() {
        let s = parse("raw_tracepoint.w/bpf_test_finish");
        assert_eq!(s.program_type, ProgramType::RawTracepointWritable);
        assert_eq!(
            parse("raw_tp/sched_switch").program_type,
            ProgramType::RawTracepoint
        );
    }

    #[test]
    fn xdp_variants() {
        let x = parse("xdp");
        assert_eq!(x.expected_attach_type, Some(AttachType::Xdp));
        assert!(x.attach_type_optional);
        let f = parse("xdp.frags");
        assert!(f.xdp_frags);
        let d = parse("xdp.frags/devmap");
        assert_eq!(d.expected_attach_type, Some(AttachType::XdpDevmap));
        assert!(d.xdp_frags);
        assert_eq!(
            parse("xdp/cpumap").expected_attach_type,
            Some(AttachType::XdpCpumap)
        );
        // Exact entries take no target.
        assert_eq!(parse("xdp/foo").program_type, ProgramType::Unspec);
    }

    #[test]
    fn tc_and_tcx_and_netkit() {
        assert_eq!(parse("tc").program_type, ProgramType::SchedCls);
        assert_eq!(parse("tc").expected_attach_type, None);
        assert_eq!(parse("classifier").program_type, ProgramType::SchedCls);
        assert_eq!(parse("action").program_type, ProgramType::SchedAct);
        assert_eq!(
            parse("tcx/ingress").expected_attach_type,
            Some(AttachType::TcxIngress)
        );
        assert_eq!(
            parse("tc/egress").expected_attach_type,
            Some(AttachType::TcxEgress)
        );
        assert_eq!(
            parse("netkit/peer").expected_attach_type,
            Some(AttachType::NetkitPeer)
        );
    }

    #[test]
    fn cgroup_attach_types() {
        for (name, ty, at) in [
            (
                "cgroup_skb/ingress",
                ProgramType::CgroupSkb,
                Some(AttachType::CgroupInetIngress),
            ),
            ("cgroup/skb", ProgramType::CgroupSkb, None),
            (
                "cgroup/sock",
                ProgramType::CgroupSock,
                Some(AttachType::CgroupInetSockCreate),
            ),
            (
                "cgroup/sock_release",
                ProgramType::CgroupSock,
                Some(AttachType::CgroupInetSockRelease),
            ),
            (
                "cgroup/connect6",
                ProgramType::CgroupSockAddr,
                Some(AttachType::CgroupInet6Connect),
            ),
            (
                "cgroup/recvmsg_unix",
                ProgramType::CgroupSockAddr,
                Some(AttachType::CgroupUnixRecvmsg),
            ),
            (
                "cgroup/sysctl",
                ProgramType::CgroupSysctl,
                Some(AttachType::CgroupSysctl),
            ),
            (
                "cgroup/setsockopt",
                ProgramType::CgroupSockopt,
                Some(AttachType::CgroupSetsockopt),
            ),
            (
                "cgroup/dev",
                ProgramType::CgroupDevice,
                Some(AttachType::CgroupDevice),
            ),
        ] {
            let s = parse(name);
            assert_eq!((s.program_type, s.expected_attach_type), (ty, at), "{name}");
        }
    }

    #[test]
    fn socket_kinds() {
        assert_eq!(parse("socket").program_type, ProgramType::SocketFilter);
        assert_eq!(
            parse("sockops").expected_attach_type,
            Some(AttachType::CgroupSockOps)
        );
        assert_eq!(
            parse("sk_skb/stream_parser").expected_attach_type,
            Some(AttachType::SkSkbStreamParser)
        );
        assert_eq!(parse("sk_skb").expected_attach_type, None);
        assert_eq!(parse("sk_msg").program_type, ProgramType::SkMsg);
        assert_eq!(
            parse("sk_lookup").expected_attach_type,
            Some(AttachType::SkLookup)
        );
        assert_eq!(
            parse("sk_reuseport/migrate").expected_attach_type,
            Some(AttachType::SkReuseportSelectOrMigrate)
        );
        assert_eq!(
            parse("flow_dissector").program_type,
            ProgramType::FlowDissector
        );
        assert_eq!(
            parse("netfilter").expected_attach_type,
            Some(AttachType::Netfilter)
        );
        assert_eq!(
            parse("lwt_seg6local").program_type,
            ProgramType::LwtSeg6local
        );
        assert_eq!(parse("perf_event").program_type, ProgramType::PerfEvent);
    }

    #[test]
    fn uprobe_and_usdt_targets() {
        let u = parse("uretprobe//usr/lib/libc.so.6:malloc");
        assert_eq!(u.kind, Some("uretprobe"));
        assert_eq!(
            u.attach_target.as_deref(),
            Some("/usr/lib/libc.so.6:malloc")
        );
        let m = parse("uprobe.multi.s/bin:foo*");
        assert_eq!(m.expected_attach_type, Some(AttachType::TraceUprobeMulti));
        assert!(m.sleepable);
        let usdt = parse("usdt/libc.so.6:libc:setjmp");
        assert!(usdt.usdt);
        assert_eq!(usdt.auto_attach, AutoAttach::Usdt);
        assert_eq!(parse("ksyscall/execve").auto_attach, AutoAttach::Ksyscall);
    }

    #[test]
    fn question_mark_disables_autoload() {
        let s = parse("?tp/sched/sched_switch");
        assert!(!s.autoload);
        assert_eq!(s.name, "tp/sched/sched_switch");
        assert_eq!(s.program_type, ProgramType::Tracepoint);
        assert!(parse("tp/sched/sched_switch").autoload);
    }

    #[test]
    fn kind_without_target_does_not_auto_attach() {
        let s = parse("kprobe");
        assert_eq!(s.program_type, ProgramType::Kprobe);
        assert_eq!(s.attach_target, None);
        assert!(!s.can_auto_attach());
    }

    #[test]
    fn unknown_names_are_unspec_not_errors() {
        for name in ["", "/", "license_x", "socket/2", "my_section"] {
            let s = parse(name);
            assert_eq!(s.program_type, ProgramType::Unspec, "{name:?}");
            assert_eq!(s.kind, None);
        }
    }

    #[test]
    fn every_table_prefix_matches_itself_first_or_is_shadowed_by_nothing() {
        for def in SECTION_DEFS {
            let s = parse(def.prefix);
            assert_eq!(s.kind, Some(def.prefix), "{} is shadowed", def.prefix);
        }
    }
}
