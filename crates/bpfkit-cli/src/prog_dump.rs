//! `bpfkit prog dump xlated|jited`: a loaded program's code, disassembled (translated
//! instructions, with the source lines of its BTF line info) or as machine-code bytes per
//! JIT-compiled function.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::fd::AsFd;

use bpfkit::info::{self, ProgramCode};
use bpfkit_obj::btf::{Btf, Type};
use bpfkit_obj::insn::opcode::{
    BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
};
use bpfkit_obj::insn::{
    disassemble_insn, logical_insns, CallTarget, Insn, Instruction, Symbolizer,
};
use serde_json::{json, Value};

/// The `--help` text of `prog dump`.
pub const LONG_ABOUT: &str = "\
Print a loaded program's code, by program id or pin path.

xlated: the instructions as the verifier left them, in the verifier-log syntax (as `bpftool
prog dump xlated`): maps as map[id:N] (map[id:N][0]+OFF for a global-data value), helper calls
by their kernel symbol (found in /proc/kallsyms), BPF-to-BPF calls as pc+N#<callee's kernel symbol>. When the program was
loaded with BTF, each function starts with its C prototype and each source line that begins at
an instruction is printed before it as `; <source text>`.

jited: the JIT-compiled machine code, one block per function, headed by the function's kernel
symbol and address, as hex bytes (16 per line, offsets in the function). The kernel gives the
bytes only to root (or with kernel.bpf_jit_harden/kptr_restrict allowing it).

With --json (stable; fields may be added, never removed):
  xlated: [ { \"index\": 0,                              // instruction index (8-byte slots)
              \"disasm\": \"(18) r1 = map[id:5][0]+0\",
              \"proto\": \"int handle(void * ctx)\",      // first instruction of a function only
              \"src\": \"__u32 size = record_size;\",   // where a source line starts
              \"file\": \"prog.bpf.c\", \"line\": 12, \"column\": 9 } ]
  jited:  [ { \"name\": \"bpf_prog_0123456789abcdef_handle\", \"address\": 18446744072635812352,
              \"size\": 349, \"bytes\": \"0f 1f 44 00 00 ...\" } ]";

/// Which code to dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The translated BPF instructions.
    Xlated,
    /// The JIT-compiled machine code.
    Jited,
}

/// Run `bpfkit prog dump`.
pub fn run(kind: Kind, prog: &str, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (fd, what) = crate::prog::open(prog)?;
    let code = info::program_code(fd.as_fd()).map_err(|e| {
        let e = bpfkit::Report(&e);
        format!("{what}: {e}")
    })?;
    let btf = if code.btf_id != 0 {
        Some(crate::map::kernel_btf_by_id(code.btf_id).map_err(|e| format!("{what}: {e}"))?)
    } else {
        None
    };
    let kallsyms = Kallsyms::read(&code);
    let out = match kind {
        Kind::Xlated => {
            if code.xlated.is_empty() {
                return Err(format!("{what}: the kernel gave no translated instructions").into());
            }
            let rows = xlated(&code, btf.as_ref(), &kallsyms)?;
            if json {
                format!("{}\n", Value::from(rows))
            } else {
                xlated_text(&rows)
            }
        }
        Kind::Jited => {
            if code.jited.is_empty() {
                return Err(format!(
                    "{what}: the kernel gave no JIT-compiled code (not JIT-compiled, or withheld \
                     from this user)"
                )
                .into());
            }
            let functions = jited(&code, &kallsyms);
            if json {
                format!("{}\n", Value::from(functions))
            } else {
                jited_text(&functions)
            }
        }
    };
    print!("{out}");
    Ok(())
}

/// The kernel symbols at the addresses a dump names, and `__bpf_call_base` (helper calls in
/// translated code are offsets from it). Empty when /proc/kallsyms is unreadable or shows zero
/// addresses.
struct Kallsyms {
    by_address: HashMap<u64, String>,
    call_base: Option<u64>,
}

impl Kallsyms {
    /// Read the symbols at the addresses `code` refers to: JIT-compiled functions and helper
    /// call targets. (Keeping only those makes a dump fast: the file
    /// has hundreds of thousands of lines.)
    fn read(code: &ProgramCode) -> Self {
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        let address_of = |line: &str| -> Option<u64> {
            let addr = line.split(' ').next()?;
            u64::from_str_radix(addr, 16).ok().filter(|&a| a != 0)
        };
        let call_base = text
            .lines()
            .find(|l| l.ends_with(" __bpf_call_base"))
            .and_then(address_of);
        let mut wanted: std::collections::HashSet<u64> = code.jited_ksyms.iter().copied().collect();
        let slots: Vec<Insn> = slots(code);
        for item in logical_insns(&slots).flatten() {
            let (_, insn) = item;
            let first = insn.first();
            if matches!(insn.instruction(), Instruction::Call(CallTarget::Helper(_))) {
                if let Some(base) = call_base {
                    wanted.insert(base.wrapping_add_signed(i64::from(first.imm)));
                }
            }
        }
        let mut by_address = HashMap::new();
        for line in text.lines() {
            let Some(addr) = address_of(line) else {
                continue;
            };
            if !wanted.contains(&addr) || by_address.contains_key(&addr) {
                continue;
            }
            if let Some(name) = line.split_whitespace().nth(2) {
                by_address.insert(addr, name.to_owned());
            }
        }
        Kallsyms {
            by_address,
            call_base,
        }
    }
}

/// The translated instructions as slots.
fn slots(code: &ProgramCode) -> Vec<Insn> {
    code.xlated
        .chunks_exact(8)
        .map(|c| Insn::from_bytes(c.try_into().unwrap_or_default()))
        .collect()
}

/// Names calls and 64-bit immediates of translated code.
struct XlatedSymbols<'k> {
    kallsyms: &'k Kallsyms,
    /// Kernel address of each JIT-compiled function.
    jited_ksyms: &'k [u64],
}

impl Symbolizer for XlatedSymbols<'_> {
    fn call_name(&self, call: &Insn) -> Option<String> {
        if call.src_reg == BPF_PSEUDO_CALL {
            // In the dump of a JIT-compiled program the kernel puts the callee's function
            // number in `imm` and the pc-relative offset in `off`.
            if self.jited_ksyms.is_empty() {
                return Some(format!("{:+}", call.off));
            }
            let address = usize::try_from(call.imm)
                .ok()
                .and_then(|k| self.jited_ksyms.get(k))?;
            return Some(match self.kallsyms.by_address.get(address) {
                Some(name) => format!("{:+}#{name}", call.off),
                None => format!("{:+}#{address:#x}", call.off),
            });
        }
        if call.src_reg != 0 {
            return None;
        }
        let base = self.kallsyms.call_base?;
        let target = base.wrapping_add_signed(i64::from(call.imm));
        self.kallsyms.by_address.get(&target).cloned()
    }

    fn imm64_name(&self, first: &Insn, second: &Insn, _imm: u64) -> Option<String> {
        match first.src_reg {
            BPF_PSEUDO_MAP_FD => Some(format!("map[id:{}]", first.imm as u32)),
            BPF_PSEUDO_MAP_VALUE => Some(format!(
                "map[id:{}][0]+{}",
                first.imm as u32, second.imm as u32
            )),
            BPF_PSEUDO_FUNC => Some(format!("subprog[{:+}]", first.imm)),
            // Other values (kernel addresses included) stay hex, as bpftool prints them.
            _ => None,
        }
    }
}

/// The C prototype of FUNC `id`: `int handle(struct xdp_md * ctx)`.
fn prototype(btf: &Btf<'_>, id: u32) -> Option<String> {
    let Ok(Type::Func(f)) = btf.type_by_id(id) else {
        return None;
    };
    let Ok(Type::FuncProto(p)) = btf.type_by_id(f.proto) else {
        return None;
    };
    let params: Vec<String> = p
        .params
        .iter()
        .map(|a| {
            if a.type_id == 0 {
                "...".to_owned()
            } else if a.name.is_empty() {
                crate::btf::c_name(btf, a.type_id)
            } else {
                format!("{} {}", crate::btf::c_name(btf, a.type_id), a.name)
            }
        })
        .collect();
    Some(format!(
        "{} {}({})",
        crate::btf::c_name(btf, p.return_type),
        f.name,
        params.join(", ")
    ))
}

/// One JSON row per logical instruction, with prototypes and source lines attached.
fn xlated(
    code: &ProgramCode,
    btf: Option<&Btf<'_>>,
    kallsyms: &Kallsyms,
) -> Result<Vec<Value>, String> {
    let slots = slots(code);
    let symbols = XlatedSymbols {
        kallsyms,
        jited_ksyms: &code.jited_ksyms,
    };
    let funcs: HashMap<u32, u32> = code.func_info.iter().copied().collect();
    let lines: HashMap<u32, &info::LineInfo> =
        code.line_info.iter().map(|l| (l.insn_off, l)).collect();
    let mut rows = Vec::new();
    for item in logical_insns(&slots) {
        let (index, insn) = item.map_err(|e| {
            let e = bpfkit::Report(&e);
            format!("translated instructions: {e}")
        })?;
        let mut row = json!({ "index": index, "disasm": disassemble_insn(&insn, &symbols) });
        if let Some(btf) = btf {
            let at = index as u32;
            if let Some(proto) = funcs.get(&at).and_then(|&id| prototype(btf, id)) {
                row["proto"] = json!(proto);
            }
            if let Some(line) = lines.get(&at) {
                let src = btf.string_at(line.line_off).unwrap_or_default();
                row["src"] = json!(src.trim());
                row["file"] = json!(btf.string_at(line.file_name_off).unwrap_or_default());
                row["line"] = json!(line.line());
                row["column"] = json!(line.column());
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

fn xlated_text(rows: &[Value]) -> String {
    let mut out = String::new();
    for row in rows {
        if let Some(proto) = row["proto"].as_str() {
            let _ = writeln!(out, "{proto}:");
        }
        if let Some(src) = row["src"].as_str() {
            let _ = writeln!(out, "; {src}");
        }
        let _ = writeln!(
            out,
            "{:>4}: {}",
            row["index"].as_u64().unwrap_or_default(),
            row["disasm"].as_str().unwrap_or_default()
        );
    }
    out
}

/// The JIT-compiled functions: kernel symbol, address and bytes.
fn jited(code: &ProgramCode, kallsyms: &Kallsyms) -> Vec<Value> {
    // One function when the kernel gives no per-function lengths (older kernels).
    let lens: Vec<usize> = if code.jited_func_lens.is_empty() {
        vec![code.jited.len()]
    } else {
        code.jited_func_lens.iter().map(|&l| l as usize).collect()
    };
    let mut start = 0;
    let mut out = Vec::new();
    for (k, len) in lens.into_iter().enumerate() {
        let Some(bytes) = code.jited.get(start..start + len) else {
            break;
        };
        start += len;
        let address = code.jited_ksyms.get(k).copied().unwrap_or(0);
        let name = kallsyms.by_address.get(&address).cloned();
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        out.push(json!({
            "name": name,
            "address": address,
            "size": len,
            "bytes": hex.join(" "),
        }));
    }
    out
}

fn jited_text(functions: &[Value]) -> String {
    let mut out = String::new();
    for (k, f) in functions.iter().enumerate() {
        if k > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} ({:#x}, {} bytes):",
            f["name"].as_str().unwrap_or("<no kernel symbol>"),
            f["address"].as_u64().unwrap_or(0),
            f["size"]
        );
        let bytes: Vec<&str> = f["bytes"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .filter(|b| !b.is_empty())
            .collect();
        for (line, chunk) in bytes.chunks(16).enumerate() {
            let _ = writeln!(out, "{:>6x}: {}", line * 16, chunk.join(" "));
        }
    }
    out
}
