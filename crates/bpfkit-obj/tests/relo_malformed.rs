//! Bad input never panics the CO-RE engine: bit-flipped BTF (local and target), random
//! records and corrupted instructions give errors or poisoned code, never a panic or hang.

mod relo_support;

use bpfkit_obj::btf::{Btf, BtfExt, CoreReloKind};
use bpfkit_obj::relo::{relocate_instructions, CandidateCache, CoreRelo, TypeSource};
use bpfkit_test_support::{corpus_dir, XorShift64Star};
use object::{Object, ObjectSection};

struct Sample {
    btf: Vec<u8>,
    ext: Vec<u8>,
    code: Vec<(String, Vec<u8>)>,
}

fn sample(path: &std::path::Path) -> Sample {
    let elf = std::fs::read(path).unwrap();
    let file = object::File::parse(&*elf).unwrap();
    let data = |name: &str| file.section_by_name(name).unwrap().data().unwrap().to_vec();
    let code = file
        .sections()
        .filter(|s| s.kind() == object::SectionKind::Text)
        .map(|s| (s.name().unwrap().to_string(), s.data().unwrap().to_vec()))
        .collect();
    Sample {
        btf: data(".BTF"),
        ext: data(".BTF.ext"),
        code,
    }
}

const ACCESS: &[&str] = &[
    "0",
    "0:0",
    "1:2:3",
    "",
    ":",
    "0::1",
    "x",
    "0:4294967295",
    "2147483647",
    "0:1:0:1:0:1:0:1",
];

/// Returns how many sections relocated `(Ok, Err)`.
fn run_one(rng: &mut XorShift64Star, s: &Sample, mode: usize) -> (usize, usize) {
    let mut counts = (0, 0);
    let mut btf_bytes = s.btf.clone();
    let mut target_bytes = s.btf.clone();
    match mode {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(btf_bytes.len());
                btf_bytes[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(target_bytes.len());
                target_bytes[i] ^= 1 << rng.below(8);
            }
        }
        _ => {}
    }
    let (Ok(local), Ok(target)) = (Btf::parse(&btf_bytes), Btf::parse(&target_bytes)) else {
        return counts;
    };
    let Ok(ext) = BtfExt::parse(&s.ext) else {
        return counts;
    };
    let targets: [&dyn TypeSource; 1] = [&target];
    let mut cache = CandidateCache::new();
    for sec in &ext.core_relo.sections {
        let Ok(name) = sec.name(&local) else { continue };
        let Some((_, code)) = s.code.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let mut code = code.clone();
        let mut relos: Vec<CoreRelo<'_>> = sec
            .records
            .iter()
            .filter_map(|r| CoreRelo::from_ext(r, &local).ok())
            .collect();
        match mode {
            2 if !relos.is_empty() => {
                for _ in 0..1 + rng.below(3) {
                    let k = rng.below(relos.len());
                    let r = &mut relos[k];
                    match rng.below(4) {
                        0 => r.type_id = rng.next_u64() as u32 % (local.type_count() + 3),
                        1 => r.access = ACCESS[rng.below(ACCESS.len())],
                        2 => r.kind = CoreReloKind::ALL[rng.below(13)],
                        _ => r.insn_off = (rng.next_u64() as u32) % (code.len() as u32 + 64),
                    }
                }
            }
            3 if !code.is_empty() => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(code.len());
                    code[i] = rng.next_u64() as u8;
                }
            }
            _ => {}
        }
        match relocate_instructions(name, &mut code, &relos, &local, &targets, &mut cache) {
            Ok(_) => counts.0 += 1,
            Err(e) => {
                // Errors name the section and the record.
                assert!(e.to_string().contains(name), "{e}");
                counts.1 += 1;
            }
        }
    }
    counts
}

#[test]
fn mutated_btf_records_and_code_never_panic() {
    let dir = corpus_dir();
    let samples: Vec<Sample> = [
        "cilium/btf/testdata/relocs-el.elf",
        "cilium/btf/testdata/relocs_read-el.elf",
        "libbpf-tools/biosnoop.bpf.o",
        "libbpf-tools/tcpconnect.bpf.o",
    ]
    .iter()
    .map(|p| sample(&dir.join(p)))
    .collect();
    let mut rng = XorShift64Star(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0, 0);
    for round in 0..1500 {
        let s = &samples[round % samples.len()];
        let (o, e) = run_one(&mut rng, s, round % 4);
        ok += o;
        err += e;
    }
    eprintln!("{ok} sections relocated, {err} refused");
    assert!(
        ok > 100 && err > 100,
        "mutations exercised too little: {ok} ok, {err} errors"
    );
}
