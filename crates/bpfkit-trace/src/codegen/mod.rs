//! The code generator: types each expression (tracefs formats for `args`) and emits BPF
//! instructions straight from the tree. Values live in 8-byte-aligned stack slots; `r6`
//! keeps the context. Every program is generated twice: the first pass learns each map's
//! key and value types from all its uses, the second emits the final code.

use std::collections::HashMap;

use bpfkit::sys::uapi;
use bpfkit_obj::insn::opcode::*;

use crate::asm::{Asm, Label, Reg, FP};
use crate::ast::*;
use crate::diag::{Diagnostic, Span};
use crate::format::{parse_format, PrintfSpec, Segment};
use crate::probes::{self, Field, FieldKind, Probe, ProbeKind};
use crate::types::*;

mod calls;
mod fields;
mod iter;
mod maps;

/// Values known when the program is compiled.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// The `-c` child's pid (`cpid`).
    pub cpid: Option<u32>,
    /// CLOCK_MONOTONIC at start, for `elapsed`.
    pub start_ns: u64,
    /// Positional parameters: `$1` is `params[0]`.
    pub params: Vec<String>,
}

const STACK_LIMIT: i32 = 512;

// Helper ids and map update flags, from the generated UAPI (`enum bpf_func_id`).
const MAP_LOOKUP: i32 = uapi::BPF_FUNC_map_lookup_elem as i32;
const MAP_UPDATE: i32 = uapi::BPF_FUNC_map_update_elem as i32;
const MAP_DELETE: i32 = uapi::BPF_FUNC_map_delete_elem as i32;
const KTIME_GET_NS: i32 = uapi::BPF_FUNC_ktime_get_ns as i32;
const GET_SMP_PROCESSOR_ID: i32 = uapi::BPF_FUNC_get_smp_processor_id as i32;
const GET_CURRENT_PID_TGID: i32 = uapi::BPF_FUNC_get_current_pid_tgid as i32;
const GET_CURRENT_UID_GID: i32 = uapi::BPF_FUNC_get_current_uid_gid as i32;
const GET_CURRENT_COMM: i32 = uapi::BPF_FUNC_get_current_comm as i32;
const PROBE_READ_USER: i32 = uapi::BPF_FUNC_probe_read_user as i32;
const PROBE_READ_KERNEL: i32 = uapi::BPF_FUNC_probe_read_kernel as i32;
const PROBE_READ_USER_STR: i32 = uapi::BPF_FUNC_probe_read_user_str as i32;
const PROBE_READ_KERNEL_STR: i32 = uapi::BPF_FUNC_probe_read_kernel_str as i32;
const RINGBUF_OUTPUT: i32 = uapi::BPF_FUNC_ringbuf_output as i32;
const GET_CURRENT_TASK: i32 = uapi::BPF_FUNC_get_current_task as i32;
const GET_PRANDOM_U32: i32 = uapi::BPF_FUNC_get_prandom_u32 as i32;
const GET_NUMA_NODE_ID: i32 = uapi::BPF_FUNC_get_numa_node_id as i32;
const GET_CURRENT_CGROUP_ID: i32 = uapi::BPF_FUNC_get_current_cgroup_id as i32;
const JIFFIES64: i32 = uapi::BPF_FUNC_jiffies64 as i32;
const GET_STACKID: i32 = uapi::BPF_FUNC_get_stackid as i32;
const BPF_ANY: i32 = uapi::BPF_ANY as i32;
const BPF_NOEXIST: i32 = uapi::BPF_NOEXIST as i32;

/// A value in a stack slot at `fp + offset`.
#[derive(Clone, Copy, Debug)]
enum Val {
    Int(i16, bool),
    Str(i16, u16),
    /// An 8-byte value printed symbolically (`Ty::Ksym`, `Ty::Kstack`).
    Sym(i16, Ty),
}

impl Val {
    fn ty(self) -> Ty {
        match self {
            Val::Int(_, signed) => Ty::Int { signed },
            Val::Str(_, n) => Ty::Str(n),
            Val::Sym(_, t) => t,
        }
    }
}

/// Compiles a parsed program.
pub fn compile(program: &Program, opts: &CompileOptions) -> Result<Compiled, Diagnostic> {
    let mut blocks = vec![];
    for (bi, p) in program.probes.iter().enumerate() {
        for (point, span) in &p.attach {
            let expanded = probes::expand(point, *span)?;
            // A kprobe wildcard whose block does not ask which function fired is one
            // program for all its functions (a kprobe.multi link where the kernel has them).
            let functions: Vec<String> = expanded
                .iter()
                .filter_map(|e| match &e.kind {
                    ProbeKind::Kprobe { functions, .. } => functions.first().cloned(),
                    _ => None,
                })
                .collect();
            if functions.len() > 1
                && functions.len() == expanded.len()
                && !p.uses_ident("func")
                && !p.uses_ident("probe")
            {
                let ret = matches!(expanded[0].kind, ProbeKind::Kprobe { ret: true, .. });
                let long = probes::KernelProvider {
                    trampoline: false,
                    ret,
                }
                .long_name();
                let pattern = point.rsplit(':').next().unwrap_or(point);
                blocks.push((
                    bi,
                    Probe {
                        kind: ProbeKind::Kprobe { functions, ret },
                        name: format!("{long}:{pattern}"),
                    },
                    *span,
                ));
                continue;
            }
            for probe in expanded {
                blocks.push((bi, probe, *span));
            }
        }
    }
    for kind in [ProbeKind::Begin, ProbeKind::End] {
        if let Some((_, p, span)) = blocks.iter().filter(|(_, p, _)| p.kind == kind).nth(1) {
            return Err(Diagnostic::new(
                *span,
                format!("more than one {} probe defined", p.name),
            ));
        }
    }
    let mut state = State {
        maps: vec![],
        tentative: vec![],
        printfs: vec![],
        time_formats: vec![],
        join_delims: vec![],
        opts: opts.clone(),
        final_pass: false,
        formats: HashMap::new(),
        script_structs: layout_structs(&program.structs)?,
        enum_consts: program.enums.clone(),
    };
    // Pass 1: learn map types, in two walks: a variable first assigned from a map that
    // is written only further down (tcplife.bt's `$comm = @skcomm[$sk]`, typed before the
    // block's statements) gets the map's type on the second; the first walk's errors
    // are dropped, the second's reported.
    for walk in 0..2 {
        for (bi, probe, span) in &blocks {
            let r = Gen::new(&mut state, probe, *span).probe(&program.probes[*bi]);
            if walk == 1 {
                r?;
            }
        }
    }
    state.final_pass = true;
    state.printfs.clear();
    state.time_formats.clear();
    state.join_delims.clear();
    let mut programs = vec![];
    for (bi, probe, span) in &blocks {
        let mut g = Gen::new(&mut state, probe, *span);
        g.probe(&program.probes[*bi])?;
        let spans = std::mem::take(&mut g.asm.spans);
        let subprogs = std::mem::take(&mut g.subprogs);
        let (insns, map_refs) = g.asm.finish().map_err(|e| Diagnostic::new(*span, e))?;
        programs.push(CompiledProgram {
            probe: probe.clone(),
            insns,
            map_refs,
            spans,
            subprogs,
        });
    }
    Ok(Compiled {
        programs,
        maps: state.maps,
        printfs: state.printfs,
        time_formats: state.time_formats,
        join_delims: state.join_delims,
    })
}

struct State {
    maps: Vec<MapInfo>,
    /// Maps seen only read so far (pass 1): their kind is a guess the first assignment
    /// replaces.
    tentative: Vec<bool>,
    printfs: Vec<PrintfSpec>,
    time_formats: Vec<String>,
    join_delims: Vec<String>,
    opts: CompileOptions,
    final_pass: bool,
    formats: HashMap<(String, String), Vec<Field>>,
    script_structs: Vec<ScriptStruct>,
    /// Enumerators of the script's `enum` definitions.
    enum_consts: Vec<(String, i64)>,
}

/// Type ids of script-defined structs start here (kernel BTF ids are far below).
const SCRIPT_STRUCT_BASE: u32 = 0x8000_0000;

/// A struct defined in the script, laid out with C's rules.
struct ScriptStruct {
    name: String,
    /// `(member, byte offset, what it is)`.
    members: Vec<(String, u32, crate::kbtf::Leaf)>,
}

/// Lays out the script's structs (members: integers, pointers, char arrays, embedded
/// structs of the script or the kernel; a struct pointer's target may be either).
fn layout_structs(defs: &[StructDef]) -> Result<Vec<ScriptStruct>, Diagnostic> {
    use crate::kbtf::Leaf;
    let kbtf = |span| crate::kbtf::KernelBtf::shared().map_err(|e| Diagnostic::new(span, e));
    let mut sizes: Vec<(u32, u32)> = vec![];
    let mut out: Vec<ScriptStruct> = vec![];
    for d in defs {
        let mut off = 0u32;
        let mut align_max = 1u32;
        let mut members = vec![];
        for m in &d.members {
            let ty = m.c_type.trim_start_matches("const ").trim();
            let pointer = ty.ends_with('*');
            let base = ty.trim_end_matches('*').trim();
            let script_id = |name: &str| {
                defs.iter()
                    .position(|x| x.name == name)
                    .map(|i| SCRIPT_STRUCT_BASE + i as u32)
            };
            let kernel = |name: &str| Ok::<_, Diagnostic>(kbtf(d.span)?.struct_id(name));
            let (size, align, leaf) = if pointer {
                let leaf = match base
                    .strip_prefix("struct ")
                    .or_else(|| base.strip_prefix("union "))
                {
                    Some(n) => match script_id(n.trim()) {
                        Some(id) => Leaf::Ptr { pointee: id },
                        None => match kernel(n.trim())? {
                            Some(id) => Leaf::Ptr { pointee: id },
                            None => Leaf::Int {
                                size: 8,
                                signed: false,
                            },
                        },
                    },
                    None => Leaf::Int {
                        size: 8,
                        signed: false,
                    },
                };
                (8, 8, leaf)
            } else if let Some(n) = base
                .strip_prefix("struct ")
                .or_else(|| base.strip_prefix("union "))
            {
                let n = n.trim();
                match defs.iter().position(|x| x.name == n) {
                    Some(i) if i < sizes.len() => {
                        let (s, a) = sizes[i];
                        (s, a, Leaf::Struct(SCRIPT_STRUCT_BASE + i as u32))
                    }
                    Some(_) => {
                        return Err(Diagnostic::new(
                            d.span,
                            format!("struct {n} is embedded before its definition"),
                        ))
                    }
                    None => {
                        let id = kernel(n)?.ok_or_else(|| {
                            Diagnostic::new(
                                d.span,
                                format!("no struct {n} in the script or the kernel's BTF"),
                            )
                        })?;
                        let size = kbtf(d.span)?.size_of(id).unwrap_or(0);
                        (size, 8, Leaf::Struct(id))
                    }
                }
            } else {
                let (size, signed) = c_int(base).ok_or_else(|| {
                    Diagnostic::unsupported(
                        d.span,
                        format!("member type '{base}' in a script struct"),
                    )
                })?;
                let size = u32::from(size);
                match m.array {
                    Some(n) if size == 1 => (n, 1, Leaf::CharArray(n)),
                    Some(_) => {
                        return Err(Diagnostic::unsupported(
                            d.span,
                            "arrays other than char[] in a script struct",
                        ))
                    }
                    None => (
                        size,
                        size,
                        Leaf::Int {
                            size: size as u8,
                            signed,
                        },
                    ),
                }
            };
            let (size, leaf) = match (m.array, leaf) {
                (Some(_), Leaf::CharArray(_)) | (None, _) => (size, leaf),
                (Some(_), _) => {
                    return Err(Diagnostic::unsupported(
                        d.span,
                        "arrays other than char[] in a script struct",
                    ))
                }
            };
            align_max = align_max.max(align);
            if d.union {
                members.push((m.name.clone(), 0, leaf));
                off = off.max(size);
                continue;
            }
            off = off.div_ceil(align) * align;
            members.push((m.name.clone(), off, leaf));
            off += size;
        }
        sizes.push((off.div_ceil(align_max) * align_max, align_max));
        out.push(ScriptStruct {
            name: d.name.clone(),
            members,
        });
    }
    Ok(out)
}

struct Gen<'s> {
    st: &'s mut State,
    probe: &'s Probe,
    probe_span: Span,
    asm: Asm,
    sp: i32,
    vars: HashMap<String, Val>,
    exit_label: Label,
    loops: Vec<(Label, Label)>,
    /// The last instruction emitted jumps away unconditionally.
    dead: bool,
    /// Char arrays of kernel structs are read whole, not as strings (`ntop()`'s argument).
    raw_arrays: bool,
    /// Variables assigned a kernel struct pointer (`$t = (struct task_struct *)curtask`):
    /// the struct's name, for `$t->field`.
    var_structs: HashMap<String, String>,
    /// Bytes of each scratch integer whose first assignment had a narrower type than 64 bits
    /// (a cast, a field, `bswap`), as bpftrace keeps it (`bswap($v)` swaps that many).
    var_bytes: HashMap<String, u8>,
    /// `(slot, bytes)` of the last integer produced with a type narrower than 64 bits;
    /// cleared by every other new integer. See [`Gen::int_bytes`].
    narrow: Option<(i16, u8)>,
    /// Map `for` variables in scope: their element slots.
    kv: HashMap<String, iter::KvSlots>,
    /// Callbacks of map `for`s, emitted after the main program.
    pending: Vec<iter::Callback>,
    /// First slot of each callback emitted.
    subprogs: Vec<usize>,
    /// Where the context pointer is kept for callbacks (programs with a map `for`).
    ctx_slot: Option<i16>,
    /// Bytes of the variables' area at the top of the frame (a callback's context).
    var_top: i32,
    /// Emitting a callback.
    in_callback: bool,
}

fn unsupported<T>(span: Span, what: impl std::fmt::Display) -> Result<T, Diagnostic> {
    Err(Diagnostic::unsupported(span, what))
}

fn round8(n: i32) -> i32 {
    (n + 7) & !7
}

impl<'s> Gen<'s> {
    fn new(st: &'s mut State, probe: &'s Probe, probe_span: Span) -> Self {
        let mut asm = Asm::default();
        let exit_label = asm.label();
        Self {
            st,
            probe,
            probe_span,
            asm,
            sp: 0,
            vars: HashMap::new(),
            exit_label,
            loops: vec![],
            dead: false,
            raw_arrays: false,
            var_structs: HashMap::new(),
            var_bytes: HashMap::new(),
            narrow: None,
            kv: HashMap::new(),
            pending: vec![],
            subprogs: vec![],
            ctx_slot: None,
            var_top: 0,
            in_callback: false,
        }
    }

    fn alloc(&mut self, bytes: i32, span: Span) -> Result<i16, Diagnostic> {
        self.sp += round8(bytes.max(8));
        if self.sp > STACK_LIMIT {
            return unsupported(
                span,
                "programs needing more than 512 bytes of BPF stack (fewer or shorter strings help)",
            );
        }
        Ok(-self.sp as i16)
    }

    fn probe(&mut self, p: &crate::ast::Probe) -> Result<(), Diagnostic> {
        self.asm.mov(6, 1);
        // Scratch variables: typed in program order by a dry walk, zeroed on entry.
        self.declare_kv(&p.body);
        let declared = self.declare_vars(&p.body);
        self.kv.clear();
        declared?;
        if p.body.iter().any(Stmt::has_map_for) {
            let slot = self.alloc(8, self.probe_span)?;
            self.asm.store(8, FP, slot, 6);
            self.ctx_slot = Some(slot);
        }
        self.var_top = self.sp;
        if let Some(pred) = &p.predicate {
            self.asm.mark(pred.span);
            let mark = self.sp;
            let v = self.expr(pred)?;
            let Val::Int(off, _) = v else {
                return Err(Diagnostic::new(pred.span, "a predicate must be an integer"));
            };
            self.asm.load(8, 0, FP, off);
            self.asm.jmp_imm(BPF_JEQ, 0, 0, self.exit_label);
            self.sp = mark;
        }
        self.stmts(&p.body)?;
        let l = self.exit_label;
        self.asm.bind(l);
        self.asm.mov_imm(0, 0);
        self.asm.exit();
        self.emit_callbacks()
    }

    fn declare_vars(&mut self, body: &[Stmt]) -> Result<(), Diagnostic> {
        let mut order = vec![];
        collect_assigned_vars(body, &mut order);
        // Types come from the first assignment; infer with a throwaway generator so that
        // nothing is emitted here.
        for (name, value) in order {
            if self.vars.contains_key(&name) {
                continue;
            }
            let pointee = match &value.kind {
                ExprKind::Cast(ty, _) => struct_pointer(ty),
                ExprKind::Ident(n) if n == "curtask" => Some("task_struct".to_string()),
                _ => None,
            };
            if let Some(p) = pointee {
                self.var_structs.insert(name.clone(), p);
            }
            self.narrow = None;
            let ty = self.type_of(value)?;
            let bytes = match self.narrow {
                Some((_, b)) => self.int_bytes(value, None, b),
                None => self.int_bytes(value, None, 8),
            };
            if bytes < 8 {
                self.var_bytes.insert(name.clone(), bytes);
            }
            let off = self.alloc(ty.size() as i32, value.span)?;
            self.asm.zero(FP, off, ty.size() as i16);
            let v = match ty {
                Ty::Int { signed } => Val::Int(off, signed),
                Ty::Str(n) => Val::Str(off, n),
                t => Val::Sym(off, t),
            };
            self.vars.insert(name, v);
        }
        Ok(())
    }

    /// The type of `e` without emitting code.
    fn type_of(&mut self, e: &Expr) -> Result<Ty, Diagnostic> {
        let saved_asm = std::mem::take(&mut self.asm);
        let saved_sp = self.sp;
        let saved_printfs = self.st.printfs.len();
        let saved_times = self.st.time_formats.len();
        let saved_joins = self.st.join_delims.len();
        let r = self.expr(e);
        self.st.printfs.truncate(saved_printfs);
        self.st.time_formats.truncate(saved_times);
        self.st.join_delims.truncate(saved_joins);
        self.asm = saved_asm;
        self.sp = saved_sp;
        r.map(|v| v.ty())
    }

    fn stmts(&mut self, body: &[Stmt]) -> Result<(), Diagnostic> {
        for (i, s) in body.iter().enumerate() {
            // After exit()/return/break/continue the rest is unreachable, which the
            // kernel refuses to load: check it (its maps still exist, as in bpftrace)
            // but throw its code away.
            if self.dead {
                // Labels of the real program are only jumped to (never placed) from the
                // throwaway code, so they stay valid.
                let saved_asm = std::mem::take(&mut self.asm);
                let saved_sp = self.sp;
                let saved_pending = self.pending.len();
                self.dead = false;
                let r = self.stmts(&body[i..]);
                self.asm = saved_asm;
                self.sp = saved_sp;
                self.pending.truncate(saved_pending);
                self.dead = true;
                return r;
            }
            let mark = self.sp;
            self.stmt(s)?;
            self.sp = mark;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> Result<(), Diagnostic> {
        self.asm.mark(s.span);
        match &s.kind {
            StmtKind::Expr(e) => {
                if let ExprKind::Call(name, args) = &e.kind {
                    if self.statement_call(name, args, e.span)? {
                        return Ok(());
                    }
                }
                if let ExprKind::IncDec(target, delta, _) = &e.kind {
                    return self.inc_dec(target, *delta, e.span).map(drop);
                }
                self.expr(e)?;
                Ok(())
            }
            StmtKind::AssignVar { name, op, value } => {
                let v = match op {
                    None => self.expr(value)?,
                    Some(op) => {
                        let lhs = Expr {
                            kind: ExprKind::Var(name.clone()),
                            span: s.span,
                        };
                        self.binary(*op, &lhs, value, s.span)?
                    }
                };
                let slot = *self.vars.get(name).ok_or_else(|| {
                    Diagnostic::new(s.span, format!("internal error: ${name} was not declared"))
                })?;
                self.assign_to(slot, v, s.span)
            }
            StmtKind::AssignMap { map, op, value } => self.assign_map(map, *op, value, s.span),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let mark = self.sp;
                let c = self.int(cond)?;
                self.asm.load(8, 0, FP, c);
                self.sp = mark;
                let else_l = self.asm.label();
                let end_l = self.asm.label();
                self.asm.jmp_imm(BPF_JEQ, 0, 0, else_l);
                self.stmts(then)?;
                let then_dead = std::mem::take(&mut self.dead);
                if !then_dead {
                    self.asm.ja(end_l);
                }
                self.asm.bind(else_l);
                self.stmts(otherwise)?;
                let else_dead = std::mem::take(&mut self.dead);
                self.asm.bind(end_l);
                self.dead = then_dead && else_dead;
                Ok(())
            }
            StmtKind::Unroll { count, body } => {
                let n = match count.kind {
                    ExprKind::Int(n) if (1..=100).contains(&n) => n,
                    _ => {
                        return Err(Diagnostic::new(
                            count.span,
                            "unroll needs an integer literal between 1 and 100",
                        ))
                    }
                };
                for _ in 0..n {
                    if self.dead {
                        break;
                    }
                    self.stmts(body)?;
                }
                Ok(())
            }
            StmtKind::While { cond, body } => {
                let top = self.asm.label();
                let end = self.asm.label();
                self.asm.bind(top);
                let mark = self.sp;
                let c = self.int(cond)?;
                self.asm.load(8, 0, FP, c);
                self.sp = mark;
                self.asm.jmp_imm(BPF_JEQ, 0, 0, end);
                self.loops.push((top, end));
                self.stmts(body)?;
                self.loops.pop();
                if !std::mem::take(&mut self.dead) {
                    self.asm.ja(top);
                }
                self.asm.bind(end);
                Ok(())
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                let slot = *self.vars.get(var).ok_or_else(|| {
                    Diagnostic::new(s.span, format!("internal error: ${var} was not declared"))
                })?;
                let Val::Int(at, signed) = slot else {
                    return Err(Diagnostic::new(
                        start.span,
                        format!("${var} must be an integer to count with"),
                    ));
                };
                let mark = self.sp;
                let v = self.int(start)?;
                self.asm.load(8, 0, FP, v);
                self.asm.store(8, FP, at, 0);
                self.sp = mark;
                let top = self.asm.label();
                let next = self.asm.label();
                let done = self.asm.label();
                self.asm.bind(top);
                let mark = self.sp;
                let e = self.int(end)?;
                self.asm.load(8, 0, FP, at);
                self.asm.load(8, 1, FP, e);
                self.sp = mark;
                self.asm
                    .jmp(if signed { BPF_JSGE } else { BPF_JGE }, 0, 1, done);
                self.loops.push((next, done));
                self.stmts(body)?;
                self.loops.pop();
                self.dead = false;
                self.asm.bind(next);
                self.asm.load(8, 0, FP, at);
                self.asm.alu_imm(BPF_ADD, 0, 1);
                self.asm.store(8, FP, at, 0);
                self.asm.ja(top);
                self.asm.bind(done);
                Ok(())
            }
            StmtKind::ForMap { var, map, body } => self.map_for(var, map, body, s.span),
            StmtKind::Return if self.in_callback => {
                unsupported(s.span, "'return' inside a 'for' over a map")
            }
            StmtKind::Return => {
                let l = self.exit_label;
                self.asm.ja(l);
                self.dead = true;
                Ok(())
            }
            StmtKind::LoopControl(word) => {
                let Some(&(top, end)) = self.loops.last() else {
                    return Err(Diagnostic::new(
                        s.span,
                        format!("'{word}' outside of a while loop"),
                    ));
                };
                self.asm.ja(if *word == "break" { end } else { top });
                self.dead = true;
                Ok(())
            }
        }
    }

    fn assign_to(&mut self, slot: Val, v: Val, span: Span) -> Result<(), Diagnostic> {
        match (slot, v) {
            (Val::Int(dst, _), Val::Int(src, _)) => {
                self.asm.load(8, 0, FP, src);
                self.asm.store(8, FP, dst, 0);
                Ok(())
            }
            (Val::Sym(dst, a), Val::Sym(src, b)) if a == b => {
                self.copy_str(src, a.size(), FP, dst, a.size());
                Ok(())
            }
            (Val::Str(dst, dn), Val::Str(src, sn)) => {
                self.copy_str(src, sn, FP, dst, dn);
                Ok(())
            }
            (slot, v) => Err(Diagnostic::new(
                span,
                format!(
                    "type mismatch: the variable holds {} but the value is {}",
                    ty_name(slot.ty()),
                    ty_name(v.ty())
                ),
            )),
        }
    }

    /// Copies a stack string into `base + off` of `dst_len` bytes, zero-padding.
    fn copy_str(&mut self, src: i16, src_len: u16, base: Reg, off: i16, dst_len: u16) {
        for i in (0..dst_len as i16).step_by(8) {
            if (i as u16) < src_len {
                self.asm.load(8, 0, FP, src + i);
                self.asm.store(8, base, off + i, 0);
            } else {
                self.asm.store_imm(8, base, off + i, 0);
            }
        }
    }

    // ---- maps ----

    fn inc_dec(&mut self, target: &Expr, delta: i64, span: Span) -> Result<Val, Diagnostic> {
        let one = Expr {
            kind: ExprKind::Int(1),
            span,
        };
        let op = if delta > 0 { BinOp::Add } else { BinOp::Sub };
        match &target.kind {
            ExprKind::Var(name) => {
                let slot = self.var(name, target.span)?;
                let old = self.copy_int(slot, span)?;
                let v = self.binary(op, target, &one, span)?;
                self.assign_to(slot, v, span)?;
                Ok(old)
            }
            ExprKind::Map(m) => {
                let keys = self.key_types(m)?;
                let idx = self.note_map(m, Some(MapKind::Int { signed: true }), &keys)?;
                let old = self.expr(target)?;
                let old = self.copy_int(old, span)?;
                let v = self.binary(op, target, &one, span)?;
                let key = self.map_key(m, idx)?;
                let Val::Int(off, _) = v else {
                    unreachable_int(span)?
                };
                self.update(idx, key, off, BPF_ANY);
                Ok(old)
            }
            _ => Err(Diagnostic::new(
                target.span,
                "'++' and '--' need a @map or a $variable",
            )),
        }
    }

    fn copy_int(&mut self, v: Val, span: Span) -> Result<Val, Diagnostic> {
        let Val::Int(off, signed) = v else {
            return Err(Diagnostic::new(span, "expected an integer, found a string"));
        };
        let dst = self.alloc(8, span)?;
        self.asm.load(8, 0, FP, off);
        self.asm.store(8, FP, dst, 0);
        Ok(Val::Int(dst, signed))
    }

    // ---- statement-level functions ----

    fn var(&self, name: &str, span: Span) -> Result<Val, Diagnostic> {
        if self.kv.contains_key(name) {
            return Err(Diagnostic::new(
                span,
                format!(
                    "${name} is a map element: use ${name}.0 (its key) or ${name}.1 (its value)"
                ),
            ));
        }
        self.vars
            .get(name)
            .copied()
            .ok_or_else(|| Diagnostic::new(span, format!("undefined variable ${name}")))
    }

    fn int(&mut self, e: &Expr) -> Result<i16, Diagnostic> {
        match self.expr(e)? {
            Val::Int(off, _) => Ok(off),
            Val::Str(..) => Err(Diagnostic::new(
                e.span,
                "expected an integer, found a string",
            )),
            Val::Sym(_, t) => Err(Diagnostic::new(
                e.span,
                format!("expected an integer, found {}", ty_name(t)),
            )),
        }
    }

    /// Bytes of the integer type bpftrace gives `e`, just evaluated into `slot` (`None`:
    /// by a throwaway walk whose narrow result was `narrow`): casts, tracepoint and kernel
    /// struct fields and `bswap` keep their size, variables that of their first
    /// assignment; everything else (literals, builtins, arithmetic) is 64-bit.
    fn int_bytes(&self, e: &Expr, slot: Option<i16>, narrow: u8) -> u8 {
        match &e.kind {
            ExprKind::Var(name) => self.var_bytes.get(name).copied().unwrap_or(8),
            ExprKind::Cast(..) | ExprKind::Field(..) | ExprKind::Call(..) => match slot {
                None => narrow,
                Some(off) => match self.narrow {
                    Some((o, b)) if o == off => b,
                    _ => 8,
                },
            },
            _ => 8,
        }
    }

    /// Records that the integer just stored at `off` has a `bytes`-wide type.
    fn mark_narrow(&mut self, off: i16, bytes: u8) {
        self.narrow = (bytes < 8).then_some((off, bytes));
    }

    fn new_int(&mut self, signed: bool, span: Span) -> Result<Val, Diagnostic> {
        self.narrow = None;
        let off = self.alloc(8, span)?;
        self.asm.store(8, FP, off, 0);
        Ok(Val::Int(off, signed))
    }

    fn new_str_literal(&mut self, s: &[u8], span: Span) -> Result<Val, Diagnostic> {
        let len = round8(s.len() as i32 + 1);
        let off = self.alloc(len, span)?;
        let mut bytes = s.to_vec();
        bytes.resize(len as usize, 0);
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let w = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            self.asm.store_imm(4, FP, off + 4 * i as i16, w);
        }
        Ok(Val::Str(off, len as u16))
    }

    fn expr(&mut self, e: &Expr) -> Result<Val, Diagnostic> {
        let span = e.span;
        match &e.kind {
            ExprKind::Int(n) => {
                self.asm.ld_imm64(0, *n);
                self.new_int(true, span)
            }
            ExprKind::Str(s) => {
                if s.len() >= STR_LEN as usize {
                    return Err(Diagnostic::new(
                        span,
                        format!("string literal longer than {} bytes", STR_LEN - 1),
                    ));
                }
                self.new_str_literal(s.as_bytes(), span)
            }
            ExprKind::Var(name) if name == "#" => {
                self.asm.ld_imm64(0, self.st.opts.params.len() as u64);
                self.new_int(false, span)
            }
            ExprKind::Var(name) => self.var(name, span),
            ExprKind::Positional(n) => {
                // Missing parameters are 0, as in bpftrace; text must go through str().
                let text = self.st.opts.params.get((*n as usize).wrapping_sub(1));
                let value: i64 = match text {
                    None => 0,
                    Some(t) => t.parse().map_err(|_| {
                        Diagnostic::new(
                            span,
                            format!(
                                "${n} used numerically but given \"{t}\". Try using str(${n})."
                            ),
                        )
                    })?,
                };
                self.asm.ld_imm64(0, value as u64);
                self.new_int(true, span)
            }
            ExprKind::Ident(name) => self.builtin(name, span),
            ExprKind::Map(m) => self.map_read(m, span),
            ExprKind::Call(name, args) => self.call(name, args, span),
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, span),
            ExprKind::Unary(op, x) => match op {
                UnOp::Neg => {
                    let off = self.int(x)?;
                    self.asm.load(8, 0, FP, off);
                    self.asm.alu_imm(BPF_NEG, 0, 0);
                    self.new_int(true, span)
                }
                UnOp::BitNot => {
                    let v = self.expr(x)?;
                    let Val::Int(off, signed) = v else {
                        return Err(Diagnostic::new(x.span, "'~' needs an integer"));
                    };
                    self.asm.load(8, 0, FP, off);
                    self.asm.alu_imm(BPF_XOR, 0, -1);
                    self.new_int(signed, span)
                }
                UnOp::Not => {
                    let off = self.int(x)?;
                    let set = self.asm.label();
                    self.asm.load(8, 1, FP, off);
                    self.asm.mov_imm(0, 1);
                    self.asm.jmp_imm(BPF_JEQ, 1, 0, set);
                    self.asm.mov_imm(0, 0);
                    self.asm.bind(set);
                    self.new_int(false, span)
                }
                UnOp::Deref => unsupported(span, "pointer dereference ('*')"),
                UnOp::AddrOf => unsupported(span, "address-of ('&')"),
            },
            ExprKind::Ternary(c, a, b) => {
                let ta = self.type_of(a)?;
                let tb = self.type_of(b)?;
                let rt = match (ta, tb) {
                    (Ty::Int { signed: x }, Ty::Int { signed: y }) => Ty::Int { signed: x && y },
                    (Ty::Str(x), Ty::Str(y)) => Ty::Str(x.max(y)),
                    (x, y) if x == y => x,
                    _ => {
                        return Err(Diagnostic::new(
                            span,
                            "both branches of '?:' must have the same type",
                        ))
                    }
                };
                let result = self.alloc(rt.size() as i32, span)?;
                let res = match rt {
                    Ty::Int { signed } => Val::Int(result, signed),
                    Ty::Str(n) => Val::Str(result, n),
                    t => Val::Sym(result, t),
                };
                let mark = self.sp;
                let cv = self.int(c)?;
                self.asm.load(8, 0, FP, cv);
                self.sp = mark;
                let else_l = self.asm.label();
                let end_l = self.asm.label();
                self.asm.jmp_imm(BPF_JEQ, 0, 0, else_l);
                let v = self.expr(a)?;
                self.assign_to(res, v, span)?;
                self.sp = mark;
                self.asm.ja(end_l);
                self.asm.bind(else_l);
                let v = self.expr(b)?;
                self.assign_to(res, v, span)?;
                self.sp = mark;
                self.asm.bind(end_l);
                Ok(res)
            }
            ExprKind::Field(base, field, _) => {
                if let Some(v) = self.kv_field(e)? {
                    return Ok(v);
                }
                if matches!(&base.kind, ExprKind::Ident(n) if n == "args") {
                    self.field(field, span)
                } else {
                    self.kernel_field(e)
                }
            }
            ExprKind::Index(..) => unsupported(span, "indexing ('[]') of non-map values"),
            ExprKind::Cast(ty, x) => {
                if struct_pointer(ty).is_some() {
                    // The pointer's value; `->` on it goes through `kernel_field`.
                    let off = self.int(x)?;
                    self.asm.load(8, 0, FP, off);
                    return self.new_int(false, span);
                }
                let (signed, bits) = match ty.as_str() {
                    "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16" | "uint32"
                    | "uint64" => (
                        ty.starts_with('i'),
                        ty.trim_start_matches(['u', 'i', 'n', 't'])
                            .parse()
                            .unwrap_or(64),
                    ),
                    other => match c_int(other) {
                        Some((bytes, signed)) => (signed, i32::from(bytes) * 8),
                        None => return unsupported(span, format!("casts to '{ty}'")),
                    },
                };
                let off = self.int(x)?;
                self.asm.load(8, 0, FP, off);
                if bits < 64 {
                    self.asm.alu_imm(BPF_LSH, 0, 64 - bits);
                    self.asm
                        .alu_imm(if signed { BPF_ARSH } else { BPF_RSH }, 0, 64 - bits);
                }
                let v = self.new_int(signed, span)?;
                if let Val::Int(off, _) = v {
                    self.mark_narrow(off, (bits / 8) as u8);
                }
                Ok(v)
            }
            ExprKind::Tuple(_) => unsupported(span, "tuples outside map keys"),
            ExprKind::IncDec(target, delta, pre) => {
                let old = self.inc_dec(target, *delta, span)?;
                if *pre {
                    self.expr(target)
                } else {
                    Ok(old)
                }
            }
        }
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, span: Span) -> Result<Val, Diagnostic> {
        if matches!(op, BinOp::And | BinOp::Or) {
            let result = self.alloc(8, span)?;
            let mark = self.sp;
            let done = self.asm.label();
            let lv = self.int(l)?;
            self.asm.load(8, 1, FP, lv);
            // && : false if l == 0; || : true if l != 0.
            let short_value = if op == BinOp::And { 0 } else { 1 };
            self.asm.mov_imm(0, short_value);
            self.asm.store(8, FP, result, 0);
            self.asm
                .jmp_imm(if op == BinOp::And { BPF_JEQ } else { BPF_JNE }, 1, 0, done);
            self.sp = mark;
            let rv = self.int(r)?;
            let set = self.asm.label();
            self.asm.load(8, 1, FP, rv);
            self.asm.mov_imm(0, 1);
            self.asm.jmp_imm(BPF_JNE, 1, 0, set);
            self.asm.mov_imm(0, 0);
            self.asm.bind(set);
            self.asm.store(8, FP, result, 0);
            self.asm.bind(done);
            self.sp = mark;
            return Ok(Val::Int(result, false));
        }
        let lv = self.expr(l)?;
        let rv = self.expr(r)?;
        match (lv, rv) {
            (Val::Int(a, sa), Val::Int(b, sb)) => {
                let signed = sa && sb;
                self.asm.load(8, 1, FP, a);
                self.asm.load(8, 2, FP, b);
                let alu = |op| Some((op, 0i16));
                let arith = match op {
                    BinOp::Add => alu(BPF_ADD),
                    BinOp::Sub => alu(BPF_SUB),
                    BinOp::Mul => alu(BPF_MUL),
                    // Unsigned, as bpftrace divides (and as every kernel can: signed
                    // division is cpu v4, Linux 6.6).
                    BinOp::Div => alu(BPF_DIV),
                    BinOp::Mod => alu(BPF_MOD),
                    BinOp::BitAnd => alu(BPF_AND),
                    BinOp::BitOr => alu(BPF_OR),
                    BinOp::BitXor => alu(BPF_XOR),
                    BinOp::Shl => alu(BPF_LSH),
                    BinOp::Shr => alu(if sa { BPF_ARSH } else { BPF_RSH }),
                    _ => None,
                };
                if let Some((code, off)) = arith {
                    self.asm.alu(code, 1, 2, off);
                    self.asm.mov(0, 1);
                    return self.new_int(signed, span);
                }
                let cond = match (op, signed) {
                    (BinOp::Eq, _) => BPF_JEQ,
                    (BinOp::Ne, _) => BPF_JNE,
                    (BinOp::Lt, true) => BPF_JSLT,
                    (BinOp::Lt, false) => BPF_JLT,
                    (BinOp::Le, true) => BPF_JSLE,
                    (BinOp::Le, false) => BPF_JLE,
                    (BinOp::Gt, true) => BPF_JSGT,
                    (BinOp::Gt, false) => BPF_JGT,
                    (BinOp::Ge, true) => BPF_JSGE,
                    _ => BPF_JGE,
                };
                let set = self.asm.label();
                self.asm.mov_imm(0, 1);
                self.asm.jmp(cond, 1, 2, set);
                self.asm.mov_imm(0, 0);
                self.asm.bind(set);
                self.new_int(false, span)
            }
            (Val::Str(a, na), Val::Str(b, nb)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                // Strings are NUL-padded, so equal strings have equal 8-byte chunks.
                let result = self.alloc(8, span)?;
                let differ = self.asm.label();
                let done = self.asm.label();
                for i in (0..na.max(nb) as i16).step_by(8) {
                    if (i as u16) < na {
                        self.asm.load(8, 1, FP, a + i);
                    } else {
                        self.asm.mov_imm(1, 0);
                    }
                    if (i as u16) < nb {
                        self.asm.load(8, 2, FP, b + i);
                    } else {
                        self.asm.mov_imm(2, 0);
                    }
                    self.asm.jmp(BPF_JNE, 1, 2, differ);
                }
                self.asm.mov_imm(0, (op == BinOp::Eq) as i32);
                self.asm.ja(done);
                self.asm.bind(differ);
                self.asm.mov_imm(0, (op == BinOp::Ne) as i32);
                self.asm.bind(done);
                self.asm.store(8, FP, result, 0);
                Ok(Val::Int(result, false))
            }
            _ => Err(Diagnostic::new(
                span,
                format!(
                    "operator {op:?} cannot combine {} and {}",
                    ty_name(lv.ty()),
                    ty_name(rv.ty())
                ),
            )),
        }
    }
}

/// Map reference to the event ring buffer, whatever the number of maps.
pub const RINGBUF_REF: u32 = u32::MAX;

/// Map reference to the one-element per-CPU array `join()` builds its record in (the
/// record is larger than the 512-byte stack).
pub const JOIN_BUF_REF: u32 = u32::MAX - 1;
/// Map reference of the one-element array counting records the ring buffer refused.
pub const LOST_REF: u32 = u32::MAX - 3;
/// Map reference of the stack trace map `kstack` ids point into.
pub const STACK_MAP_REF: u32 = u32::MAX - 2;

/// Register offsets in `struct pt_regs` for uprobe arguments and return values.
mod regs {
    #[cfg(target_arch = "x86_64")]
    pub const ARGS: [i16; 6] = [112, 104, 96, 88, 72, 64];
    #[cfg(target_arch = "x86_64")]
    pub const RETVAL: i16 = 80;
    #[cfg(target_arch = "aarch64")]
    pub const ARGS: [i16; 8] = [0, 8, 16, 24, 32, 40, 48, 56];
    #[cfg(target_arch = "aarch64")]
    pub const RETVAL: i16 = 0;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub const ARGS: [i16; 0] = [];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub const RETVAL: i16 = 0;
}

/// Size and signedness of a C integer type (`unsigned int`, `u32`, `enum X`, ...).
fn c_int(ty: &str) -> Option<(u8, bool)> {
    Some(match ty {
        "char" | "signed char" | "s8" | "int8_t" | "__s8" => (1, true),
        "unsigned char" | "u8" | "uint8_t" | "__u8" | "bool" | "_Bool" => (1, false),
        "short" | "short int" | "s16" | "int16_t" | "__s16" => (2, true),
        "unsigned short" | "u16" | "uint16_t" | "__u16" => (2, false),
        "int" | "signed" | "signed int" | "s32" | "int32_t" | "__s32" | "pid_t" => (4, true),
        "unsigned" | "unsigned int" | "u32" | "uint32_t" | "__u32" => (4, false),
        "long" | "long int" | "long long" | "s64" | "int64_t" | "__s64" => (8, true),
        "unsigned long" | "unsigned long long" | "u64" | "uint64_t" | "__u64" | "size_t" => {
            (8, false)
        }
        // A C enum (no negative enumerators in the scripts this is for): unsigned int.
        t if t.starts_with("enum ") => (4, false),
        _ => return None,
    })
}

/// `struct task_struct*` (or `union u*`) → `task_struct`.
fn struct_pointer(ty: &str) -> Option<String> {
    let name = ty
        .strip_prefix("struct ")
        .or_else(|| ty.strip_prefix("union "))?
        .strip_suffix('*')?
        .trim();
    (!name.is_empty() && !name.contains([' ', '*'])).then(|| name.to_string())
}

fn const_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(n) => i64::try_from(*n).ok(),
        ExprKind::Unary(UnOp::Neg, x) => const_int(x).map(|n| -n),
        _ => None,
    }
}

fn unreachable_int<T>(span: Span) -> Result<T, Diagnostic> {
    Err(Diagnostic::new(
        span,
        "internal error: unexpected value type",
    ))
}

fn ty_name(t: Ty) -> &'static str {
    match t {
        Ty::Int { .. } => "an integer",
        Ty::Str(_) => "a string",
        Ty::Ksym => "a kernel symbol (ksym())",
        Ty::Kstack(..) => "a kernel stack",
        Ty::Ustack(..) => "a user stack",
        Ty::Usym => "a user symbol (usym())",
        Ty::Inet => "an address (ntop())",
        Ty::Buf(_) => "a buffer (buf())",
        Ty::Time(_) => "a time (strftime())",
    }
}

fn collect_assigned_vars<'a>(body: &'a [Stmt], out: &mut Vec<(String, &'a Expr)>) {
    for s in body {
        match &s.kind {
            StmtKind::AssignVar { name, value, .. } => out.push((name.clone(), value)),
            StmtKind::If {
                then, otherwise, ..
            } => {
                collect_assigned_vars(then, out);
                collect_assigned_vars(otherwise, out);
            }
            StmtKind::Unroll { body, .. } | StmtKind::While { body, .. } => {
                collect_assigned_vars(body, out)
            }
            StmtKind::For {
                var, start, body, ..
            } => {
                out.push((var.clone(), start));
                collect_assigned_vars(body, out)
            }
            StmtKind::ForMap { body, .. } => collect_assigned_vars(body, out),
            _ => {}
        }
    }
}
