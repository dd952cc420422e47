//! Staged loading: `Loader::prepare` exposes the relocated instructions before
//! `BPF_PROG_LOAD`, and they are the instructions libbpf hands to the kernel for the same
//! object (fd immediates masked); `Prepared::load` then loads them.

mod common;

use bpfkit::loader::{LoadError, Loader};
use bpfkit::maps::MapData;
use bpfkit_obj::insn::Insn;
use bpfkit_obj::object::{MapType, ObjectSpec};
use bpfkit_test_support::{corpus_dir, libbpf_relocated, mask_fd_immediates, RelocateOptions};
use common::FdCheck;

fn insns(raw: &[u64]) -> Vec<Insn> {
    raw.iter()
        .map(|w| Insn::from_bytes(w.to_ne_bytes()))
        .collect()
}

#[test]
fn prepared_instructions_equal_libbpfs_then_load() {
    let fds = FdCheck::start();
    // Every libbpf-tools object of the corpus.
    let names: Vec<String> = bpfkit_test_support::corpus_objects_in("libbpf-tools")
        .iter()
        .filter_map(|p| {
            p.file_name()?
                .to_str()?
                .strip_suffix(".bpf.o")
                .map(String::from)
        })
        .collect();
    let (mut compared, mut loaded, mut programs, mut edits) = (0, 0, 0, 0);
    for name in names.iter().map(String::as_str) {
        let path = corpus_dir().join(format!("libbpf-tools/{name}.bpf.o"));
        if !path.exists() {
            println!("SKIP {name}: not in the corpus");
            continue;
        }
        let elf = std::fs::read(&path).expect("read object");
        let mut spec = ObjectSpec::parse_named(&elf, name).expect("parse");
        // The round trip through the spec: a hash map resized (libbpf gets the same size)
        // and a `.rodata` variable set through the checked editors.
        let resized = (spec.maps.iter())
            .find(|m| m.map_type == MapType::Hash && m.max_entries > 0)
            .map(|m| (m.name.clone(), m.max_entries + 3));
        if let Some((map, n)) = &resized {
            spec.map_mut(map).unwrap().max_entries = *n;
        }
        let variable = spec.variable_names().into_iter().find(|v| {
            spec.variable_mut(v)
                .is_ok_and(|var| var.map_name().ends_with(".rodata") && var.size() > 0)
        });
        if let Some(v) = &variable {
            let mut var = spec.variable_mut(v).unwrap();
            let pattern = vec![0x5a; var.size()];
            var.set_bytes(&pattern).unwrap();
        }
        let oracle = libbpf_relocated(
            &path,
            &RelocateOptions {
                fake_load: true,
                max_entries: resized.clone().into_iter().collect(),
                ..Default::default()
            },
        )
        .expect("libbpf oracle");
        let prepared = match Loader::new().prepare(&spec) {
            Ok(prepared) => prepared,
            // An attach target this kernel does not have, or a map the tool sizes at start
            // (libbpf fails on those at load too).
            Err(e @ (LoadError::Link { .. } | LoadError::MapSetup { .. })) => {
                println!("{name}: not prepared here: {}", bpfkit::Report(&e));
                continue;
            }
            Err(e) => panic!("{name}: prepare: {}", bpfkit::Report(&e)),
        };
        compared += 1;
        let ours: Vec<&str> = prepared.program_names().collect();
        let theirs: Vec<&str> = oracle.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(ours, theirs, "{name}: programs");
        for p in &oracle.programs {
            let mine = prepared.instructions(&p.name).expect("prepared program");
            assert_eq!(
                mask_fd_immediates(&insns(mine)),
                mask_fd_immediates(&p.load.insns),
                "{name}/{}: relocated instructions differ from libbpf's",
                p.name
            );
        }
        // Map references point at the prepared maps.
        for map in &spec.maps {
            let fd = prepared.map_fd(&map.name);
            assert!(fd.is_some(), "{name}: map {} has no fd", map.name);
        }
        // The edits are what the kernel holds: the resized map's size, and the frozen
        // `.rodata` bytes with the edited variable.
        if let Some((map, n)) = &resized {
            let info = bpfkit::info::map_info(prepared.map_fd(map).unwrap()).unwrap();
            assert_eq!(
                info.max_entries, *n,
                "{name}: {map} resized through the spec"
            );
            edits += 1;
        }
        if let Some(v) = &variable {
            let var = spec.variable_mut(v).unwrap();
            let map_name = var.map_name().to_owned();
            drop(var);
            let fd = prepared
                .map_fd(&map_name)
                .unwrap()
                .try_clone_to_owned()
                .unwrap();
            let map = MapData::from_fd(fd).unwrap();
            let mut value = vec![0u8; map.value_size() as usize];
            assert!(map
                .lookup_bytes(&0u32.to_ne_bytes(), &mut value, 0)
                .unwrap());
            let wanted = spec.maps.iter().find(|m| m.name == map_name).unwrap();
            assert_eq!(
                Some(&value),
                wanted.data.as_ref(),
                "{name}: {map_name} holds the edited '{v}'"
            );
            assert!(value.contains(&0x5a), "{name}: '{v}' set");
            edits += 1;
        }
        programs += theirs.len();
        // libbpf poisons CO-RE relocations the running kernel cannot satisfy (`call
        // 0xbad2310`, as runqlen's cfs_rq read on this host); the verifier refuses those.
        let poisoned = oracle
            .programs
            .iter()
            .any(|p| (p.load.insns.iter()).any(|i| i.code == 0x85 && i.imm == 0x0bad_2310));
        // Loaded only where this host can load them (tracepoints; no kprobes, no fentry).
        if poisoned || !["execsnoop", "opensnoop"].contains(&name) {
            println!("{name}: equal to libbpf's");
            continue;
        }
        let object = prepared.load().expect("load after prepare");
        for p in &oracle.programs {
            let id = object.program(&p.name).expect("loaded").id().expect("id");
            assert!(id > 0);
        }
        loaded += 1;
        println!(
            "{name}: {} programs equal libbpf's and loaded",
            theirs.len()
        );
    }
    println!(
        "{compared} objects ({programs} programs) equal libbpf's after {edits} spec edits; \
         {loaded} loaded"
    );
    assert!(
        compared >= 30 && loaded == 2 && edits >= 30,
        "{compared} compared, {loaded} loaded, {edits} edits checked"
    );
    fds.assert_no_leak();
}
