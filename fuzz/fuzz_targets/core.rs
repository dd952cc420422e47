//! CO-RE: relocate fuzzed instructions with fuzzed CO-RE records against a fuzzed local and
//! a fuzzed target BTF.
//!
//! Input layout (little-endian): `local_len: u32`, `target_len: u32`, the local BTF, the
//! target BTF, `count: u16`, `count` records of `bpf_core_relo` (`insn_off`, `type_id`,
//! `access_str_off` into the local BTF's strings, `kind`; 4 bytes each), then the
//! instructions. `make-seeds.sh` builds inputs from the corpus's CO-RE objects.
#![no_main]

use bpfkit_obj::btf::Btf;
use bpfkit_obj::relo::{relocate_instructions, CandidateCache, CoreRelo, CoreReloKind, TypeSource};
use libfuzzer_sys::fuzz_target;

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fuzz_target!(|data: &[u8]| {
    let (Some(local_len), Some(target_len)) = (u32_at(data, 0), u32_at(data, 4)) else {
        return;
    };
    let rest = &data[8..];
    let (local_len, target_len) = (local_len as usize, target_len as usize);
    let Some(local_bytes) = rest.get(..local_len) else {
        return;
    };
    let Some(target_bytes) = rest.get(local_len..local_len.saturating_add(target_len)) else {
        return;
    };
    let rest = &rest[local_len + target_len..];
    let (Ok(local), Ok(target)) = (Btf::parse(local_bytes), Btf::parse(target_bytes)) else {
        return;
    };
    let Some(count) = rest
        .get(..2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    else {
        return;
    };
    let count = count.min(64);
    let mut relos = Vec::with_capacity(count);
    let mut at = 2;
    for _ in 0..count {
        let (Some(insn_off), Some(type_id), Some(access), Some(kind)) = (
            u32_at(rest, at),
            u32_at(rest, at + 4),
            u32_at(rest, at + 8),
            u32_at(rest, at + 12),
        ) else {
            break;
        };
        at += 16;
        // .BTF.ext parsing refuses unknown kinds; fold the fuzzed value onto the known ones.
        let Some(kind) = CoreReloKind::from_u32(kind % 16) else {
            continue;
        };
        let access = local.string_at(access).unwrap_or("0");
        relos.push(CoreRelo {
            insn_off,
            type_id,
            access,
            kind,
        });
    }
    let mut insns = rest.get(at..).unwrap_or(&[]).to_vec();
    let targets: [&dyn TypeSource; 1] = [&target];
    let _ = relocate_instructions(
        "fuzz",
        &mut insns,
        &relos,
        &local,
        &targets,
        &mut CandidateCache::new(),
    );
});
