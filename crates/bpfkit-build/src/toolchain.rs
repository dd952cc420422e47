//! Locating the rustc toolchain and the rustup components the route needs (rust-src, llvm-tools).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The command that installs every rustup component the Rust eBPF route needs.
pub const RUSTUP_COMPONENTS_COMMAND: &str = "rustup component add rust-src llvm-tools";

/// The command that installs the donor route's target.
pub const DONOR_TARGET_COMMAND: &str = "rustup target add riscv64imac-unknown-none-elf";

/// The LLVM tools the linker runs, in the order it runs them.
pub const LLVM_TOOLS: &[&str] = &["llvm-link", "llvm-dis", "opt", "llc", "llvm-objcopy"];

/// Why the toolchain cannot build Rust eBPF code.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// `rustc --print sysroot` could not be run.
    #[error("cannot run `{rustc} --print sysroot` to find the toolchain")]
    RustcNotRunnable {
        /// The rustc that was run.
        rustc: PathBuf,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
    /// rustc ran but did not report what was asked.
    #[error("`{rustc} {query}` failed: {stderr}")]
    RustcQueryFailed {
        /// The rustc that was run.
        rustc: PathBuf,
        /// The arguments.
        query: String,
        /// What rustc printed on stderr.
        stderr: String,
    },
    /// Rustup components are missing from the toolchain: the message names exactly the
    /// missing ones and the command that installs exactly them.
    #[error("{}", missing_message(.components, .missing, .command))]
    MissingComponent {
        /// The missing components (`rust-src`, `llvm-tools`), in that order.
        components: Vec<&'static str>,
        /// For each component, the file or directory that was looked for.
        missing: Vec<PathBuf>,
        /// The command that installs exactly the missing components.
        command: String,
    },
    /// The donor route's target is not installed.
    #[error(
        "the donor route needs the prebuilt core of `{target}`: {missing} does not exist; \
         install it with `{command}` (or build with BPFKIT_ROUTE=bpfel)"
    )]
    MissingTarget {
        /// The target triple.
        target: &'static str,
        /// What was looked for.
        missing: PathBuf,
        /// The command that installs it.
        command: &'static str,
    },
    /// Components were missing and installing them with rustup failed.
    #[error(
        "rustup components are missing and `{command}` failed ({reason}); run it by hand \
         (it needs network access to rustup's server) and build again"
    )]
    InstallFailed {
        /// The command that was run.
        command: String,
        /// Why it failed: rustup not found, its exit status and stderr.
        reason: String,
    },
}

/// A rustc toolchain as the route sees it: its sysroot and the host triple.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// The rustc binary.
    pub rustc: PathBuf,
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
    /// The host triple (`rustc -vV`'s `host:` line).
    pub host: String,
}

impl Toolchain {
    /// Asks `rustc` (the `RUSTC` environment variable, else `rustc` on `PATH`) where its
    /// sysroot is and which host it runs on.
    pub fn detect() -> Result<Self, ToolchainError> {
        let rustc = std::env::var_os("RUSTC")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("rustc"));
        Self::from_rustc(&rustc)
    }

    /// Like [`Toolchain::detect`] for a given rustc binary.
    pub fn from_rustc(rustc: &Path) -> Result<Self, ToolchainError> {
        let sysroot = query(rustc, &["--print", "sysroot"])?;
        let version = query(rustc, &["-vV"])?;
        let host = version
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .ok_or_else(|| ToolchainError::RustcQueryFailed {
                rustc: rustc.to_path_buf(),
                query: "-vV".into(),
                stderr: "no `host:` line in the output".into(),
            })?
            .trim()
            .to_string();
        Ok(Self {
            rustc: rustc.to_path_buf(),
            sysroot: PathBuf::from(sysroot.trim()),
            host,
        })
    }

    /// rustup's `llvm-tools` of this toolchain (same LLVM as rustc), found under
    /// `<sysroot>/lib/rustlib/<host>/bin/`; `BPFKIT_LLVM_TOOLS_DIR` overrides the directory
    /// (also used to test the missing-component error).
    pub fn llvm_tools(&self) -> LlvmTools {
        match std::env::var_os(LLVM_TOOLS_DIR_ENV) {
            Some(dir) => LlvmTools {
                dir: PathBuf::from(dir),
            },
            None => LlvmTools {
                dir: self
                    .sysroot
                    .join("lib/rustlib")
                    .join(&self.host)
                    .join("bin"),
            },
        }
    }

    /// Checks that every component of the route is installed: rust-src (for
    /// `-Z build-std=core`) and llvm-tools (for the linker).
    ///
    /// `BPFKIT_RUST_SRC_DIR` overrides where the core sources are looked for.
    /// Every missing component is named, with the command that installs exactly those.
    pub fn check_components(&self) -> Result<(), ToolchainError> {
        let core_src = std::env::var_os("BPFKIT_RUST_SRC_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.sysroot.join("lib/rustlib/src/rust/library"))
            .join("core/Cargo.toml");
        let mut missing = Vec::new();
        if !core_src.is_file() {
            missing.push(("rust-src", core_src));
        }
        if let Err(ToolchainError::MissingComponent { missing: tool, .. }) = self.check_llvm_tools()
        {
            missing.extend(tool.into_iter().map(|path| ("llvm-tools", path)));
        }
        match missing_components(missing) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Checks that every tool of [`LLVM_TOOLS`] is installed.
    fn check_llvm_tools(&self) -> Result<(), ToolchainError> {
        let tools = self.llvm_tools();
        for tool in LLVM_TOOLS {
            tools.tool(tool)?;
        }
        Ok(())
    }
}

impl Toolchain {
    /// The prebuilt `core` of the donor target (`rustup target add
    /// riscv64imac-unknown-none-elf`), which the donor route links instead of building it.
    pub fn donor_core(&self) -> Result<PathBuf, ToolchainError> {
        let dir = self
            .sysroot
            .join("lib/rustlib")
            .join(crate::link::retarget::DONOR_TARGET)
            .join("lib");
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libcore-") && n.ends_with(".rlib"))
            })
        });
        found.ok_or_else(|| ToolchainError::MissingTarget {
            target: crate::link::retarget::DONOR_TARGET,
            missing: dir.join("libcore-*.rlib"),
            command: DONOR_TARGET_COMMAND,
        })
    }

    /// Checks what the donor route needs: llvm-tools and the donor target's `core`
    /// (not rust-src: nothing is built from source).
    pub fn check_donor_components(&self) -> Result<(), ToolchainError> {
        self.check_llvm_tools()?;
        self.donor_core().map(drop)
    }

    /// Like [`Toolchain::check_donor_components`], installing what is missing with rustup
    /// (`$RUSTUP`, else `rustup`; announced), unless `BPFKIT_NO_AUTO_INSTALL=1`: `rustup
    /// component add llvm-tools` (not when `BPFKIT_LLVM_TOOLS_DIR` names the tools) and
    /// `rustup target add riscv64imac-unknown-none-elf`. rust-src is not needed: nothing is
    /// built from source.
    pub fn ensure_donor_components(&self) -> Result<(), ToolchainError> {
        self.ensure_donor_components_with(&rustup_binary())
    }

    /// [`Toolchain::ensure_donor_components`] with a given `rustup` binary.
    pub fn ensure_donor_components_with(&self, rustup: &Path) -> Result<(), ToolchainError> {
        if let Err(missing) = self.check_llvm_tools() {
            if no_auto_install() || std::env::var_os(LLVM_TOOLS_DIR_ENV).is_some() {
                return Err(missing);
            }
            rustup_install(
                rustup,
                &["component", "add", "llvm-tools"],
                &format!("bpfkit-build: {missing}; installing it now with"),
            )?;
        }
        let missing = match self.donor_core() {
            Ok(_) => return self.check_donor_components(),
            Err(e) => e,
        };
        if no_auto_install() {
            return Err(missing);
        }
        rustup_install(
            rustup,
            &["target", "add", crate::link::retarget::DONOR_TARGET],
            &format!("bpfkit-build: {missing}; installing it now with"),
        )?;
        self.check_donor_components()
    }

    /// Like [`Toolchain::check_components`], but when a component is missing, installs
    /// both with `rustup component add rust-src llvm-tools` (for the toolchain rustup is
    /// running, `RUSTUP_TOOLCHAIN`), announcing it on stderr and as a cargo warning, then
    /// checks again.
    ///
    /// Set `BPFKIT_NO_AUTO_INSTALL=1` to get the missing-component error instead. Paths
    /// overridden by `BPFKIT_RUST_SRC_DIR`/`BPFKIT_LLVM_TOOLS_DIR` are never installed into.
    pub fn ensure_components(&self) -> Result<(), ToolchainError> {
        self.ensure_components_with(&rustup_binary())
    }

    /// [`Toolchain::ensure_components`] with a given `rustup` binary.
    pub fn ensure_components_with(&self, rustup: &Path) -> Result<(), ToolchainError> {
        let missing = match self.check_components() {
            Ok(()) => return Ok(()),
            Err(e @ ToolchainError::MissingComponent { .. }) => e,
            Err(e) => return Err(e),
        };
        let overridden = std::env::var_os("BPFKIT_RUST_SRC_DIR").is_some()
            || std::env::var_os(LLVM_TOOLS_DIR_ENV).is_some();
        if overridden || no_auto_install() {
            return Err(missing);
        }
        let ToolchainError::MissingComponent { components, .. } = &missing else {
            return Err(missing);
        };
        let mut args = vec!["component", "add"];
        args.extend(components.iter().copied());
        rustup_install(
            rustup,
            &args,
            &format!("bpfkit-build: {missing}; installing now with"),
        )?;
        announce(&format!(
            "bpfkit-build: rustup installed {}",
            components.join(" and ")
        ));
        self.check_components()
    }
}

/// The `rustup` to install with: `$RUSTUP`, else `rustup` from `PATH`.
fn rustup_binary() -> PathBuf {
    std::env::var_os("RUSTUP").map_or_else(|| PathBuf::from("rustup"), PathBuf::from)
}

/// Whether `BPFKIT_NO_AUTO_INSTALL` asks for errors instead of installs.
fn no_auto_install() -> bool {
    std::env::var_os(NO_AUTO_INSTALL_ENV).is_some_and(|v| v != "0")
}

/// Runs `rustup <args>` for the toolchain rustup is running (`RUSTUP_TOOLCHAIN`), first
/// announcing it after `intro`.
fn rustup_install(rustup: &Path, args: &[&str], intro: &str) -> Result<(), ToolchainError> {
    let mut cmd = Command::new(rustup);
    cmd.args(args);
    let mut shown = format!("rustup {}", args.join(" "));
    if let Some(tc) = std::env::var_os("RUSTUP_TOOLCHAIN") {
        cmd.arg("--toolchain").arg(&tc);
        shown.push_str(&format!(" --toolchain {}", tc.to_string_lossy()));
    }
    announce(&format!("{intro} `{shown}`"));
    let out = cmd.output().map_err(|e| ToolchainError::InstallFailed {
        command: shown.clone(),
        reason: if e.kind() == std::io::ErrorKind::NotFound {
            "rustup is not installed or not on PATH; bpfkit needs rustup's stable \
             toolchain (https://rustup.rs)"
                .to_string()
        } else {
            format!("cannot run rustup: {e}")
        },
    })?;
    if !out.status.success() {
        return Err(ToolchainError::InstallFailed {
            command: shown,
            reason: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// Environment variable: when set (and not `0`), missing rustup components are an error
/// instead of being installed by [`Toolchain::ensure_components`].
pub const NO_AUTO_INSTALL_ENV: &str = "BPFKIT_NO_AUTO_INSTALL";

/// Says `msg` on stderr, and as a cargo warning when running inside a build script (cargo
/// shows a build script's stderr only when it fails; its warnings always).
fn announce(msg: &str) {
    eprintln!("{msg}");
    if std::env::var_os("OUT_DIR").is_some() && std::env::var_os("CARGO_MANIFEST_DIR").is_some() {
        println!("cargo:warning={msg}");
    }
}

/// Environment variable naming the llvm-tools directory, overriding the toolchain's.
pub const LLVM_TOOLS_DIR_ENV: &str = "BPFKIT_LLVM_TOOLS_DIR";

/// The directory of the LLVM binaries the linker drives.
#[derive(Debug, Clone)]
pub struct LlvmTools {
    /// The directory.
    pub dir: PathBuf,
}

impl LlvmTools {
    /// The tools the linker should use: `BPFKIT_LLVM_TOOLS_DIR` when set (the build driver
    /// sets it, sparing a rustc query per link), else those of [`Toolchain::detect`].
    pub fn for_linker() -> Result<Self, ToolchainError> {
        match std::env::var_os(LLVM_TOOLS_DIR_ENV) {
            Some(dir) => Ok(Self {
                dir: PathBuf::from(dir),
            }),
            None => Ok(Toolchain::detect()?.llvm_tools()),
        }
    }

    /// The path of one tool, or the missing-component error naming the install command.
    pub fn tool(&self, name: &str) -> Result<PathBuf, ToolchainError> {
        let path = self.dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(ToolchainError::MissingComponent {
                components: vec!["llvm-tools"],
                missing: vec![path],
                command: component_command(&["llvm-tools"]),
            })
        }
    }
}

/// `rustup component add` of exactly `components`.
fn component_command(components: &[&str]) -> String {
    format!("rustup component add {}", components.join(" "))
}

/// The error for `(component, path looked for)` pairs, `None` when there are none.
fn missing_components(missing: Vec<(&'static str, PathBuf)>) -> Option<ToolchainError> {
    if missing.is_empty() {
        return None;
    }
    let (components, missing): (Vec<_>, Vec<_>) = missing.into_iter().unzip();
    Some(ToolchainError::MissingComponent {
        command: component_command(&components),
        components,
        missing,
    })
}

/// `the rustup component `X` is missing: P does not exist; install it with `CMD``, or for
/// several: `the rustup components `X` and `Y` are missing: P and Q do not exist; install
/// them with `CMD``.
fn missing_message(components: &[&str], missing: &[PathBuf], command: &str) -> String {
    let names = components
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    let paths = missing
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" and ");
    if components.len() == 1 {
        format!(
            "the rustup component {names} is missing: {paths} does not exist; \
             install it with `{command}`"
        )
    } else {
        format!(
            "the rustup components {names} are missing: {paths} do not exist; \
             install them with `{command}`"
        )
    }
}

fn query(rustc: &Path, args: &[&str]) -> Result<String, ToolchainError> {
    let out = Command::new(rustc)
        .args(args)
        // A rustc wrapper set for the host (sccache, clippy-driver) must not answer here.
        .env_remove("RUSTC_WRAPPER")
        .output()
        .map_err(|source| ToolchainError::RustcNotRunnable {
            rustc: rustc.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        return Err(ToolchainError::RustcQueryFailed {
            rustc: rustc.to_path_buf(),
            query: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llvm_tools_come_from_the_rustc_sysroot() {
        let toolchain = Toolchain::detect().expect("rustc runs");
        assert!(toolchain
            .sysroot
            .join("lib/rustlib")
            .join(&toolchain.host)
            .is_dir());
        if std::env::var_os(LLVM_TOOLS_DIR_ENV).is_none() {
            let tools = toolchain.llvm_tools();
            assert!(tools.dir.starts_with(&toolchain.sysroot), "{tools:?}");
            for tool in LLVM_TOOLS {
                assert!(
                    tools.tool(tool).is_ok(),
                    "{tool} in {}",
                    tools.dir.display()
                );
            }
        }
        toolchain
            .check_components()
            .expect("rust-src and llvm-tools are installed");
    }

    /// A toolchain whose sysroot is a fresh temporary directory holding rust-src's
    /// `core/Cargo.toml` and/or every llvm tool, as asked; `None` (after `SKIP`) when
    /// `BPFKIT_LLVM_TOOLS_DIR` would override where the tools are looked for.
    fn fake(tag: &str, rust_src: bool, llvm_tools: bool) -> Option<(Toolchain, PathBuf)> {
        if std::env::var_os(LLVM_TOOLS_DIR_ENV).is_some()
            || std::env::var_os("BPFKIT_RUST_SRC_DIR").is_some()
        {
            println!("SKIP {LLVM_TOOLS_DIR_ENV} or BPFKIT_RUST_SRC_DIR is set");
            return None;
        }
        let real = Toolchain::detect().expect("rustc runs");
        let root = std::env::temp_dir().join(format!(
            "bpfkit-toolchain-unit-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let core = root.join("lib/rustlib/src/rust/library/core");
        std::fs::create_dir_all(&core).unwrap();
        if rust_src {
            std::fs::write(core.join("Cargo.toml"), "").unwrap();
        }
        let bin = root.join("lib/rustlib").join(&real.host).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        if llvm_tools {
            for tool in LLVM_TOOLS {
                std::fs::write(bin.join(tool), "").unwrap();
            }
        }
        let toolchain = Toolchain {
            sysroot: root.clone(),
            ..real
        };
        Some((toolchain, root))
    }

    fn missing_error(toolchain: &Toolchain) -> (Vec<&'static str>, String, String) {
        match toolchain.check_components() {
            Err(e @ ToolchainError::MissingComponent { .. }) => {
                let text = e.to_string();
                let ToolchainError::MissingComponent {
                    components,
                    command,
                    ..
                } = e
                else {
                    unreachable!()
                };
                (components, command, text)
            }
            other => panic!("expected a missing component, got {other:?}"),
        }
    }

    #[test]
    fn only_missing_llvm_tools_are_named_with_their_own_command() {
        let Some((toolchain, root)) = fake("llvm", true, false) else {
            return;
        };
        let (components, command, text) = missing_error(&toolchain);
        assert_eq!(components, ["llvm-tools"]);
        assert_eq!(command, "rustup component add llvm-tools");
        let llvm_link = toolchain.llvm_tools().dir.join("llvm-link");
        assert_eq!(
            text,
            format!(
                "the rustup component `llvm-tools` is missing: {} does not exist; install it \
                 with `rustup component add llvm-tools`",
                llvm_link.display()
            )
        );
        assert!(!text.contains("rust-src"), "{text}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn only_missing_rust_src_is_named_with_its_own_command() {
        let Some((toolchain, root)) = fake("src", false, true) else {
            return;
        };
        let (components, command, text) = missing_error(&toolchain);
        assert_eq!(components, ["rust-src"]);
        assert_eq!(command, "rustup component add rust-src");
        assert_eq!(
            text,
            format!(
                "the rustup component `rust-src` is missing: {} does not exist; install it \
                 with `rustup component add rust-src`",
                root.join("lib/rustlib/src/rust/library/core/Cargo.toml")
                    .display()
            )
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn both_missing_are_named_with_one_command() {
        let Some((toolchain, root)) = fake("both", false, false) else {
            return;
        };
        let (components, command, text) = missing_error(&toolchain);
        assert_eq!(components, ["rust-src", "llvm-tools"]);
        assert_eq!(command, "rustup component add rust-src llvm-tools");
        assert_eq!(
            text,
            format!(
                "the rustup components `rust-src` and `llvm-tools` are missing: {} and {} do \
                 not exist; install them with `rustup component add rust-src llvm-tools`",
                root.join("lib/rustlib/src/rust/library/core/Cargo.toml")
                    .display(),
                toolchain.llvm_tools().dir.join("llvm-link").display()
            )
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn nothing_missing_is_no_error() {
        let Some((toolchain, root)) = fake("none", true, true) else {
            return;
        };
        toolchain.check_components().unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }
}
