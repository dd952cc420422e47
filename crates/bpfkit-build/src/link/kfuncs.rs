//! Kfunc calls from Rust: a declaration named `bpfkit$kfunc$<name>` (an `extern "C"` item
//! with that `link_name`) becomes, before `opt`, the extern `<name>` in section `.ksyms`
//! with a debug-info prototype, as clang emits for `extern … __ksym`. llc then writes a
//! `call` with an `R_BPF_64_32` relocation to the undefined symbol and an extern BTF FUNC in
//! the `.ksyms` DATASEC, which libbpf and bpfkit's loader resolve against vmlinux BTF.
//!
//! The prototype comes from the IR signature, since rustc gives extern declarations no
//! debug info: `void` and integers map to themselves, every pointer to a pointer to an
//! empty struct (`bpfkit_kfunc_struct`). libbpf accepts a struct pointer for any kernel
//! struct pointer, so kfuncs taking `void *`/`char *` arguments are not supported.

use std::fmt::Write as _;

/// The prefix of a kfunc declaration's symbol name.
pub const KFUNC_PREFIX: &str = "bpfkit$kfunc$";

/// A kfunc declaration the linker cannot turn into a `.ksyms` extern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KfuncError {
    /// An argument or return type has no kfunc BTF mapping.
    #[error(
        "kfunc `{name}`: the type `{ty}` in its Rust declaration is not supported (use \
         integers and pointers to structs)"
    )]
    UnsupportedType {
        /// The kfunc.
        name: String,
        /// The IR type.
        ty: String,
    },
    /// The declaration line could not be understood.
    #[error("kfunc declaration in an unexpected form: `{line}`")]
    BadDeclaration {
        /// The IR line.
        line: String,
    },
    /// The module has no `DIFile` to scope the prototype in (built without debug info).
    #[error("kfunc `{name}` needs debug info: build the eBPF crate with `debug = 2`")]
    NoDebugInfo {
        /// The kfunc.
        name: String,
    },
}

/// True when the linked bitcode mentions a kfunc declaration.
pub fn bitcode_mentions_kfuncs(bitcode: &[u8]) -> bool {
    bitcode
        .windows(KFUNC_PREFIX.len())
        .any(|w| w == KFUNC_PREFIX.as_bytes())
}

/// The largest metadata id used in `ir`.
fn max_metadata_id(ir: &str) -> u32 {
    ir.lines()
        .filter_map(|l| l.strip_prefix('!')?.split_once(" = ")?.0.parse().ok())
        .max()
        .unwrap_or(0)
}

/// Debug-info type for one IR type; `None` for `void`.
fn di_type(
    ty: &str,
    name: &str,
    out: &mut Vec<String>,
    next: &mut u32,
) -> Result<Option<u32>, KfuncError> {
    let ty = ty.trim();
    if ty == "void" {
        return Ok(None);
    }
    let mut push = |body: String| {
        *next += 1;
        out.push(format!("!{} = {body}", *next));
        *next
    };
    if let Some(bits) = ty.strip_prefix('i').and_then(|b| b.parse::<u32>().ok()) {
        if matches!(bits, 8 | 16 | 32 | 64) {
            let id = push(format!(
                "!DIBasicType(name: \"i{bits}\", size: {bits}, encoding: DW_ATE_signed)"
            ));
            return Ok(Some(id));
        }
    }
    if ty == "ptr" {
        let target = push(
            "!DICompositeType(tag: DW_TAG_structure_type, name: \"bpfkit_kfunc_struct\", \
             size: 0, elements: !{})"
                .to_string(),
        );
        let id = push(format!(
            "!DIDerivedType(tag: DW_TAG_pointer_type, baseType: !{target}, size: 64)"
        ));
        return Ok(Some(id));
    }
    Err(KfuncError::UnsupportedType {
        name: name.to_string(),
        ty: ty.to_string(),
    })
}

/// Rewrites every kfunc declaration of `ir`; `Ok(None)` when there is none.
pub fn rewrite(ir: &str) -> Result<Option<String>, KfuncError> {
    let quoted = format!("@\"{KFUNC_PREFIX}");
    if !ir.contains(&quoted) {
        return Ok(None);
    }
    let file = ir.lines().find_map(|l| {
        let (id, body) = l.strip_prefix('!')?.split_once(" = ")?;
        body.starts_with("!DIFile(").then(|| id.to_string())
    });
    let mut next = max_metadata_id(ir);
    let mut metadata = Vec::new();
    let mut out = String::with_capacity(ir.len() + 1024);
    for line in ir.lines() {
        if !line.contains(&quoted) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if !line.starts_with("declare ") {
            out.push_str(&strip_marker(line));
            out.push('\n');
            continue;
        }
        let bad = || KfuncError::BadDeclaration {
            line: line.trim().to_string(),
        };
        let at = line.find(&quoted).ok_or_else(bad)?;
        let name_start = at + quoted.len();
        let name_end = name_start + line[name_start..].find('"').ok_or_else(bad)?;
        let name = &line[name_start..name_end];
        let file = file.as_deref().ok_or_else(|| KfuncError::NoDebugInfo {
            name: name.to_string(),
        })?;
        // `declare [attrs] <ret> @"…"(<args>) [attrs]`
        let ret = line[..at].split_whitespace().last().ok_or_else(bad)?;
        let args_start = name_end + 2;
        let args_end = args_start + line[args_start..].find(')').ok_or_else(bad)?;
        let mut types = vec![di_type(ret, name, &mut metadata, &mut next)?];
        for arg in line[args_start..args_end]
            .split(',')
            .filter(|a| !a.trim().is_empty())
        {
            let ty = arg.split_whitespace().next().unwrap_or("");
            match di_type(ty, name, &mut metadata, &mut next)? {
                Some(id) => types.push(Some(id)),
                None => return Err(bad()),
            }
        }
        let list = types
            .iter()
            .map(|t| t.map_or("null".to_string(), |id| format!("!{id}")))
            .collect::<Vec<_>>()
            .join(", ");
        next += 1;
        let proto = next;
        metadata.push(format!("!{proto} = !DISubroutineType(types: !{{{list}}})"));
        next += 1;
        let sub = next;
        metadata.push(format!(
            "!{sub} = !DISubprogram(name: \"{name}\", scope: !{file}, file: !{file}, type: \
             !{proto}, flags: DIFlagPrototyped, spFlags: DISPFlagOptimized)"
        ));
        let rest = strip_marker(&line["declare ".len()..]);
        let _ = writeln!(out, "declare !dbg !{sub} {rest} section \".ksyms\"");
    }
    for node in metadata {
        out.push_str(&node);
        out.push('\n');
    }
    Ok(Some(out))
}

/// `@"bpfkit$kfunc$name"` → `@name` on one line.
fn strip_marker(line: &str) -> String {
    let quoted = format!("@\"{KFUNC_PREFIX}");
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(&quoted) {
        out.push_str(&rest[..at]);
        let after = &rest[at + quoted.len()..];
        let end = after.find('"').unwrap_or(after.len());
        out.push('@');
        out.push_str(&after[..end]);
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_become_ksyms_externs_with_a_prototype() {
        let ir = "define i32 @p(ptr %c) {\n  %t = call ptr @\"bpfkit$kfunc$bpf_task_acquire\"(ptr %c)\n  call void @\"bpfkit$kfunc$bpf_rcu_read_lock\"()\n  ret i32 0\n}\ndeclare ptr @\"bpfkit$kfunc$bpf_task_acquire\"(ptr) unnamed_addr #1\ndeclare void @\"bpfkit$kfunc$bpf_rcu_read_lock\"() unnamed_addr #1\n!1 = !DIFile(filename: \"a.rs\", directory: \"/\")\n";
        let out = rewrite(ir).unwrap().unwrap();
        assert!(
            out.contains("  %t = call ptr @bpf_task_acquire(ptr %c)\n"),
            "{out}"
        );
        assert!(out.contains("  call void @bpf_rcu_read_lock()\n"), "{out}");
        assert!(
            out.contains(
                "declare !dbg !7 ptr @bpf_task_acquire(ptr) unnamed_addr #1 section \".ksyms\"\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("!6 = !DISubroutineType(types: !{!3, !5})\n"),
            "{out}"
        );
        assert!(out.contains("!7 = !DISubprogram(name: \"bpf_task_acquire\", scope: !1, file: !1, type: !6, flags: DIFlagPrototyped, spFlags: DISPFlagOptimized)\n"), "{out}");
        assert!(
            out.contains("!8 = !DISubroutineType(types: !{null})\n"),
            "{out}"
        );
        assert!(!out.contains(KFUNC_PREFIX), "{out}");
        assert_eq!(
            rewrite("define i32 @p() {\n  ret i32 0\n}\n").unwrap(),
            None
        );
        let float = "declare float @\"bpfkit$kfunc$f\"()\n!1 = !DIFile(filename: \"a.rs\", directory: \"/\")\n";
        assert_eq!(
            rewrite(float).unwrap_err(),
            KfuncError::UnsupportedType {
                name: "f".into(),
                ty: "float".into()
            }
        );
    }
}
