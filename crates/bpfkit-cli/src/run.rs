//! `bpfkit run`: load an object, auto-attach every program by its section, print ring/perf
//! buffer records until Ctrl-C or `--duration`, then print every hash/array map.
//!
//! Records are decoded through the object's BTF: as the type `--record MAP=TYPE` names, else as
//! the one struct of the object that fits them (see [`Decoder::record`]); otherwise they are
//! printed as hex with an ASCII column.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bpfkit::loader::{Loader, Object};
use bpfkit::maps::MapType;
use bpfkit::programs::{self, AttachError};
use bpfkit::readers::{PerfBuffer, PerfBufferOptions, RingBuf, RingBufPoller};
use bpfkit_obj::btf::{Btf, Kind, Type};
use bpfkit_obj::object::ObjectSpec;

/// The `--help` text: how records are decoded.
pub const LONG_ABOUT: &str = "\
Load an object, attach every program by its section name, print the records its ring buffers
and perf event arrays receive until Ctrl-C or --duration, then print every hash/array map.

Records are decoded through the object's BTF. --record MAP=TYPE names the struct (or union) the
records of MAP have. Otherwise bpfkit picks the record type among the object's own named
structs (those the running kernel's BTF does not define, so not trace_event_raw_* and other
kernel types the programs read): first a struct of exactly the record's size, then one the
record exceeds only by perf's 8-byte padding, then one whose trailing byte array (a string or
buffer) was sent in part;
among several at the same step one whose name contains \"event\" (any case) wins, and if that
leaves several the record is printed as hex with a hint to use --record. Arrays of 1-byte
integers print as strings: char arrays always, u8/i8 arrays (Rust's [u8; N]) when they hold
NUL-terminated text.";

/// Arguments of `bpfkit run`.
#[derive(clap::Args)]
pub struct Args {
    /// The BPF object file.
    object: PathBuf,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Pin maps that ask for pinning here (and reuse pins found there).
    #[arg(long)]
    pin_dir: Option<PathBuf>,
    /// Set a `.rodata`/`.data` global before load: NAME=VALUE (integer, hex `0x..`, true/false).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Resize a map before load: MAP=N.
    #[arg(long = "max-entries", value_name = "MAP=N")]
    max_entries: Vec<String>,
    /// Decode the records of ring buffer or perf event array MAP as the struct TYPE of the
    /// object's BTF (repeatable).
    #[arg(long = "record", value_name = "MAP=TYPE")]
    records: Vec<String>,
    /// Attach XDP and tc programs (`xdp`, `tc`, `tcx/ingress`, `tcx/egress`) to this
    /// network interface (name or index).
    #[arg(long, value_name = "IF")]
    iface: Option<String>,
    /// Attach cgroup programs (`cgroup_skb/…`, `cgroup/…`, `sockops`, `lsm_cgroup/…`) to this
    /// cgroup v2 directory.
    #[arg(long, value_name = "PATH")]
    cgroup: Option<PathBuf>,
    /// Load through a BPF token from the bpffs mounted at PATH (default: $BPFKIT_TOKEN_PATH,
    /// else /sys/fs/bpf when running in a user namespace).
    #[arg(long, value_name = "PATH")]
    token_path: Option<PathBuf>,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Run the command.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let path = &args.object;
    let bytes = std::fs::read(path).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("reading {}: {e}", path.display())
    })?;
    let name = bpfkit_obj::object::object_name_from_path(&path.to_string_lossy());
    let spec = ObjectSpec::parse_named(&bytes, &name).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("{}: {e}", path.display())
    })?;
    let btf = spec.btf_fixed.as_deref().and_then(|b| Btf::parse(b).ok());

    let mut loader = Loader::new();
    if let Some(dir) = &args.pin_dir {
        loader.pin_dir(dir);
    }
    if let Some(path) = &args.token_path {
        loader.token_path(path);
    }
    for assignment in &args.set {
        let (var, value) = assignment
            .split_once('=')
            .ok_or_else(|| format!("--set {assignment}: expected NAME=VALUE"))?;
        let size = btf
            .as_ref()
            .and_then(|b| global_size(b, var))
            .ok_or_else(|| format!("--set {var}: no such global variable in the object's BTF"))?;
        loader.set_global(
            var,
            &encode_value(value, size).map_err(|e| format!("--set {var}: {e}"))?,
        );
    }
    for resize in &args.max_entries {
        let (map, n) = resize
            .split_once('=')
            .ok_or_else(|| format!("--max-entries {resize}: expected MAP=N"))?;
        let n: u32 = n.parse().map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("--max-entries {resize}: {e}")
        })?;
        loader.max_entries(map, n);
    }
    // Checked and created just before the load; removed again if the load fails.
    let created = match &args.pin_dir {
        Some(dir) => Some(crate::pin_dir::prepare(dir, &[])?),
        None => None,
    };
    let object = match loader.load_spec(&spec) {
        Ok(object) => object,
        Err(e) => {
            if let Some(created) = created {
                created.remove();
            }
            return Err(Box::new(e));
        }
    };

    // Readers first: samples sent before a perf buffer is open would be lost.
    let mut readers = open_readers(&object)?;
    let mut links = Vec::new();
    let index = args.iface.as_deref().and_then(|i| i.parse::<u32>().ok());
    let targets = programs::auto::AutoTargets {
        interface: match (index, args.iface.as_deref()) {
            (Some(i), _) => Some(programs::Interface::Index(i)),
            (None, Some(name)) => Some(programs::Interface::Name(name)),
            (None, None) => None,
        },
        cgroup: args.cgroup.as_deref(),
    };
    for program in object.programs() {
        match programs::auto::attach_with(program, &targets) {
            Ok(link) => {
                println!("attached {} ({})", program.name(), program.section().name);
                links.push(link);
            }
            Err(AttachError::NotAutoAttachable { .. }) => {
                eprintln!(
                    "not attached: {} (section '{}' names no target)",
                    program.name(),
                    program.section().name
                )
            }
            Err(e) => eprintln!("attach failed: {}", bpfkit::Report(&e)),
        }
    }
    if links.is_empty() {
        return Err(format!("{}: no program could be attached", path.display()).into());
    }

    println!(
        "tracing{}",
        args.duration
            .map_or(" until Ctrl-C".to_owned(), |d| format!(" for {d} s"))
    );
    let decoder = Decoder::new(btf.as_ref(), &args.records, &object)?;
    read_events(&mut readers, &decoder, args.duration)?;
    drop(links);
    print_maps(&object, &spec, &decoder);
    Ok(())
}

/// The ring buffers (in one poller) and perf buffers of an object.
struct Readers {
    rings: RingBufPoller,
    ring_names: Vec<String>,
    perf: Vec<(String, PerfBuffer)>,
}

fn open_readers(object: &Object) -> Result<Readers, Box<dyn std::error::Error>> {
    let mut readers = Readers {
        rings: RingBufPoller::new()?,
        ring_names: Vec::new(),
        perf: Vec::new(),
    };
    for (name, map) in object.maps() {
        match map.map_type() {
            MapType::Ringbuf => {
                readers.rings.add(RingBuf::new(map)?)?;
                readers.ring_names.push(name.to_owned());
            }
            MapType::PerfEventArray => {
                let buffer = PerfBuffer::open(map, &PerfBufferOptions::default())?;
                readers.perf.push((name.to_owned(), buffer));
            }
            _ => {}
        }
    }
    Ok(readers)
}

fn read_events(
    readers: &mut Readers,
    decoder: &Decoder<'_>,
    duration: Option<f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let Readers {
        rings,
        ring_names,
        perf,
    } = readers;
    let deadline = duration.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let slice = Duration::from_millis(if perf.is_empty() || ring_names.is_empty() {
        100
    } else {
        50
    });
    let print = |map: &str, record: &[u8]| println!("{map}: {}", decoder.record(map, record));
    while !STOP.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        if !ring_names.is_empty() {
            rings.poll(Some(slice), |i, record| print(&ring_names[i], record))?;
        }
        for (name, buffer) in perf.iter_mut() {
            buffer.poll(Some(slice), |_cpu, record| print(name, record))?;
        }
        if ring_names.is_empty() && perf.is_empty() {
            std::thread::sleep(slice);
        }
    }
    for (name, buffer) in perf.iter() {
        if buffer.lost() > 0 {
            println!("{name}: {} samples lost", buffer.lost());
        }
    }
    Ok(())
}

fn print_maps(object: &Object, spec: &ObjectSpec, decoder: &Decoder<'_>) {
    for (name, map) in object.maps() {
        if !matches!(
            map.map_type(),
            MapType::Hash | MapType::LruHash | MapType::Array
        ) {
            continue;
        }
        let ms = spec.maps.iter().find(|m| m.name == name);
        let key_type = ms.and_then(|m| m.btf_key_type_id);
        let value_type = ms.and_then(|m| m.btf_value_type_id);
        println!("map {name}:");
        let mut value = vec![0u8; map.value_size() as usize];
        let mut shown = 0;
        for key in map.keys_bytes() {
            let Ok(key) = key else { break };
            if !matches!(map.lookup_bytes(&key, &mut value, 0), Ok(true)) {
                continue;
            }
            if map.map_type() == MapType::Array
                && value.iter().all(|&b| b == 0)
                && !name.contains('.')
            {
                continue; // unset array slots
            }
            println!(
                "  {} => {}",
                decoder.typed(key_type, &key),
                decoder.typed(value_type, &value)
            );
            shown += 1;
            if shown >= 1000 {
                println!("  ... (first 1000 entries)");
                break;
            }
        }
    }
}

fn global_size(btf: &Btf<'_>, var: &str) -> Option<usize> {
    btf.types().flatten().find_map(|(_, t)| match t {
        Type::Datasec(d) => d.vars.iter().find_map(|v| {
            matches!(btf.type_by_id(v.type_id), Ok(Type::Var(x)) if x.name == var)
                .then_some(v.size as usize)
        }),
        _ => None,
    })
}

fn encode_value(value: &str, size: usize) -> Result<Vec<u8>, String> {
    let n: i128 = match value {
        "true" => 1,
        "false" => 0,
        v => {
            let (neg, digits) = v.strip_prefix('-').map_or((false, v), |d| (true, d));
            let n = match digits.strip_prefix("0x") {
                Some(h) => i128::from_str_radix(h, 16),
                None => digits.parse(),
            }
            .map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("'{value}' is not an integer: {e}")
            })?;
            if neg {
                -n
            } else {
                n
            }
        }
    };
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(format!(
            "the variable is {size} bytes; only 1, 2, 4 and 8-byte integers can be set"
        ));
    }
    let bits = size * 8;
    let fits = n >= -(1i128 << (bits - 1)) && n < (1i128 << bits);
    if !fits {
        return Err(format!("{value} does not fit in {size} bytes"));
    }
    Ok((n as u64).to_ne_bytes()[..size].to_vec())
}

/// A struct that may be the type of ring/perf records.
struct Candidate {
    id: u32,
    name: String,
    size: usize,
    /// Offset of a trailing byte array (a record may carry only part of it), else `size`.
    fixed: usize,
}

/// Formats bytes through the object's BTF.
struct Decoder<'b> {
    btf: Option<&'b Btf<'b>>,
    /// `--record MAP=TYPE`: the type id of the records of each named map.
    records: HashMap<String, u32>,
    /// The object's own named structs (not defined by the kernel's BTF).
    candidates: Vec<Candidate>,
    /// Maps already told about an ambiguous record, so the hint is printed once.
    hinted: RefCell<HashSet<String>>,
}

/// The id of the struct or union (or typedef of one) named `name`.
fn record_type(btf: &Btf<'_>, name: &str) -> Option<u32> {
    btf.ids_by_name(name).into_iter().find(|&id| {
        btf.skip_mods_and_typedefs(id)
            .and_then(|t| btf.type_by_id(t))
            .is_ok_and(|t| matches!(t, Type::Struct(_) | Type::Union(_)))
    })
}

impl<'b> Decoder<'b> {
    fn new(btf: Option<&'b Btf<'b>>, records: &[String], object: &Object) -> Result<Self, String> {
        let mut by_map = HashMap::new();
        for text in records {
            let (map, ty) = text
                .split_once('=')
                .filter(|(m, t)| !m.is_empty() && !t.is_empty())
                .ok_or_else(|| format!("--record {text}: expected MAP=TYPE"))?;
            let known = object.maps().any(|(name, m)| {
                name == map && matches!(m.map_type(), MapType::Ringbuf | MapType::PerfEventArray)
            });
            if !known {
                return Err(format!(
                    "--record {text}: the object has no ring buffer or perf event array '{map}'"
                ));
            }
            let id = btf.and_then(|b| record_type(b, ty)).ok_or_else(|| {
                format!("--record {text}: the object's BTF has no struct or union named '{ty}'")
            })?;
            by_map.insert(map.to_owned(), id);
        }
        let candidates = btf.map(local_structs).unwrap_or_default();
        Ok(Decoder {
            btf,
            records: by_map,
            candidates,
            hinted: RefCell::new(HashSet::new()),
        })
    }

    /// A ring/perf record of `map`: as its `--record` type, else as the one candidate struct
    /// that fits (see the command's long help for the order), else hex.
    fn record(&self, map: &str, data: &[u8]) -> String {
        let Some(btf) = self.btf else {
            return hex_ascii(data);
        };
        let id = match self.records.get(map) {
            Some(&id) => Some(id),
            None => self.pick(map, data.len()),
        };
        let Some(id) = id else {
            return hex_ascii(data);
        };
        let size = btf.resolve_size(id).unwrap_or(0) as usize;
        let mut padded = data.to_vec();
        padded.resize(size.max(data.len()), 0);
        let mut out = String::new();
        format_value(btf, id, &padded, &mut out, 0);
        out
    }

    /// The candidate for a record of `len` bytes, if one stands out.
    fn pick(&self, map: &str, len: usize) -> Option<u32> {
        let tiers: [&dyn Fn(&Candidate) -> bool; 3] = [
            &|c| c.size == len,
            &|c| c.size < len && len < c.size + 8,
            &|c| c.fixed <= len && len < c.size,
        ];
        for fits in tiers {
            let found: Vec<&Candidate> = self.candidates.iter().filter(|c| fits(c)).collect();
            let eventful: Vec<&&Candidate> = found
                .iter()
                .filter(|c| c.name.to_ascii_lowercase().contains("event"))
                .collect();
            match (found.len(), eventful.len()) {
                (0, _) => continue,
                (1, _) => return Some(found[0].id),
                (_, 1) => return Some(eventful[0].id),
                _ => {
                    if self.hinted.borrow_mut().insert(map.to_owned()) {
                        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
                        eprintln!(
                            "{map}: {len}-byte records fit several types ({}); printing hex, \
                             name one with --record {map}=TYPE",
                            names.join(", ")
                        );
                    }
                    return None;
                }
            }
        }
        None
    }

    fn typed(&self, type_id: Option<u32>, data: &[u8]) -> String {
        match (self.btf, type_id) {
            (Some(btf), Some(id)) => {
                let mut out = String::new();
                format_value(btf, id, data, &mut out, 0);
                out
            }
            _ => hex(data),
        }
    }
}

/// The named structs of `btf` that the running kernel's BTF does not define (when it cannot
/// be read, all but the kernel's `trace_event_*`, `perf_*` and `bpf_*`).
fn local_structs(btf: &Btf<'_>) -> Vec<Candidate> {
    let kernel_bytes = std::fs::read("/sys/kernel/btf/vmlinux").ok();
    let kernel = kernel_bytes.as_deref().and_then(|b| Btf::parse(b).ok());
    let mut out = Vec::new();
    for (id, t) in btf.types().flatten() {
        let Type::Struct(c) = t else { continue };
        if c.name.is_empty() {
            continue;
        }
        let in_kernel = match &kernel {
            Some(k) => k.id_by_name_kind(c.name, Kind::Struct).is_some(),
            None => ["trace_event", "perf_", "bpf_"]
                .iter()
                .any(|p| c.name.starts_with(p)),
        };
        if in_kernel {
            continue;
        }
        let size = c.size as usize;
        // A trailing byte array (a string or buffer) may be sent in part, as execsnoop's
        // `args`; other arrays are not cut short.
        let byte_array = |type_id| match btf.type_by_id(type_id) {
            Ok(Type::Array(a)) => btf
                .skip_mods_and_typedefs(a.elem_type)
                .and_then(|e| btf.resolve_size(e))
                .is_ok_and(|s| s == 1),
            _ => false,
        };
        let fixed = match c.members.last() {
            Some(m) if byte_array(m.type_id) => (m.bit_offset / 8) as usize,
            _ => size,
        };
        out.push(Candidate {
            id,
            name: c.name.to_owned(),
            size,
            fixed,
        });
    }
    out
}

/// The text of a 1-byte-element array: up to the first NUL, if that is non-empty, valid
/// UTF-8 and free of control characters (a NUL must end it unless it fills the array).
fn as_text(data: &[u8]) -> Option<&str> {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let text = std::str::from_utf8(&data[..end]).ok()?;
    (!text.is_empty() && !text.chars().any(char::is_control)).then_some(text)
}

/// Hex bytes, then the printable ASCII of the record (`.` for the rest), as hexdump shows it.
fn hex_ascii(data: &[u8]) -> String {
    let ascii: String = data
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{} |{ascii}|", hex(data))
}

fn hex(data: &[u8]) -> String {
    data.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_uint(data: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = data.len().min(8);
    b[..n].copy_from_slice(&data[..n]);
    u64::from_ne_bytes(b)
}

fn sign_extend(v: u64, bytes: usize) -> i64 {
    let shift = 64 - 8 * bytes.clamp(1, 8) as u32;
    ((v << shift) as i64) >> shift
}

/// Write `data` as type `id`: structs `{a: 1, b: "x"}`, char arrays as strings, others in brackets.
fn format_value(btf: &Btf<'_>, id: u32, data: &[u8], out: &mut String, depth: usize) {
    if depth > 16 {
        out.push_str(&hex(data));
        return;
    }
    let Ok(t) = btf.type_by_id(id) else {
        out.push_str(&hex(data));
        return;
    };
    match t {
        Type::Int(i) => {
            let size = (i.size as usize).min(data.len());
            let v = read_uint(&data[..size]);
            if i.encoding.0 & 4 != 0 {
                let _ = write!(out, "{}", v != 0);
            } else if i.encoding.0 & 1 != 0 {
                let _ = write!(out, "{}", sign_extend(v, size));
            } else {
                let _ = write!(out, "{v}");
            }
        }
        Type::Enum(e) | Type::Enum64(e) => {
            let size = (e.size as usize).min(data.len());
            let v = read_uint(&data[..size]);
            match e.values.iter().find(|x| x.raw == v) {
                Some(x) => out.push_str(x.name),
                None => {
                    let _ = write!(out, "{v}");
                }
            }
        }
        Type::Ptr(_) => {
            let _ = write!(out, "{:#x}", read_uint(&data[..data.len().min(8)]));
        }
        Type::Array(a) => {
            let elem = btf
                .skip_mods_and_typedefs(a.elem_type)
                .unwrap_or(a.elem_type);
            let elem_size = btf.resolve_size(elem).unwrap_or(0) as usize;
            let byte = matches!(btf.type_by_id(elem), Ok(Type::Int(i)) if i.size == 1);
            let is_char = matches!(btf.type_by_id(elem), Ok(Type::Int(i)) if i.size == 1 && (i.encoding.0 & 2 != 0 || i.name.contains("char")));
            let len = (a.nelems as usize).min(data.len());
            if is_char {
                let end = data[..len].iter().position(|&b| b == 0).unwrap_or(len);
                let _ = write!(out, "{:?}", String::from_utf8_lossy(&data[..end]));
                return;
            }
            // u8/i8 arrays (Rust's [u8; N]) that hold text.
            if let Some(text) = byte.then(|| as_text(&data[..len])).flatten() {
                let _ = write!(out, "{text:?}");
                return;
            }
            out.push('[');
            for k in 0..a.nelems as usize {
                let start = k * elem_size;
                let Some(chunk) = data.get(start..start + elem_size) else {
                    break;
                };
                if k > 0 {
                    out.push_str(", ");
                }
                format_value(btf, elem, chunk, out, depth + 1);
            }
            out.push(']');
        }
        Type::Struct(c) | Type::Union(c) => {
            out.push('{');
            for (k, m) in c.members.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                if !m.name.is_empty() {
                    let _ = write!(out, "{}: ", m.name);
                }
                let start = (m.bit_offset / 8) as usize;
                if m.bitfield_size != 0 {
                    let raw = read_uint(data.get(start..).unwrap_or_default());
                    let v = (raw >> (m.bit_offset % 8)) & ((1u64 << m.bitfield_size.min(63)) - 1);
                    let _ = write!(out, "{v}");
                    continue;
                }
                let size = btf.resolve_size(m.type_id).unwrap_or(0) as usize;
                match data.get(start..start + size) {
                    Some(chunk) => format_value(btf, m.type_id, chunk, out, depth + 1),
                    None => out.push('?'),
                }
            }
            out.push('}');
        }
        Type::Datasec(d) => {
            out.push('{');
            for (k, v) in d.vars.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                let (name, ty) = match btf.type_by_id(v.type_id) {
                    Ok(Type::Var(x)) => (x.name, x.type_id),
                    _ => ("?", v.type_id),
                };
                let _ = write!(out, "{name}: ");
                let (s, e) = (v.offset as usize, v.offset as usize + v.size as usize);
                match data.get(s..e) {
                    Some(chunk) => format_value(btf, ty, chunk, out, depth + 1),
                    None => out.push('?'),
                }
            }
            out.push('}');
        }
        Type::Typedef(r)
        | Type::Volatile(r)
        | Type::Const(r)
        | Type::Restrict(r)
        | Type::TypeTag(r) => format_value(btf, r.target, data, out, depth + 1),
        Type::Var(v) => format_value(btf, v.type_id, data, out, depth + 1),
        _ => out.push_str(&hex(data)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_obj::btf::{BtfMut, IntEncoding};

    /// BTF of a Rust record: `struct Event { comm: [u8; 16], name: [i8; 8], raw: [u8; 4],
    /// pid: u32 }`, whose byte arrays are INT `u8`/`i8` without the char encoding.
    fn rust_event_btf() -> Vec<u8> {
        let mut b = BtfMut::new();
        let u8_ = b.add_int("u8", 1, 0);
        let i8_ = b.add_int("i8", 1, IntEncoding::SIGNED);
        let u32_ = b.add_int("u32", 4, 0);
        let comm = b.add_array(u8_, u32_, 16);
        let name = b.add_array(i8_, u32_, 8);
        let raw = b.add_array(u8_, u32_, 4);
        let members = [
            ("comm", comm, 0),
            ("name", name, 16 * 8),
            ("raw", raw, 24 * 8),
            ("pid", u32_, 28 * 8),
        ];
        b.add_struct("Event", 32, &members);
        b.to_bytes().unwrap()
    }

    #[test]
    fn rust_byte_arrays_holding_text_print_as_strings() {
        let bytes = rust_event_btf();
        let btf = Btf::parse(&bytes).unwrap();
        let event = btf.id_by_name_kind("Event", Kind::Struct).unwrap();
        let mut record = [0u8; 32];
        record[..4].copy_from_slice(b"bash");
        record[16..21].copy_from_slice(b"hello");
        record[24..28].copy_from_slice(&[1, 0, 2, 3]); // a control byte: not text
        record[28..32].copy_from_slice(&42u32.to_ne_bytes());
        let mut out = String::new();
        format_value(&btf, event, &record, &mut out, 0);
        assert_eq!(
            out,
            r#"{comm: "bash", name: "hello", raw: [1, 0, 2, 3], pid: 42}"#
        );
        // All zeros or control bytes stay numbers.
        record[..16].fill(0);
        record[16] = 7;
        let mut out = String::new();
        format_value(&btf, event, &record, &mut out, 0);
        assert!(out.starts_with("{comm: [0, 0, "), "{out}");
        assert!(out.contains("name: [7, 101, "), "{out}");
    }
}
