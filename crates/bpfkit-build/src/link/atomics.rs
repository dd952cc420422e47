//! Atomics for BPF, the same on both routes.
//!
//! - **Markers.** `bpfkit-ebpf`'s atomic types call externs named
//!   `bpfkit$atomic$<op>$<u32|u64>` (`fetch_add`, `fetch_sub`, `fetch_and`, `fetch_or`,
//!   `fetch_xor`, `swap`, `cmpxchg`). Before `opt`, [`define_markers`] replaces each
//!   declaration by an `internal alwaysinline` definition holding one `atomicrmw`/`cmpxchg`
//!   instruction, `seq_cst`, so no `#![feature]` and no `core` atomics are needed (bpfel's
//!   `core` has none of these). Only the declaration lines change; call sites are untouched.
//! - **Orderings** ([`lower_for_bpf`], on the IR given to `llc`): LLVM 22's BPF backend
//!   drops the fetch flag of a non-`seq_cst` read-modify-write whose result is used
//!   (llvm/llvm-project#210280), so every `atomicrmw`/`cmpxchg` becomes `seq_cst`. The
//!   backend selects no `fence` and no atomic load/store below v4 (and v4's load-acquire
//!   needs Linux 6.15): a `fence` becomes a compiler barrier (an empty `asm` clobbering
//!   memory), atomic loads and stores become volatile ones. Those come from the donor
//!   route's `core` atomics; on BPF, JITs give plain loads and stores no stronger ordering.
//!
//! BPF has atomic instructions with a fetched result from `-mcpu=v3` (Linux 5.12), for
//! 32- and 64-bit values only.

use std::fmt::Write as _;

/// The prefix of an atomic marker's symbol name.
pub const ATOMIC_PREFIX: &str = "bpfkit$atomic$";

/// An atomic marker the linker does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtomicError {
    /// The operation or width in the marker's name is unknown.
    #[error(
        "unknown atomic marker `{name}` (expected bpfkit$atomic$<fetch_add|fetch_sub|fetch_and|\
         fetch_or|fetch_xor|swap|cmpxchg>$<u32|u64>)"
    )]
    Unknown {
        /// The symbol.
        name: String,
    },
}

/// True when the linked bitcode mentions an atomic marker.
pub fn bitcode_mentions_atomics(bitcode: &[u8]) -> bool {
    bitcode
        .windows(ATOMIC_PREFIX.len())
        .any(|w| w == ATOMIC_PREFIX.as_bytes())
}

/// The marker a `declare` line declares: (symbol, operation, width in bits).
fn declared_marker(line: &str) -> Option<Result<(&str, &str, u32), AtomicError>> {
    if !line.starts_with("declare ") {
        return None;
    }
    let start = line.find("@\"bpfkit$atomic$")? + 2;
    let name = &line[start..start + line[start..].find('"')?];
    let rest = &name[ATOMIC_PREFIX.len()..];
    let unknown = || AtomicError::Unknown {
        name: name.to_string(),
    };
    let Some((op, width)) = rest.split_once('$') else {
        return Some(Err(unknown()));
    };
    let bits = match width {
        "u32" => 32,
        "u64" => 64,
        _ => return Some(Err(unknown())),
    };
    let known = [
        "fetch_add",
        "fetch_sub",
        "fetch_and",
        "fetch_or",
        "fetch_xor",
        "swap",
        "cmpxchg",
    ];
    if !known.contains(&op) {
        return Some(Err(unknown()));
    }
    Some(Ok((name, op, bits)))
}

/// The definition of one marker.
fn definition(name: &str, op: &str, bits: u32) -> String {
    let ty = format!("i{bits}");
    let mut out = String::new();
    if op == "cmpxchg" {
        let _ = writeln!(
            out,
            "define internal {ty} @\"{name}\"(ptr %p, {ty} %current, {ty} %new) alwaysinline {{\n  \
             %r = cmpxchg ptr %p, {ty} %current, {ty} %new seq_cst seq_cst, align {align}\n  \
             %old = extractvalue {{ {ty}, i1 }} %r, 0\n  ret {ty} %old\n}}",
            align = bits / 8
        );
    } else {
        let rmw = match op {
            "fetch_add" => "add",
            "fetch_sub" => "sub",
            "fetch_and" => "and",
            "fetch_or" => "or",
            "fetch_xor" => "xor",
            _ => "xchg",
        };
        let _ = writeln!(
            out,
            "define internal {ty} @\"{name}\"(ptr %p, {ty} %v) alwaysinline {{\n  \
             %old = atomicrmw {rmw} ptr %p, {ty} %v seq_cst, align {align}\n  ret {ty} %old\n}}",
            align = bits / 8
        );
    }
    out
}

/// Replaces every atomic marker declaration with its definition; `None` when there is none.
pub fn define_markers(ir: &str) -> Result<Option<String>, AtomicError> {
    let mut out = String::with_capacity(ir.len() + 1024);
    let mut definitions = String::new();
    for line in ir.lines() {
        match declared_marker(line) {
            Some(Ok((name, op, bits))) => definitions.push_str(&definition(name, op, bits)),
            Some(Err(e)) => return Err(e),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if definitions.is_empty() {
        return Ok(None);
    }
    out.push('\n');
    out.push_str(&definitions);
    Ok(Some(out))
}

/// What [`lower_for_bpf`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Lowered {
    /// `atomicrmw`/`cmpxchg` made `seq_cst`.
    pub strengthened: usize,
    /// `fence`s made compiler barriers.
    pub fences: usize,
    /// Atomic loads and stores made volatile.
    pub loads_stores: usize,
}

const ORDERINGS: &[&str] = &["unordered", "monotonic", "acquire", "release", "acq_rel"];

/// The instruction of an IR line inside a function: the text after `%x = `, if any.
fn instruction(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with("  ") {
        return None;
    }
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    if let Some(rest) = body.strip_prefix('%') {
        let (_, inst) = rest.split_once(" = ")?;
        Some((&line[..line.len() - inst.len()], inst))
    } else {
        Some((indent, body))
    }
}

/// Splits an instruction into its operand part and its trailing `, align …`/`, !…` part.
fn split_trailer(inst: &str) -> (&str, &str) {
    let cut = [", align ", ", !"]
        .iter()
        .filter_map(|t| inst.find(t))
        .min()
        .unwrap_or(inst.len());
    inst.split_at(cut)
}

/// Drops `syncscope("…")` and ordering words from an operand part.
fn without_orderings(operands: &str) -> String {
    operands
        .split(' ')
        .filter(|t| !ORDERINGS.contains(t) && *t != "seq_cst" && !t.starts_with("syncscope("))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rewrites atomics the BPF backend mishandles or cannot select (see the module docs);
/// `None` when nothing changed.
pub fn lower_for_bpf(ir: &str) -> (Option<String>, Lowered) {
    let mut lowered = Lowered::default();
    let mut out = String::with_capacity(ir.len());
    for line in ir.lines() {
        let Some((head, inst)) = instruction(line) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let (operands, trailer) = split_trailer(inst);
        let first = operands.split(' ').next().unwrap_or_default();
        let rewritten = match first {
            "atomicrmw" | "cmpxchg" => {
                let mut changed = false;
                let tokens: Vec<&str> = operands
                    .split(' ')
                    .map(|t| {
                        if ORDERINGS.contains(&t) {
                            changed = true;
                            "seq_cst"
                        } else {
                            t
                        }
                    })
                    .collect();
                changed.then(|| {
                    lowered.strengthened += 1;
                    format!("{head}{}{trailer}", tokens.join(" "))
                })
            }
            "fence" => {
                lowered.fences += 1;
                // A fence has no operands but its ordering; `, !dbg` stays.
                Some(format!(
                    "{head}call void asm sideeffect \"\", \"~{{memory}}\"(){trailer}"
                ))
            }
            "load" | "store" if operands.split(' ').nth(1) == Some("atomic") => {
                lowered.loads_stores += 1;
                // `load atomic [volatile] T, ptr P ORDER` → `load volatile T, ptr P`.
                let rest = without_orderings(&operands[first.len() + " atomic".len()..]);
                let rest = rest.trim_start();
                let rest = rest.strip_prefix("volatile ").unwrap_or(rest);
                Some(format!("{head}{first} volatile {rest}{trailer}"))
            }
            _ => None,
        };
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push('\n');
    }
    let changed = lowered != Lowered::default();
    (changed.then_some(out), lowered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defines_each_declared_marker_and_leaves_calls_alone() {
        let ir = "declare i64 @\"bpfkit$atomic$fetch_add$u64\"(ptr noundef, i64 noundef)\n\
                  declare signext i32 @\"bpfkit$atomic$cmpxchg$u32\"(ptr, i32 signext, i32 signext)\n\
                  define i64 @f(ptr %p) {\n  %r = call i64 @\"bpfkit$atomic$fetch_add$u64\"(ptr %p, i64 1)\n  ret i64 %r\n}\n";
        let out = define_markers(ir).unwrap().unwrap();
        assert!(!out.contains("declare"), "{out}");
        assert!(out.contains("  %r = call i64 @\"bpfkit$atomic$fetch_add$u64\"(ptr %p, i64 1)\n"));
        assert!(out.contains(
            "define internal i64 @\"bpfkit$atomic$fetch_add$u64\"(ptr %p, i64 %v) alwaysinline {\n  \
             %old = atomicrmw add ptr %p, i64 %v seq_cst, align 8\n"
        ));
        assert!(out.contains(
            "%r = cmpxchg ptr %p, i32 %current, i32 %new seq_cst seq_cst, align 4\n  \
             %old = extractvalue { i32, i1 } %r, 0\n  ret i32 %old\n"
        ));
        assert_eq!(define_markers("define void @f() {\n}\n").unwrap(), None);
    }

    #[test]
    fn names_an_unknown_marker() {
        let err = define_markers("declare i16 @\"bpfkit$atomic$fetch_nand$u16\"(ptr, i16)\n")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown atomic marker `bpfkit$atomic$fetch_nand$u16`"),
            "{err}"
        );
    }

    #[test]
    fn strengthens_orderings_and_lowers_fences_and_atomic_accesses() {
        let ir = "define i64 @f(ptr %p, i64 %v) {\n\
                  \x20 %a = atomicrmw add ptr %p, i64 %v monotonic, align 8\n\
                  \x20 %b = cmpxchg ptr %p, i64 %a, i64 %v acquire monotonic, align 8, !dbg !7\n\
                  \x20 %c = atomicrmw volatile xchg ptr %p, i64 %v syncscope(\"singlethread\") seq_cst, align 8\n\
                  \x20 fence acquire\n\
                  \x20 %d = load atomic i64, ptr %p acquire, align 8, !dbg !8\n\
                  \x20 store atomic volatile i64 %d, ptr %p release, align 8\n\
                  \x20 %monotonic = load i64, ptr %p, align 8\n\
                  \x20 ret i64 %d\n}\n";
        let (out, lowered) = lower_for_bpf(ir);
        let out = out.unwrap();
        assert_eq!(
            lowered,
            Lowered {
                strengthened: 2,
                fences: 1,
                loads_stores: 2
            }
        );
        assert!(out.contains("  %a = atomicrmw add ptr %p, i64 %v seq_cst, align 8\n"));
        assert!(out
            .contains("  %b = cmpxchg ptr %p, i64 %a, i64 %v seq_cst seq_cst, align 8, !dbg !7\n"));
        assert!(out.contains("syncscope(\"singlethread\") seq_cst, align 8\n"));
        assert!(out.contains("  call void asm sideeffect \"\", \"~{memory}\"()\n"));
        assert!(out.contains("  %d = load volatile i64, ptr %p, align 8, !dbg !8\n"));
        assert!(out.contains("  store volatile i64 %d, ptr %p, align 8\n"));
        assert!(out.contains("  %monotonic = load i64, ptr %p, align 8\n"));
        assert_eq!(lower_for_bpf("define void @f() {\n  ret void\n}\n").0, None);
    }
}
