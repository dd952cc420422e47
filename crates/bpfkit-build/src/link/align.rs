//! Word accesses for memory outside the stack (`--misaligned-mem-access`), rewritten in the
//! textual IR before `llc`.
//!
//! The BPF backend splits every load or store below its size's alignment into byte accesses
//! plus shifts and ORs. Packet headers that may sit at any packet offset are alignment-1
//! types (`bpfkit_ebpf::net`), so a 16-byte IPv6 address costs 16 loads where clang's C,
//! whose `struct ipv6hdr` is 4-aligned, does 4. The verifier checks the alignment of packet,
//! map value and context accesses only under strict alignment (`BPF_F_STRICT_ALIGNMENT`, or
//! an architecture without `CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS`; x86, arm64, ppc64 and
//! s390 have it), but it checks every stack access ("misaligned stack access"). So `llc
//! -mattr=+allows-misaligned-mem-access` is not enough: it also merges stack bytes at odd
//! offsets (an `Option<EthHdr>` keeps its header at offset 1) into word accesses the
//! verifier refuses.
//!
//! This pass instead gives natural alignment (2, 4, 8 for `i16`/`i32`/`i64`; 8 for the
//! pointers of `llvm.memcpy`/`memmove`/`memset`) to the accesses whose pointer cannot point
//! into the stack, and leaves every other access as rustc and `opt` left it. A value can
//! point into the stack when it is an `alloca`, an argument of a function that is not a
//! program (BPF-to-BPF calls may pass stack pointers), or computed from such a value by any
//! instruction (GEPs, casts, phis, selects, arithmetic, loads from the stack, calls given
//! one). Everything else (packet pointers made from `data`, map values, globals) is outside
//! the stack. A program's context (its argument and GEPs of it) keeps its accesses too: the
//! verifier's context checks of many program types require `offset % size == 0` on every
//! architecture.

use std::collections::HashSet;

/// The IR with non-stack accesses at natural alignment, and how many accesses changed;
/// `None` when nothing did.
pub fn raise_non_stack(ir: &str) -> (Option<String>, usize) {
    let lines: Vec<&str> = ir.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut changed = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if !line.starts_with("define ") {
            out.push(line.to_string());
            i += 1;
            continue;
        }
        let end = (i + 1..lines.len())
            .find(|&j| lines[j] == "}")
            .unwrap_or(lines.len() - 1);
        let body = &lines[i + 1..end];
        let mut stack = stack_values(line, body);
        stack.extend(context_values(line, body));
        out.push(line.to_string());
        for body_line in body {
            match raise_line(body_line, &stack) {
                Some(raised) => {
                    changed += 1;
                    out.push(raised);
                }
                None => out.push(body_line.to_string()),
            }
        }
        if end < lines.len() && end > i {
            out.push(lines[end].to_string());
        }
        i = end + 1;
    }
    if changed == 0 {
        return (None, 0);
    }
    let mut text = out.join("\n");
    if ir.ends_with('\n') {
        text.push('\n');
    }
    (Some(text), changed)
}

/// The local values of one function that may point into the stack.
fn stack_values<'a>(define: &'a str, body: &[&'a str]) -> HashSet<&'a str> {
    let mut stack = HashSet::new();
    // A program's only argument is its context; any other function may be given stack
    // pointers by its callers.
    if !define.contains(" section \"") {
        let params = define.split_once('(').map_or("", |(_, rest)| rest);
        stack.extend(locals(params));
    }
    let defs: Vec<(&str, &str)> = body
        .iter()
        .filter_map(|line| {
            let (name, rhs) = line.trim_start().split_once(" = ")?;
            let name = name.strip_prefix('%')?;
            Some((name, rhs))
        })
        .collect();
    loop {
        let before = stack.len();
        for (name, rhs) in &defs {
            if stack.contains(name) {
                continue;
            }
            if rhs.starts_with("alloca ") || locals(rhs).any(|v| stack.contains(v)) {
                stack.insert(*name);
            }
        }
        if stack.len() == before {
            return stack;
        }
    }
}

/// A program's context argument and the pointers computed from it (GEPs, casts, phis,
/// selects; not values loaded through it): their accesses keep their alignment, because
/// the verifier's context checks of many program types require `offset % size == 0`
/// whatever the architecture.
fn context_values<'a>(define: &'a str, body: &[&'a str]) -> HashSet<&'a str> {
    let mut context = HashSet::new();
    if !define.contains(" section \"") {
        return context;
    }
    let params = define.split_once('(').map_or("", |(_, rest)| rest);
    let params = params.split_once(')').map_or(params, |(list, _)| list);
    context.extend(locals(params));
    let derived: Vec<(&str, &str)> = body
        .iter()
        .filter_map(|line| {
            let (name, rhs) = line.trim_start().split_once(" = ")?;
            let name = name.strip_prefix('%')?;
            [
                "getelementptr ",
                "bitcast ",
                "addrspacecast ",
                "phi ptr ",
                "select ",
            ]
            .iter()
            .any(|op| rhs.starts_with(op))
            .then_some((name, rhs))
        })
        .collect();
    loop {
        let before = context.len();
        for (name, rhs) in &derived {
            if !context.contains(name) && locals(rhs).any(|v| context.contains(v)) {
                context.insert(*name);
            }
        }
        if context.len() == before {
            return context;
        }
    }
}

/// The local value names (`%x`, `%12`, `%"a b"` without `%`) in a piece of IR.
fn locals(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('%').filter_map(move |(at, _)| {
        let rest = &text[at + 1..];
        if let Some(quoted) = rest.strip_prefix('"') {
            return quoted.split_once('"').map(|(name, _)| name);
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '$' | '-')))
            .unwrap_or(rest.len());
        (len > 0).then(|| &rest[..len])
    })
}

/// The line with its access at natural alignment, when it is a load, store or memory
/// intrinsic through a pointer outside the stack that is less aligned than that.
fn raise_line(line: &str, stack: &HashSet<&str>) -> Option<String> {
    let code = line.trim_start();
    if code.starts_with("call void @llvm.mem") {
        return raise_intrinsic(line, stack);
    }
    let (head, tail) = code.split_once(", align ")?;
    let instruction = match head.split_once(" = ") {
        Some((_, rhs)) => rhs,
        None => head,
    };
    if let Some(rest) = instruction.strip_prefix("load ") {
        if rest.starts_with("atomic ") {
            return None;
        }
        let rest = rest.strip_prefix("volatile ").unwrap_or(rest);
        let ty = rest.split(',').next()?;
        let pointer = rest.rsplit_once(", ptr ")?.1;
        return with_alignment(line, head, tail, natural(ty)?, pointer, stack);
    }
    if let Some(rest) = instruction.strip_prefix("store ") {
        if rest.starts_with("atomic ") {
            return None;
        }
        let rest = rest.strip_prefix("volatile ").unwrap_or(rest);
        let ty = rest.split(' ').next()?;
        let pointer = rest.rsplit_once(", ptr ")?.1;
        return with_alignment(line, head, tail, natural(ty)?, pointer, stack);
    }
    None
}

/// The alignment to give an access of `ty`: its size for `i16`, `i32` and `i64`.
fn natural(ty: &str) -> Option<u32> {
    match ty {
        "i16" => Some(2),
        "i32" => Some(4),
        "i64" => Some(8),
        _ => None,
    }
}

/// `line` with `align <old>` (the start of `tail`) replaced by `align <to>`, when `pointer`
/// is outside the stack and `old` is smaller.
fn with_alignment(
    line: &str,
    head: &str,
    tail: &str,
    to: u32,
    pointer: &str,
    stack: &HashSet<&str>,
) -> Option<String> {
    if may_be_stack(pointer, stack) {
        return None;
    }
    let digits = tail
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(tail.len());
    let old: u32 = tail[..digits].parse().ok()?;
    if old >= to {
        return None;
    }
    let indent = &line[..line.len() - line.trim_start().len()];
    Some(format!("{indent}{head}, align {to}{}", &tail[digits..]))
}

/// Whether an operand may point into the stack: a local value of `stack`, or anything but a
/// local value or a global.
fn may_be_stack(operand: &str, stack: &HashSet<&str>) -> bool {
    let operand = operand.trim();
    if operand.starts_with('@') {
        return false;
    }
    match locals(operand).next() {
        Some(name) if operand.starts_with('%') => stack.contains(name),
        _ => true,
    }
}

/// `call void @llvm.memcpy…(ptr … align N %dst, ptr … align M %src, …)` with 8 for each
/// pointer outside the stack (the backend picks the access width from both pointers'
/// alignment, so a stack side keeps its own).
fn raise_intrinsic(line: &str, stack: &HashSet<&str>) -> Option<String> {
    let open = line.find('(')?;
    let (prefix, args) = line.split_at(open + 1);
    let mut changed = false;
    let mut parts: Vec<String> = Vec::new();
    for arg in args.split(", ") {
        let raised = (|| {
            if !arg.starts_with("ptr ") {
                return None;
            }
            let (before, after) = arg.split_once(" align ")?;
            let digits = after.find(|c: char| !c.is_ascii_digit())?;
            let old: u32 = after[..digits].parse().ok()?;
            // `align 1 dereferenceable(16) %90`: the operand comes last.
            let operand = after[digits..].rsplit(' ').next()?;
            if old >= 8 || may_be_stack(operand, stack) {
                return None;
            }
            Some(format!("{before} align 8{}", &after[digits..]))
        })();
        match raised {
            Some(arg) => {
                changed = true;
                parts.push(arg);
            }
            None => parts.push(arg.to_string()),
        }
    }
    changed.then(|| format!("{prefix}{}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: &str = r#"define dso_local i32 @prog(ptr noundef %0) unnamed_addr #0 section "xdp" {
  %buf = alloca [14 x i8], align 2
  %2 = load volatile i32, ptr %0, align 4
  %3 = zext i32 %2 to i64
  %4 = inttoptr i64 %3 to ptr
  %5 = getelementptr inbounds nuw i8, ptr %4, i64 12
  %6 = load i16, ptr %5, align 1, !dbg !7
  %7 = getelementptr inbounds nuw i8, ptr %buf, i64 7
  %8 = load i64, ptr %7, align 1
  store i32 %2, ptr %5, align 1
  store i16 %6, ptr %7, align 1
  %9 = load i32, ptr @GLOBAL, align 1
  %10 = phi ptr [ %5, %1 ], [ %7, %11 ]
  %12 = load i32, ptr %10, align 1
  %13 = load atomic i32, ptr %5 monotonic, align 1
  %14 = load i8, ptr %5, align 1
  call void @llvm.memcpy.p0.p0.i64(ptr noalias nonnull align 4 %buf, ptr noalias nonnull align 1 dereferenceable(14) %5, i64 14, i1 false), !dbg !9
  ret i32 2
}
"#;

    #[test]
    fn raises_packet_and_global_accesses_and_keeps_stack_ones() {
        let (out, changed) = raise_non_stack(PROGRAM);
        let out = out.expect("changed");
        assert_eq!(changed, 4, "{out}");
        assert!(
            out.contains("  %6 = load i16, ptr %5, align 2, !dbg !7\n"),
            "{out}"
        );
        assert!(out.contains("  store i32 %2, ptr %5, align 4\n"), "{out}");
        assert!(
            out.contains("  %9 = load i32, ptr @GLOBAL, align 4\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "(ptr noalias nonnull align 4 %buf, ptr noalias nonnull align 8 dereferenceable(14) %5, i64 14, i1 false), !dbg !9\n"
            ),
            "{out}"
        );
        // The stack, a phi that may be the stack, atomics and bytes stay.
        assert!(out.contains("  %8 = load i64, ptr %7, align 1\n"), "{out}");
        assert!(out.contains("  store i16 %6, ptr %7, align 1\n"), "{out}");
        assert!(
            out.contains("  %12 = load i32, ptr %10, align 1\n"),
            "{out}"
        );
        assert!(out.contains("monotonic, align 1\n"), "{out}");
        assert!(out.contains("  %14 = load i8, ptr %5, align 1\n"), "{out}");
        assert!(out.ends_with("}\n"));
    }

    #[test]
    fn context_accesses_keep_their_alignment() {
        let ir = r#"define i32 @prog(ptr noundef %ctx) section "tracepoint/x" {
  %1 = getelementptr inbounds nuw i8, ptr %ctx, i64 12
  %2 = load i64, ptr %1, align 4
  %3 = load i32, ptr %ctx, align 1
  %4 = inttoptr i64 %2 to ptr
  %5 = load i32, ptr %4, align 1
  ret i32 %3
}
"#;
        let (out, changed) = raise_non_stack(ir);
        let out = out.expect("changed");
        assert_eq!(changed, 1, "{out}");
        assert!(out.contains("  %2 = load i64, ptr %1, align 4\n"), "{out}");
        assert!(
            out.contains("  %3 = load i32, ptr %ctx, align 1\n"),
            "{out}"
        );
        assert!(out.contains("  %5 = load i32, ptr %4, align 4\n"), "{out}");
    }

    #[test]
    fn arguments_of_functions_that_are_not_programs_may_be_stack() {
        let ir = "define internal i32 @helper(ptr %p) {\n  %1 = load i32, ptr %p, align 1\n  ret i32 %1\n}\n";
        assert_eq!(raise_non_stack(ir), (None, 0));
    }

    #[test]
    fn values_computed_from_the_stack_stay_stack() {
        let ir = r#"define i32 @prog(ptr %0) section "tc" {
  %a = alloca [8 x i8], align 8
  %1 = ptrtoint ptr %a to i64
  %2 = add i64 %1, 2
  %3 = inttoptr i64 %2 to ptr
  %4 = load i32, ptr %3, align 1
  %5 = load ptr, ptr %a, align 8
  %6 = load i32, ptr %5, align 1
  ret i32 %4
}
"#;
        assert_eq!(raise_non_stack(ir), (None, 0));
    }
}
