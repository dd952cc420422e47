//! Program attributes: the libbpf section name of each program type and the exported
//! `extern "C"` entry point that wraps the user's function with its context type.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{ItemFn, ReturnType};

use crate::args::Args;

/// The program attributes, one per program type (or libbpf section family).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    TracePoint,
    RawTracePoint,
    BtfTracePoint,
    KProbe,
    KRetProbe,
    KSyscall,
    UProbe,
    URetProbe,
    Usdt,
    FEntry,
    FExit,
    FModRet,
    Lsm,
    PerfEvent,
    Iter,
    Xdp,
    Classifier,
    SocketFilter,
    SkMsg,
    SkSkb,
    SockOps,
    SkLookup,
    FlowDissector,
    CgroupSkb,
    CgroupSock,
    CgroupSockAddr,
    CgroupSysctl,
    CgroupSockopt,
    CgroupDevice,
}

const CGROUP_SOCK_ATTACH: &[&str] = &["sock_create", "sock_release", "post_bind4", "post_bind6"];
const CGROUP_SOCK_ADDR_ATTACH: &[&str] = &[
    "bind4",
    "bind6",
    "connect4",
    "connect6",
    "connect_unix",
    "getpeername4",
    "getpeername6",
    "getpeername_unix",
    "getsockname4",
    "getsockname6",
    "getsockname_unix",
    "sendmsg4",
    "sendmsg6",
    "sendmsg_unix",
    "recvmsg4",
    "recvmsg6",
    "recvmsg_unix",
];

impl Kind {
    /// The attribute's name as users write it.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::TracePoint => "tracepoint",
            Kind::RawTracePoint => "raw_tracepoint",
            Kind::BtfTracePoint => "btf_tracepoint",
            Kind::KProbe => "kprobe",
            Kind::KRetProbe => "kretprobe",
            Kind::KSyscall => "ksyscall",
            Kind::UProbe => "uprobe",
            Kind::URetProbe => "uretprobe",
            Kind::Usdt => "usdt",
            Kind::FEntry => "fentry",
            Kind::FExit => "fexit",
            Kind::FModRet => "fmod_ret",
            Kind::Lsm => "lsm",
            Kind::PerfEvent => "perf_event",
            Kind::Iter => "iter",
            Kind::Xdp => "xdp",
            Kind::Classifier => "classifier",
            Kind::SocketFilter => "socket_filter",
            Kind::SkMsg => "sk_msg",
            Kind::SkSkb => "sk_skb",
            Kind::SockOps => "sock_ops",
            Kind::SkLookup => "sk_lookup",
            Kind::FlowDissector => "flow_dissector",
            Kind::CgroupSkb => "cgroup_skb",
            Kind::CgroupSock => "cgroup_sock",
            Kind::CgroupSockAddr => "cgroup_sock_addr",
            Kind::CgroupSysctl => "cgroup_sysctl",
            Kind::CgroupSockopt => "cgroup_sockopt",
            Kind::CgroupDevice => "cgroup_device",
        }
    }

    /// Arguments accepted (`"key"` takes a value, `"flag?"` is a bare flag).
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Kind::TracePoint => &["category", "name"],
            Kind::RawTracePoint => &["tracepoint"],
            Kind::BtfTracePoint => &["function"],
            Kind::KProbe => &["function", "offset"],
            Kind::KRetProbe => &["function"],
            Kind::KSyscall => &["syscall"],
            Kind::UProbe | Kind::URetProbe => &["path", "function", "offset", "sleepable?"],
            Kind::Usdt => &["path", "provider", "name", "sleepable?"],
            Kind::FEntry | Kind::FExit | Kind::FModRet => &["function", "sleepable?"],
            Kind::Lsm => &["hook", "sleepable?", "cgroup?"],
            Kind::Iter => &["target", "sleepable?"],
            Kind::Xdp => &["frags?", "map"],
            Kind::Classifier => &["attach"],
            Kind::SkSkb => &["kind"],
            Kind::CgroupSkb | Kind::CgroupSock | Kind::CgroupSockAddr | Kind::CgroupSockopt => {
                &["attach"]
            }
            Kind::PerfEvent
            | Kind::SocketFilter
            | Kind::SkMsg
            | Kind::SockOps
            | Kind::SkLookup
            | Kind::FlowDissector
            | Kind::CgroupSysctl
            | Kind::CgroupDevice => &[],
        }
    }

    /// The context type (under `bpfkit_ebpf::programs`) the program function receives.
    fn context(self) -> &'static str {
        match self {
            Kind::TracePoint => "TracePointContext",
            Kind::RawTracePoint => "RawTracePointContext",
            Kind::BtfTracePoint => "BtfTracePointContext",
            Kind::KProbe
            | Kind::KRetProbe
            | Kind::KSyscall
            | Kind::UProbe
            | Kind::URetProbe
            | Kind::Usdt => "ProbeContext",
            Kind::FEntry => "FEntryContext",
            Kind::FExit => "FExitContext",
            Kind::FModRet => "FModRetContext",
            Kind::Lsm => "LsmContext",
            Kind::PerfEvent => "PerfEventContext",
            Kind::Iter => "IterContext",
            Kind::Xdp => "XdpContext",
            Kind::Classifier => "TcContext",
            Kind::SocketFilter => "SocketFilterContext",
            Kind::SkMsg => "SkMsgContext",
            Kind::SkSkb => "SkSkbContext",
            Kind::SockOps => "SockOpsContext",
            Kind::SkLookup => "SkLookupContext",
            Kind::FlowDissector => "FlowDissectorContext",
            Kind::CgroupSkb => "CgroupSkbContext",
            Kind::CgroupSock => "CgroupSockContext",
            Kind::CgroupSockAddr => "CgroupSockAddrContext",
            Kind::CgroupSysctl => "CgroupSysctlContext",
            Kind::CgroupSockopt => "CgroupSockoptContext",
            Kind::CgroupDevice => "CgroupDeviceContext",
        }
    }

    /// The libbpf section name (`SEC("...")`) for these arguments.
    pub(crate) fn section(self, args: &Args) -> syn::Result<String> {
        let attr = self.attribute();
        let sleepable = |base: &str| {
            if args.flag("sleepable") {
                format!("{base}.s")
            } else {
                base.to_string()
            }
        };
        Ok(match self {
            Kind::TracePoint => match (args.str("category")?, args.str("name")?) {
                (Some(category), Some(name)) => format!("tracepoint/{category}/{name}"),
                (None, None) => "tracepoint".to_string(),
                _ => return Err(error(attr, "needs both `category` and `name`, or neither")),
            },
            Kind::RawTracePoint => match args.str("tracepoint")? {
                Some(tp) => format!("raw_tracepoint/{tp}"),
                None => "raw_tracepoint".to_string(),
            },
            Kind::BtfTracePoint => format!("tp_btf/{}", args.required_str("function", attr)?),
            Kind::KProbe => match (args.str("function")?, args.int("offset")?) {
                (Some(f), Some(off)) => format!("kprobe/{f}+{off:#x}"),
                (Some(f), None) => format!("kprobe/{f}"),
                (None, None) => "kprobe".to_string(),
                (None, Some(_)) => {
                    return Err(syn::Error::new(args.span("offset"), "`offset` needs `function`"))
                }
            },
            Kind::KRetProbe => match args.str("function")? {
                Some(f) => format!("kretprobe/{f}"),
                None => "kretprobe".to_string(),
            },
            Kind::KSyscall => format!("ksyscall/{}", args.required_str("syscall", attr)?),
            Kind::UProbe | Kind::URetProbe => {
                let base = sleepable(if self == Kind::UProbe { "uprobe" } else { "uretprobe" });
                match (args.str("path")?, args.str("function")?, args.int("offset")?) {
                    (None, None, None) => base,
                    (Some(path), Some(f), None) => format!("{base}/{path}:{f}"),
                    (Some(path), Some(f), Some(off)) => format!("{base}/{path}:{f}+{off:#x}"),
                    (Some(path), None, Some(off)) => format!("{base}/{path}:{off:#x}"),
                    (Some(_), None, None) => {
                        return Err(error(attr, "with `path`, give `function` and/or `offset`"))
                    }
                    (None, _, _) => return Err(error(attr, "`function` and `offset` need `path`")),
                }
            }
            Kind::Usdt => {
                let base = sleepable("usdt");
                match (args.str("path")?, args.str("provider")?, args.str("name")?) {
                    (None, None, None) => base,
                    (Some(path), Some(provider), Some(name)) => {
                        format!("{base}/{path}:{provider}:{name}")
                    }
                    _ => return Err(error(attr, "needs `path`, `provider` and `name`, or none")),
                }
            }
            Kind::FEntry | Kind::FExit | Kind::FModRet => {
                let base = sleepable(attr);
                format!("{base}/{}", args.required_str("function", attr)?)
            }
            Kind::Lsm => {
                let hook = args.required_str("hook", attr)?;
                if args.flag("cgroup") {
                    if args.flag("sleepable") {
                        return Err(error(attr, "`cgroup` LSM programs cannot be `sleepable`"));
                    }
                    format!("lsm_cgroup/{hook}")
                } else {
                    format!("{}/{hook}", sleepable("lsm"))
                }
            }
            Kind::PerfEvent => "perf_event".to_string(),
            Kind::Iter => format!("{}/{}", sleepable("iter"), args.required_str("target", attr)?),
            Kind::Xdp => {
                let base = if args.flag("frags") { "xdp.frags" } else { "xdp" };
                match args.str("map")?.as_deref() {
                    None => base.to_string(),
                    Some(m @ ("devmap" | "cpumap")) => format!("{base}/{m}"),
                    Some(other) => {
                        return Err(syn::Error::new(
                            args.span("map"),
                            format!("`xdp`: `map` is \"devmap\" or \"cpumap\", not \"{other}\""),
                        ))
                    }
                }
            }
            Kind::Classifier => match args.str("attach")?.as_deref() {
                None => "tc".to_string(),
                Some(a @ ("ingress" | "egress")) => format!("tcx/{a}"),
                Some(other) => {
                    return Err(syn::Error::new(
                        args.span("attach"),
                        format!("`classifier`: `attach` is \"ingress\" or \"egress\" (tcx), not \"{other}\"; omit it for a tc (cls_bpf) program"),
                    ))
                }
            },
            Kind::SocketFilter => "socket".to_string(),
            Kind::SkMsg => "sk_msg".to_string(),
            Kind::SkSkb => match args.str("kind")?.as_deref() {
                None => "sk_skb".to_string(),
                Some(k @ ("stream_parser" | "stream_verdict")) => format!("sk_skb/{k}"),
                Some(other) => {
                    return Err(syn::Error::new(
                        args.span("kind"),
                        format!("`sk_skb`: `kind` is \"stream_parser\" or \"stream_verdict\", not \"{other}\""),
                    ))
                }
            },
            Kind::SockOps => "sockops".to_string(),
            Kind::SkLookup => "sk_lookup".to_string(),
            Kind::FlowDissector => "flow_dissector".to_string(),
            Kind::CgroupSkb => {
                let a = one_of(args, attr, &["ingress", "egress"])?;
                format!("cgroup_skb/{a}")
            }
            Kind::CgroupSock => format!("cgroup/{}", one_of(args, attr, CGROUP_SOCK_ATTACH)?),
            Kind::CgroupSockAddr => {
                format!("cgroup/{}", one_of(args, attr, CGROUP_SOCK_ADDR_ATTACH)?)
            }
            Kind::CgroupSockopt => {
                format!("cgroup/{}", one_of(args, attr, &["getsockopt", "setsockopt"])?)
            }
            Kind::CgroupSysctl => "cgroup/sysctl".to_string(),
            Kind::CgroupDevice => "cgroup/dev".to_string(),
        })
    }
}

fn error(attribute: &str, message: &str) -> syn::Error {
    syn::Error::new(Span::call_site(), format!("`{attribute}` {message}"))
}

fn one_of(args: &Args, attribute: &str, choices: &[&str]) -> syn::Result<String> {
    let value = args.required_str("attach", attribute)?;
    if choices.contains(&value.as_str()) {
        Ok(value)
    } else {
        let list: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
        Err(syn::Error::new(
            args.span("attach"),
            format!(
                "`{attribute}`: `attach` is one of {}, not \"{value}\"",
                list.join(", ")
            ),
        ))
    }
}

/// Expands a program attribute on `item`.
pub(crate) fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let attribute = kind.attribute();
    let args = Args::parse(attr, attribute, kind.allowed())?;
    let section = kind.section(&args)?;
    let function: ItemFn = syn::parse2(item)?;
    let sig = &function.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            format!("`{attribute}` programs cannot be generic"),
        ));
    }
    if sig.asyncness.is_some()
        || sig.variadic.is_some()
        || sig.abi.is_some()
        || sig.unsafety.is_some()
    {
        return Err(syn::Error::new_spanned(
            sig,
            format!(
                "`{attribute}` programs are plain safe `fn name(ctx: Context) -> ...` functions"
            ),
        ));
    }
    if sig.inputs.len() != 1 {
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            format!(
                "`{attribute}` programs take exactly one argument, the context (`ctx: {}`)",
                kind.context()
            ),
        ));
    }
    let ret = match &sig.output {
        ReturnType::Type(_, ty) => ty,
        ReturnType::Default => {
            return Err(syn::Error::new_spanned(
                sig,
                format!(
                    "`{attribute}` programs return their verdict or 0 (e.g. `-> u32` or `-> i32`)"
                ),
            ))
        }
    };
    let name = &sig.ident;
    if *name == section {
        return Err(syn::Error::new_spanned(
            name,
            format!("a program cannot be named `{section}` like its section: LLVM would define the symbol twice; rename the function"),
        ));
    }
    let vis = &function.vis;
    let context = format_ident!("{}", kind.context());
    Ok(quote! {
        #[unsafe(no_mangle)]
        #[unsafe(link_section = #section)]
        #vis extern "C" fn #name(ctx: *mut ::core::ffi::c_void) -> #ret {
            #[inline(always)]
            #function
            // SAFETY: `ctx` is R1 of a program placed in this program type's section.
            let ctx = unsafe { ::bpfkit_ebpf::programs::#context::new(ctx) };
            return #name(ctx);
        }
    })
}
