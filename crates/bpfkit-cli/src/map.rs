//! `bpfkit map`: list loaded maps and dump one's elements, formatted through its BTF.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use bpfkit::info::{self, MapInfo};
use bpfkit::maps::{possible_cpus, MapData, MapType, MapTypeExt};
use bpfkit::sys::{self, uapi, ObjectKind};
use bpfkit_obj::btf::{Btf, Type, TypeId};
use serde_json::{json, Map, Value};

const LIST_ABOUT: &str = "\
List every loaded map, or show one by id or pin path, with what the kernel reports (bpf_map_info).

With --json, an array of objects of this shape (stable; fields may be added, never removed):
  [{ \"id\": 3, \"type\": \"hash\",            // bpftool's name (lower-case enum bpf_map_type)
     \"name\": \"counts\", \"flags\": 0, \"key_size\": 4, \"value_size\": 8,
     \"max_entries\": 1024, \"btf_id\": 7 }]   // btf_id 0: no BTF";

const DUMP_ABOUT: &str = "\
Print every element of a map given by id or by pin path (a path on a bpffs).

Keys and values are formatted through the map's BTF when it has some: structs and unions as
objects with their field names (bitfields extracted), integers as numbers (bool as true/false,
enums by enumerator name when one matches), char arrays as strings, other arrays as arrays,
global-data sections (.data, .bss, .rodata) as an object of their variables. Without BTF (or
for a part BTF cannot describe) the bytes are printed as a string of hex bytes \"0a 00 00 00\".
Per-CPU maps give one value per possible CPU.

Maps without keys (queue, stack, ring buffers, bloom filter) cannot be dumped: that is an
error naming the map type.

With --json, one object (stable; fields may be added, never removed):
  { \"id\": 3, \"name\": \"counts\", \"type\": \"hash\", \"btf\": true,
    \"entries\": [ { \"key\": <formatted>, \"value\": <formatted> }
                 | { \"key\": <formatted>, \"values\": [ { \"cpu\": 0, \"value\": <formatted> } ] } ] }";

/// `bpfkit map` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List every loaded map.
    #[command(long_about = LIST_ABOUT)]
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one map, by id or pin path.
    #[command(long_about = LIST_ABOUT)]
    Show {
        /// A map id, or the path of a pinned map.
        map: String,
        /// Print JSON instead of text (one object of the `list` shape).
        #[arg(long)]
        json: bool,
    },
    /// Dump a map's elements, formatted through BTF where present.
    #[command(long_about = DUMP_ABOUT)]
    Dump {
        /// A map id, or the path of a pinned map.
        map: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// bpftool's name of a map type number (the lower-case kernel name), or the number.
pub fn type_name(number: u32) -> String {
    MapType::from_number(number)
        .map(|t| t.kernel_name().to_string())
        .unwrap_or_else(|| number.to_string())
}

fn list_json(m: &MapInfo) -> Value {
    json!({
        "id": m.id,
        "type": type_name(m.map_type),
        "name": m.name,
        "flags": m.map_flags,
        "key_size": m.key_size,
        "value_size": m.value_size,
        "max_entries": m.max_entries,
        "btf_id": m.btf_id,
    })
}

fn list_text(m: &MapInfo) -> String {
    format!(
        "{}: {}  name {}  flags 0x{:x}\n\tkey {}B  value {}B  max_entries {}{}",
        m.id,
        type_name(m.map_type),
        m.name,
        m.map_flags,
        m.key_size,
        m.value_size,
        m.max_entries,
        if m.btf_id != 0 {
            format!("  btf_id {}", m.btf_id)
        } else {
            String::new()
        }
    )
}

/// The bytes as `"0a 00 00 00"`.
fn hex(bytes: &[u8]) -> Value {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Value::String(parts.join(" "))
}

/// Read the BTF object `id` from the kernel and parse it.
pub fn kernel_btf_by_id(id: u32) -> Result<Btf<'static>, String> {
    let fd = sys::get_fd_by_id(ObjectKind::Btf, id).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("BTF id {id}: {e}")
    })?;
    let mut first: uapi::bpf_btf_info = sys::zeroed();
    // SAFETY: no pointer fields are set in `first`.
    unsafe { sys::obj_get_info_by_fd(fd.as_fd(), &mut first) }.map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("BTF id {id}: {e}")
    })?;
    let mut data = vec![0u8; first.btf_size as usize];
    let mut again: uapi::bpf_btf_info = sys::zeroed();
    again.btf = data.as_mut_ptr() as u64;
    again.btf_size = data.len() as u32;
    // SAFETY: `data` holds `btf_size` bytes and outlives the call.
    unsafe { sys::obj_get_info_by_fd(fd.as_fd(), &mut again) }.map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("BTF id {id}: {e}")
    })?;
    data.truncate(again.btf_size.min(data.len() as u32) as usize);
    Btf::parse_owned(data).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("BTF id {id}: {e}")
    })
}

/// Formats bytes as a BTF type describes them.
struct Formatter<'b> {
    btf: &'b Btf<'static>,
}

impl Formatter<'_> {
    /// Format `bytes` as type `id`; hex where BTF cannot describe them.
    fn value(&self, id: TypeId, bytes: &[u8], depth: usize) -> Value {
        self.try_value(id, bytes, depth)
            .unwrap_or_else(|| hex(bytes))
    }

    fn try_value(&self, id: TypeId, bytes: &[u8], depth: usize) -> Option<Value> {
        if depth > 32 {
            return None;
        }
        let id = self.btf.skip_mods_and_typedefs(id).ok()?;
        let ty = self.btf.type_by_id(id).ok()?;
        match &ty {
            Type::Int(i) => {
                let size = i.size as usize;
                let raw = bytes.get(..size)?;
                if size > 8 {
                    return Some(hex(raw));
                }
                let mut v = read_uint(raw);
                let bits = u32::from(i.bits);
                if bits < 64 {
                    v = (v >> i.offset) & ((1u64 << bits) - 1);
                }
                Some(int_value(
                    v,
                    bits,
                    i.encoding.is_signed(),
                    i.encoding.is_bool(),
                ))
            }
            Type::Enum(e) | Type::Enum64(e) => {
                let raw = bytes.get(..e.size as usize)?;
                let v = read_uint(raw);
                let is64 = matches!(ty, Type::Enum64(_));
                let width = e.size * 8;
                let masked = |r: u64| {
                    if width >= 64 {
                        r
                    } else {
                        r & ((1u64 << width) - 1)
                    }
                };
                if let Some(name) = e.values.iter().find(|x| masked(x.raw) == v).map(|x| x.name) {
                    return Some(Value::String(name.to_owned()));
                }
                let _ = is64;
                Some(int_value(v, width, e.signed, false))
            }
            Type::Ptr(_) => {
                let size = self.btf.pointer_size() as usize;
                Some(Value::from(read_uint(bytes.get(..size)?)))
            }
            Type::Float(f) => match f.size {
                4 => Some(Value::from(f32::from_ne_bytes(
                    bytes.get(..4)?.try_into().ok()?,
                ))),
                8 => Some(Value::from(f64::from_ne_bytes(
                    bytes.get(..8)?.try_into().ok()?,
                ))),
                _ => None,
            },
            Type::Array(a) => {
                let elem = self.btf.skip_mods_and_typedefs(a.elem_type).ok()?;
                let elem_size = self.btf.resolve_size(elem).ok()? as usize;
                let total = elem_size.checked_mul(a.nelems as usize)?;
                let raw = bytes.get(..total)?;
                if elem_size == 1 {
                    if let Ok(Type::Int(i)) = self.btf.type_by_id(elem) {
                        if i.encoding.is_char() || i.name.contains("char") {
                            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                            return Some(Value::String(
                                String::from_utf8_lossy(&raw[..end]).into_owned(),
                            ));
                        }
                    }
                }
                if elem_size == 0 {
                    return Some(Value::Array(Vec::new()));
                }
                Some(Value::Array(
                    raw.chunks(elem_size)
                        .map(|c| self.value(elem, c, depth + 1))
                        .collect(),
                ))
            }
            Type::Struct(c) | Type::Union(c) => {
                let raw = bytes.get(..c.size as usize)?;
                let mut out = Map::new();
                for m in &c.members {
                    let v = if m.bitfield_size != 0 {
                        let start = (m.bit_offset / 8) as usize;
                        let shift = m.bit_offset % 8;
                        let span = raw.get(start..(start + 8).min(raw.len()))?;
                        let bits = u32::from(m.bitfield_size);
                        let word = read_uint(span) >> shift;
                        let v = if bits < 64 {
                            word & ((1u64 << bits) - 1)
                        } else {
                            word
                        };
                        let signed = match self
                            .btf
                            .skip_mods_and_typedefs(m.type_id)
                            .and_then(|t| self.btf.type_by_id(t))
                        {
                            Ok(Type::Int(i)) => i.encoding.is_signed(),
                            Ok(Type::Enum(e)) | Ok(Type::Enum64(e)) => e.signed,
                            _ => false,
                        };
                        int_value(v, bits, signed, false)
                    } else {
                        if m.bit_offset % 8 != 0 {
                            return None;
                        }
                        let start = (m.bit_offset / 8) as usize;
                        self.value(m.type_id, raw.get(start..)?, depth + 1)
                    };
                    match (m.name.is_empty(), v) {
                        // An anonymous struct or union: its fields appear in the parent.
                        (true, Value::Object(inner)) => out.extend(inner),
                        (true, v) => {
                            out.insert(format!("(anon@{})", m.bit_offset / 8), v);
                        }
                        (false, v) => {
                            out.insert(m.name.to_owned(), v);
                        }
                    }
                }
                Some(Value::Object(out))
            }
            Type::Datasec(d) => {
                let mut out = Map::new();
                for var in &d.vars {
                    let name = self.btf.name(var.type_id).ok()?.to_owned();
                    let ty = self.btf.type_by_id(var.type_id).ok()?.referenced_type()?;
                    let start = var.offset as usize;
                    let raw = bytes.get(start..start.checked_add(var.size as usize)?)?;
                    out.insert(name, self.value(ty, raw, depth + 1));
                }
                Some(Value::Object(out))
            }
            _ => None,
        }
    }
}

/// Little-endian (host order on the supported targets) unsigned read of up to 8 bytes.
fn read_uint(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    if cfg!(target_endian = "little") {
        buf[..n].copy_from_slice(&bytes[..n]);
        u64::from_le_bytes(buf)
    } else {
        buf[8 - n..].copy_from_slice(&bytes[..n]);
        u64::from_be_bytes(buf)
    }
}

/// An integer of `bits` width as JSON: sign-extended if signed, `true`/`false` for bool.
fn int_value(v: u64, bits: u32, signed: bool, is_bool: bool) -> Value {
    if is_bool {
        return Value::Bool(v != 0);
    }
    if signed && bits > 0 && bits <= 64 {
        let shift = 64 - bits;
        Value::from(((v << shift) as i64) >> shift)
    } else {
        Value::from(v)
    }
}

/// Opens `arg` as a map id (digits) or a pin path.
fn open(arg: &str) -> Result<MapData, String> {
    if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit()) {
        let id: u32 = arg.parse().map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("map id {arg}: {e}")
        })?;
        MapData::from_id(id).map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("map id {id}: {e}")
        })
    } else {
        MapData::from_pin(PathBuf::from(arg)).map_err(|e| {
            let e = bpfkit::Report(&e);
            e.to_string()
        })
    }
}

/// Every element of `map`, formatted.
fn dump(map: &MapData) -> Result<Value, String> {
    let fd: BorrowedFd<'_> = map.as_fd();
    let raw = info::map_info(fd).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("map '{}': {e}", map.name())
    })?;
    let ty = map.map_type();
    if matches!(
        ty,
        MapType::Queue
            | MapType::Stack
            | MapType::Ringbuf
            | MapType::UserRingbuf
            | MapType::BloomFilter
    ) || map.key_size() == 0
    {
        return Err(format!(
            "map '{}' is a {} map: it has no keys to dump",
            map.name(),
            type_name(ty.number())
        ));
    }
    let btf = if raw.btf_id != 0 {
        Some(kernel_btf_by_id(raw.btf_id)?)
    } else {
        None
    };
    let fmt = btf.as_ref().map(|btf| Formatter { btf });
    let format = |type_id: u32, bytes: &[u8]| -> Value {
        match &fmt {
            Some(f) if type_id != 0 => f.value(type_id, bytes, 0),
            _ => hex(bytes),
        }
    };
    let value_size = map.value_size() as usize;
    let per_cpu = ty.is_per_cpu();
    let mut value = vec![
        0u8;
        map.value_buffer_size().map_err(|e| {
            let e = bpfkit::Report(&e);
            e.to_string()
        })?
    ];
    let cpus = if per_cpu {
        possible_cpus().map_err(|e| {
            let e = bpfkit::Report(&e);
            e.to_string()
        })?
    } else {
        1
    };
    let stride = value_size.div_ceil(8) * 8;
    let mut entries = Vec::new();
    for key in map.keys_bytes() {
        let key = key.map_err(|e| {
            let e = bpfkit::Report(&e);
            e.to_string()
        })?;
        if !map.lookup_bytes(&key, &mut value, 0).map_err(|e| {
            let e = bpfkit::Report(&e);
            e.to_string()
        })? {
            continue; // deleted since the key was listed
        }
        let k = format(raw.btf_key_type_id, &key);
        if per_cpu {
            let values: Vec<Value> = (0..cpus)
                .map(|cpu| {
                    let v = &value[cpu * stride..cpu * stride + value_size];
                    json!({ "cpu": cpu, "value": format(raw.btf_value_type_id, v) })
                })
                .collect();
            entries.push(json!({ "key": k, "values": values }));
        } else {
            entries.push(json!({ "key": k, "value": format(raw.btf_value_type_id, &value) }));
        }
    }
    Ok(json!({
        "id": raw.id,
        "name": map.name(),
        "type": type_name(ty.number()),
        "btf": raw.btf_id != 0 && raw.btf_value_type_id != 0,
        "entries": entries,
    }))
}

/// Run a `bpfkit map` subcommand.
pub fn run(cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Command::List { json } => {
            let maps = info::loaded_maps().map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("listing maps: {e}")
            })?;
            if json {
                println!(
                    "{}",
                    Value::from(maps.iter().map(list_json).collect::<Vec<_>>())
                );
            } else {
                for m in &maps {
                    println!("{}", list_text(m));
                }
            }
        }
        Command::Show { map, json } => {
            let map = open(&map)?;
            let m = MapInfo::from_fd(map.as_fd()).map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("map '{}': {e}", map.name())
            })?;
            if json {
                println!("{}", list_json(&m));
            } else {
                println!("{}", list_text(&m));
            }
        }
        Command::Dump { map, json } => {
            let map = open(&map)?;
            let out = dump(&map)?;
            if json {
                println!("{out}");
            } else {
                let entries = out["entries"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                for e in entries {
                    match e.get("values") {
                        Some(values) => println!("key: {}  values: {values}", e["key"]),
                        None => println!("key: {}  value: {}", e["key"], e["value"]),
                    }
                }
                println!("Found {} elements", entries.len());
            }
        }
    }
    Ok(())
}
