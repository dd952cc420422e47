//! Sampling perf events (`SEC("perf_event")`, `BPF_PROG_TYPE_PERF_EVENT`): the program runs on
//! each sample of a software clock or hardware counter, by frequency or period, per CPU.

use crate::links::Link;
use crate::loader::Program;
use crate::sys::perf_event as pe;

use super::perf_attach::{attach_perf_event, attach_perf_event_fd, expect_type};
use super::{AttachError, ProgramType};

/// What to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerfEventKind {
    /// `PERF_COUNT_SW_CPU_CLOCK`: works everywhere, also in VMs without a PMU.
    CpuClock,
    /// A software event `PERF_COUNT_SW_*` by number.
    Software(u64),
    /// A hardware event `PERF_COUNT_HW_*` by number (0 = CPU cycles); needs a hardware PMU.
    Hardware(u64),
}

/// When to sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplePolicy {
    /// This many samples per second.
    Frequency(u64),
    /// One sample every this many events (ns for the CPU clock).
    Period(u64),
}

/// Which tasks and CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerfEventScope {
    /// Every task, on every online CPU (one event per CPU).
    AllCpus,
    /// Every task on one CPU.
    Cpu(u32),
    /// One task (a thread id; a process id is its main thread), on any CPU.
    Task(i32),
}

/// Attach a perf_event program to sampling events; a [`Link`] group for several CPUs.
#[doc(alias = "BPF_PROG_TYPE_PERF_EVENT")]
pub fn attach(
    program: &Program,
    kind: PerfEventKind,
    sample: SamplePolicy,
    scope: PerfEventScope,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::PerfEvent], "a PERF_EVENT program")?;
    let (type_, config) = match kind {
        PerfEventKind::CpuClock => (pe::PERF_TYPE_SOFTWARE, pe::PERF_COUNT_SW_CPU_CLOCK),
        PerfEventKind::Software(n) => (pe::PERF_TYPE_SOFTWARE, n),
        PerfEventKind::Hardware(n) => (pe::PERF_TYPE_HARDWARE, n),
    };
    let mut attr = pe::PerfEventAttr::new(type_, config);
    match sample {
        SamplePolicy::Frequency(f) => {
            attr.sample_period = f;
            attr.flags |= pe::ATTR_FLAG_FREQ;
        }
        SamplePolicy::Period(p) => attr.sample_period = p,
    }
    let targets: Vec<(i32, i32)> = match scope {
        PerfEventScope::AllCpus => crate::cpus::online_cpus()
            .map_err(|e| {
                let e = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
                AttachError::io(program.name(), "list the online CPUs", e)
            })?
            .into_iter()
            .map(|c| (-1, c as i32))
            .collect(),
        PerfEventScope::Cpu(c) => vec![(-1, c as i32)],
        PerfEventScope::Task(tid) => vec![(tid, -1)],
    };
    let mut links = Vec::with_capacity(targets.len());
    for (pid, cpu) in targets {
        let what = format!("perf event {kind:?} pid {pid} cpu {cpu}");
        let event = pe::perf_event_open(&attr, pid, cpu, None).map_err(|source| {
            let hint = (source.errno() == Some(libc::ENOENT)
                && matches!(kind, PerfEventKind::Hardware(_)))
            .then_some(
                "no hardware PMU for this event (common in VMs): use PerfEventKind::CpuClock",
            );
            AttachError::Syscall {
                requires: None,
                program: program.name().to_owned(),
                operation: format!("perf_event_open {what}"),
                source,
                hint,
            }
        })?;
        links.push(attach_perf_event(program, event, None, None, &what)?);
    }
    Ok(if links.len() == 1 {
        links.remove(0)
    } else {
        Link::group(links)
    })
}

/// Attach a loaded program, known only by its fd, to an open perf event (a tracepoint,
/// kprobe, uprobe or sampling event the caller opened): a bpf perf link where the kernel has
/// one (Linux 5.15), else `PERF_EVENT_IOC_SET_BPF`; the event is enabled. `name` and `what`
/// only name the program and the event in errors. Dropping the [`Link`] detaches and closes
/// the event.
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use bpfkit::sys::perf_event as pe;
/// # fn f(prog: std::os::fd::OwnedFd) -> Result<(), Box<dyn std::error::Error>> {
/// let attr = pe::PerfEventAttr::new(pe::PERF_TYPE_SOFTWARE, pe::PERF_COUNT_SW_CPU_CLOCK);
/// let event = pe::perf_event_open(&attr, -1, 0, None)?;
/// let link = bpfkit::programs::perf_event::attach_fd(prog.as_fd(), "sampler", event, "cpu-clock")?;
/// # Ok(()) }
/// ```
pub fn attach_fd(
    program: std::os::fd::BorrowedFd<'_>,
    name: &str,
    event: std::os::fd::OwnedFd,
    what: &str,
) -> Result<Link, AttachError> {
    attach_perf_event_fd(program, name, event, None, None, what)
}
