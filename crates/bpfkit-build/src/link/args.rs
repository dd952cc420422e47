//! The command line rustc hands to the linker: the BPF flavor (`bpfel-unknown-none`/
//! `bpfeb-unknown-none`) and, on the donor route, the GNU `ld` flavor rustc speaks to the
//! linker of `riscv64imac-unknown-none-elf` (`-flavor gnu`, `-plugin-opt=O3`, `-z …`).

use std::ffi::OsString;
use std::path::PathBuf;

use super::LinkError;

/// The BPF instruction set the object is compiled for (`llc -mcpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpu {
    /// The original instruction set.
    V1,
    /// Adds `jlt`/`jle`/`jslt`/`jsle`.
    V2,
    /// Adds 32-bit jumps and atomics (the default: kernels ≥ 5.1).
    V3,
    /// Adds sign extension, signed division, `bswap`, `gotol` (kernels ≥ 6.6).
    V4,
}

impl Cpu {
    /// Parses rustc's `--cpu` value: `v1`..`v4`; `generic` (rustc's default) and `probe`
    /// mean the default, `v3`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "v1" => Some(Self::V1),
            "v2" => Some(Self::V2),
            "v3" | "generic" | "probe" => Some(Self::V3),
            "v4" => Some(Self::V4),
            _ => None,
        }
    }

    /// The name llc knows.
    pub fn llc_name(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::V3 => "v3",
            Self::V4 => "v4",
        }
    }
}

/// The linker flag behind [`LinkArgs::misaligned_mem_access`].
pub const MISALIGNED_MEM_ACCESS_FLAG: &str = "--misaligned-mem-access";

/// What the linker was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkArgs {
    /// Objects (`.o`) and archives (`.rlib`/`.a`), in command-line order.
    pub inputs: Vec<PathBuf>,
    /// The file named by `--export-symbols`: one symbol per line to keep public.
    pub export_symbols: Option<PathBuf>,
    /// `-L` directories (archives named with `-l` are looked up there).
    pub library_dirs: Vec<PathBuf>,
    /// `-l` libraries.
    pub libraries: Vec<String>,
    /// `--cpu`.
    pub cpu: Cpu,
    /// `-o`.
    pub output: PathBuf,
    /// The optimisation level of `-O<n>` (`s`/`z` count as 2), default 3.
    pub opt_level: u8,
    /// `--debug`: rustc asks for debug information (the source of BTF).
    pub debug: bool,
    /// `--strip-debug` / `-S` (e.g. `-C link-arg=--strip-debug`): drop the DWARF sections
    /// from the output, keeping `.BTF` and `.BTF.ext`.
    pub strip_debug: bool,
    /// `--misaligned-mem-access` (e.g. `-C link-arg=--misaligned-mem-access`): loads and
    /// stores through pointers outside the stack and the context are word accesses whatever
    /// their alignment, instead of byte accesses ([`super::align`]).
    pub misaligned_mem_access: bool,
    /// Flags that were not understood and ignored (each is warned about).
    pub ignored: Vec<String>,
}

impl LinkArgs {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self, LinkError> {
        let mut args = args.into_iter().map(|a| a.to_string_lossy().into_owned());
        let mut inputs = Vec::new();
        let mut export_symbols = None;
        let mut library_dirs = Vec::new();
        let mut libraries = Vec::new();
        let mut cpu = Cpu::V3;
        let mut output = None;
        let mut opt_level = 3;
        let mut debug = false;
        let mut strip_debug = false;
        let mut misaligned_mem_access = false;
        let mut ignored = Vec::new();
        // The GNU flavor's `-O1` is ld's own level; the code's level is `-plugin-opt=O<n>`.
        let mut plugin_opt_level = None;

        while let Some(arg) = args.next() {
            let mut value_of = |flag: &str| {
                args.next().ok_or_else(|| LinkError::MissingValue {
                    flag: flag.to_string(),
                })
            };
            match arg.as_str() {
                "--export-symbols" => export_symbols = Some(PathBuf::from(value_of(&arg)?)),
                "-o" => output = Some(PathBuf::from(value_of(&arg)?)),
                "-L" => library_dirs.push(PathBuf::from(value_of(&arg)?)),
                "-l" => libraries.push(value_of(&arg)?),
                "--cpu" => {
                    let value = value_of(&arg)?;
                    cpu = Cpu::parse(&value).ok_or(LinkError::UnknownCpu { value })?;
                }
                "--debug" | "-g" => debug = true,
                "--strip-debug" | "-S" => strip_debug = true,
                MISALIGNED_MEM_ACCESS_FLAG => misaligned_mem_access = true,
                "--cpu-features" | "--target" | "--emit" => {
                    let value = value_of(&arg)?;
                    ignored.push(format!("{arg} {value}"));
                }
                // GNU flavor (donor route): meaningless for one BPF object, accepted quietly.
                "-flavor" | "-z" | "-m" => {
                    value_of(&arg)?;
                }
                "--as-needed"
                | "--no-as-needed"
                | "-Bstatic"
                | "-Bdynamic"
                | "--gc-sections"
                | "--eh-frame-hdr"
                | "-nostartfiles"
                | "--strip-all"
                | "-s"
                | "-pie"
                | "-no-pie"
                | "-static"
                | "--no-undefined-version"
                | "--fatal-warnings" => {}
                _ => {
                    if let Some(option) = arg.strip_prefix("-plugin-opt=") {
                        // `O<n>` is the LTO level; `mcpu=` names the donor's cpu.
                        if let Some(level) = option.strip_prefix('O') {
                            plugin_opt_level = Some(parse_level(level));
                        }
                    } else if let Some(level) = arg.strip_prefix("-O") {
                        opt_level = parse_level(level);
                    } else if let Some(dir) = arg.strip_prefix("-L") {
                        library_dirs.push(PathBuf::from(dir));
                    } else if let Some(lib) = arg.strip_prefix("-l") {
                        libraries.push(lib.to_string());
                    } else if let Some(value) = arg.strip_prefix("--cpu=") {
                        cpu = Cpu::parse(value).ok_or_else(|| LinkError::UnknownCpu {
                            value: value.to_string(),
                        })?;
                    } else if arg.starts_with('-') {
                        ignored.push(arg);
                    } else {
                        inputs.push(PathBuf::from(arg));
                    }
                }
            }
        }
        Ok(Self {
            inputs,
            export_symbols,
            library_dirs,
            libraries,
            cpu,
            output: output.ok_or(LinkError::MissingValue {
                flag: "-o".to_string(),
            })?,
            opt_level: plugin_opt_level.unwrap_or(opt_level),
            debug,
            strip_debug,
            misaligned_mem_access,
            ignored,
        })
    }
}

/// `-O<level>`: `s`/`z` count as 2, anything unknown as 3.
fn parse_level(level: &str) -> u8 {
    match level {
        "0" => 0,
        "1" => 1,
        "2" | "s" | "z" => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LinkArgs, LinkError> {
        LinkArgs::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn parses_the_command_line_rustc_passes() {
        let args = parse(&[
            "--export-symbols",
            "/t/symbols",
            "/t/symbols.o",
            "/t/prog.rcgu.o",
            "/t/libcore.rlib",
            "-L",
            "/t/raw-dylibs",
            "--cpu",
            "generic",
            "-o",
            "/t/prog",
            "-O3",
            "--debug",
        ])
        .unwrap();
        assert_eq!(args.export_symbols, Some(PathBuf::from("/t/symbols")));
        assert_eq!(
            args.inputs,
            ["/t/symbols.o", "/t/prog.rcgu.o", "/t/libcore.rlib"].map(PathBuf::from)
        );
        assert_eq!(args.library_dirs, [PathBuf::from("/t/raw-dylibs")]);
        assert_eq!(args.cpu, Cpu::V3);
        assert_eq!(args.output, PathBuf::from("/t/prog"));
        assert_eq!(args.opt_level, 3);
        assert!(args.debug);
        assert!(args.ignored.is_empty());
    }

    #[test]
    fn tolerates_unknown_flags_and_records_them() {
        let args = parse(&["--icf=all", "a.o", "-o", "out", "--cpu", "v4", "-Os", "-S"]).unwrap();
        assert_eq!(args.ignored, ["--icf=all"]);
        assert!(args.strip_debug);
        assert_eq!(args.cpu, Cpu::V4);
        assert_eq!(args.opt_level, 2);
        assert!(!args.debug);
        assert!(!args.misaligned_mem_access);
    }

    #[test]
    fn parses_the_misaligned_access_opt_in() {
        let args = parse(&["a.o", "--misaligned-mem-access", "-o", "out"]).unwrap();
        assert!(args.misaligned_mem_access);
        assert!(args.ignored.is_empty(), "{:?}", args.ignored);
    }

    #[test]
    fn rejects_an_unknown_cpu_by_name() {
        let err = parse(&["--cpu", "v9", "-o", "x"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown BPF cpu `v9` (expected v1, v2, v3, v4 or generic)"
        );
    }

    #[test]
    fn parses_the_gnu_flavor_of_the_donor_route() {
        let args = parse(&[
            "-flavor",
            "gnu",
            "/t/symbols.o",
            "/t/prog.rcgu.o",
            "--as-needed",
            "-Bstatic",
            "/t/libcore.rlib",
            "-L",
            "/t/raw-dylibs",
            "-Bdynamic",
            "-z",
            "noexecstack",
            "-plugin-opt=O2",
            "-plugin-opt=mcpu=generic-rv64",
            "--cpu=v4",
            "--debug",
            "-o",
            "/t/prog",
            "--gc-sections",
            "-O1",
        ])
        .unwrap();
        assert_eq!(
            args.inputs,
            ["/t/symbols.o", "/t/prog.rcgu.o", "/t/libcore.rlib"].map(PathBuf::from)
        );
        assert_eq!(args.opt_level, 2, "the LTO level, not ld's -O1");
        assert_eq!(args.cpu, Cpu::V4);
        assert!(args.debug);
        assert!(args.ignored.is_empty(), "{:?}", args.ignored);
    }

    #[test]
    fn requires_an_output() {
        let err = parse(&["a.o"]).unwrap_err();
        assert_eq!(err.to_string(), "the linker flag `-o` needs a value");
    }
}
