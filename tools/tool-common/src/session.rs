//! One tool run from start to end: `-c`'s child forked, filters and globals set, the object
//! loaded, its tracepoints attached, the child released, the run loop started. The links
//! detach and the object's fds close when the [`Session`] drops. [`Session::print_events`]
//! is the event tools' loop: ring buffer `EVENTS` to lines and `--metrics` counts, and
//! the `LOST` counter of events the ring buffer had no room for.

use bpfkit::links::Link;
use bpfkit::loader::{LoadError, Loader, Object};
use bpfkit::maps::{MapData, MapError};
use bpfkit::programs::{tracepoint, AttachError};
use bpfkit::readers::{ReaderError, RingBuf, RingBufPoller};

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
    /// The kernel refused the object.
    #[error(transparent)]
    Load(Box<LoadError>),
    /// The object lacks a program the tool attaches.
    #[error("the {tool} object has no program `{program}`")]
    NoProgram {
        /// The tool.
        tool: String,
        /// The program.
        program: String,
    },
    /// The object lacks a map the tool reads.
    #[error("the {tool} object has no map `{map}`")]
    NoMap {
        /// The tool.
        tool: String,
        /// The map.
        map: String,
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

/// A program to attach: (program name, tracepoint category, tracepoint name).
pub type TracepointAttach<'a> = (&'a str, &'a str, &'a str);

/// A loaded and attached tool.
pub struct Session {
    name: String,
    /// The loaded object (maps to read).
    pub object: Object,
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
    /// Starts tool `name`: forks `-c`'s child (held), resolves the filters, sets them and
    /// `globals` (name, bytes) on a loader, loads `elf`, attaches `tracepoints` (those
    /// whose program is in `optional` may fail: the kernel lacks the tracepoint), tells
    /// stderr "NAME: tracing (…); Ctrl-C to stop". The child runs from the run loop's
    /// first step on.
    pub fn start(
        name: &str,
        elf: &[u8],
        common: &CommonArgs,
        globals: &[(&str, Vec<u8>)],
        tracepoints: &[TracepointAttach<'_>],
        optional: &[&str],
    ) -> Result<Session, ToolError> {
        seconds("duration", common.duration)?;
        seconds("interval", common.interval)?;
        let mut filter = Filter::resolve(&common.filter, None)?;
        let child = TracedChild::for_command(name, &common.command, &mut filter)?;
        let mut loader = Loader::new();
        common.token.apply(&mut loader);
        filter.apply(&mut loader);
        for (global, bytes) in globals {
            loader.set_global(global, bytes);
        }
        let object = loader
            .load(elf, name)
            .map_err(|e| ToolError::Load(Box::new(e)))?;
        let mut links = Vec::new();
        let mut program_ids = Vec::new();
        let mut skipped = Vec::new();
        for (program, category, tp) in tracepoints {
            let prog = object
                .program(program)
                .ok_or_else(|| ToolError::NoProgram {
                    tool: name.to_owned(),
                    program: (*program).to_owned(),
                })?;
            match tracepoint::attach(prog, category, tp) {
                Ok(link) => links.push(link),
                Err(e) if optional.contains(program) => {
                    skipped.push(format!("{category}/{tp} not attached ({e})"));
                    continue;
                }
                Err(source) => {
                    return Err(ToolError::Attach {
                        program: (*program).to_owned(),
                        category: (*category).to_owned(),
                        name: (*tp).to_owned(),
                        source: Box::new(source),
                    })
                }
            }
            program_ids.push(format!(
                "{program} id {}",
                prog.id()
                    .map_or_else(|e| format!("? ({e})"), |id| id.to_string())
            ));
        }
        eprintln!(
            "{name}: tracing ({}); Ctrl-C to stop",
            program_ids.join(", ")
        );
        for line in skipped {
            eprintln!("{name}: {line}; continuing without it");
        }
        // The run loop releases the child at its first step, once the tool has printed its
        // header and set up its readers.
        let run = RunLoop::new(common.duration, common.interval, child)?;
        Ok(Session {
            name: name.to_owned(),
            object,
            run,
            lines: Lines::new(),
            program_ids,
            links,
        })
    }

    /// The map called `map`.
    pub fn map(&self, map: &str) -> Result<&MapData, ToolError> {
        self.object.map(map).ok_or_else(|| ToolError::NoMap {
            tool: self.name.clone(),
            map: map.to_owned(),
        })
    }

    /// Detaches the programs now (before the final read, so nothing changes under it).
    pub fn detach(&mut self) {
        self.links.clear();
    }

    /// Prints the events of the ring buffer `EVENTS` until the run loop stops or stdout
    /// closes: `header` first (unless `json`), then one line per record (JSON or columns),
    /// each counted into `counts`, which `metrics` (if any, named on stderr) serves after
    /// every poll with `<tool>_lost_events_total` (the kernel's `LOST` count). Lost events
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
    ) -> Result<(), ToolError> {
        let mut poller = RingBufPoller::new()?;
        poller.add(RingBuf::new(self.map("EVENTS")?)?)?;
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
            lost.update(self.map(tool_abi::lost::MAP_LOST)?)?;
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
        lost.finish(self.map(tool_abi::lost::MAP_LOST)?)?;
        if let Some(m) = metrics {
            m.set(counts.render() + &lost.render());
        }
        Ok(())
    }
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
