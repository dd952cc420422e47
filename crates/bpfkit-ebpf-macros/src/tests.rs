//! Expansion tests: section names, generated entry points and error messages.

use proc_macro2::TokenStream;
use quote::quote;

use crate::program::{expand, Kind};

fn expand_ok(kind: Kind, attr: TokenStream) -> String {
    let item = quote! { fn prog(ctx: Ctx) -> u32 { 0 } };
    match expand(kind, attr, item) {
        Ok(tokens) => tokens.to_string(),
        Err(e) => panic!("{kind:?} failed: {e}"),
    }
}

fn section_of(kind: Kind, attr: TokenStream) -> String {
    let out = expand_ok(kind, attr);
    let start = out.find("link_section = \"").expect("link_section present") + 16;
    let end = out[start..].find('"').expect("closing quote");
    out[start..start + end].to_string()
}

fn error_of(kind: Kind, attr: TokenStream, item: TokenStream) -> String {
    match expand(kind, attr, item) {
        Ok(tokens) => panic!("{kind:?} unexpectedly expanded to {tokens}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn sections_match_libbpf_names() {
    let cases: Vec<(Kind, TokenStream, &str)> = vec![
        (
            Kind::TracePoint,
            quote!(category = "syscalls", name = "sys_enter_execve"),
            "tracepoint/syscalls/sys_enter_execve",
        ),
        (Kind::TracePoint, quote!(), "tracepoint"),
        (
            Kind::RawTracePoint,
            quote!(tracepoint = "sched_switch"),
            "raw_tracepoint/sched_switch",
        ),
        (
            Kind::BtfTracePoint,
            quote!(function = "sched_switch"),
            "tp_btf/sched_switch",
        ),
        (
            Kind::KProbe,
            quote!(function = "do_unlinkat"),
            "kprobe/do_unlinkat",
        ),
        (
            Kind::KProbe,
            quote!(function = "do_unlinkat", offset = 16),
            "kprobe/do_unlinkat+0x10",
        ),
        (Kind::KProbe, quote!(), "kprobe"),
        (
            Kind::KRetProbe,
            quote!(function = "do_unlinkat"),
            "kretprobe/do_unlinkat",
        ),
        (
            Kind::KSyscall,
            quote!(syscall = "execve"),
            "ksyscall/execve",
        ),
        (
            Kind::UProbe,
            quote!(path = "/usr/lib/libc.so.6", function = "malloc"),
            "uprobe//usr/lib/libc.so.6:malloc",
        ),
        (
            Kind::UProbe,
            quote!(path = "/bin/bash", function = "readline", sleepable),
            "uprobe.s//bin/bash:readline",
        ),
        (
            Kind::UProbe,
            quote!(path = "/bin/bash", offset = 4096),
            "uprobe//bin/bash:0x1000",
        ),
        (Kind::UProbe, quote!(), "uprobe"),
        (
            Kind::URetProbe,
            quote!(path = "/bin/bash", function = "readline"),
            "uretprobe//bin/bash:readline",
        ),
        (
            Kind::Usdt,
            quote!(
                path = "/usr/bin/python3",
                provider = "python",
                name = "function__entry"
            ),
            "usdt//usr/bin/python3:python:function__entry",
        ),
        (Kind::Usdt, quote!(), "usdt"),
        (
            Kind::FEntry,
            quote!(function = "tcp_connect"),
            "fentry/tcp_connect",
        ),
        (
            Kind::FEntry,
            quote!(function = "tcp_connect", sleepable),
            "fentry.s/tcp_connect",
        ),
        (
            Kind::FExit,
            quote!(function = "tcp_connect"),
            "fexit/tcp_connect",
        ),
        (
            Kind::FModRet,
            quote!(function = "security_file_open"),
            "fmod_ret/security_file_open",
        ),
        (Kind::Lsm, quote!(hook = "file_open"), "lsm/file_open"),
        (
            Kind::Lsm,
            quote!(hook = "file_open", sleepable),
            "lsm.s/file_open",
        ),
        (
            Kind::Lsm,
            quote!(hook = "socket_bind", cgroup),
            "lsm_cgroup/socket_bind",
        ),
        (Kind::PerfEvent, quote!(), "perf_event"),
        (Kind::Iter, quote!(target = "task"), "iter/task"),
        (
            Kind::Iter,
            quote!(target = "task", sleepable),
            "iter.s/task",
        ),
        (Kind::Xdp, quote!(), "xdp"),
        (Kind::Xdp, quote!(frags), "xdp.frags"),
        (Kind::Xdp, quote!(map = "devmap"), "xdp/devmap"),
        (Kind::Xdp, quote!(frags, map = "cpumap"), "xdp.frags/cpumap"),
        (Kind::Classifier, quote!(), "tc"),
        (Kind::Classifier, quote!(attach = "ingress"), "tcx/ingress"),
        (Kind::Classifier, quote!(attach = "egress"), "tcx/egress"),
        (Kind::SocketFilter, quote!(), "socket"),
        (Kind::SkMsg, quote!(), "sk_msg"),
        (Kind::SkSkb, quote!(), "sk_skb"),
        (
            Kind::SkSkb,
            quote!(kind = "stream_verdict"),
            "sk_skb/stream_verdict",
        ),
        (Kind::SockOps, quote!(), "sockops"),
        (Kind::SkLookup, quote!(), "sk_lookup"),
        (Kind::FlowDissector, quote!(), "flow_dissector"),
        (
            Kind::CgroupSkb,
            quote!(attach = "ingress"),
            "cgroup_skb/ingress",
        ),
        (
            Kind::CgroupSock,
            quote!(attach = "sock_create"),
            "cgroup/sock_create",
        ),
        (
            Kind::CgroupSockAddr,
            quote!(attach = "connect4"),
            "cgroup/connect4",
        ),
        (
            Kind::CgroupSockAddr,
            quote!(attach = "sendmsg_unix"),
            "cgroup/sendmsg_unix",
        ),
        (Kind::CgroupSysctl, quote!(), "cgroup/sysctl"),
        (
            Kind::CgroupSockopt,
            quote!(attach = "getsockopt"),
            "cgroup/getsockopt",
        ),
        (Kind::CgroupDevice, quote!(), "cgroup/dev"),
    ];
    for (kind, attr, expected) in cases {
        let attr_text = attr.to_string();
        assert_eq!(section_of(kind, attr), expected, "{kind:?}({attr_text})");
    }
}

#[test]
fn entry_point_is_exported_extern_c_wrapping_the_context() {
    let out = expand_ok(Kind::Xdp, quote!());
    assert!(
        out.starts_with("# [unsafe (no_mangle)] # [unsafe (link_section = \"xdp\")]"),
        "{out}"
    );
    assert!(
        out.contains("extern \"C\" fn prog (ctx : * mut :: core :: ffi :: c_void) -> u32"),
        "{out}"
    );
    assert!(
        out.contains(":: bpfkit_ebpf :: programs :: XdpContext :: new (ctx)"),
        "{out}"
    );
    assert!(out.contains("return prog (ctx)"), "{out}");
}

#[test]
fn each_program_type_gets_its_context_type() {
    let cases = [
        (Kind::TracePoint, "TracePointContext"),
        (Kind::KSyscall, "ProbeContext"),
        (Kind::Classifier, "TcContext"),
        (Kind::CgroupSockAddr, "CgroupSockAddrContext"),
        (Kind::Lsm, "LsmContext"),
        (Kind::Iter, "IterContext"),
    ];
    for (kind, context) in cases {
        let attr = match kind {
            Kind::KSyscall => quote!(syscall = "execve"),
            Kind::CgroupSockAddr => quote!(attach = "bind4"),
            Kind::Lsm => quote!(hook = "bpf"),
            Kind::Iter => quote!(target = "task"),
            _ => quote!(),
        };
        let out = expand_ok(kind, attr);
        assert!(
            out.contains(&format!("programs :: {context} :: new")),
            "{kind:?}: {out}"
        );
    }
}

#[test]
fn unknown_argument_is_rejected_with_accepted_list() {
    let e = error_of(
        Kind::Xdp,
        quote!(flags = 1),
        quote!(
            fn p(c: C) -> u32 {
                0
            }
        ),
    );
    assert_eq!(
        e,
        "`xdp` does not take `flags = ...`; it accepts `frags`, `map = ...`"
    );
    let e = error_of(
        Kind::SockOps,
        quote!(sleepable),
        quote!(
            fn p(c: C) -> u32 {
                0
            }
        ),
    );
    assert_eq!(
        e,
        "`sock_ops` does not take `sleepable`; it accepts no arguments"
    );
}

#[test]
fn missing_required_argument_is_named() {
    let e = error_of(
        Kind::BtfTracePoint,
        quote!(),
        quote!(
            fn p(c: C) -> u32 {
                0
            }
        ),
    );
    assert_eq!(e, "`btf_tracepoint` needs `function = \"...\"`");
    let e = error_of(
        Kind::TracePoint,
        quote!(category = "sched"),
        quote!(
            fn p(c: C) -> u32 {
                0
            }
        ),
    );
    assert_eq!(
        e,
        "`tracepoint` needs both `category` and `name`, or neither"
    );
}

#[test]
fn invalid_choice_lists_the_valid_ones() {
    let e = error_of(
        Kind::CgroupSkb,
        quote!(attach = "sideways"),
        quote!(
            fn p(c: C) -> i32 {
                1
            }
        ),
    );
    assert_eq!(
        e,
        "`cgroup_skb`: `attach` is one of \"ingress\", \"egress\", not \"sideways\""
    );
    let e = error_of(
        Kind::Classifier,
        quote!(attach = "both"),
        quote!(
            fn p(c: C) -> i32 {
                0
            }
        ),
    );
    assert!(
        e.starts_with("`classifier`: `attach` is \"ingress\" or \"egress\" (tcx)"),
        "{e}"
    );
}

#[test]
fn argument_given_twice_is_rejected() {
    let e = error_of(
        Kind::FEntry,
        quote!(function = "a", function = "b"),
        quote!(
            fn p(c: C) -> i32 {
                0
            }
        ),
    );
    assert_eq!(e, "`fentry`: `function` given twice");
}

#[test]
fn program_signature_is_checked() {
    let e = error_of(
        Kind::Xdp,
        quote!(),
        quote!(
            fn p(a: A, b: B) -> u32 {
                0
            }
        ),
    );
    assert_eq!(
        e,
        "`xdp` programs take exactly one argument, the context (`ctx: XdpContext`)"
    );
    let e = error_of(
        Kind::Xdp,
        quote!(),
        quote!(
            fn p(a: A) {}
        ),
    );
    assert_eq!(
        e,
        "`xdp` programs return their verdict or 0 (e.g. `-> u32` or `-> i32`)"
    );
    let e = error_of(
        Kind::Xdp,
        quote!(),
        quote!(
            fn p<T>(a: T) -> u32 {
                0
            }
        ),
    );
    assert_eq!(e, "`xdp` programs cannot be generic");
    let e = error_of(
        Kind::Xdp,
        quote!(),
        quote!(
            unsafe fn p(a: A) -> u32 {
                0
            }
        ),
    );
    assert!(e.contains("plain safe"), "{e}");
}

#[test]
fn map_attribute_places_static_in_maps_section() {
    let out = crate::map::expand(
        quote!(),
        quote!(
            static COUNTS: HashMap<u32, u64, 16> = HashMap::new();
        ),
    )
    .expect("expands")
    .to_string();
    assert!(
        out.starts_with(
            "# [unsafe (no_mangle)] # [unsafe (link_section = \".maps\")] static COUNTS"
        ),
        "{out}"
    );
    let out = crate::map::expand(
        quote!(name = "counts_v2"),
        quote!(
            static COUNTS: A = A::new();
        ),
    )
    .expect("expands")
    .to_string();
    assert!(
        out.starts_with(
            "# [unsafe (export_name = \"counts_v2\")] # [unsafe (link_section = \".maps\")]"
        ),
        "{out}"
    );
}

#[test]
fn map_attribute_rejects_non_statics_and_bad_names() {
    let e = crate::map::expand(
        quote!(),
        quote!(
            fn f() {}
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("`map` applies to a `static`"), "{e}");
    let e = crate::map::expand(
        quote!(),
        quote!(
            static mut M: A = A::new();
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("must not be `mut`"), "{e}");
    let e = crate::map::expand(
        quote!(name = "bad name"),
        quote!(
            static M: A = A::new();
        ),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "map name \"bad name\" may only hold ASCII letters, digits and `_`"
    );
}

fn log_error(input: TokenStream) -> String {
    crate::log::expand(input).unwrap_err().to_string()
}

#[test]
fn log_format_is_checked_against_arguments() {
    assert_eq!(
        log_error(quote!(Info, "pid {} comm {}", pid)),
        "log format has 2 placeholders but 1 argument is given"
    );
    assert_eq!(
        log_error(quote!(Warn, "no args", x)),
        "log format has 0 placeholders but 1 argument is given"
    );
    assert_eq!(
        log_error(quote!(Info, "bad {:?}", x)),
        "invalid log format: placeholder `{:?}` at byte 4 is not one of {}, {:x}, {:X}, {:i}, {:mac}"
    );
    assert_eq!(
        log_error(quote!(Info, "open {", x)),
        "invalid log format: `{` at byte 5 is never closed"
    );
    assert_eq!(
        log_error(quote!(Info, 42)),
        "the first argument of a log macro is a string literal format"
    );
    assert_eq!(
        log_error(quote!(Loud, "x")),
        "log level must be Error, Warn, Info, Debug or Trace"
    );
}

#[test]
fn log_expansion_checks_each_hint_and_sizes_the_record() {
    let out =
        crate::log::expand(quote!(Debug, target: "fw", "{} from {:i} via {:mac} {:x}", a, b, c, d))
            .expect("expands")
            .to_string();
    for check in [
        "check_display (__bpfkit_arg0)",
        "check_ip (__bpfkit_arg1)",
        "check_mac (__bpfkit_arg2)",
        "check_hex (__bpfkit_arg3)",
    ] {
        assert!(out.contains(check), "{check} missing: {out}");
    }
    assert!(
        out.contains("const __BPFKIT_TARGET : & str = \"fw\""),
        "{out}"
    );
    assert!(out.contains("Level :: Debug"), "{out}");
    assert!(out.contains("slot_size (__bpfkit_arg3)"), "{out}");
    let out = crate::log::expand(quote!(Info, "plain"))
        .expect("expands")
        .to_string();
    assert!(
        out.contains(":: core :: module_path ! ()"),
        "default target is the module path: {out}"
    );
}

#[test]
fn program_named_like_its_section_is_rejected() {
    let e = error_of(
        Kind::SockOps,
        quote!(),
        quote!(
            fn sockops(c: C) -> i32 {
                1
            }
        ),
    );
    assert!(
        e.starts_with("a program cannot be named `sockops` like its section"),
        "{e}"
    );
}
