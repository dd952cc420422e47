//! `bpfkit link`: list the kernel's links (attachments) with their program.

use std::path::PathBuf;

use bpfkit::info::{self, LinkTarget};
use bpfkit::sys::uapi;
use bpfkit_obj::object::AttachType;
use serde_json::{json, Value};

const LONG_ABOUT: &str = "\
List every BPF link the kernel holds (bpf_link_info), with what each attaches its program to:
tracepoint name, kprobe function+offset, uprobe path:offset, interface (index and name),
cgroup path (the cgroup id looked up on the cgroup2 file system), iterator, netns, ...

With --json, an array of objects of this shape (stable; fields may be added, never removed):
  [{ \"id\": 5, \"type\": \"perf_event\",        // bpftool's name (lower-case enum bpf_link_type)
     \"prog_id\": 42,
     \"target\": { \"kind\": \"tracepoint\", \"name\": \"sys_enter_execve\" } }]
\"target\" by kind (null when the link type has no target fields):
  raw_tracepoint, tracepoint: name;  kprobe, kretprobe: function, offset, addr;
  uprobe, uretprobe: path, offset;  uprobe_multi: path, count, pid, flags;
  kprobe_multi: count, flags;  perf_event: event_type, config;
  cgroup: cgroup_id, path (null if not found on a cgroup2 mount), attach_type;
  xdp: ifindex, ifname;  tcx, netkit: ifindex, ifname, attach_type;
  tracing: attach_type, target_obj_id, target_btf_id;  iter: target, map_id;
  netns: netns_ino, attach_type;  netfilter: pf, hooknum, priority;
  struct_ops: map_id;  sockmap: map_id, attach_type.
attach_type is the lower-case enum bpf_attach_type name (or the number).";

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
        uapi::BPF_LINK_TYPE_NETFILTER => "netfilter",
        uapi::BPF_LINK_TYPE_TCX => "tcx",
        uapi::BPF_LINK_TYPE_UPROBE_MULTI => "uprobe_multi",
        uapi::BPF_LINK_TYPE_NETKIT => "netkit",
        uapi::BPF_LINK_TYPE_SOCKMAP => "sockmap",
        _ => return number.to_string(),
    };
    name.to_owned()
}

/// The lower-case kernel name of an attach type number, or the number.
fn attach_type_name(number: u32) -> String {
    AttachType::from_u32(number)
        .map(|t| t.kernel_name().to_owned())
        .unwrap_or_else(|| number.to_string())
}

/// The name of interface `ifindex`, if it exists in this network namespace.
fn ifname(ifindex: u32) -> Option<String> {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: `buf` holds IF_NAMESIZE bytes, the size if_indextoname writes at most.
    let ret = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr().cast()) };
    (!ret.is_null()).then(|| info::c_name(&buf))
}

/// Mount points of cgroup2 file systems, from /proc/self/mounts.
fn cgroup2_mounts() -> Vec<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, dir, fstype) = (f.next()?, f.next()?, f.next()?);
            (fstype == "cgroup2").then(|| PathBuf::from(dir.replace("\\040", " ")))
        })
        .collect()
}

/// The path of the cgroup with id `id`: on cgroup2 a cgroup's id is the inode number of its
/// directory, so walk each cgroup2 mount for it.
fn cgroup_path(id: u64, mounts: &[PathBuf]) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    for root in mounts {
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&dir) else {
                continue;
            };
            if meta.ino() == id {
                return Some(dir);
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
    }
    None
}

/// The target as JSON (`null` for `Unknown`).
fn target_json(target: &LinkTarget, cgroups: &[PathBuf]) -> Value {
    let iface = |ifindex: u32| json!({ "ifindex": ifindex, "ifname": ifname(ifindex) });
    match target {
        LinkTarget::RawTracepoint { name } => json!({ "kind": "raw_tracepoint", "name": name }),
        LinkTarget::Tracepoint { name } => json!({ "kind": "tracepoint", "name": name }),
        LinkTarget::Kprobe {
            function,
            offset,
            addr,
            retprobe,
        } => json!({
            "kind": if *retprobe { "kretprobe" } else { "kprobe" },
            "function": function, "offset": offset, "addr": addr,
        }),
        LinkTarget::Uprobe {
            path,
            offset,
            retprobe,
        } => json!({
            "kind": if *retprobe { "uretprobe" } else { "uprobe" },
            "path": path, "offset": offset,
        }),
        LinkTarget::UprobeMulti {
            path,
            count,
            pid,
            flags,
        } => json!({
            "kind": "uprobe_multi", "path": path, "count": count, "pid": pid, "flags": flags,
        }),
        LinkTarget::KprobeMulti { count, flags } => {
            json!({ "kind": "kprobe_multi", "count": count, "flags": flags })
        }
        LinkTarget::PerfEvent { event_type, config } => {
            json!({ "kind": "perf_event", "event_type": event_type, "config": config })
        }
        LinkTarget::Cgroup {
            cgroup_id,
            attach_type,
        } => json!({
            "kind": "cgroup", "cgroup_id": cgroup_id,
            "path": cgroup_path(*cgroup_id, cgroups),
            "attach_type": attach_type_name(*attach_type),
        }),
        LinkTarget::Xdp { ifindex } => {
            let mut v = iface(*ifindex);
            v["kind"] = json!("xdp");
            v
        }
        LinkTarget::Tcx {
            ifindex,
            attach_type,
        }
        | LinkTarget::Netkit {
            ifindex,
            attach_type,
        } => {
            let mut v = iface(*ifindex);
            v["kind"] = json!(if matches!(target, LinkTarget::Tcx { .. }) {
                "tcx"
            } else {
                "netkit"
            });
            v["attach_type"] = json!(attach_type_name(*attach_type));
            v
        }
        LinkTarget::Tracing {
            attach_type,
            target_obj_id,
            target_btf_id,
        } => json!({
            "kind": "tracing", "attach_type": attach_type_name(*attach_type),
            "target_obj_id": target_obj_id, "target_btf_id": target_btf_id,
        }),
        LinkTarget::Iter { target, map_id } => {
            json!({ "kind": "iter", "target": target, "map_id": map_id })
        }
        LinkTarget::Netns {
            netns_ino,
            attach_type,
        } => json!({
            "kind": "netns", "netns_ino": netns_ino,
            "attach_type": attach_type_name(*attach_type),
        }),
        LinkTarget::Netfilter {
            pf,
            hooknum,
            priority,
        } => json!({ "kind": "netfilter", "pf": pf, "hooknum": hooknum, "priority": priority }),
        LinkTarget::StructOps { map_id } => json!({ "kind": "struct_ops", "map_id": map_id }),
        LinkTarget::Sockmap {
            map_id,
            attach_type,
        } => json!({
            "kind": "sockmap", "map_id": map_id, "attach_type": attach_type_name(*attach_type),
        }),
        _ => Value::Null,
    }
}

/// The target in one line of text, e.g. `uprobe /usr/bin/bash:0x1a2b0`.
fn target_text(target: &Value) -> String {
    let s = |k: &str| target[k].as_str().unwrap_or_default().to_owned();
    let n = |k: &str| target[k].as_u64().unwrap_or_default();
    let iface = || {
        format!(
            "ifindex {}{}",
            n("ifindex"),
            target["ifname"]
                .as_str()
                .map(|name| format!(" ({name})"))
                .unwrap_or_default()
        )
    };
    let kind = s("kind");
    match kind.as_str() {
        "raw_tracepoint" | "tracepoint" => format!("{kind} {}", s("name")),
        "kprobe" | "kretprobe" => format!("{kind} {}+{:#x}", s("function"), n("offset")),
        "uprobe" | "uretprobe" => format!("{kind} {}:{:#x}", s("path"), n("offset")),
        "uprobe_multi" => format!(
            "{kind} {} ({} offsets, pid {})",
            s("path"),
            n("count"),
            n("pid")
        ),
        "kprobe_multi" => format!("{kind} ({} functions)", n("count")),
        "perf_event" => format!("{kind} type {} config {:#x}", n("event_type"), n("config")),
        "cgroup" => format!(
            "cgroup {} (id {}) {}",
            target["path"]
                .as_str()
                .unwrap_or("<not on a cgroup2 mount>"),
            n("cgroup_id"),
            s("attach_type")
        ),
        "xdp" => format!("xdp {}", iface()),
        "tcx" | "netkit" => format!("{kind} {} {}", iface(), s("attach_type")),
        "tracing" => format!(
            "tracing {} btf_id {} obj {}",
            s("attach_type"),
            n("target_btf_id"),
            n("target_obj_id")
        ),
        "iter" => format!("iter {}", s("target")),
        "netns" => format!("netns ino {} {}", n("netns_ino"), s("attach_type")),
        "netfilter" => format!(
            "netfilter pf {} hook {} prio {}",
            n("pf"),
            n("hooknum"),
            target["priority"]
        ),
        "struct_ops" => format!("struct_ops map {}", n("map_id")),
        "sockmap" => format!("sockmap map {} {}", n("map_id"), s("attach_type")),
        _ => String::new(),
    }
}

/// Run a `bpfkit link` subcommand.
pub fn run(cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Command::List { json } => {
            let links = info::loaded_links().map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("listing links: {e}")
            })?;
            let cgroups = cgroup2_mounts();
            let out: Vec<Value> = links
                .iter()
                .map(|l| {
                    json!({
                        "id": l.id,
                        "type": type_name(l.link_type),
                        "prog_id": l.prog_id,
                        "target": target_json(&l.target, &cgroups),
                    })
                })
                .collect();
            if json {
                println!("{}", Value::from(out));
            } else {
                for l in &out {
                    let target = target_text(&l["target"]);
                    println!(
                        "{}: {}  prog {}{}{}",
                        l["id"],
                        l["type"].as_str().unwrap_or_default(),
                        l["prog_id"],
                        if target.is_empty() { "" } else { "  " },
                        target
                    );
                }
            }
        }
    }
    Ok(())
}
