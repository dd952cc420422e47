//! `bpfkit new NAME [--template T] [--path DIR]`: a ready-to-run project — kernel crate, shared
//! types, userspace crate — that builds and runs with one `cargo run`.

use std::path::{Path, PathBuf};

/// Create a new bpfkit project (kernel side, shared types, userspace) in `./NAME`.
///
/// The project builds and runs with `cargo run --release -p NAME` (as root); its build
/// script compiles the kernel side for BPF on the stable toolchain and installs rustup's
/// llvm-tools and riscv64imac-unknown-none-elf target if they are missing. Templates: tracepoint (every exec, through
/// `sched:sched_process_exec`), kprobe (`do_sys_openat2` entries), uprobe (libc's
/// `malloc` calls), lsm (the `bprm_check_security` hook, allowing every exec) send
/// `{pid, value, comm}` events; xdp and tc (`--iface IF`) and cgroup-skb (`--cgroup PATH`)
/// send `{len, ether_type}` per packet, passing every packet. Userspace prints each event
/// from the ring buffer.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The project's name: a directory `NAME` is created; crates `NAME`, `NAME-ebpf` and
    /// `NAME-common` are made in it.
    pub name: String,
    /// What the kernel side attaches to.
    #[arg(long, value_enum, default_value_t = Template::Tracepoint)]
    pub template: Template,
    /// Depend on a local bpfkit checkout (its root directory) instead of crates.io versions.
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Create the project inside this directory instead of the current one.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

/// The kinds of program a new project starts from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// `sched:sched_process_exec`: one event per exec, with the uid.
    Tracepoint,
    /// `kprobe/do_sys_openat2`: one event per open, with the directory fd.
    Kprobe,
    /// `uprobe` on libc's `malloc`: one event per call, with the size.
    Uprobe,
    /// `lsm/bprm_check_security`: one event per exec, with the uid (allows all).
    Lsm,
    /// XDP on an interface (`--iface`): one record per received frame (passes all).
    Xdp,
    /// tc ingress on an interface (`--iface`; tcx or clsact): one record per packet.
    Tc,
    /// cgroup_skb ingress on a cgroup v2 directory (`--cgroup`): one record per packet.
    CgroupSkb,
}

/// What a networking template's userspace attaches to.
struct NetTarget {
    flag: &'static str,
    default: &'static str,
    attach_call: &'static str,
    attach_doc: &'static str,
}

/// What differs between templates.
struct Spec {
    name: &'static str,
    macro_name: &'static str,
    context: &'static str,
    program: &'static str,
    kernel: &'static str,
    kernel_doc: &'static str,
    description: &'static str,
    what: &'static str,
    value_doc: &'static str,
    value_column: &'static str,
    /// Networking templates: a whole kernel file, the packet record and an attach target.
    net: Option<NetTarget>,
}

impl Spec {
    /// The arguments the userspace binary needs (`--iface IFACE `), or nothing.
    fn usage_args(&self) -> String {
        self.net.as_ref().map_or(String::new(), |n| {
            format!("{} {} ", n.flag, n.flag[2..].to_uppercase())
        })
    }
}

impl Template {
    fn spec(self) -> Spec {
        match self {
            Template::Tracepoint => Spec {
                name: "tracepoint",
                macro_name: "tracepoint",
                context: "TracePointContext",
                program: "on_exec",
                kernel: include_str!("../templates/new/ebpf.tracepoint.rs"),
                kernel_doc: "a tracepoint program on `sched:sched_process_exec`.",
                description: "Prints every exec with its pid, command and uid",
                what: "tracing execs (sched:sched_process_exec)",
                value_doc: "The user id of the task.",
                value_column: "UID",
                net: None,
            },
            Template::Kprobe => Spec {
                name: "kprobe",
                macro_name: "kprobe",
                context: "ProbeContext",
                program: "on_open",
                kernel: include_str!("../templates/new/ebpf.kprobe.rs"),
                kernel_doc: "a kprobe on the kernel function `do_sys_openat2`.",
                description: "Prints every file open with its pid, command and directory fd",
                what: "tracing opens (kprobe do_sys_openat2)",
                value_doc: "The directory fd the opened path is relative to (-100: AT_FDCWD).",
                value_column: "DFD",
                net: None,
            },
            Template::Uprobe => Spec {
                name: "uprobe",
                macro_name: "uprobe",
                context: "ProbeContext",
                program: "on_malloc",
                kernel: include_str!("../templates/new/ebpf.uprobe.rs"),
                kernel_doc: "a uprobe on the C library's `malloc`.",
                description: "Prints every malloc call with its pid, command and size",
                what: "tracing malloc calls (uprobe libc.so.6:malloc)",
                value_doc: "The size asked of malloc (truncated to 32 bits).",
                value_column: "SIZE",
                net: None,
            },
            Template::Lsm => Spec {
                name: "lsm",
                macro_name: "lsm",
                context: "LsmContext",
                program: "check_exec",
                kernel: include_str!("../templates/new/ebpf.lsm.rs"),
                kernel_doc: "a BPF LSM program on the `bprm_check_security` hook (the kernel \
                             needs `bpf` in its `lsm=` list).",
                description: "Audits every exec through the BPF LSM with its pid, command and uid",
                what: "auditing execs (lsm/bprm_check_security)",
                value_doc: "The user id of the task.",
                value_column: "UID",
                net: None,
            },
            Template::Xdp => Spec {
                name: "xdp",
                macro_name: "xdp",
                context: "XdpContext",
                program: "on_frame",
                kernel: include_str!("../templates/new/ebpf.xdp.rs"),
                kernel_doc: "an XDP program that reports every frame's length and EtherType.",
                description: "Prints the length and EtherType of every frame an interface receives (XDP)",
                what: "XDP on",
                value_doc: "",
                value_column: "",
                net: Some(NetTarget {
                    flag: "--iface",
                    default: "None",
                    attach_call: "bpfkit::programs::xdp::attach(program, &target, &Default::default())?",
                    attach_doc: "to the interface `--iface IF` (XDP)",
                }),
            },
            Template::Tc => Spec {
                name: "tc",
                macro_name: "classifier",
                context: "TcContext",
                program: "on_packet",
                kernel: include_str!("../templates/new/ebpf.tc.rs"),
                kernel_doc: "a tc classifier that reports every packet's length and EtherType.",
                description: "Prints the length and EtherType of every packet on an interface's tc ingress",
                what: "tc ingress on",
                value_doc: "",
                value_column: "",
                net: Some(NetTarget {
                    flag: "--iface",
                    default: "None",
                    attach_call: "bpfkit::programs::tc::attach(
        program,
        &target,
        bpfkit::programs::tc::TcHook::Ingress,
        &Default::default(),
    )?",
                    attach_doc: "to the tc ingress hook of `--iface IF` (tcx, or clsact where tcx is missing)",
                }),
            },
            Template::CgroupSkb => Spec {
                name: "cgroup-skb",
                macro_name: "cgroup_skb",
                context: "CgroupSkbContext",
                program: "on_ingress",
                kernel: include_str!("../templates/new/ebpf.cgroup_skb.rs"),
                kernel_doc: "a cgroup_skb program that reports every packet sockets of the cgroup receive.",
                description: "Prints the length and EtherType of every packet the sockets of a cgroup receive",
                what: "cgroup_skb ingress on",
                value_doc: "",
                value_column: "",
                net: Some(NetTarget {
                    flag: "--cgroup",
                    default: "Some(\"/sys/fs/cgroup\".to_string())",
                    attach_call: "bpfkit::programs::cgroup::attach_path(program, &target, &Default::default())?",
                    attach_doc: "to the cgroup v2 directory `--cgroup PATH` (default /sys/fs/cgroup)",
                }),
            },
        }
    }
}

/// Why a project could not be created.
#[derive(Debug)]
enum NewError {
    BadName(String),
    Exists(PathBuf),
    NotCheckout(PathBuf),
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for NewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NewError::BadName(name) => write!(
                f,
                "`{name}` is not a usable project name: use ASCII letters, digits, `-` and `_`, \
                 starting with a letter"
            ),
            NewError::Exists(dir) => {
                write!(f, "{} already exists; choose another name", dir.display())
            }
            NewError::NotCheckout(dir) => write!(
                f,
                "--path {}: no bpfkit checkout there (crates/bpfkit/Cargo.toml is missing)",
                dir.display()
            ),
            NewError::Io(path, e) => write!(f, "writing {}: {e}", path.display()),
        }
    }
}

impl std::error::Error for NewError {}

/// Runs `bpfkit new`.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let dir = create(&args)?;
    eprintln!(
        "created {} ({} template); run it as root with:\n    cd {} && cargo run --release -p {} -- {}--duration 10",
        dir.display(),
        args.template.spec().name,
        dir.display(),
        args.name,
        args.template.spec().usage_args()
    );
    Ok(())
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.ends_with("-ebpf")
        && !name.ends_with("-common")
}

fn dependency(path: Option<&Path>, krate: &str) -> String {
    match path {
        Some(root) => format!(
            "{{ path = \"{}\" }}",
            root.join("crates").join(krate).display()
        ),
        None => format!("\"{}\"", env!("CARGO_PKG_VERSION")),
    }
}

/// [`dependency`] with `features` enabled.
fn dependency_with_features(path: Option<&Path>, krate: &str, features: &[&str]) -> String {
    let features: Vec<String> = features.iter().map(|f| format!("\"{f}\"")).collect();
    let source = match path {
        Some(root) => format!("path = \"{}\"", root.join("crates").join(krate).display()),
        None => format!("version = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
    format!("{{ {source}, features = [{}] }}", features.join(", "))
}

fn create(args: &Args) -> Result<PathBuf, NewError> {
    if !valid_name(&args.name) {
        return Err(NewError::BadName(args.name.clone()));
    }
    let root = args.dir.join(&args.name);
    if root.exists() {
        return Err(NewError::Exists(root));
    }
    let checkout = match &args.path {
        Some(p) => {
            let abs = std::fs::canonicalize(p).map_err(|_| NewError::NotCheckout(p.clone()))?;
            if !abs.join("crates/bpfkit/Cargo.toml").is_file() {
                return Err(NewError::NotCheckout(p.clone()));
            }
            Some(abs)
        }
        None => None,
    };
    let spec = args.template.spec();
    let name = args.name.as_str();
    let snake = name.replace('-', "_");
    let vars: Vec<(&str, String)> = vec![
        ("name_snake", snake.clone()),
        ("name", name.to_string()),
        ("template", spec.name.to_string()),
        ("macro", spec.macro_name.to_string()),
        ("context", spec.context.to_string()),
        ("program", spec.program.to_string()),
        ("kernel_doc", spec.kernel_doc.to_string()),
        ("description", spec.description.to_string()),
        ("what", spec.what.to_string()),
        ("value_doc", spec.value_doc.to_string()),
        ("value_column", spec.value_column.to_string()),
        (
            "attach_doc",
            spec.net.as_ref().map_or("", |n| n.attach_doc).to_string(),
        ),
        ("usage_args", spec.usage_args()),
        (
            "target_flag",
            spec.net.as_ref().map_or("", |n| n.flag).to_string(),
        ),
        (
            "target_default",
            spec.net.as_ref().map_or("", |n| n.default).to_string(),
        ),
        (
            "attach_call",
            spec.net
                .as_ref()
                .map_or("bpfkit::programs::auto::attach(program)?", |n| {
                    n.attach_call
                })
                .to_string(),
        ),
        (
            "dep_bpfkit_ebpf",
            dependency(checkout.as_deref(), "bpfkit-ebpf"),
        ),
        (
            "dep_bpfkit_gen_build",
            dependency_with_features(checkout.as_deref(), "bpfkit-gen", &["build"]),
        ),
        ("dep_bpfkit", dependency(checkout.as_deref(), "bpfkit")),
    ];
    let fill = |text: &str| {
        let mut out = text.to_string();
        for (key, value) in &vars {
            out = out.replace(&format!("{{{{{key}}}}}"), value);
        }
        out
    };
    let mut kernel = String::new();
    if spec.net.is_none() {
        kernel.push_str(include_str!("../templates/new/ebpf.prelude.rs"));
    }
    kernel.push_str(spec.kernel);
    let (common, user_main) = if spec.net.is_some() {
        (
            include_str!("../templates/new/common.net.lib.rs"),
            include_str!("../templates/new/user.net.main.rs"),
        )
    } else {
        (
            include_str!("../templates/new/common.lib.rs"),
            include_str!("../templates/new/user.main.rs"),
        )
    };
    let files: [(String, &str); 10] = [
        (
            "Cargo.toml".into(),
            include_str!("../templates/new/workspace.Cargo.toml"),
        ),
        (
            ".gitignore".into(),
            include_str!("../templates/new/gitignore"),
        ),
        (
            "README.md".into(),
            include_str!("../templates/new/README.md"),
        ),
        (
            format!("{name}-common/Cargo.toml"),
            include_str!("../templates/new/common.Cargo.toml"),
        ),
        (format!("{name}-common/src/lib.rs"), common),
        (
            format!("{name}-ebpf/Cargo.toml"),
            include_str!("../templates/new/ebpf.Cargo.toml"),
        ),
        (format!("{name}-ebpf/src/main.rs"), kernel.as_str()),
        (
            format!("{name}/Cargo.toml"),
            include_str!("../templates/new/user.Cargo.toml"),
        ),
        (
            format!("{name}/build.rs"),
            include_str!("../templates/new/user.build.rs"),
        ),
        (format!("{name}/src/main.rs"), user_main),
    ];
    let written = (|| {
        for (rel, text) in &files {
            let path = root.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| NewError::Io(parent.to_path_buf(), e))?;
            }
            std::fs::write(&path, fill(text)).map_err(|e| NewError::Io(path.clone(), e))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        // Leave nothing half-made behind.
        let _ = std::fs::remove_dir_all(&root);
        return Err(e);
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_crate_names() {
        assert!(valid_name("hello"));
        assert!(valid_name("my-tool_2"));
        assert!(!valid_name("2fast"));
        assert!(!valid_name("has space"));
        assert!(!valid_name(""));
        assert!(
            !valid_name("x-ebpf"),
            "would clash with the kernel crate's name"
        );
    }
}
