//! Candidate search: target types whose essential name and kind match a local type, cached.
//!
//! The names an object relocates can be found up front with one cheap scan of the kernel
//! BTF's types ([`CandidateCache::prefetch`]); any other name is looked up through an index
//! from essential name to type ids, built in one pass the first time it is needed, so a
//! kernel BTF's types are never scanned once per local type. Per local type id the cache keeps libbpf's candidate
//! list, which later relocations of that type narrow down (a candidate that failed to match
//! one access is not offered to the next), exactly as libbpf's `cand_cache` behaves.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::types::CoreKind;
use super::types::{essential_name, Kind, TypeId, TypeSource};

/// A target type a local type may relocate to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// Index of the target BTF in the `targets` slice (0 = vmlinux).
    pub target: usize,
    /// Type id in that BTF.
    pub type_id: TypeId,
}

/// Essential-name index of one target: hash of the essential name → ids in id order.
#[derive(Debug, Default)]
struct NameIndex {
    by_hash: HashMap<u64, Vec<TypeId>>,
}

fn name_hash(name: &str) -> u64 {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

impl NameIndex {
    fn build(target: &dyn TypeSource) -> Self {
        let mut by_hash: HashMap<u64, Vec<TypeId>> = HashMap::new();
        for id in target.first_type_id()..target.type_count() {
            let Some((name, _)) = target.name_and_kind(id) else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            by_hash
                .entry(name_hash(essential_name(name)))
                .or_default()
                .push(id);
        }
        NameIndex { by_hash }
    }
}

/// How a target's candidates are found.
#[derive(Debug)]
enum TargetIndex {
    /// The target has a name index: exact-name lookups of the essential name and of each
    /// flavored name with that essential part (essential name → flavored names).
    ByName(HashMap<String, Vec<String>>),
    /// Built here by scanning every type's name once.
    Scanned(NameIndex),
}

impl TargetIndex {
    fn build(target: &dyn TypeSource) -> Self {
        if let Some(flavored) = target.flavored_names() {
            let mut by_essential: HashMap<String, Vec<String>> = HashMap::new();
            for name in flavored {
                let list = by_essential
                    .entry(essential_name(name).to_string())
                    .or_default();
                if !list.iter().any(|n| n == name) {
                    list.push(name.to_string());
                }
            }
            return TargetIndex::ByName(by_essential);
        }
        TargetIndex::Scanned(NameIndex::build(target))
    }

    /// Ids whose essential name may be `essential`, ascending, within the target's own ids.
    fn ids(&self, target: &dyn TypeSource, essential: &str) -> Vec<TypeId> {
        let own = target.first_type_id()..target.type_count();
        match self {
            TargetIndex::Scanned(index) => index
                .by_hash
                .get(&name_hash(essential))
                .cloned()
                .unwrap_or_default(),
            TargetIndex::ByName(flavors) => {
                let mut ids = target.ids_by_name(essential).unwrap_or_default();
                for name in flavors.get(essential).into_iter().flatten() {
                    ids.extend(target.ids_by_name(name).unwrap_or_default());
                }
                ids.retain(|id| own.contains(id));
                ids.sort_unstable();
                ids.dedup();
                ids
            }
        }
    }
}

/// Caches candidate lists across relocations, programs and sections of one object.
///
/// A cache belongs to one local BTF and one list of targets; when it is used with another
/// number of targets or a first target (vmlinux) of another extent it starts over, but
/// reusing it with a different *local* BTF or other module targets is a caller error that
/// gives wrong candidates. Targets after the first are only touched by a search that found
/// nothing in the first, so they may load lazily.
///
/// ```
/// use bpfkit_obj::relo::CandidateCache;
/// let mut cache = CandidateCache::new();
/// assert_eq!(cache.indexed_targets(), 0);
/// # let _ = &mut cache;
/// ```
#[derive(Debug, Default)]
pub struct CandidateCache {
    shape: Vec<(u32, u32)>,
    indexes: Vec<Option<TargetIndex>>,
    /// Per target, ids by essential name found by [`CandidateCache::prefetch`]'s scan.
    prefetched: Vec<HashMap<String, Vec<TypeId>>>,
    per_local: HashMap<TypeId, Vec<Candidate>>,
}

impl CandidateCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many target BTFs have had their name index built.
    pub fn indexed_targets(&self) -> usize {
        self.indexes.iter().filter(|i| i.is_some()).count()
    }

    fn reset_if_targets_changed(&mut self, targets: &[&dyn TypeSource]) {
        // Only the first target's extent and the number of targets: the others (module
        // BTFs) may be read lazily, on the first search that reaches them.
        let mut shape = vec![(targets.len() as u32, 0)];
        shape.extend(targets.first().map(|t| (t.first_type_id(), t.type_count())));
        if shape != self.shape {
            self.shape = shape;
            self.indexes = targets.iter().map(|_| None).collect();
            self.prefetched = targets.iter().map(|_| HashMap::new()).collect();
            self.per_local.clear();
        }
    }

    fn search(
        &mut self,
        targets: &[&dyn TypeSource],
        t: usize,
        name: &str,
        kind: Kind,
        out: &mut Vec<Candidate>,
    ) {
        let target = targets[t];
        let ids = match self.prefetched.get(t).and_then(|p| p.get(name)) {
            Some(ids) => ids.clone(),
            None => self.indexes[t]
                .get_or_insert_with(|| TargetIndex::build(target))
                .ids(target, name),
        };
        for id in ids {
            let Some((targ_name, targ_kind)) = target.name_and_kind(id) else {
                continue;
            };
            if targ_kind.core_compat(kind) && essential_name(targ_name) == name {
                out.push(Candidate {
                    target: t,
                    type_id: id,
                });
            }
        }
    }

    /// Find the candidates of every essential name in `names` in the first target (vmlinux)
    /// with one scan of its types, where the target offers one
    /// ([`TypeSource::ids_with_essential_names`]), so an object that relocates a few types
    /// never pays for indexing every name of the kernel's BTF. Names not prefetched are
    /// looked up through the index later; results are the same either way.
    pub fn prefetch(&mut self, targets: &[&dyn TypeSource], names: &[&str]) {
        self.reset_if_targets_changed(targets);
        let (Some(target), Some(known)) = (targets.first(), self.prefetched.first_mut()) else {
            return;
        };
        if self.indexes.first().is_some_and(Option::is_some) {
            return;
        }
        let mut wanted: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !n.is_empty() && !known.contains_key(*n))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return;
        }
        if let Some(found) = target.ids_with_essential_names(&wanted) {
            for (name, ids) in wanted.into_iter().zip(found) {
                known.insert(name.to_string(), ids);
            }
        }
    }

    /// `bpf_core_find_cands`: candidates for local type `local_id` (named `name`, of kind
    /// `kind`): in `targets[0]` first, and only when it has none, in the other targets.
    pub(crate) fn candidates(
        &mut self,
        targets: &[&dyn TypeSource],
        local_id: TypeId,
        name: &str,
        kind: Kind,
    ) -> &mut Vec<Candidate> {
        self.reset_if_targets_changed(targets);
        if !self.per_local.contains_key(&local_id) {
            let essential = essential_name(name);
            let mut found = Vec::new();
            for t in 0..targets.len() {
                self.search(targets, t, essential, kind, &mut found);
                if t == 0 && !found.is_empty() {
                    break;
                }
            }
            self.per_local.insert(local_id, found);
        }
        self.per_local.entry(local_id).or_default()
    }
}
