//! The donor route: a module rustc compiled for a donor target (`riscv64imac-unknown-none-elf`,
//! whose prebuilt `core` rustup ships) made into a BPF module before `opt`.
//!
//! What changes, on the textual IR `llvm-dis` printed (each item below is one line of the
//! printer's output, so the rewrite works on whole top-level entities, never inside function
//! bodies; `opt` re-parses the result and refuses anything malformed):
//! - `target triple` becomes `bpfel`; `target datalayout` must already be bpfel's (the
//!   donor is chosen for that: a different layout would change every struct offset and is
//!   refused).
//! - attribute groups (`attributes #N = { … }`) lose the donor's code-generation attributes:
//!   `target-cpu`, `target-features`, `tune-cpu`, `probe-stack`, `nonlazybind`, `uwtable`.
//! - `!llvm.module.flags` loses the donor's flags (`PIC Level`, `PIE Level`, `Code Model`,
//!   `RtLibUseGOT`, `target-abi`, `SmallDataLimit`, …); the nodes stay, unreferenced.

use std::collections::HashSet;

/// The triple of the donor target the route compiles for.
pub const DONOR_TARGET: &str = "riscv64imac-unknown-none-elf";

/// BPF's data layout (little-endian), which the donor's must equal.
pub const BPFEL_DATALAYOUT: &str = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128";

/// String attributes (`"key"="value"`) that describe the donor's code generation.
const DONOR_STRING_ATTRIBUTES: &[&str] = &[
    "target-cpu",
    "target-features",
    "tune-cpu",
    "probe-stack",
    "frame-pointer",
];

/// Enum attributes (bare words, optionally with an argument) of the donor's code generation.
const DONOR_ENUM_ATTRIBUTES: &[&str] = &["nonlazybind", "uwtable"];

/// Module flags that describe the donor's code generation.
const DONOR_MODULE_FLAGS: &[&str] = &[
    "PIC Level",
    "PIE Level",
    "Code Model",
    "RtLibUseGOT",
    "target-abi",
    "SmallDataLimit",
    "direct-access-external-data",
    "uwtable",
    "frame-pointer",
];

/// Why a donor module cannot become a BPF module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetargetError {
    /// The module names no target triple.
    #[error("the linked module has no `target triple` line")]
    NoTriple,
    /// The donor's data layout is not BPF's, so types would be laid out differently.
    #[error(
        "the donor target `{triple}` lays out data as `{datalayout}`, not as BPF \
         (`{BPFEL_DATALAYOUT}`); build with BPFKIT_ROUTE=bpfel or the donor {DONOR_TARGET}"
    )]
    DataLayout {
        /// The module's triple.
        triple: String,
        /// The module's data layout.
        datalayout: String,
    },
    /// An attribute group or the module-flags list could not be read.
    #[error("unexpected IR in the donor module: `{line}`")]
    Malformed {
        /// The line.
        line: String,
    },
}

/// What [`retarget`] changed, for tests and the keep-temps log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetargetReport {
    /// The donor triple the module had.
    pub donor: String,
    /// Attributes removed, over all groups.
    pub attributes_removed: usize,
    /// Module flags removed, by name.
    pub flags_removed: Vec<String>,
}

/// The quoted value of a `target triple = "…"` or `target datalayout = "…"` line.
fn target_line<'a>(ir: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("target {key} = \"");
    ir.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str())?.strip_suffix('"'))
}

/// The module's target triple.
pub fn module_triple(ir: &str) -> Option<&str> {
    target_line(ir, "triple")
}

/// True when the module was compiled for a donor (any target that is not BPF).
pub fn is_donor_module(ir: &str) -> bool {
    module_triple(ir).is_some_and(|t| !t.starts_with("bpf"))
}

/// Rewrites a donor module into a `bpfel` module (see the module docs).
pub fn retarget(ir: &str) -> Result<(String, RetargetReport), RetargetError> {
    let triple = module_triple(ir).ok_or(RetargetError::NoTriple)?;
    let datalayout = target_line(ir, "datalayout").unwrap_or_default();
    if datalayout != BPFEL_DATALAYOUT {
        return Err(RetargetError::DataLayout {
            triple: triple.to_string(),
            datalayout: datalayout.to_string(),
        });
    }
    let mut report = RetargetReport {
        donor: triple.to_string(),
        ..RetargetReport::default()
    };
    let dropped_flags = donor_flag_nodes(ir)?;
    let mut out = String::with_capacity(ir.len());
    for line in ir.lines() {
        if line.starts_with("target triple = ") {
            out.push_str("target triple = \"bpfel\"");
        } else if line.starts_with("attributes #") {
            let (rewritten, removed) = rewrite_attribute_group(line)?;
            report.attributes_removed += removed;
            out.push_str(&rewritten);
        } else if let Some(list) = line.strip_prefix("!llvm.module.flags = !{") {
            let list = list.strip_suffix('}').ok_or_else(|| malformed(line))?;
            let kept: Vec<&str> = list
                .split(", ")
                .map(str::trim)
                .filter(|node| !dropped_flags.iter().any(|(id, _)| id == node))
                .collect();
            out.push_str(&format!("!llvm.module.flags = !{{{}}}", kept.join(", ")));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    report.flags_removed = dropped_flags.into_iter().map(|(_, name)| name).collect();
    Ok((out, report))
}

fn malformed(line: &str) -> RetargetError {
    RetargetError::Malformed {
        line: line.chars().take(200).collect(),
    }
}

/// The module-flag nodes (`!N`, flag name) to drop: those listed in `!llvm.module.flags`
/// whose node `!N = !{i32 <behaviour>, !"<name>", …}` names a donor flag.
fn donor_flag_nodes(ir: &str) -> Result<Vec<(String, String)>, RetargetError> {
    let Some(line) = ir
        .lines()
        .find(|l| l.starts_with("!llvm.module.flags = !{"))
    else {
        return Ok(Vec::new());
    };
    let list = line
        .strip_prefix("!llvm.module.flags = !{")
        .and_then(|l| l.strip_suffix('}'))
        .ok_or_else(|| malformed(line))?;
    let listed: HashSet<&str> = list.split(", ").map(str::trim).collect();
    let mut out = Vec::new();
    for line in ir.lines() {
        let Some((id, body)) = line.split_once(" = !{") else {
            continue;
        };
        if !listed.contains(id) {
            continue;
        }
        // `i32 7, !"PIC Level", i32 2}`: the name is the second element.
        let name = body
            .split_once(", !\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(name, _)| name)
            .ok_or_else(|| malformed(line))?;
        if DONOR_MODULE_FLAGS.contains(&name) {
            out.push((id.to_string(), name.to_string()));
        }
    }
    Ok(out)
}

/// Splits an attribute group body into its attributes: separated by spaces outside quotes
/// and parentheses (`memory(argmem: readwrite)`, `"key"="a b"`).
fn attribute_tokens(body: &str) -> Option<Vec<&str>> {
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.checked_sub(1)?,
            ' ' if !quoted && depth == 0 => {
                if i > start {
                    tokens.push(&body[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted || depth != 0 {
        return None;
    }
    if start < body.len() {
        tokens.push(&body[start..]);
    }
    Some(tokens)
}

/// True when one attribute is the donor's.
fn is_donor_attribute(token: &str) -> bool {
    if let Some(quoted) = token.strip_prefix('"') {
        let key = quoted.split('"').next().unwrap_or_default();
        return DONOR_STRING_ATTRIBUTES.contains(&key);
    }
    let word = token.split('(').next().unwrap_or(token);
    DONOR_ENUM_ATTRIBUTES.contains(&word)
}

/// `attributes #N = { … }` without the donor's attributes; the count removed.
fn rewrite_attribute_group(line: &str) -> Result<(String, usize), RetargetError> {
    let (head, body) = line.split_once(" = { ").ok_or_else(|| malformed(line))?;
    let body = body.strip_suffix(" }").ok_or_else(|| malformed(line))?;
    let tokens = attribute_tokens(body).ok_or_else(|| malformed(line))?;
    let kept: Vec<&str> = tokens
        .iter()
        .copied()
        .filter(|t| !is_donor_attribute(t))
        .collect();
    let removed = tokens.len() - kept.len();
    Ok((format!("{head} = {{ {} }}", kept.join(" ")), removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DONOR: &str = r#"; ModuleID = 'linked.bc'
source_filename = "counter.8a801f9aed385525-cgu.0"
target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"
target triple = "riscv64-unknown-unknown-elf"

define i32 @count_getpid(ptr %ctx) unnamed_addr #0 section "tracepoint/syscalls/sys_enter_getpid" {
  ret i32 0
}

attributes #0 = { nounwind memory(argmem: readwrite) uwtable "probe-stack"="inline-asm" "target-cpu"="generic-rv64" "target-features"="+m,+a,+c,-d" "x"="a b" }
attributes #1 = { nocallback nofree nounwind willreturn memory(argmem: readwrite) }

!llvm.module.flags = !{!0, !1, !2, !3}

!0 = !{i32 8, !"PIC Level", i32 2}
!1 = !{i32 1, !"Code Model", i32 3}
!2 = !{i32 7, !"Dwarf Version", i32 4}
!3 = !{i32 2, !"Debug Info Version", i32 3}
"#;

    #[test]
    fn makes_a_donor_module_bpfel_and_drops_donor_codegen_settings() {
        assert!(is_donor_module(DONOR));
        let (ir, report) = retarget(DONOR).unwrap();
        assert!(!is_donor_module(&ir));
        assert_eq!(module_triple(&ir), Some("bpfel"));
        assert_eq!(report.donor, "riscv64-unknown-unknown-elf");
        assert_eq!(report.attributes_removed, 4);
        assert_eq!(report.flags_removed, ["PIC Level", "Code Model"]);
        assert!(
            ir.contains("attributes #0 = { nounwind memory(argmem: readwrite) \"x\"=\"a b\" }\n")
        );
        assert!(ir.contains(
            "attributes #1 = { nocallback nofree nounwind willreturn memory(argmem: readwrite) }\n"
        ));
        assert!(ir.contains("!llvm.module.flags = !{!2, !3}\n"));
        // Function bodies are untouched.
        assert!(ir.contains("section \"tracepoint/syscalls/sys_enter_getpid\" {\n  ret i32 0\n}"));
    }

    #[test]
    fn refuses_a_donor_whose_data_layout_is_not_bpfs() {
        let x86 = DONOR
            .replace(
                BPFEL_DATALAYOUT,
                "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128",
            )
            .replace("riscv64-unknown-unknown-elf", "x86_64-unknown-none-elf");
        let err = retarget(&x86).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the donor target `x86_64-unknown-none-elf` lays out data as"),
            "{err}"
        );
    }

    #[test]
    fn bpf_modules_are_not_donor_modules() {
        assert!(!is_donor_module("target triple = \"bpfel\"\n"));
        assert!(!is_donor_module("target triple = \"bpfeb-unknown-none\"\n"));
        assert!(!is_donor_module("; no triple\n"));
    }

    #[test]
    fn names_a_malformed_attribute_group() {
        let err = retarget(&DONOR.replace(
            "attributes #1 = { nocallback",
            "attributes #1 = { \"unterminated",
        ))
        .unwrap_err();
        assert!(matches!(err, RetargetError::Malformed { .. }), "{err}");
    }
}
