//! Tracepoints (`SEC("tracepoint/<category>/<name>")`): a perf event of type
//! `PERF_TYPE_TRACEPOINT` with the program attached by perf link (ioctl on old kernels).

use crate::caps;
use crate::links::Link;
use crate::loader::Program;
use crate::sys::{perf_event, tracefs};

use super::perf_attach::{attach_perf_event, expect_type};
use super::{AttachError, ProgramType};

/// Attach a `BPF_PROG_TYPE_TRACEPOINT` program to tracepoint `category/name`
/// (e.g. `syscalls`, `sys_enter_openat`), for every process on every CPU.
#[doc(alias = "BPF_PROG_TYPE_TRACEPOINT")]
pub fn attach(program: &Program, category: &str, name: &str) -> Result<Link, AttachError> {
    attach_with_cookie(program, category, name, None)
}

/// [`attach`] with a BPF cookie the program reads with `bpf_get_attach_cookie` (Linux 5.15).
pub fn attach_with_cookie(
    program: &Program,
    category: &str,
    name: &str,
    cookie: Option<u64>,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Tracepoint], "a TRACEPOINT program")?;
    let target = format!("{category}/{name}");
    let id = tracefs::tracepoint_id(category, name).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::PermissionDenied => format!(
                "cannot read the tracepoint's id: {e}; tracefs is readable by root only{}, \
                 or use a raw_tp/tp_btf program, which needs no tracefs",
                caps::missing_hint(&[caps::Capability::DacReadSearch])
                    .map_or(String::new(), |m| format!(" ({m})"))
            ),
            _ => format!("no such tracepoint: {e}"),
        };
        AttachError::target(program.name(), &target, why)
    })?;
    let mut attr = perf_event::PerfEventAttr::new(perf_event::PERF_TYPE_TRACEPOINT, id);
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    let event = perf_event::perf_event_open(&attr, -1, 0, None).map_err(|e| {
        AttachError::syscall(
            program.name(),
            format!("perf_event_open tracepoint {target}"),
            e,
        )
    })?;
    attach_perf_event(
        program,
        event,
        cookie,
        None,
        &format!("tracepoint {target}"),
    )
}

/// Split a section target `category/name` into its two parts.
pub fn parse_target(target: &str) -> Option<(&str, &str)> {
    let (category, name) = target.split_once('/')?;
    (!category.is_empty() && !name.is_empty() && !name.contains('/')).then_some((category, name))
}

#[cfg(test)]
mod tests {
    use super::parse_target;

    #[test]
    fn targets_are_category_slash_name() {
        assert_eq!(
            parse_target("syscalls/sys_enter_openat"),
            Some(("syscalls", "sys_enter_openat"))
        );
        assert_eq!(parse_target("syscalls"), None);
        assert_eq!(parse_target("a/b/c"), None);
        assert_eq!(parse_target("/x"), None);
    }
}
