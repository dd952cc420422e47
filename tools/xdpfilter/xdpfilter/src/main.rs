//! `xdpfilter`: attach a packet filter to an interface, then add, delete, list and count its
//! rules from later invocations through the pins it leaves in bpffs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use xdpfilter::{Action, Cidr, Error, Filter, Hook, Proto, RuleSpec};

#[derive(Parser)]
#[command(
    version,
    about = "XDP/tcx packet filter with CIDR, protocol and port rules"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// Generic XDP, after the skb is built (any device).
    Skb,
    /// Native XDP in the driver.
    Drv,
}

#[derive(clap::Args)]
struct Target {
    /// The interface.
    #[arg(long)]
    iface: String,
    /// Directory holding the interface's directory of pins.
    #[arg(long, default_value = "/sys/fs/bpf/xdpfilter")]
    pin_root: PathBuf,
}

impl Target {
    fn dir(&self) -> PathBuf {
        xdpfilter::pin_dir(Some(&self.pin_root), &self.iface)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Load, attach and pin (link and maps); exits, the filter stays.
    Attach {
        #[command(flatten)]
        target: Target,
        /// XDP mode (default: the kernel's choice).
        #[arg(long, conflicts_with = "tcx")]
        mode: Option<Mode>,
        /// Attach at tcx ingress instead of XDP.
        #[arg(long)]
        tcx: bool,
        /// Load through a BPF token from the bpffs mounted at PATH (one that the initial
        /// namespace mounted with delegate_* options). Default: $BPFKIT_TOKEN_PATH, else
        /// /sys/fs/bpf when running in a user namespace.
        #[arg(long, value_name = "PATH")]
        token_path: Option<PathBuf>,
    },
    /// Add a rule; prints its id. The lowest matching rule id decides a packet.
    Add {
        #[command(flatten)]
        target: Target,
        /// What matching packets get.
        #[arg(long)]
        action: Action,
        /// Source prefix (IPv4 or IPv6 CIDR).
        #[arg(long)]
        src: Option<Cidr>,
        /// Destination prefix.
        #[arg(long)]
        dst: Option<Cidr>,
        /// L4 protocol.
        #[arg(long)]
        proto: Option<Proto>,
        /// TCP/UDP destination port (needs --proto tcp|udp).
        #[arg(long)]
        dport: Option<u16>,
    },
    /// Delete a rule by id.
    Del {
        #[command(flatten)]
        target: Target,
        /// The id `add` printed.
        rule_id: u32,
    },
    /// List the rules.
    List {
        #[command(flatten)]
        target: Target,
        /// One JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Packets and bytes per rule.
    Stats {
        #[command(flatten)]
        target: Target,
        /// One JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Detach and remove every pin.
    Detach {
        #[command(flatten)]
        target: Target,
    },
}

fn describe(r: &RuleSpec) -> String {
    let mut parts = vec![format!("{:?}", r.action).to_lowercase()];
    if let Some(s) = r.src {
        parts.push(format!("src {s}"));
    }
    if let Some(d) = r.dst {
        parts.push(format!("dst {d}"));
    }
    if let Some(p) = r.proto {
        parts.push(format!("proto {p:?}").to_lowercase());
    }
    if let Some(p) = r.dport {
        parts.push(format!("dport {p}"));
    }
    parts.join(" ")
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Attach {
            target,
            mode,
            tcx,
            token_path,
        } => {
            let hook = match (tcx, mode) {
                (true, _) => Hook::TcxIngress,
                (false, Some(Mode::Skb)) => Hook::XdpSkb,
                (false, Some(Mode::Drv)) => Hook::XdpDrv,
                (false, None) => Hook::XdpAuto,
            };
            let dir = target.dir();
            let link_id = xdpfilter::attach(&target.iface, hook, &dir, token_path.as_deref())?;
            println!(
                "attached to {} (link {link_id}), pinned in {}",
                target.iface,
                dir.display()
            );
        }
        Command::Add {
            target,
            action,
            src,
            dst,
            proto,
            dport,
        } => {
            let filter = Filter::open(&target.dir())?;
            let id = filter.add(&RuleSpec {
                action,
                src,
                dst,
                proto,
                dport,
            })?;
            println!("{id}");
        }
        Command::Del { target, rule_id } => {
            Filter::open(&target.dir())?.delete(rule_id)?;
        }
        Command::List { target, json } => {
            let dir = target.dir();
            let rules = Filter::open(&dir)?.rules()?;
            let (link, prog) = xdpfilter::link_ids(&dir)?;
            if json {
                let rules: Vec<_> = rules
                    .iter()
                    .map(|(id, r)| {
                        let mut v = serde_json::to_value(r).expect("rules serialize");
                        v["id"] = (*id).into();
                        v
                    })
                    .collect();
                let doc = serde_json::json!({"iface": target.iface, "link_id": link, "prog_id": prog, "rules": rules});
                println!("{doc}");
            } else {
                println!("# {}: link {link}, program {prog}", target.iface);
                for (id, r) in rules {
                    println!("{id:>3}  {}", describe(&r));
                }
            }
        }
        Command::Stats { target, json } => {
            let stats = Filter::open(&target.dir())?.stats()?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&stats).expect("stats serialize")
                );
            } else {
                println!("{:>3}  {:>12}  {:>14}  RULE", "ID", "PACKETS", "BYTES");
                for s in stats {
                    println!(
                        "{:>3}  {:>12}  {:>14}  {}",
                        s.id,
                        s.packets,
                        s.bytes,
                        describe(&s.rule)
                    );
                }
            }
        }
        Command::Detach { target } => {
            xdpfilter::detach(&target.dir())?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xdpfilter: {}", bpfkit::Report(&e));
            ExitCode::FAILURE
        }
    }
}
