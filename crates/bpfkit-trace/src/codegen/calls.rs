//! Function calls: statements (`printf`, `print`, `clear`, `exit`, `join`, ...) and
//! value functions (`str`, `strncmp`).

use super::*;

impl Gen<'_> {
    /// Calls the `user` or the `kernel` one of a probe_read helper pair (`buf()`, `str()`)
    /// for the pointer in r3, by where this probe's pointers point: syscall tracepoints',
    /// uprobes' and USDT arguments into user memory; kernel function arguments anywhere
    /// (kernel addresses have the top bit set on x86_64 and arm64, so the helper is chosen
    /// at run time); other probes' into the kernel.
    fn call_probe_read(&mut self, user: i32, kernel: i32) {
        let in_user = match &self.probe.kind {
            ProbeKind::Tracepoint { category, .. } => Some(category == "syscalls"),
            ProbeKind::Uprobe { .. } | ProbeKind::Usdt { .. } => Some(true),
            ProbeKind::Kprobe { .. } | ProbeKind::Fentry { .. } => None,
            _ => Some(false),
        };
        match in_user {
            Some(true) => self.asm.call(user),
            Some(false) => self.asm.call(kernel),
            None => {
                let in_kernel = self.asm.label();
                let done = self.asm.label();
                self.asm.jmp_imm(BPF_JSLT, 3, 0, in_kernel);
                self.asm.call(user);
                self.asm.ja(done);
                self.asm.bind(in_kernel);
                self.asm.call(kernel);
                self.asm.bind(done);
            }
        }
    }

    pub(super) fn event(&mut self, id: u64, extra: i32, span: Span) -> Result<i16, Diagnostic> {
        let buf = self.alloc(8 + extra, span)?;
        self.asm.ld_imm64(0, id);
        self.asm.store(8, FP, buf, 0);
        Ok(buf)
    }

    pub(super) fn emit_event(&mut self, buf: i16, size: i32) {
        self.asm.ld_map(1, RINGBUF_REF);
        self.asm.mov(2, FP);
        self.asm.alu_imm(BPF_ADD, 2, buf as i32);
        self.asm.mov_imm(3, size);
        self.asm.mov_imm(4, 0);
        self.ringbuf_output(FP, buf);
    }

    /// `bpf_ringbuf_output` (arguments in r1..r4); a refused record (ring full) adds one
    /// to the lost-events counter, whose key (0) is written at `key_reg + key_off` (the
    /// record's own buffer, no longer needed).
    fn ringbuf_output(&mut self, key_reg: Reg, key_off: i16) {
        self.asm.call(RINGBUF_OUTPUT);
        let sent = self.asm.label();
        self.asm.jmp_imm(BPF_JEQ, 0, 0, sent);
        self.asm.store_imm(4, key_reg, key_off, 0);
        self.asm.ld_map(1, LOST_REF);
        self.asm.mov(2, key_reg);
        self.asm.alu_imm(BPF_ADD, 2, key_off as i32);
        self.asm.call(MAP_LOOKUP);
        self.asm.jmp_imm(BPF_JEQ, 0, 0, sent);
        self.asm.mov_imm(1, 1);
        self.asm.atomic_add(0, 0, 1);
        self.asm.bind(sent);
    }

    /// Reads up to [`JOIN_ARGS`] user strings from the pointer array at `fp + ptr` into the
    /// per-CPU join buffer and sends it. `r7` holds the buffer across helper calls.
    pub(super) fn join(&mut self, ptr: i16, id: u64, span: Span) -> Result<(), Diagnostic> {
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
        self.ringbuf_output(7, 0);
        self.asm.bind(sent);
        Ok(())
    }

    pub(super) fn map_arg(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<usize, Diagnostic> {
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
    pub(super) fn statement_call(
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
                    // print(value): the value and a newline, as bpftrace prints it.
                    let [value] = args else {
                        return Err(Diagnostic::new(span, "print() takes a map or one value"));
                    };
                    let fmt = match self.type_of(value)? {
                        Ty::Int { signed: true } => "%ld\n",
                        Ty::Int { signed: false } => "%lu\n",
                        Ty::Buf(_) => "%r\n",
                        _ => "%s\n",
                    };
                    let fmt = Expr {
                        kind: ExprKind::Str(fmt.into()),
                        span,
                    };
                    self.printf_event(&[fmt, value.clone()], span, name, event::PRINTF)?;
                    return Ok(true);
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
            "cat" => self.printf_event(args, span, "cat", event::CAT)?,
            "system" | "signal" | "override" | "unwatch" => {
                return unsupported(span, format!("{name}()"))
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub(super) fn printf(&mut self, args: &[Expr], span: Span) -> Result<(), Diagnostic> {
        self.printf_event(args, span, "printf", event::PRINTF)
    }

    /// A printf-formatted record of event `kind` (`printf`, `cat`'s path).
    fn printf_event(
        &mut self,
        args: &[Expr],
        span: Span,
        name: &str,
        kind: u64,
    ) -> Result<(), Diagnostic> {
        let Some(Expr {
            kind: ExprKind::Str(fmt),
            span: fspan,
        }) = args.first()
        else {
            return Err(Diagnostic::new(
                span,
                format!("{name}() needs a format string literal first"),
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
                    "{name}() format has {} conversion(s) but {} argument(s) follow",
                    convs.len(),
                    args.len() - 1
                ),
            ));
        }
        let mut types = vec![];
        for (a, c) in args[1..].iter().zip(&convs) {
            let t = match strftime_arg(a)? {
                Some((fmt, _)) => {
                    let index = u16::try_from(self.st.time_formats.len()).map_err(|_| {
                        Diagnostic::new(a.span, "too many time formats in one program")
                    })?;
                    self.st.time_formats.push(fmt.to_string());
                    Ty::Time(index)
                }
                None => self.type_of(a)?,
            };
            match (c, t) {
                (
                    's',
                    Ty::Str(_)
                    | Ty::Ksym
                    | Ty::Kstack(..)
                    | Ty::Ustack(..)
                    | Ty::Usym
                    | Ty::Inet
                    | Ty::Time(_),
                ) => {}
                ('r', Ty::Buf(_)) => {}
                ('r', t) => {
                    return Err(Diagnostic::new(
                        a.span,
                        format!("printf: %r needs a buffer (buf()), found {}", ty_name(t)),
                    ))
                }
                ('s', Ty::Int { .. }) => {
                    return Err(Diagnostic::new(
                        a.span,
                        "printf: %s needs a string, found an integer (str() reads one)",
                    ))
                }
                (_, Ty::Int { .. }) => {}
                (c, t) => {
                    return Err(Diagnostic::new(
                        a.span,
                        format!("printf: %{c} needs an integer, found {}", ty_name(t)),
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
        let buf = self.event(kind << 32 | index, size, span)?;
        let mut at = buf + 8;
        for (a, t) in args[1..].iter().zip(&types) {
            let mark = self.sp;
            if let Some((_, ns)) = strftime_arg(a)? {
                let off = self.int(ns)?;
                self.asm.load(8, 0, FP, off);
                self.asm.store(8, FP, at, 0);
                self.sp = mark;
                at += 8;
                continue;
            }
            match (self.expr(a)?, t) {
                (Val::Int(off, _), _) => {
                    self.asm.load(8, 0, FP, off);
                    self.asm.store(8, FP, at, 0);
                }
                (Val::Sym(off, t), _) => self.copy_str(off, t.size(), FP, at, t.size()),
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

    pub(super) fn call(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<Val, Diagnostic> {
        match name {
            "ntop" => {
                let (af, x) = match args {
                    [x] => (None, x),
                    [af, x] => (
                        Some(
                            match &af.kind {
                                ExprKind::Ident(n) if n == "AF_INET" => Some(2),
                                ExprKind::Ident(n) if n == "AF_INET6" => Some(10),
                                _ => const_int(af),
                            }
                            .filter(|a| *a == 2 || *a == 10)
                            .ok_or_else(|| {
                                Diagnostic::new(
                                    af.span,
                                    "ntop()'s family must be AF_INET (2) or AF_INET6 (10)",
                                )
                            })?,
                        ),
                        x,
                    ),
                    _ => return Err(Diagnostic::new(span, "ntop() takes [family,] address")),
                };
                self.raw_arrays = true;
                let v = self.expr(x);
                self.raw_arrays = false;
                let dst = self.alloc(24, span)?;
                self.asm.zero(FP, dst, 24);
                let family = match v? {
                    Val::Int(off, _) => {
                        self.asm.load(8, 0, FP, off);
                        self.asm.store(4, FP, dst + 8, 0);
                        af.unwrap_or(2)
                    }
                    Val::Str(off, n) if n >= 16 => {
                        self.copy_str(off, 16, FP, dst + 8, 16);
                        af.unwrap_or(10)
                    }
                    Val::Str(off, _) => {
                        self.asm.load(4, 0, FP, off);
                        self.asm.store(4, FP, dst + 8, 0);
                        af.unwrap_or(2)
                    }
                    Val::Sym(_, t) => {
                        return Err(Diagnostic::new(
                            x.span,
                            format!("ntop() needs an address, found {}", ty_name(t)),
                        ))
                    }
                };
                self.asm.store_imm(8, FP, dst, family as i32);
                Ok(Val::Sym(dst, Ty::Inet))
            }
            "buf" => {
                let (ptr, len) = match args {
                    [p, n] => (p, n),
                    _ => return Err(Diagnostic::new(span, "buf() takes a pointer and a length")),
                };
                let max = STR_LEN;
                let dst = self.alloc(8 + max as i32, span)?;
                self.asm.zero(FP, dst, 8 + max as i16);
                let mark = self.sp;
                let n = self.int(len)?;
                let p = self.int(ptr)?;
                // The length, at most `max`, bounded for the verifier.
                self.asm.load(8, 2, FP, n);
                let fits = self.asm.label();
                self.asm.jmp_imm(BPF_JLE, 2, max as i32, fits);
                self.asm.mov_imm(2, max as i32);
                self.asm.bind(fits);
                self.asm.store(8, FP, dst, 2);
                self.asm.mov(1, FP);
                self.asm.alu_imm(BPF_ADD, 1, dst as i32 + 8);
                self.asm.load(8, 3, FP, p);
                self.sp = mark;
                self.call_probe_read(PROBE_READ_USER, PROBE_READ_KERNEL);
                Ok(Val::Sym(dst, Ty::Buf(max)))
            }
            "bswap" => {
                let [x] = args else {
                    return Err(Diagnostic::new(span, "bswap() takes one integer"));
                };
                self.narrow = None;
                let off = self.int(x)?;
                let bytes = self.int_bytes(x, Some(off), 8);
                self.asm.load(8, 0, FP, off);
                match bytes {
                    1 => self.asm.alu_imm(BPF_AND, 0, 0xff),
                    b => self.asm.bswap(0, i32::from(b) * 8),
                }
                // bpftrace: an unsigned integer of the operand's size.
                let v = self.new_int(false, span)?;
                if let Val::Int(off, _) = v {
                    self.mark_narrow(off, bytes);
                }
                Ok(v)
            }
            "ksym" => {
                let [x] = args else {
                    return Err(Diagnostic::new(span, "ksym() takes one address"));
                };
                let v = self.int(x)?;
                Ok(Val::Sym(v, Ty::Ksym))
            }
            "kaddr" => {
                let [Expr {
                    kind: ExprKind::Str(sym),
                    ..
                }] = args
                else {
                    return Err(Diagnostic::new(
                        span,
                        "kaddr() takes a symbol name as a string literal",
                    ));
                };
                let addr = crate::symbols::kaddr(sym).ok_or_else(|| {
                    Diagnostic::new(span, format!("no kernel symbol '{sym}' in /proc/kallsyms"))
                })?;
                self.asm.ld_imm64(0, addr);
                self.new_int(false, span)
            }
            "strftime" => unsupported(span, "strftime() outside printf() arguments"),
            "sizeof" => {
                let n = self.size_of(args, span)?;
                self.asm.ld_imm64(0, n);
                self.new_int(false, span)
            }
            "kstack" | "ustack" => {
                // kstack(N), kstack(MODE), kstack(MODE, N).
                let (mode, rest) = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Ident(m)) => {
                        let mode = match m.as_str() {
                            "bpftrace" => StackMode::Bpftrace,
                            "perf" => StackMode::Perf,
                            "raw" => return unsupported(args[0].span, "the raw stack mode"),
                            other => {
                                return Err(Diagnostic::new(
                                    args[0].span,
                                    format!(
                                        "unknown stack mode '{other}': expected bpftrace or perf"
                                    ),
                                ))
                            }
                        };
                        (mode, &args[1..])
                    }
                    _ => (StackMode::Bpftrace, args),
                };
                let limit = match rest {
                    [] if rest.len() < args.len() => i64::from(crate::symbols::MAX_FRAMES),
                    [n] => const_int(n)
                        .filter(|n| (1..=i64::from(crate::symbols::MAX_FRAMES)).contains(n))
                        .ok_or_else(|| {
                            Diagnostic::new(
                                n.span,
                                format!("{name}()'s limit must be an integer from 1 to 127"),
                            )
                        })?,
                    _ => {
                        return Err(Diagnostic::new(
                            span,
                            format!(
                            "{name}() takes a stack mode (bpftrace, perf), a frame limit, or both"
                        ),
                        ))
                    }
                };
                if name == "kstack" {
                    self.kstack(limit as u8, mode, span)
                } else {
                    self.ustack(limit as u8, mode, span)
                }
            }
            "usym" => {
                let [x] = args else {
                    return Err(Diagnostic::new(span, "usym() takes one address"));
                };
                let v = self.int(x)?;
                let off = self.alloc(16, span)?;
                self.asm.load(8, 0, FP, v);
                self.asm.store(8, FP, off, 0);
                self.asm.call(GET_CURRENT_PID_TGID);
                self.asm.alu_imm(BPF_RSH, 0, 32);
                self.asm.store(8, FP, off + 8, 0);
                Ok(Val::Sym(off, Ty::Usym))
            }
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
                    Val::Sym(_, t) => {
                        return Err(Diagnostic::new(
                            x.span,
                            format!("str() needs a pointer, found {}", ty_name(t)),
                        ))
                    }
                };
                let buf = round8(len).max(8) as u16;
                let off = self.alloc(buf as i32, span)?;
                self.asm.zero(FP, off, buf as i16);
                self.asm.mov(1, FP);
                self.asm.alu_imm(BPF_ADD, 1, off as i32);
                self.asm.mov_imm(2, len);
                self.asm.load(8, 3, FP, ptr);
                self.call_probe_read(PROBE_READ_USER_STR, PROBE_READ_KERNEL_STR);
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
            "printf" | "cat" | "exit" | "print" | "clear" | "zero" | "delete" => Err(
                Diagnostic::new(span, format!("{name}() is a statement and has no value")),
            ),
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

/// `strftime(FORMAT, NS)` as a printf argument: its format literal and time expression.
fn strftime_arg(a: &Expr) -> Result<Option<(&str, &Expr)>, Diagnostic> {
    let ExprKind::Call(name, args) = &a.kind else {
        return Ok(None);
    };
    if name != "strftime" {
        return Ok(None);
    }
    match args.as_slice() {
        [Expr {
            kind: ExprKind::Str(fmt),
            ..
        }, ns] => Ok(Some((fmt.as_str(), ns))),
        _ => Err(Diagnostic::new(
            a.span,
            "strftime() takes a format string literal and a time in nanoseconds since boot",
        )),
    }
}

impl Gen<'_> {
    /// `sizeof(TYPE)` (the parser gives the type as a cast of 0) or `sizeof(expr)` for
    /// strings and integer literals, as bpftrace sizes them.
    fn size_of(&mut self, args: &[Expr], span: Span) -> Result<u64, Diagnostic> {
        let [arg] = args else {
            return Err(Diagnostic::new(
                span,
                "sizeof() takes one type or expression",
            ));
        };
        match &arg.kind {
            ExprKind::Cast(ty, _) => {
                if ty.ends_with('*') {
                    return Ok(8);
                }
                if let Some(bits) = ty
                    .strip_prefix("uint")
                    .or_else(|| ty.strip_prefix("int"))
                    .and_then(|b| b.parse::<u64>().ok())
                    .filter(|b| matches!(b, 8 | 16 | 32 | 64))
                {
                    return Ok(bits / 8);
                }
                if let Some((bytes, _)) = c_int(ty) {
                    return Ok(u64::from(bytes));
                }
                let name = ty
                    .strip_prefix("struct ")
                    .or_else(|| ty.strip_prefix("union "))
                    .ok_or_else(|| {
                        Diagnostic::new(arg.span, format!("sizeof(): unknown type '{ty}'"))
                    })?;
                if self.st.script_structs.iter().any(|s| s.name == name) {
                    return unsupported(arg.span, "sizeof() of a struct defined in the script");
                }
                let k = self.kernel_btf(arg.span)?;
                k.struct_id(name)
                    .and_then(|id| k.size_of(id))
                    .map(u64::from)
                    .ok_or_else(|| {
                        Diagnostic::new(arg.span, format!("sizeof(): no {ty} in the kernel's BTF"))
                    })
            }
            ExprKind::Int(_) => Ok(8),
            // "abc" is a char[4].
            ExprKind::Str(text) => Ok(text.len() as u64 + 1),
            // comm is a char[16]; str(x) a char[64] (bpftrace's default strlen).
            ExprKind::Ident(n) if n == "comm" => Ok(16),
            ExprKind::Call(n, a) if n == "str" && a.len() == 1 => Ok(u64::from(STR_LEN)),
            _ => unsupported(
                arg.span,
                "sizeof() of this expression (give its type: sizeof(uint32))",
            ),
        }
    }
}
