//! CO-RE from Rust: calls to `bpfcore$…` marker externs in the linked module are replaced,
//! before `opt`, by LLVM's preserve-access-index intrinsics pointing at the debug-info type
//! of the Rust stand-in struct, as clang does for `__builtin_preserve_access_index`.
//! `opt` (BPF target) then turns them into CO-RE relocations that libbpf applies at load.
//!
//! Markers (PIPELINE.md, "CO-RE from Rust programs"; the user-facing API is a later issue):
//! - `bpfcore$field$<struct>$<member>[$<member>…]`: `fn(*const S) -> *const F`, the address
//!   of the member (byte-offset relocation);
//! - `bpfcore$exists$…`: `fn(*const S) -> u32`, 1 when the running kernel has the member;
//! - `bpfcore$size$…`: `fn(*const S) -> u32`, the member's byte size in the running kernel;
//! - `bpfcore$offset$…`: `fn(*const S) -> u32`, its byte offset in the running kernel.
//!
//! A `$`-separated path walks embedded structs and unions (`task_struct$thread$sp`). The
//! stand-in must be `#[repr(C)]`, carry the kernel's member names and appear in debug info
//! (a variable or parameter of that type or a pointer to it).
//!
//! Several Rust types may share the struct name (an opaque binding and a stand-in in other
//! modules): the marker resolves to the one type on which the whole member path exists;
//! when none has it the error names the first, when two distinct types have it the error
//! names both Rust paths.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The prefix of every CO-RE marker extern.
pub const MARKER_PREFIX: &str = "bpfcore$";

/// A marker the linker cannot turn into a CO-RE access.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreMarkerError {
    /// The marker's name does not follow `bpfcore$<kind>$<struct>$<member>…`.
    #[error(
        "CO-RE marker `{marker}` is malformed: expected \
         bpfcore$<field|exists|size|offset>$<struct>$<member>[$<member>…]"
    )]
    Malformed {
        /// The marker.
        marker: String,
    },
    /// No struct or union of that name has debug info in the program.
    #[error(
        "CO-RE marker `{marker}`: no debug info for a struct or union named `{name}`; \
         the stand-in type must be `#[repr(C)]`, built with debug = 2, and used by a \
         variable or parameter (or a pointer to it)"
    )]
    NoType {
        /// The marker.
        marker: String,
        /// The struct name.
        name: String,
    },
    /// The type has no member of that name.
    #[error("CO-RE marker `{marker}`: `{parent}` has no member `{member}`")]
    NoMember {
        /// The marker.
        marker: String,
        /// The struct or union searched.
        parent: String,
        /// The member asked for.
        member: String,
    },
    /// A path step goes through a member that is not an embedded struct or union.
    #[error(
        "CO-RE marker `{marker}`: member `{member}` is not an embedded struct or union, so \
         the path cannot continue (read the pointer, then use a marker on its target)"
    )]
    NotComposite {
        /// The marker.
        marker: String,
        /// The member.
        member: String,
    },
    /// More than one distinct Rust type of that name has the member path.
    #[error(
        "CO-RE marker `{marker}` is ambiguous: `{path}` is a member of `{first}` and of \
         `{second}`; rename one of them (a `___suffix`, e.g. `{name}___v2`, still matches \
         the kernel's `{name}`) and use that name in the marker"
    )]
    Ambiguous {
        /// The marker.
        marker: String,
        /// The struct name.
        name: String,
        /// The member path (`thread.sp`).
        path: String,
        /// The Rust path of the first type with the member path.
        first: String,
        /// The Rust path of the second.
        second: String,
    },
    /// The call site could not be understood.
    #[error("CO-RE marker `{marker}` is called in an unexpected form: `{line}`")]
    BadCall {
        /// The marker.
        marker: String,
        /// The IR line.
        line: String,
    },
}

/// True when the linked bitcode mentions a CO-RE marker; symbol names are stored verbatim
/// in bitcode's string table, so this avoids disassembling programs without markers.
pub fn bitcode_mentions_markers(bitcode: &[u8]) -> bool {
    bitcode
        .windows(MARKER_PREFIX.len())
        .any(|w| w == MARKER_PREFIX.as_bytes())
}

/// What a marker asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The member's address.
    Field,
    /// `BPF_FIELD_EXISTS` (2).
    Exists,
    /// `BPF_FIELD_BYTE_SIZE` (1).
    Size,
    /// `BPF_FIELD_BYTE_OFFSET` (0).
    Offset,
}

/// The parsed module metadata: `!N = …` lines by number.
struct Metadata<'a> {
    nodes: HashMap<u32, &'a str>,
}

impl<'a> Metadata<'a> {
    fn parse(ir: &'a str) -> Self {
        let nodes = ir
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix('!')?;
                let (id, body) = rest.split_once(" = ")?;
                Some((id.parse().ok()?, body))
            })
            .collect();
        Self { nodes }
    }

    /// Every struct/union type with members whose name is `name`, by metadata id.
    fn composites_named(&self, name: &str) -> Vec<u32> {
        let quoted = format!("name: \"{name}\"");
        let mut ids: Vec<u32> = self
            .nodes
            .iter()
            .filter(|(_, body)| {
                body.contains("!DICompositeType(")
                    && (body.contains("tag: DW_TAG_structure_type")
                        || body.contains("tag: DW_TAG_union_type"))
                    && body.contains(&quoted)
                    && field(body, "elements").is_some()
            })
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// What makes two composite nodes the same Rust type: the `identifier` rustc gives each
    /// type, else the Rust path and size.
    fn identity(&self, composite: u32) -> String {
        let body = self.nodes.get(&composite).copied().unwrap_or("");
        match field(body, "identifier") {
            Some(id) => id.to_string(),
            None => format!(
                "{}/{}",
                self.rust_path(composite),
                field(body, "size").unwrap_or("")
            ),
        }
    }

    /// `crate::module::Name` from the type's chain of `DINamespace` scopes.
    fn rust_path(&self, composite: u32) -> String {
        let mut parts = vec![self.name(composite).unwrap_or("?").to_string()];
        let mut scope = self
            .nodes
            .get(&composite)
            .and_then(|b| field(b, "scope"))
            .and_then(node_ref);
        for _ in 0..32 {
            let Some(body) = scope.and_then(|id| self.nodes.get(&id)) else {
                break;
            };
            if !(body.contains("!DINamespace(") || body.contains("!DICompositeType(")) {
                break;
            }
            if let Some(name) = field(body, "name") {
                parts.push(name.trim_matches('"').to_string());
            }
            scope = field(body, "scope").and_then(node_ref);
        }
        parts.reverse();
        parts.join("::")
    }

    /// The member ids of a composite type, in declaration order.
    fn members(&self, composite: u32) -> Vec<u32> {
        let Some(elements) = self
            .nodes
            .get(&composite)
            .and_then(|b| field(b, "elements"))
        else {
            return Vec::new();
        };
        let list = match elements
            .strip_prefix('!')
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(id) => self.nodes.get(&id).copied().unwrap_or(""),
            None => elements,
        };
        list.trim_start_matches("distinct ")
            .trim_start_matches("!{")
            .trim_end_matches('}')
            .split(',')
            .filter_map(|m| m.trim().strip_prefix('!')?.parse().ok())
            .collect()
    }

    /// Follows typedefs and qualifiers from a member's base type to a struct or union.
    fn composite_of_member(&self, member: u32) -> Option<u32> {
        let mut id = node_ref(field(self.nodes.get(&member)?, "baseType")?)?;
        for _ in 0..16 {
            let body = self.nodes.get(&id)?;
            if body.contains("!DICompositeType(")
                && (body.contains("tag: DW_TAG_structure_type")
                    || body.contains("tag: DW_TAG_union_type"))
            {
                return Some(id);
            }
            let passthrough = [
                "DW_TAG_typedef",
                "DW_TAG_const_type",
                "DW_TAG_volatile_type",
            ]
            .iter()
            .any(|t| body.contains(&format!("tag: {t}")));
            if !passthrough {
                return None;
            }
            id = node_ref(field(body, "baseType")?)?;
        }
        None
    }

    fn is_union(&self, composite: u32) -> bool {
        self.nodes
            .get(&composite)
            .is_some_and(|b| b.contains("tag: DW_TAG_union_type"))
    }

    fn name(&self, id: u32) -> Option<&'a str> {
        field(self.nodes.get(&id)?, "name").map(|n| n.trim_matches('"'))
    }
}

fn node_ref(value: &str) -> Option<u32> {
    value.strip_prefix('!')?.parse().ok()
}

/// The value of `key: value` in a metadata node's field list (quotes kept).
fn field<'b>(body: &'b str, key: &str) -> Option<&'b str> {
    let pattern = format!("{key}: ");
    let mut search = 0;
    let at = loop {
        let at = search + body[search..].find(&pattern)?;
        let prev = body[..at].chars().last();
        if matches!(prev, Some('(') | Some(' ')) {
            break at + pattern.len();
        }
        search = at + 1;
    };
    let rest = &body[at..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        return Some(&rest[..end + 2]);
    }
    let end = rest.find([',', ')']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// One step of an access path: the composite it indexes and the member index.
struct Step {
    composite: u32,
    index: usize,
    union: bool,
}

fn resolve(marker: &str, meta: &Metadata<'_>) -> Result<(Kind, Vec<Step>), CoreMarkerError> {
    let malformed = || CoreMarkerError::Malformed {
        marker: marker.to_string(),
    };
    let mut parts = marker
        .strip_prefix(MARKER_PREFIX)
        .ok_or_else(malformed)?
        .split('$');
    let kind = match parts.next() {
        Some("field") => Kind::Field,
        Some("exists") => Kind::Exists,
        Some("size") => Kind::Size,
        Some("offset") => Kind::Offset,
        _ => return Err(malformed()),
    };
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(malformed)?;
    let path: Vec<&str> = parts.collect();
    if path.is_empty() || path.iter().any(|p| p.is_empty()) {
        return Err(malformed());
    }
    let candidates = meta.composites_named(name);
    if candidates.is_empty() {
        return Err(CoreMarkerError::NoType {
            marker: marker.to_string(),
            name: name.to_string(),
        });
    }
    let mut first_error = None;
    let mut found: Vec<(u32, Vec<Step>)> = Vec::new();
    for candidate in candidates {
        match walk(marker, meta, candidate, &path) {
            Ok(steps) => {
                let identity = meta.identity(candidate);
                if !found.iter().any(|(c, _)| meta.identity(*c) == identity) {
                    found.push((candidate, steps));
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (Some((_, steps)), None) => Ok((kind, steps)),
        (Some((first, _)), Some((second, _))) => Err(CoreMarkerError::Ambiguous {
            marker: marker.to_string(),
            name: name.to_string(),
            path: path.join("."),
            first: meta.rust_path(first),
            second: meta.rust_path(second),
        }),
        (None, _) => Err(first_error.unwrap_or_else(malformed)),
    }
}

/// The access steps of `path` from `composite`.
fn walk(
    marker: &str,
    meta: &Metadata<'_>,
    mut composite: u32,
    path: &[&str],
) -> Result<Vec<Step>, CoreMarkerError> {
    let mut steps = Vec::new();
    for (i, member_name) in path.iter().enumerate() {
        let members = meta.members(composite);
        let index = members
            .iter()
            .position(|m| meta.name(*m) == Some(member_name))
            .ok_or_else(|| CoreMarkerError::NoMember {
                marker: marker.to_string(),
                parent: meta.name(composite).unwrap_or("?").to_string(),
                member: member_name.to_string(),
            })?;
        steps.push(Step {
            composite,
            index,
            union: meta.is_union(composite),
        });
        if i + 1 < path.len() {
            composite = meta.composite_of_member(members[index]).ok_or_else(|| {
                CoreMarkerError::NotComposite {
                    marker: marker.to_string(),
                    member: member_name.to_string(),
                }
            })?;
        }
    }
    Ok(steps)
}

/// A marker call on one IR line.
struct MarkerCall<'a> {
    /// `%x = ` or empty.
    result: Option<&'a str>,
    marker: &'a str,
    /// The return type written after `call`.
    ret: &'a str,
    /// The base pointer operand.
    base: &'a str,
    /// `!dbg !N` if present.
    dbg: Option<&'a str>,
}

fn parse_call(line: &str) -> Option<MarkerCall<'_>> {
    let marker_at = line
        .find(&format!("@\"{MARKER_PREFIX}"))
        .map(|at| (at, true))
        .or_else(|| {
            line.find(&format!("@{MARKER_PREFIX}"))
                .map(|at| (at, false))
        })?;
    let (at, quoted) = marker_at;
    let name_start = at + 1 + usize::from(quoted);
    let name_end = name_start + line[name_start..].find(if quoted { '"' } else { '(' })?;
    let marker = &line[name_start..name_end];
    let before = &line[..at];
    let call_at = before.find("call ")?;
    let result = before[..call_at]
        .split_once('=')
        .map(|(lhs, _)| lhs.trim())
        .filter(|lhs| lhs.starts_with('%'));
    // The return type is the last token before the callee (after attributes like noundef).
    let ret = before[call_at + 5..].split_whitespace().last()?;
    let args_start = name_end + usize::from(quoted) + 1;
    let args_end = args_start + line[args_start..].find(')')?;
    let base = line[args_start..args_end].split_whitespace().last()?;
    let dbg = line[args_end..]
        .find("!dbg !")
        .map(|d| &line[args_end + d..])
        .map(|d| d.split(',').next().unwrap_or(d).trim());
    Some(MarkerCall {
        result,
        marker,
        ret,
        base,
        dbg,
    })
}

/// Rewrites every marker call of `ir`; `Ok(None)` when there is none.
pub fn rewrite(ir: &str) -> Result<Option<String>, CoreMarkerError> {
    let calls_markers = ir
        .lines()
        .any(|l| !l.starts_with("declare ") && l.contains(MARKER_PREFIX) && l.contains("call "));
    if !calls_markers {
        return Ok(None);
    }
    let meta = Metadata::parse(ir);
    let mut out = String::with_capacity(ir.len() + 4096);
    let mut counter = 0usize;
    for line in ir.lines() {
        if line.starts_with("declare ") && line.contains(MARKER_PREFIX) {
            continue;
        }
        if !line.contains(MARKER_PREFIX) || !line.contains("call ") {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let call = parse_call(line).ok_or_else(|| CoreMarkerError::BadCall {
            marker: MARKER_PREFIX.to_string(),
            line: line.trim().to_string(),
        })?;
        let (kind, steps) = resolve(call.marker, &meta)?;
        let dbg = call.dbg.map(|d| format!(", {d}")).unwrap_or_default();
        let mut base = call.base.to_string();
        let last = steps.len() - 1;
        for (i, step) in steps.iter().enumerate() {
            let name = if i == last && kind == Kind::Field {
                call.result.map(str::to_string)
            } else {
                counter += 1;
                Some(format!("%bpfcore.{counter}"))
            };
            let assign = name
                .as_deref()
                .map(|n| format!("{n} = "))
                .unwrap_or_default();
            if step.union {
                let _ = writeln!(
                    out,
                    "  {assign}call ptr @llvm.preserve.union.access.index.p0.p0(ptr {base}, \
                     i32 {}){dbg}, !llvm.preserve.access.index !{}",
                    step.index, step.composite
                );
            } else {
                let _ = writeln!(
                    out,
                    "  {assign}call ptr @llvm.preserve.struct.access.index.p0.p0(ptr \
                     elementtype(%bpfcore.any) {base}, i32 0, i32 {}){dbg}, \
                     !llvm.preserve.access.index !{}",
                    step.index, step.composite
                );
            }
            base = name.unwrap_or_default();
        }
        let info_kind = match kind {
            Kind::Field => continue,
            Kind::Offset => 0,
            Kind::Size => 1,
            Kind::Exists => 2,
        };
        let Some(result) = call.result else { continue };
        match call.ret {
            "i32" => {
                let _ = writeln!(
                    out,
                    "  {result} = call i32 @llvm.bpf.preserve.field.info.p0(ptr {base}, i64 {info_kind}){dbg}"
                );
            }
            "i64" => {
                counter += 1;
                let _ = writeln!(
                    out,
                    "  %bpfcore.{counter} = call i32 @llvm.bpf.preserve.field.info.p0(ptr {base}, i64 {info_kind}){dbg}\n  {result} = zext i32 %bpfcore.{counter} to i64"
                );
            }
            _ => {
                return Err(CoreMarkerError::BadCall {
                    marker: call.marker.to_string(),
                    line: format!("{} (must return u32 or u64)", line.trim()),
                })
            }
        }
    }
    out.push_str(
        "\n%bpfcore.any = type { [8 x i8] }\n\
         declare ptr @llvm.preserve.struct.access.index.p0.p0(ptr, i32 immarg, i32 immarg)\n\
         declare ptr @llvm.preserve.union.access.index.p0.p0(ptr, i32 immarg)\n\
         declare i32 @llvm.bpf.preserve.field.info.p0(ptr, i64 immarg)\n",
    );
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IR: &str = r#"define i32 @prog(ptr %task) !dbg !10 {
  %a = tail call noundef ptr @"bpfcore$field$task_struct$tgid"(ptr noundef %task) #3, !dbg !20
  %1 = call i32 @"bpfcore$exists$task_struct$thread$sp"(ptr %task), !dbg !20
  ret i32 %1
}
declare ptr @"bpfcore$field$task_struct$tgid"(ptr)
declare i32 @"bpfcore$exists$task_struct$thread$sp"(ptr)
!2 = !DIBasicType(name: "i32", size: 32, encoding: DW_ATE_signed)
!5 = !DICompositeType(tag: DW_TAG_structure_type, name: "task_struct", scope: !1, file: !1, size: 128, align: 32, elements: !6, identifier: "ts")
!6 = !{!7, !8, !9}
!7 = !DIDerivedType(tag: DW_TAG_member, name: "pid", scope: !5, file: !1, baseType: !2, size: 32, align: 32)
!8 = !DIDerivedType(tag: DW_TAG_member, name: "tgid", scope: !5, file: !1, baseType: !2, size: 32, align: 32, offset: 32)
!9 = !DIDerivedType(tag: DW_TAG_member, name: "thread", scope: !5, file: !1, baseType: !11, size: 64, offset: 64)
!11 = !DICompositeType(tag: DW_TAG_structure_type, name: "thread_struct", scope: !1, size: 64, elements: !{!12})
!12 = !DIDerivedType(tag: DW_TAG_member, name: "sp", scope: !11, baseType: !2, size: 32)
"#;

    #[test]
    fn replaces_markers_with_preserve_access_intrinsics() {
        let out = rewrite(IR).unwrap().unwrap();
        assert!(out.contains(
            "  %a = call ptr @llvm.preserve.struct.access.index.p0.p0(ptr elementtype(%bpfcore.any) %task, i32 0, i32 1), !dbg !20, !llvm.preserve.access.index !5\n"
        ), "{out}");
        assert!(out.contains(
            "  %bpfcore.1 = call ptr @llvm.preserve.struct.access.index.p0.p0(ptr elementtype(%bpfcore.any) %task, i32 0, i32 2), !dbg !20, !llvm.preserve.access.index !5\n  %bpfcore.2 = call ptr @llvm.preserve.struct.access.index.p0.p0(ptr elementtype(%bpfcore.any) %bpfcore.1, i32 0, i32 0), !dbg !20, !llvm.preserve.access.index !11\n  %1 = call i32 @llvm.bpf.preserve.field.info.p0(ptr %bpfcore.2, i64 2), !dbg !20\n"
        ), "{out}");
        assert!(!out.contains("declare ptr @\"bpfcore$"));
    }

    /// An opaque `task_struct` with a lower id, in another module.
    const OPAQUE: &str = r#"!3 = !DICompositeType(tag: DW_TAG_structure_type, name: "task_struct", scope: !30, file: !1, size: 0, align: 8, elements: !4, identifier: "opaque")
!4 = !{!13}
!13 = !DIDerivedType(tag: DW_TAG_member, name: "_opaque", scope: !3, file: !1, baseType: !2, size: 0)
!30 = !DINamespace(name: "bindings", scope: !31)
!31 = !DINamespace(name: "bpfkit_ebpf", scope: null)
"#;

    #[test]
    fn picks_the_type_that_has_the_member_and_names_both_when_two_have_it() {
        let ir = format!("{IR}{OPAQUE}");
        let out = rewrite(&ir).unwrap().unwrap();
        assert!(
            out.contains("i32 0, i32 1), !dbg !20, !llvm.preserve.access.index !5\n"),
            "{out}"
        );
        assert!(!out.contains("!llvm.preserve.access.index !3\n"), "{out}");

        let second = "!40 = !DICompositeType(tag: DW_TAG_structure_type, name: \"task_struct\", \
                      scope: !41, size: 32, elements: !{!42}, identifier: \"other\")\n\
                      !41 = !DINamespace(name: \"views\", scope: !31)\n\
                      !42 = !DIDerivedType(tag: DW_TAG_member, name: \"tgid\", scope: !40, \
                      baseType: !2, size: 32)\n";
        let ambiguous = format!("{ir}{second}");
        assert_eq!(
            rewrite(&ambiguous).unwrap_err(),
            CoreMarkerError::Ambiguous {
                marker: "bpfcore$field$task_struct$tgid".into(),
                name: "task_struct".into(),
                path: "tgid".into(),
                first: "task_struct".into(),
                second: "bpfkit_ebpf::views::task_struct".into(),
            }
        );
        // The same type twice (one copy per crate's debug info) is not ambiguous.
        let copy = second.replace("\"other\"", "\"ts\"");
        assert!(rewrite(&format!("{ir}{copy}")).is_ok());
    }

    #[test]
    fn leaves_programs_without_markers_alone() {
        assert_eq!(
            rewrite("define i32 @p() {\n  ret i32 0\n}\n").unwrap(),
            None
        );
        assert!(bitcode_mentions_markers(b"\x42\x43bpfcore$field$x"));
        assert!(!bitcode_mentions_markers(b"\x42\x43count"));
    }

    #[test]
    fn names_the_missing_type_or_member() {
        let missing_member = IR.replace("task_struct$tgid", "task_struct$tgidd");
        assert_eq!(
            rewrite(&missing_member).unwrap_err().to_string(),
            "CO-RE marker `bpfcore$field$task_struct$tgidd`: `task_struct` has no member `tgidd`"
        );
        let missing_type = IR.replace("field$task_struct", "field$mm_struct");
        assert!(matches!(
            rewrite(&missing_type).unwrap_err(),
            CoreMarkerError::NoType { name, .. } if name == "mm_struct"
        ));
        let through_scalar = IR.replace("task_struct$thread$sp", "task_struct$pid$sp");
        assert!(matches!(
            rewrite(&through_scalar).unwrap_err(),
            CoreMarkerError::NotComposite { member, .. } if member == "pid"
        ));
        let malformed = IR.replace("bpfcore$field$task_struct$tgid", "bpfcore$peek$task_struct");
        assert!(matches!(
            rewrite(&malformed).unwrap_err(),
            CoreMarkerError::Malformed { .. }
        ));
    }
}
