//! Attribute macros for bpfkit-ebpf programs: `#[map]` and one attribute per program type.
//!
//! A program attribute turns `fn name(ctx: XdpContext) -> u32 { ... }` into an exported
//! `extern "C" fn name(ctx: *mut c_void) -> u32` placed in the section libbpf expects for
//! that program type (e.g. `tracepoint/syscalls/sys_enter_execve`, `tp_btf/sched_switch`,
//! `tcx/ingress`, `lsm.s/file_open`), so bpfkit and libbpf load the same object. Bad
//! arguments are compile errors naming the accepted ones.

mod args;
mod map;
mod program;

use proc_macro::TokenStream;

use program::Kind;

fn program(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    program::expand(kind, attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Places a map definition in the `.maps` section under its Rust name (or `name = "..."`).
///
/// ```ignore
/// #[map]
/// static COUNTS: HashMap<u32, u64, 1024> = HashMap::new();
/// ```
#[proc_macro_attribute]
pub fn map(attr: TokenStream, item: TokenStream) -> TokenStream {
    map::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Section `tracepoint/<category>/<name>` (`category = "syscalls", name = "sys_enter_execve"`); context `TracePointContext`.
#[proc_macro_attribute]
pub fn tracepoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::TracePoint, attr, item)
}

/// Section `raw_tracepoint/<tracepoint>`; context `RawTracePointContext`.
#[proc_macro_attribute]
pub fn raw_tracepoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::RawTracePoint, attr, item)
}

/// Section `tp_btf/<function>` (`function = "sched_switch"`); context `BtfTracePointContext`.
#[proc_macro_attribute]
pub fn btf_tracepoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::BtfTracePoint, attr, item)
}

/// Section `kprobe/<function>[+offset]`; context `ProbeContext`.
#[proc_macro_attribute]
pub fn kprobe(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::KProbe, attr, item)
}

/// Section `kretprobe/<function>`; context `ProbeContext`.
#[proc_macro_attribute]
pub fn kretprobe(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::KRetProbe, attr, item)
}

/// Section `ksyscall/<syscall>` (`syscall = "execve"`); context `ProbeContext` (`syscall_arg`).
#[proc_macro_attribute]
pub fn ksyscall(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::KSyscall, attr, item)
}

/// Section `uprobe[.s]/<path>:<function>[+offset]` (`path`, `function`, `offset`, `sleepable`), or `uprobe` for manual attach; context `ProbeContext`.
#[proc_macro_attribute]
pub fn uprobe(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::UProbe, attr, item)
}

/// Section `uretprobe[.s]/<path>:<function>`; context `ProbeContext`.
#[proc_macro_attribute]
pub fn uretprobe(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::URetProbe, attr, item)
}

/// Section `usdt[.s]/<path>:<provider>:<name>`; context `ProbeContext` (USDT argument specs are not decoded).
#[proc_macro_attribute]
pub fn usdt(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::Usdt, attr, item)
}

/// Section `fentry[.s]/<function>`; context `FEntryContext`.
#[proc_macro_attribute]
pub fn fentry(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::FEntry, attr, item)
}

/// Section `fexit[.s]/<function>`; context `FExitContext`.
#[proc_macro_attribute]
pub fn fexit(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::FExit, attr, item)
}

/// Section `fmod_ret[.s]/<function>`; context `FModRetContext`.
#[proc_macro_attribute]
pub fn fmod_ret(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::FModRet, attr, item)
}

/// Section `lsm[.s]/<hook>` (`hook = "file_open"`, `sleepable`), `lsm_cgroup/<hook>` with `cgroup`; context `LsmContext`.
#[proc_macro_attribute]
pub fn lsm(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::Lsm, attr, item)
}

/// Section `perf_event`; context `PerfEventContext`.
#[proc_macro_attribute]
pub fn perf_event(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::PerfEvent, attr, item)
}

/// Section `iter[.s]/<target>` (`target = "task"`); context `IterContext`.
#[proc_macro_attribute]
pub fn iter(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::Iter, attr, item)
}

/// Section `xdp`, `xdp.frags` (`frags`), `xdp/devmap`, `xdp/cpumap` (`map = "devmap"`); context `XdpContext`.
#[proc_macro_attribute]
pub fn xdp(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::Xdp, attr, item)
}

/// Section `tc` (cls_bpf), or `tcx/ingress` / `tcx/egress` with `attach = "ingress"`; context `TcContext`.
#[proc_macro_attribute]
pub fn classifier(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::Classifier, attr, item)
}

/// Section `socket`; context `SocketFilterContext`.
#[proc_macro_attribute]
pub fn socket_filter(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::SocketFilter, attr, item)
}

/// Section `sk_msg`; context `SkMsgContext`.
#[proc_macro_attribute]
pub fn sk_msg(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::SkMsg, attr, item)
}

/// Section `sk_skb`, `sk_skb/stream_parser`, `sk_skb/stream_verdict` (`kind = ...`); context `SkSkbContext`.
#[proc_macro_attribute]
pub fn sk_skb(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::SkSkb, attr, item)
}

/// Section `sockops`; context `SockOpsContext`.
#[proc_macro_attribute]
pub fn sock_ops(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::SockOps, attr, item)
}

/// Section `sk_lookup`; context `SkLookupContext`.
#[proc_macro_attribute]
pub fn sk_lookup(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::SkLookup, attr, item)
}

/// Section `flow_dissector`; context `FlowDissectorContext`.
#[proc_macro_attribute]
pub fn flow_dissector(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::FlowDissector, attr, item)
}

/// Section `cgroup_skb/ingress` or `cgroup_skb/egress` (`attach = ...`); context `CgroupSkbContext`.
#[proc_macro_attribute]
pub fn cgroup_skb(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::CgroupSkb, attr, item)
}

/// Section `cgroup/sock_create`, `sock_release`, `post_bind4`, `post_bind6` (`attach = ...`); context `CgroupSockContext`.
#[proc_macro_attribute]
pub fn cgroup_sock(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::CgroupSock, attr, item)
}

/// Section `cgroup/<attach>` for bind4/6, connect4/6/_unix, sendmsg, recvmsg, getpeername, getsockname; context `CgroupSockAddrContext`.
#[proc_macro_attribute]
pub fn cgroup_sock_addr(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::CgroupSockAddr, attr, item)
}

/// Section `cgroup/sysctl`; context `CgroupSysctlContext`.
#[proc_macro_attribute]
pub fn cgroup_sysctl(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::CgroupSysctl, attr, item)
}

/// Section `cgroup/getsockopt` or `cgroup/setsockopt` (`attach = ...`); context `CgroupSockoptContext`.
#[proc_macro_attribute]
pub fn cgroup_sockopt(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::CgroupSockopt, attr, item)
}

/// Section `cgroup/dev`; context `CgroupDeviceContext`.
#[proc_macro_attribute]
pub fn cgroup_device(attr: TokenStream, item: TokenStream) -> TokenStream {
    program(Kind::CgroupDevice, attr, item)
}

#[cfg(test)]
mod tests;

mod log;

/// The expansion of `bpfkit_log_ebpf::{error, warn, info, debug, trace}!`; use those.
#[doc(hidden)]
#[proc_macro]
pub fn __bpfkit_log(input: TokenStream) -> TokenStream {
    log::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
