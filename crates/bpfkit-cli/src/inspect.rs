//! `bpfkit inspect`: what an object file holds, read without the kernel.

use bpfkit_obj::object::{
    object_name_from_path, ExternKind, MapDefinition, MapSpec, ObjectSpec, Pinning, ProgramSpec,
    SlotValue,
};
use serde_json::{json, Value};

/// The `--help` text: what is printed and the JSON shape, which is stable.
pub const LONG_ABOUT: &str = "\
List what a BPF ELF object defines, read from the file alone (no kernel needed): programs,
maps, global-data sections, externs, CO-RE relocations per kind, license.

With --json, one object is printed. Its shape is stable; fields may be added, never removed
or renamed:

{
  \"file\": \"path as given\",
  \"name\": \"object name (file name up to its first dot)\",
  \"endianness\": \"little\" | \"big\",
  \"license\": \"GPL\",                      // \"\" when there is no license section
  \"kernel_version\": 394752 | null,        // the 'version' section
  \"programs\": [{
    \"name\": \"handle_exec\",                 // function symbol
    \"section\": \"tp/sched/sched_process_exec\",
    \"program_type\": \"tracepoint\",          // kernel name of enum bpf_prog_type; \"unspec\" if the
                                           //   section name is unknown (loading it will fail)
    \"attach_type\": \"trace_fentry\" | null,   // expected attach type (enum bpf_attach_type)
    \"attach_target\": \"sched/sched_process_exec\" | null,
    \"sleepable\": false,
    \"autoload\": true,                      // false for SEC(\"?...\")
    \"auto_attach\": true,                   // libbpf would attach it by itself
    \"instructions\": 42,                    // 8-byte slots of the function itself
    \"relocations\": 3,
    \"calls\": [\"helper_fn\"]                 // functions it calls or takes the address of
  }],
  \"subprograms\": [{ \"name\": \"helper_fn\", \"instructions\": 12, \"relocations\": 0, \"calls\": [] }],
  \"maps\": [{
    \"name\": \"events\",
    \"type\": \"perf_event_array\",            // kernel name of enum bpf_map_type
    \"key_size\": 4, \"value_size\": 4, \"max_entries\": 0,
    \"flags\": 0,                            // BPF_F_* map_flags
    \"definition\": \"legacy\" | \"btf\" | \"data\" | \"kconfig\" | \"struct_ops\",
    \"pinning\": \"none\" | \"by_name\" | \"object_ns\" | \"global_ns\",
    \"map_extra\": 0, \"numa_node\": 0,
    \"inner_map\": { same fields } | null,   // map-in-map template
    \"initial_values\": [{ \"index\": 0, \"program\": \"tail\" } | { \"index\": 1, \"map\": \"inner\" }],
    \"struct_ops\": { \"type\": \"tcp_congestion_ops\",   // struct_ops maps only, else null
                    \"members\": [{ \"member\": \"ssthresh\", \"program\": \"my_ssthresh\" }] } | null
  }],
  \"data_sections\": [{ \"section\": \".rodata\", \"map\": \"execsnoo.rodata\", \"kind\": \"rodata\",
                      \"size\": 24 }],
  \"externs\": [{ \"name\": \"CONFIG_HZ\", \"kind\": \"kconfig\" | \"ksym\" | \"kfunc\" | \"untyped\",
                \"weak\": false }],
  \"core_relocations\": { \"total\": 12, \"by_kind\": { \"field_byte_offset\": 10, \"field_exists\": 2 } }
}

The text output shows the same information, one line per item.";

/// Arguments of `bpfkit inspect`.
#[derive(clap::Args)]
#[command(long_about = LONG_ABOUT)]
pub struct Args {
    /// The BPF ELF object to read.
    pub object: std::path::PathBuf,
    /// Print JSON instead of text (shape in `--help`).
    #[arg(long)]
    pub json: bool,
}

/// Runs `bpfkit inspect`.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let path = args.object.to_string_lossy().into_owned();
    let bytes = std::fs::read(&args.object).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("cannot read {path}: {e}")
    })?;
    let spec = ObjectSpec::parse_named(&bytes, &object_name_from_path(&path)).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("{path}: {e}")
    })?;
    let report = report(&path, &spec);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(())
}

/// Names of `enum bpf_core_relo_kind`, by value.
const CORE_RELO_KINDS: [&str; 13] = [
    "field_byte_offset",
    "field_byte_size",
    "field_exists",
    "field_signed",
    "field_lshift_u64",
    "field_rshift_u64",
    "type_id_local",
    "type_id_target",
    "type_exists",
    "type_size",
    "enumval_exists",
    "enumval_value",
    "type_matches",
];

fn calls(p: &ProgramSpec) -> Vec<String> {
    use bpfkit_obj::object::RelocationTarget as T;
    let mut out: Vec<String> = p
        .relocations
        .iter()
        .filter_map(|r| match &r.target {
            T::Call { function } | T::FunctionAddress { function } => Some(function.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn program_json(p: &ProgramSpec) -> Value {
    let s = &p.section;
    json!({
        "name": p.name,
        "section": s.name,
        "program_type": s.program_type.kernel_name(),
        "attach_type": s.expected_attach_type.map(|a| a.kernel_name()),
        "attach_target": s.attach_target,
        "sleepable": s.sleepable,
        "autoload": s.autoload,
        "auto_attach": s.can_auto_attach(),
        "instructions": p.insn_count(),
        "relocations": p.relocations.len(),
        "calls": calls(p),
    })
}

fn pinning_name(p: Pinning) -> &'static str {
    match p {
        Pinning::None => "none",
        Pinning::ByName => "by_name",
        Pinning::ObjectNamespace => "object_ns",
        Pinning::GlobalNamespace => "global_ns",
    }
}

fn map_json(m: &MapSpec) -> Value {
    let slots: Vec<Value> = m
        .initial_slots
        .iter()
        .map(|s| match &s.value {
            SlotValue::Program(p) => json!({ "index": s.index, "program": p }),
            SlotValue::Map(n) => json!({ "index": s.index, "map": n }),
        })
        .collect();
    json!({
        "name": m.name,
        "type": m.map_type.kernel_name(),
        "key_size": m.key_size,
        "value_size": m.value_size,
        "max_entries": m.max_entries,
        "flags": m.map_flags,
        "definition": m.definition.as_str(),
        "pinning": pinning_name(m.pinning),
        "map_extra": m.map_extra,
        "numa_node": m.numa_node,
        "inner_map": m.inner_map.as_deref().map(map_json),
        "initial_values": slots,
        "struct_ops": match &m.definition {
            MapDefinition::StructOps(ops) => json!({
                "type": ops.type_name,
                "members": ops
                    .programs
                    .iter()
                    .map(|p| json!({ "member": p.member, "program": p.program }))
                    .collect::<Vec<_>>(),
            }),
            _ => Value::Null,
        },
    })
}

fn report(path: &str, spec: &ObjectSpec) -> Value {
    let data: Vec<Value> = spec
        .maps
        .iter()
        .filter_map(|m| match &m.definition {
            MapDefinition::Data { kind, section } => Some(json!({
                "section": section,
                "map": m.name,
                "kind": format!("{kind:?}").to_lowercase(),
                "size": m.value_size,
            })),
            _ => None,
        })
        .collect();
    let externs: Vec<Value> = spec
        .externs
        .iter()
        .map(|e| {
            let kind = match e.kind {
                ExternKind::Kconfig { .. } => "kconfig",
                ExternKind::KsymVariable { .. } => "ksym",
                ExternKind::Kfunc { .. } => "kfunc",
                ExternKind::Untyped => "untyped",
            };
            json!({ "name": e.name, "kind": kind, "weak": e.weak })
        })
        .collect();
    let mut by_kind = serde_json::Map::new();
    let mut total = 0u64;
    for relo in spec
        .programs
        .iter()
        .chain(&spec.subprograms)
        .flat_map(|p| &p.btf_ext.core_relos)
    {
        let name = CORE_RELO_KINDS
            .get(relo.kind as usize)
            .map_or_else(|| format!("kind_{}", relo.kind), |n| n.to_string());
        let entry = by_kind.entry(name).or_insert(json!(0));
        *entry = json!(entry.as_u64().unwrap_or(0) + 1);
        total += 1;
    }
    let subprograms: Vec<Value> = spec
        .subprograms
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "instructions": p.insn_count(),
                "relocations": p.relocations.len(),
                "calls": calls(p),
            })
        })
        .collect();
    json!({
        "file": path,
        "name": spec.name,
        "endianness": if spec.big_endian { "big" } else { "little" },
        "license": spec.license,
        "kernel_version": spec.kernel_version,
        "programs": spec.programs.iter().map(program_json).collect::<Vec<_>>(),
        "subprograms": subprograms,
        "maps": spec.maps.iter().map(map_json).collect::<Vec<_>>(),
        "data_sections": data,
        "externs": externs,
        "core_relocations": { "total": total, "by_kind": by_kind },
    })
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn map_line(m: &Value) -> String {
    let mut line = format!(
        "{} {} key={} value={} max_entries={} flags={:#x} {}",
        s(&m["name"]),
        s(&m["type"]),
        s(&m["key_size"]),
        s(&m["value_size"]),
        s(&m["max_entries"]),
        m["flags"].as_u64().unwrap_or(0),
        s(&m["definition"]),
    );
    if m["pinning"] != "none" {
        line += &format!(" pinning={}", s(&m["pinning"]));
    }
    if m["map_extra"].as_u64().unwrap_or(0) != 0 {
        line += &format!(" map_extra={:#x}", m["map_extra"].as_u64().unwrap_or(0));
    }
    if !m["inner_map"].is_null() {
        line += &format!(" inner=({})", map_line(&m["inner_map"]));
    }
    if !m["struct_ops"].is_null() {
        let members: Vec<String> = m["struct_ops"]["members"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| format!("{}={}", s(&v["member"]), s(&v["program"])))
                    .collect()
            })
            .unwrap_or_default();
        line += &format!(
            " struct {} {{{}}}",
            s(&m["struct_ops"]["type"]),
            members.join(", ")
        );
    }
    if let Some(slots) = m["initial_values"].as_array().filter(|a| !a.is_empty()) {
        let slots: Vec<String> = slots
            .iter()
            .map(|v| {
                let target = if v["program"].is_null() {
                    &v["map"]
                } else {
                    &v["program"]
                };
                format!("[{}]={}", s(&v["index"]), s(target))
            })
            .collect();
        line += &format!(" values={{{}}}", slots.join(", "));
    }
    line
}

/// The human-readable rendering of a report.
fn text(r: &Value) -> String {
    let mut out = format!(
        "object {} ({}, {}-endian, license {:?}",
        s(&r["file"]),
        s(&r["name"]),
        s(&r["endianness"]),
        s(&r["license"]),
    );
    if !r["kernel_version"].is_null() {
        out += &format!(", version {}", s(&r["kernel_version"]));
    }
    out += ")\n";
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let programs = list(&r["programs"]);
    out += &format!("programs ({}):\n", programs.len());
    for p in &programs {
        out += &format!(
            "  {} section={} type={} attach_type={} target={} insns={}",
            s(&p["name"]),
            s(&p["section"]),
            s(&p["program_type"]),
            s(&p["attach_type"]),
            s(&p["attach_target"]),
            s(&p["instructions"]),
        );
        if p["sleepable"] == true {
            out += " sleepable";
        }
        if p["autoload"] == false {
            out += " no-autoload";
        }
        let calls: Vec<String> = list(&p["calls"]).iter().map(s).collect();
        if !calls.is_empty() {
            out += &format!(" calls={}", calls.join(","));
        }
        out += "\n";
    }
    let subs = list(&r["subprograms"]);
    if !subs.is_empty() {
        out += &format!("subprograms ({}):\n", subs.len());
        for p in &subs {
            out += &format!("  {} insns={}\n", s(&p["name"]), s(&p["instructions"]));
        }
    }
    let maps = list(&r["maps"]);
    out += &format!("maps ({}):\n", maps.len());
    for m in &maps {
        out += &format!("  {}\n", map_line(m));
    }
    let data = list(&r["data_sections"]);
    if !data.is_empty() {
        out += &format!("data sections ({}):\n", data.len());
        for d in &data {
            out += &format!(
                "  {} map={} kind={} size={}\n",
                s(&d["section"]),
                s(&d["map"]),
                s(&d["kind"]),
                s(&d["size"])
            );
        }
    }
    let externs = list(&r["externs"]);
    if !externs.is_empty() {
        out += &format!("externs ({}):\n", externs.len());
        for e in &externs {
            out += &format!(
                "  {} {}{}\n",
                s(&e["name"]),
                s(&e["kind"]),
                if e["weak"] == true { " weak" } else { "" }
            );
        }
    }
    let core = &r["core_relocations"];
    out += &format!("CO-RE relocations: {}", s(&core["total"]));
    if let Some(kinds) = core["by_kind"].as_object().filter(|k| !k.is_empty()) {
        let parts: Vec<String> = kinds.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out += &format!(" ({})", parts.join(", "));
    }
    out += "\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_test_support::{corpus_dir, libbpf_parse};

    fn inspect(rel: &str) -> (String, Value) {
        inspect_path(&corpus_dir().join(rel))
    }

    fn inspect_path(path: &std::path::Path) -> (String, Value) {
        let bytes = std::fs::read(path).unwrap();
        let p = path.to_string_lossy().into_owned();
        let spec = ObjectSpec::parse_named(&bytes, &object_name_from_path(&p)).unwrap();
        (p.clone(), report(&p, &spec))
    }

    #[test]
    fn json_lists_what_libbpf_lists() {
        let (path, r) = inspect("libbpf-tools/biolatency.bpf.o");
        let libbpf = libbpf_parse(std::path::Path::new(&path)).unwrap();
        let progs: Vec<(String, String)> = r["programs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (s(&p["name"]), s(&p["section"])))
            .collect();
        let want: Vec<(String, String)> = libbpf
            .programs
            .iter()
            .map(|p| (p.name.clone(), p.section.clone()))
            .collect();
        assert_eq!(progs, want);
        let maps: Vec<(String, u64, u64, u64)> = r["maps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    s(&m["name"]),
                    m["key_size"].as_u64().unwrap(),
                    m["value_size"].as_u64().unwrap(),
                    m["max_entries"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64, u64, u64)> = libbpf
            .maps
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    m.key_size.into(),
                    m.value_size.into(),
                    m.max_entries.into(),
                )
            })
            .collect();
        assert_eq!(maps, want);
        assert_eq!(r["license"], "GPL");
        assert_eq!(r["externs"][0]["name"], "LINUX_KERNEL_VERSION");
        assert_eq!(r["externs"][0]["kind"], "kconfig");
        let tp_btf = r["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "block_rq_insert_btf")
            .unwrap();
        assert_eq!(tp_btf["program_type"], "tracing");
        assert_eq!(tp_btf["attach_type"], "trace_raw_tp");
        assert_eq!(tp_btf["attach_target"], "block_rq_insert");
    }

    #[test]
    fn json_shows_legacy_pinning_and_initial_values() {
        let (_, r) = inspect("cilium/testdata/iproute2_map_compat-el.elf");
        let m = &r["maps"][0];
        assert_eq!(m["name"], "hash_map");
        assert_eq!(m["definition"], "legacy");
        assert_eq!(m["pinning"], "global_ns");
        assert_eq!(m["type"], "hash");
        assert_eq!(
            (m["key_size"].as_u64(), m["value_size"].as_u64()),
            (Some(4), Some(8))
        );

        let (_, r) = inspect("cilium/testdata/btf_map_init-el.elf");
        let prog_array = &r["maps"][0];
        assert_eq!(prog_array["type"], "prog_array");
        assert_eq!(
            prog_array["initial_values"],
            json!([{ "index": 1, "program": "tail_1" }])
        );
        let outer = &r["maps"][2];
        assert_eq!(outer["inner_map"]["type"], "array");
        assert_eq!(
            outer["initial_values"],
            json!([{ "index": 1, "map": "inner_map" }])
        );
    }

    #[test]
    fn help_documents_the_json_shape() {
        use clap::Args as _;
        let mut cmd = Args::augment_args(clap::Command::new("inspect"));
        let help = cmd.render_long_help().to_string();
        for field in [
            "\"programs\"",
            "\"attach_target\"",
            "\"maps\"",
            "\"definition\": \"legacy\" | \"btf\"",
            "\"pinning\"",
            "\"data_sections\"",
            "\"externs\"",
            "\"core_relocations\"",
            "\"license\"",
        ] {
            assert!(help.contains(field), "--help lacks {field}:\n{help}");
        }
        // Every key the report prints is documented.
        let (_, r) = inspect("cilium/testdata/btf_map_init-el.elf");
        for key in r.as_object().unwrap().keys() {
            assert!(help.contains(&format!("\"{key}\"")), "--help lacks {key}");
        }
        for key in r["maps"][0].as_object().unwrap().keys() {
            assert!(
                help.contains(&format!("\"{key}\"")),
                "--help lacks map field {key}"
            );
        }
        for key in r["programs"][0].as_object().unwrap().keys() {
            assert!(
                help.contains(&format!("\"{key}\"")),
                "--help lacks program field {key}"
            );
        }
    }

    #[test]
    fn struct_ops_maps_show_their_type_and_members() {
        let (_, r) = inspect_path(&bpfkit_test_support::fixture("struct_ops"));
        let m = &r["maps"][0];
        assert_eq!(m["definition"], "struct_ops");
        assert_eq!(m["type"], "struct_ops");
        assert_eq!(m["struct_ops"]["type"], "tcp_congestion_ops");
        assert_eq!(
            m["struct_ops"]["members"][0],
            json!({ "member": "ssthresh", "program": "bpfkit_ssthresh" })
        );
        let t = text(&r);
        assert!(t.contains("struct tcp_congestion_ops {ssthresh=bpfkit_ssthresh, cong_avoid=bpfkit_cong_avoid, undo_cwnd=bpfkit_undo_cwnd}"), "{t}");
        let p = &r["programs"][0];
        assert_eq!(p["program_type"], "struct_ops");
    }

    #[test]
    fn text_has_one_line_per_program_and_map() {
        let (_, r) = inspect("libbpf-tools/execsnoop.bpf.o");
        let t = text(&r);
        assert!(t.contains("programs (2):\n  tracepoint__syscalls__sys_enter_execve section=tracepoint/syscalls/sys_enter_execve type=tracepoint attach_type=- target=syscalls/sys_enter_execve insns=1935\n"), "{t}");
        assert!(
            t.contains("  execs hash key=4 value=7720 max_entries=10240 flags=0x0 btf\n"),
            "{t}"
        );
        assert!(
            t.contains("  execsnoo.rodata array key=4 value=7732 max_entries=1 flags=0x480 data\n"),
            "{t}"
        );
        assert!(
            t.contains(".rodata map=execsnoo.rodata kind=rodata size=7732"),
            "{t}"
        );
    }
}
