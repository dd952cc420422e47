//! `bpfkit load`: load every program and map of an object, print their ids, optionally pin them.

use std::path::{Path, PathBuf};

use bpfkit::loader::{Loader, Object};
use bpfkit_obj::btf::{Btf, Kind, Type};
use bpfkit_obj::object::ObjectSpec;
use serde_json::{json, Value};

pub const LONG_ABOUT: &str = "\
Load every program and map of a BPF ELF object into the kernel, like `bpftool prog loadall`.
Exit status 0 only if everything loaded; otherwise the error (with the verifier log) is printed
and nothing stays loaded.

Without --pin-dir nothing is pinned: the kernel frees the programs and maps when bpfkit exits,
so the ids printed are only useful as proof that the object loads. With --pin-dir DIR (on a
bpffs), each program is pinned at DIR/<program name> and each map at DIR/maps/<map name> with
'.' replaced by '_' (bpftool's `pinmaps` names); they stay loaded until the pins are removed.
DIR is also where maps declared with LIBBPF_PIN_BY_NAME are reused or pinned. DIR must be on a
bpffs (checked before loading; directories created for it are removed if the load fails).

--set NAME=VALUE sets a global variable (.rodata, .data, .bss) before load: VALUE is an
integer (decimal, 0x hex, negative), true/false, or a string for a char array; it is encoded
to the variable's size from the object's BTF.

With --json, one object is printed. Its shape is stable; fields may be added, never removed:
{
  \"object\": \"execsnoop\",
  \"pin_dir\": \"/sys/fs/bpf/x\" | null,
  \"programs\": [{ \"name\": \"tracepoint__syscalls__sys_enter_execve\", \"id\": 123,
                 \"type\": \"tracepoint\", \"tag\": \"0123456789abcdef\",
                 \"pin\": \"/sys/fs/bpf/x/tracepoint__syscalls__sys_enter_execve\" | null }],
  \"maps\": [{ \"name\": \"events\", \"id\": 45, \"type\": \"perf_event_array\", \"key_size\": 4,
             \"value_size\": 4, \"max_entries\": 2, \"pin\": \"/sys/fs/bpf/x/maps/events\" | null }]
}";

/// Arguments of `bpfkit load`.
#[derive(clap::Args)]
#[command(long_about = LONG_ABOUT)]
pub struct Args {
    /// The BPF ELF object.
    object: PathBuf,
    /// Pin programs and maps in this directory (on a bpffs) and keep them loaded.
    #[arg(long)]
    pin_dir: Option<PathBuf>,
    /// Set a global variable before load (repeatable), e.g. `--set targ_pid=1234`.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    globals: Vec<String>,
    /// Override a map's max_entries (repeatable), e.g. `--max-entries stackmap=1024`.
    #[arg(long = "max-entries", value_name = "MAP=N")]
    max_entries: Vec<String>,
    /// Override a map's value_size (repeatable), e.g. `--value-size stackmap=1016`.
    #[arg(long = "value-size", value_name = "MAP=N")]
    value_size: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Load through a BPF token from the bpffs mounted at PATH (default: $BPFKIT_TOKEN_PATH,
    /// else /sys/fs/bpf when running in a user namespace).
    #[arg(long, value_name = "PATH")]
    token_path: Option<PathBuf>,
}

/// Split `NAME=VALUE`.
fn split_assignment<'a>(flag: &str, text: &'a str) -> Result<(&'a str, &'a str), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name, value)),
        _ => Err(format!("--{flag} {text:?}: expected NAME=VALUE")),
    }
}

fn parse_u32(flag: &str, name: &str, text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("--{flag} {name}={text}: {e}")
    })
}

/// Encode `value` for the global `name` of the object's BTF (its size and kind).
fn encode_global(btf: &Btf<'_>, name: &str, value: &str) -> Result<Vec<u8>, String> {
    let var = btf
        .id_by_name_kind(name, Kind::Var)
        .ok_or_else(|| format!("--set {name}: the object has no global variable {name:?}"))?;
    let err = |e: bpfkit_obj::btf::BtfError| format!("--set {name}: {}", bpfkit::Report(&e));
    let ty = btf
        .type_by_id(var)
        .map_err(err)?
        .referenced_type()
        .ok_or_else(|| format!("--set {name}: variable without a type"))?;
    let resolved = btf.skip_mods_and_typedefs(ty).map_err(err)?;
    let size = btf.resolve_size(resolved).map_err(err)? as usize;
    if let Type::Array(a) = btf.type_by_id(resolved).map_err(err)? {
        let elem = btf.skip_mods_and_typedefs(a.elem_type).map_err(err)?;
        if btf.resolve_size(elem).map_err(err)? == 1 {
            if value.len() >= size {
                return Err(format!(
                    "--set {name}: string of {} bytes does not fit in char[{size}] with its NUL",
                    value.len()
                ));
            }
            let mut out = value.as_bytes().to_vec();
            out.resize(size, 0);
            return Ok(out);
        }
    }
    let number: i128 = match value {
        "true" => 1,
        "false" => 0,
        _ => {
            let (neg, digits) = match value.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, value),
            };
            let magnitude = match digits.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => digits.parse::<u64>(),
            }
            .map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("--set {name}={value}: {e}")
            })?;
            if neg {
                -i128::from(magnitude)
            } else {
                i128::from(magnitude)
            }
        }
    };
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(format!(
            "--set {name}: a {size}-byte variable cannot be set from an integer"
        ));
    }
    let bits = size * 8;
    let (min, max) = (-(1i128 << (bits - 1)), (1i128 << bits) - 1);
    if number < min || number > max {
        return Err(format!(
            "--set {name}={value}: does not fit in {size} bytes"
        ));
    }
    Ok((number as u64).to_ne_bytes()[..size].to_vec())
}

/// The loader configured from the command line.
fn loader(args: &Args, spec: &ObjectSpec) -> Result<Loader, String> {
    let mut loader = Loader::new();
    if let Some(dir) = &args.pin_dir {
        loader.pin_dir(dir);
    }
    if let Some(path) = &args.token_path {
        loader.token_path(path);
    }
    for text in &args.max_entries {
        let (map, n) = split_assignment("max-entries", text)?;
        loader.max_entries(map, parse_u32("max-entries", map, n)?);
    }
    for text in &args.value_size {
        let (map, n) = split_assignment("value-size", text)?;
        loader.value_size(map, parse_u32("value-size", map, n)?);
    }
    if !args.globals.is_empty() {
        let raw = spec
            .btf
            .as_deref()
            .ok_or("--set needs the object's BTF, and the object has none")?;
        let btf = Btf::parse(raw).map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("object BTF: {e}")
        })?;
        for text in &args.globals {
            let (name, value) = split_assignment("set", text)?;
            loader.set_global(name, &encode_global(&btf, name, value)?);
        }
    }
    Ok(loader)
}

/// bpftool's pin name of a map: `.` replaced by `_`.
fn map_pin_name(name: &str) -> String {
    name.replace('.', "_")
}

/// Pin every program and map under `dir`; on failure remove the pins made so far.
fn pin_all(object: &Object, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut made = Vec::new();
    let result = (|| {
        for p in object.programs() {
            let path = dir.join(p.name());
            p.pin(&path).map_err(|e| {
                let e = bpfkit::Report(&e);
                e.to_string()
            })?;
            made.push(path);
        }
        for (name, m) in object.maps() {
            let path = dir.join("maps").join(map_pin_name(name));
            m.pin(&path).map_err(|e| {
                let e = bpfkit::Report(&e);
                e.to_string()
            })?;
            made.push(path);
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(made),
        Err(e) => {
            for path in &made {
                let _ = std::fs::remove_file(path);
            }
            Err(e)
        }
    }
}

/// Run `bpfkit load`.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Before anything loads: a pin directory off a bpffs is an error that says so.
    let created = match &args.pin_dir {
        Some(dir) => Some(crate::pin_dir::prepare(dir, &["maps"])?),
        None => None,
    };
    let result = load_and_print(&args);
    if result.is_err() {
        if let Some(created) = created {
            created.remove();
        }
    }
    result
}

fn load_and_print(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(&args.object).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("reading {}: {e}", args.object.display())
    })?;
    let name = bpfkit_obj::object::object_name_from_path(&args.object.to_string_lossy());
    let spec = ObjectSpec::parse_named(&bytes, &name).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("{}: {e}", args.object.display())
    })?;
    let loader = loader(args, &spec)?;
    let object = loader.load_spec(&spec)?;
    if let Some(dir) = &args.pin_dir {
        pin_all(&object, dir)?;
    }

    let pin_of = |sub: Option<&str>, name: &str| -> Value {
        match (&args.pin_dir, sub) {
            (Some(dir), Some(sub)) => json!(dir.join(sub).join(name)),
            (Some(dir), None) => json!(dir.join(name)),
            (None, _) => Value::Null,
        }
    };
    let mut programs = Vec::new();
    for p in object.programs() {
        let info = p.info().map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("program {}: {e}", p.name())
        })?;
        let ty = crate::prog::type_name(info.program_type);
        programs.push(json!({
            "name": p.name(),
            "id": info.id,
            "type": ty,
            "tag": info.tag_hex(),
            "pin": pin_of(None, p.name()),
        }));
    }
    let mut maps = Vec::new();
    for (name, m) in object.maps() {
        maps.push(json!({
            "name": name,
            "id": m.id()?,
            "type": m.map_type().kernel_name(),
            "key_size": m.key_size(),
            "value_size": m.value_size(),
            "max_entries": m.max_entries(),
            "pin": pin_of(Some("maps"), &map_pin_name(name)),
        }));
    }
    if args.json {
        let out = json!({
            "object": object.name(),
            "pin_dir": args.pin_dir,
            "programs": programs,
            "maps": maps,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "loaded {}: {} programs, {} maps",
        object.name(),
        programs.len(),
        maps.len()
    );
    for p in &programs {
        println!(
            "program {} id {} type {} tag {}",
            p["name"].as_str().unwrap_or_default(),
            p["id"],
            p["type"].as_str().unwrap_or_default(),
            p["tag"].as_str().unwrap_or_default()
        );
    }
    for m in &maps {
        println!(
            "map {} id {} type {} key {} value {} max_entries {}",
            m["name"].as_str().unwrap_or_default(),
            m["id"],
            m["type"].as_str().unwrap_or_default(),
            m["key_size"],
            m["value_size"],
            m["max_entries"]
        );
    }
    match &args.pin_dir {
        Some(dir) => println!(
            "pinned under {} (programs) and {} (maps); remove the pins to unload",
            dir.display(),
            dir.join("maps").display()
        ),
        None => println!(
            "not pinned: the kernel frees these programs and maps now that bpfkit exits \
             (use --pin-dir to keep them)"
        ),
    }
    Ok(())
}
