//! CO-RE: relocating field offsets, type ids and enum values against a target BTF.
//!
//! [`relocate_instructions`] applies a section's `.BTF.ext` CO-RE records to its raw
//! instructions, resolving each against one or more target BTFs (vmlinux first, then module
//! split BTFs) exactly as libbpf's `relo_core.c` does: all 13 relocation kinds, `___flavor`
//! candidates, ambiguity detection, instruction validation, load/store size fix-ups and
//! poisoning of relocations that cannot be resolved. The one deliberate difference: every
//! walk of the type graph is bounded (depth and work budgets), so crafted BTF that would
//! make libbpf loop or take exponential time gives [`ReloFailure::TooDeep`] instead.
//! Big-endian instructions go through [`relocate_instructions_in`].
//!
//! The engine reads BTF only through [`TypeSource`], so any BTF — parsed from an ELF, from
//! `/sys/kernel/btf`, or built in memory with [`BtfMut`](crate::btf::BtfMut) — can be local or target.
//!
//! ```
//! use bpfkit_obj::btf::{BtfMut, IntEncoding};
//! use bpfkit_obj::relo::{relocate_instructions, CandidateCache, CoreRelo, CoreReloKind, TypeSource};
//!
//! // Local: struct s { int a; int b; };  target: struct s { long x; int a; int b; }.
//! let mut local = BtfMut::new();
//! let int = local.add_int("int", 4, IntEncoding::SIGNED);
//! let s = local.add_struct("s", 8, &[("a", int, 0), ("b", int, 32)]);
//! let mut target = BtfMut::new();
//! let tint = target.add_int("int", 4, IntEncoding::SIGNED);
//! let long = target.add_int("long", 8, IntEncoding::SIGNED);
//! target.add_struct("s", 16, &[("x", long, 0), ("a", tint, 64), ("b", tint, 96)]);
//!
//! // r1 = *(u32 *)(r2 + 4)   ; reads s.b
//! let mut insns = [0x61, 0x21, 4, 0, 0, 0, 0, 0];
//! let relo = CoreRelo { insn_off: 0, type_id: s, access: "0:1", kind: CoreReloKind::FieldByteOffset };
//! let targets: [&dyn TypeSource; 1] = [&target];
//! let applied = relocate_instructions("kprobe/x", &mut insns, &[relo], &local, &targets, &mut CandidateCache::new())?;
//! assert_eq!(insns[2], 12);
//! assert_eq!((applied[0].local_value, applied[0].target_value), (4, 12));
//! # Ok::<(), bpfkit_obj::relo::CoreError>(())
//! ```

mod btf_source;
mod calc;
mod candidates;
mod compat;
mod error;
mod patch;
mod spec;
mod types;

#[cfg(test)]
mod tests;

pub use crate::btf::CoreReloKind;
pub use crate::btf::{EnumValue, Member, Param, Record, Records, RecordsIter, Type};
pub use candidates::{Candidate, CandidateCache};
pub use error::{CoreError, ReloFailure};
pub use patch::{ByteOrder, INSN_SIZE, POISON_CALL_IMM};
pub use types::{essential_name, Kind, TypeId, TypeSource};

use calc::Resolution;
use patch::Patched;

/// One `bpf_core_relo` record of `.BTF.ext`, with its access string already looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreRelo<'a> {
    /// Byte offset of the instruction from the start of the section.
    pub insn_off: u32,
    /// Root type id in the local (object's) BTF.
    pub type_id: TypeId,
    /// Access string, e.g. `"0:1:2"`.
    pub access: &'a str,
    /// What to compute.
    pub kind: CoreReloKind,
}

impl<'a> CoreRelo<'a> {
    /// A `.BTF.ext` record with its access string looked up in the object's `.BTF`.
    pub fn from_ext(
        record: &crate::btf::CoreRelo,
        btf: &'a crate::btf::Btf<'_>,
    ) -> Result<Self, crate::btf::BtfError> {
        Ok(CoreRelo {
            insn_off: record.insn_off,
            type_id: record.type_id,
            access: btf.string_at(record.access_str_off)?,
            kind: record.kind,
        })
    }
}

/// What happened to the instruction of one relocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloOutcome {
    /// The target value was written (it may equal the local one).
    Patched {
        /// For loads/stores whose field changed size: `(old, new)` memory size in bytes.
        mem_size: Option<(u32, u32)>,
    },
    /// The instruction became `call 0xbad2310` because the field or enumerator is missing
    /// from every target; the verifier rejects the program only if it is reachable.
    Poisoned,
    /// Poisoned because the load/store would have to change size for a field whose type
    /// makes that unsafe (signed ints, structs).
    PoisonedMemSize,
}

/// A relocation as applied, for logs and `bpfkit inspect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedRelo {
    /// Instruction index in the section.
    pub insn_index: usize,
    /// Relocation kind.
    pub kind: CoreReloKind,
    /// Local root type id.
    pub local_type_id: TypeId,
    /// Local root type name.
    pub local_type_name: String,
    /// Access string.
    pub access: String,
    /// Value the local BTF gives (what the compiler put in the instruction).
    pub local_value: u64,
    /// Value the target gives (what is in the instruction now, unless poisoned).
    pub target_value: u64,
    /// The first matching candidate, `None` when nothing matched (or for TYPE_ID_LOCAL).
    pub target: Option<Candidate>,
    /// What happened to the instruction.
    pub outcome: ReloOutcome,
}

impl std::fmt::Display for AppliedRelo {
    /// One line in the spirit of libbpf's debug log, e.g.
    /// `insn #3: <byte_off> [4] "task" 0:1 -> [5]: 8 -> 16`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "insn #{}: <{}> [{}] {:?} {}",
            self.insn_index, self.kind, self.local_type_id, self.local_type_name, self.access
        )?;
        match self.target {
            Some(c) if c.target == 0 => write!(f, " -> [{}]", c.type_id)?,
            Some(c) => write!(f, " -> target #{} [{}]", c.target, c.type_id)?,
            None => f.write_str(" -> no target")?,
        }
        match self.outcome {
            ReloOutcome::Patched { mem_size: None } => {
                write!(f, ": {} -> {}", self.local_value, self.target_value)
            }
            ReloOutcome::Patched {
                mem_size: Some((old, new)),
            } => write!(
                f,
                ": {} -> {}, load/store size {old} -> {new}",
                self.local_value, self.target_value
            ),
            ReloOutcome::Poisoned => f.write_str(": poisoned"),
            ReloOutcome::PoisonedMemSize => {
                f.write_str(": poisoned (unsafe load/store size change)")
            }
        }
    }
}

/// Applies CO-RE relocations to one section's instructions (`insns`: raw little-endian
/// `struct bpf_insn`s, as in the ELF section).
///
/// `targets[0]` is the main target (vmlinux or a custom BTF); the others (module split BTFs)
/// are searched only for types the main target lacks, as libbpf does. `cache` should be
/// shared by all sections of the same object. Returns one [`AppliedRelo`] per record, in
/// order. On error the instructions may be partly patched; the error names the section,
/// the record, the instruction, the type and the access string.
pub fn relocate_instructions(
    section: &str,
    insns: &mut [u8],
    relos: &[CoreRelo<'_>],
    local: &dyn TypeSource,
    targets: &[&dyn TypeSource],
    cache: &mut CandidateCache,
) -> Result<Vec<AppliedRelo>, CoreError> {
    relocate_instructions_in(
        ByteOrder::LittleEndian,
        section,
        insns,
        relos,
        local,
        targets,
        cache,
    )
}

/// [`relocate_instructions`] for instructions in the given byte order: big-endian objects
/// for big-endian kernels (bitfield shifts differ there too, as in libbpf on such hosts).
pub fn relocate_instructions_in(
    order: ByteOrder,
    section: &str,
    insns: &mut [u8],
    relos: &[CoreRelo<'_>],
    local: &dyn TypeSource,
    targets: &[&dyn TypeSource],
    cache: &mut CandidateCache,
) -> Result<Vec<AppliedRelo>, CoreError> {
    let mut applied = Vec::with_capacity(relos.len());
    for (relo_index, relo) in relos.iter().enumerate() {
        let insn_index = (relo.insn_off / 8) as usize;
        let name = local
            .type_by_id(relo.type_id)
            .map(|t| t.name().to_string())
            .unwrap_or_default();
        let fail = |reason: ReloFailure| CoreError {
            section: section.into(),
            relo_index,
            insn_index,
            kind: relo.kind,
            type_id: relo.type_id,
            type_name: name.as_str().into(),
            access: relo.access.into(),
            reason,
        };
        let kind = relo.kind;
        if relo.insn_off % 8 != 0 {
            return Err(fail(ReloFailure::MisalignedInsnOffset {
                insn_off: relo.insn_off,
            }));
        }
        let insn_count = insns.len() / patch::INSN_SIZE;
        if insn_index >= insn_count {
            return Err(fail(ReloFailure::InsnOutOfRange {
                insn_index,
                insn_count,
            }));
        }
        let (res, target) = resolve(order, relo, kind, local, targets, cache).map_err(fail)?;
        let outcome = match patch::patch_insn(order, insns, insn_index, &res).map_err(fail)? {
            Patched::Value { resized } => ReloOutcome::Patched { mem_size: resized },
            Patched::Poisoned { memsz: false } => ReloOutcome::Poisoned,
            Patched::Poisoned { memsz: true } => ReloOutcome::PoisonedMemSize,
        };
        applied.push(AppliedRelo {
            insn_index,
            kind,
            local_type_id: relo.type_id,
            local_type_name: name,
            access: relo.access.to_string(),
            local_value: res.orig_val,
            target_value: res.new_val,
            target,
            outcome,
        });
    }
    Ok(applied)
}

fn describe(res: &Resolution) -> Option<u64> {
    (!res.poison).then_some(res.new_val)
}

/// `bpf_core_resolve_relo` + `bpf_core_calc_relo_insn`: the values of one relocation.
fn resolve(
    order: ByteOrder,
    relo: &CoreRelo<'_>,
    kind: CoreReloKind,
    local: &dyn TypeSource,
    targets: &[&dyn TypeSource],
    cache: &mut CandidateCache,
) -> Result<(Resolution, Option<Candidate>), ReloFailure> {
    let local_type = local
        .type_by_id(relo.type_id)
        .ok_or(ReloFailure::InvalidTypeId {
            which: "local",
            type_id: relo.type_id,
        })?;
    let local_spec = spec::parse_spec(local, kind, relo.type_id, relo.access)?;

    if kind == CoreReloKind::TypeIdLocal {
        // The id may change during static linking: never validated.
        let id = u64::from(relo.type_id);
        let res = Resolution {
            orig_val: id,
            new_val: id,
            poison: false,
            validate: false,
            fail_memsz_adjust: false,
            orig_size: 0,
            new_size: 0,
        };
        return Ok((res, None));
    }
    if local_type.name().is_empty() {
        return Err(ReloFailure::AnonymousType);
    }

    let cands = cache.candidates(targets, relo.type_id, local_type.name(), local_type.kind());
    let mut kept: Vec<Candidate> = Vec::with_capacity(cands.len());
    let mut chosen: Option<(Resolution, u32, Candidate)> = None;
    for &cand in cands.iter() {
        let targ = targets[cand.target];
        let Some(cand_spec) = spec::match_spec(local, &local_spec, kind, targ, cand.type_id)?
        else {
            continue;
        };
        let cand_res = calc::resolve(order, kind, local, &local_spec, Some((targ, &cand_spec)))?;
        match &chosen {
            None => chosen = Some((cand_res, cand_spec.bit_offset, cand)),
            Some((first, first_offset, first_cand)) => {
                if cand_spec.bit_offset != *first_offset {
                    return Err(ReloFailure::FieldOffsetAmbiguity {
                        first_id: first_cand.type_id,
                        first: *first_offset,
                        other_id: cand.type_id,
                        other: cand_spec.bit_offset,
                    });
                }
                if cand_res.poison != first.poison || cand_res.new_val != first.new_val {
                    return Err(ReloFailure::DecisionAmbiguity {
                        first_id: first_cand.type_id,
                        first: describe(first),
                        other_id: cand.type_id,
                        other: describe(&cand_res),
                    });
                }
            }
        }
        kept.push(cand);
    }
    match chosen {
        Some((res, _, cand)) => {
            // Later relocations of this type only consider the candidates that matched.
            *cands = kept;
            Ok((res, Some(cand)))
        }
        None => Ok((
            calc::resolve::<dyn TypeSource, dyn TypeSource>(order, kind, local, &local_spec, None)?,
            None,
        )),
    }
}
