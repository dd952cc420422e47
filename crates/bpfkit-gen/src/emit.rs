//! Rust source text: type expressions, items, assertions and bitfield accessors.

use std::collections::HashMap;
use std::fmt::Write as _;

use bpfkit_obj::btf::{Btf, Enum, Kind, Type, TypeId};

use crate::collect::{is_function, TypeSet};
use crate::layout::{self, int_prim, BitValue, Plan};
use crate::names::{bare, ident, Naming};
use crate::{Flavour, GenError};

/// Output options.
pub(crate) struct Options {
    pub flavour: Flavour,
    pub module_attributes: bool,
    /// Emit `unsafe impl ::bpfkit::maps::Pod` (userspace flavour only) for every type whose
    /// layout is proven free of implicit padding, with the proof as compile-time assertions.
    pub pod: bool,
}

/// What emitting needs: the BTF, the chosen names and the layouts computed so far.
pub(crate) struct Ctx<'b> {
    pub btf: &'b Btf<'b>,
    pub set: &'b TypeSet,
    pub naming: &'b Naming,
    pub flavour: Flavour,
    plans: HashMap<TypeId, Plan>,
    pod: HashMap<TypeId, bool>,
}

impl<'b> Ctx<'b> {
    /// A context for type expressions, sizes and layouts of `set`'s types.
    pub fn new(btf: &'b Btf<'b>, set: &'b TypeSet, naming: &'b Naming, flavour: Flavour) -> Self {
        Self {
            btf,
            set,
            naming,
            flavour,
            plans: HashMap::new(),
            pod: HashMap::new(),
        }
    }

    /// Size in bytes of a type.
    pub fn size_of(&self, id: TypeId) -> Result<u32, GenError> {
        let id = self.resolve_fwd(id);
        // resolve_size checks the result fits 32 bits.
        Ok(self.btf.resolve_size(id)? as u32)
    }

    fn resolve_fwd(&self, id: TypeId) -> TypeId {
        self.set.fwd_target.get(&id).copied().unwrap_or(id)
    }

    /// The C alignment of a type, as its parent sees it (1 for packed types).
    pub fn align_of(&mut self, id: TypeId) -> Result<u32, GenError> {
        let id = self.resolve_fwd(id);
        Ok(match self.btf.type_by_id(id)? {
            Type::Int(t) => natural(t.size),
            Type::Float(t) => natural(t.size),
            Type::Enum(t) | Type::Enum64(t) => natural(t.size),
            Type::Ptr(_) => self.btf.pointer_size(),
            Type::Array(a) => self.align_of(a.elem_type)?,
            Type::Typedef(r)
            | Type::Const(r)
            | Type::Volatile(r)
            | Type::Restrict(r)
            | Type::TypeTag(r) => self.align_of(r.target)?,
            Type::Struct(_) | Type::Union(_) => self.plan(id)?.align,
            _ => 1,
        })
    }

    /// The layout of a struct or union, computed once.
    pub fn plan(&mut self, id: TypeId) -> Result<&Plan, GenError> {
        if !self.plans.contains_key(&id) {
            let plan = match self.btf.type_by_id(id)? {
                Type::Struct(c) => layout::plan_struct(self, &c)?,
                Type::Union(c) => layout::plan_union(self, &c)?,
                other => {
                    return Err(GenError::NotAValueType {
                        id,
                        kind: other.kind(),
                    })
                }
            };
            self.plans.insert(id, plan);
        }
        Ok(&self.plans[&id])
    }

    /// Whether a type's userspace layout is plain old data: every byte belongs to a member
    /// (gaps are explicit `_pad_` arrays), every member is plain old data, and a union's
    /// members all cover the whole union (so no constructor leaves bytes uninitialized).
    pub fn is_pod(&mut self, id: TypeId) -> Result<bool, GenError> {
        let id = self.resolve_fwd(id);
        if let Some(&known) = self.pod.get(&id) {
            return Ok(known);
        }
        let answer = match self.btf.type_by_id(id)? {
            Type::Int(_) | Type::Float(_) | Type::Enum(_) | Type::Enum64(_) | Type::Fwd(_) => true,
            Type::Ptr(_) => self.flavour == Flavour::Userspace,
            Type::Array(a) => self.is_pod(a.elem_type)?,
            Type::Typedef(r)
            | Type::Const(r)
            | Type::Volatile(r)
            | Type::Restrict(r)
            | Type::TypeTag(r) => self.is_pod(r.target)?,
            Type::Struct(c) | Type::Union(c) => {
                let union = self.btf.kind(id)? == Kind::Union;
                if self.plan(id)?.opaque.is_some() {
                    true
                } else {
                    let mut all = true;
                    for m in &c.members {
                        // Bitfields live in byte-array storage.
                        if m.bitfield_size != 0 && !union {
                            continue;
                        }
                        if !self.is_pod(m.type_id)?
                            || (union
                                && (m.bitfield_size != 0 || self.size_of(m.type_id)? != c.size))
                        {
                            all = false;
                            break;
                        }
                    }
                    all
                }
            }
            _ => false,
        };
        self.pod.insert(id, answer);
        Ok(answer)
    }

    /// The Rust type expression for a BTF type.
    pub fn ty(&self, id: TypeId) -> Result<String, GenError> {
        let id = self.resolve_fwd(id);
        Ok(match self.btf.type_by_id(id)? {
            Type::Void => "::core::ffi::c_void".into(),
            Type::Int(t) => {
                let signed = t.encoding.is_signed() && !t.encoding.is_bool();
                match int_prim(t.size, signed) {
                    Some(p) => p.into(),
                    None => format!("[u8; {}]", t.size),
                }
            }
            Type::Float(t) => match t.size {
                4 => "f32".into(),
                8 => "f64".into(),
                16 => "u128".into(),
                n => format!("[u8; {n}]"),
            },
            Type::Ptr(p) => self.pointer(p.target)?,
            Type::Array(a) => format!("[{}; {}]", self.ty(a.elem_type)?, a.nelems),
            Type::Typedef(r) if self.naming.elided.contains(&id) => self.ty(r.target)?,
            Type::Const(r) | Type::Volatile(r) | Type::Restrict(r) | Type::TypeTag(r) => {
                self.ty(r.target)?
            }
            Type::FuncProto(_) => "::core::ffi::c_void".into(),
            Type::Struct(_)
            | Type::Union(_)
            | Type::Enum(_)
            | Type::Enum64(_)
            | Type::Typedef(_)
            | Type::Fwd(_) => self
                .naming
                .names
                .get(&id)
                .cloned()
                .ok_or(GenError::Unnamed { id })?,
            other => {
                return Err(GenError::NotAValueType {
                    id,
                    kind: other.kind(),
                })
            }
        })
    }

    fn pointer(&self, target: TypeId) -> Result<String, GenError> {
        if self.flavour == Flavour::Userspace {
            return Ok(match self.btf.pointer_size() {
                4 => "u32".into(),
                _ => "u64".into(),
            });
        }
        if is_function(self.btf, target)? {
            return Ok("*mut ::core::ffi::c_void".into());
        }
        let mut cur = target;
        let mut constant = false;
        loop {
            match self.btf.type_by_id(cur)? {
                Type::Const(r) => {
                    constant = true;
                    cur = r.target;
                }
                Type::Volatile(r) | Type::Restrict(r) | Type::TypeTag(r) => cur = r.target,
                _ => break,
            }
        }
        let pointee = self.ty(cur)?;
        Ok(if constant {
            format!("*const {pointee}")
        } else {
            format!("*mut {pointee}")
        })
    }
}

fn natural(size: u32) -> u32 {
    if size.is_power_of_two() {
        size
    } else {
        1
    }
}

/// The generated file.
pub(crate) fn emit(
    btf: &Btf<'_>,
    set: &TypeSet,
    naming: &Naming,
    options: Options,
) -> Result<String, GenError> {
    let mut ctx = Ctx {
        btf,
        set,
        naming,
        flavour: options.flavour,
        plans: HashMap::new(),
        pod: HashMap::new(),
    };
    let pod = options.pod && options.flavour == Flavour::Userspace;
    let mut items: Vec<(&str, TypeId)> = naming
        .names
        .iter()
        .map(|(&id, name)| (bare(name), id))
        .collect();
    items.sort_unstable();

    let mut body = String::new();
    let mut bitfields = false;
    for &(_, id) in &items {
        bitfields |= emit_type(&mut ctx, id, pod, &mut body)?;
    }

    let mut out = String::new();
    let flavour = match options.flavour {
        Flavour::Kernel => "kernel",
        Flavour::Userspace => "userspace",
    };
    let _ = writeln!(
        out,
        "// Generated by bpfkit-gen from BTF ({} types, {flavour} flavour). Do not edit.\n\
         // Sizes and offsets are checked against the BTF at compile time.",
        items.len()
    );
    if options.module_attributes {
        out.push_str(
            "#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, dead_code, \
             missing_docs, clippy::all)]\n",
        );
    }
    out.push('\n');
    out.push_str(&body);
    if bitfields {
        out.push_str(BITFIELD_HELPERS);
        if options.flavour == Flavour::Kernel {
            out.push_str(BITFIELD_MARKER);
        }
    }
    Ok(out)
}

/// Emits one nominal type; returns whether it has bitfield accessors.
fn emit_type(ctx: &mut Ctx<'_>, id: TypeId, pod: bool, out: &mut String) -> Result<bool, GenError> {
    let name = ctx.naming.names[&id].clone();
    let btf = ctx.btf;
    match btf.type_by_id(id)? {
        Type::Struct(c) | Type::Union(c) => {
            let union = btf.kind(id)? == Kind::Union;
            let what = if union { "union" } else { "struct" };
            let c_name = if c.name.is_empty() {
                format!("anonymous {what}")
            } else {
                format!("`{what} {}`", c.name)
            };
            let size = c.size;
            if ctx.flavour == Flavour::Userspace && !union {
                if let Some(inner) = interior_mutability_wrapper(btf, &c)? {
                    let inner = ctx.ty(inner)?;
                    let _ = writeln!(
                        out,
                        "/// `{}`: Rust's interior-mutability wrapper, the same bytes as its\n\
                         /// `{inner}` (what userspace reads and writes).\npub type {name} = {inner};\n",
                        c.name
                    );
                    return Ok(false);
                }
            }
            let pod = pod && ctx.is_pod(id)?;
            let kernel = ctx.flavour == Flavour::Kernel;
            let plan = ctx.plan(id)?;
            emit_composite(out, &name, &c_name, size, union, kernel, plan);
            if pod {
                emit_pod_composite(out, &name, union, plan);
            }
            Ok(!plan.accessors.is_empty())
        }
        Type::Enum(e) | Type::Enum64(e) => {
            let kernel = ctx.flavour == Flavour::Kernel;
            emit_enum(out, &name, &e, btf.kind(id)? == Kind::Enum64, kernel);
            if pod {
                let _ = writeln!(
                    out,
                    "// SAFETY: a `#[repr(transparent)]` newtype over an integer (or a byte array): \
                     no padding, every bit pattern valid.\n\
                     unsafe impl ::bpfkit::maps::Pod for {name} {{}}\n"
                );
            }
            Ok(false)
        }
        Type::Typedef(t) => {
            if is_function(btf, t.target)? {
                let _ = writeln!(
                    out,
                    "/// `typedef {}`: a function type, only used behind pointers.\n\
                     pub type {name} = ::core::ffi::c_void;\n",
                    t.name
                );
            } else {
                let target = ctx.ty(t.target)?;
                let _ = writeln!(
                    out,
                    "/// `typedef {}`.\npub type {name} = {target};\n",
                    t.name
                );
            }
            Ok(false)
        }
        Type::Fwd(f) => {
            let what = if f.is_union { "union" } else { "struct" };
            let _ = writeln!(
                out,
                "/// `{what} {}`: declared but not defined in the BTF (opaque).\n\
                 #[repr(C)]\n#[derive(Clone, Copy)]\npub struct {name} {{\n    _opaque: [u8; 0],\n}}\n",
                f.name
            );
            if pod {
                let _ = writeln!(
                    out,
                    "// SAFETY: zero-sized, no bytes to be invalid.\n\
                     unsafe impl ::bpfkit::maps::Pod for {name} {{}}\n"
                );
            }
            Ok(false)
        }
        other => Err(GenError::NotAValueType {
            id,
            kind: other.kind(),
        }),
    }
}

/// The inner type of a Rust `Cell<T>`/`UnsafeCell<T>` as it appears in a Rust object's BTF
/// (`Cell<u64>`, or `Cell_u64_` as bpfkit-link names it): one member at offset 0 of the
/// struct's size. A kernel program's shared map values use them (per-CPU counters changed
/// through `&`); userspace sees plain values.
fn interior_mutability_wrapper(
    btf: &Btf<'_>,
    c: &bpfkit_obj::btf::Composite<'_>,
) -> Result<Option<TypeId>, GenError> {
    const WRAPPERS: &[&str] = &["Cell<", "UnsafeCell<", "Cell_", "UnsafeCell_"];
    if !WRAPPERS.iter().any(|w| c.name.starts_with(w)) {
        return Ok(None);
    }
    match (c.members.len(), c.members.first()) {
        (1, Some(only))
            if only.bit_offset == 0
                && only.bitfield_size == 0
                && btf.resolve_size(only.type_id)? == u64::from(c.size) =>
        {
            Ok(Some(only.type_id))
        }
        _ => Ok(None),
    }
}

fn emit_composite(
    out: &mut String,
    name: &str,
    c_name: &str,
    size: u32,
    union: bool,
    kernel: bool,
    plan: &Plan,
) {
    let unit = if size == 1 { "byte" } else { "bytes" };
    let _ = write!(out, "/// {c_name}, {size} {unit}");
    if plan.packed {
        out.push_str(", packed");
    }
    out.push('.');
    if let Some(reason) = &plan.opaque {
        let _ = write!(out, " Opaque bytes: {reason}.");
    }
    if !plan.skipped_bitfields.is_empty() {
        let _ = write!(
            out,
            " Bitfields without accessors: {}.",
            plan.skipped_bitfields.join(", ")
        );
    }
    out.push('\n');
    out.push_str(if plan.packed {
        "#[repr(C, packed)]\n"
    } else {
        "#[repr(C)]\n"
    });
    let keyword = if union { "union" } else { "struct" };
    let _ = writeln!(out, "#[derive(Clone, Copy)]\npub {keyword} {name} {{");
    for f in &plan.fields {
        let _ = writeln!(out, "    pub {}: {},", f.name, f.ty);
        // Kernel flavour: each bitfield also gets a zero-sized member with the kernel's name
        // (after its storage, in the kernel's member order), which bpfkit-link turns into a
        // real bitfield member of the program's BTF, so CO-RE can relocate it.
        if kernel && !union {
            for a in plan.accessors.iter().filter(|a| a.storage == f.name) {
                let value = match &a.value {
                    BitValue::Int { prim, .. } => prim.to_string(),
                    BitValue::Enum { repr, signed, .. } => {
                        let unsigned = repr.trim_start_matches(['i', 'u']);
                        format!("{}{unsigned}", if *signed { 'i' } else { 'u' })
                    }
                };
                let _ = writeln!(
                    out,
                    "    pub {}: __bpfcore_bitfield<{value}, {}, {}>,",
                    a.getter,
                    f.offset * 8 + a.bit,
                    a.width
                );
            }
        }
    }
    out.push_str("}\n");

    let _ = writeln!(
        out,
        "const _: () = {{\n    assert!(::core::mem::size_of::<{name}>() == {size});"
    );
    for f in plan.fields.iter().filter(|f| f.checked) {
        let _ = writeln!(
            out,
            "    assert!(::core::mem::offset_of!({name}, {}) == {});",
            f.name, f.offset
        );
    }
    out.push_str("};\n");

    if !plan.accessors.is_empty() || !plan.flexible.is_empty() {
        let _ = writeln!(out, "impl {name} {{");
        for a in &plan.accessors {
            emit_accessor(out, union, a);
        }
        for f in &plan.flexible {
            emit_flexible(out, plan.packed, f);
        }
        out.push_str("}\n");
    }
    out.push('\n');
}

/// `Pod` for a struct or union [`Ctx::is_pod`] accepted, with the proof checked by the
/// compiler: every field type is `Pod`, and the fields fill the type (struct: their sizes
/// add up to its size; union: each is as large as the union).
fn emit_pod_composite(out: &mut String, name: &str, union: bool, plan: &Plan) {
    let _ = writeln!(
        out,
        "// SAFETY: `#[repr(C)]`, every field is `Pod` and the fields cover every byte \
         (both asserted below), so there is no padding and any bit pattern is valid.\n\
         unsafe impl ::bpfkit::maps::Pod for {name} {{}}\n\
         const _: () = {{\n    #[allow(dead_code)]\n    fn __fields_are_pod() {{\n        fn __pod<P: ::bpfkit::maps::Pod>() {{}}"
    );
    for f in &plan.fields {
        let _ = writeln!(out, "        __pod::<{}>();", f.ty);
    }
    out.push_str("    }\n");
    if union {
        for f in &plan.fields {
            let _ = writeln!(
                out,
                "    assert!(::core::mem::size_of::<{}>() == ::core::mem::size_of::<{name}>());",
                f.ty
            );
        }
    } else {
        let sum: Vec<String> = plan
            .fields
            .iter()
            .map(|f| format!("::core::mem::size_of::<{}>()", f.ty))
            .collect();
        let sum = if sum.is_empty() {
            "0".to_owned()
        } else {
            sum.join(" + ")
        };
        let _ = writeln!(
            out,
            "    assert!(::core::mem::size_of::<{name}>() == {sum});"
        );
    }
    out.push_str("};\n\n");
}

fn emit_accessor(out: &mut String, union: bool, a: &layout::Accessor) {
    let (ty, from_raw, to_raw) = match &a.value {
        BitValue::Int {
            prim,
            signed: false,
        } => (
            prim.to_string(),
            format!("__bpfkit_bf_get(bytes, {}, {}) as {prim}", a.bit, a.width),
            "value as u64".to_string(),
        ),
        BitValue::Int { prim, signed: true } => (
            prim.to_string(),
            format!(
                "__bpfkit_bf_get_signed(bytes, {}, {}) as {prim}",
                a.bit, a.width
            ),
            "value as u64".to_string(),
        ),
        BitValue::Enum { name, repr, signed } => {
            let get = if *signed {
                "__bpfkit_bf_get_signed"
            } else {
                "__bpfkit_bf_get"
            };
            (
                name.clone(),
                format!("{name}({get}(bytes, {}, {}) as {repr})", a.bit, a.width),
                "value.0 as u64".to_string(),
            )
        }
    };
    let (read, write) = if union {
        (
            format!(
                "// SAFETY: every bit pattern is a valid byte array.\n        \
                 let bytes = unsafe {{ &self.{} }};",
                a.storage
            ),
            format!(
                "// SAFETY: every bit pattern is a valid byte array.\n        \
                 let bytes = unsafe {{ &mut self.{} }};",
                a.storage
            ),
        )
    } else {
        (
            format!("let bytes = &self.{};", a.storage),
            format!("let bytes = &mut self.{};", a.storage),
        )
    };
    let getter = &a.getter;
    let plain = bare(getter);
    let _ = writeln!(
        out,
        "    /// Bitfield `{plain}`: {} bits from bit {} of `{}`.\n    \
         #[inline(always)]\n    pub fn {getter}(&self) -> {ty} {{\n        {read}\n        {from_raw}\n    }}\n    \
         /// Sets bitfield `{plain}` (the value is truncated to {} bits).\n    \
         #[inline(always)]\n    pub fn {}(&mut self, value: {ty}) {{\n        {write}\n        \
         __bpfkit_bf_set(bytes, {}, {}, {to_raw});\n    }}",
        a.width, a.bit, a.storage, a.width, a.setter, a.bit, a.width
    );
}

fn emit_flexible(out: &mut String, packed: bool, f: &layout::Flexible) {
    let read = if packed { "read_unaligned" } else { "read" };
    let plain = bare(&f.field);
    let _ = writeln!(
        out,
        "    /// Element `index` of the flexible array `{plain}` (`{plain}[index]` in C).\n    \
         ///\n    /// # Safety\n    /// The memory after this struct must hold at least `index + 1` \
         elements.\n    \
         #[inline(always)]\n    pub unsafe fn {}(&self, index: usize) -> {} {{\n        \
         // SAFETY: the caller guarantees the element exists.\n        \
         unsafe {{ ::core::ptr::addr_of!(self.{}).cast::<{}>().add(index).{read}() }}\n    }}",
        f.method, f.elem, f.field, f.elem
    );
}

fn emit_enum(out: &mut String, name: &str, e: &Enum<'_>, enum64: bool, kernel: bool) {
    let c_name = if e.name.is_empty() {
        "anonymous enum".to_string()
    } else {
        format!("`enum {}`", e.name)
    };
    let Some(repr) = int_prim(e.size, e.signed) else {
        let _ = writeln!(
            out,
            "/// {c_name}: {} bytes, no Rust integer of that size.\n#[repr(C)]\n\
             #[derive(Clone, Copy)]\npub struct {name}(pub [u8; {}]);\n",
            e.size, e.size
        );
        return;
    };
    let _ = writeln!(
        out,
        "/// {c_name} ({} bytes): a newtype, since the kernel passes values outside the list.\n\
         #[repr(transparent)]\n#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]\n\
         pub struct {name}(pub {repr});",
        e.size
    );
    if !e.values.is_empty() {
        let _ = writeln!(out, "impl {name} {{");
        for v in &e.values {
            let value = literal(v.value_signed(enum64), v.raw, e.size, e.signed, repr);
            let _ = writeln!(
                out,
                "    pub const {}: Self = Self({value});",
                ident(v.name)
            );
        }
        if kernel {
            // The enumerators in BTF order, for bpfkit-link's CO-RE enum relocations.
            let list: Vec<String> = e
                .values
                .iter()
                .map(|v| {
                    let value = if e.signed {
                        v.value_signed(enum64).to_string()
                    } else {
                        v.raw.to_string()
                    };
                    format!("{}={value}", v.name)
                })
                .collect();
            let _ = writeln!(
                out,
                "    #[doc(hidden)]\n    pub const __BPFCORE_ENUMERATORS: &'static str = \"{}\";",
                list.join(",")
            );
        }
        out.push_str("}\n");
    }
    let _ = writeln!(
        out,
        "const _: () = assert!(::core::mem::size_of::<{name}>() == {});\n",
        e.size
    );
}

/// An enumerator value as a literal of the newtype's integer.
fn literal(signed_value: i64, raw: u64, size: u32, signed: bool, repr: &str) -> String {
    let bits = size * 8;
    if signed {
        let shift = 64 - bits;
        let v = (signed_value << shift) >> shift;
        let min = if bits == 64 {
            i64::MIN
        } else {
            -(1i64 << (bits - 1))
        };
        if v == min {
            format!("{repr}::MIN")
        } else {
            v.to_string()
        }
    } else {
        let v = if bits == 64 {
            raw
        } else {
            raw & ((1u64 << bits) - 1)
        };
        v.to_string()
    }
}

const BITFIELD_HELPERS: &str = r#"/// Reads `width` (1..=64) bits from bit `bit` of little-endian storage.
#[inline(always)]
fn __bpfkit_bf_get(bytes: &[u8], bit: u32, width: u32) -> u64 {
    let first = (bit / 8) as usize;
    let last = ((bit + width - 1) / 8) as usize;
    let shift = bit % 8;
    let mut value = 0u64;
    let mut i = 0;
    while i < 8 && first + i <= last {
        let byte = match bytes.get(first + i) {
            Some(b) => *b,
            None => 0,
        };
        value |= (byte as u64) << (8 * i);
        i += 1;
    }
    value >>= shift;
    if last - first == 8 {
        let byte = match bytes.get(last) {
            Some(b) => *b,
            None => 0,
        };
        value |= (byte as u64) << (64 - shift);
    }
    if width >= 64 {
        value
    } else {
        value & ((1u64 << width) - 1)
    }
}

/// Reads a signed bitfield, sign-extending it.
#[inline(always)]
fn __bpfkit_bf_get_signed(bytes: &[u8], bit: u32, width: u32) -> i64 {
    let shift = 64 - width;
    ((__bpfkit_bf_get(bytes, bit, width) << shift) as i64) >> shift
}

/// Writes the low `width` bits of `value` at bit `bit` of little-endian storage.
#[inline(always)]
fn __bpfkit_bf_set(bytes: &mut [u8], bit: u32, width: u32, value: u64) {
    let mut done = 0u32;
    while done < width {
        let pos = bit + done;
        let in_byte = pos % 8;
        let take = if 8 - in_byte < width - done { 8 - in_byte } else { width - done };
        let mask = ((((1u16 << take) - 1) as u8) as u8) << in_byte;
        let part = (((value >> done) as u8) << in_byte) & mask;
        if let Some(b) = bytes.get_mut((pos / 8) as usize) {
            *b = (*b & !mask) | part;
        }
        done += take;
    }
}
"#;

/// The zero-sized member type standing for a kernel bitfield (kernel flavour).
const BITFIELD_MARKER: &str = "
/// A kernel bitfield of type `T`, `WIDTH` bits from bit `BIT` of the struct: zero-sized
/// here (read it with the getter of the same name, or `bpfkit_ebpf::core_read_bitfield!`);
/// bpfkit-link makes it a bitfield member of the program's BTF.
#[derive(Clone, Copy)]
pub struct __bpfcore_bitfield<T, const BIT: u32, const WIDTH: u32>(::core::marker::PhantomData<T>);
";
