//! CO-RE on the libbpf-tools corpus against this kernel's BTF: for every program libbpf hands
//! to the kernel, our relocated instructions equal libbpf's.

mod relo_support;

use std::path::{Path, PathBuf};

use bpfkit_obj::btf::Btf;
use bpfkit_obj::relo::{ReloOutcome, TypeSource};
use bpfkit_test_support::{
    corpus_objects_in, corpus_vmlinux_btf, libbpf_parse, libbpf_relocated, RelocateOptions,
};

const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
const BPF_MAP_TYPE_RINGBUF: u32 = 27;

/// Sizes a tool sets at start-up for maps its object leaves at 0, so that libbpf gets as far
/// as loading programs (the sizes play no part in CO-RE).
fn start_up_sizes(path: &Path) -> Vec<(String, u32)> {
    let Ok(object) = libbpf_parse(path) else {
        return Vec::new();
    };
    object
        .maps
        .iter()
        .filter(|m| m.max_entries == 0 && m.map_type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
        .map(|m| {
            let n = if m.map_type == BPF_MAP_TYPE_RINGBUF {
                1 << 16
            } else {
                1024
            };
            (m.name.clone(), n)
        })
        .collect()
}

/// What [`compare_all`] compared.
#[derive(Debug, Default)]
struct Totals {
    programs: usize,
    compared: usize,
    changed: usize,
    poisoned: usize,
}

/// Relocates every libbpf-tools object against `targets` with both engines (libbpf with
/// `btf_custom_path`, or the running kernel's BTF when `None`) and compares.
fn compare_all(targets: &[&dyn TypeSource], btf_custom_path: Option<PathBuf>) -> Totals {
    let objects = corpus_objects_in("libbpf-tools");
    let mut totals = Totals::default();
    let (mut total, mut not_loaded) = (0, 0);
    let mut skipped = Vec::new();
    for path in &objects {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let elf = std::fs::read(path).unwrap();
        let ours = relo_support::relocate_object(&elf, targets);
        // libbpf relocates every one of these objects against these targets: so must we.
        for sec in ours.sections.values() {
            totals.poisoned += sec
                .applied()
                .iter()
                .filter(|a| a.outcome == ReloOutcome::Poisoned)
                .count();
        }
        let mut opts = RelocateOptions {
            btf_custom_path: btf_custom_path.clone(),
            max_entries: start_up_sizes(path),
            fake_load: true,
            ..Default::default()
        };
        // A program whose attach target this kernel lacks stops libbpf's load; a tool would
        // turn it off (autoload false) and load the rest, so do the same.
        let libbpf = loop {
            let libbpf = libbpf_relocated(path, &opts).unwrap();
            let failed = libbpf.load_error.as_ref().and_then(|e| {
                e.log.iter().find_map(|l| {
                    let rest = l.strip_prefix("libbpf: prog '")?;
                    let prog = &rest[..rest.find('\'')?];
                    rest.contains("failed to load").then(|| prog.to_string())
                })
            });
            match failed {
                Some(prog) if !opts.autoload.iter().any(|(p, _)| *p == prog) => {
                    opts.autoload.push((prog, false));
                }
                _ => break libbpf,
            }
        };
        if libbpf.programs.is_empty() {
            skipped.push(format!("{name}: {:?}", libbpf.load_error.map(|e| e.log)));
            continue;
        }
        let cmp = relo_support::assert_same_as_libbpf(&ours, &libbpf, &name);
        let (n, c) = (cmp.relos, cmp.changed);
        not_loaded += cmp.not_loaded;
        totals.compared += n;
        totals.changed += c;
        totals.programs += libbpf.programs.len();
        total += ours
            .sections
            .values()
            .map(|s| s.result.as_ref().map_or(0, |a| a.len()))
            .sum::<usize>();
    }
    eprintln!(
        "{} objects, {} programs: {} of {total} CO-RE relocations compared with libbpf \
         ({not_loaded} in code libbpf did not load), {} insns changed, {} poisoned; skipped: {skipped:#?}",
        objects.len(),
        totals.programs,
        totals.compared,
        totals.changed,
        totals.poisoned,
    );
    totals
}

#[test]
fn libbpf_tools_relocate_like_libbpf_against_the_running_kernel() {
    let (vmlinux_bytes, module_bytes) = relo_support::kernel_btf_bytes();
    let vmlinux = Btf::parse(&vmlinux_bytes).unwrap();
    // Module BTFs are split on vmlinux; libbpf searches them when vmlinux has no candidate.
    let modules = relo_support::kernel_modules(&vmlinux, &module_bytes);
    let targets = relo_support::kernel_targets(&vmlinux, &modules);
    let totals = compare_all(&targets, None);
    // Poisoned instructions are among those compared: libbpf poisons the same ones.
    assert!(
        totals.compared > 0 && totals.changed > 0 && totals.poisoned > 0,
        "{totals:?}"
    );
}

#[test]
fn libbpf_tools_relocate_like_libbpf_against_an_older_kernel_btf() {
    // cilium's 5.x vmlinux BTF: layouts differ more from the tools' vmlinux.h, and fields
    // the tools probe for are missing, so relocations change values and poison code.
    let path = corpus_vmlinux_btf();
    let bytes = std::fs::read(&path).unwrap();
    let vmlinux = Btf::parse(&bytes).unwrap();
    let targets: [&dyn TypeSource; 1] = [&vmlinux];
    let totals = compare_all(&targets, Some(path));
    // Poisoned instructions are among those compared: libbpf poisons the same ones.
    assert!(
        totals.compared > 0 && totals.changed > 0 && totals.poisoned > 0,
        "{totals:?}"
    );
}
