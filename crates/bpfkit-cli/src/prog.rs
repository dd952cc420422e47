//! `bpfkit prog`: list loaded programs and show one, with the kernel's info fields.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use bpfkit::info::{self, ProgramInfo};
use bpfkit::pin;
use bpfkit::programs::{ProgramType, ProgramTypeExt};
use bpfkit::sys::{self, ObjectKind};
use serde_json::{json, Value};

const LONG_ABOUT: &str = "\
List loaded programs, or show one by id or pin path, with what the kernel reports (bpf_prog_info).

With --json, `list` prints an array and `show` one object of this shape (stable; fields may be
added, never removed):
{
  \"id\": 42, \"type\": \"tracepoint\",          // bpftool's name (lower-case enum bpf_prog_type)
  \"name\": \"handle_exec\",                    // the kernel's name, at most 15 bytes
  \"tag\": \"0123456789abcdef\", \"gpl_compatible\": true,
  \"loaded_at_ns\": 123456789,                 // CLOCK_BOOTTIME of the load
  \"uid\": 0, \"bytes_xlated\": 336, \"bytes_jited\": 204, \"verified_insns\": 42,
  \"map_ids\": [3, 4], \"btf_id\": 7,            // btf_id 0: loaded without BTF
  \"run_time_ns\": 0, \"run_cnt\": 0             // counted while stats are enabled
}";

/// `bpfkit prog` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List every loaded program.
    #[command(long_about = LONG_ABOUT)]
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one program, by id or pin path.
    #[command(long_about = LONG_ABOUT)]
    Show {
        /// A program id, or the path of a pinned program.
        prog: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a program's translated instructions (with source lines) or JIT-compiled code.
    #[command(long_about = crate::prog_dump::LONG_ABOUT)]
    Dump {
        /// xlated (BPF instructions) or jited (machine code).
        #[arg(value_enum)]
        kind: crate::prog_dump::Kind,
        /// A program id, or the path of a pinned program.
        prog: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// bpftool's name of a program type number (the lower-case kernel name), or the number.
pub fn type_name(number: u32) -> String {
    ProgramType::from_number(number)
        .map(|t| t.kernel_name().to_string())
        .unwrap_or_else(|| number.to_string())
}

fn to_json(p: &ProgramInfo) -> Value {
    json!({
        "id": p.id,
        "type": type_name(p.program_type),
        "name": p.name,
        "tag": p.tag_hex(),
        "gpl_compatible": p.gpl_compatible,
        "loaded_at_ns": p.load_time,
        "uid": p.created_by_uid,
        "bytes_xlated": p.xlated_prog_len,
        "bytes_jited": p.jited_prog_len,
        "verified_insns": p.verified_insns,
        "map_ids": p.map_ids,
        "btf_id": p.btf_id,
        "run_time_ns": p.run_time_ns,
        "run_cnt": p.run_cnt,
    })
}

fn to_text(p: &ProgramInfo) -> String {
    let mut s = format!(
        "{}: {}  name {}  tag {}{}\n\txlated {}B  jited {}B  verified_insns {}  uid {}",
        p.id,
        type_name(p.program_type),
        p.name,
        p.tag_hex(),
        if p.gpl_compatible { "  gpl" } else { "" },
        p.xlated_prog_len,
        p.jited_prog_len,
        p.verified_insns,
        p.created_by_uid
    );
    if !p.map_ids.is_empty() {
        let ids: Vec<String> = p.map_ids.iter().map(u32::to_string).collect();
        s.push_str(&format!("  map_ids {}", ids.join(",")));
    }
    if p.btf_id != 0 {
        s.push_str(&format!("  btf_id {}", p.btf_id));
    }
    if p.run_cnt != 0 {
        s.push_str(&format!(
            "\n\trun_time_ns {}  run_cnt {}",
            p.run_time_ns, p.run_cnt
        ));
    }
    s
}

/// Opens `arg` as a program id (digits) or a pin path; returns the fd and how to name it in
/// errors ("program id 7", "/sys/fs/bpf/x").
pub fn open(arg: &str) -> Result<(OwnedFd, String), String> {
    if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit()) {
        let what = format!("program id {arg}");
        let id: u32 = arg.parse().map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("{what}: {e}")
        })?;
        let fd = sys::get_fd_by_id(ObjectKind::Prog, id).map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("{what}: {e}")
        })?;
        Ok((fd, what))
    } else {
        let fd = pin::open_pinned_kind(Path::new(arg), ObjectKind::Prog).map_err(|e| {
            let e = bpfkit::Report(&e);
            e.to_string()
        })?;
        Ok((fd, arg.to_owned()))
    }
}

/// Run a `bpfkit prog` subcommand.
pub fn run(cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Command::List { json } => {
            let progs = info::loaded_programs().map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("listing programs: {e}")
            })?;
            if json {
                println!(
                    "{}",
                    Value::from(progs.iter().map(to_json).collect::<Vec<_>>())
                );
            } else {
                for p in &progs {
                    println!("{}", to_text(p));
                }
            }
        }
        Command::Show { prog, json } => {
            let (fd, what) = open(&prog)?;
            let p = ProgramInfo::from_fd(fd.as_fd()).map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("{what}: {e}")
            })?;
            if json {
                println!("{}", to_json(&p));
            } else {
                println!("{}", to_text(&p));
            }
        }
        Command::Dump { kind, prog, json } => crate::prog_dump::run(kind, &prog, json)?,
    }
    Ok(())
}
