//! `llvm.lifetime.end` calls that only precede the function's return, removed before `llc`.
//!
//! Every stack slot dies when the function returns, so a lifetime end followed by nothing
//! but other lifetime ends, debug records and the `ret` (directly, or through an
//! unconditional branch to a block of `phi`s and `ret`) tells the backend nothing. It is
//! still a call, so it keeps its block alive: a join block holding only a `phi` and the
//! lifetime end cannot be folded into the return block, which changes register allocation
//! and what the verifier walks. The donor route meets this where the bpfel route does not:
//! rustc returns small aggregates in registers on the donor target (sret on bpfel), so
//! inlining and SROA take another order and a memcpy temporary keeps its markers
//! (`packets/nat_udp`: 918 verified instructions with the pair, 895 without, as on bpfel).
//! Lifetime starts and every other end stay, so stack colouring sees the same live ranges.
//!
//! The rewrite removes whole lines of the textual IR `opt` printed and nothing else; the
//! calls return nothing, so no other line refers to them, and `llc` re-parses the result.

/// What a body line of a function is, for the block analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    /// A block label (`bb5:`, `200:`); the name without `:`.
    Label(&'a str),
    /// `call void @llvm.lifetime.end.p0(…)`.
    LifetimeEnd,
    /// A debug record (`#dbg_value(…)`), a comment or a blank line: no code.
    Nothing,
    /// `%x = phi …`.
    Phi,
    /// `ret …`.
    Ret,
    /// `br label %<target>` (unconditional).
    Branch(&'a str),
    /// Any other instruction.
    Other,
}

fn classify(line: &str) -> Line<'_> {
    if !line.starts_with(' ') {
        // `200:                                   ; preds = %43, %195`
        let code = line.split(';').next().unwrap_or_default().trim_end();
        return match code.strip_suffix(':') {
            Some(name) if !name.is_empty() => Line::Label(name),
            _ => Line::Nothing,
        };
    }
    let body = line.trim_start();
    if body.is_empty() || body.starts_with(';') || body.starts_with("#dbg_") {
        return Line::Nothing;
    }
    if body.starts_with("call void @llvm.lifetime.end.") {
        return Line::LifetimeEnd;
    }
    if body.starts_with("ret ") || body == "ret void" {
        return Line::Ret;
    }
    if let Some(target) = body.strip_prefix("br label %") {
        let target = target.split(',').next().unwrap_or_default().trim_end();
        return Line::Branch(target);
    }
    if body
        .strip_prefix('%')
        .and_then(|rest| rest.split_once(" = "))
        .is_some_and(|(_, inst)| inst.starts_with("phi "))
    {
        return Line::Phi;
    }
    Line::Other
}

/// One function body's lines to drop (indices into `lines`).
fn return_bound_ends(lines: &[&str]) -> Vec<usize> {
    let kinds: Vec<Line> = lines.iter().map(|l| classify(l)).collect();
    // Blocks: (label, first line, end line exclusive); the entry block has no label.
    let mut blocks: Vec<(Option<&str>, usize, usize)> = Vec::new();
    let mut start = 0;
    let mut label = None;
    for (i, kind) in kinds.iter().enumerate() {
        if let Line::Label(name) = kind {
            blocks.push((label, start, i));
            label = Some(*name);
            start = i + 1;
        }
    }
    blocks.push((label, start, kinds.len()));

    let code = |(_, from, to): &(Option<&str>, usize, usize)| {
        (*from..*to).filter(|&i| kinds[i] != Line::Nothing)
    };
    // Blocks made of `phi`s and a `ret`: branching there is returning.
    let returning: Vec<&str> = blocks
        .iter()
        .filter(|b| {
            let mut insts = code(b).map(|i| kinds[i]).collect::<Vec<_>>();
            insts.pop() == Some(Line::Ret) && insts.iter().all(|k| *k == Line::Phi)
        })
        .filter_map(|(label, _, _)| *label)
        .collect();

    let mut drop = Vec::new();
    for block in &blocks {
        let insts: Vec<usize> = code(block).collect();
        let Some((&last, before)) = insts.split_last() else {
            continue;
        };
        let returns = match kinds[last] {
            Line::Ret => true,
            Line::Branch(target) => returning.contains(&target),
            _ => false,
        };
        if returns {
            drop.extend(
                before
                    .iter()
                    .rev()
                    .take_while(|&&i| kinds[i] == Line::LifetimeEnd)
                    .copied(),
            );
        }
    }
    drop
}

/// The IR without lifetime ends that only precede a return (see the module docs), and how
/// many were removed; `None` when there were none.
pub fn drop_return_bound_ends(ir: &str) -> (Option<String>, usize) {
    let lines: Vec<&str> = ir.lines().collect();
    let mut drop = vec![false; lines.len()];
    let mut removed = 0;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("define ") && lines[i].trim_end().ends_with('{') {
            let body_start = i + 1;
            let body_end = (body_start..lines.len())
                .find(|&j| lines[j] == "}")
                .unwrap_or(lines.len());
            for j in return_bound_ends(&lines[body_start..body_end]) {
                drop[body_start + j] = true;
                removed += 1;
            }
            i = body_end;
        }
        i += 1;
    }
    if removed == 0 {
        return (None, 0);
    }
    let mut out = String::with_capacity(ir.len());
    for (line, dropped) in lines.iter().zip(&drop) {
        if !dropped {
            out.push_str(line);
            out.push('\n');
        }
    }
    (Some(out), removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape `packets/nat_udp` had on the donor route.
    const JOIN: &str = r#"define i32 @nat(ptr %p, i1 %c, i1 %d) {
  %t = alloca [7 x i8], align 1
  br i1 %c, label %43, label %202

43:                                               ; preds = %1
  call void @llvm.lifetime.start.p0(ptr nonnull %t)
  call void @llvm.memcpy.p0.p0.i64(ptr %t, ptr %p, i64 7, i1 false)
  br i1 %d, label %200, label %195

195:                                              ; preds = %43
  call void @llvm.memcpy.p0.p0.i64(ptr %p, ptr %t, i64 7, i1 false)
  br label %200

200:                                              ; preds = %43, %195
  %201 = phi i32 [ 3, %195 ], [ 2, %43 ]
  call void @llvm.lifetime.end.p0(ptr nonnull %t), !dbg !9
    #dbg_value(i32 %201, !10, !DIExpression(), !11)
  br label %202, !dbg !12

202:                                              ; preds = %200, %1
  %203 = phi i32 [ 2, %1 ], [ %201, %200 ]
  ret i32 %203
}
"#;

    #[test]
    fn drops_the_end_of_a_join_block_that_only_leads_to_ret() {
        let (out, removed) = drop_return_bound_ends(JOIN);
        let out = out.unwrap();
        assert_eq!(removed, 1);
        assert!(!out.contains("lifetime.end"), "{out}");
        // The start, the copies and everything else stay, line for line.
        assert!(out.contains("  call void @llvm.lifetime.start.p0(ptr nonnull %t)\n"));
        assert_eq!(out.lines().count(), JOIN.lines().count() - 1);
        assert!(out.contains("  %201 = phi i32 [ 3, %195 ], [ 2, %43 ]\n    #dbg_value("));
    }

    #[test]
    fn drops_ends_right_before_ret_and_keeps_ends_followed_by_code() {
        let ir = "define void @f(ptr %p) {\n\
                  \x20 %a = alloca i64, align 8\n\
                  \x20 %b = alloca i64, align 8\n\
                  \x20 call void @llvm.lifetime.start.p0(ptr %a)\n\
                  \x20 call void @llvm.lifetime.end.p0(ptr %a)\n\
                  \x20 call void @llvm.lifetime.start.p0(ptr %b)\n\
                  \x20 store i64 1, ptr %b, align 8\n\
                  \x20 call void @llvm.lifetime.end.p0(ptr %b)\n\
                  \x20 ret void\n\
                  }\n";
        let (out, removed) = drop_return_bound_ends(ir);
        let out = out.unwrap();
        assert_eq!(removed, 1);
        // `%a` ends before other code runs: its end tells stack colouring something.
        assert!(out.contains("  call void @llvm.lifetime.end.p0(ptr %a)\n"));
        assert!(!out.contains("lifetime.end.p0(ptr %b)"));
    }

    #[test]
    fn keeps_ends_before_branches_to_blocks_that_do_more_than_return() {
        let ir = "define void @f(ptr %p, i1 %c) {\n\
                  \x20 %a = alloca i64, align 8\n\
                  \x20 call void @llvm.lifetime.start.p0(ptr %a)\n\
                  \x20 br i1 %c, label %x, label %y\n\
                  x:\n\
                  \x20 call void @llvm.lifetime.end.p0(ptr %a)\n\
                  \x20 br label %y\n\
                  y:\n\
                  \x20 store i64 0, ptr %p, align 8\n\
                  \x20 ret void\n\
                  }\n";
        assert_eq!(drop_return_bound_ends(ir), (None, 0));
        // A conditional branch is not a return either.
        let cond = JOIN.replace("br label %202, !dbg !12", "br i1 %d, label %202, label %43");
        assert_eq!(drop_return_bound_ends(&cond), (None, 0));
    }
}
