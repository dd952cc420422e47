//! The `bpfkit-link` linker: LLVM bitcode from rustc → one BPF ELF object with kernel-valid BTF.
//!
//! Steps (PIPELINE.md): collect bitcode (objects, rlib members; on the donor route the
//! `.llvmbc` of rustup's prebuilt `core`, linked `--only-needed`) → `llvm-link` → donor
//! retargeting ([`retarget`]) → CO-RE marker, kfunc and atomic marker rewrites → `opt`
//! (internalize everything but the exports, O3, dead-code removal) → checks on the optimised
//! IR (panics, indirect calls, undefined calls; variable-size memory intrinsics lowered to
//! loops) → atomics made safe for the BPF backend ([`atomics`]) → lifetime ends that only
//! precede a return dropped ([`lifetimes`]) → opt-in: natural alignment for accesses
//! outside the stack ([`align`]) → line info of inlined library code moved to the
//! user's call site ([`user_lines`]) → `llc` → `.BTF` fix-up,
//! written back in place → the output.

pub mod align;
pub mod args;
pub mod atomics;
pub mod btf_fixup;
pub mod core_markers;
pub mod elf_patch;
pub mod inputs;
pub mod ir;
pub mod kfuncs;
pub mod lifetimes;
pub mod retarget;
pub mod user_lines;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection, ObjectSymbol};

pub use args::{Cpu, LinkArgs};

use crate::toolchain::{LlvmTools, ToolchainError};

/// Environment variable: when set to `1`, intermediate files are kept next to the output.
pub const KEEP_TEMPS_ENV: &str = "BPFKIT_LINK_KEEP_TEMPS";

/// Why linking failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// A flag that takes a value came last.
    #[error("the linker flag `{flag}` needs a value")]
    MissingValue {
        /// The flag.
        flag: String,
    },
    /// `--cpu` named no BPF instruction set.
    #[error("unknown BPF cpu `{value}` (expected v1, v2, v3, v4 or generic)")]
    UnknownCpu {
        /// The value given.
        value: String,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
    /// An input is of no known kind.
    #[error("input {} is neither LLVM bitcode, an ELF object nor an ar archive", path.display())]
    UnknownInput {
        /// The input.
        path: PathBuf,
    },
    /// An archive could not be parsed.
    #[error("archive {} is malformed: {reason}", path.display())]
    BadArchive {
        /// The archive.
        path: PathBuf,
        /// What the parser reported.
        reason: String,
    },
    /// `-l<name>` was not found.
    #[error("library `{name}` not found in {dirs:?}")]
    LibraryNotFound {
        /// The library name.
        name: String,
        /// The `-L` directories searched.
        dirs: Vec<PathBuf>,
    },
    /// No input contained bitcode.
    #[error("no LLVM bitcode among the inputs; is the crate built for bpfel-unknown-none?")]
    NoBitcode,
    /// Nothing is exported, so everything would be internalized and removed.
    #[error(
        "the program exports no symbols: mark programs and maps `#[no_mangle]` (and give \
         programs a `#[link_section]`), or nothing is left after dead-code removal"
    )]
    NoExports,
    /// The toolchain lacks a component.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// An LLVM tool could not be started.
    #[error("cannot run {}", tool.display())]
    ToolNotRunnable {
        /// The tool.
        tool: PathBuf,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
    /// An LLVM tool failed.
    #[error("`{tool}` failed ({status}):\n{stderr}{hint}\ncommand: {command}")]
    ToolFailed {
        /// The tool name.
        tool: String,
        /// Its exit status.
        status: String,
        /// The command line.
        command: String,
        /// What it printed on stderr.
        stderr: String,
        /// A hint for errors with a known cause (empty otherwise).
        hint: String,
    },
    /// The optimised program contains what BPF cannot express.
    #[error("the program cannot become a BPF object:\n{}", list(problems))]
    Unsupported {
        /// Each problem, naming the Rust function.
        problems: Vec<ir::IrProblem>,
    },
    /// A CO-RE marker could not be rewritten.
    #[error(transparent)]
    CoreMarker(#[from] core_markers::CoreMarkerError),
    /// A kfunc declaration could not be rewritten.
    #[error(transparent)]
    Kfunc(#[from] kfuncs::KfuncError),
    /// An atomic marker could not be defined.
    #[error(transparent)]
    Atomic(#[from] atomics::AtomicError),
    /// A donor-route module could not be made a BPF module.
    #[error(transparent)]
    Retarget(#[from] retarget::RetargetError),
    /// llc produced an object the linker cannot read.
    #[error("cannot read the object llc wrote ({}): {reason}", path.display())]
    BadObject {
        /// The object.
        path: PathBuf,
        /// What the parser reported.
        reason: String,
    },
    /// The object defines BTF maps but carries no BTF.
    #[error(
        "{} has a `.maps` section but no .BTF: build the crate that defines the maps with \
         `debug = 2` (and pass --debug to the linker)",
        path.display()
    )]
    MapsWithoutBtf {
        /// The object.
        path: PathBuf,
    },
    /// The fixed `.BTF` could not be put back into the object.
    #[error("cannot replace the .BTF section of {}", path.display())]
    Patch {
        /// The object.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: elf_patch::ElfPatchError,
    },
    /// The `.BTF` section could not be rewritten.
    #[error("cannot fix up the .BTF of {}", path.display())]
    Btf {
        /// The object.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: btf_fixup::BtfFixupError,
    },
}

fn list(problems: &[ir::IrProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a link did, for the log line and for tests.
#[derive(Debug, Default)]
pub struct LinkReport {
    /// Exported symbols kept public.
    pub exports: Vec<String>,
    /// Memory intrinsic calls lowered to loops.
    pub lowered_calls: usize,
    /// What the BTF fix-up changed (`None` without BTF).
    pub btf: Option<btf_fixup::FixupReport>,
    /// What retargeting a donor-route module changed (`None` on the bpfel route).
    pub retarget: Option<retarget::RetargetReport>,
    /// Atomics rewritten for the BPF backend.
    pub atomics: atomics::Lowered,
    /// `llvm.lifetime.end` calls removed because only the return followed them.
    pub lifetime_ends_removed: usize,
}

/// Links according to `args` with the given llvm-tools.
pub fn link(args: &LinkArgs, toolchain: &LlvmTools) -> Result<LinkReport, LinkError> {
    // A missing component is the first thing to say, whatever the inputs.
    for tool in crate::toolchain::LLVM_TOOLS {
        toolchain.tool(tool)?;
    }
    let keep = std::env::var_os(KEEP_TEMPS_ENV).is_some_and(|v| v == "1");
    let scratch = scratch_dir(&args.output);
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|source| LinkError::Io {
        action: "create the scratch directory",
        path: scratch.clone(),
        source,
    })?;
    let result = link_in(args, toolchain, &scratch);
    if !keep {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result
}

/// Where intermediate files go: `<output>.bpfkit-link/`.
pub fn scratch_dir(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".bpfkit-link");
    output.with_file_name(name)
}

fn link_in(
    args: &LinkArgs,
    toolchain: &LlvmTools,
    scratch: &Path,
) -> Result<LinkReport, LinkError> {
    let mut inputs = args.inputs.clone();
    for lib in &args.libraries {
        inputs.push(inputs::find_library(lib, &args.library_dirs)?);
    }
    let bitcode = inputs::collect(&inputs, scratch)?;
    if bitcode.files.is_empty() {
        return Err(LinkError::NoBitcode);
    }
    let exports = read_exports(args, &bitcode.skipped_elf)?;
    if exports.is_empty() {
        return Err(LinkError::NoExports);
    }

    // llvm-link: one module. Library bitcode (the donor route's prebuilt `core`) is linked
    // afterwards, only what the program needs.
    let program = scratch.join("program.bc");
    let mut cmd = Command::new(toolchain.tool("llvm-link")?);
    cmd.arg("-o").arg(&program).args(&bitcode.files);
    run(cmd, "llvm-link")?;
    let linked = if bitcode.libraries.is_empty() {
        program
    } else {
        let linked = scratch.join("linked.bc");
        let mut cmd = Command::new(toolchain.tool("llvm-link")?);
        cmd.arg("--only-needed")
            .arg("-o")
            .arg(&linked)
            .arg(&program)
            .args(&bitcode.libraries);
        run(cmd, "llvm-link")?;
        linked
    };

    // Donor route: the module becomes a BPF module (triple, attributes, module flags).
    // CO-RE: marker calls become preserve-access-index intrinsics before opt.
    // Kfuncs: `bpfkit$kfunc$` declarations become `.ksyms` externs with a prototype.
    let mut opt_input = linked.clone();
    let linked_bitcode = read(&linked)?;
    let has_markers = core_markers::bitcode_mentions_markers(&linked_bitcode);
    let has_kfuncs = kfuncs::bitcode_mentions_kfuncs(&linked_bitcode);
    let has_atomics = atomics::bitcode_mentions_atomics(&linked_bitcode);
    // Only donor builds link embedded-bitcode libraries (rustup's prebuilt `core`).
    let maybe_donor = !bitcode.libraries.is_empty();
    let mut retarget_report = None;
    if has_markers || has_kfuncs || has_atomics || maybe_donor {
        let text = scratch.join("linked.ll");
        let mut cmd = Command::new(toolchain.tool("llvm-dis")?);
        cmd.arg(&linked).arg("-o").arg(&text);
        run(cmd, "llvm-dis")?;
        let mut ir = read_text(&text)?;
        let mut changed = false;
        if retarget::is_donor_module(&ir) {
            let (rewritten, report) = retarget::retarget(&ir)?;
            ir = rewritten;
            changed = true;
            retarget_report = Some(report);
        }
        if let Some(rewritten) = core_markers::rewrite(&ir)? {
            ir = rewritten;
            changed = true;
        }
        if let Some(rewritten) = kfuncs::rewrite(&ir)? {
            ir = rewritten;
            changed = true;
        }
        if let Some(rewritten) = atomics::define_markers(&ir)? {
            ir = rewritten;
            changed = true;
        }
        if changed {
            let core_path = scratch.join("core.ll");
            write(&core_path, ir.as_bytes())?;
            opt_input = core_path;
        }
    }

    // opt: internalize all but the exports, optimise, drop what is dead.
    let optimised = scratch.join("optimised.ll");
    let level = args.opt_level.min(3);
    let mut cmd = Command::new(toolchain.tool("opt")?);
    cmd.arg(format!(
        "-internalize-public-api-list={}",
        exports.join(",")
    ))
    .arg(format!(
        "-passes=internalize,globaldce,default<O{level}>,globaldce,strip-dead-prototypes"
    ))
    .arg(&opt_input)
    .arg("-S")
    .arg("-o")
    .arg(&optimised);
    run(cmd, "opt")?;

    // Checks on what survived optimisation.
    let ir_text = read_text(&optimised)?;
    let analysis = ir::check_and_lower(&ir_text);
    if !analysis.problems.is_empty() {
        return Err(LinkError::Unsupported {
            problems: analysis.problems,
        });
    }
    let mut llc_input = optimised.clone();
    if let Some(lowered) = &analysis.lowered {
        let lowered_path = scratch.join("lowered.ll");
        write(&lowered_path, lowered.as_bytes())?;
        let inlined = scratch.join("inlined.ll");
        let mut cmd = Command::new(toolchain.tool("opt")?);
        cmd.arg("-passes=always-inline,globaldce")
            .arg(&lowered_path)
            .arg("-S")
            .arg("-o")
            .arg(&inlined);
        run(cmd, "opt")?;
        llc_input = inlined;
    }

    // Atomics the BPF backend mishandles (llvm#210280) or cannot select; lifetime ends
    // that only precede a return (they keep join blocks alive, see [`lifetimes`]).
    let mut llc_text = if llc_input == optimised {
        ir_text.clone()
    } else {
        read_text(&llc_input)?
    };
    let (atomics_ir, atomics_lowered) = atomics::lower_for_bpf(&llc_text);
    let mut rewritten = false;
    if let Some(text) = atomics_ir {
        llc_text = text;
        rewritten = true;
    }
    let (lifetimes_ir, lifetime_ends_removed) = lifetimes::drop_return_bound_ends(&llc_text);
    if let Some(text) = lifetimes_ir {
        llc_text = text;
        rewritten = true;
    }
    // Opt-in: word accesses outside the stack whatever their alignment ([`align`]).
    if args.misaligned_mem_access {
        if let (Some(text), _) = align::raise_non_stack(&llc_text) {
            llc_text = text;
            rewritten = true;
        }
    }
    if rewritten {
        let path = scratch.join("for-llc.ll");
        write(&path, llc_text.as_bytes())?;
        llc_input = path;
    }

    // Line info: code inlined from other crates is attributed to the user's call site
    // (cargo gives rustc, and so its linker, the crate's directory).
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let text = if llc_input == optimised {
            None
        } else {
            Some(read_text(&llc_input)?)
        };
        if let Some(rewritten) =
            user_lines::rewrite(text.as_deref().unwrap_or(&ir_text), Path::new(&dir))
        {
            let path = scratch.join("lines.ll");
            write(&path, rewritten.as_bytes())?;
            llc_input = path;
        }
    }

    // llc: the BPF object.
    let march = if target_triple(&ir_text).starts_with("bpfeb") {
        "bpfeb"
    } else {
        "bpfel"
    };
    let compiled = scratch.join("llc.o");
    let mut cmd = Command::new(toolchain.tool("llc")?);
    cmd.arg(format!("-march={march}"))
        .arg(format!("-mcpu={}", args.cpu.llc_name()))
        .arg(format!("-O{}", level.max(1)))
        .arg("-filetype=obj")
        .arg("--profile-guided-section-prefix=false")
        .arg(&llc_input)
        .arg("-o")
        .arg(&compiled);
    run(cmd, "llc")?;

    // BTF fix-up.
    let object_bytes = read(&compiled)?;
    let ObjectFacts {
        btf,
        globals,
        has_maps,
    } = inspect_object(&compiled, &object_bytes)?;
    let mut report = LinkReport {
        exports,
        lowered_calls: analysis.lowered_calls,
        btf: None,
        retarget: retarget_report,
        atomics: atomics_lowered,
        lifetime_ends_removed,
    };
    match btf {
        Some(blob) => {
            let (fixed, fixup) =
                btf_fixup::fix_btf(&blob, &globals).map_err(|source| LinkError::Btf {
                    path: args.output.clone(),
                    source,
                })?;
            let patched =
                elf_patch::replace_section(&object_bytes, ".BTF", &fixed).map_err(|source| {
                    LinkError::Patch {
                        path: compiled.clone(),
                        source,
                    }
                })?;
            if args.strip_debug {
                let unstripped = scratch.join("fixed.o");
                write(&unstripped, &patched)?;
                // `.debug_*` only: `.BTF` and `.BTF.ext` are not debug sections to objcopy.
                let mut cmd = Command::new(toolchain.tool("llvm-objcopy")?);
                cmd.arg("--strip-debug").arg(&unstripped).arg(&args.output);
                run(cmd, "llvm-objcopy")?;
            } else {
                write(&args.output, &patched)?;
            }
            report.btf = Some(fixup);
        }
        None if has_maps => {
            return Err(LinkError::MapsWithoutBtf {
                path: args.output.clone(),
            })
        }
        None => write(&args.output, &object_bytes)?,
    }
    Ok(report)
}

/// The exports: `--export-symbols`, else the symbols rustc's `symbols.o` asks to keep
/// (minus the panic handler, which must not become a BPF program).
fn read_exports(args: &LinkArgs, elf_inputs: &[PathBuf]) -> Result<Vec<String>, LinkError> {
    if let Some(path) = &args.export_symbols {
        let text = read_text(path)?;
        return Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect());
    }
    let mut exports = Vec::new();
    for path in elf_inputs {
        let bytes = read(path)?;
        let file = object::File::parse(&*bytes).map_err(|e| LinkError::BadObject {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        for symbol in file.symbols() {
            if let Ok(name) = symbol.name() {
                if symbol.is_global() && !name.is_empty() && !name.ends_with("rust_begin_unwind") {
                    exports.push(name.to_string());
                }
            }
        }
    }
    Ok(exports)
}

/// What the BTF fix-up needs to know about the object llc wrote.
struct ObjectFacts {
    /// The `.BTF` section, if any.
    btf: Option<Vec<u8>>,
    /// Names of global function symbols (the programs).
    globals: HashSet<String>,
    /// Whether a `.maps` section exists.
    has_maps: bool,
}

fn inspect_object(path: &Path, bytes: &[u8]) -> Result<ObjectFacts, LinkError> {
    let bad = |reason: String| LinkError::BadObject {
        path: path.to_path_buf(),
        reason,
    };
    let file = object::File::parse(bytes).map_err(|e| bad(e.to_string()))?;
    let btf = match file.section_by_name(".BTF") {
        Some(section) => Some(section.data().map_err(|e| bad(e.to_string()))?.to_vec()),
        None => None,
    };
    let globals = file
        .symbols()
        .filter(|s| s.is_global() && s.kind() == object::SymbolKind::Text)
        .filter_map(|s| s.name().ok().map(String::from))
        .collect();
    let has_maps = file.section_by_name(".maps").is_some();
    Ok(ObjectFacts {
        btf,
        globals,
        has_maps,
    })
}

fn target_triple(ir: &str) -> &str {
    ir.lines()
        .find_map(|l| l.strip_prefix("target triple = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("bpfel")
}

fn run(mut cmd: Command, tool: &str) -> Result<(), LinkError> {
    let out = cmd.output().map_err(|source| LinkError::ToolNotRunnable {
        tool: PathBuf::from(cmd.get_program()),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let command = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(LinkError::ToolFailed {
        tool: tool.to_string(),
        status: out.status.to_string(),
        command,
        hint: hint_for(&stderr)
            .map(|h| format!("\nhint: {h}"))
            .unwrap_or_default(),
        stderr,
    })
}

/// Advice for LLVM errors whose cause in Rust source is known.
fn hint_for(stderr: &str) -> Option<&'static str> {
    if stderr.contains("A call to built-in function") {
        Some(
            "the BPF backend has no instruction for this operation and cannot call library \
             code: 128-bit multiply/divide, floating-point arithmetic and large or \
             variable-size copies must be avoided (or done on u64 pieces)",
        )
    } else if stderr.contains("Looks like the BPF stack limit") {
        Some("BPF programs have 512 bytes of stack: keep large values in maps (e.g. a per-CPU array)")
    } else {
        None
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LinkError> {
    std::fs::read(path).map_err(|source| LinkError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, LinkError> {
    Ok(String::from_utf8_lossy(&read(path)?).into_owned())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), LinkError> {
    std::fs::write(path, bytes).map_err(|source| LinkError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_at_operations_bpf_cannot_express() {
        let err = "error: src/main.rs:131:9: in function shapes i32 (ptr): A call to built-in \
                   function '__muldf3' is not supported.";
        assert!(hint_for(err).is_some_and(|h| h.contains("floating-point arithmetic")));
        assert!(
            hint_for("error: Looks like the BPF stack limit is exceeded")
                .is_some_and(|h| h.contains("512 bytes"))
        );
        assert_eq!(hint_for("error: something else"), None);
    }
}
