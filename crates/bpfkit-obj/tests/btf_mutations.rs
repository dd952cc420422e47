//! Bit-flipped and truncated BTF through the whole BTF pipeline (decode, lookups, sizes,
//! DATASEC fix-up, sanitizer, writer): every outcome is a value or an error, never a panic.

mod btf_support;

use bpfkit_obj::btf::{
    finalize_extern_datasecs, fixup_datasecs, sanitize, Btf, BtfExt, BtfFeatures, BtfMut,
    DatasecLayout, VarSymbol,
};
use btf_support::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Answers every question, so the fix-up runs as far as the BTF lets it.
struct AnyLayout;

impl DatasecLayout for AnyLayout {
    fn section_size(&self, _: &str) -> Option<u32> {
        Some(64)
    }
    fn variable(&self, _: &str, var: &str) -> Option<VarSymbol> {
        Some(VarSymbol {
            offset: var.len() as u32 * 8,
            hidden: var.len() % 2 == 0,
        })
    }
}

/// Run everything on `data`; Ok(number of types) or the first error as text.
fn exercise(data: &[u8]) -> Result<usize, String> {
    let btf = Btf::parse(data).map_err(|e| e.to_string())?;
    for id in 0..btf.type_count() + 2 {
        let _ = btf.type_by_id(id);
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
        if let Ok(name) = btf.name(id) {
            if id % 5 == 0 {
                let _ = btf.ids_by_name(name);
            }
        }
    }
    let _ = btf.pointer_size();
    let mut m = BtfMut::from_btf(&btf).map_err(|e| e.to_string())?;
    let _ = finalize_extern_datasecs(&mut m, |name| Some(name.len() as u32));
    let _ = fixup_datasecs(&mut m, &AnyLayout);
    let mut sanitized = m.clone();
    sanitize(&mut sanitized, &BtfFeatures::NONE).map_err(|e| e.to_string())?;
    for out in [m.to_bytes(), sanitized.to_bytes()] {
        let bytes = out.map_err(|e| e.to_string())?;
        let again = Btf::parse(&bytes).map_err(|e| e.to_string())?;
        for t in again.types() {
            let _ = t;
        }
    }
    Ok(btf.local_ids().len())
}

fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = data.to_vec();
    match rng.below(4) {
        0 => d.truncate(rng.below(d.len().max(1))),
        1 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            // A random 32-bit field of the type section gets an extreme value.
            let i = (24 + rng.below(d.len().saturating_sub(28).max(1))) & !3;
            let v = [0u32, 1, 0xffff, 0x7fff_ffff, u32::MAX][rng.below(5)];
            if i + 4 <= d.len() {
                d[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        _ => {
            let i = rng.below(d.len());
            d[i] = rng.next() as u8;
        }
    }
    d
}

#[test]
fn mutated_btf_never_panics_through_the_pipeline() {
    let fixture = build_fixture("kinds.bpf.c");
    let externs = build_fixture("externs.bpf.c");
    let mut inputs = vec![
        elf_section(&fixture, ".BTF").unwrap(),
        elf_section(&externs, ".BTF").unwrap(),
    ];
    inputs.extend(corpus_btf().into_iter().step_by(9).map(|(_, b)| b));
    let mut rng = Rng(0x5eed_b7f0_0000_0001);
    let (mut ok, mut err) = (0, 0);
    for input in &inputs {
        assert!(exercise(input).is_ok(), "unmutated input works");
        for _ in 0..400 {
            match exercise(&mutate(input, &mut rng)) {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(!e.is_empty());
                    err += 1;
                }
            }
        }
    }
    // Both outcomes happen: flips in names or sizes parse, flips in kinds/lengths do not.
    assert!(ok > 100 && err > 100, "ok {ok}, err {err}");
}

#[test]
fn mutated_btf_ext_never_panics_and_round_trips_when_it_parses() {
    let fixture = build_fixture("kinds.bpf.c");
    let ext = elf_section(&fixture, ".BTF.ext").unwrap();
    let mut rng = Rng(0xe57_0000_0000_0002);
    let mut parsed = 0;
    for _ in 0..3000 {
        let m = mutate(&ext, &mut rng);
        if let Ok(e) = BtfExt::parse(&m) {
            parsed += 1;
            let written = e.to_bytes().unwrap();
            assert_eq!(BtfExt::parse(&written).unwrap(), e);
        }
    }
    assert!(parsed > 100, "{parsed}");
}
