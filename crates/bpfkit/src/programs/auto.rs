//! Auto-attach: attach a program where its section name says (`tp/syscalls/sys_enter_openat`,
//! `kprobe/do_unlinkat+0x10`, `uprobe/libc.so.6:malloc`, `usdt/bin:provider:name`, ...), as
//! libbpf's `bpf_program__attach` does.

use bpfkit_obj::object::AutoAttach;

use crate::links::Link;
use crate::loader::Program;
use crate::programs::ProgramTypeExt;

use super::{cgroup, tc, xdp, Interface};
use super::{extension, iter, kprobe, lsm, raw_tracepoint, tracepoint, tracing, uprobe, usdt};
use super::{AttachError, ProgramType};

/// Attach `program` the way its section name says. Sections that name no target fail with
/// [`AttachError::NotAutoAttachable`].
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("opensnoop.bpf.o")?;
/// let links: Vec<_> = object
///     .programs()
///     .map(bpfkit::programs::auto::attach)
///     .collect::<Result<_, _>>()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn attach(program: &Program) -> Result<Link, AttachError> {
    let section = program.section();
    let kind = section.kind.unwrap_or_default();
    let target = section.attach_target.as_deref().unwrap_or_default();
    let name = program.name();
    let not_auto = || AttachError::NotAutoAttachable {
        program: name.to_owned(),
        section: section.name.clone(),
    };
    let needs_target = |t: &str| {
        if t.is_empty() {
            Err(not_auto())
        } else {
            Ok(())
        }
    };
    match section.auto_attach {
        AutoAttach::None => Err(not_auto()),
        AutoAttach::Tracepoint => {
            needs_target(target)?;
            let (category, event) = tracepoint::parse_target(target).ok_or_else(|| {
                AttachError::target(name, target, "a tracepoint target is 'category/name'")
            })?;
            tracepoint::attach(program, category, event)
        }
        AutoAttach::RawTracepoint => {
            needs_target(target)?;
            raw_tracepoint::attach(program, target)
        }
        AutoAttach::Trace => {
            if section.program_type as u32 == ProgramType::Ext.number() {
                return extension::attach(program);
            }
            tracing::attach(program)
        }
        AutoAttach::Lsm => lsm::attach(program),
        AutoAttach::Iter => iter::attach(program),
        AutoAttach::Kprobe => {
            needs_target(target)?;
            let (function, offset) = split_offset(target).ok_or_else(|| {
                AttachError::target(name, target, "a kprobe target is 'function[+offset]'")
            })?;
            let options = kprobe::KprobeOptions {
                retprobe: kind.starts_with("kretprobe"),
                offset,
                ..Default::default()
            };
            kprobe::attach(program, function, &options)
        }
        AutoAttach::Ksyscall => {
            needs_target(target)?;
            kprobe::attach_syscall(program, target, kind.starts_with("kretsyscall"))
        }
        AutoAttach::KprobeMulti | AutoAttach::KprobeSession => {
            needs_target(target)?;
            kprobe::attach_multi_pattern(program, target, kind.starts_with("kretprobe"))
        }
        AutoAttach::Uprobe => {
            needs_target(target)?;
            let (binary, function) = target.rsplit_once(':').ok_or_else(|| {
                AttachError::target(
                    name,
                    target,
                    "a uprobe target is 'binary:function[+offset]'",
                )
            })?;
            let (symbol, offset) = split_offset(function)
                .ok_or_else(|| AttachError::target(name, target, "bad '+offset'"))?;
            let options = uprobe::UprobeOptions {
                retprobe: kind.starts_with("uretprobe"),
                ..Default::default()
            };
            let place = match symbol
                .strip_prefix("0x")
                .map(|h| u64::from_str_radix(h, 16))
            {
                Some(Ok(address)) => uprobe::UprobeTarget::Offset(address + offset),
                _ => uprobe::UprobeTarget::Symbol(symbol, offset),
            };
            uprobe::attach(program, binary, place, &options)
        }
        AutoAttach::UprobeMulti => {
            needs_target(target)?;
            let (binary, pattern) = target.rsplit_once(':').ok_or_else(|| {
                AttachError::target(name, target, "a uprobe.multi target is 'binary:pattern'")
            })?;
            let options = uprobe::UprobeMultiOptions {
                retprobe: kind.starts_with("uretprobe"),
                ..Default::default()
            };
            uprobe::attach_multi_pattern(program, binary, pattern, &options)
        }
        AutoAttach::Usdt => {
            needs_target(target)?;
            let mut parts = target.rsplitn(3, ':');
            let (Some(probe), Some(provider), Some(binary)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(AttachError::target(
                    name,
                    target,
                    "a USDT target is 'binary:provider:name'",
                ));
            };
            usdt::attach(
                program,
                binary,
                provider,
                probe,
                &usdt::UsdtOptions::default(),
            )
        }
    }
}

/// Targets a section name cannot carry, for [`attach_with`]: the interface of XDP and tc
/// programs, the cgroup of cgroup programs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AutoTargets<'a> {
    /// The interface for `xdp`, `tc`, `tcx/ingress`, `tcx/egress` programs.
    pub interface: Option<Interface<'a>>,
    /// The cgroup v2 directory for `cgroup_skb/…`, `cgroup/…`, `sockops` and `lsm_cgroup/…`
    /// programs.
    pub cgroup: Option<&'a std::path::Path>,
}

/// [`attach`], and where the section names no target, the one `targets` gives: XDP (default
/// options) and tc programs (`tcx/egress` on egress, `tc` and `tcx/ingress` on ingress; tcx,
/// or a `cls_bpf` filter without tcx) on the interface, cgroup and `lsm_cgroup` programs (a
/// cgroup link) on the cgroup. Others fail with [`AttachError::NotAutoAttachable`]; `sk_lookup` and
/// `flow_dissector` programs change a whole network namespace and are never attached
/// implicitly ([`netns::attach`](super::netns::attach)).
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("xdp.bpf.o")?;
/// use bpfkit::programs::auto::{self, AutoTargets};
/// let targets = AutoTargets { interface: Some("eth0".into()), ..Default::default() };
/// let link = auto::attach_with(object.program("count").unwrap(), &targets)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn attach_with(program: &Program, targets: &AutoTargets<'_>) -> Result<Link, AttachError> {
    let section = program.section();
    if section.auto_attach != AutoAttach::None {
        return attach(program);
    }
    let not_auto = || AttachError::NotAutoAttachable {
        program: program.name().to_owned(),
        section: section.name.clone(),
    };
    let program_type =
        ProgramType::from_number(section.program_type as u32).ok_or_else(not_auto)?;
    let expected = section.expected_attach_type;
    use bpfkit_obj::object::AttachType;
    match program_type {
        ProgramType::Xdp => match (expected, targets.interface) {
            (Some(AttachType::XdpDevmap | AttachType::XdpCpumap), _) | (_, None) => Err(not_auto()),
            (_, Some(interface)) => xdp::attach(program, interface, &xdp::XdpOptions::default()),
        },
        ProgramType::SchedCls => {
            let interface = targets.interface.ok_or_else(not_auto)?;
            let hook = match expected {
                Some(AttachType::TcxEgress) => tc::TcHook::Egress,
                Some(AttachType::TcxIngress) | None => tc::TcHook::Ingress,
                Some(_) => return Err(not_auto()),
            };
            tc::attach(program, interface, hook, &tc::TcOptions::default())
        }
        ProgramType::CgroupSkb
        | ProgramType::CgroupSock
        | ProgramType::CgroupSockAddr
        | ProgramType::CgroupSockopt
        | ProgramType::CgroupSysctl
        | ProgramType::CgroupDevice
        | ProgramType::SockOps => {
            let path = targets.cgroup.ok_or_else(not_auto)?;
            cgroup::attach_path(program, path, &cgroup::CgroupOptions::default())
        }
        ProgramType::Lsm if expected == Some(AttachType::LsmCgroup) => {
            let path = targets.cgroup.ok_or_else(not_auto)?;
            lsm::attach_cgroup_path(program, path, &cgroup::CgroupOptions::default())
        }
        _ => Err(not_auto()),
    }
}

/// `function+0x10` → (`function`, 16); `function` → (`function`, 0).
fn split_offset(target: &str) -> Option<(&str, u64)> {
    match target.split_once('+') {
        None => Some((target, 0)),
        Some((f, off)) => {
            let off = match off.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                None => off.parse().ok()?,
            };
            Some((f, off))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_offset;

    #[test]
    fn offsets_after_plus_are_hex_or_decimal() {
        assert_eq!(split_offset("do_unlinkat"), Some(("do_unlinkat", 0)));
        assert_eq!(split_offset("do_unlinkat+0x10"), Some(("do_unlinkat", 16)));
        assert_eq!(split_offset("f+12"), Some(("f", 12)));
        assert_eq!(split_offset("f+zz"), None);
    }
}
