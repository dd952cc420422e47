//! bpfkit-gen on clang's BTF for `testdata/c/gen_types.bpf.c`: the generated Rust compiles
//! with every size and offset asserted, names follow the documented rules, and bitfield
//! accessors read and write the same bytes clang produced for known values.

mod common;

use bpfkit_gen::{Flavour, Generator};
use object::{Object, ObjectSection, ObjectSymbol};

struct Fixture {
    btf: Vec<u8>,
    elf: Vec<u8>,
}

impl Fixture {
    fn load() -> Self {
        let path = bpfkit_test_support::fixture("gen_types");
        let elf = std::fs::read(&path).expect("read fixture object");
        let file = object::File::parse(&*elf).expect("parse fixture ELF");
        let btf = file
            .section_by_name(".BTF")
            .expect("fixture has .BTF")
            .data()
            .expect(".BTF data")
            .to_vec();
        Fixture { btf, elf }
    }

    /// The initial bytes clang gave global `name`.
    fn global(&self, name: &str) -> Vec<u8> {
        let file = object::File::parse(&*self.elf).expect("parse fixture ELF");
        let sym = file
            .symbols()
            .find(|s| s.name() == Ok(name))
            .unwrap_or_else(|| panic!("no symbol {name}"));
        let section = file
            .section_by_index(sym.section_index().expect("symbol in a section"))
            .expect("section");
        let data = section.data().expect("section data");
        let start = sym.address() as usize;
        data[start..start + sym.size() as usize].to_vec()
    }

    fn generate(&self, flavour: Flavour) -> String {
        Generator::new(self.btf.clone())
            .flavour(flavour)
            .all_types()
            .generate()
            .expect("generate")
    }
}

#[test]
fn both_flavours_compile_with_sizes_and_offsets_asserted() {
    let fixture = Fixture::load();
    for flavour in [Flavour::Kernel, Flavour::Userspace] {
        let source = fixture.generate(flavour);
        let asserts = source.matches("assert!(::core::mem::").count();
        assert!(asserts > 60, "{flavour:?}: only {asserts} assertions");
        if let Err(e) = common::check_lib(&source, &[]) {
            panic!("{flavour:?} output does not compile:\n{e}\n---\n{source}");
        }
    }
}

#[test]
fn a_wrong_size_is_a_compile_error() {
    let fixture = Fixture::load();
    let source = fixture.generate(Flavour::Kernel);
    let tampered = source.replace(
        "size_of::<packed_rec>() == 15",
        "size_of::<packed_rec>() == 16",
    );
    assert_ne!(tampered, source, "packed_rec is 15 bytes in the BTF");
    let err = common::check_lib(&tampered, &[]).expect_err("a wrong size must not compile");
    assert!(err.contains("size_of::<packed_rec>() == 16"), "{err}");
}

#[test]
fn names_layouts_and_kinds_follow_the_rules() {
    let source = Fixture::load().generate(Flavour::Kernel);
    let expect = [
        // Rust keywords: raw identifiers, or a suffix where raw is not allowed.
        "pub r#type: i32,",
        "pub r#match: i32,",
        "pub r#fn: i32,",
        "pub self_: i32,",
        "pub Self_: i32,",
        "pub __: i32,",
        // Packed layout: explicit packed repr.
        "#[repr(C, packed)]\n#[derive(Clone, Copy)]\npub struct packed_rec {",
        // Over-aligned member: explicit padding up to the BTF offset.
        "pub _pad_1: [u8; 15],\n    pub r: aligned_rec,",
        // 64-bit and signed enums: newtypes with every value, duplicates kept.
        "pub struct wide64(pub u64);",
        "pub const W_HIGH: Self = Self(18364758544493064720);",
        "pub struct small_signed(pub i32);",
        "pub const S_NEG: Self = Self(-2);",
        "pub const D_A: Self = Self(1);\n    pub const D_B: Self = Self(1);",
        // `typedef struct clash clash` is the struct; `typedef int clash2` is renamed.
        "pub c1: clash,",
        "pub type clash2___1 = i32;",
        "pub c2: clash2___1,",
        "pub c3: clash2,",
        // Flexible array, function pointers, const pointers.
        "pub data: [u64; 0],",
        "pub cb: *mut ::core::ffi::c_void,",
        "pub name: *const i8,",
        // Anonymous members and types.
        "pub __anon_1: __anon_with_anon_1,",
        "pub union __anon_with_anon_1 {",
        "pub __anon_1: __anon_with_anon_1_1,",
        "pub inner: __anon_with_anon_2,",
        "pub struct anon_typedef_t {",
        // Bitfields: storage plus accessors.
        "pub _bitfield_0: [u8; 7],",
        "pub fn set_neg(&mut self, value: i64)",
        "pub fn e(&self) -> small_signed",
        // Flexible arrays: an element accessor.
        "pub unsafe fn data_at(&self, index: usize) -> u64",
    ];
    for needle in expect {
        assert!(source.contains(needle), "missing {needle:?} in:\n{source}");
    }
    assert!(
        !source.contains("pub type clash ="),
        "typedef clash must be elided"
    );

    let user = Fixture::load().generate(Flavour::Userspace);
    assert!(user.contains("pub cb: u64,") && user.contains("pub name: u64,"));
}

#[test]
fn big_endian_btf_keeps_layouts_without_bitfield_accessors() {
    let path = bpfkit_test_support::fixture_big_endian("gen_types");
    let source = Generator::new(std::fs::read(path).expect("read bpfeb fixture"))
        .all_types()
        .generate()
        .expect("generate from big-endian BTF");
    assert!(source.contains("pub _bitfield_0: [u8; 7],"), "{source}");
    assert!(
        !source.contains("pub fn set_neg"),
        "no accessors for big-endian bitfields"
    );
    assert!(source.contains("Bitfields without accessors: a, b, c, e, flag, neg."));
    // Sizes and offsets do not depend on the byte order: the same asserts hold on the host.
    if let Err(e) = common::check_lib(&source, &[]) {
        panic!("big-endian output does not compile:\n{e}");
    }
}

#[test]
fn output_is_deterministic() {
    let fixture = Fixture::load();
    let a = fixture.generate(Flavour::Kernel);
    let b = fixture.generate(Flavour::Kernel);
    assert_eq!(a, b);
}

#[test]
fn bitfield_accessors_match_clang_bytes() {
    let fixture = Fixture::load();
    let source = fixture.generate(Flavour::Kernel);
    let bits = fixture.global("bits_val");
    let span = fixture.global("span_val");
    let bu = fixture.global("bu_val");
    assert_eq!((bits.len(), span.len(), bu.len()), (16, 9, 4));
    let main = format!(
        r#"#![allow(dead_code)]
mod gen;
use gen::*;
const BITS: [u8; 16] = {bits:?};
const SPAN: [u8; 9] = {span:?};
const BU: [u8; 4] = {bu:?};
fn main() {{
    // SAFETY: plain-data types of exactly these sizes (asserted in gen).
    let b: bits = unsafe {{ core::mem::transmute(BITS) }};
    println!("{{}} {{}} {{:#x}} {{}} {{}} {{:#x}} {{}}", b.a(), b.b(), b.c(), b.e().0, b.flag(), {{ b.after }}, b.neg());
    // SAFETY: as above.
    let s: span9 = unsafe {{ core::mem::transmute(SPAN) }};
    println!("{{:#x}} {{:#x}} {{:#x}}", s.lo(), s.x(), s.hi());
    // SAFETY: as above.
    let u: bits_union = unsafe {{ core::mem::transmute(BU) }};
    println!("{{}} {{}} {{}}", unsafe {{ u.word }}, u.low(), u.sgn());

    // SAFETY: all-zero bytes are valid for these types.
    let mut z: bits = unsafe {{ core::mem::zeroed() }};
    z.set_a(5); z.set_b(-3); z.set_c(0xab12345678); z.set_e(small_signed::S_NEG);
    z.set_flag(1); z.after = 0xbeef; z.set_neg(-4000000000);
    // SAFETY: same size.
    println!("{{}}", unsafe {{ core::mem::transmute::<bits, [u8; 16]>(z) }} == BITS);
    // SAFETY: as above.
    let mut z: span9 = unsafe {{ core::mem::zeroed() }};
    z.set_lo(0xa); z.set_x(0xfedcba9876543210); z.set_hi(5);
    // SAFETY: same size.
    println!("{{}}", unsafe {{ core::mem::transmute::<span9, [u8; 9]>(z) }} == SPAN);
    // SAFETY: as above.
    let mut z: bits_union = unsafe {{ core::mem::zeroed() }};
    z.set_sgn(-1000);
    // SAFETY: same size.
    println!("{{}}", unsafe {{ core::mem::transmute::<bits_union, [u8; 4]>(z) }} == BU);

    #[repr(C)]
    struct WithData {{ head: flex, data: [u64; 2] }}
    // SAFETY: all-zero bytes are valid for `flex`.
    let buf = WithData {{ head: unsafe {{ core::mem::zeroed() }}, data: [11, 22] }};
    // SAFETY: two elements follow the header.
    println!("{{}} {{}}", unsafe {{ buf.head.data_at(0) }}, unsafe {{ buf.head.data_at(1) }});
}}
"#
    );
    let out = common::run_bin(&source, &main).unwrap_or_else(|e| panic!("{e}"));
    let expected_word = (-1000i32 as u32) & 0xfff;
    let expected = format!(
        "5 -3 0xab12345678 -2 1 0xbeef -4000000000\n\
         0xa 0xfedcba9876543210 0x5\n\
         {expected_word} {} -1000\n\
         true\ntrue\ntrue\n11 22\n",
        expected_word & 0x7f
    );
    assert_eq!(out, expected);
}
