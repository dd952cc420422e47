//! `bpfkit btf`: summaries and type lookups in BTF.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bpfkit_obj::btf::{Btf, Kind, Type, TypeId};
use serde_json::{json, Value};

const SUMMARY_JSON: &str = "\
JSON output (stable):
  {
    \"file\": \"<path>\",
    \"source\": \"raw\" | \"elf\",      // raw BTF file, or the .BTF section of an ELF object
    \"base\": \"<path>\" | null,        // the base BTF of split (module) BTF
    \"first_id\": <first type id of the file: 1, or the base's type count for split BTF>,
    \"types\": <number of types of the file itself, void and base types excluded>,
    \"kinds\": { \"INT\": <count>, \"PTR\": ..., ... },  // every kind INT..ENUM64, zeros included
    \"string_bytes\": <size of the string section>
  }";

const SHOW_JSON: &str = "\
JSON output (stable): one entry per type named NAME, in argument order (a name shared by
several types, e.g. a struct and a typedef, gives several entries, ascending id):
  { \"types\": [ {
      \"name\": \"<name>\", \"id\": <type id>, \"kind\": \"STRUCT\" | \"INT\" | ...,
      \"size\": <bytes, or null when the type has no size (FUNC, FWD, ...)>,
      // STRUCT / UNION:
      \"members\": [ { \"name\": \"<member or empty>\", \"type_id\": <id>, \"type_name\": \"<C type>\",
                     \"bit_offset\": <bits>, \"bitfield_size\": <bits, 0 if not a bitfield> } ],
      // ENUM / ENUM64:
      \"signed\": <bool>, \"values\": [ { \"name\": \"<enumerator>\", \"value\": <integer> } ],
      // PTR, TYPEDEF, CONST, VOLATILE, RESTRICT, TYPE_TAG, VAR, FUNC (its FUNC_PROTO),
      // ARRAY (element), DECL_TAG (tagged type), FUNC_PROTO (return type):
      \"type_id\": <id>, \"type_name\": \"<C type>\",
      // ARRAY: \"nelems\": <n>; FUNC_PROTO: \"params\": [ { \"name\", \"type_id\", \"type_name\" } ];
      // DATASEC: \"vars\": [ { \"name\", \"type_id\", \"offset\", \"size\" } ]
  } ],
  \"missing\": [ \"<name no type has>\" ] }      // non-empty: exit status 1";

/// `bpfkit btf` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Count types per kind and string bytes.
    #[command(after_long_help = SUMMARY_JSON)]
    Summary {
        /// A raw BTF file (e.g. /sys/kernel/btf/vmlinux) or an ELF object with .BTF.
        file: PathBuf,
        /// The base of a split BTF file (a module's); default /sys/kernel/btf/vmlinux when
        /// FILE is split BTF.
        #[arg(long, value_name = "FILE")]
        base: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show named types: kind, size and members (name, type, bit offset, bitfield size).
    ///
    /// Types are found through the lazy name index. The types found are printed; names that
    /// match no type are then reported together and the exit status is 1.
    #[command(after_long_help = SHOW_JSON)]
    Show {
        /// A raw BTF file (e.g. /sys/kernel/btf/vmlinux) or an ELF object with .BTF.
        file: PathBuf,
        /// The base of a split BTF file (a module's); default /sys/kernel/btf/vmlinux when
        /// FILE is split BTF.
        #[arg(long, value_name = "FILE")]
        base: Option<PathBuf>,
        /// Type names to show.
        #[arg(required = true)]
        names: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The running kernel's BTF: the default base of split (module) BTF.
const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Run a `bpfkit btf` subcommand.
pub fn run(cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    let (file, base) = match &cmd {
        Command::Summary { file, base, .. } | Command::Show { file, base, .. } => (file, base),
    };
    let input = Input::read(file)?;
    // Split BTF is read on its base: the one named, else the running kernel's.
    let base_path = match base {
        Some(path) => Some(path.clone()),
        None if input.is_split() => Some(PathBuf::from(VMLINUX)),
        None => None,
    };
    let base_input = match &base_path {
        Some(path) => Some(Input::read(path).map_err(|e| format!("base BTF {e}"))?),
        None => None,
    };
    let base_btf = match (&base_input, &base_path) {
        (Some(input), Some(path)) => Some(input.btf(path, None)?),
        _ => None,
    };
    let btf = input.btf(file, base_btf.as_ref())?;
    match cmd {
        Command::Summary { file, json, .. } => {
            print!(
                "{}",
                summary(&file, base_path.as_deref(), &input, &btf, json)
            );
            Ok(())
        }
        Command::Show {
            file, names, json, ..
        } => {
            let (out, missing) = show(&btf, &names, json);
            print!("{out}");
            if missing.is_empty() {
                return Ok(());
            }
            let quoted: Vec<String> = missing.iter().map(|n| format!("'{n}'")).collect();
            Err(format!("{}: no type named {}", file.display(), quoted.join(", ")).into())
        }
    }
}

/// The file's bytes and where its BTF lies in them.
struct Input {
    bytes: Bytes,
    elf: bool,
}

/// File contents: mapped for the kernel's immutable BTF files, read otherwise.
enum Bytes {
    Mapped(KernelBtfMap),
    Read(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m.bytes(),
            Bytes::Read(v) => v,
        }
    }
}

/// A read-only private mapping of a file under `/sys/kernel/btf/`. The kernel serves
/// these from its own immutable BTF, so the mapping cannot change or shrink under us;
/// mapping skips the 5 MB copy `read` makes of vmlinux BTF (Linux 6.16+ allows it, older
/// kernels refuse and we read instead).
struct KernelBtfMap {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

impl KernelBtfMap {
    fn open(path: &Path) -> Option<KernelBtfMap> {
        use std::os::fd::AsRawFd;
        if !path.starts_with("/sys/kernel/btf/") {
            return None;
        }
        let file = std::fs::File::open(path).ok()?;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: a fresh read-only private mapping of `len` bytes of an open file; no
        // existing memory is affected. The fd may be closed after mmap returns.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        Some(KernelBtfMap {
            ptr: std::ptr::NonNull::new(ptr.cast())?,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live PROT_READ mapping of `len` bytes owned by `self` (unmapped
        // only in Drop), and the kernel's BTF behind it never changes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for KernelBtfMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `open`; no borrow of it outlives
        // `self` because `bytes` borrows `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

impl Input {
    fn read(path: &Path) -> Result<Input, String> {
        let bytes = match KernelBtfMap::open(path) {
            Some(m) => Bytes::Mapped(m),
            None => Bytes::Read(std::fs::read(path).map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("{}: {e}", path.display())
            })?),
        };
        let elf = bytes.starts_with(b"\x7fELF");
        Ok(Input { bytes, elf })
    }

    /// Whether the bytes are raw split BTF: its string section continues the base's, so it
    /// does not start with the NUL every standalone BTF string section starts with.
    fn is_split(&self) -> bool {
        if self.elf || self.bytes.len() < 24 {
            return false;
        }
        let word = |at: usize| -> usize {
            let b: [u8; 4] = self.bytes[at..at + 4].try_into().unwrap_or_default();
            if self.bytes[..2] == [0x9f, 0xeb] {
                u32::from_le_bytes(b) as usize
            } else {
                u32::from_be_bytes(b) as usize
            }
        };
        let (hdr_len, str_off, str_len) = (word(4), word(16), word(20));
        str_len > 0
            && self
                .bytes
                .get(hdr_len.saturating_add(str_off))
                .is_some_and(|&b| b != 0)
    }

    /// The BTF of the file, on `base` when it is split BTF.
    fn btf<'b>(&'b self, path: &Path, base: Option<&'b Btf<'b>>) -> Result<Btf<'b>, String> {
        let data: &[u8] = if self.elf {
            use object::{Object, ObjectSection};
            let file = object::File::parse(&*self.bytes).map_err(|e| {
                let e = bpfkit::Report(&e);
                format!("{}: not a valid ELF object: {e}", path.display())
            })?;
            let section = file
                .section_by_name(".BTF")
                .ok_or_else(|| format!("{}: ELF object has no .BTF section", path.display()))?;
            let range = section
                .file_range()
                .ok_or_else(|| format!("{}: .BTF section has no file data", path.display()))?;
            let start = range.0 as usize;
            self.bytes
                .get(start..start.saturating_add(range.1 as usize))
                .ok_or_else(|| format!("{}: .BTF section lies outside the file", path.display()))?
        } else {
            &self.bytes
        };
        match base {
            Some(base) => Btf::parse_split(data, base),
            None => Btf::parse(data),
        }
        .map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("{}: {e}", path.display())
        })
    }
}

fn summary(path: &Path, base: Option<&Path>, input: &Input, btf: &Btf<'_>, json: bool) -> String {
    let mut counts: BTreeMap<Kind, usize> = Kind::ALL[1..].iter().map(|&k| (k, 0)).collect();
    for id in btf.local_ids() {
        if let Ok(k) = btf.kind(id) {
            *counts.entry(k).or_insert(0) += 1;
        }
    }
    let types = btf.local_ids().len();
    let string_bytes = btf.string_section().len();
    if json {
        let kinds: serde_json::Map<String, Value> = counts
            .iter()
            .map(|(k, n)| (k.name().to_string(), json!(n)))
            .collect();
        let v = json!({
            "file": path.display().to_string(),
            "source": if input.elf { "elf" } else { "raw" },
            "base": base.map(|b| b.display().to_string()),
            "first_id": btf.local_ids().start,
            "types": types,
            "kinds": kinds,
            "string_bytes": string_bytes,
        });
        return format!("{v:#}\n");
    }
    let mut out = format!(
        "{}: {types} types, {string_bytes} string bytes\n",
        path.display()
    );
    if let Some(base) = base {
        let _ = writeln!(
            out,
            "  split BTF on {} (ids from {})",
            base.display(),
            btf.local_ids().start
        );
    }
    for (k, n) in counts.iter().filter(|(_, &n)| n > 0) {
        let _ = writeln!(out, "  {:<11} {n}", k.name());
    }
    out
}

/// Render the types named in `names`, and the names no type has.
fn show(btf: &Btf<'_>, names: &[String], json: bool) -> (String, Vec<String>) {
    let mut found = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        let ids = btf.ids_by_name(name);
        if ids.is_empty() {
            missing.push(name.clone());
        }
        found.extend(ids);
    }
    let mut out = String::new();
    if json {
        let types: Vec<Value> = found.iter().map(|&id| type_json(btf, id)).collect();
        let _ = writeln!(out, "{:#}", json!({ "types": types, "missing": missing }));
        return (out, missing);
    }
    for id in found {
        type_text(btf, id, &mut out);
    }
    (out, missing)
}

/// A C-like spelling of a type for humans (`struct list_head`, `char[16]`, `u64 *`).
pub fn c_name(btf: &Btf<'_>, id: TypeId) -> String {
    fn go(btf: &Btf<'_>, id: TypeId, depth: usize) -> String {
        if depth > 16 {
            return "...".into();
        }
        let Ok(t) = btf.type_by_id(id) else {
            return format!("<bad type {id}>");
        };
        let name = |n: &str| {
            if n.is_empty() {
                "(anon)".to_string()
            } else {
                n.to_string()
            }
        };
        match &t {
            Type::Void => "void".into(),
            Type::Struct(s) => format!("struct {}", name(s.name)),
            Type::Union(s) => format!("union {}", name(s.name)),
            Type::Enum(e) | Type::Enum64(e) => format!("enum {}", name(e.name)),
            Type::Fwd(f) => {
                format!("{} {}", if f.is_union { "union" } else { "struct" }, f.name)
            }
            Type::Ptr(p) => format!("{} *", go(btf, p.target, depth + 1)),
            Type::Array(a) => format!("{}[{}]", go(btf, a.elem_type, depth + 1), a.nelems),
            Type::Const(r) => format!("const {}", go(btf, r.target, depth + 1)),
            Type::Volatile(r) => format!("volatile {}", go(btf, r.target, depth + 1)),
            Type::Restrict(r) => format!("{} restrict", go(btf, r.target, depth + 1)),
            Type::TypeTag(r) => {
                format!(
                    "{} __attribute__((btf_type_tag(\"{}\")))",
                    go(btf, r.target, depth + 1),
                    r.name
                )
            }
            Type::FuncProto(p) => {
                let params: Vec<String> = p
                    .params
                    .iter()
                    .map(|a| {
                        if a.type_id == 0 {
                            "...".into()
                        } else {
                            go(btf, a.type_id, depth + 1)
                        }
                    })
                    .collect();
                format!(
                    "{} (*)({})",
                    go(btf, p.return_type, depth + 1),
                    params.join(", ")
                )
            }
            other => name(other.name()),
        }
    }
    go(btf, id, 0)
}

fn type_json(btf: &Btf<'_>, id: TypeId) -> Value {
    let t = match btf.type_by_id(id) {
        Ok(t) => t,
        Err(e) => return json!({ "id": id, "error": bpfkit::Report(&e).to_string() }),
    };
    let mut v = serde_json::Map::new();
    v.insert("name".into(), json!(t.name()));
    v.insert("id".into(), json!(id));
    v.insert("kind".into(), json!(t.kind().name()));
    v.insert("size".into(), json!(btf.resolve_size(id).ok()));
    let reference = |v: &mut serde_json::Map<String, Value>, target: TypeId| {
        v.insert("type_id".into(), json!(target));
        v.insert("type_name".into(), json!(c_name(btf, target)));
    };
    match &t {
        Type::Struct(s) | Type::Union(s) => {
            let members: Vec<Value> = s
                .members
                .iter()
                .map(|m| {
                    json!({
                        "name": m.name,
                        "type_id": m.type_id,
                        "type_name": c_name(btf, m.type_id),
                        "bit_offset": m.bit_offset,
                        "bitfield_size": m.bitfield_size,
                    })
                })
                .collect();
            v.insert("members".into(), json!(members));
        }
        Type::Enum(e) | Type::Enum64(e) => {
            let wide = t.kind() == Kind::Enum64;
            let values: Vec<Value> = e
                .values
                .iter()
                .map(|x| {
                    let value = if e.signed {
                        json!(x.value_signed(wide))
                    } else {
                        json!(x.raw)
                    };
                    json!({ "name": x.name, "value": value })
                })
                .collect();
            v.insert("signed".into(), json!(e.signed));
            v.insert("values".into(), json!(values));
        }
        Type::Array(a) => {
            reference(&mut v, a.elem_type);
            v.insert("nelems".into(), json!(a.nelems));
        }
        Type::FuncProto(p) => {
            reference(&mut v, p.return_type);
            let params: Vec<Value> = p
                .params
                .iter()
                .map(|a| json!({ "name": a.name, "type_id": a.type_id, "type_name": c_name(btf, a.type_id) }))
                .collect();
            v.insert("params".into(), json!(params));
        }
        Type::Datasec(d) => {
            let vars: Vec<Value> = d
                .vars
                .iter()
                .map(|s| {
                    json!({
                        "name": btf.name(s.type_id).unwrap_or(""),
                        "type_id": s.type_id,
                        "offset": s.offset,
                        "size": s.size,
                    })
                })
                .collect();
            v.insert("vars".into(), json!(vars));
        }
        other => {
            if let Some(target) = other.referenced_type() {
                reference(&mut v, target);
            }
        }
    }
    Value::Object(v)
}

fn type_text(btf: &Btf<'_>, id: TypeId, out: &mut String) {
    let t = match btf.type_by_id(id) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(out, "[{id}] <error: {e}>");
            return;
        }
    };
    let _ = write!(out, "[{id}] {} '{}'", t.kind(), t.name());
    if let Ok(size) = btf.resolve_size(id) {
        let _ = write!(out, " size={size}");
    }
    match &t {
        Type::Struct(s) | Type::Union(s) => {
            let _ = writeln!(out, " vlen={}", s.members.len());
            for m in &s.members {
                let _ = write!(
                    out,
                    "\t'{}' type_id={} ({}) bits_offset={}",
                    m.name,
                    m.type_id,
                    c_name(btf, m.type_id),
                    m.bit_offset
                );
                if m.bitfield_size != 0 {
                    let _ = write!(out, " bitfield_size={}", m.bitfield_size);
                }
                out.push('\n');
            }
        }
        Type::Enum(e) | Type::Enum64(e) => {
            let _ = writeln!(
                out,
                " vlen={}{}",
                e.values.len(),
                if e.signed { " signed" } else { "" }
            );
            let wide = t.kind() == Kind::Enum64;
            for x in &e.values {
                if e.signed {
                    let _ = writeln!(out, "\t'{}' val={}", x.name, x.value_signed(wide));
                } else {
                    let _ = writeln!(out, "\t'{}' val={}", x.name, x.raw);
                }
            }
        }
        Type::FuncProto(p) => {
            let _ = writeln!(
                out,
                " ret_type_id={} vlen={}",
                p.return_type,
                p.params.len()
            );
            for a in &p.params {
                let _ = writeln!(
                    out,
                    "\t'{}' type_id={} ({})",
                    a.name,
                    a.type_id,
                    c_name(btf, a.type_id)
                );
            }
        }
        Type::Datasec(d) => {
            let _ = writeln!(out, " vlen={}", d.vars.len());
            for s in &d.vars {
                let _ = writeln!(
                    out,
                    "\ttype_id={} '{}' offset={} size={}",
                    s.type_id,
                    btf.name(s.type_id).unwrap_or(""),
                    s.offset,
                    s.size
                );
            }
        }
        Type::Array(a) => {
            let _ = writeln!(
                out,
                " type_id={} ({}) nelems={}",
                a.elem_type,
                c_name(btf, a.elem_type),
                a.nelems
            );
        }
        other => match other.referenced_type() {
            Some(target) => {
                let _ = writeln!(out, " type_id={target} ({})", c_name(btf, target));
            }
            None => out.push('\n'),
        },
    }
}
