//! One tool run from start to end: [`Setup`] forks `-c`'s child and resolves the filters;
//! the tool sets them and its options in its typed skeleton's `.rodata` and loads it;
//! [`Setup::attach`] attaches the skeleton's programs and starts the run loop, which
//! releases the child. The links detach when the [`Session`] drops.
//! [`Session::print_events`] is the event tools' loop: a ring buffer to lines and
//! `--metrics` counts, and the per-CPU counter of events the ring buffer had no room for.

use bpfkit::links::Link;
use bpfkit::loader::{Loader, Program};
use bpfkit::maps::{MapData, MapError};
use bpfkit::programs::{tracepoint, AttachError};
use bpfkit::readers::{ReaderError, RingBuf, RingBufPoller};
use bpfkit::skel::SkelError;

use crate::child::{ChildError, TracedChild};
use crate::filter::{Filter, FilterError};
use crate::lost::LostEvents;
use crate::metrics::{EventCounts, Metrics};
use crate::output::Lines;
use crate::run::{seconds, stop_requested, RunError, RunLoop, Step};
use crate::CommonArgs;

/// Why a tool stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Bad `--pid`/`--comm`/`--cgroup`.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// `-c` could not start its command.
    #[error(transparent)]
    Child(#[from] ChildError),
    /// Signal handlers, `--duration`, `--interval`.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The skeleton could not open the object, the kernel refused it, or a map is missing.
    #[error(transparent)]
    Skel(Box<SkelError>),
    /// The object lacks a program the tool attaches.
    #[error("the {tool} object has no program for {tracepoint} (not loaded)")]
    NoProgram {
        /// The tool.
        tool: String,
        /// The tracepoint (`category/name`).
        tracepoint: String,
    },
    /// A tracepoint could not be attached.
    #[error("attaching {program} to {category}/{name}")]
    Attach {
        /// The program.
        program: String,
        /// Tracepoint category.
        category: String,
        /// Tracepoint name.
        name: String,
        /// What went wrong.
        #[source]
        source: Box<AttachError>,
    },
    /// Reading a ring buffer failed.
    #[error(transparent)]
    Reader(#[from] ReaderError),
    /// Reading a map failed.
    #[error(transparent)]
    Map(#[from] MapError),
    /// `--metrics` could not start.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// `--otlp-endpoint` could not start.
    #[cfg(feature = "otlp")]
    #[error(transparent)]
    Otlp(#[from] crate::otlp::OtlpError),
    /// A tool-specific option is wrong.
    #[error("{0}")]
    Usage(String),
    /// Anything else, said in words.
    #[error("{0}")]
    Other(String),
}

/// A tracepoint to attach a program of the tool's skeleton to.
#[derive(Debug, Clone, Copy)]
pub struct Tracepoint<'a> {
    /// The program (the skeleton's accessor; `None` when it was not loaded).
    pub program: Option<&'a Program>,
    /// Tracepoint category (`syscalls`, `raw_syscalls`, `sock`, …).
    pub category: &'a str,
    /// Tracepoint name.
    pub name: &'a str,
    /// Whether the run goes on without it when the kernel lacks the tracepoint (said on
    /// stderr).
    pub optional: bool,
}

impl<'a> Tracepoint<'a> {
    /// `program` on `category/name`, required.
    pub fn new(program: Option<&'a Program>, category: &'a str, name: &'a str) -> Self {
        Tracepoint {
            program,
            category,
            name,
            optional: false,
        }
    }

    /// `program` on `category/name`, skipped when it cannot be attached.
    pub fn optional(program: Option<&'a Program>, category: &'a str, name: &'a str) -> Self {
        Tracepoint {
            optional: true,
            ..Tracepoint::new(program, category, name)
        }
    }
}

/// A tool run before its object is loaded: `-c`'s child forked (held), the filters
/// resolved, a [`Loader`] with the token options. The tool opens its typed skeleton, sets
/// its `.rodata` (the filter with [`set_filter!`](crate::set_filter)), loads it with
/// [`Setup::loader`] and hands the programs to [`Setup::attach`].
#[derive(Debug)]
pub struct Setup {
    name: String,
    filter: Filter,
    child: Option<TracedChild>,
    loader: Loader,
    duration: Option<f64>,
    interval: Option<f64>,
}

impl Setup {
    /// Checks `--duration`/`--interval`, resolves the filters and forks `-c`'s child (held
    /// until the run loop's first step) for tool `name`.
    pub fn new(name: &str, common: &CommonArgs) -> Result<Setup, ToolError> {
        seconds("duration", common.duration)?;
        seconds("interval", common.interval)?;
        let mut filter = Filter::resolve(&common.filter, None)?;
        let child = TracedChild::for_command(name, &common.command, &mut filter)?;
        let mut loader = Loader::new();
        common.token.apply(&mut loader);
        Ok(Setup {
            name: name.to_owned(),
            filter,
            child,
            loader,
            duration: common.duration,
            interval: common.interval,
        })
    }

    /// The resolved filter (narrowed to `-c`'s child), for the skeleton's `.rodata`.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The loader to load the skeleton with (token options set).
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// Attaches `tracepoints` (an optional one may fail: the kernel lacks the tracepoint),
    /// tells stderr "NAME: tracing (…); Ctrl-C to stop" and starts the run loop, whose
    /// first step releases `-c`'s child.
    pub fn attach(self, tracepoints: &[Tracepoint<'_>]) -> Result<Session, ToolError> {
        let name = self.name;
        let mut links = Vec::new();
        let mut program_ids = Vec::new();
        let mut skipped = Vec::new();
        for tp in tracepoints {
            let prog = tp.program.ok_or_else(|| ToolError::NoProgram {
                tool: name.clone(),
                tracepoint: format!("{}/{}", tp.category, tp.name),
            })?;
            match tracepoint::attach(prog, tp.category, tp.name) {
                Ok(link) => links.push(link),
                Err(e) if tp.optional => {
                    skipped.push(format!("{}/{} not attached ({e})", tp.category, tp.name));
                    continue;
                }
                Err(source) => {
                    return Err(ToolError::Attach {
                        program: prog.name().to_owned(),
                        category: tp.category.to_owned(),
                        name: tp.name.to_owned(),
                        source: Box::new(source),
                    })
                }
            }
            program_ids.push(format!(
                "{} id {}",
                prog.name(),
                prog.id()
                    .map_or_else(|e| format!("? ({e})"), |id| id.to_string())
            ));
        }
        // The Ctrl-C handlers are in place before "tracing" is printed: whoever waits for that
        // line and then sends SIGINT must stop the run, not kill the tool. The run loop
        // releases the child at its first step, once the tool has printed its header and set
        // up its readers.
        let run = RunLoop::new(self.duration, self.interval, self.child)?;
        eprintln!(
            "{name}: tracing ({}); Ctrl-C to stop",
            program_ids.join(", ")
        );
        for line in skipped {
            eprintln!("{name}: {line}; continuing without it");
        }
        Ok(Session {
            name,
            run,
            lines: Lines::new(),
            program_ids,
            links,
        })
    }
}

/// A loaded and attached tool (its skeleton, which owns the object and its maps, stays
/// with the tool). The links detach when the [`Session`] drops or at [`Session::detach`].
pub struct Session {
    name: String,
    /// The run loop (owns `-c`'s child).
    pub run: RunLoop,
    /// Stdout.
    pub lines: Lines,
    /// Ids of the attached programs, as `name id N`.
    pub program_ids: Vec<String>,
    links: Vec<Link>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("name", &self.name)
            .field("program_ids", &self.program_ids)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Detaches the programs now (before the final read, so nothing changes under it).
    pub fn detach(&mut self) {
        self.links.clear();
    }

    /// Prints the events of `source`'s ring buffer until the run loop stops or stdout
    /// closes: `header` first (unless `json`), then one line per record (JSON or columns),
    /// each counted into `counts`, which `metrics` (if any, named on stderr) serves after
    /// every poll with `<tool>_lost_events_total` (the count in `source`'s lost-events
    /// map). Lost events
    /// are warned about on stderr as the count grows and once more at the end.
    /// Undecodable records are reported on stderr and skipped. After the stop the programs
    /// detach and what they wrote last is printed and counted.
    pub fn print_events<E, D: std::fmt::Display>(
        &mut self,
        header: &str,
        json: bool,
        metrics: Option<&Metrics>,
        mut counts: EventCounts,
        format: &EventFormat<E, D>,
        source: EventSource<'_>,
    ) -> Result<(), ToolError> {
        let lost_map = source.lost;
        let mut poller = RingBufPoller::new()?;
        poller.add(source.events)?;
        let mut lost = LostEvents::new(&self.name);
        if let Some(m) = metrics {
            // Set before it is announced: a scrape after the announcement sees every family.
            m.set(counts.render() + &lost.render());
            m.announce();
        }
        if !json && !self.lines.line(header) {
            return Ok(());
        }
        let line = |event: &E| {
            if json {
                (format.json_line)(event)
            } else {
                (format.text_line)(event)
            }
        };
        loop {
            let timeout = match self.run.step() {
                Step::Wait(timeout) => timeout,
                Step::Interval => continue,
                Step::Stop => break,
            };
            let name = &self.name;
            let lines = &mut self.lines;
            let counts = &mut counts;
            let polled = poller.poll(Some(timeout), |_, record| match (format.decode)(record) {
                Ok(event) => {
                    (format.count)(counts, &event);
                    lines.line(&line(&event));
                }
                Err(e) => eprintln!("{name}: skipping a record: {e}"),
            });
            lost.update(lost_map)?;
            if let Some(m) = metrics {
                m.set(counts.render() + &lost.render());
            }
            match polled {
                Ok(_) if self.lines.closed() => return Ok(()),
                Ok(_) => {}
                Err(_) if stop_requested() => break,
                Err(e) => return Err(e.into()),
            }
        }
        // Whatever the last programs wrote before they detach, counted too: the last
        // metrics equal what was printed.
        self.detach();
        let lines = &mut self.lines;
        let counts = &mut counts;
        poller.poll(Some(std::time::Duration::ZERO), |_, record| {
            if let Ok(event) = (format.decode)(record) {
                (format.count)(counts, &event);
                lines.line(&line(&event));
            }
        })?;
        lost.finish(lost_map)?;
        if let Some(m) = metrics {
            m.set(counts.render() + &lost.render());
        }
        Ok(())
    }
}

/// Where an event tool's records come from, both from its typed skeleton's maps.
#[derive(Debug)]
pub struct EventSource<'a> {
    /// The ring buffer the kernel side writes its records to (`EVENTS`).
    pub events: RingBuf,
    /// The per-CPU count of records the full ring buffer refused (`LOST`, defined by
    /// `tool_abi::lost_counter!`).
    pub lost: &'a MapData,
}

/// How an event tool's ring-buffer records become events, output lines and `--metrics`
/// counts (see [`Session::print_events`]).
pub struct EventFormat<E, D> {
    /// Decodes one record.
    pub decode: fn(&[u8]) -> Result<E, D>,
    /// The `--json` line of an event.
    pub json_line: fn(&E) -> String,
    /// The column line of an event.
    pub text_line: fn(&E) -> String,
    /// Adds an event to the `--metrics` counts.
    pub count: fn(&mut EventCounts, &E),
}

impl From<SkelError> for ToolError {
    fn from(e: SkelError) -> Self {
        ToolError::Skel(Box::new(e))
    }
}

/// Runs `main` and turns its error into "NAME: error" on stderr and exit status 1.
pub fn exit_with(name: &str, result: Result<(), ToolError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {}", bpfkit::Report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
