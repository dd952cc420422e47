//! Line info that points at the user's source: every instruction whose debug location is
//! code inlined from another crate (`core`, bpfkit-ebpf's helpers, a dependency) gets the
//! location of the innermost call site in the user's crate instead, before `llc` turns the
//! locations into `.BTF.ext` line info. The verifier's `; <line> @ file:N` annotations, and
//! `bpftool prog dump … linum`, then name the user's line that led to an instruction,
//! not `core/src/ptr/mod.rs`.
//!
//! An instruction's `!dbg` location is a chain: the innermost (inlined) frame, its
//! `inlinedAt` call site, and so on out to the function the instruction lives in. The pass
//! walks the chain from the inside and attaches the first frame whose file lies in the
//! user's crate directory; a chain with no such frame (a library function that was not
//! inlined) is left alone. Every frame of the chain belongs to the same function, so the
//! module stays valid. Debug records and `llvm.dbg.*` calls keep their locations (they must
//! match their variables' scopes); only line info changes, not DWARF's variables.

use std::collections::HashMap;
use std::path::Path;

/// One `DILocation`: its scope node and its `inlinedAt` location, if any.
struct Location {
    scope: u32,
    inlined_at: Option<u32>,
}

/// The metadata the pass needs, by node number.
#[derive(Default)]
struct Nodes {
    locations: HashMap<u32, Location>,
    /// Scope (subprogram, lexical block, lexical block file) → its `DIFile` node.
    scope_files: HashMap<u32, u32>,
    /// `DIFile` node → its path (the directory joined with a relative file name).
    files: HashMap<u32, String>,
}

/// `!N = [distinct ]!KIND(BODY)` → `(N, KIND, BODY)`.
fn metadata_node(line: &str) -> Option<(u32, &str, &str)> {
    let rest = line.strip_prefix('!')?;
    let (id, rest) = rest.split_once(" = ")?;
    let id = id.parse().ok()?;
    let rest = rest.strip_prefix("distinct ").unwrap_or(rest);
    let rest = rest.strip_prefix('!')?;
    let (kind, body) = rest.split_once('(')?;
    Some((id, kind, body.strip_suffix(')').unwrap_or(body)))
}

/// The value of `key: ` in a specialized node's body (`scope: !12, file: !3`).
fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let mut start = 0;
    while let Some(at) = body[start..].find(key) {
        let at = start + at;
        let boundary = at == 0 || body[..at].ends_with(", ");
        let rest = &body[at + key.len()..];
        if boundary {
            if let Some(value) = rest.strip_prefix(": ") {
                return Some(value);
            }
        }
        start = at + key.len();
    }
    None
}

/// A `!N` reference at the start of `value`.
fn node_ref(value: &str) -> Option<u32> {
    let digits = value.strip_prefix('!')?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// A quoted string at the start of `value` (escapes left as written).
fn quoted(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('"')?;
    rest.split_once('"').map(|(s, _)| s)
}

impl Nodes {
    fn parse(ir: &str) -> Nodes {
        let mut nodes = Nodes::default();
        for line in ir.lines() {
            let Some((id, kind, body)) = metadata_node(line) else {
                continue;
            };
            match kind {
                "DILocation" => {
                    if let Some(scope) = field(body, "scope").and_then(node_ref) {
                        let inlined_at = field(body, "inlinedAt").and_then(node_ref);
                        nodes.locations.insert(id, Location { scope, inlined_at });
                    }
                }
                "DISubprogram" | "DILexicalBlock" | "DILexicalBlockFile" => {
                    if let Some(file) = field(body, "file").and_then(node_ref) {
                        nodes.scope_files.insert(id, file);
                    }
                }
                "DIFile" => {
                    let Some(name) = field(body, "filename").and_then(quoted) else {
                        continue;
                    };
                    let path = match field(body, "directory").and_then(quoted) {
                        Some(dir) if !name.starts_with('/') && !dir.is_empty() => {
                            format!("{}/{name}", dir.trim_end_matches('/'))
                        }
                        _ => name.to_owned(),
                    };
                    nodes.files.insert(id, path);
                }
                _ => {}
            }
        }
        nodes
    }

    /// Whether location `id`'s file lies in `dir`.
    fn in_dir(&self, id: u32, dir: &str) -> bool {
        self.locations
            .get(&id)
            .and_then(|l| self.scope_files.get(&l.scope))
            .and_then(|f| self.files.get(f))
            .is_some_and(|path| {
                path.strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
            })
    }

    /// The innermost frame of `id`'s chain in `dir`: `id` itself when it is there (or
    /// not a known location), `None` when no frame is.
    fn user_frame(&self, id: u32, dir: &str) -> Option<u32> {
        let mut at = id;
        // Chains are short; the bound only guards against a malformed cycle.
        for _ in 0..1024 {
            if self.in_dir(at, dir) {
                return Some(at);
            }
            at = self.locations.get(&at)?.inlined_at?;
        }
        None
    }
}

/// Rewrites the `!dbg` attachments of `ir`'s instructions to the innermost frame in
/// `crate_dir` (see the module docs). `None` when nothing changed.
pub fn rewrite(ir: &str, crate_dir: &Path) -> Option<String> {
    let dir = crate_dir.to_str()?.trim_end_matches('/');
    if dir.is_empty() {
        return None;
    }
    let nodes = Nodes::parse(ir);
    let mut out = String::with_capacity(ir.len());
    let mut changed = false;
    for line in ir.split_inclusive('\n') {
        // Instructions are indented; debug-info calls and records keep their locations.
        let rewritable = line.starts_with("  ") && !line.contains("@llvm.dbg.");
        let at = if rewritable {
            line.rfind(", !dbg !")
        } else {
            None
        };
        let Some(at) = at else {
            out.push_str(line);
            continue;
        };
        let value = &line[at + ", !dbg ".len()..];
        let target = node_ref(value)
            .filter(|id| nodes.locations.contains_key(id))
            .and_then(|id| Some((id, nodes.user_frame(id, dir)?)));
        match target {
            Some((id, user)) if user != id => {
                let digits = id.to_string().len();
                out.push_str(&line[..at]);
                out.push_str(&format!(", !dbg !{user}"));
                out.push_str(&value[1 + digits..]);
                changed = true;
            }
            _ => out.push_str(line),
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `set_state` in the user's crate calls `read_at` (bpfkit-ebpf), which calls
    /// `ptr::read` (core); `helper` is a library function that was not inlined.
    const IR: &str = "\
define i32 @set_state(ptr %ctx) !dbg !10 {
  %a = load i64, ptr %ctx, align 8, !dbg !40
    #dbg_value(i64 %a, !50, !DIExpression(), !40)
  call void @llvm.dbg.value(metadata i64 %a, metadata !50, metadata !DIExpression()), !dbg !40
  %b = add i64 %a, 1, !dbg !31
  %c = call i64 @helper(i64 %b), !dbg !42
  ret i32 0, !dbg !30
}
define i64 @helper(i64 %x) !dbg !60 {
  ret i64 %x, !dbg !61
}
!1 = !DIFile(filename: \"src/main.rs\", directory: \"/home/u/probe-ebpf\")
!2 = !DIFile(filename: \"/home/u/.cargo/bpfkit-ebpf/src/programs/tracepoint.rs\", directory: \"/home/u/probe-ebpf\")
!3 = !DIFile(filename: \"/rustc/lib/core/src/ptr/mod.rs\", directory: \"\")
!4 = !DIFile(filename: \"src/main.rs\", directory: \"/home/u/probe-ebpf-other\")
!10 = distinct !DISubprogram(name: \"set_state\", scope: !1, file: !1, line: 40, unit: !0)
!11 = distinct !DILexicalBlock(scope: !10, file: !1, line: 41, column: 5)
!20 = distinct !DISubprogram(name: \"read_at\", scope: !2, file: !2, line: 43, unit: !0)
!21 = distinct !DISubprogram(name: \"read\", scope: !3, file: !3, line: 1700, unit: !0)
!30 = !DILocation(line: 44, column: 5, scope: !10)
!31 = !DILocation(line: 42, column: 13, scope: !11)
!32 = distinct !DILocation(line: 46, column: 9, scope: !20, inlinedAt: !31)
!40 = !DILocation(line: 1717, column: 9, scope: !21, inlinedAt: !32)
!42 = !DILocation(line: 7, column: 9, scope: !20, inlinedAt: !31)
!60 = distinct !DISubprogram(name: \"helper\", scope: !4, file: !4, line: 1, unit: !0)
!61 = !DILocation(line: 2, column: 5, scope: !60)
";

    #[test]
    fn inlined_library_lines_become_the_users_call_site() {
        let out = rewrite(IR, Path::new("/home/u/probe-ebpf")).expect("changed");
        // core inlined into bpfkit-ebpf inlined into the user's block: the user's line.
        assert!(
            out.contains("  %a = load i64, ptr %ctx, align 8, !dbg !31\n"),
            "{out}"
        );
        assert!(
            out.contains("  %c = call i64 @helper(i64 %b), !dbg !31\n"),
            "{out}"
        );
        // Already the user's: unchanged.
        assert!(out.contains("  %b = add i64 %a, 1, !dbg !31\n"), "{out}");
        assert!(out.contains("  ret i32 0, !dbg !30\n"), "{out}");
        // Debug records and intrinsics keep theirs (they must match their variables).
        assert!(out.contains("!DIExpression(), !40)\n"), "{out}");
        assert!(
            out.contains("metadata !DIExpression()), !dbg !40\n"),
            "{out}"
        );
        // No frame in the user's crate (a sibling directory with a common prefix is not
        // inside it): left alone.
        assert!(out.contains("  ret i64 %x, !dbg !61\n"), "{out}");
        // Metadata is untouched.
        assert!(
            out.contains("!40 = !DILocation(line: 1717, column: 9, scope: !21, inlinedAt: !32)\n")
        );
    }

    #[test]
    fn a_module_without_library_frames_or_without_a_crate_dir_is_left_alone() {
        assert_eq!(rewrite(IR, Path::new("/elsewhere")), None);
        assert_eq!(rewrite(IR, Path::new("")), None);
        assert_eq!(
            rewrite("define void @f() {\n  ret void\n}\n", Path::new("/home/u")),
            None
        );
    }
}
