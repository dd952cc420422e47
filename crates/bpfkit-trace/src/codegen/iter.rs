//! `for ($kv : @map) { ... }`: a `bpf_for_each_map_elem` call (Linux 5.13) whose callback
//! is a subprogram emitted after the main one.
//!
//! The callback's context is the caller's variable area (the top `var_top` bytes of its
//! frame, which also keeps the probe's context pointer): the callback copies the variables
//! into the same offsets of its own frame, runs the body with the ordinary code generator,
//! and copies them back before returning 0 (next element) or 1 (`break`, `exit()`).

use super::*;

const FOR_EACH_MAP_ELEM: i32 = uapi::BPF_FUNC_for_each_map_elem as i32;

/// The element slots of a `for` variable in its callback's frame.
#[derive(Clone, Debug)]
pub(super) struct KvSlots {
    /// The map iterated over.
    pub map: String,
    /// Key bytes.
    pub key: i16,
    /// Value bytes.
    pub value: i16,
}

/// A callback to emit after the main program.
pub(super) struct Callback {
    label: Label,
    var: String,
    map: usize,
    body: Vec<Stmt>,
}

impl Gen<'_> {
    /// Registers every map `for` variable of `body` with placeholder slots, so that
    /// `declare_vars` can type `$x = $kv.1`.
    pub(super) fn declare_kv(&mut self, body: &[Stmt]) {
        for s in body {
            match &s.kind {
                StmtKind::ForMap { var, map, body } => {
                    self.kv.insert(
                        var.clone(),
                        KvSlots {
                            map: map.name.clone(),
                            key: -8,
                            value: -8,
                        },
                    );
                    self.declare_kv(body);
                }
                StmtKind::If {
                    then, otherwise, ..
                } => {
                    self.declare_kv(then);
                    self.declare_kv(otherwise);
                }
                StmtKind::Unroll { body, .. }
                | StmtKind::While { body, .. }
                | StmtKind::For { body, .. } => self.declare_kv(body),
                _ => {}
            }
        }
    }

    /// The statement `for ($var : @map) { body }` in the main program.
    pub(super) fn map_for(
        &mut self,
        var: &str,
        map: &MapRef,
        body: &[Stmt],
        span: Span,
    ) -> Result<(), Diagnostic> {
        if self.in_callback {
            return unsupported(span, "a 'for' over a map inside another one");
        }
        if self.vars.contains_key(var) {
            return Err(Diagnostic::new(
                span,
                format!("${var} is already a variable; the 'for' element needs a new name"),
            ));
        }
        if self.map_index(&map.name).is_none() && !self.st.final_pass {
            // Assigned further down (pass 1 learns it there); the final pass checks it.
            return Ok(());
        }
        if self.map_index(&map.name).is_none() && !self.st.final_pass {
            // Assigned further down (pass 1 learns it there); the final pass checks it.
            return Ok(());
        }
        let idx = self.map_index(&map.name).ok_or_else(|| {
            Diagnostic::new(map.span, format!("{} is used but never assigned", map.name))
        })?;
        let info = &self.st.maps[idx];
        if info.keys.is_empty() {
            return Err(Diagnostic::new(
                map.span,
                format!(
                    "'for' needs a map with keys; {} has none (read it directly)",
                    map.name
                ),
            ));
        }
        if matches!(
            info.kind,
            MapKind::Stats { .. } | MapKind::Hist | MapKind::Lhist { .. }
        ) {
            return unsupported(
                map.span,
                format!("'for' over a {} map", info.kind.describe()),
            );
        }
        let label = self.asm.label();
        self.asm.ld_map(1, idx as u32);
        self.asm.ld_func(2, label);
        self.asm.mov(3, FP);
        self.asm.alu_imm(BPF_ADD, 3, -self.var_top);
        self.asm.mov_imm(4, 0);
        self.asm.call(FOR_EACH_MAP_ELEM);
        self.pending.push(Callback {
            label,
            var: var.to_string(),
            map: idx,
            body: body.to_vec(),
        });
        Ok(())
    }

    /// Emits the callbacks the main program asked for, after its `exit`.
    pub(super) fn emit_callbacks(&mut self) -> Result<(), Diagnostic> {
        let pending = std::mem::take(&mut self.pending);
        for cb in pending {
            self.callback(cb)?;
        }
        Ok(())
    }

    /// Copies the variables from the caller's area (through `r9`) into this frame.
    fn copy_vars_in(&mut self) {
        let top = self.var_top as i16;
        for off in (-top..0).step_by(8) {
            if Some(off) != self.ctx_slot {
                self.asm.load(8, 0, 9, off + top);
                self.asm.store(8, FP, off, 0);
            }
        }
    }

    /// Copies the variables the body writes back to the caller's area. The second half of
    /// each word is stored again on its own: the verifier then forgets the value (an
    /// unaligned store makes the slot plain data), so a counter (`$n++`) does not make it
    /// walk every element count one by one until it gives up.
    fn copy_vars_out(&mut self, written: &[(i16, u16)]) {
        let top = self.var_top as i16;
        for &(at, size) in written {
            for off in (at..at + size as i16).step_by(8) {
                self.asm.load(8, 0, FP, off);
                self.asm.store(8, 9, off + top, 0);
                self.asm.load(4, 0, FP, off + 4);
                self.asm.store(4, 9, off + top + 4, 0);
            }
        }
    }

    /// Slots of the variables `body` assigns or increments.
    fn written_vars(&self, body: &[Stmt]) -> Vec<(i16, u16)> {
        let mut names = vec![];
        written_names(body, &mut names);
        let mut out: Vec<(i16, u16)> = names
            .iter()
            .filter_map(|n| self.vars.get(n))
            .map(|v| match *v {
                Val::Int(off, _) => (off, 8),
                Val::Str(off, n) => (off, n),
                Val::Sym(off, t) => (off, t.size()),
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn callback(&mut self, cb: Callback) -> Result<(), Diagnostic> {
        let info = self.st.maps[cb.map].clone();
        self.subprogs.push(self.asm.insns.len());
        self.asm.bind(cb.label);
        let saved_exit = self.exit_label;
        let saved_loops = std::mem::take(&mut self.loops);
        self.in_callback = true;
        self.dead = false;
        self.sp = self.var_top;
        // r1 map, r2 key, r3 value, r4 the caller's variable area.
        self.asm.mov(9, 4);
        let ksize = info.user_key_size();
        let vsize = info.kind.value_size();
        let key = self.alloc(ksize as i32, self.probe_span)?;
        let value = self.alloc(vsize as i32, self.probe_span)?;
        for i in (0..ksize as i16).step_by(8) {
            self.asm.load(8, 0, 2, i);
            self.asm.store(8, FP, key + i, 0);
        }
        for i in (0..vsize as i16).step_by(8) {
            self.asm.load(8, 0, 3, i);
            self.asm.store(8, FP, value + i, 0);
        }
        if let Some(c) = self.ctx_slot {
            self.asm.load(8, 6, 9, c + self.var_top as i16);
        }
        self.copy_vars_in();
        let written = self.written_vars(&cb.body);
        let next = self.asm.label();
        let stop = self.asm.label();
        self.kv.insert(
            cb.var.clone(),
            KvSlots {
                map: info.name.clone(),
                key,
                value,
            },
        );
        self.loops = vec![(next, stop)];
        self.exit_label = stop;
        let r = self.stmts(&cb.body);
        self.kv.remove(&cb.var);
        self.loops = saved_loops;
        self.exit_label = saved_exit;
        self.in_callback = false;
        r?;
        if !std::mem::take(&mut self.dead) || self.asm.is_jumped_to(next) {
            self.asm.bind(next);
            self.copy_vars_out(&written);
            self.asm.mov_imm(0, 0);
            self.asm.exit();
        }
        // `break` or `exit()`: stop the iteration (an unused path would be unreachable,
        // which the verifier refuses).
        if self.asm.is_jumped_to(stop) {
            self.asm.bind(stop);
            self.copy_vars_out(&written);
            self.asm.mov_imm(0, 1);
            self.asm.exit();
        }
        Ok(())
    }

    /// `$kv.0`, `$kv.0.N`, `$kv.1` of a map `for` variable; `None` when `e` is not one.
    pub(super) fn kv_field(&mut self, e: &Expr) -> Result<Option<Val>, Diagnostic> {
        let mut path = vec![];
        let mut at = e;
        let root = loop {
            match &at.kind {
                ExprKind::Field(base, name, false) => {
                    path.push((name.as_str(), at.span));
                    at = base;
                }
                ExprKind::Var(v) if self.kv.contains_key(v) => break v.clone(),
                _ => return Ok(None),
            }
        };
        path.reverse();
        let slots = self.kv[&root].clone();
        let idx = self.map_index(&slots.map).ok_or_else(|| {
            Diagnostic::new(e.span, format!("{} is used but never assigned", slots.map))
        })?;
        let info = self.st.maps[idx].clone();
        let span = e.span;
        if info.keys.is_empty() {
            return Err(Diagnostic::new(
                span,
                format!("'for' needs a map with keys; {} has none", info.name),
            ));
        }
        match path.as_slice() {
            [("1", _)] => self.kv_value(&info, slots.value, span).map(Some),
            [("0", _)] if info.keys.len() == 1 => self.kv_key(&info, slots.key, 0, span).map(Some),
            [("0", s)] => unsupported(
                *s,
                format!(
                    "a whole tuple key as a value; use ${root}.0.0 to ${root}.0.{}",
                    info.keys.len() - 1
                ),
            ),
            [("0", s0), (n, s)] => match n.parse::<usize>() {
                Ok(i) if i < info.keys.len() && info.keys.len() > 1 => {
                    self.kv_key(&info, slots.key, i, span).map(Some)
                }
                _ if info.keys.len() == 1 => Err(Diagnostic::new(
                    *s0,
                    format!("the key of {} is not a tuple", info.name),
                )),
                _ => Err(Diagnostic::new(
                    *s,
                    format!(
                        "the key of {} has {} elements: .0 to .{}",
                        info.name,
                        info.keys.len(),
                        info.keys.len() - 1
                    ),
                )),
            },
            [(_, s), ..] => Err(Diagnostic::new(
                *s,
                format!("${root} has two fields: .0 (the key) and .1 (the value)"),
            )),
            [] => Ok(None),
        }
    }

    fn kv_key(
        &mut self,
        info: &MapInfo,
        key: i16,
        i: usize,
        span: Span,
    ) -> Result<Val, Diagnostic> {
        let at = key + info.keys[..i].iter().map(|t| t.size() as i16).sum::<i16>();
        match info.keys[i] {
            Ty::Int { signed } => {
                self.asm.load(8, 0, FP, at);
                self.new_int(signed, span)
            }
            Ty::Str(n) => Ok(Val::Str(at, n)),
            t => Ok(Val::Sym(at, t)),
        }
    }

    fn kv_value(&mut self, info: &MapInfo, value: i16, span: Span) -> Result<Val, Diagnostic> {
        match info.kind {
            MapKind::Int { signed }
            | MapKind::Sum { signed }
            | MapKind::Min { signed }
            | MapKind::Max { signed } => {
                self.asm.load(8, 0, FP, value);
                self.new_int(signed, span)
            }
            MapKind::Count => {
                self.asm.load(8, 0, FP, value);
                self.new_int(false, span)
            }
            MapKind::Str(n) => Ok(Val::Str(value, n)),
            MapKind::Sym(t) => Ok(Val::Sym(value, t)),
            MapKind::Avg { signed } => {
                // total / count, truncated toward zero as bpftrace prints it; 0 if empty.
                let done = self.asm.label();
                self.asm.load(8, 2, FP, value);
                self.asm.load(8, 1, FP, value + 8);
                self.asm.mov_imm(0, 0);
                self.asm.jmp_imm(BPF_JEQ, 2, 0, done);
                if signed {
                    let positive = self.asm.label();
                    self.asm.jmp_imm(BPF_JSGE, 1, 0, positive);
                    self.asm.alu_imm(BPF_NEG, 1, 0);
                    self.asm.alu(BPF_DIV, 1, 2, 0);
                    self.asm.alu_imm(BPF_NEG, 1, 0);
                    self.asm.mov(0, 1);
                    self.asm.ja(done);
                    self.asm.bind(positive);
                }
                self.asm.alu(BPF_DIV, 1, 2, 0);
                self.asm.mov(0, 1);
                self.asm.bind(done);
                self.new_int(signed, span)
            }
            other => unsupported(span, format!("the value of a {} map", other.describe())),
        }
    }
}

/// Names of the variables `body` assigns (`$v = `, `$v op= `) or increments (`$v++`).
fn written_names(body: &[Stmt], out: &mut Vec<String>) {
    fn expr(e: &Expr, out: &mut Vec<String>) {
        match &e.kind {
            ExprKind::IncDec(t, _, _) => {
                if let ExprKind::Var(n) = &t.kind {
                    out.push(n.clone());
                }
                expr(t, out);
            }
            ExprKind::Map(m) => m.keys.iter().for_each(|k| expr(k, out)),
            ExprKind::Call(_, args) | ExprKind::Tuple(args) => {
                args.iter().for_each(|a| expr(a, out))
            }
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
                expr(a, out);
                expr(b, out);
            }
            ExprKind::Ternary(a, b, c) => {
                expr(a, out);
                expr(b, out);
                expr(c, out);
            }
            ExprKind::Unary(_, a) | ExprKind::Field(a, _, _) | ExprKind::Cast(_, a) => expr(a, out),
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Ident(_)
            | ExprKind::Var(_)
            | ExprKind::Positional(_) => {}
        }
    }
    for s in body {
        match &s.kind {
            StmtKind::Expr(e) => expr(e, out),
            StmtKind::AssignMap { map, value, .. } => {
                map.keys.iter().for_each(|k| expr(k, out));
                expr(value, out);
            }
            StmtKind::AssignVar { name, value, .. } => {
                out.push(name.clone());
                expr(value, out);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                expr(cond, out);
                written_names(then, out);
                written_names(otherwise, out);
            }
            StmtKind::Unroll { count: c, body } | StmtKind::While { cond: c, body } => {
                expr(c, out);
                written_names(body, out);
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                out.push(var.clone());
                expr(start, out);
                expr(end, out);
                written_names(body, out);
            }
            StmtKind::ForMap { body, .. } => written_names(body, out),
            StmtKind::Return | StmtKind::LoopControl(_) => {}
        }
    }
}
