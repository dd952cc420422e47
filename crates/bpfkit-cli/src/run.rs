//! `bpfkit run`: load an object, auto-attach every program by its section, print ring/perf
//! buffer records until Ctrl-C or `--duration`, then print every hash/array map.
//!
//! Records are decoded through the object's BTF when one struct fits them (a struct whose name
//! contains `event` and whose size is the record's, or within the 8-byte padding of perf
//! samples); otherwise they are printed as hex with an ASCII column.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bpfkit::loader::{Loader, Object};
use bpfkit::maps::MapType;
use bpfkit::programs::{self, AttachError};
use bpfkit::readers::{PerfBuffer, PerfBufferOptions, RingBuf, RingBufPoller};
use bpfkit_obj::btf::{Btf, Type};
use bpfkit_obj::object::ObjectSpec;

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
    /// Attach XDP and tc programs (`xdp`, `tc`, `tcx/ingress`, `tcx/egress`) to this
    /// network interface (name or index).
    #[arg(long, value_name = "IF")]
    iface: Option<String>,
    /// Attach cgroup programs (`cgroup_skb/…`, `cgroup/…`, `sockops`) to this cgroup v2
    /// directory.
    #[arg(long, value_name = "PATH")]
    cgroup: Option<PathBuf>,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Run the command.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let path = &args.object;
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let name = bpfkit_obj::object::object_name_from_path(&path.to_string_lossy());
    let spec =
        ObjectSpec::parse_named(&bytes, &name).map_err(|e| format!("{}: {e}", path.display()))?;
    let btf = spec.btf_fixed.as_deref().and_then(|b| Btf::parse(b).ok());

    let mut loader = Loader::new();
    if let Some(dir) = &args.pin_dir {
        loader.pin_dir(dir);
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
        let n: u32 = n
            .parse()
            .map_err(|e| format!("--max-entries {resize}: {e}"))?;
        loader.max_entries(map, n);
    }
    let object = loader.load_spec(&spec).map_err(|e| e.to_string())?;

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
            Err(e) => eprintln!("attach failed: {e}"),
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
    let decoder = Decoder { btf: btf.as_ref() };
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
    let print = |map: &str, record: &[u8]| println!("{map}: {}", decoder.record(record));
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
            .map_err(|e| format!("'{value}' is not an integer: {e}"))?;
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

/// Formats bytes through the object's BTF.
struct Decoder<'b> {
    btf: Option<&'b Btf<'b>>,
}

impl Decoder<'_> {
    /// A ring/perf record: through the struct that fits it, else hex. Candidates are structs
    /// named `event` or `*_event` (not the kernel's `trace_event_*`, `perf_*`, `bpf_*`) whose
    /// fixed part fits the record and whose size is at most 8 bytes short of it (perf
    /// padding) — a trailing array may be sent partly (execsnoop's `args`). A struct named
    /// exactly `event` wins, then an exact size, then a single candidate.
    fn record(&self, data: &[u8]) -> String {
        let Some(btf) = self.btf else {
            return hex_ascii(data);
        };
        let mut candidates: Vec<(u32, &str, usize)> = Vec::new();
        for (id, t) in btf.types().flatten() {
            let Type::Struct(c) = t else { continue };
            let named = c.name == "event"
                || (c.name.ends_with("event")
                    && !c.name.starts_with("trace_event")
                    && !c.name.starts_with("perf_")
                    && !c.name.starts_with("bpf_"));
            if !named {
                continue;
            }
            let size = c.size as usize;
            let fixed = match c.members.last() {
                Some(m) if matches!(btf.type_by_id(m.type_id), Ok(Type::Array(_))) => {
                    (m.bit_offset / 8) as usize
                }
                _ => size,
            };
            if fixed <= data.len() && data.len() <= size + 8 {
                candidates.push((id, c.name, size));
            }
        }
        let pick = candidates
            .iter()
            .find(|c| c.1 == "event")
            .or_else(|| candidates.iter().find(|c| c.2 == data.len()))
            .or_else(|| (candidates.len() == 1).then(|| &candidates[0]));
        match pick {
            Some(&(id, _, size)) => {
                let mut padded = data.to_vec();
                padded.resize(size.max(data.len()), 0);
                let mut out = String::new();
                format_value(btf, id, &padded, &mut out, 0);
                out
            }
            None => hex_ascii(data),
        }
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
            let is_char = matches!(btf.type_by_id(elem), Ok(Type::Int(i)) if i.size == 1 && (i.encoding.0 & 2 != 0 || i.name.contains("char")));
            if is_char {
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                let _ = write!(out, "{:?}", String::from_utf8_lossy(&data[..end]));
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
