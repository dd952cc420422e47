//! Rewriting the `.BTF` that llc derives from Rust debug info into BTF the kernel accepts.
//!
//! Type ids and existing string offsets never change (new strings are appended), so
//! `.BTF.ext` (func info, line info, CO-RE records) stays valid. The fixes, one per row
//! of the table in PIPELINE.md:
//! - names with characters outside `[A-Za-z0-9_]` (`Option<u32>`, `&str`, `{closure_env#0}`):
//!   each run of them becomes `_`;
//! - struct members out of offset order (Rust reorders fields): sorted by offset;
//! - zero-sized statics in a DATASEC: their entries are dropped (not FUNCs: kfuncs in
//!   `.ksyms` have size 0);
//! - unnamed function parameters: named `argN`;
//! - `FUNC`s whose ELF symbol is not global (functions internalized by the linker): made static;
//! - references to type 0 where a type is required (`char`, which LLVM drops): pointed at an
//!   appended `INT char` of 4 bytes;
//! - struct/union members named `__anon_<n>` whose type is a struct or union (bpfkit-gen's
//!   names for C's anonymous members): made anonymous again, as clang emits them, so CO-RE
//!   looks through them to the named member in the kernel's type instead of searching the
//!   kernel for a member called `__anon_<n>`.

use std::collections::{HashMap, HashSet};

/// Why a `.BTF` blob could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum BtfFixupError {
    /// The blob is shorter than its header says.
    #[error(".BTF is truncated: {what} needs bytes up to {needed}, the section has {len}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// The end offset needed.
        needed: usize,
        /// The section length.
        len: usize,
    },
    /// The magic is not 0xeB9F in either byte order.
    #[error(".BTF has bad magic {magic:#06x}")]
    BadMagic {
        /// The first two bytes, little-endian.
        magic: u16,
    },
    /// A type has a kind this rewriter does not know.
    #[error(".BTF type id {id} at offset {offset} has unknown kind {kind}")]
    UnknownKind {
        /// The type id.
        id: u32,
        /// Its offset in the type section.
        offset: usize,
        /// The kind number.
        kind: u32,
    },
    /// A name offset points outside the string section.
    #[error(".BTF type id {id} has name offset {name_off} outside the string section")]
    BadNameOffset {
        /// The type id.
        id: u32,
        /// The offset.
        name_off: u32,
    },
}

/// BTF kinds (`BTF_KIND_*` of linux/btf.h).
mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

const BTF_MAGIC: u16 = 0xeb9f;
const FUNC_STATIC: u32 = 0;
const FUNC_GLOBAL: u32 = 1;
/// Longest name accepted by every kernel with BTF (KSYM_NAME_LEN was 128 before 6.1).
const MAX_NAME_LEN: usize = 127;

/// What the rewrite changed, for the linker's log and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FixupReport {
    /// Names rewritten to identifiers.
    pub renamed: usize,
    /// Structs whose members were sorted by offset.
    pub sorted_structs: usize,
    /// Zero-sized DATASEC entries dropped.
    pub dropped_datasec_entries: usize,
    /// Function parameters that were given a name.
    pub named_params: usize,
    /// FUNCs made static.
    pub static_funcs: usize,
    /// References to type 0 redirected to `char`.
    pub char_refs: usize,
    /// `__anon_<n>` members made anonymous.
    pub anonymous_members: usize,
}

#[derive(Clone, Copy)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn read(self, b: &[u8], at: usize) -> u32 {
        let word = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        match self {
            Self::Little => u32::from_le_bytes(word),
            Self::Big => u32::from_be_bytes(word),
        }
    }
    fn bytes(self, v: u32) -> [u8; 4] {
        match self {
            Self::Little => v.to_le_bytes(),
            Self::Big => v.to_be_bytes(),
        }
    }
}

/// One type record: the three common words and the kind-specific words after them.
struct Type {
    name_off: u32,
    info: u32,
    size_or_type: u32,
    extra: Vec<u32>,
}

impl Type {
    fn kind(&self) -> u32 {
        (self.info >> 24) & 0x1f
    }
    fn vlen(&self) -> usize {
        (self.info & 0xffff) as usize
    }
    fn set_vlen(&mut self, vlen: usize) {
        self.info = (self.info & !0xffff) | (vlen as u32 & 0xffff);
    }
}

/// Words of kind-specific data after the common part, per `vlen`.
fn extra_words(kind_num: u32, vlen: usize) -> Option<usize> {
    Some(match kind_num {
        kind::INT | kind::VAR | kind::DECL_TAG => 1,
        kind::PTR
        | kind::FWD
        | kind::TYPEDEF
        | kind::VOLATILE
        | kind::CONST
        | kind::RESTRICT
        | kind::FUNC
        | kind::FLOAT
        | kind::TYPE_TAG => 0,
        kind::ARRAY => 3,
        kind::STRUCT | kind::UNION | kind::DATASEC | kind::ENUM64 => 3 * vlen,
        kind::ENUM | kind::FUNC_PROTO => 2 * vlen,
        _ => return None,
    })
}

/// Rewrites a `.BTF` section so the kernel accepts it. `global_functions` are the names
/// of the object's global function symbols (the programs); every other FUNC becomes static.
pub fn fix_btf(
    blob: &[u8],
    global_functions: &HashSet<String>,
) -> Result<(Vec<u8>, FixupReport), BtfFixupError> {
    let need = |what, needed: usize| {
        if needed > blob.len() {
            Err(BtfFixupError::Truncated {
                what,
                needed,
                len: blob.len(),
            })
        } else {
            Ok(())
        }
    };
    need("the header", 24)?;
    let endian = match u16::from_le_bytes([blob[0], blob[1]]) {
        BTF_MAGIC => Endian::Little,
        m if m.swap_bytes() == BTF_MAGIC => Endian::Big,
        magic => return Err(BtfFixupError::BadMagic { magic }),
    };
    let hdr_len = endian.read(blob, 4) as usize;
    let type_off = endian.read(blob, 8) as usize;
    let type_len = endian.read(blob, 12) as usize;
    let str_off = endian.read(blob, 16) as usize;
    let str_len = endian.read(blob, 20) as usize;
    let types_start = hdr_len.saturating_add(type_off);
    let types_end = types_start.saturating_add(type_len);
    let strs_start = hdr_len.saturating_add(str_off);
    let strs_end = strs_start.saturating_add(str_len);
    need("the header", hdr_len)?;
    need("the type section", types_end)?;
    need("the string section", strs_end)?;

    let mut types = Vec::new();
    let mut at = types_start;
    while at < types_end {
        let id = types.len() as u32 + 1;
        need("a type", at + 12)?;
        let mut t = Type {
            name_off: endian.read(blob, at),
            info: endian.read(blob, at + 4),
            size_or_type: endian.read(blob, at + 8),
            extra: Vec::new(),
        };
        let words = extra_words(t.kind(), t.vlen()).ok_or(BtfFixupError::UnknownKind {
            id,
            offset: at - types_start,
            kind: t.kind(),
        })?;
        need("a type's members", at + 12 + 4 * words)?;
        t.extra = (0..words)
            .map(|i| endian.read(blob, at + 12 + 4 * i))
            .collect();
        at += 12 + 4 * words;
        types.push(t);
    }

    let mut strings = Strings {
        bytes: blob[strs_start..strs_end].to_vec(),
        added: HashMap::new(),
    };
    let report = fix_types(&mut types, &mut strings, global_functions)?;
    if report.char_refs > 0 {
        append_char(&mut types, &mut strings);
    }

    let mut type_bytes = Vec::new();
    for t in &types {
        for word in [t.name_off, t.info, t.size_or_type]
            .iter()
            .chain(t.extra.iter())
        {
            type_bytes.extend_from_slice(&endian.bytes(*word));
        }
    }
    let mut out = blob[..hdr_len].to_vec();
    out[8..12].copy_from_slice(&endian.bytes(0));
    out[12..16].copy_from_slice(&endian.bytes(type_bytes.len() as u32));
    out[16..20].copy_from_slice(&endian.bytes(type_bytes.len() as u32));
    out[20..24].copy_from_slice(&endian.bytes(strings.bytes.len() as u32));
    out.extend_from_slice(&type_bytes);
    out.extend_from_slice(&strings.bytes);
    Ok((out, report))
}

/// The string section: existing bytes untouched, new strings appended once each.
struct Strings {
    bytes: Vec<u8>,
    added: HashMap<String, u32>,
}

impl Strings {
    fn get(&self, off: u32) -> Option<&[u8]> {
        let rest = self.bytes.get(off as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        Some(&rest[..end])
    }
    fn add(&mut self, s: &str) -> u32 {
        if let Some(&off) = self.added.get(s) {
            return off;
        }
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.added.insert(s.to_string(), off);
        off
    }
}

/// Turns a Rust type or symbol name into a C identifier: each run of characters outside
/// `[A-Za-z0-9_]` becomes `_`, a leading digit gets a `_` prefix, and the result is cut to
/// 127 bytes. Returns `None` when the name is already valid.
pub fn sanitize_name(name: &[u8]) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name[0].is_ascii_digit()
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if valid || name.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    if name[0].is_ascii_digit() {
        out.push('_');
    }
    let mut in_run = false;
    for &b in name {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(b as char);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.truncate(MAX_NAME_LEN);
    Some(out)
}

fn fix_types(
    types: &mut [Type],
    strings: &mut Strings,
    global_functions: &HashSet<String>,
) -> Result<FixupReport, BtfFixupError> {
    let mut report = FixupReport::default();
    let mut char_id = None;
    let type_count = types.len() as u32;
    // Type ids (1-based) of FUNCs: their DATASEC entries (`.ksyms` kfuncs) have size 0.
    let funcs: HashSet<u32> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind() == kind::FUNC)
        .map(|(i, _)| i as u32 + 1)
        .collect();
    // Type ids of structs and unions: what an anonymous member's type must be.
    let composites: HashSet<u32> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t.kind(), kind::STRUCT | kind::UNION))
        .map(|(i, _)| i as u32 + 1)
        .collect();
    let mut char_type = |report: &mut FixupReport| -> u32 {
        report.char_refs += 1;
        *char_id.get_or_insert(type_count + 1)
    };

    for (index, t) in types.iter_mut().enumerate() {
        let id = index as u32 + 1;
        let k = t.kind();
        // Names: the type's own (not DATASEC: section names may contain dots) and its members'.
        if k != kind::DATASEC {
            rename(&mut t.name_off, id, strings, &mut report)?;
        }
        match k {
            kind::STRUCT | kind::UNION | kind::ENUM | kind::ENUM64 | kind::FUNC_PROTO => {
                let stride = if k == kind::ENUM || k == kind::FUNC_PROTO {
                    2
                } else {
                    3
                };
                for member in t.extra.chunks_mut(stride) {
                    rename(&mut member[0], id, strings, &mut report)?;
                }
            }
            _ => {}
        }
        match k {
            kind::STRUCT | kind::UNION => {
                for member in t.extra.chunks_mut(3) {
                    if member[1] == 0 {
                        member[1] = char_type(&mut report);
                    }
                    if composites.contains(&member[1])
                        && strings.get(member[0]).is_some_and(is_generated_anonymous)
                    {
                        member[0] = 0;
                        report.anonymous_members += 1;
                    }
                }
                if k == kind::STRUCT {
                    let bitfields = t.info >> 31 == 1;
                    let bit_offset = |m: &[u32]| if bitfields { m[2] & 0xff_ffff } else { m[2] };
                    let mut members: Vec<[u32; 3]> =
                        t.extra.chunks(3).map(|m| [m[0], m[1], m[2]]).collect();
                    if members
                        .windows(2)
                        .any(|w| bit_offset(&w[0]) > bit_offset(&w[1]))
                    {
                        members.sort_by_key(|m| bit_offset(m));
                        t.extra = members.concat();
                        report.sorted_structs += 1;
                    }
                }
            }
            kind::ARRAY if t.extra[0] == 0 => t.extra[0] = char_type(&mut report),
            kind::VAR if t.size_or_type == 0 => t.size_or_type = char_type(&mut report),
            kind::FUNC_PROTO => {
                let count = t.vlen();
                for (i, param) in t.extra.chunks_mut(2).enumerate() {
                    let is_varargs = i + 1 == count && param[0] == 0 && param[1] == 0;
                    if is_varargs {
                        continue;
                    }
                    if param[1] == 0 {
                        param[1] = char_type(&mut report);
                    }
                    if param[0] == 0 {
                        param[0] = strings.add(&format!("arg{i}"));
                        report.named_params += 1;
                    }
                }
            }
            kind::DATASEC => {
                let before = t.vlen();
                let kept: Vec<u32> = t
                    .extra
                    .chunks(3)
                    .filter(|entry| entry[2] != 0 || funcs.contains(&entry[0]))
                    .flatten()
                    .copied()
                    .collect();
                let after = kept.len() / 3;
                if after != before {
                    t.extra = kept;
                    t.set_vlen(after);
                    report.dropped_datasec_entries += before - after;
                }
            }
            kind::FUNC if t.vlen() as u32 == FUNC_GLOBAL => {
                let name = strings
                    .get(t.name_off)
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .unwrap_or_default();
                if !global_functions.contains(&name) {
                    t.set_vlen(FUNC_STATIC as usize);
                    report.static_funcs += 1;
                }
            }
            _ => {}
        }
    }
    Ok(report)
}

/// `__anon_<digits>`: bpfkit-gen's name for an anonymous member.
fn is_generated_anonymous(name: &[u8]) -> bool {
    name.strip_prefix(b"__anon_")
        .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
}

fn rename(
    name_off: &mut u32,
    id: u32,
    strings: &mut Strings,
    report: &mut FixupReport,
) -> Result<(), BtfFixupError> {
    if *name_off == 0 {
        return Ok(());
    }
    let name = strings.get(*name_off).ok_or(BtfFixupError::BadNameOffset {
        id,
        name_off: *name_off,
    })?;
    if let Some(fixed) = sanitize_name(name) {
        *name_off = strings.add(&fixed);
        report.renamed += 1;
    }
    Ok(())
}

/// Appends `INT char` (4 bytes, unsigned, Rust's `char`) as the type after the last one,
/// the id [`fix_types`] handed out for references to type 0.
fn append_char(types: &mut Vec<Type>, strings: &mut Strings) {
    types.push(Type {
        name_off: strings.add("char"),
        info: kind::INT << 24,
        size_or_type: 4,
        extra: vec![32],
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a little-endian BTF blob from type words and a string table.
    fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        blob_in(Endian::Little, types, strings)
    }

    fn blob_in(endian: Endian, types: &[u32], strings: &[u8]) -> Vec<u8> {
        let type_len = types.len() as u32 * 4;
        let mut out = Vec::new();
        let magic = match endian {
            Endian::Little => [0x9f, 0xeb],
            Endian::Big => [0xeb, 0x9f],
        };
        out.extend_from_slice(&magic);
        out.extend_from_slice(&[1, 0]);
        for word in [24, 0, type_len, type_len, strings.len() as u32] {
            out.extend_from_slice(&endian.bytes(word));
        }
        for word in types {
            out.extend_from_slice(&endian.bytes(*word));
        }
        out.extend_from_slice(strings);
        out
    }

    fn info(kind_num: u32, vlen: u32) -> u32 {
        kind_num << 24 | vlen
    }

    /// Offsets in STRINGS.
    const U32: u32 = 1;
    const OPTION: u32 = 5;
    const A: u32 = 17;
    const B: u32 = 19;
    const COUNT: u32 = 21;
    const HELPER: u32 = 27;
    const DOT_RODATA: u32 = 34;
    const UNIT: u32 = 42;
    const STRINGS: &[u8] = b"\0u32\0Option<u32>\0a\0b\0count\0helper\0.rodata\0UNIT\0";

    #[rustfmt::skip]
    fn sample() -> Vec<u32> {
        vec![
            // [1] INT u32
            U32, info(kind::INT, 0), 4, 32,
            // [2] STRUCT Option<u32> { a @ 32 bits, b @ 0 }
            OPTION, info(kind::STRUCT, 2), 8, A, 1, 32, B, 1, 0,
            // [3] FUNC_PROTO (u32, <unnamed u32>, <char dropped>) -> u32
            0, info(kind::FUNC_PROTO, 3), 1, A, 1, 0, 1, B, 0,
            // [4] FUNC count (global), [5] FUNC helper (global in debug info)
            COUNT, info(kind::FUNC, FUNC_GLOBAL), 3,
            HELPER, info(kind::FUNC, FUNC_GLOBAL), 3,
            // [6] VAR UNIT of type 0 (a dropped `char`), [7] VAR b
            UNIT, info(kind::VAR, 0), 0, 1,
            B, info(kind::VAR, 0), 1, 1,
            // [8] DATASEC .rodata { UNIT: size 0, b: size 4 }
            DOT_RODATA, info(kind::DATASEC, 2), 0, 6, 0, 0, 7, 0, 4,
        ]
    }

    fn words(out: &[u8]) -> Vec<u32> {
        let type_len = u32::from_le_bytes(out[12..16].try_into().unwrap()) as usize;
        out[24..24 + type_len]
            .chunks(4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
            .collect()
    }

    fn string_at(out: &[u8], off: u32) -> String {
        let type_len = u32::from_le_bytes(out[12..16].try_into().unwrap()) as usize;
        let strings = &out[24 + type_len..];
        let rest = &strings[off as usize..];
        String::from_utf8(rest[..rest.iter().position(|&b| b == 0).unwrap()].to_vec()).unwrap()
    }

    #[test]
    fn applies_every_fix_and_keeps_type_ids_and_old_strings() {
        let globals = HashSet::from(["count".to_string()]);
        let (out, report) = fix_btf(&blob(&sample(), STRINGS), &globals).unwrap();
        assert_eq!(
            report,
            FixupReport {
                renamed: 1,
                sorted_structs: 1,
                dropped_datasec_entries: 1,
                named_params: 1,
                static_funcs: 1,
                char_refs: 2,
                anonymous_members: 0,
            }
        );
        let w = words(&out);
        // Old strings are untouched (line info and CO-RE records point into them).
        assert_eq!(&out[24 + w.len() * 4..][..STRINGS.len()], STRINGS);
        // [2] renamed, members sorted: b @ 0 then a @ 32.
        assert_eq!(string_at(&out, w[4]), "Option_u32_");
        assert_eq!(&w[7..13], &[B, 1, 0, A, 1, 32]);
        // [3] the unnamed parameter is arg1; the `char` parameter points at the new type 9.
        assert_eq!(string_at(&out, w[18]), "arg1");
        assert_eq!(&w[20..22], &[B, 9]);
        // [4] stays global, [5] becomes static.
        assert_eq!(w[23] & 0xffff, FUNC_GLOBAL);
        assert_eq!(w[26] & 0xffff, FUNC_STATIC);
        // [6] VAR of type 0 points at char.
        assert_eq!(w[30], 9);
        // [8] DATASEC keeps only the sized entry.
        assert_eq!(w[37], info(kind::DATASEC, 1));
        assert_eq!(&w[39..42], &[7, 0, 4]);
        // [9] INT char, 4 bytes, appended last.
        assert_eq!(&w[42..], &[w[42], info(kind::INT, 0), 4, 32]);
        assert_eq!(string_at(&out, w[42]), "char");
    }

    #[test]
    fn rewrites_big_endian_btf_in_its_own_byte_order() {
        let globals = HashSet::from(["count".to_string()]);
        let (little, little_report) = fix_btf(&blob(&sample(), STRINGS), &globals).unwrap();
        let (big, big_report) =
            fix_btf(&blob_in(Endian::Big, &sample(), STRINGS), &globals).unwrap();
        assert_eq!(big_report, little_report);
        assert_eq!(&big[..2], &[0xeb, 0x9f]);
        assert_eq!(big.len(), little.len());
        // Same words, swapped: header and types; the strings are bytes.
        let type_end = 24 + u32::from_be_bytes(big[12..16].try_into().unwrap()) as usize;
        for at in (4..type_end).step_by(4) {
            let b = u32::from_be_bytes(big[at..at + 4].try_into().unwrap());
            let l = u32::from_le_bytes(little[at..at + 4].try_into().unwrap());
            assert_eq!(b, l, "word at {at}");
        }
        assert_eq!(&big[type_end..], &little[type_end..]);
    }

    #[test]
    fn leaves_valid_btf_byte_identical() {
        let types = [U32, info(kind::INT, 0), 4, 32];
        let input = blob(&types, STRINGS);
        let (out, report) = fix_btf(&input, &HashSet::new()).unwrap();
        assert_eq!(report, FixupReport::default());
        assert_eq!(out, input);
    }

    #[test]
    fn sanitizes_rust_names_into_identifiers() {
        assert_eq!(
            sanitize_name(b"Option<u32>").as_deref(),
            Some("Option_u32_")
        );
        assert_eq!(sanitize_name(b"&str").as_deref(), Some("_str"));
        assert_eq!(sanitize_name(b"(u8, u32)").as_deref(), Some("_u8_u32_"));
        assert_eq!(
            sanitize_name(b"{closure_env#2}").as_deref(),
            Some("_closure_env_2_")
        );
        assert_eq!(sanitize_name(b"1up").as_deref(), Some("_1up"));
        assert_eq!(sanitize_name(b"task_struct"), None);
        assert_eq!(sanitize_name(&[b'x'; 300]).map(|s| s.len()), Some(127));
    }

    #[test]
    fn reports_malformed_blobs_with_offsets() {
        assert_eq!(
            fix_btf(&[0x9f, 0xeb, 1, 0], &HashSet::new())
                .unwrap_err()
                .to_string(),
            ".BTF is truncated: the header needs bytes up to 24, the section has 4"
        );
        let bad_kind = blob(&[0, info(31, 0), 0], b"\0");
        assert_eq!(
            fix_btf(&bad_kind, &HashSet::new()).unwrap_err().to_string(),
            ".BTF type id 1 at offset 0 has unknown kind 31"
        );
        let bad_name = blob(&[99, info(kind::INT, 0), 4, 32], b"\0");
        assert_eq!(
            fix_btf(&bad_name, &HashSet::new()).unwrap_err().to_string(),
            ".BTF type id 1 has name offset 99 outside the string section"
        );
        let mut wrong_magic = blob(&[], b"\0");
        wrong_magic[0] = 0;
        assert!(matches!(
            fix_btf(&wrong_magic, &HashSet::new()),
            Err(BtfFixupError::BadMagic { .. })
        ));
    }

    #[test]
    fn generated_anonymous_members_become_anonymous() {
        // `__anon_1` (a struct member), `__anon_2x` (not the pattern) and `__anon_3` (an int).
        let strings = b"\0outer\0inner\0__anon_1\0__anon_2x\0__anon_3\0u32\0";
        let (outer, inner, anon1, anon2x, anon3, u32_name) = (1, 7, 13, 22, 32, 41);
        #[rustfmt::skip]
        let types = vec![
            // [1] INT u32
            u32_name, info(kind::INT, 0), 4, 32,
            // [2] STRUCT inner { u32 }
            inner, info(kind::STRUCT, 1), 4, u32_name, 1, 0,
            // [3] STRUCT outer { __anon_1: inner, __anon_2x: inner, __anon_3: u32 }
            outer, info(kind::STRUCT, 3), 12, anon1, 2, 0, anon2x, 2, 32, anon3, 1, 64,
        ];
        let (out, report) = fix_btf(&blob(&types, strings), &HashSet::new()).unwrap();
        assert_eq!(report.anonymous_members, 1);
        let w = words(&out);
        assert_eq!(&w[13..22], &[0, 2, 0, anon2x, 2, 32, anon3, 1, 64]);
    }
}
