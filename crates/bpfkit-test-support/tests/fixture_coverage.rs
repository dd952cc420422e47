//! Each C fixture contains what its header comment claims, as libbpf, bpftool and the
//! kernel report it.

use std::path::Path;

use bpfkit_test_support::{
    btf_type_id, btf_types, fixture, libbpf_parse, libbpf_relocated, map_dump, prog_loadall, Insn,
    RelocateOptions, VMLINUX_BTF,
};

const CALL: u8 = 0x85;
const PSEUDO_CALL: u8 = 1;
const PSEUDO_KFUNC_CALL: u8 = 2;
const PSEUDO_BTF_ID: u8 = 3;
const PSEUDO_FUNC: u8 = 4;

fn vmlinux_id(kind: &str, name: &str) -> u32 {
    btf_type_id(Path::new(VMLINUX_BTF), kind, name)
        .unwrap()
        .unwrap_or_else(|| panic!("{kind} {name} not in vmlinux BTF"))
}

/// Instructions of `prog` of fixture `name` as libbpf loaded them into the host kernel.
fn loaded_insns(name: &str, prog: &str) -> Vec<Insn> {
    let out = libbpf_relocated(&fixture(name), &RelocateOptions::default()).unwrap();
    assert_eq!(out.load_error, None, "{name}");
    let p = out.program(prog).unwrap();
    assert!(p.accepted, "{name}/{prog}");
    p.load.insns.clone()
}

fn u32_le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().unwrap())
}

#[test]
fn tail_calls_prog_array_is_filled_from_initial_values() {
    let obj = fixture("tail_calls");
    let parsed = libbpf_parse(&obj).unwrap();
    assert_eq!(parsed.map("jump_table").unwrap().map_type, 3); // BPF_MAP_TYPE_PROG_ARRAY
    let loaded = prog_loadall(&obj).unwrap();
    let slots: Vec<(u32, u32)> = map_dump(loaded.map("jump_table").unwrap().id)
        .unwrap()
        .iter()
        .map(|e| (u32_le(&e.key), u32_le(&e.value)))
        .collect();
    assert_eq!(
        slots,
        [
            (0, loaded.program("tail_zero").unwrap().id),
            (2, loaded.program("tail_two").unwrap().id)
        ]
    );
}

#[test]
fn map_in_map_outer_maps_hold_the_initial_inner_maps() {
    let obj = fixture("map_in_map");
    let parsed = libbpf_parse(&obj).unwrap();
    let outer_array = parsed.map("outer_array").unwrap();
    let outer_hash = parsed.map("outer_hash").unwrap();
    assert_eq!(outer_array.map_type, 12); // BPF_MAP_TYPE_ARRAY_OF_MAPS
    assert_eq!(outer_hash.map_type, 13); // BPF_MAP_TYPE_HASH_OF_MAPS
    assert_eq!(outer_array.inner_map_type, Some(2));
    assert_eq!(outer_hash.inner_map_type, Some(2));

    let loaded = prog_loadall(&obj).unwrap();
    let id = |name: &str| loaded.map(name).unwrap().id;
    let entries = |name: &str| -> Vec<(u32, u32)> {
        map_dump(id(name))
            .unwrap()
            .iter()
            .map(|e| (u32_le(&e.key), u32_le(&e.value)))
            .collect()
    };
    assert_eq!(
        entries("outer_array"),
        [(0, id("inner_a")), (3, id("inner_b"))]
    );
    assert_eq!(entries("outer_hash"), [(1, id("inner_b"))]);
}

#[test]
fn callbacks_pass_functions_by_address_to_bpf_loop_and_for_each_map_elem() {
    let insns = loaded_insns("callbacks", "run_callbacks");
    let func_refs = insns
        .iter()
        .filter(|i| i.is_ld_imm64() && i.src_reg == PSEUDO_FUNC)
        .count();
    assert_eq!(func_refs, 2);
    let helpers: Vec<i32> = insns
        .iter()
        .filter(|i| i.code == CALL && i.src_reg == 0)
        .map(|i| i.imm)
        .collect();
    assert!(helpers.contains(&181), "bpf_loop: {helpers:?}");
    assert!(helpers.contains(&164), "bpf_for_each_map_elem: {helpers:?}");
}

#[test]
fn kfunc_calls_carry_vmlinux_btf_ids_and_untyped_ksym_its_address() {
    let insns = loaded_insns("ksyms_kfuncs", "on_newtask");
    let mut kfuncs: Vec<i32> = insns
        .iter()
        .filter(|i| i.code == CALL && i.src_reg == PSEUDO_KFUNC_CALL)
        .map(|i| i.imm)
        .collect();
    kfuncs.sort();
    let mut expected: Vec<i32> = [
        "bpf_task_acquire",
        "bpf_task_release",
        "bpf_rcu_read_lock",
        "bpf_rcu_read_unlock",
    ]
    .iter()
    .map(|f| vmlinux_id("FUNC", f) as i32)
    .collect();
    expected.sort();
    assert_eq!(kfuncs, expected);

    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let address = kallsyms
        .lines()
        .find(|l| l.ends_with(" tcp_rcv_established"))
        .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
        .unwrap();
    let loaded_addresses: Vec<u64> = insns
        .windows(2)
        .filter(|w| w[0].is_ld_imm64() && w[0].src_reg == 0)
        .map(|w| (w[0].imm as u32 as u64) | ((w[1].imm as u32 as u64) << 32))
        .collect();
    assert!(loaded_addresses.contains(&address), "{loaded_addresses:x?}");
}

#[test]
fn typed_ksym_var_becomes_a_btf_id_load_the_host_cannot_resolve() {
    let obj = fixture("ksym_typed_var");
    let fake = libbpf_relocated(
        &obj,
        &RelocateOptions {
            fake_load: true,
            ..Default::default()
        },
    )
    .unwrap();
    let insns = &fake.program("read_runqueue").unwrap().load.insns;
    let btf_ids: Vec<i32> = insns
        .iter()
        .filter(|i| i.is_ld_imm64() && i.src_reg == PSEUDO_BTF_ID)
        .map(|i| i.imm)
        .collect();
    assert_eq!(btf_ids, [vmlinux_id("VAR", "runqueues") as i32]);

    let real = libbpf_relocated(&obj, &RelocateOptions::default()).unwrap();
    let err = real.load_error.unwrap();
    assert_eq!(err.errno, 2); // ENOENT: no kallsyms address without CONFIG_KALLSYMS_ALL
    assert!(
        err.log
            .iter()
            .any(|l| l.contains("failed to find the address for kernel symbol 'runqueues'")),
        "{err}"
    );
}

fn kernel_config_value(option: &str) -> Option<String> {
    let out = std::process::Command::new("zcat")
        .arg("/proc/config.gz")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let prefix = format!("{option}=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

#[test]
fn kconfig_externs_are_filled_from_the_running_kernel_config() {
    let loaded = prog_loadall(&fixture("kconfig")).unwrap();
    let entries = map_dump(loaded.map("kconfig_kconfig").unwrap().id).unwrap();
    let formatted = entries[0].formatted.as_ref().unwrap();
    let fields: std::collections::BTreeMap<String, serde_json::Value> = formatted["value"]
        [".kconfig"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o.as_object().unwrap().clone())
        .collect();
    let hz: u64 = kernel_config_value("CONFIG_HZ").unwrap().parse().unwrap();
    assert_eq!(fields["CONFIG_HZ"], hz);
    assert_eq!(
        kernel_config_value("CONFIG_BPF_SYSCALL").as_deref(),
        Some("y")
    );
    assert_eq!(fields["CONFIG_BPF_SYSCALL"], true);
    assert_eq!(fields["CONFIG_BPFKIT_NOT_A_REAL_OPTION"], 0);

    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let nums: Vec<u64> = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse().unwrap())
        .collect();
    let version = (nums[0] << 16) | (nums[1] << 8) | nums[2].min(255);
    assert_eq!(fields["LINUX_KERNEL_VERSION"], version);
}

#[test]
fn btf_kinds_fixture_has_enum64_float_decl_tag_and_type_tag() {
    let types = btf_types(&fixture("btf_kinds")).unwrap();
    let named = |kind: &str| -> Vec<String> {
        let mut names: Vec<String> = types
            .iter()
            .filter(|t| t.kind == kind)
            .filter_map(|t| t.name.clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(named("ENUM64"), ["wide_flags"]);
    assert_eq!(named("FLOAT"), ["double", "float"]);
    assert_eq!(
        named("DECL_TAG"),
        [
            "func_tag",
            "member_tag",
            "param_tag",
            "struct_tag",
            "var_tag"
        ]
    );
    assert_eq!(named("TYPE_TAG"), ["user"]);
}

#[test]
fn cpu_v4_and_atomic_instructions_load_on_the_host() {
    let insns = loaded_insns("cpu_v4_atomics", "v4_and_atomics");
    let has = |code: u8, off: i16, imm: Option<i32>| {
        insns
            .iter()
            .any(|i| i.code == code && i.off == off && imm.is_none_or(|v| v == i.imm))
    };
    assert!(
        has(0x3f, 1, None),
        "sdiv64 (BPF_ALU64|BPF_DIV|BPF_X, off 1)"
    );
    assert!(
        has(0x9f, 1, None),
        "smod64 (BPF_ALU64|BPF_MOD|BPF_X, off 1)"
    );
    for bits in [8, 16, 32] {
        assert!(has(0xbf, bits, None), "movsx{bits}");
    }
    for bits in [16, 32, 64] {
        assert!(has(0xd7, 0, Some(bits)), "bswap{bits}");
    }
    assert!(
        insns.iter().any(|i| i.code == 0x91),
        "ldsx8 (BPF_MEMSX|BPF_B)"
    );
    assert!(
        insns.iter().any(|i| i.code == 0x89),
        "ldsx16 (BPF_MEMSX|BPF_H)"
    );
    assert!(
        insns.iter().any(|i| i.code == 0x06),
        "gotol (BPF_JMP32|BPF_JA)"
    );
    assert!(
        insns
            .iter()
            .any(|i| i.code & 0x07 == 0x06 && i.code != 0x06),
        "jmp32"
    );
    // BPF_STX|BPF_ATOMIC|BPF_DW and |BPF_W with imm = op | BPF_FETCH.
    for imm in [0x00, 0x01, 0x51, 0x41, 0xa1, 0xe1, 0xf1] {
        assert!(has(0xdb, 0, Some(imm)), "64-bit atomic imm {imm:#x}");
    }
    for imm in [0x01, 0xf1, 0x50, 0x40, 0xa0] {
        assert!(has(0xc3, 0, Some(imm)), "32-bit atomic imm {imm:#x}");
    }
}

#[test]
fn core_kinds_relocate_against_vmlinux_without_poison() {
    let insns = loaded_insns("core_kinds", "core_all_kinds");
    assert!(!insns.iter().any(|i| i.code == CALL && i.imm == 0x0bad_2310));
    let task_struct = btf_types(Path::new(VMLINUX_BTF))
        .unwrap()
        .into_iter()
        .find(|t| t.kind == "STRUCT" && t.name.as_deref() == Some("task_struct"))
        .unwrap();
    let imms: Vec<i64> = insns.iter().map(|i| i64::from(i.imm)).collect();
    // TYPE_SIZE and TYPE_ID_TARGET resolved to vmlinux's values.
    assert!(imms.contains(&(task_struct.size.unwrap() as i64)));
    assert!(imms.contains(&i64::from(task_struct.id)));
    // ENUMVAL_VALUE of PIDTYPE_PGID.
    assert!(imms.contains(&2));
}

#[test]
fn bpf_calls_append_subprograms_to_each_program_of_the_section() {
    let obj = fixture("bpf_calls");
    let parsed = libbpf_parse(&obj).unwrap();
    let sections: Vec<(&str, &str)> = parsed
        .programs
        .iter()
        .map(|p| (p.name.as_str(), p.section.as_str()))
        .collect();
    assert_eq!(
        sections,
        [("first_prog", "socket"), ("second_prog", "socket")]
    );
    let out = libbpf_relocated(&obj, &RelocateOptions::default()).unwrap();
    for (name, calls) in [("first_prog", 2), ("second_prog", 1)] {
        let prog = out.program(name).unwrap();
        assert!(prog.accepted);
        let insns = &prog.load.insns;
        assert!(insns.len() > parsed.program(name).unwrap().insn_count);
        let pseudo_calls = insns
            .iter()
            .filter(|i| i.code == CALL && i.src_reg == PSEUDO_CALL)
            .count();
        assert_eq!(pseudo_calls, calls, "{name}");
    }
}

#[test]
fn legacy_maps_fixture_is_refused_by_libbpf() {
    let err = libbpf_parse(&fixture("legacy_maps")).unwrap_err();
    assert!(err.starts_with("errno 95 "), "{err}");
    assert!(err.contains("legacy map definitions"), "{err}");
}

#[test]
fn global_data_sections_become_internal_maps_with_their_initial_values() {
    let obj = fixture("global_data");
    let parsed = libbpf_parse(&obj).unwrap();
    let maps: Vec<(&str, u32, u32, bool)> = parsed
        .maps
        .iter()
        .map(|m| (m.name.as_str(), m.value_size, m.map_flags, m.internal))
        .collect();
    // BPF_F_MMAPABLE (1024); read-only sections add BPF_F_RDONLY_PROG (128).
    assert_eq!(
        maps,
        [
            ("global_d.data", 8, 1024, true),
            ("global_d.rodata", 14, 1152, true),
            (".data.counters", 8, 1024, true),
            (".rodata.config", 4, 1152, true),
            ("global_d.bss", 8, 1024, true),
        ]
    );

    let loaded = prog_loadall(&obj).unwrap();
    let dump = |pin: &str| -> (serde_json::Value, serde_json::Value) {
        let map = loaded.map(pin).unwrap();
        let entries = map_dump(map.id).unwrap();
        (
            entries[0].formatted.clone().unwrap()["value"].clone(),
            map.info["frozen"].clone(),
        )
    };
    use serde_json::json;
    assert_eq!(
        dump("global_d_data"),
        (
            json!({".data": [{"initialized": 0x1122_3344_5566_7788_u64}]}),
            json!(0)
        )
    );
    assert_eq!(
        dump("global_d_rodata"),
        (
            json!({".rodata": [{"constant": 7}, {"read_globals.message": "bpfkit %d"}]}),
            json!(1)
        )
    );
    assert_eq!(
        dump("_data_counters"),
        (json!({".data.counters": [{"custom_counter": 3}]}), json!(0))
    );
    assert_eq!(
        dump("_rodata_config"),
        (json!({".rodata.config": [{"custom_config": 11}]}), json!(1))
    );
    assert_eq!(
        dump("global_d_bss"),
        (json!({".bss": [{"zeroed": 0}]}), json!(0))
    );
}

#[test]
fn event_records_fill_the_ring_buffer_until_it_is_full() {
    use bpfkit_test_support::prog_run;
    let loaded = prog_loadall(&fixture("event_records")).unwrap();
    let bss = |field: &str| -> u64 {
        let entries = map_dump(loaded.map("event_re_bss").unwrap().id).unwrap();
        let fields = entries[0].formatted.as_ref().unwrap()["value"][".bss"].clone();
        fields
            .as_array()
            .unwrap()
            .iter()
            .find_map(|f| f[field].as_u64())
            .unwrap()
    };
    let packet = [0u8; 64];
    let ring = loaded.program("fill_ringbuf").unwrap().id;
    // Nobody consumes: 16-byte records take 24 bytes (8-byte header) of the 256 KiB ring.
    assert_eq!(prog_run(ring, &packet, 20_000).unwrap().retval, 2);
    let fit = 256 * 1024 / 24;
    assert_eq!(bss("ringbuf_seq"), 20_000);
    assert_eq!(bss("ringbuf_dropped"), 20_000 - fit);

    // No perf event is open on any CPU slot: every output fails and is counted.
    let perf = loaded.program("fill_perfbuf").unwrap().id;
    assert_eq!(prog_run(perf, &packet, 10).unwrap().retval, 2);
    assert_eq!((bss("perfbuf_seq"), bss("perfbuf_dropped")), (10, 10));
}
