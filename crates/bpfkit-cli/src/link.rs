//! `bpfkit link`: list the kernel's links (attachments) with their program.

use bpfkit::info;
use bpfkit::sys::uapi;
use serde_json::{json, Value};

const LONG_ABOUT: &str = "\
List every BPF link the kernel holds (bpf_link_info).

With --json, an array of objects of this shape (stable; fields may be added, never removed):
  [{ \"id\": 5, \"type\": \"raw_tracepoint\",   // bpftool's name (lower-case enum bpf_link_type)
     \"prog_id\": 42 }]";

/// `bpfkit link` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List every link.
    #[command(long_about = LONG_ABOUT)]
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// bpftool's name of a link type number, or the number.
pub fn type_name(number: u32) -> String {
    let name = match number {
        uapi::BPF_LINK_TYPE_UNSPEC => "unspec",
        uapi::BPF_LINK_TYPE_RAW_TRACEPOINT => "raw_tracepoint",
        uapi::BPF_LINK_TYPE_TRACING => "tracing",
        uapi::BPF_LINK_TYPE_CGROUP => "cgroup",
        uapi::BPF_LINK_TYPE_ITER => "iter",
        uapi::BPF_LINK_TYPE_NETNS => "netns",
        uapi::BPF_LINK_TYPE_XDP => "xdp",
        uapi::BPF_LINK_TYPE_PERF_EVENT => "perf_event",
        uapi::BPF_LINK_TYPE_KPROBE_MULTI => "kprobe_multi",
        uapi::BPF_LINK_TYPE_STRUCT_OPS => "struct_ops",
        10 => "netfilter",
        11 => "tcx",
        12 => "uprobe_multi",
        13 => "netkit",
        14 => "sockmap",
        _ => return number.to_string(),
    };
    name.to_owned()
}

/// Run a `bpfkit link` subcommand.
pub fn run(cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Command::List { json } => {
            let links = info::loaded_links().map_err(|e| format!("listing links: {e}"))?;
            if json {
                let out: Vec<Value> = links
                    .iter()
                    .map(|l| json!({ "id": l.id, "type": type_name(l.link_type), "prog_id": l.prog_id }))
                    .collect();
                println!("{}", Value::from(out));
            } else {
                for l in &links {
                    println!("{}: {}  prog {}", l.id, type_name(l.link_type), l.prog_id);
                }
            }
        }
    }
    Ok(())
}
