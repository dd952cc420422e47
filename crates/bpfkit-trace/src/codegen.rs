//! The code generator: types each expression (tracefs formats for `args`) and emits BPF
//! instructions straight from the tree. Values live in 8-byte-aligned stack slots; `r6`
//! keeps the context. Every program is generated twice: the first pass learns each map's
//! key and value types from all its uses, the second emits the final code.

use std::collections::HashMap;

use bpfkit_obj::insn::opcode::*;

use crate::asm::{Asm, Label, Reg, FP};
use crate::ast::*;
use crate::diag::{Diagnostic, Span};
use crate::format::{parse_format, PrintfSpec, Segment};
use crate::probes::{self, Field, FieldKind, Probe, ProbeKind};
use crate::types::*;

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

// Helper ids (include/uapi/linux/bpf.h).
const MAP_LOOKUP: i32 = 1;
const MAP_UPDATE: i32 = 2;
const MAP_DELETE: i32 = 3;
const KTIME_GET_NS: i32 = 5;
const GET_SMP_PROCESSOR_ID: i32 = 8;
const GET_CURRENT_PID_TGID: i32 = 14;
const GET_CURRENT_UID_GID: i32 = 15;
const GET_CURRENT_COMM: i32 = 16;
const PROBE_READ_USER: i32 = 112;
const PROBE_READ_KERNEL: i32 = 113;
const PROBE_READ_USER_STR: i32 = 114;
const PROBE_READ_KERNEL_STR: i32 = 115;
const RINGBUF_OUTPUT: i32 = 130;
const GET_CURRENT_TASK: i32 = 35;
const GET_PRANDOM_U32: i32 = 7;
const GET_NUMA_NODE_ID: i32 = 42;
const GET_CURRENT_CGROUP_ID: i32 = 80;
const JIFFIES64: i32 = 118;

const BPF_ANY: i32 = 0;
const BPF_NOEXIST: i32 = 1;

/// A value in a stack slot at `fp + offset`.
#[derive(Clone, Copy, Debug)]
enum Val {
    Int(i16, bool),
    Str(i16, u16),
}

impl Val {
    fn ty(self) -> Ty {
        match self {
            Val::Int(_, signed) => Ty::Int { signed },
            Val::Str(_, n) => Ty::Str(n),
        }
    }
}

/// Compiles a parsed program.
pub fn compile(program: &Program, opts: &CompileOptions) -> Result<Compiled, Diagnostic> {
    let mut blocks = vec![];
    for (bi, p) in program.probes.iter().enumerate() {
        for (point, span) in &p.attach {
            for probe in probes::expand(point, *span)? {
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
        kbtf: None,
    };
    // Pass 1: learn map types.
    for (bi, probe, span) in &blocks {
        Gen::new(&mut state, probe, *span).probe(&program.probes[*bi])?;
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
        let (insns, map_refs) = g.asm.finish().map_err(|e| Diagnostic::new(*span, e))?;
        programs.push(CompiledProgram {
            probe: probe.clone(),
            insns,
            map_refs,
            spans,
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
    kbtf: Option<std::rc::Rc<crate::kbtf::KernelBtf>>,
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
    /// Variables assigned a kernel struct pointer (`$t = (struct task_struct *)curtask`):
    /// the struct's name, for `$t->field`.
    var_structs: HashMap<String, String>,
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
            var_structs: HashMap::new(),
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
        self.declare_vars(&p.body)?;
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
        Ok(())
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
            let ty = self.type_of(value)?;
            let off = self.alloc(ty.size() as i32, value.span)?;
            for i in (0..ty.size() as i16).step_by(8) {
                self.asm.store_imm(8, FP, off + i, 0);
            }
            let v = match ty {
                Ty::Int { signed } => Val::Int(off, signed),
                Ty::Str(n) => Val::Str(off, n),
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
                self.dead = false;
                let r = self.stmts(&body[i..]);
                self.asm = saved_asm;
                self.sp = saved_sp;
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

    fn map_index(&self, name: &str) -> Option<usize> {
        self.st.maps.iter().position(|m| m.name == name)
    }

    /// Records (pass 1) or checks (pass 2) a map's use; returns its index.
    fn note_map(
        &mut self,
        m: &MapRef,
        kind: Option<MapKind>,
        keys: &[Ty],
    ) -> Result<usize, Diagnostic> {
        let idx = match self.map_index(&m.name) {
            Some(i) => i,
            None => {
                if self.st.final_pass && kind.is_none() {
                    return Err(Diagnostic::new(
                        m.span,
                        format!("{} is used but never assigned", m.name),
                    ));
                }
                self.st.maps.push(MapInfo {
                    name: m.name.clone(),
                    keys: keys.to_vec(),
                    kind: kind.unwrap_or(MapKind::Int { signed: true }),
                });
                self.st.tentative.push(kind.is_none());
                return Ok(self.st.maps.len() - 1);
            }
        };
        if let (Some(k), true) = (kind, self.st.tentative[idx]) {
            self.st.tentative[idx] = false;
            self.st.maps[idx].kind = k;
        }
        let info = &mut self.st.maps[idx];
        if info.keys.len() != keys.len() {
            return Err(Diagnostic::new(
                m.span,
                format!(
                    "{} is used with {} key(s) here and {} elsewhere",
                    m.name,
                    keys.len(),
                    info.keys.len()
                ),
            ));
        }
        for (have, new) in info.keys.iter_mut().zip(keys) {
            match (*have, *new) {
                (Ty::Int { .. }, Ty::Int { .. }) => {}
                (Ty::Str(a), Ty::Str(b)) => *have = Ty::Str(a.max(b)),
                _ => {
                    return Err(Diagnostic::new(
                        m.span,
                        format!(
                            "{} has {} keys elsewhere; here a key is {}",
                            m.name,
                            ty_name(*have),
                            ty_name(*new)
                        ),
                    ))
                }
            }
        }
        if let Some(kind) = kind {
            let merged = match (info.kind, kind) {
                (MapKind::Str(a), MapKind::Str(b)) => Some(MapKind::Str(a.max(b))),
                (a, b) if std::mem::discriminant(&a) == std::mem::discriminant(&b) => {
                    if let (MapKind::Lhist { .. }, MapKind::Lhist { .. }) = (a, b) {
                        (a == b).then_some(a)
                    } else {
                        Some(a)
                    }
                }
                _ => None,
            };
            match merged {
                Some(k) => info.kind = k,
                None => {
                    return Err(Diagnostic::new(
                        m.span,
                        format!(
                            "{} is assigned {} here but {} elsewhere",
                            m.name,
                            kind.describe(),
                            info.kind.describe()
                        ),
                    ))
                }
            }
        }
        Ok(idx)
    }

    /// Builds the key of `m` on the stack (with room for a bucket when the map is a
    /// histogram); returns its offset.
    fn map_key(&mut self, m: &MapRef, idx: usize) -> Result<i16, Diagnostic> {
        let info = self.st.maps[idx].clone();
        let key = self.alloc(info.key_size() as i32, m.span)?;
        if m.keys.is_empty() {
            self.asm.store_imm(8, FP, key, 0);
            return Ok(key);
        }
        let mut at = 0i16;
        for (k, ty) in m.keys.iter().zip(&info.keys) {
            let mark = self.sp;
            let v = self.expr(k)?;
            match (v, ty) {
                (Val::Int(off, _), Ty::Int { .. }) => {
                    self.asm.load(8, 0, FP, off);
                    self.asm.store(8, FP, key + at, 0);
                }
                (Val::Str(off, n), Ty::Str(len)) => self.copy_str(off, n, FP, key + at, *len),
                _ => {
                    return Err(Diagnostic::new(
                        k.span,
                        format!("{} key has the wrong type here", m.name),
                    ))
                }
            }
            self.sp = mark;
            at += ty.size() as i16;
        }
        Ok(key)
    }

    fn key_types(&mut self, m: &MapRef) -> Result<Vec<Ty>, Diagnostic> {
        m.keys.iter().map(|k| self.type_of(k)).collect()
    }

    /// r0 = pointer to the element of `key` in map `idx`, created as `init` (zeros) when
    /// absent; jumps to `skip` when it cannot be created.
    fn lookup_or_init(
        &mut self,
        idx: usize,
        key: i16,
        span: Span,
        skip: Label,
    ) -> Result<(), Diagnostic> {
        let vsize = self.st.maps[idx].kind.value_size();
        let zero = self.alloc(vsize as i32, span)?;
        for i in (0..vsize as i16).step_by(8) {
            self.asm.store_imm(8, FP, zero + i, 0);
        }
        let found = self.asm.label();
        self.lookup(idx, key);
        self.asm.jmp_imm(BPF_JNE, 0, 0, found);
        self.asm.ld_map(1, idx as u32);
        self.asm.mov(2, FP);
        self.asm.alu_imm(BPF_ADD, 2, key as i32);
        self.asm.mov(3, FP);
        self.asm.alu_imm(BPF_ADD, 3, zero as i32);
        self.asm.mov_imm(4, BPF_NOEXIST);
        self.asm.call(MAP_UPDATE);
        self.lookup(idx, key);
        self.asm.jmp_imm(BPF_JEQ, 0, 0, skip);
        self.asm.bind(found);
        Ok(())
    }

    fn lookup(&mut self, idx: usize, key: i16) {
        self.asm.ld_map(1, idx as u32);
        self.asm.mov(2, FP);
        self.asm.alu_imm(BPF_ADD, 2, key as i32);
        self.asm.call(MAP_LOOKUP);
    }

    fn update(&mut self, idx: usize, key: i16, value: i16, flags: i32) {
        self.asm.ld_map(1, idx as u32);
        self.asm.mov(2, FP);
        self.asm.alu_imm(BPF_ADD, 2, key as i32);
        self.asm.mov(3, FP);
        self.asm.alu_imm(BPF_ADD, 3, value as i32);
        self.asm.mov_imm(4, flags);
        self.asm.call(MAP_UPDATE);
    }

    fn assign_map(
        &mut self,
        m: &MapRef,
        op: Option<BinOp>,
        value: &Expr,
        span: Span,
    ) -> Result<(), Diagnostic> {
        if let Some(op) = op {
            let lhs = Expr {
                kind: ExprKind::Map(m.clone()),
                span: m.span,
            };
            let keys = self.key_types(m)?;
            let vt = self.type_of(value)?;
            let Ty::Int { signed } = vt else {
                return Err(Diagnostic::new(
                    value.span,
                    "compound assignment needs an integer",
                ));
            };
            let idx = self.note_map(m, Some(MapKind::Int { signed }), &keys)?;
            let v = self.binary(op, &lhs, value, span)?;
            let key = self.map_key(m, idx)?;
            let Val::Int(off, _) = v else {
                unreachable_int(span)?
            };
            self.update(idx, key, off, BPF_ANY);
            return Ok(());
        }
        if let ExprKind::Call(name, args) = &value.kind {
            if let Some(()) = self.aggregation(m, name, args, value.span)? {
                return Ok(());
            }
        }
        let keys = self.key_types(m)?;
        let vt = self.type_of(value)?;
        let kind = match vt {
            Ty::Int { signed } => MapKind::Int { signed },
            Ty::Str(n) => MapKind::Str(n),
        };
        let idx = self.note_map(m, Some(kind), &keys)?;
        let v = self.expr(value)?;
        let key = self.map_key(m, idx)?;
        let off = match (v, self.st.maps[idx].kind) {
            (Val::Int(off, _), _) => off,
            (Val::Str(off, n), MapKind::Str(len)) if n == len => off,
            (Val::Str(off, n), MapKind::Str(len)) => {
                let buf = self.alloc(len as i32, span)?;
                self.copy_str(off, n, FP, buf, len);
                buf
            }
            _ => unreachable_int(span)?,
        };
        self.update(idx, key, off, BPF_ANY);
        Ok(())
    }

    /// `@m[k] = count()` and friends; `None` when `name` is not an aggregation.
    fn aggregation(
        &mut self,
        m: &MapRef,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<Option<()>, Diagnostic> {
        let arity = |n: usize| -> Result<(), Diagnostic> {
            if args.len() != n {
                return Err(Diagnostic::new(
                    span,
                    format!("{name}() takes {n} argument(s), found {}", args.len()),
                ));
            }
            Ok(())
        };
        let int_arg = |g: &mut Self, e: &Expr| -> Result<bool, Diagnostic> {
            match g.type_of(e)? {
                Ty::Int { signed } => Ok(signed),
                Ty::Str(_) => Err(Diagnostic::new(
                    e.span,
                    format!("{name}() needs an integer, found a string"),
                )),
            }
        };
        let kind = match name {
            "count" => {
                arity(0)?;
                MapKind::Count
            }
            "sum" | "avg" | "min" | "max" | "stats" | "hist" => {
                arity(1)?;
                let signed = int_arg(self, &args[0])?;
                match name {
                    "sum" => MapKind::Sum { signed },
                    "avg" => MapKind::Avg { signed },
                    "min" => MapKind::Min { signed },
                    "max" => MapKind::Max { signed },
                    "stats" => MapKind::Stats { signed },
                    _ => MapKind::Hist,
                }
            }
            "lhist" => {
                arity(4)?;
                int_arg(self, &args[0])?;
                let mut lits = [0i64; 3];
                for (i, a) in args[1..].iter().enumerate() {
                    lits[i] = const_int(a).ok_or_else(|| {
                        Diagnostic::new(a.span, "lhist() bounds and step must be integer literals")
                    })?;
                }
                let [min, max, step] = lits;
                if step <= 0 || max <= min || (max - min) / step > 1000 {
                    return Err(Diagnostic::new(
                        span,
                        "lhist() needs min < max, step > 0 and at most 1000 buckets",
                    ));
                }
                MapKind::Lhist { min, max, step }
            }
            _ => return Ok(None),
        };
        let keys = self.key_types(m)?;
        let idx = self.note_map(m, Some(kind), &keys)?;
        let v = match args.first() {
            Some(a) => Some(self.int(a)?),
            None => None,
        };
        let key = self.map_key(m, idx)?;
        let skip = self.asm.label();
        match kind {
            MapKind::Count => {
                self.lookup_or_init(idx, key, span, skip)?;
                self.asm.mov_imm(1, 1);
                self.asm.atomic_add(0, 0, 1);
            }
            MapKind::Sum { .. } => {
                self.lookup_or_init(idx, key, span, skip)?;
                self.asm.load(8, 1, FP, v.unwrap_or_default());
                self.asm.atomic_add(0, 0, 1);
            }
            MapKind::Avg { .. } | MapKind::Stats { .. } => {
                self.lookup_or_init(idx, key, span, skip)?;
                self.asm.mov_imm(1, 1);
                self.asm.atomic_add(0, 0, 1);
                self.asm.load(8, 1, FP, v.unwrap_or_default());
                self.asm.atomic_add(0, 8, 1);
            }
            MapKind::Min { signed } | MapKind::Max { signed } => {
                let v = v.unwrap_or_default();
                let found = self.asm.label();
                self.lookup(idx, key);
                self.asm.jmp_imm(BPF_JNE, 0, 0, found);
                self.update(idx, key, v, BPF_NOEXIST);
                self.asm.ja(skip);
                self.asm.bind(found);
                self.asm.load(8, 1, 0, 0);
                self.asm.load(8, 2, FP, v);
                // Keep the old value unless the new one wins.
                let is_min = matches!(kind, MapKind::Min { .. });
                let op = match (is_min, signed) {
                    (true, true) => BPF_JSGE,
                    (true, false) => BPF_JGE,
                    (false, true) => BPF_JSLE,
                    (false, false) => BPF_JLE,
                };
                self.asm.jmp(op, 2, 1, skip);
                self.asm.store(8, 0, 0, 2);
            }
            MapKind::Hist | MapKind::Lhist { .. } => {
                let bucket_at = key + self.st.maps[idx].user_key_size() as i16;
                self.asm.load(8, 1, FP, v.unwrap_or_default());
                self.bucket(kind, bucket_at);
                self.lookup_or_init(idx, key, span, skip)?;
                self.asm.mov_imm(1, 1);
                self.asm.atomic_add(0, 0, 1);
            }
            MapKind::Int { .. } | MapKind::Str(_) => unreachable_int(span)?,
        }
        self.asm.bind(skip);
        Ok(Some(()))
    }

    /// Computes the bucket of the value in r1 and stores it at `fp + at`. Clobbers r1-r3.
    fn bucket(&mut self, kind: MapKind, at: i16) {
        let done = self.asm.label();
        match kind {
            MapKind::Lhist { min, max, step } => {
                // < min: 0; >= max: last; else (v - min) / step + 1.
                let above = self.asm.label();
                let nbuckets = ((max - min) / step) as i32;
                self.asm.mov_imm(2, 0);
                self.asm.ld_imm64(3, min as u64);
                self.asm.jmp(BPF_JSLT, 1, 3, done);
                self.asm.ld_imm64(3, max as u64);
                self.asm.jmp(BPF_JSGE, 1, 3, above);
                self.asm.ld_imm64(3, min as u64);
                self.asm.alu(BPF_SUB, 1, 3, 0);
                self.asm.ld_imm64(3, step as u64);
                self.asm.alu(BPF_DIV, 1, 3, 0);
                self.asm.mov(2, 1);
                self.asm.alu_imm(BPF_ADD, 2, 1);
                self.asm.ja(done);
                self.asm.bind(above);
                self.asm.mov_imm(2, nbuckets + 1);
            }
            _ => {
                // < 0: 0; 0: 1; else 2 + floor(log2 v).
                self.asm.mov_imm(2, 0);
                self.asm.jmp_imm(BPF_JSLT, 1, 0, done);
                self.asm.mov_imm(2, 1);
                self.asm.jmp_imm(BPF_JEQ, 1, 0, done);
                self.asm.mov_imm(2, 2);
                for shift in [32, 16, 8, 4, 2, 1] {
                    let skip = self.asm.label();
                    self.asm.mov(3, 1);
                    self.asm.alu_imm(BPF_RSH, 3, shift);
                    self.asm.jmp_imm(BPF_JEQ, 3, 0, skip);
                    self.asm.mov(1, 3);
                    self.asm.alu_imm(BPF_ADD, 2, shift);
                    self.asm.bind(skip);
                }
            }
        }
        self.asm.bind(done);
        self.asm.store(8, FP, at, 2);
    }

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

    fn event(&mut self, id: u64, extra: i32, span: Span) -> Result<i16, Diagnostic> {
        let buf = self.alloc(8 + extra, span)?;
        self.asm.ld_imm64(0, id);
        self.asm.store(8, FP, buf, 0);
        Ok(buf)
    }

    fn emit_event(&mut self, buf: i16, size: i32) {
        self.asm.ld_map(1, RINGBUF_REF);
        self.asm.mov(2, FP);
        self.asm.alu_imm(BPF_ADD, 2, buf as i32);
        self.asm.mov_imm(3, size);
        self.asm.mov_imm(4, 0);
        self.asm.call(RINGBUF_OUTPUT);
    }

    /// Reads up to [`JOIN_ARGS`] user strings from the pointer array at `fp + ptr` into the
    /// per-CPU join buffer and sends it. `r7` holds the buffer across helper calls.
    fn join(&mut self, ptr: i16, id: u64, span: Span) -> Result<(), Diagnostic> {
        let key = self.alloc(8, span)?;
        let tmp = self.alloc(8, span)?;
        let done = self.asm.label();
        let sent = self.asm.label();
        self.asm.store_imm(8, FP, key, 0);
        self.asm.ld_map(1, JOIN_BUF_REF);
        self.asm.mov(2, FP);
        self.asm.alu_imm(BPF_ADD, 2, key as i32);
        self.asm.call(MAP_LOOKUP);
        self.asm.jmp_imm(BPF_JEQ, 0, 0, sent);
        self.asm.mov(7, 0);
        self.asm.ld_imm64(1, id);
        self.asm.store(8, 7, 0, 1);
        for i in 0..JOIN_ARGS as i16 {
            self.asm.store_imm(1, 7, 8 + i * STR_LEN as i16, 0);
        }
        for i in 0..JOIN_ARGS as i32 {
            // tmp = argv[i]; stop at NULL.
            self.asm.mov(1, FP);
            self.asm.alu_imm(BPF_ADD, 1, tmp as i32);
            self.asm.mov_imm(2, 8);
            self.asm.load(8, 3, FP, ptr);
            self.asm.alu_imm(BPF_ADD, 3, 8 * i);
            self.asm.call(PROBE_READ_USER);
            self.asm.jmp_imm(BPF_JNE, 0, 0, done);
            self.asm.load(8, 3, FP, tmp);
            self.asm.jmp_imm(BPF_JEQ, 3, 0, done);
            self.asm.mov(1, 7);
            self.asm.alu_imm(BPF_ADD, 1, 8 + i * STR_LEN as i32);
            self.asm.mov_imm(2, STR_LEN as i32);
            self.asm.call(PROBE_READ_USER_STR);
        }
        self.asm.bind(done);
        self.asm.ld_map(1, RINGBUF_REF);
        self.asm.mov(2, 7);
        self.asm.mov_imm(3, JOIN_RECORD as i32);
        self.asm.mov_imm(4, 0);
        self.asm.call(RINGBUF_OUTPUT);
        self.asm.bind(sent);
        Ok(())
    }

    fn map_arg(&mut self, name: &str, args: &[Expr], span: Span) -> Result<usize, Diagnostic> {
        let Some(Expr {
            kind: ExprKind::Map(m),
            ..
        }) = args.first()
        else {
            return Err(Diagnostic::new(span, format!("{name}() takes a @map")));
        };
        if args.len() != 1 {
            return unsupported(span, format!("{name}() with more than one argument"));
        }
        if !m.keys.is_empty() {
            return Err(Diagnostic::new(
                m.span,
                format!("{name}() takes a whole map, without a key"),
            ));
        }
        match self.map_index(&m.name) {
            Some(i) => Ok(i),
            None if !self.st.final_pass => Ok(0),
            None => Err(Diagnostic::new(
                m.span,
                format!("{} is used but never assigned", m.name),
            )),
        }
    }

    /// Calls that are statements; `Ok(false)` when `name` is not one.
    fn statement_call(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<bool, Diagnostic> {
        match name {
            "printf" => self.printf(args, span)?,
            "exit" => {
                if !args.is_empty() {
                    return unsupported(span, "exit() with an exit code");
                }
                let buf = self.event(event::EXIT << 32, 0, span)?;
                self.emit_event(buf, 8);
                let l = self.exit_label;
                self.asm.ja(l);
                self.dead = true;
            }
            "time" => {
                let fmt = match args {
                    [] => "%H:%M:%S\n".to_string(),
                    [Expr {
                        kind: ExprKind::Str(f),
                        ..
                    }] => f.clone(),
                    _ => {
                        return Err(Diagnostic::new(
                            span,
                            "time() takes an optional format string literal",
                        ))
                    }
                };
                let index = self.st.time_formats.len() as u64;
                self.st.time_formats.push(fmt);
                let buf = self.event(event::TIME << 32 | index, 0, span)?;
                self.emit_event(buf, 8);
            }
            "join" => {
                let (arr, delim) =
                    match args {
                        [a] => (a, " ".to_string()),
                        [a, Expr {
                            kind: ExprKind::Str(d),
                            ..
                        }] => (a, d.clone()),
                        _ => return Err(Diagnostic::new(
                            span,
                            "join() takes an array of strings and an optional delimiter literal",
                        )),
                    };
                let ptr = self.int(arr)?;
                let index = self.st.join_delims.len() as u64;
                self.st.join_delims.push(delim);
                self.join(ptr, event::JOIN << 32 | index, span)?;
            }
            "print" if args.len() > 1 => {
                if args.len() > 3 {
                    return Err(Diagnostic::new(span, "print() takes a map, top and div"));
                }
                let mut extra = [0u64; 2];
                for (i, a) in args[1..].iter().enumerate() {
                    extra[i] = const_int(a).filter(|v| *v >= 0).ok_or_else(|| {
                        Diagnostic::new(a.span, "print()'s top and div must be integer literals")
                    })? as u64;
                }
                let idx = self.map_arg(name, &args[..1], span)?;
                let buf = self.event(event::PRINT << 32 | idx as u64, 16, span)?;
                for (i, v) in extra.iter().enumerate() {
                    self.asm.ld_imm64(0, *v);
                    self.asm.store(8, FP, buf + 8 + 8 * i as i16, 0);
                }
                self.emit_event(buf, 24);
            }
            "print" | "clear" | "zero" => {
                if name == "print"
                    && !matches!(args.first().map(|a| &a.kind), Some(ExprKind::Map(_)))
                {
                    return unsupported(span, "print() of a non-map value");
                }
                let idx = self.map_arg(name, args, span)?;
                let kind = match name {
                    "print" => event::PRINT,
                    "clear" => event::CLEAR,
                    _ => event::ZERO,
                };
                let buf = self.event(kind << 32 | idx as u64, 0, span)?;
                self.emit_event(buf, 8);
            }
            "delete" => {
                let Some(Expr {
                    kind: ExprKind::Map(m),
                    ..
                }) = args.first()
                else {
                    return Err(Diagnostic::new(span, "delete() takes a @map element"));
                };
                if args.len() != 1 {
                    return unsupported(span, "delete() with several arguments");
                }
                let keys = self.key_types(m)?;
                let idx = self.note_map(m, None, &keys)?;
                if self.st.maps[idx].kind.is_histogram() {
                    return unsupported(span, "delete() of a hist()/lhist() element");
                }
                let key = self.map_key(m, idx)?;
                self.asm.ld_map(1, idx as u32);
                self.asm.mov(2, FP);
                self.asm.alu_imm(BPF_ADD, 2, key as i32);
                self.asm.call(MAP_DELETE);
            }
            "count" | "sum" | "avg" | "min" | "max" | "stats" | "hist" | "lhist" => {
                return Err(Diagnostic::new(
                    span,
                    format!("{name}() must be assigned to a map: @x = {name}(...)"),
                ))
            }
            "system" | "cat" | "signal" | "override" | "unwatch" => {
                return unsupported(span, format!("{name}()"))
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn printf(&mut self, args: &[Expr], span: Span) -> Result<(), Diagnostic> {
        let Some(Expr {
            kind: ExprKind::Str(fmt),
            span: fspan,
        }) = args.first()
        else {
            return Err(Diagnostic::new(
                span,
                "printf() needs a format string literal first",
            ));
        };
        let segments = parse_format(fmt).map_err(|e| Diagnostic::new(*fspan, e))?;
        let convs: Vec<char> = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Conv(c) => Some(c.conv),
                Segment::Lit(_) => None,
            })
            .collect();
        if convs.len() != args.len() - 1 {
            return Err(Diagnostic::new(
                span,
                format!(
                    "printf() format has {} conversion(s) but {} argument(s) follow",
                    convs.len(),
                    args.len() - 1
                ),
            ));
        }
        let mut types = vec![];
        for (a, c) in args[1..].iter().zip(&convs) {
            let t = self.type_of(a)?;
            match (c, t) {
                ('s', Ty::Str(_)) => {}
                ('s', Ty::Int { .. }) => {
                    return Err(Diagnostic::new(
                        a.span,
                        "printf: %s needs a string, found an integer (str() reads one)",
                    ))
                }
                (_, Ty::Int { .. }) => {}
                (c, Ty::Str(_)) => {
                    return Err(Diagnostic::new(
                        a.span,
                        format!("printf: %{c} needs an integer, found a string"),
                    ))
                }
            }
            types.push(t);
        }
        let index = self.st.printfs.len() as u64;
        self.st.printfs.push(PrintfSpec {
            segments,
            args: types.clone(),
        });
        let size: i32 = types.iter().map(|t| t.size() as i32).sum();
        let buf = self.event(event::PRINTF << 32 | index, size, span)?;
        let mut at = buf + 8;
        for (a, t) in args[1..].iter().zip(&types) {
            let mark = self.sp;
            match (self.expr(a)?, t) {
                (Val::Int(off, _), _) => {
                    self.asm.load(8, 0, FP, off);
                    self.asm.store(8, FP, at, 0);
                }
                (Val::Str(off, n), Ty::Str(len)) => self.copy_str(off, n, FP, at, *len),
                _ => unreachable_int(a.span)?,
            }
            self.sp = mark;
            at += t.size() as i16;
        }
        self.emit_event(buf, 8 + size);
        Ok(())
    }

    // ---- expressions ----

    fn var(&self, name: &str, span: Span) -> Result<Val, Diagnostic> {
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
        }
    }

    fn new_int(&mut self, signed: bool, span: Span) -> Result<Val, Diagnostic> {
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
                let signed = match ty.as_str() {
                    "int8" | "int16" | "int32" | "int64" => true,
                    "uint8" | "uint16" | "uint32" | "uint64" => false,
                    _ => return unsupported(span, format!("casts to '{ty}'")),
                };
                let bits: i32 = ty
                    .trim_start_matches(['u', 'i', 'n', 't'])
                    .parse()
                    .unwrap_or(64);
                let off = self.int(x)?;
                self.asm.load(8, 0, FP, off);
                if bits < 64 {
                    self.asm.alu_imm(BPF_LSH, 0, 64 - bits);
                    self.asm
                        .alu_imm(if signed { BPF_ARSH } else { BPF_RSH }, 0, 64 - bits);
                }
                self.new_int(signed, span)
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

    fn map_read(&mut self, m: &MapRef, span: Span) -> Result<Val, Diagnostic> {
        let keys = self.key_types(m)?;
        let idx = self.note_map(m, None, &keys)?;
        let kind = self.st.maps[idx].kind;
        let (signed, str_len) = match kind {
            MapKind::Int { signed }
            | MapKind::Sum { signed }
            | MapKind::Min { signed }
            | MapKind::Max { signed } => (signed, None),
            MapKind::Count => (false, None),
            MapKind::Str(n) => (false, Some(n)),
            other => {
                return unsupported(
                    span,
                    format!("reading the value of a {} map", other.describe()),
                )
            }
        };
        let key = self.map_key(m, idx)?;
        let missing = self.asm.label();
        let done = self.asm.label();
        match str_len {
            None => {
                let out = self.alloc(8, span)?;
                self.lookup(idx, key);
                self.asm.mov_imm(1, 0);
                self.asm.jmp_imm(BPF_JEQ, 0, 0, missing);
                self.asm.load(8, 1, 0, 0);
                self.asm.bind(missing);
                self.asm.store(8, FP, out, 1);
                self.asm.bind(done);
                Ok(Val::Int(out, signed))
            }
            Some(n) => {
                let out = self.alloc(n as i32, span)?;
                self.lookup(idx, key);
                self.asm.jmp_imm(BPF_JEQ, 0, 0, missing);
                for i in (0..n as i16).step_by(8) {
                    self.asm.load(8, 1, 0, i);
                    self.asm.store(8, FP, out + i, 1);
                }
                self.asm.ja(done);
                self.asm.bind(missing);
                for i in (0..n as i16).step_by(8) {
                    self.asm.store_imm(8, FP, out + i, 0);
                }
                self.asm.bind(done);
                Ok(Val::Str(out, n))
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

    fn helper_int(&mut self, helper: i32, span: Span) -> Result<(), Diagnostic> {
        let _ = span;
        self.asm.call(helper);
        Ok(())
    }

    fn builtin(&mut self, name: &str, span: Span) -> Result<Val, Diagnostic> {
        match name {
            "pid" | "tid" => {
                self.helper_int(GET_CURRENT_PID_TGID, span)?;
                if name == "pid" {
                    self.asm.alu_imm(BPF_RSH, 0, 32);
                } else {
                    self.asm.mov32(0, 0);
                }
                self.new_int(false, span)
            }
            "uid" | "gid" => {
                self.helper_int(GET_CURRENT_UID_GID, span)?;
                if name == "gid" {
                    self.asm.alu_imm(BPF_RSH, 0, 32);
                } else {
                    self.asm.mov32(0, 0);
                }
                self.new_int(false, span)
            }
            "nsecs" => {
                self.helper_int(KTIME_GET_NS, span)?;
                self.new_int(false, span)
            }
            "elapsed" => {
                self.helper_int(KTIME_GET_NS, span)?;
                self.asm.ld_imm64(1, self.st.opts.start_ns);
                self.asm.alu(BPF_SUB, 0, 1, 0);
                self.new_int(false, span)
            }
            "cpu" => {
                self.helper_int(GET_SMP_PROCESSOR_ID, span)?;
                self.new_int(false, span)
            }
            "cpid" => match self.st.opts.cpid {
                Some(p) => {
                    self.asm.ld_imm64(0, p as u64);
                    self.new_int(false, span)
                }
                None => Err(Diagnostic::new(span, "cpid needs -c CMD")),
            },
            "comm" => {
                let off = self.alloc(16, span)?;
                self.asm.mov(1, FP);
                self.asm.alu_imm(BPF_ADD, 1, off as i32);
                self.asm.mov_imm(2, 16);
                self.asm.call(GET_CURRENT_COMM);
                Ok(Val::Str(off, 16))
            }
            "probe" => {
                let n = self.probe.name.clone();
                if n.len() >= STR_LEN as usize {
                    return unsupported(span, "probe names longer than 63 bytes");
                }
                self.new_str_literal(n.as_bytes(), span)
            }
            "func" => match &self.probe.kind {
                ProbeKind::Uprobe { function, .. } => {
                    let f = function.clone();
                    self.new_str_literal(f.as_bytes(), span)
                }
                _ => Err(Diagnostic::new(span, "func is only valid in uprobes here")),
            },
            "retval" => match self.probe.kind {
                ProbeKind::Uprobe { ret: true, .. } => {
                    self.asm.load(8, 0, 6, regs::RETVAL);
                    self.new_int(true, span)
                }
                _ => Err(Diagnostic::new(
                    span,
                    "retval is only valid in uretprobes (tracepoints: args->ret)",
                )),
            },
            n if n.starts_with("arg") && n[3..].parse::<usize>().is_ok() => {
                let i: usize = n[3..].parse().unwrap_or(0);
                match self.probe.kind {
                    ProbeKind::Uprobe { ret: false, .. } if i < regs::ARGS.len() => {
                        self.asm.load(8, 0, 6, regs::ARGS[i]);
                        self.new_int(false, span)
                    }
                    ProbeKind::Uprobe { .. } => {
                        unsupported(span, format!("{n} (stack-passed or uretprobe arguments)"))
                    }
                    // struct bpf_raw_tracepoint_args { __u64 args[]; }
                    ProbeKind::RawTracepoint { .. } if i < 12 => {
                        self.asm.load(8, 0, 6, 8 * i as i16);
                        self.new_int(false, span)
                    }
                    _ => Err(Diagnostic::new(
                        span,
                        format!(
                            "{n} is only valid in uprobes and rawtracepoints (tracepoints: args->field)"
                        ),
                    )),
                }
            }
            "args" => Err(Diagnostic::new(
                span,
                "args must be followed by '->field' or '.field'",
            )),
            "curtask" | "cgroup" | "rand" | "jiffies" | "numaid" => {
                self.asm.call(match name {
                    "curtask" => GET_CURRENT_TASK,
                    "cgroup" => GET_CURRENT_CGROUP_ID,
                    "rand" => GET_PRANDOM_U32,
                    "jiffies" => JIFFIES64,
                    _ => GET_NUMA_NODE_ID,
                });
                self.new_int(false, span)
            }
            "kstack" | "ustack" | "username" | "sarg0" | "ctx" | "__builtin_elapsed" | "kaddr" => {
                unsupported(span, name)
            }
            _ => Err(Diagnostic::new(
                span,
                format!("unknown identifier '{name}'"),
            )),
        }
    }

    fn tp_fields(&mut self, span: Span) -> Result<Vec<Field>, Diagnostic> {
        let ProbeKind::Tracepoint { category, name } = &self.probe.kind else {
            return Err(Diagnostic::new(
                span,
                "args is only valid in tracepoints here",
            ));
        };
        let k = (category.clone(), name.clone());
        if let Some(f) = self.st.formats.get(&k) {
            return Ok(f.clone());
        }
        let f = probes::tracepoint_format(category, name)
            .map_err(|e| Diagnostic::new(self.probe_span, e))?;
        self.st.formats.insert(k, f.clone());
        Ok(f)
    }

    fn kernel_btf(
        &mut self,
        span: Span,
    ) -> Result<std::rc::Rc<crate::kbtf::KernelBtf>, Diagnostic> {
        if self.st.kbtf.is_none() {
            let k = crate::kbtf::KernelBtf::load().map_err(|e| Diagnostic::new(span, e))?;
            self.st.kbtf = Some(std::rc::Rc::new(k));
        }
        Ok(self.st.kbtf.clone().expect("just loaded"))
    }

    /// `curtask->a->b.c`: each step read with bpf_probe_read_kernel at offsets from the
    /// running kernel's BTF.
    fn kernel_field(&mut self, e: &Expr) -> Result<Val, Diagnostic> {
        use crate::kbtf::Leaf;
        let mut parts = vec![];
        let mut cur = e;
        while let ExprKind::Field(base, name, arrow) = &cur.kind {
            parts.push((name.as_str(), *arrow, cur.span));
            cur = base;
        }
        parts.reverse();
        // `args->ptr->field`: a tracepoint field that points to a kernel struct type; in
        // syscall tracepoints it points into user memory.
        let mut user = false;
        let mut args_root = None;
        if matches!(&cur.kind, ExprKind::Ident(n) if n == "args") && !parts.is_empty() {
            let (first, _, fspan) = parts.remove(0);
            let fields = self.tp_fields(fspan)?;
            let f = fields.iter().find(|f| f.name == first).ok_or_else(|| {
                Diagnostic::new(fspan, format!("{} has no field '{first}'", self.probe.name))
            })?;
            let ty = f.c_type.trim_start_matches("const ").replace("__user ", "");
            let name = struct_pointer(&ty).ok_or_else(|| {
                Diagnostic::new(
                    fspan,
                    format!("args->{first} is a '{}', not a struct pointer", f.c_type),
                )
            })?;
            user = matches!(&self.probe.kind, ProbeKind::Tracepoint { category, .. } if category == "syscalls");
            args_root = Some((name, f.offset));
        }
        let (read, read_str) = if user {
            (PROBE_READ_USER, PROBE_READ_USER_STR)
        } else {
            (PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR)
        };
        // The root: curtask, or a cast of an integer to a kernel struct pointer.
        let (struct_name, inner) =
            match &cur.kind {
                _ if args_root.is_some() => (args_root.clone().unwrap_or_default().0, None),
                ExprKind::Ident(n) if n == "curtask" => ("task_struct".to_string(), None),
                ExprKind::Cast(ty, inner) => match struct_pointer(ty) {
                    Some(name) => (name, Some(&**inner)),
                    None => return unsupported(cur.span, format!("field access through a '{ty}'")),
                },
                ExprKind::Var(v) if self.var_structs.contains_key(v) => {
                    (self.var_structs[v].clone(), Some(cur))
                }
                _ => return unsupported(
                    e.span,
                    "field access on anything but tracepoint args, curtask and (struct X *) casts",
                ),
            };
        let k = self.kernel_btf(e.span)?;
        let root = k.struct_id(&struct_name).ok_or_else(|| {
            Diagnostic::new(
                cur.span,
                format!("the kernel's BTF has no struct {struct_name}"),
            )
        })?;
        // `addr` holds a pointer to (Ptr) or the address of (Struct) the current struct.
        let addr = self.alloc(8, e.span)?;
        match inner {
            None if args_root.is_some() => {
                let off = args_root.as_ref().map_or(0, |r| r.1);
                self.asm.load(8, 0, 6, off as i16);
            }
            None => self.asm.call(GET_CURRENT_TASK),
            Some(x) => {
                let mark = self.sp;
                let v = self.int(x)?;
                self.asm.load(8, 0, FP, v);
                self.sp = mark;
            }
        }
        self.asm.store(8, FP, addr, 0);
        let mut state = Leaf::Ptr { pointee: root };
        for (i, (name, arrow, pspan)) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let sid = match (state, arrow) {
                (Leaf::Ptr { pointee }, true) => pointee,
                (Leaf::Struct(id), false) => id,
                (Leaf::Ptr { .. }, false) => {
                    return Err(Diagnostic::new(
                        *pspan,
                        format!("use '->' to reach '{name}' through a pointer"),
                    ))
                }
                (Leaf::Struct(_), true) => {
                    return Err(Diagnostic::new(
                        *pspan,
                        format!("use '.' to reach '{name}' in an embedded struct"),
                    ))
                }
                _ => {
                    return Err(Diagnostic::new(
                        *pspan,
                        format!("'{name}': the value before it is not a struct"),
                    ))
                }
            };
            let (off, leaf) = k
                .member(sid, name)
                .map_err(|m| Diagnostic::unsupported(*pspan, m))?
                .ok_or_else(|| {
                    Diagnostic::new(
                        *pspan,
                        format!("{} has no member '{name}'", k.type_name(sid)),
                    )
                })?;
            match leaf {
                Leaf::Struct(_) if last => {
                    return unsupported(*pspan, "whole structs as values");
                }
                Leaf::Struct(_) => {
                    self.asm.load(8, 0, FP, addr);
                    self.asm.alu_imm(BPF_ADD, 0, off as i32);
                    self.asm.store(8, FP, addr, 0);
                }
                Leaf::Ptr { .. } | Leaf::Int { .. } => {
                    let size = match leaf {
                        Leaf::Int { size, .. } => size,
                        _ => 8,
                    };
                    if !last && matches!(leaf, Leaf::Int { .. }) {
                        return Err(Diagnostic::new(
                            *pspan,
                            format!("'{name}' is an integer, not a struct"),
                        ));
                    }
                    let dst = if last { self.alloc(8, e.span)? } else { addr };
                    // The source first: `dst` may be `addr` itself.
                    self.asm.load(8, 3, FP, addr);
                    self.asm.alu_imm(BPF_ADD, 3, off as i32);
                    self.asm.store_imm(8, FP, dst, 0);
                    self.asm.mov(1, FP);
                    self.asm.alu_imm(BPF_ADD, 1, dst as i32);
                    self.asm.mov_imm(2, size as i32);
                    self.asm.call(read);
                    if last {
                        let signed = matches!(leaf, Leaf::Int { signed: true, .. });
                        if signed && size < 8 {
                            let shift = 64 - 8 * size as i32;
                            self.asm.load(8, 0, FP, dst);
                            self.asm.alu_imm(BPF_LSH, 0, shift);
                            self.asm.alu_imm(BPF_ARSH, 0, shift);
                            self.asm.store(8, FP, dst, 0);
                        }
                        return Ok(Val::Int(dst, signed));
                    }
                }
                Leaf::CharArray(n) => {
                    if !last {
                        return Err(Diagnostic::new(
                            *pspan,
                            format!("'{name}' is a char array, not a struct"),
                        ));
                    }
                    let len = round8(n as i32).clamp(8, STR_LEN as i32) as u16;
                    let dst = self.alloc(len as i32, e.span)?;
                    for j in (0..len as i16).step_by(8) {
                        self.asm.store_imm(8, FP, dst + j, 0);
                    }
                    self.asm.mov(1, FP);
                    self.asm.alu_imm(BPF_ADD, 1, dst as i32);
                    self.asm.mov_imm(2, (n as i32).min(len as i32));
                    self.asm.load(8, 3, FP, addr);
                    self.asm.alu_imm(BPF_ADD, 3, off as i32);
                    self.asm.call(read_str);
                    return Ok(Val::Str(dst, len));
                }
            }
            state = leaf;
        }
        // The chain ended on a pointer: its value.
        Ok(Val::Int(addr, false))
    }

    fn field(&mut self, field: &str, span: Span) -> Result<Val, Diagnostic> {
        let fields = self.tp_fields(span)?;
        let Some(f) = fields.iter().find(|f| f.name == field) else {
            let names: Vec<&str> = fields
                .iter()
                .filter(|f| !f.name.starts_with("common_"))
                .map(|f| f.name.as_str())
                .collect();
            return Err(Diagnostic::new(
                span,
                format!(
                    "{} has no field '{field}'; it has: {}",
                    self.probe.name,
                    names.join(", ")
                ),
            ));
        };
        match f.kind {
            FieldKind::Int => {
                let size = f.size.min(8) as u8;
                if !matches!(size, 1 | 2 | 4 | 8) {
                    return unsupported(span, format!("field '{field}' of size {}", f.size));
                }
                self.asm.load(size, 0, 6, f.offset as i16);
                if f.signed && size < 8 {
                    let shift = 64 - 8 * size as i32;
                    self.asm.alu_imm(BPF_LSH, 0, shift);
                    self.asm.alu_imm(BPF_ARSH, 0, shift);
                }
                self.new_int(f.signed, span)
            }
            FieldKind::CharArray => {
                let len = round8(f.size as i32).min(STR_LEN as i32) as u16;
                let off = self.alloc(len as i32, span)?;
                for i in (0..len as i16).step_by(8) {
                    self.asm.store_imm(8, FP, off + i, 0);
                }
                self.asm.mov(1, FP);
                self.asm.alu_imm(BPF_ADD, 1, off as i32);
                self.asm.mov_imm(2, (f.size as i32).min(len as i32 - 1));
                self.asm.mov(3, 6);
                self.asm.alu_imm(BPF_ADD, 3, f.offset as i32);
                self.asm.call(PROBE_READ_KERNEL);
                Ok(Val::Str(off, len))
            }
            FieldKind::DataLocStr => {
                let off = self.alloc(STR_LEN as i32, span)?;
                for i in (0..STR_LEN as i16).step_by(8) {
                    self.asm.store_imm(8, FP, off + i, 0);
                }
                self.asm.load(4, 3, 6, f.offset as i16);
                self.asm.alu_imm(BPF_AND, 3, 0xffff);
                self.asm.alu(BPF_ADD, 3, 6, 0);
                self.asm.mov(1, FP);
                self.asm.alu_imm(BPF_ADD, 1, off as i32);
                self.asm.mov_imm(2, STR_LEN as i32);
                self.asm.call(PROBE_READ_KERNEL_STR);
                Ok(Val::Str(off, STR_LEN))
            }
            FieldKind::Other => unsupported(span, format!("field '{field}' of type {}", f.c_type)),
        }
    }

    fn call(&mut self, name: &str, args: &[Expr], span: Span) -> Result<Val, Diagnostic> {
        match name {
            "str"
                if matches!(
                    args,
                    [Expr {
                        kind: ExprKind::Positional(_),
                        ..
                    }]
                ) =>
            {
                let ExprKind::Positional(n) = args[0].kind else {
                    return unreachable_int(span);
                };
                let text = self
                    .st
                    .opts
                    .params
                    .get((n as usize).wrapping_sub(1))
                    .cloned()
                    .unwrap_or_default();
                if text.len() >= STR_LEN as usize {
                    return Err(Diagnostic::new(
                        span,
                        format!("${n} is longer than 63 bytes"),
                    ));
                }
                self.new_str_literal(text.as_bytes(), span)
            }
            "str" => {
                let (x, len) = match args {
                    [x] => (x, STR_LEN as i32),
                    [x, n] => {
                        let n = const_int(n)
                            .filter(|n| (1..STR_LEN as i64).contains(n))
                            .ok_or_else(|| {
                                Diagnostic::new(
                                    n.span,
                                    "str()'s length must be an integer literal from 1 to 63",
                                )
                            })?;
                        (x, n as i32 + 1)
                    }
                    _ => return Err(Diagnostic::new(span, "str() takes 1 or 2 arguments")),
                };
                let v = self.expr(x)?;
                let ptr = match v {
                    Val::Str(..) if args.len() == 1 => return Ok(v),
                    Val::Str(..) => return unsupported(span, "str() with a length of a string"),
                    Val::Int(off, _) => off,
                };
                let buf = round8(len).max(8) as u16;
                let off = self.alloc(buf as i32, span)?;
                for i in (0..buf as i16).step_by(8) {
                    self.asm.store_imm(8, FP, off + i, 0);
                }
                self.asm.mov(1, FP);
                self.asm.alu_imm(BPF_ADD, 1, off as i32);
                self.asm.mov_imm(2, len);
                self.asm.load(8, 3, FP, ptr);
                // Syscall arguments and uprobe arguments point into user memory.
                let user = match &self.probe.kind {
                    ProbeKind::Tracepoint { category, .. } => category == "syscalls",
                    ProbeKind::Uprobe { .. } => true,
                    _ => false,
                };
                self.asm.call(if user {
                    PROBE_READ_USER_STR
                } else {
                    PROBE_READ_KERNEL_STR
                });
                Ok(Val::Str(off, buf))
            }
            "strncmp" => {
                let [a, b, n] = args else {
                    return Err(Diagnostic::new(
                        span,
                        "strncmp() takes two strings and a length",
                    ));
                };
                let n = const_int(n)
                    .filter(|n| (0..=i64::from(STR_LEN)).contains(n))
                    .ok_or_else(|| {
                        Diagnostic::new(
                            n.span,
                            "strncmp()'s length must be an integer literal from 0 to 64",
                        )
                    })?;
                let (Val::Str(x, xn), Val::Str(y, yn)) = (self.expr(a)?, self.expr(b)?) else {
                    return Err(Diagnostic::new(span, "strncmp() compares two strings"));
                };
                // 0 when the first n bytes match (or both end before them), else 1.
                if n == 0 {
                    self.asm.mov_imm(0, 0);
                    return self.new_int(false, span);
                }
                let differ = self.asm.label();
                let same = self.asm.label();
                let done = self.asm.label();
                for i in 0..n as i16 {
                    let byte = |g: &mut Self, reg: u8, base: i16, len: u16| {
                        if (i as u16) < len {
                            g.asm.load(1, reg, FP, base + i);
                        } else {
                            g.asm.mov_imm(reg, 0);
                        }
                    };
                    byte(self, 1, x, xn);
                    byte(self, 2, y, yn);
                    self.asm.jmp(BPF_JNE, 1, 2, differ);
                    self.asm.jmp_imm(BPF_JEQ, 1, 0, same);
                }
                self.asm.bind(same);
                self.asm.mov_imm(0, 0);
                self.asm.ja(done);
                self.asm.bind(differ);
                self.asm.mov_imm(0, 1);
                self.asm.bind(done);
                self.new_int(false, span)
            }
            "printf" | "exit" | "print" | "clear" | "zero" | "delete" => Err(Diagnostic::new(
                span,
                format!("{name}() is a statement and has no value"),
            )),
            "count" | "sum" | "avg" | "min" | "max" | "stats" | "hist" | "lhist" => {
                Err(Diagnostic::new(
                    span,
                    format!("{name}() must be assigned to a map: @x = {name}(...)"),
                ))
            }
            _ => unsupported(span, format!("{name}()")),
        }
    }
}

/// Map reference to the event ring buffer, whatever the number of maps.
pub const RINGBUF_REF: u32 = u32::MAX;

/// Map reference to the one-element per-CPU array `join()` builds its record in (the
/// record is larger than the 512-byte stack).
pub const JOIN_BUF_REF: u32 = u32::MAX - 1;

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

/// `struct task_struct*` → `task_struct`.
fn struct_pointer(ty: &str) -> Option<String> {
    let name = ty.strip_prefix("struct ")?.strip_suffix('*')?.trim();
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
            _ => {}
        }
    }
}
