//! Checking optimised textual LLVM IR for what the BPF backend or the verifier refuses
//! (panic paths, indirect calls, calls to undefined functions, symbols named like a
//! section) and lowering
//! `memcpy`/`memmove`/`memset` of non-constant size to byte loops.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

/// Something in the optimised program that cannot become a loadable BPF object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IrProblem {
    /// A function reaches `core::panicking::*`.
    Panic {
        /// The Rust function (demangled) that calls into the panic machinery.
        function: String,
        /// The panicking function it calls.
        callee: String,
    },
    /// A call through a function pointer or `dyn` vtable.
    IndirectCall {
        /// The Rust function (demangled) making the call.
        function: String,
    },
    /// A call to a function no input defines.
    UndefinedFunction {
        /// The Rust function (demangled) making the call.
        function: String,
        /// The missing function.
        callee: String,
    },
    /// A function or static has the name of an ELF section of the program (llc fails with
    /// "symbol '…' is already defined").
    NamedLikeSection {
        /// `function` or `static`.
        kind: &'static str,
        /// The symbol (demangled).
        symbol: String,
        /// The section of that name.
        section: String,
        /// The symbol placed in that section, when it is one (e.g. the function itself).
        section_of: Option<String>,
    },
}

impl fmt::Display for IrProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panic { function, callee } => write!(
                f,
                "`{function}` can panic (it calls `{callee}`): the BPF verifier rejects every \
                 panic path; use checked operations (`get`, `checked_*`, `wrapping_*`) or \
                 prove bounds so the optimiser removes it"
            ),
            Self::IndirectCall { function } => write!(
                f,
                "`{function}` makes an indirect call (function pointer or `dyn` method): BPF \
                 programs can only call known functions; use generics or an enum instead"
            ),
            Self::UndefinedFunction { function, callee } => {
                write!(
                    f,
                    "`{function}` calls `{callee}`, which no input defines (BPF objects cannot \
                     call library functions)"
                )?;
                if callee.starts_with("bpf_") {
                    write!(
                        f,
                        "; if `{callee}` is a kernel function (kfunc), declare it with \
                         `#[link_name = \"bpfkit$kfunc${callee}\"]`"
                    )?;
                }
                Ok(())
            }
            Self::NamedLikeSection {
                kind,
                symbol,
                section,
                section_of,
            } => {
                write!(
                    f,
                    "the {kind} `{symbol}` has the name of the ELF section `{section}`"
                )?;
                match section_of {
                    Some(owner) if owner == symbol => write!(f, " it is placed in")?,
                    Some(owner) => write!(f, " (which holds `{owner}`)")?,
                    None => {}
                }
                write!(
                    f,
                    ": llc cannot define a symbol and a section of the same name \
                     (\"symbol '{section}' is already defined\"); rename the {kind}"
                )
            }
        }
    }
}

/// The result of [`check_and_lower`].
#[derive(Debug, Default)]
pub struct Analysis {
    /// Problems that make the program unloadable (empty when it can go on to llc).
    pub problems: Vec<IrProblem>,
    /// The IR with memory intrinsics of non-constant size replaced, when any were.
    pub lowered: Option<String>,
    /// How many intrinsic calls were lowered to loops.
    pub lowered_calls: usize,
}

/// Demangles a symbol name for messages (`t1::count`, without the hash).
pub fn demangle(symbol: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(symbol))
}

fn is_panic_root(demangled: &str) -> bool {
    demangled.starts_with("core::panicking::") || demangled.ends_with("rust_begin_unwind")
}

fn is_library(demangled: &str) -> bool {
    demangled.starts_with("core::")
        || demangled.starts_with("compiler_builtins::")
        || demangled.starts_with("<core::")
}

/// A call found in a function body.
struct Call<'a> {
    /// Callee name without `@`, or `None` for a call through a value.
    callee: Option<&'a str>,
}

/// Finds the callee of a `call` instruction on one line, if the line has one.
fn find_call(line: &str) -> Option<Call<'_>> {
    let trimmed = line.trim_start();
    let after = if let Some(rest) = trimmed.strip_prefix("call ") {
        rest
    } else {
        let at = line
            .find(" call ")
            .filter(|&at| !line[..at].contains('"') && !line[..at].contains('!'))?;
        // `%x = call`, `tail call`, `musttail call`, `notail call`.
        let before = line[..at].trim();
        let ok = before.ends_with("tail") || before.contains('=') && !before.contains('(');
        if !ok {
            return None;
        }
        &line[at + 6..]
    };
    if after.trim_start().starts_with("asm ") || after.contains(" asm ") {
        return None;
    }
    let bytes = after.as_bytes();
    let inttoptr = after.find("inttoptr");
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if (c == b'@' || c == b'%') && (i == 0 || matches!(bytes[i - 1], b' ' | b'(')) {
            let start = i + 1;
            let end = if bytes.get(start) == Some(&b'"') {
                after[start + 1..]
                    .find('"')
                    .map(|e| start + 1 + e + 1)
                    .unwrap_or(bytes.len())
            } else {
                let mut e = start;
                while e < bytes.len()
                    && (bytes[e].is_ascii_alphanumeric() || b"-_$.".contains(&bytes[e]))
                {
                    e += 1;
                }
                e
            };
            if bytes.get(end) == Some(&b'(') {
                if inttoptr.is_some_and(|p| p < i) {
                    // A BPF helper: `call i64 inttoptr (i64 N to ptr)(...)`.
                    return None;
                }
                let name = after[start..end].trim_matches('"');
                return Some(Call {
                    callee: (c == b'@').then_some(name),
                });
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    if inttoptr.is_some() {
        None
    } else {
        Some(Call { callee: None })
    }
}

/// The name of a `define`d or `declare`d function on a line starting with that keyword.
fn declared_name(line: &str) -> Option<&str> {
    let at = line.find(" @")? + 2;
    let rest = &line[at..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.find('"').map(|e| &quoted[..e]);
    }
    let end = rest.find('(')?;
    Some(&rest[..end])
}

/// Splits a call's argument list at top-level commas; `args` starts after the `(`.
fn call_args(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in args.char_indices() {
        match c {
            '(' | '[' | '{' | '<' => depth += 1,
            ')' | ']' | '}' | '>' if depth == 0 => {
                out.push(args[start..i].trim());
                return out;
            }
            ')' | ']' | '}' | '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

/// Which memory intrinsic a callee is, with the width of its size operand.
fn mem_intrinsic(callee: &str) -> Option<(&'static str, &'static str)> {
    let rest = callee.strip_prefix("llvm.")?;
    let family = ["memcpy", "memmove", "memset"]
        .into_iter()
        .find(|f| rest.starts_with(&format!("{f}.p")))?;
    let width = if rest.ends_with(".i64") {
        "i64"
    } else if rest.ends_with(".i32") {
        "i32"
    } else {
        return None;
    };
    Some((family, width))
}

/// Checks the optimised IR of a whole program and lowers variable-size memory intrinsics.
pub fn check_and_lower(ir: &str) -> Analysis {
    let mut defined = HashSet::new();
    let mut declared = HashSet::new();
    for line in ir.lines() {
        if line.starts_with("define ") {
            defined.extend(declared_name(line));
        } else if line.starts_with("declare ") && !line.contains("section \".ksyms\"") {
            // `.ksyms` declarations are kfuncs, resolved by the loader (see `kfuncs`).
            declared.extend(declared_name(line));
        }
    }

    let mut calls: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut problems = Vec::new();
    let mut lowered_lines: HashMap<usize, String> = HashMap::new();
    let mut helpers: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut current: Option<&str> = None;
    for (number, line) in ir.lines().enumerate() {
        if line.starts_with("define ") {
            current = declared_name(line);
            continue;
        }
        if line == "}" {
            current = None;
            continue;
        }
        let Some(function) = current else { continue };
        let Some(call) = find_call(line) else {
            continue;
        };
        let Some(callee) = call.callee else {
            problems.push(IrProblem::IndirectCall {
                function: demangle(function),
            });
            continue;
        };
        if let Some((family, width)) = mem_intrinsic(callee) {
            let marker = format!("@{callee}(");
            let Some(at) = line.find(&marker) else {
                continue;
            };
            let args = call_args(&line[at + marker.len()..]);
            let size_is_constant = args
                .get(2)
                .and_then(|a| a.rsplit(' ').next())
                .is_some_and(|v| v.parse::<i64>().is_ok());
            if !size_is_constant {
                let helper = format!("@bpfkit.{family}.{width}(");
                lowered_lines.insert(number, line.replacen(&marker, &helper, 1));
                helpers.insert((family, width));
            }
            continue;
        }
        if callee.starts_with("llvm.") {
            continue;
        }
        if declared.contains(callee)
            && !defined.contains(callee)
            && !is_panic_root(&demangle(callee))
        {
            problems.push(IrProblem::UndefinedFunction {
                function: demangle(function),
                callee: demangle(callee),
            });
        }
        calls.entry(function).or_default().insert(callee);
    }

    problems.extend(panic_paths(&calls, &defined, &declared));
    problems.extend(named_like_sections(ir));

    let lowered_calls = lowered_lines.len();
    let lowered = (!lowered_lines.is_empty()).then(|| {
        let mut out = String::with_capacity(ir.len() + 2048);
        for (number, line) in ir.lines().enumerate() {
            out.push_str(lowered_lines.get(&number).map_or(line, String::as_str));
            out.push('\n');
        }
        for (family, width) in helpers {
            out.push_str(&helper_definition(family, width));
        }
        out
    });
    Analysis {
        problems,
        lowered,
        lowered_calls,
    }
}

/// Every function or global variable whose name is also the name of a section some
/// definition is placed in (`#[link_section]`).
fn named_like_sections(ir: &str) -> Vec<IrProblem> {
    // (symbol, kind, its section)
    let mut symbols: Vec<(&str, &'static str, Option<&str>)> = Vec::new();
    for line in ir.lines() {
        let section = line.find(" section \"").and_then(|at| {
            let rest = &line[at + " section \"".len()..];
            rest.find('"').map(|end| &rest[..end])
        });
        if line.starts_with("define ") {
            if let Some(name) = declared_name(line) {
                symbols.push((name, "function", section));
            }
        } else if let Some(rest) = line.strip_prefix('@') {
            let name = match rest.strip_prefix('"') {
                Some(quoted) => quoted.find('"').map(|e| &quoted[..e]),
                None => rest.find(" = ").map(|e| &rest[..e]),
            };
            if let Some(name) = name {
                symbols.push((name, "static", section));
            }
        }
    }
    let mut problems = Vec::new();
    for &(name, kind, _) in &symbols {
        let holders: Vec<&str> = symbols
            .iter()
            .filter(|(_, _, section)| *section == Some(name))
            .map(|(holder, _, _)| *holder)
            .collect();
        if holders.is_empty() {
            continue;
        }
        let section_of = if holders.contains(&name) {
            Some(demangle(name))
        } else {
            holders.first().map(|h| demangle(h))
        };
        problems.push(IrProblem::NamedLikeSection {
            kind,
            symbol: demangle(name),
            section: name.to_string(),
            section_of,
        });
    }
    problems
}

/// Every user function that calls into a function that (transitively) reaches
/// `core::panicking::*`, naming the callee.
fn panic_paths(
    calls: &HashMap<&str, BTreeSet<&str>>,
    defined: &HashSet<&str>,
    declared: &HashSet<&str>,
) -> Vec<IrProblem> {
    let mut panicky: HashSet<&str> = defined
        .iter()
        .chain(declared.iter())
        .copied()
        .filter(|name| is_panic_root(&demangle(name)))
        .collect();
    loop {
        let before = panicky.len();
        for (caller, callees) in calls {
            if callees.iter().any(|c| panicky.contains(c)) {
                panicky.insert(caller);
            }
        }
        if panicky.len() == before {
            break;
        }
    }
    let mut callers: Vec<&&str> = calls.keys().collect();
    callers.sort();
    let mut problems = Vec::new();
    for caller in callers {
        let function = demangle(caller);
        if is_library(&function) || is_panic_root(&function) {
            continue;
        }
        if let Some(callee) = calls[caller].iter().find(|c| panicky.contains(*c)) {
            problems.push(IrProblem::Panic {
                function,
                callee: demangle(callee),
            });
        }
    }
    problems
}

/// An always-inlined byte loop with the signature of the intrinsic it replaces.
fn helper_definition(family: &str, width: &str) -> String {
    let head = |params: &str| {
        format!(
            "\ndefine internal void @bpfkit.{family}.{width}({params}, i1 %volatile) alwaysinline nounwind {{\n"
        )
    };
    let t = width;
    match family {
        "memset" => format!(
            "{}entry:\n  %empty = icmp eq {t} %len, 0\n  br i1 %empty, label %done, label %loop\n\
             loop:\n  %i = phi {t} [ 0, %entry ], [ %next, %loop ]\n  \
             %p = getelementptr inbounds i8, ptr %dst, {t} %i\n  store i8 %val, ptr %p, align 1\n  \
             %next = add nuw {t} %i, 1\n  %more = icmp ult {t} %next, %len\n  \
             br i1 %more, label %loop, label %done\n\
             done:\n  ret void\n}}\n",
            head(&format!("ptr %dst, i8 %val, {t} %len"))
        ),
        "memcpy" => format!(
            "{}entry:\n  %empty = icmp eq {t} %len, 0\n  br i1 %empty, label %done, label %loop\n\
             loop:\n  %i = phi {t} [ 0, %entry ], [ %next, %loop ]\n  \
             %s = getelementptr inbounds i8, ptr %src, {t} %i\n  %b = load i8, ptr %s, align 1\n  \
             %d = getelementptr inbounds i8, ptr %dst, {t} %i\n  store i8 %b, ptr %d, align 1\n  \
             %next = add nuw {t} %i, 1\n  %more = icmp ult {t} %next, %len\n  \
             br i1 %more, label %loop, label %done\n\
             done:\n  ret void\n}}\n",
            head(&format!("ptr %dst, ptr %src, {t} %len"))
        ),
        _ => format!(
            "{}entry:\n  %empty = icmp eq {t} %len, 0\n  br i1 %empty, label %done, label %pick\n\
             pick:\n  %forward = icmp ule ptr %dst, %src\n  br i1 %forward, label %up, label %down\n\
             up:\n  %i = phi {t} [ 0, %pick ], [ %next, %up ]\n  \
             %s = getelementptr inbounds i8, ptr %src, {t} %i\n  %b = load i8, ptr %s, align 1\n  \
             %d = getelementptr inbounds i8, ptr %dst, {t} %i\n  store i8 %b, ptr %d, align 1\n  \
             %next = add nuw {t} %i, 1\n  %more = icmp ult {t} %next, %len\n  \
             br i1 %more, label %up, label %done\n\
             down:\n  %j = phi {t} [ %len, %pick ], [ %prev, %down ]\n  %prev = sub nuw {t} %j, 1\n  \
             %s2 = getelementptr inbounds i8, ptr %src, {t} %prev\n  %b2 = load i8, ptr %s2, align 1\n  \
             %d2 = getelementptr inbounds i8, ptr %dst, {t} %prev\n  store i8 %b2, ptr %d2, align 1\n  \
             %left = icmp ne {t} %prev, 0\n  br i1 %left, label %down, label %done\n\
             done:\n  ret void\n}}\n",
            head(&format!("ptr %dst, ptr %src, {t} %len"))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbol_named_like_a_section_is_a_problem_naming_it() {
        let ir = r#"
@LICENSE = dso_local global [4 x i8] c"GPL\00", section "license", align 1
@license = internal global i32 0, align 4
define dso_local i32 @sockops(ptr %0) unnamed_addr #0 section "sockops" !dbg !7 {
  ret i32 0
}
define dso_local i32 @other(ptr %0) section "xdp" {
  ret i32 0
}
"#;
        let problems = check_and_lower(ir).problems;
        let mut text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        text.sort();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(
            text[0].starts_with(
                "the function `sockops` has the name of the ELF section `sockops` it is \
                 placed in: llc cannot define a symbol and a section of the same name"
            ),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with(
                "the static `license` has the name of the ELF section `license` (which \
                 holds `LICENSE`)"
            ),
            "{}",
            text[1]
        );
    }

    const PANICKY: &str = r#"
define i32 @count(ptr %ctx) {
start:
  %x = load i32, ptr %ctx
  %ok = icmp ult i32 %x, 4
  br i1 %ok, label %fine, label %oops
oops:
  tail call void @_ZN4core9panicking18panic_bounds_check17h0123456789abcdefE(i64 4, i64 4, ptr @loc) #3
  unreachable
fine:
  %r = call i64 inttoptr (i64 14 to ptr)()
  ret i32 0
}

define internal void @_ZN4core9panicking18panic_bounds_check17h0123456789abcdefE(i64 %0, i64 %1, ptr %2) {
  call void @_RNvCsfLfy6EI15iL_7___rustc17rust_begin_unwind(ptr null)
  unreachable
}

declare void @_RNvCsfLfy6EI15iL_7___rustc17rust_begin_unwind(ptr)
"#;

    #[test]
    fn names_the_rust_function_that_can_panic() {
        let analysis = check_and_lower(PANICKY);
        assert_eq!(
            analysis.problems,
            [IrProblem::Panic {
                function: "count".into(),
                callee: "core::panicking::panic_bounds_check".into(),
            }]
        );
        assert!(analysis.lowered.is_none());
    }

    #[test]
    fn reports_indirect_calls_with_the_caller() {
        let ir = "define internal fastcc i64 @_ZN2t16helper17h0123456789abcdefE(ptr %f) {\n  %r = call noundef i64 %f(i32 1)\n  ret i64 %r\n}\n";
        assert_eq!(
            check_and_lower(ir).problems,
            [IrProblem::IndirectCall {
                function: "t1::helper".into()
            }]
        );
    }

    #[test]
    fn reports_calls_to_undefined_functions() {
        let ir = "define i32 @prog(ptr %p) {\n  call void @memcpy(ptr %p, ptr %p, i64 8)\n  ret i32 0\n}\ndeclare void @memcpy(ptr, ptr, i64)\n";
        assert_eq!(
            check_and_lower(ir).problems,
            [IrProblem::UndefinedFunction {
                function: "prog".into(),
                callee: "memcpy".into()
            }]
        );
        let kfunc = "define i32 @prog(ptr %p) {\n  %t = call ptr @bpf_task_acquire(ptr %p)\n  ret i32 0\n}\ndeclare ptr @bpf_task_acquire(ptr)\n";
        let problems = check_and_lower(kfunc).problems;
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].to_string().ends_with(
                "; if `bpf_task_acquire` is a kernel function (kfunc), declare it with \
                 `#[link_name = \"bpfkit$kfunc$bpf_task_acquire\"]`"
            ),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn keeps_constant_size_intrinsics_and_lowers_variable_ones() {
        let ir = "define i32 @prog(ptr %d, ptr %s, i64 %n) {\n  call void @llvm.memcpy.p0.p0.i64(ptr align 1 %d, ptr align 1 %s, i64 16, i1 false)\n  tail call void @llvm.memset.p0.i64(ptr align 8 %d, i8 0, i64 %n, i1 false), !dbg !12\n  ret i32 0\n}\n";
        let analysis = check_and_lower(ir);
        assert!(analysis.problems.is_empty());
        assert_eq!(analysis.lowered_calls, 1);
        let lowered = analysis.lowered.unwrap();
        assert!(lowered.contains("@llvm.memcpy.p0.p0.i64(ptr align 1 %d, ptr align 1 %s, i64 16"));
        assert!(lowered.contains(
            "tail call void @bpfkit.memset.i64(ptr align 8 %d, i8 0, i64 %n, i1 false), !dbg !12"
        ));
        assert!(lowered.contains("define internal void @bpfkit.memset.i64(ptr %dst, i8 %val, i64 %len, i1 %volatile) alwaysinline"));
        assert!(!lowered.contains("define internal void @bpfkit.memcpy"));
    }

    #[test]
    fn finds_callees_behind_return_types_and_function_types() {
        let callee = |l: &str| find_call(l).map(|c| c.callee.map(str::to_string));
        assert_eq!(
            callee("  %5 = call { i64, i64 } @pair(ptr %x)"),
            Some(Some("pair".into()))
        );
        assert_eq!(
            callee("  call void (ptr, ...) @\"va$fn\"(ptr %x)"),
            Some(Some("va$fn".into()))
        );
        assert_eq!(
            callee("  %r = call i64 inttoptr (i64 1 to ptr)(ptr @MAP, ptr %k)"),
            None
        );
        assert_eq!(callee("  %r = load i32, ptr @call"), None);
        assert_eq!(
            callee("  call void asm sideeffect \"r0 = 0\", \"\"()"),
            None
        );
    }
}
