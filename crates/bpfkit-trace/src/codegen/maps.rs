//! Maps: key layout, lookups, assignments and the aggregations (`count`, `hist`, ...).

use super::*;

impl Gen<'_> {
    pub(super) fn map_index(&self, name: &str) -> Option<usize> {
        self.st.maps.iter().position(|m| m.name == name)
    }

    /// Records (pass 1) or checks (pass 2) a map's use; returns its index.
    pub(super) fn note_map(
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
                (a, b) if a == b => {}
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
                (MapKind::Sym(a), MapKind::Sym(b)) => (a == b).then_some(MapKind::Sym(a)),
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
    pub(super) fn map_key(&mut self, m: &MapRef, idx: usize) -> Result<i16, Diagnostic> {
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
                (Val::Sym(off, a), b) if a == *b => {
                    self.copy_str(off, a.size(), FP, key + at, a.size());
                }
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

    pub(super) fn key_types(&mut self, m: &MapRef) -> Result<Vec<Ty>, Diagnostic> {
        m.keys.iter().map(|k| self.type_of(k)).collect()
    }

    /// r0 = pointer to the element of `key` in map `idx`, created as `init` (zeros) when
    /// absent; jumps to `skip` when it cannot be created.
    pub(super) fn lookup_or_init(
        &mut self,
        idx: usize,
        key: i16,
        span: Span,
        skip: Label,
    ) -> Result<(), Diagnostic> {
        let vsize = self.st.maps[idx].kind.value_size();
        let zero = self.alloc(vsize as i32, span)?;
        self.asm.zero(FP, zero, vsize as i16);
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

    pub(super) fn lookup(&mut self, idx: usize, key: i16) {
        self.asm.ld_map(1, idx as u32);
        self.asm.mov(2, FP);
        self.asm.alu_imm(BPF_ADD, 2, key as i32);
        self.asm.call(MAP_LOOKUP);
    }

    pub(super) fn update(&mut self, idx: usize, key: i16, value: i16, flags: i32) {
        self.asm.ld_map(1, idx as u32);
        self.asm.mov(2, FP);
        self.asm.alu_imm(BPF_ADD, 2, key as i32);
        self.asm.mov(3, FP);
        self.asm.alu_imm(BPF_ADD, 3, value as i32);
        self.asm.mov_imm(4, flags);
        self.asm.call(MAP_UPDATE);
    }

    pub(super) fn assign_map(
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
            t => MapKind::Sym(t),
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
            (Val::Sym(off, t), MapKind::Sym(k)) if t == k => off,
            _ => unreachable_int(span)?,
        };
        self.update(idx, key, off, BPF_ANY);
        Ok(())
    }

    /// `@m[k] = count()` and friends; `None` when `name` is not an aggregation.
    pub(super) fn aggregation(
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
                t => Err(Diagnostic::new(
                    e.span,
                    format!("{name}() needs an integer, found {}", ty_name(t)),
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
            MapKind::Int { .. } | MapKind::Str(_) | MapKind::Sym(_) => unreachable_int(span)?,
        }
        self.asm.bind(skip);
        Ok(Some(()))
    }

    /// Computes the bucket of the value in r1 and stores it at `fp + at`. Clobbers r1-r3.
    pub(super) fn bucket(&mut self, kind: MapKind, at: i16) {
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

    pub(super) fn map_read(&mut self, m: &MapRef, span: Span) -> Result<Val, Diagnostic> {
        let keys = self.key_types(m)?;
        let idx = self.note_map(m, None, &keys)?;
        let kind = self.st.maps[idx].kind;
        let (signed, str_len) = match kind {
            MapKind::Sym(t) => {
                let n = t.size();
                let key = self.map_key(m, idx)?;
                let out = self.alloc(n as i32, span)?;
                let missing = self.asm.label();
                let done = self.asm.label();
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
                return Ok(Val::Sym(out, t));
            }
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
                self.asm.zero(FP, out, n as i16);
                self.asm.bind(done);
                Ok(Val::Str(out, n))
            }
        }
    }
}
