//! The project's C fixtures (compiled by clang-19 in the test) read into the expected spec:
//! BPF-to-BPF calls, callbacks, tail calls, map-in-map initial values, kconfig, ksym and
//! kfunc externs, legacy maps, and big-endian objects.

use std::path::Path;

use bpfkit_obj::btf::{Btf, Type};
use bpfkit_obj::object::{
    object_name_from_path, AttachType, ExternKind, KconfigType, Linkage, MapDefinition, MapType,
    ObjectSpec, ProgramType, RelocationTarget, SlotValue,
};
use bpfkit_test_support::{fixture, libbpf_parse};

fn parse(path: &Path) -> ObjectSpec {
    let bytes = std::fs::read(path).unwrap();
    ObjectSpec::parse_named(&bytes, &object_name_from_path(&path.to_string_lossy()))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn targets(spec: &ObjectSpec, function: &str) -> Vec<RelocationTarget> {
    spec.function(function)
        .unwrap_or_else(|| panic!("no function {function}"))
        .relocations
        .iter()
        .map(|r| r.target.clone())
        .collect()
}

fn call(f: &str) -> RelocationTarget {
    RelocationTarget::Call {
        function: f.to_string(),
    }
}

#[test]
fn bpf_to_bpf_calls_resolve_to_static_and_global_subprograms() {
    let spec = parse(&fixture("bpf_calls"));
    let names: Vec<_> = spec.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["first_prog", "second_prog"]);
    for p in &spec.programs {
        assert_eq!(p.section.name, "socket");
        assert_eq!(p.section.program_type, ProgramType::SocketFilter);
        assert_eq!(p.linkage, Linkage::Global);
    }
    let subs: Vec<_> = spec
        .subprograms
        .iter()
        .map(|p| (p.name.as_str(), p.linkage))
        .collect();
    assert!(
        subs.contains(&("static_double", Linkage::Static)),
        "{subs:?}"
    );
    assert!(subs.contains(&("global_add", Linkage::Global)), "{subs:?}");
    let mut first = targets(&spec, "first_prog");
    first.sort_by_key(|t| format!("{t:?}"));
    assert_eq!(first, [call("global_add"), call("static_double")]);
    assert_eq!(targets(&spec, "second_prog"), [call("static_double")]);

    // The call instruction is where the relocation says: opcode 0x85, src_reg 1, imm -1
    // (global, through its own symbol) or an offset (static, through the .text symbol).
    let second = spec.program("second_prog").unwrap();
    let r = &second.relocations[0];
    let insn = &second.instructions[r.insn_index * 8..r.insn_index * 8 + 8];
    assert_eq!(insn[0], 0x85);
    assert_eq!(insn[1] >> 4, 1);

    // Each function carries the func_info of its own BTF FUNC, at offset 0.
    let btf = Btf::parse(spec.btf.as_deref().unwrap()).unwrap();
    for f in spec.programs.iter().chain(&spec.subprograms) {
        let info = f
            .btf_ext
            .func_info
            .first()
            .unwrap_or_else(|| panic!("{}: no func_info", f.name));
        assert_eq!(info.insn_offset, 0);
        assert_eq!(btf.name(info.type_id).unwrap(), f.name);
        assert!(!f.btf_ext.line_info.is_empty(), "{}: no line_info", f.name);
    }
}

#[test]
fn callbacks_are_function_addresses() {
    let spec = parse(&fixture("callbacks"));
    let t = targets(&spec, "run_callbacks");
    for f in ["add_index", "add_elem"] {
        assert!(
            t.contains(&RelocationTarget::FunctionAddress {
                function: f.to_string()
            }),
            "{f} not referenced: {t:?}"
        );
    }
    assert!(t.contains(&RelocationTarget::Map {
        map: "values".into()
    }));
    let bss = t
        .iter()
        .filter(|t| matches!(t, RelocationTarget::Data { section, map, .. } if section == ".bss" && map == "callback.bss"))
        .count();
    assert!(bss >= 2, "{t:?}");
    let map = spec.map("callback.bss").unwrap();
    assert_eq!(
        map.definition,
        MapDefinition::Data {
            kind: bpfkit_obj::object::DataKind::Bss,
            section: ".bss".into()
        }
    );
    assert_eq!(map.value_size, 16);
    assert_eq!(map.data.as_deref(), Some(&[0u8; 16][..]));
}

#[test]
fn prog_array_initial_values_name_programs() {
    let spec = parse(&fixture("tail_calls"));
    let jt = spec.map("jump_table").unwrap();
    assert_eq!(jt.map_type, MapType::ProgArray);
    assert_eq!((jt.key_size, jt.value_size, jt.max_entries), (4, 4, 4));
    let slots: Vec<_> = jt
        .initial_slots
        .iter()
        .map(|s| (s.index, s.value.clone()))
        .collect();
    assert_eq!(
        slots,
        [
            (0, SlotValue::Program("tail_zero".into())),
            (2, SlotValue::Program("tail_two".into()))
        ]
    );
    assert!(targets(&spec, "dispatch").contains(&RelocationTarget::Map {
        map: "jump_table".into()
    }));
    let xdp = spec.program("dispatch").unwrap();
    assert_eq!(xdp.section.expected_attach_type, Some(AttachType::Xdp));
}

#[test]
fn map_in_map_has_inner_template_and_initial_maps() {
    let spec = parse(&fixture("map_in_map"));
    let outer = spec.map("outer_array").unwrap();
    assert_eq!(outer.map_type, MapType::ArrayOfMaps);
    let inner = outer.inner_map.as_deref().unwrap();
    assert_eq!(inner.name, "outer_array.inner");
    assert_eq!(inner.map_type, MapType::Array);
    assert_eq!(
        (inner.key_size, inner.value_size, inner.max_entries),
        (4, 8, 1)
    );
    let slots: Vec<_> = outer
        .initial_slots
        .iter()
        .map(|s| (s.index, s.value.clone()))
        .collect();
    assert_eq!(
        slots,
        [
            (0, SlotValue::Map("inner_a".into())),
            (3, SlotValue::Map("inner_b".into()))
        ]
    );
    let hash = spec.map("outer_hash").unwrap();
    assert_eq!(hash.map_type, MapType::HashOfMaps);
    assert_eq!(hash.initial_slots.len(), 1);
    assert_eq!(
        hash.initial_slots[0].value,
        SlotValue::Map("inner_b".into())
    );
    assert_eq!(hash.initial_slots[0].index, 1);
    // libbpf agrees on the inner map type.
    let libbpf = libbpf_parse(&fixture("map_in_map")).unwrap();
    assert_eq!(
        libbpf.map("outer_array").unwrap().inner_map_type,
        Some(MapType::Array as u32)
    );
}

#[test]
fn kconfig_externs_are_laid_out_like_libbpf() {
    let path = fixture("kconfig");
    let spec = parse(&path);
    let layout: Vec<(&str, KconfigType, u32, u32, bool)> = spec
        .externs
        .iter()
        .map(|e| match e.kind {
            ExternKind::Kconfig {
                kind, size, offset, ..
            } => (e.name.as_str(), kind, size, offset, e.weak),
            ref other => panic!("{}: {other:?}", e.name),
        })
        .collect();
    let int = KconfigType::Int { signed: true };
    let uint = KconfigType::Int { signed: false };
    assert_eq!(
        layout,
        [
            ("CONFIG_BPFKIT_NOT_A_REAL_OPTION", int, 4, 0, true),
            ("CONFIG_HZ", int, 4, 4, false),
            ("LINUX_KERNEL_VERSION", uint, 4, 8, false),
            ("CONFIG_BPF_SYSCALL", KconfigType::Bool, 1, 12, false),
            (
                "CONFIG_DEFAULT_HOSTNAME",
                KconfigType::CharArray,
                64,
                13,
                true
            ),
        ]
    );
    let map = spec.map("kconfig.kconfig").unwrap();
    assert_eq!(map.definition, MapDefinition::Kconfig);
    let libbpf = libbpf_parse(&path).unwrap();
    let theirs = libbpf.map("kconfig.kconfig").unwrap();
    assert_eq!(
        (map.value_size, map.map_flags),
        (theirs.value_size, theirs.map_flags)
    );
    assert_eq!(map.value_size, 77);
    // Programs read them through ld_imm64 relocations against the externs.
    let t = targets(&spec, "read_kconfig");
    assert!(
        t.contains(&RelocationTarget::Extern {
            name: "CONFIG_HZ".into(),
            call: false
        }),
        "{t:?}"
    );
}

#[test]
fn ksym_variables_and_kfuncs() {
    let spec = parse(&fixture("ksyms_kfuncs"));
    let btf = Btf::parse(spec.btf.as_deref().unwrap()).unwrap();
    let mut kfuncs = Vec::new();
    for e in &spec.externs {
        match e.kind {
            ExternKind::Kfunc { func_id } => {
                assert!(matches!(btf.type_by_id(func_id).unwrap(), Type::Func(_)));
                assert_eq!(btf.name(func_id).unwrap(), e.name);
                kfuncs.push(e.name.as_str());
            }
            ExternKind::KsymVariable { type_id } => {
                assert_eq!(e.name, "tcp_rcv_established");
                assert_eq!(type_id, 0, "const void skips to void");
            }
            ref other => panic!("{}: {other:?}", e.name),
        }
    }
    kfuncs.sort();
    assert_eq!(
        kfuncs,
        [
            "bpf_rcu_read_lock",
            "bpf_rcu_read_unlock",
            "bpf_task_acquire",
            "bpf_task_release"
        ]
    );
    let t = targets(&spec, "on_newtask");
    assert!(t.contains(&RelocationTarget::Extern {
        name: "bpf_task_acquire".into(),
        call: true
    }));
    assert!(t.contains(&RelocationTarget::Extern {
        name: "tcp_rcv_established".into(),
        call: false
    }));
    let p = spec.program("on_newtask").unwrap();
    assert_eq!(p.section.program_type, ProgramType::Tracing);
    assert_eq!(p.section.attach_target.as_deref(), Some("task_newtask"));

    let typed = parse(&fixture("ksym_typed_var"));
    let rq = &typed.externs[0];
    assert_eq!(rq.name, "runqueues");
    let ExternKind::KsymVariable { type_id } = rq.kind else {
        panic!("{rq:?}")
    };
    let tbtf = Btf::parse(typed.btf.as_deref().unwrap()).unwrap();
    assert_eq!(tbtf.name(type_id).unwrap(), "rq");
}

#[test]
fn legacy_bpf_map_def_maps_parse_though_libbpf_refuses() {
    let path = fixture("legacy_maps");
    assert!(libbpf_parse(&path).is_err());
    let spec = parse(&path);
    let maps: Vec<_> = spec
        .maps
        .iter()
        .filter(|m| m.definition == MapDefinition::Legacy)
        .map(|m| {
            (
                m.name.as_str(),
                m.map_type,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.map_flags,
            )
        })
        .collect();
    assert_eq!(
        maps,
        [
            ("legacy_hash", MapType::Hash, 4, 8, 128, 1),
            ("legacy_array", MapType::Array, 4, 4, 4, 0)
        ]
    );
    let t = targets(&spec, "use_legacy_maps");
    assert!(t.contains(&RelocationTarget::Map {
        map: "legacy_hash".into()
    }));
    assert!(t.contains(&RelocationTarget::Map {
        map: "legacy_array".into()
    }));
}

/// `-I/usr/include/<multiarch>`, where `asm/types.h` lives for `linux/bpf.h`.
fn multiarch_include() -> String {
    let multiarch = std::process::Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|m| !m.is_empty())
        .expect("gcc -print-multiarch names the include directory");
    format!("-I/usr/include/{multiarch}")
}

/// Compiles `testdata/c/<name>.bpf.c` for `target` (`bpfel`/`bpfeb`) into a temporary file.
fn compile_for(name: &str, target: &str) -> std::path::PathBuf {
    let src = bpfkit_test_support::fixture_source_dir().join(format!("{name}.bpf.c"));
    let out = std::env::temp_dir().join(format!(
        "bpfkit-object-{name}-{target}-{}.o",
        std::process::id()
    ));
    let status = std::process::Command::new(bpfkit_test_support::CLANG)
        .args(["-O2", "-g", "-target", target, "-c"])
        .arg(multiarch_include())
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang-19 runs");
    assert!(
        status.success(),
        "clang-19 -target {target} failed on {name}"
    );
    out
}

/// (code, dst, src, off, imm) of every instruction, decoded in the object's byte order.
fn decode(bytes: &[u8], big_endian: bool) -> Vec<(u8, u8, u8, i16, i32)> {
    bytes
        .chunks_exact(8)
        .map(|b| {
            let off = [b[2], b[3]];
            let imm = [b[4], b[5], b[6], b[7]];
            if big_endian {
                (
                    b[0],
                    b[1] >> 4,
                    b[1] & 0xf,
                    i16::from_be_bytes(off),
                    i32::from_be_bytes(imm),
                )
            } else {
                (
                    b[0],
                    b[1] & 0xf,
                    b[1] >> 4,
                    i16::from_le_bytes(off),
                    i32::from_le_bytes(imm),
                )
            }
        })
        .collect()
}

#[test]
fn big_endian_objects_give_the_same_spec() {
    for name in ["bpf_calls", "tail_calls", "map_in_map", "legacy_maps"] {
        let el_path = compile_for(name, "bpfel");
        let eb_path = compile_for(name, "bpfeb");
        let el = ObjectSpec::parse_named(&std::fs::read(&el_path).unwrap(), name).unwrap();
        let eb = ObjectSpec::parse_named(&std::fs::read(&eb_path).unwrap(), name).unwrap();
        std::fs::remove_file(&el_path).unwrap();
        std::fs::remove_file(&eb_path).unwrap();
        assert!(!el.big_endian && eb.big_endian);
        assert_eq!(el.license, eb.license);
        assert_eq!(el.maps, eb.maps, "{name}: maps");
        assert_eq!(el.externs, eb.externs, "{name}: externs");
        for (a, b) in el
            .programs
            .iter()
            .chain(&el.subprograms)
            .zip(eb.programs.iter().chain(&eb.subprograms))
        {
            assert_eq!(
                (&a.name, &a.section, a.linkage),
                (&b.name, &b.section, b.linkage),
                "{name}"
            );
            assert_eq!(a.relocations, b.relocations, "{name}/{}", a.name);
            assert_eq!(
                decode(&a.instructions, false),
                decode(&b.instructions, true),
                "{name}/{}",
                a.name
            );
            assert_eq!(a.btf_ext.func_info.len(), b.btf_ext.func_info.len());
            assert_eq!(a.btf_ext.line_info.len(), b.btf_ext.line_info.len());
        }
        assert_eq!(el.programs.len(), eb.programs.len());
    }
}

#[test]
fn struct_ops_map_names_its_kernel_type_and_program_members() {
    let spec = parse(&fixture("struct_ops"));
    let map = spec.map("bpfkit_cc").unwrap();
    assert_eq!(map.map_type, MapType::StructOps);
    assert_eq!((map.key_size, map.max_entries, map.map_flags), (4, 1, 0));
    let MapDefinition::StructOps(ops) = &map.definition else {
        panic!("{:?}", map.definition)
    };
    assert_eq!(ops.type_name, "tcp_congestion_ops");
    assert!(!ops.link && ops.autocreate);
    let members: Vec<(&str, &str)> = ops
        .programs
        .iter()
        .map(|m| (m.member.as_str(), m.program.as_str()))
        .collect();
    assert_eq!(
        members,
        [
            ("ssthresh", "bpfkit_ssthresh"),
            ("cong_avoid", "bpfkit_cong_avoid"),
            ("undo_cwnd", "bpfkit_undo_cwnd")
        ]
    );
    // The member indexes are what libbpf reports as the programs' expected attach types.
    let libbpf = libbpf_parse(&fixture("struct_ops")).unwrap();
    for m in &ops.programs {
        assert_eq!(
            libbpf.program(&m.program).unwrap().expected_attach_type,
            m.member_index
        );
    }
    // The value holds the initialized fields, e.g. the name.
    let data = map.data.as_deref().unwrap();
    assert_eq!(data.len(), map.value_size as usize);
    assert!(data.windows(9).any(|w| w == b"bpfkit_cc"));
    let btf = Btf::parse(spec.btf.as_deref().unwrap()).unwrap();
    assert_eq!(
        btf.name(map.btf_value_type_id.unwrap()).unwrap(),
        "tcp_congestion_ops"
    );
}

/// Compiles C source text with clang-19 for the BPF target into a temporary object.
fn compile_source(name: &str, source: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir();
    let src = dir.join(format!("bpfkit-object-{name}-{}.bpf.c", std::process::id()));
    std::fs::write(&src, source).unwrap();
    let out = src.with_extension("o");
    let status = std::process::Command::new(bpfkit_test_support::CLANG)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-c",
            "-I/usr/include/x86_64-linux-gnu",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang-19 runs");
    std::fs::remove_file(&src).unwrap();
    assert!(status.success(), "clang-19 failed on {name}");
    out
}

#[test]
fn version_license_autoload_sleepable_and_unknown_sections() {
    let path = compile_source(
        "sections",
        r#"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
__u32 _version SEC("version") = 0x060100;
SEC("?tp/sched/sched_switch") int maybe(void *ctx) { return 0; }
SEC("my_custom_section") int custom(void *ctx) { return 1; }
SEC("fentry.s/do_sys_openat2") int sleepy(void *ctx) { return 0; }
SEC("xdp.frags") int frags(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "Dual BSD/GPL";
"#,
    );
    let spec = parse(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(spec.kernel_version, Some(0x060100));
    assert_eq!(spec.license, "Dual BSD/GPL");

    let maybe = spec.program("maybe").unwrap();
    assert!(!maybe.section.autoload);
    assert_eq!(maybe.section.name, "tp/sched/sched_switch");
    assert_eq!(maybe.load_type().unwrap(), ProgramType::Tracepoint);

    let custom = spec.program("custom").unwrap();
    assert_eq!(custom.section.program_type, ProgramType::Unspec);
    let err = custom.load_type().unwrap_err().to_string();
    assert!(
        err.starts_with(
            "program 'custom': section 'my_custom_section' names no known program type"
        ),
        "{err}"
    );

    let sleepy = spec.program("sleepy").unwrap();
    assert!(sleepy.section.sleepable);
    assert_eq!(
        sleepy.section.expected_attach_type,
        Some(AttachType::TraceFentry)
    );
    assert!(spec.program("frags").unwrap().section.xdp_frags);
}

/// (DATASEC name, size, [(var name, linkage, offset, size)]) of a bpftool BTF dump.
type Datasecs = Vec<(String, u64, Vec<(String, String, u64, u64)>)>;

fn datasecs(dump: &serde_json::Value) -> Datasecs {
    let types = dump["types"].as_array().unwrap();
    let by_id = |id: &serde_json::Value| types.iter().find(|t| t["id"] == *id).unwrap();
    let mut out: Datasecs = types
        .iter()
        .filter(|t| t["kind"] == "DATASEC")
        .map(|t| {
            let vars = t["vars"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    let var = by_id(&v["type_id"]);
                    (
                        var["name"].as_str().unwrap_or_default().to_string(),
                        var["linkage"].as_str().unwrap_or_default().to_string(),
                        v["offset"].as_u64().unwrap(),
                        v["size"].as_u64().unwrap(),
                    )
                })
                .collect();
            (
                t["name"].as_str().unwrap().to_string(),
                t["size"].as_u64().unwrap(),
                vars,
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn fixed_btf_datasecs_equal_what_libbpf_loads_into_the_kernel() {
    use bpfkit_test_support::{bpftool_json, prog_loadall};
    let mut compared = Vec::new();
    for name in [
        "kconfig",
        "ksyms_kfuncs",
        "callbacks",
        "bpf_calls",
        "map_in_map",
    ] {
        let path = fixture(name);
        let spec = parse(&path);
        let Ok(loaded) = prog_loadall(&path) else {
            continue; // e.g. a kfunc this kernel lacks: nothing to compare with
        };
        let btf_id = loaded.programs[0].info["btf_id"].as_u64().unwrap();
        let kernel = bpftool_json(["btf", "dump", "id", &btf_id.to_string()]).unwrap();
        let ours_path =
            std::env::temp_dir().join(format!("bpfkit-object-{name}-{}.btf", std::process::id()));
        std::fs::write(&ours_path, spec.btf_fixed.as_deref().unwrap()).unwrap();
        let ours = bpftool_json([
            std::ffi::OsStr::new("btf"),
            "dump".as_ref(),
            "file".as_ref(),
            ours_path.as_os_str(),
        ]);
        std::fs::remove_file(&ours_path).unwrap();
        assert_eq!(datasecs(&ours.unwrap()), datasecs(&kernel), "{name}");
        compared.push(name);
    }
    eprintln!("compared with the kernel: {compared:?}");
    assert!(compared.contains(&"kconfig"), "compared only {compared:?}");
    assert!(compared.len() >= 3, "compared only {compared:?}");
}

#[test]
fn misaligned_object_bytes_parse_like_aligned_ones() {
    let path = fixture("bpf_calls");
    let bytes = std::fs::read(&path).unwrap();
    let aligned = ObjectSpec::parse_named(&bytes, "bpf_calls").unwrap();
    // The same bytes at every address from 1 to 7 past an 8-byte boundary.
    let mut buffer = vec![0u64; bytes.len() / 8 + 2];
    for shift in 1..8 {
        let raw: &mut [u8] = as_bytes_mut(&mut buffer);
        raw[shift..shift + bytes.len()].copy_from_slice(&bytes);
        let slice = &raw[shift..shift + bytes.len()];
        assert_ne!(slice.as_ptr() as usize % 8, 0);
        let spec = ObjectSpec::parse_named(slice, "bpf_calls")
            .unwrap_or_else(|e| panic!("misaligned by {shift}: {e}"));
        assert_eq!(spec, aligned, "misaligned by {shift}");
    }
}

/// `buffer` as bytes (8-byte aligned at index 0).
fn as_bytes_mut(buffer: &mut [u64]) -> &mut [u8] {
    let len = buffer.len() * 8;
    // SAFETY: u64 has no padding and every byte pattern is a valid u8; the view covers
    // exactly the buffer's bytes and borrows it mutably for its lifetime.
    unsafe { std::slice::from_raw_parts_mut(buffer.as_mut_ptr().cast::<u8>(), len) }
}
