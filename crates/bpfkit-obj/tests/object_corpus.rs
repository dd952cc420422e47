//! Every corpus object parses, and lists the same programs and maps as libbpf's own parse.

use std::path::Path;

use bpfkit_obj::object::{
    object_name_from_path, MapDefinition, MapSpec, ObjectSpec, Pinning, ProgramSpec,
};
use bpfkit_test_support::{
    corpus_objects, fixture, fixture_names, libbpf_parse, LibbpfMap, LibbpfProgram,
};

fn parse(path: &Path) -> Result<ObjectSpec, bpfkit_obj::object::ObjectError> {
    let bytes = std::fs::read(path).unwrap();
    ObjectSpec::parse_named(&bytes, &object_name_from_path(&path.to_string_lossy()))
}

/// Section kinds libbpf learned after 1.1, the version the oracle runs: it reports their
/// programs as `unspec` with no attach type.
const NEWER_THAN_LIBBPF_1_1: &[&str] = &[
    "uprobe.multi",
    "uretprobe.multi",
    "uprobe.multi.s",
    "uretprobe.multi.s",
    "kprobe.session",
    "uprobe.session",
    "uprobe.session.s",
    "usdt.s",
    "tc/ingress",
    "tc/egress",
    "tcx/ingress",
    "tcx/egress",
    "netkit/primary",
    "netkit/peer",
    "tracepoint.s",
    "tp.s",
    "raw_tracepoint.s",
    "raw_tp.s",
    "tp_btf.s",
    "sk_skb/verdict",
    "cgroup/connect_unix",
    "cgroup/sendmsg_unix",
    "cgroup/recvmsg_unix",
    "cgroup/getpeername_unix",
    "cgroup/getsockname_unix",
    "struct_ops.s",
    "netfilter",
];

/// Our program in the shape libbpf reports it at open time. libbpf 1.1 only computes
/// `prog_flags` (sleepable, XDP frags) at load, so flags are compared in unit tests, not
/// here; a struct_ops program's expected attach type is its member index.
fn as_libbpf_program(spec: &ObjectSpec, p: &ProgramSpec) -> LibbpfProgram {
    let member_index = spec.maps.iter().find_map(|m| match &m.definition {
        MapDefinition::StructOps(ops) => ops
            .programs
            .iter()
            .find(|member| member.program == p.name)
            .map(|member| member.member_index),
        _ => None,
    });
    LibbpfProgram {
        name: p.name.clone(),
        section: p.section.name.clone(),
        prog_type: p.section.program_type as u32,
        prog_type_name: Some(p.section.program_type.kernel_name().to_string()),
        expected_attach_type: member_index
            .unwrap_or_else(|| p.section.expected_attach_type.map_or(0, |a| a as u32)),
        expected_attach_type_name: None,
        autoload: p.section.autoload,
        insn_count: p.insn_count(),
        prog_flags: 0,
    }
}

fn as_libbpf_map(m: &MapSpec, like: &LibbpfMap) -> LibbpfMap {
    LibbpfMap {
        name: m.name.clone(),
        map_type: m.map_type as u32,
        map_type_name: like.map_type_name.clone(),
        key_size: m.key_size,
        value_size: m.value_size,
        // libbpf rounds ring buffer sizes up at open; this host has 4 KiB pages.
        max_entries: m.max_entries_for_page_size(4096),
        map_flags: m.map_flags,
        map_extra: m.map_extra,
        numa_node: m.numa_node,
        internal: matches!(
            m.definition,
            MapDefinition::Data { .. } | MapDefinition::Kconfig
        ),
        pin_path: (m.pinning == Pinning::ByName).then(|| format!("/sys/fs/bpf/{}", m.name)),
        inner_map_type: m.inner_map.as_ref().map(|i| i.map_type as u32),
    }
}

/// The corpus and the project's C fixtures.
fn all_objects() -> Vec<std::path::PathBuf> {
    let mut objects = corpus_objects();
    objects.extend(fixture_names().iter().map(|n| fixture(n)));
    objects
}

#[test]
fn every_corpus_object_matches_libbpf() {
    let objects = all_objects();
    assert!(
        objects.len() >= 69,
        "corpus and fixtures have {} objects",
        objects.len()
    );
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut newer_kinds = 0;
    for path in &objects {
        let ours = parse(path);
        let theirs = libbpf_parse(path);
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => {
                compared += 1;
                let progs: Vec<_> = ours
                    .programs
                    .iter()
                    .map(|p| as_libbpf_program(&ours, p))
                    .collect();
                let mut want = theirs.programs.clone();
                for (w, p) in want.iter_mut().zip(&progs) {
                    w.expected_attach_type_name = None;
                    w.prog_flags = 0;
                    let newer = ours
                        .program(&w.name)
                        .and_then(|o| o.section.kind)
                        .is_some_and(|k| NEWER_THAN_LIBBPF_1_1.contains(&k));
                    if w.prog_type == 0 && newer {
                        newer_kinds += 1;
                        w.prog_type = p.prog_type;
                        w.prog_type_name = p.prog_type_name.clone();
                        w.expected_attach_type = p.expected_attach_type;
                    }
                }
                if progs != want {
                    failures.push(format!(
                        "{}: programs differ\n ours:   {progs:?}\n libbpf: {want:?}",
                        path.display()
                    ));
                }
                let names: Vec<_> = ours.maps.iter().map(|m| m.name.as_str()).collect();
                let their_names: Vec<_> = theirs.maps.iter().map(|m| m.name.as_str()).collect();
                if names != their_names {
                    failures.push(format!(
                        "{}: map names differ\n ours:   {names:?}\n libbpf: {their_names:?}",
                        path.display()
                    ));
                    continue;
                }
                for (m, t) in ours.maps.iter().zip(&theirs.maps) {
                    let mine = as_libbpf_map(m, t);
                    if &mine != t {
                        failures.push(format!(
                            "{}: map differs\n ours:   {mine:?}\n libbpf: {t:?}",
                            path.display()
                        ));
                    }
                }
            }
            (Err(e), Ok(_)) => {
                failures.push(format!("{}: libbpf opens it, we fail: {e}", path.display()))
            }
            (Ok(o), Err(e)) => eprintln!(
                "{}: libbpf refuses ({}), we parse {} programs {} maps",
                path.display(),
                e.lines().next().unwrap_or(""),
                o.programs.len(),
                o.maps.len()
            ),
            (Err(e), Err(libbpf)) => {
                eprintln!(
                    "{}: both refuse: ours: {e}; libbpf: {libbpf}",
                    path.display()
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 55, "only {compared} objects compared");
    // prog_newer_sections' tcx, netkit, uprobe.multi and netfilter programs.
    assert!(
        newer_kinds >= 5,
        "only {newer_kinds} programs of post-1.1 kinds"
    );
}

#[test]
fn every_btf_ext_record_lands_on_a_function() {
    let mut with_ext = 0;
    for path in all_objects() {
        let Ok(spec) = parse(&path) else { continue };
        let Some(ext) = spec.btf_ext.as_deref() else {
            continue;
        };
        with_ext += 1;
        let ext = bpfkit_obj::btf::BtfExt::parse(ext).unwrap();
        let functions = || spec.programs.iter().chain(&spec.subprograms);
        let count = |f: fn(&ProgramSpec) -> usize| functions().map(f).sum::<usize>();
        assert_eq!(
            count(|p| p.btf_ext.func_info.len()),
            ext.func_info.len(),
            "{}: func_info",
            path.display()
        );
        assert_eq!(
            count(|p| p.btf_ext.line_info.len()),
            ext.line_info.len(),
            "{}: line_info",
            path.display()
        );
        assert_eq!(
            count(|p| p.btf_ext.core_relos.len()),
            ext.core_relo.len(),
            "{}: core_relo",
            path.display()
        );
        for f in functions() {
            if !f.btf_ext.func_info.is_empty() {
                assert_eq!(
                    f.btf_ext.func_info[0].insn_offset,
                    0,
                    "{}: {}",
                    path.display(),
                    f.name
                );
            }
            for r in &f.btf_ext.core_relos {
                assert!((r.insn_offset as usize) < f.insn_count());
                assert!(!r.access.is_empty());
            }
        }
    }
    assert!(with_ext >= 55, "only {with_ext} objects with .BTF.ext");
}

#[test]
fn parsing_is_deterministic() {
    for path in corpus_objects().iter().step_by(5) {
        let a = parse(path);
        let b = parse(path);
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", path.display()),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("{}: differs between runs", path.display()),
        }
    }
}

#[test]
fn fixed_btf_datasecs_agree_with_elf_sections_and_symbols() {
    use bpfkit_obj::btf::{Btf, Type};
    use object::{Object, ObjectSection, ObjectSymbol};
    let mut checked_vars = 0;
    for path in all_objects() {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(spec) = parse(&path) else { continue };
        let Some(fixed) = spec.btf_fixed.as_deref() else {
            continue;
        };
        let btf = Btf::parse(fixed).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        for t in btf.types() {
            let (_, Type::Datasec(ds)) = t.unwrap() else {
                continue;
            };
            if ds.name == ".kconfig" || ds.name == ".ksyms" {
                continue;
            }
            let Some(sec) = file.section_by_name(ds.name) else {
                continue;
            };
            assert_eq!(
                u64::from(ds.size),
                sec.size(),
                "{}: {}",
                path.display(),
                ds.name
            );
            for v in &ds.vars {
                let Type::Var(var) = btf.type_by_id(v.type_id).unwrap() else {
                    panic!()
                };
                let Some(sym) = file
                    .symbols()
                    .find(|s| s.section_index() == Some(sec.index()) && s.name() == Ok(var.name))
                else {
                    continue;
                };
                assert_eq!(
                    u64::from(v.offset),
                    sym.address(),
                    "{}: {}",
                    path.display(),
                    var.name
                );
                checked_vars += 1;
            }
        }
    }
    assert!(checked_vars > 100, "only {checked_vars} variables checked");
}

#[test]
fn every_relocation_points_at_a_call_or_ld_imm64_of_its_kind() {
    use bpfkit_obj::object::RelocationTarget as T;
    let mut counts = [0usize; 5];
    for path in all_objects() {
        let Ok(spec) = parse(&path) else { continue };
        let names: Vec<&str> = spec
            .programs
            .iter()
            .chain(&spec.subprograms)
            .map(|p| p.name.as_str())
            .collect();
        for f in spec.programs.iter().chain(&spec.subprograms) {
            for r in &f.relocations {
                let at = r.insn_index * 8;
                let insn = &f.instructions[at..at + 8];
                let (code, src) = if spec.big_endian {
                    (insn[0], insn[1] & 0xf)
                } else {
                    (insn[0], insn[1] >> 4)
                };
                let what = format!(
                    "{}: {} insn {}: {:?}",
                    path.display(),
                    f.name,
                    r.insn_index,
                    r.target
                );
                match &r.target {
                    T::Call { function } => {
                        assert_eq!((code, src), (0x85, 1), "{what}");
                        assert!(names.contains(&function.as_str()), "{what}");
                        counts[0] += 1;
                    }
                    T::FunctionAddress { function } => {
                        assert_eq!(code, 0x18, "{what}");
                        assert!(names.contains(&function.as_str()), "{what}");
                        counts[1] += 1;
                    }
                    T::Map { map } => {
                        assert_eq!(code, 0x18, "{what}");
                        assert!(spec.map(map).is_some(), "{what}");
                        counts[2] += 1;
                    }
                    T::Data { map, .. } => {
                        assert_eq!(code, 0x18, "{what}");
                        assert!(spec.map(map).is_some(), "{what}: no such data map");
                        counts[3] += 1;
                    }
                    T::Extern { name, call } => {
                        assert_eq!(code, if *call { 0x85 } else { 0x18 }, "{what}");
                        assert!(spec.externs.iter().any(|e| &e.name == name), "{what}");
                        counts[4] += 1;
                    }
                }
            }
        }
    }
    // calls, callbacks, maps, data, externs: every kind occurs.
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
}
