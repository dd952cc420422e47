//! CO-RE from Rust: calls to `bpfcore$…` marker externs in the linked module are replaced,
//! before `opt`, by LLVM's preserve-access-index intrinsics pointing at the debug-info type
//! of the Rust struct, as clang does for `__builtin_preserve_access_index` and friends.
//! `opt` (BPF target) then turns them into CO-RE relocations that libbpf applies at load.
//! The user-facing API is bpfkit-ebpf's `co_re` macros.
//!
//! Markers (PIPELINE.md, "CO-RE from Rust programs"):
//! - `bpfcore$field$<struct>$<member>[$<member>…]`: `fn(*const S) -> *const F`, the address
//!   of the member (byte-offset relocation);
//! - `bpfcore$exists|size|offset|signed|lshift|rshift$…`: `fn(*const S) -> u32`, the
//!   `llvm.bpf.preserve.field.info` kinds (existence, byte size, byte offset, signedness,
//!   the bitfield shifts);
//! - `<struct>` = `_`: the type is not named; the last argument is an anchor function
//!   (`bpfkit_ebpf::co_re::__anchor::<S>`) whose debug info has `S` as template parameter;
//! - `bpfcore$type_exists|type_size|type_matches$_`: `fn(anchor) -> u32`
//!   (`llvm.bpf.preserve.type.info`);
//! - `bpfcore$enum_exists|enum_value$<enum>$<enumerator>`: `fn(list, len, size) -> i64`,
//!   where `list` is the constant `"NAME=value,…"` of bpfkit-gen's `__BPFCORE_ENUMERATORS`:
//!   bpfkit-link writes the enum type (all enumerators, in order) the relocation refers to
//!   (`llvm.bpf.preserve.enum.value`), since the Rust enum is a newtype struct.
//!
//! A `$`-separated path walks embedded structs and unions (`task_struct$thread$sp`). The
//! stand-in must be `#[repr(C)]`, carry the kernel's member names and appear in debug info
//! (a variable or parameter of that type or a pointer to it).
//!
//! bpfkit-gen's kernel-flavour structs stand for bitfields with zero-sized members of type
//! `__bpfcore_bitfield<T, BIT, WIDTH>`; they become `DIFlagBitField` members, and the
//! generated `_bitfield_<n>`/`_pad_<n>` members leave the member lists, so member indexes
//! (the access strings) and bitfield relocations are those clang emits from the C type.
//!
//! Several Rust types may share the struct name (an opaque binding and a stand-in in other
//! modules): a named marker resolves to the one type on which the whole member path exists;
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
    /// `BPF_FIELD_SIGNED` (3).
    Signed,
    /// `BPF_FIELD_LSHIFT_U64` (4).
    Lshift,
    /// `BPF_FIELD_RSHIFT_U64` (5).
    Rshift,
    /// `BPF_TYPE_EXISTS`.
    TypeExists,
    /// `BPF_TYPE_SIZE`.
    TypeSize,
    /// `BPF_TYPE_MATCHES`.
    TypeMatches,
    /// `BPF_ENUMVAL_EXISTS`.
    EnumExists,
    /// `BPF_ENUMVAL_VALUE`.
    EnumValue,
}

impl Kind {
    fn parse(word: &str) -> Option<Kind> {
        Some(match word {
            "field" => Kind::Field,
            "exists" => Kind::Exists,
            "size" => Kind::Size,
            "offset" => Kind::Offset,
            "signed" => Kind::Signed,
            "lshift" => Kind::Lshift,
            "rshift" => Kind::Rshift,
            "type_exists" => Kind::TypeExists,
            "type_size" => Kind::TypeSize,
            "type_matches" => Kind::TypeMatches,
            "enum_exists" => Kind::EnumExists,
            "enum_value" => Kind::EnumValue,
            _ => return None,
        })
    }

    /// The `llvm.bpf.preserve.field.info` flag of a field kind.
    fn field_info(self) -> Option<u32> {
        Some(match self {
            Kind::Offset => 0,
            Kind::Size => 1,
            Kind::Exists => 2,
            Kind::Signed => 3,
            Kind::Lshift => 4,
            Kind::Rshift => 5,
            _ => return None,
        })
    }
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

fn resolve(
    marker: &str,
    meta: &Metadata<'_>,
    anchor: Option<u32>,
) -> Result<(Kind, Vec<Step>), CoreMarkerError> {
    let malformed = || CoreMarkerError::Malformed {
        marker: marker.to_string(),
    };
    let mut parts = marker
        .strip_prefix(MARKER_PREFIX)
        .ok_or_else(malformed)?
        .split('$');
    let kind = parts.next().and_then(Kind::parse).ok_or_else(malformed)?;
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(malformed)?;
    let path: Vec<&str> = parts.collect();
    if path.is_empty() || path.iter().any(|p| p.is_empty()) {
        return Err(malformed());
    }
    let candidates = match anchor {
        Some(id) => vec![id],
        None => meta.composites_named(name),
    };
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
    /// The operands (the value token of each argument, attributes dropped).
    args: Vec<&'a str>,
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
    // The argument list ends at the parenthesis that closes it (attributes such as
    // `dereferenceable(8)` nest).
    let mut depth = 0usize;
    let mut args_end = None;
    let mut split_at = vec![args_start];
    for (i, c) in line[args_start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                args_end = Some(args_start + i);
                break;
            }
            ')' => depth -= 1,
            ',' if depth == 0 => split_at.push(args_start + i + 1),
            _ => {}
        }
    }
    let args_end = args_end?;
    split_at.push(args_end + 1);
    let args = split_at
        .windows(2)
        .filter_map(|w| line[w[0]..w[1] - 1].split_whitespace().last())
        .collect();
    let dbg = line[args_end..]
        .find("!dbg !")
        .map(|d| &line[args_end + d..])
        .map(|d| d.split(',').next().unwrap_or(d).trim());
    Some(MarkerCall {
        result,
        marker,
        ret,
        args,
        dbg,
    })
}

/// The type behind an anchor function: `bpfkit_ebpf::co_re::__anchor::<S>`'s first generic
/// parameter, read from its `DISubprogram`'s template parameters.
fn anchor_type(ir: &str, meta: &Metadata<'_>, anchor: &str) -> Option<u32> {
    let symbol = anchor.strip_prefix('@')?;
    let define = ir.lines().find(|l| {
        l.starts_with("define ")
            && (l.contains(&format!("@{symbol}(")) || l.contains(&format!("@{symbol} (")))
    })?;
    let dbg = define.rsplit("!dbg !").next()?;
    let sub: u32 = dbg
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let body = meta.nodes.get(&sub)?;
    let params = field(body, "templateParams")
        .and_then(node_ref)
        .or_else(|| {
            let decl = field(body, "declaration").and_then(node_ref)?;
            field(meta.nodes.get(&decl)?, "templateParams").and_then(node_ref)
        })?;
    let list = meta.nodes.get(&params)?;
    let first = list
        .trim_start_matches("distinct ")
        .trim_start_matches("!{")
        .trim_end_matches('}')
        .split(',')
        .next()?
        .trim()
        .strip_prefix('!')?
        .parse::<u32>()
        .ok()?;
    let param = meta.nodes.get(&first)?;
    if !param.contains("DITemplateTypeParameter") {
        return None;
    }
    let mut ty = node_ref(field(param, "type")?)?;
    // Typedefs and qualifiers are the type itself for CO-RE.
    for _ in 0..16 {
        let body = meta.nodes.get(&ty)?;
        let passthrough = ["DW_TAG_const_type", "DW_TAG_volatile_type"]
            .iter()
            .any(|t| body.contains(&format!("tag: {t}")));
        if !passthrough {
            break;
        }
        ty = node_ref(field(body, "baseType")?)?;
    }
    Some(ty)
}

/// The bytes of a private constant `@name = … c"…"`, escapes decoded.
fn constant_bytes(ir: &str, global: &str) -> Option<Vec<u8>> {
    let line = ir
        .lines()
        .find(|l| l.starts_with(&format!("{global} = ")))?;
    let quoted = &line[line.find("c\"")? + 2..];
    let quoted = &quoted[..quoted.find('"')?];
    let mut out = Vec::new();
    let bytes = quoted.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// `%bpfcore.aN`: an IR type of the composite's alignment (at most 8), which llc uses as
/// the record alignment when it computes a bitfield's load (as clang's struct type does).
fn element_type(meta: &Metadata<'_>, composite: u32) -> u32 {
    let align_bits = meta
        .nodes
        .get(&composite)
        .and_then(|b| field(b, "align"))
        .and_then(|a| a.parse::<u32>().ok())
        .unwrap_or(64);
    (align_bits / 8).clamp(1, 8)
}

/// Kernel-compatible debug info for bpfkit-gen's kernel-flavour types, before the markers
/// are resolved: each `__bpfcore_bitfield<T, BIT, WIDTH>` member becomes a bitfield member
/// (`DIFlagBitField`, `WIDTH` bits at bit `BIT`, of a `T`-sized integer), and the generated
/// storage and padding members (`_bitfield_<n>`, `_pad_<n>`, absent from the kernel's type)
/// leave the member lists, so member indexes (CO-RE access strings) are the kernel's.
fn fix_debug_info(ir: &str) -> String {
    let meta = Metadata::parse(ir);
    let mut next_id = meta.nodes.keys().max().copied().unwrap_or(0) + 1;
    let mut extra = String::new();
    let mut replaced: HashMap<u32, String> = HashMap::new();
    let mut basic: HashMap<(u32, bool), u32> = HashMap::new();
    let mut dropped: Vec<u32> = Vec::new();
    let generated = |name: &str, prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    for (&id, body) in &meta.nodes {
        if !body.contains("tag: DW_TAG_member") {
            continue;
        }
        let Some(name) = meta.name(id) else { continue };
        if generated(name, "_bitfield_") || generated(name, "_pad_") {
            dropped.push(id);
            continue;
        }
        let Some(base) = field(body, "baseType").and_then(node_ref) else {
            continue;
        };
        let Some(type_name) = meta.name(base) else {
            continue;
        };
        let Some(params) = type_name
            .strip_prefix("__bpfcore_bitfield<")
            .and_then(|p| p.strip_suffix('>'))
        else {
            continue;
        };
        let params: Vec<&str> = params.split(',').map(str::trim).collect();
        let [value, bit, width] = params[..] else {
            continue;
        };
        let (Ok(bit), Ok(width)) = (bit.parse::<u64>(), width.parse::<u64>()) else {
            continue;
        };
        let signed = value.starts_with('i');
        let bits: u32 = value.trim_start_matches(['i', 'u']).parse().unwrap_or(32);
        let int = *basic.entry((bits, signed)).or_insert_with(|| {
            let n = next_id;
            next_id += 1;
            let _ = writeln!(
                extra,
                "!{n} = !DIBasicType(name: \"{}{bits}\", size: {bits}, encoding: {})",
                if signed { 'i' } else { 'u' },
                if signed {
                    "DW_ATE_signed"
                } else {
                    "DW_ATE_unsigned"
                }
            );
            n
        });
        let scope = field(body, "scope").unwrap_or("null");
        let storage = bit - bit % u64::from(bits);
        replaced.insert(
            id,
            format!(
                "!DIDerivedType(tag: DW_TAG_member, name: \"{name}\", scope: {scope}, \
                 baseType: !{int}, size: {width}, offset: {bit}, flags: DIFlagBitField, \
                 extraData: i64 {storage})"
            ),
        );
    }
    if replaced.is_empty() && dropped.is_empty() {
        return ir.to_string();
    }
    // Member lists that mention a dropped member.
    let dropped_refs: Vec<String> = dropped.iter().map(|d| format!("!{d}")).collect();
    let mut out = String::with_capacity(ir.len() + extra.len());
    for line in ir.lines() {
        let parsed = line
            .strip_prefix('!')
            .and_then(|r| r.split_once(" = "))
            .and_then(|(id, body)| Some((id.parse::<u32>().ok()?, body)));
        match parsed {
            Some((id, _)) if replaced.contains_key(&id) => {
                let _ = writeln!(out, "!{id} = {}", replaced[&id]);
            }
            Some((id, body))
                if body.starts_with("!{")
                    && !dropped_refs.is_empty()
                    && body
                        .trim_start_matches("!{")
                        .trim_end_matches('}')
                        .split(',')
                        .any(|m| dropped_refs.iter().any(|d| d == m.trim())) =>
            {
                let kept: Vec<&str> = body
                    .trim_start_matches("!{")
                    .trim_end_matches('}')
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !dropped_refs.iter().any(|d| d == m))
                    .collect();
                let _ = writeln!(out, "!{id} = !{{{}}}", kept.join(", "));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.push_str(&extra);
    out
}

/// Rewrites every marker call of `ir`; `Ok(None)` when there is none.
pub fn rewrite(ir: &str) -> Result<Option<String>, CoreMarkerError> {
    let calls_markers = ir
        .lines()
        .any(|l| !l.starts_with("declare ") && l.contains(MARKER_PREFIX) && l.contains("call "));
    if !calls_markers {
        return Ok(None);
    }
    let fixed = fix_debug_info(ir);
    let ir = fixed.as_str();
    let meta = Metadata::parse(ir);
    let mut next_node = meta.nodes.keys().max().copied().unwrap_or(0) + 1;
    let mut extra_meta = String::new();
    let mut globals = String::new();
    let mut out = String::with_capacity(ir.len() + 4096);
    let mut counter = 0usize;
    let bad_call = |marker: &str, line: &str, why: &str| CoreMarkerError::BadCall {
        marker: marker.to_string(),
        line: format!("{}{why}", line.trim()),
    };
    for line in ir.lines() {
        if line.starts_with("declare ") && line.contains(MARKER_PREFIX) {
            continue;
        }
        // A debug record of a marker passed as a function pointer (bpfkit-ebpf's macros
        // hand the marker to an inlined generic): the marker disappears, so does the record.
        if line.trim_start().starts_with("#dbg_") && line.contains(MARKER_PREFIX) {
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
        let dbg = call.dbg.map(|d| format!(", {d}")).unwrap_or_default();
        let kind = call
            .marker
            .strip_prefix(MARKER_PREFIX)
            .and_then(|r| r.split('$').next())
            .and_then(Kind::parse)
            .ok_or_else(|| CoreMarkerError::Malformed {
                marker: call.marker.to_string(),
            })?;
        let typed = call.marker.split('$').nth(2) == Some("_");
        // `_` as the struct name: the type comes from the anchor, the last argument.
        let anchor = if typed {
            let symbol = call
                .args
                .last()
                .ok_or_else(|| bad_call(call.marker, line, " (no anchor argument)"))?;
            Some(anchor_type(ir, &meta, symbol).ok_or_else(|| {
                bad_call(
                    call.marker,
                    line,
                    " (the anchor function has no debug info naming its type parameter)",
                )
            })?)
        } else {
            None
        };
        let result = call.result;
        let convert = |out: &mut String, counter: &mut usize, value: &str, width: u32| {
            // `value` is an i{width}; the marker returns `call.ret`.
            let Some(result) = result else { return Ok(()) };
            let want: u32 = match call.ret {
                "i32" => 32,
                "i64" => 64,
                _ => {
                    return Err(bad_call(
                        call.marker,
                        line,
                        " (must return u32, u64 or i64)",
                    ))
                }
            };
            let op = match want.cmp(&width) {
                std::cmp::Ordering::Equal => {
                    let _ = writeln!(out, "  {result} = or i{want} {value}, 0");
                    return Ok(());
                }
                std::cmp::Ordering::Greater => "zext",
                std::cmp::Ordering::Less => "trunc",
            };
            *counter += 1;
            let _ = writeln!(out, "  {result} = {op} i{width} {value} to i{want}");
            Ok(())
        };
        match kind {
            Kind::TypeExists | Kind::TypeSize | Kind::TypeMatches => {
                let ty = anchor.ok_or_else(|| CoreMarkerError::Malformed {
                    marker: call.marker.to_string(),
                })?;
                let flag = match kind {
                    Kind::TypeExists => 0,
                    Kind::TypeSize => 1,
                    _ => 2,
                };
                counter += 1;
                let tmp = match call.result {
                    Some(r) if call.ret == "i32" => r.to_string(),
                    _ => format!("%bpfcore.{counter}"),
                };
                let _ = writeln!(
                    out,
                    "  {tmp} = call i32 @llvm.bpf.preserve.type.info(i32 {counter}, i64 {flag}){dbg}, \
                     !llvm.preserve.access.index !{ty}"
                );
                if call.ret != "i32" {
                    convert(&mut out, &mut counter, &tmp, 32)?;
                }
                continue;
            }
            Kind::EnumExists | Kind::EnumValue => {
                let mut parts = call.marker.split('$').skip(2);
                let (Some(enum_name), Some(enumerator), None) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(CoreMarkerError::Malformed {
                        marker: call.marker.to_string(),
                    });
                };
                let (Some(list), Some(size)) = (call.args.first(), call.args.get(2)) else {
                    return Err(bad_call(
                        call.marker,
                        line,
                        " (expected the enumerator list, its length and the enum's size)",
                    ));
                };
                let size: u32 = size
                    .parse()
                    .map_err(|_| bad_call(call.marker, line, " (the size is not a constant)"))?;
                let list = constant_bytes(ir, list)
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        bad_call(
                            call.marker,
                            line,
                            " (the enumerator list is not a constant string)",
                        )
                    })?;
                let len: usize = call
                    .args
                    .get(1)
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(list.len());
                let list = list.get(..len).unwrap_or(&list);
                let entries: Vec<(&str, i128)> = list
                    .split(',')
                    .filter_map(|e| {
                        let (n, v) = e.split_once('=')?;
                        Some((n, v.parse().ok()?))
                    })
                    .collect();
                let Some(&(_, value)) = entries.iter().find(|(n, _)| *n == enumerator) else {
                    return Err(CoreMarkerError::NoMember {
                        marker: call.marker.to_string(),
                        parent: enum_name.to_string(),
                        member: enumerator.to_string(),
                    });
                };
                let signed = entries.iter().any(|(_, v)| *v < 0);
                let base = next_node;
                let elements = base + 1;
                let enum_node = base + 2;
                let first = base + 3;
                next_node += 3 + entries.len() as u32;
                let bits = size * 8;
                let _ = writeln!(
                    extra_meta,
                    "!{base} = !DIBasicType(name: \"{}{bits}\", size: {bits}, encoding: {})",
                    if signed { 'i' } else { 'u' },
                    if signed {
                        "DW_ATE_signed"
                    } else {
                        "DW_ATE_unsigned"
                    }
                );
                let refs: Vec<String> = (0..entries.len())
                    .map(|i| format!("!{}", first + i as u32))
                    .collect();
                let _ = writeln!(extra_meta, "!{elements} = !{{{}}}", refs.join(", "));
                let _ = writeln!(
                    extra_meta,
                    "!{enum_node} = !DICompositeType(tag: DW_TAG_enumeration_type, name: \
                     \"{enum_name}\", baseType: !{base}, size: {bits}, align: {bits}, \
                     elements: !{elements})"
                );
                for (i, (n, v)) in entries.iter().enumerate() {
                    let unsigned = if signed { "" } else { ", isUnsigned: true" };
                    let _ = writeln!(
                        extra_meta,
                        "!{} = !DIEnumerator(name: \"{n}\", value: {v}{unsigned})",
                        first + i as u32
                    );
                }
                counter += 1;
                let text = format!("{enumerator}:{value}");
                let _ = writeln!(
                    globals,
                    "@bpfcore.enum.{counter} = private unnamed_addr constant [{} x i8] c\"{text}\\00\"",
                    text.len() + 1
                );
                let flag = if kind == Kind::EnumExists { 0 } else { 1 };
                let tmp = match call.result {
                    Some(r) if call.ret == "i64" => r.to_string(),
                    _ => format!("%bpfcore.{counter}"),
                };
                let _ = writeln!(
                    out,
                    "  {tmp} = call i64 @llvm.bpf.preserve.enum.value(i32 {counter}, ptr \
                     @bpfcore.enum.{counter}, i64 {flag}){dbg}, !llvm.preserve.access.index \
                     !{enum_node}"
                );
                if call.ret != "i64" {
                    convert(&mut out, &mut counter, &tmp, 64)?;
                }
                continue;
            }
            _ => {}
        }
        let (kind, steps) = resolve(call.marker, &meta, anchor)?;
        let mut base = call
            .args
            .first()
            .ok_or_else(|| bad_call(call.marker, line, " (no base pointer)"))?
            .to_string();
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
                     elementtype(%bpfcore.a{}) {base}, i32 0, i32 {}){dbg}, \
                     !llvm.preserve.access.index !{}",
                    element_type(&meta, step.composite),
                    step.index,
                    step.composite
                );
            }
            base = name.unwrap_or_default();
        }
        let Some(info_kind) = kind.field_info() else {
            continue;
        };
        if call.result.is_none() {
            continue;
        }
        counter += 1;
        let tmp = match call.result {
            Some(r) if call.ret == "i32" => r.to_string(),
            _ => format!("%bpfcore.{counter}"),
        };
        let _ = writeln!(
            out,
            "  {tmp} = call i32 @llvm.bpf.preserve.field.info.p0(ptr {base}, i64 {info_kind}){dbg}"
        );
        if call.ret != "i32" {
            convert(&mut out, &mut counter, &tmp, 32)?;
        }
    }
    out.push_str(&globals);
    out.push_str(
        "\n%bpfcore.a1 = type { i8 }\n%bpfcore.a2 = type { i16 }\n%bpfcore.a4 = type { i32 }\n\
         %bpfcore.a8 = type { i64 }\n\
         declare ptr @llvm.preserve.struct.access.index.p0.p0(ptr, i32 immarg, i32 immarg)\n\
         declare ptr @llvm.preserve.union.access.index.p0.p0(ptr, i32 immarg)\n\
         declare i32 @llvm.bpf.preserve.field.info.p0(ptr, i64 immarg)\n\
         declare i32 @llvm.bpf.preserve.type.info(i32, i64)\n\
         declare i64 @llvm.bpf.preserve.enum.value(i32, ptr, i64)\n",
    );
    out.push_str(&extra_meta);
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
            "  %a = call ptr @llvm.preserve.struct.access.index.p0.p0(ptr elementtype(%bpfcore.a4) %task, i32 0, i32 1), !dbg !20, !llvm.preserve.access.index !5\n"
        ), "{out}");
        assert!(out.contains(
            "  %bpfcore.1 = call ptr @llvm.preserve.struct.access.index.p0.p0(ptr elementtype(%bpfcore.a4) %task, i32 0, i32 2), !dbg !20, !llvm.preserve.access.index !5\n  %bpfcore.2 = call ptr @llvm.preserve.struct.access.index.p0.p0(ptr elementtype(%bpfcore.a8) %bpfcore.1, i32 0, i32 0), !dbg !20, !llvm.preserve.access.index !11\n  %1 = call i32 @llvm.bpf.preserve.field.info.p0(ptr %bpfcore.2, i64 2), !dbg !20\n"
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

    /// A generated struct with a bitfield, an anchor naming it, an enum's enumerator list.
    const TYPED: &str = r#"@alloc_1 = private unnamed_addr constant [14 x i8] c"A=0,B=7,C\3D9x"
define i64 @prog(ptr %task) !dbg !10 {
  %a = call ptr @"bpfcore$field$_$tgid"(ptr noundef %task, ptr nonnull @anchor_ts), !dbg !20
  #dbg_value(ptr @"bpfcore$lshift$_$flag", !30, !DIExpression(), !20)
  %b = call i32 @"bpfcore$lshift$_$flag"(ptr %task, ptr @anchor_ts), !dbg !20
  %c = call i32 @"bpfcore$type_size$_"(ptr @anchor_ts), !dbg !20
  %d = call i64 @"bpfcore$enum_value$colour$B"(ptr @alloc_1, i64 11, i64 4), !dbg !20
  ret i64 %d
}
define internal void @anchor_ts(ptr %0) !dbg !40 {
  ret void
}
!2 = !DIBasicType(name: "i32", size: 32, encoding: DW_ATE_signed)
!5 = !DICompositeType(tag: DW_TAG_structure_type, name: "task_struct", scope: !1, size: 96, align: 32, elements: !6, identifier: "ts")
!6 = !{!7, !8, !9, !12}
!7 = !DIDerivedType(tag: DW_TAG_member, name: "_pad_0", scope: !5, baseType: !2, size: 32)
!8 = !DIDerivedType(tag: DW_TAG_member, name: "_bitfield_4", scope: !5, baseType: !2, size: 32, offset: 32)
!9 = !DIDerivedType(tag: DW_TAG_member, name: "flag", scope: !5, baseType: !11, align: 8, offset: 32)
!11 = !DICompositeType(tag: DW_TAG_structure_type, name: "__bpfcore_bitfield<u32, 35, 2>", scope: !1, align: 8, elements: !{})
!12 = !DIDerivedType(tag: DW_TAG_member, name: "tgid", scope: !5, baseType: !2, size: 32, offset: 64)
!40 = distinct !DISubprogram(name: "__anchor<x::task_struct>", scope: !1, templateParams: !41)
!41 = !{!42}
!42 = !DITemplateTypeParameter(name: "S", type: !5)
"#;

    #[test]
    fn typed_markers_take_the_anchors_type_and_generated_bitfields_become_members() {
        let out = rewrite(TYPED).unwrap().unwrap();
        // Storage and padding leave the member list; the marker member is a bitfield.
        assert!(out.contains("!6 = !{!9, !12}\n"), "{out}");
        assert!(out.contains(
            "!9 = !DIDerivedType(tag: DW_TAG_member, name: \"flag\", scope: !5, baseType: !43, \
             size: 2, offset: 35, flags: DIFlagBitField, extraData: i64 32)\n"
        ), "{out}");
        assert!(
            out.contains("!43 = !DIBasicType(name: \"u32\", size: 32, encoding: DW_ATE_unsigned)"),
            "{out}"
        );
        // `tgid` is member 1 now, `flag` member 0.
        assert!(out.contains(
            "  %a = call ptr @llvm.preserve.struct.access.index.p0.p0(ptr elementtype(%bpfcore.a4) %task, i32 0, i32 1), !dbg !20, !llvm.preserve.access.index !5\n"
        ), "{out}");
        assert!(out.contains("i32 0, i32 0), !dbg !20, !llvm.preserve.access.index !5\n  %b = call i32 @llvm.bpf.preserve.field.info.p0(ptr %bpfcore.1, i64 4), !dbg !20\n"), "{out}");
        assert!(!out.contains("#dbg_value(ptr @\"bpfcore$"), "{out}");
        assert!(out.contains("  %c = call i32 @llvm.bpf.preserve.type.info(i32 3, i64 1), !dbg !20, !llvm.preserve.access.index !5\n"), "{out}");
        // The enum: all enumerators in order, the asked one by name and value.
        assert!(
            out.contains("@bpfcore.enum.4 = private unnamed_addr constant [4 x i8] c\"B:7\\00\""),
            "{out}"
        );
        assert!(out.contains("  %d = call i64 @llvm.bpf.preserve.enum.value(i32 4, ptr @bpfcore.enum.4, i64 1), !dbg !20, !llvm.preserve.access.index !46\n"), "{out}");
        assert!(out.contains("!46 = !DICompositeType(tag: DW_TAG_enumeration_type, name: \"colour\", baseType: !44, size: 32, align: 32, elements: !45)"), "{out}");
        assert!(out.contains("!45 = !{!47, !48, !49}"), "{out}");
        assert!(
            out.contains("!48 = !DIEnumerator(name: \"B\", value: 7, isUnsigned: true)"),
            "{out}"
        );

        let missing = TYPED.replace("enum_value$colour$B", "enum_value$colour$D");
        assert!(matches!(
            rewrite(&missing).unwrap_err(),
            CoreMarkerError::NoMember { member, .. } if member == "D"
        ));
        let no_anchor_info = TYPED.replace("templateParams: !41", "unit: !1");
        assert!(matches!(
            rewrite(&no_anchor_info).unwrap_err(),
            CoreMarkerError::BadCall { .. }
        ));
    }
}
