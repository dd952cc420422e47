//! Builtins (`pid`, `comm`, `curtask`, ...) and field access: tracepoint `args` from
//! tracefs formats, kernel structs through BTF.

use super::*;

impl Gen<'_> {
    pub(super) fn helper_int(&mut self, helper: i32, span: Span) -> Result<(), Diagnostic> {
        let _ = span;
        self.asm.call(helper);
        Ok(())
    }

    pub(super) fn builtin(&mut self, name: &str, span: Span) -> Result<Val, Diagnostic> {
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
                ProbeKind::Uprobe { function, .. } | ProbeKind::Fentry { function, .. } => {
                    let f = function.clone();
                    self.new_str_literal(f.as_bytes(), span)
                }
                ProbeKind::Kprobe { functions, .. } if functions.len() == 1 => {
                    let f = functions[0].clone();
                    self.new_str_literal(f.as_bytes(), span)
                }
                _ => Err(Diagnostic::new(
                    span,
                    "func is only valid in kprobes, fentry/fexit and uprobes",
                )),
            },
            "retval" => match &self.probe.kind {
                ProbeKind::Uprobe { ret: true, .. } | ProbeKind::Kprobe { ret: true, .. } => {
                    self.asm.load(8, 0, 6, regs::RETVAL);
                    self.new_int(true, span)
                }
                ProbeKind::Fentry {
                    function,
                    ret: true,
                } => {
                    let function = function.clone();
                    let k = self.kernel_btf(span)?;
                    let f = k
                        .function(&function)
                        .map_err(|e| Diagnostic::new(self.probe_span, e))?;
                    if !f.has_ret {
                        return Err(Diagnostic::new(
                            span,
                            format!("{function} returns void: fexit has no retval"),
                        ));
                    }
                    self.asm.load(8, 0, 6, 8 * f.params.len() as i16);
                    self.new_int(f.ret_signed, span)
                }
                _ => Err(Diagnostic::new(
                    span,
                    "retval is only valid in kretprobes, fexit and uretprobes (tracepoints: args->ret)",
                )),
            },
            n if n.starts_with("arg") && n[3..].parse::<usize>().is_ok() => {
                let i: usize = n[3..].parse().unwrap_or(0);
                let probe = self.probe;
                match &probe.kind {
                    ProbeKind::Uprobe { ret: false, .. } | ProbeKind::Kprobe { ret: false, .. }
                        if i < regs::ARGS.len() =>
                    {
                        self.asm.load(8, 0, 6, regs::ARGS[i]);
                        self.new_int(false, span)
                    }
                    ProbeKind::Uprobe { .. } | ProbeKind::Kprobe { .. } => unsupported(
                        span,
                        format!("{n} (stack-passed or return-probe arguments)"),
                    ),
                    ProbeKind::Usdt { args, .. } => match args.get(i) {
                        Some(Some(a)) => self.usdt_arg(*a, span),
                        Some(None) => unsupported(
                            span,
                            format!("{n}: its USDT argument specification"),
                        ),
                        None => Err(Diagnostic::new(
                            span,
                            format!("{n}: the probe has {} arguments", args.len()),
                        )),
                    },
                    ProbeKind::Fentry { .. } => Err(Diagnostic::new(
                        span,
                        format!("{n} is not valid in fentry/fexit: use args->name"),
                    )),
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
            "kstack" => self.kstack(
                crate::symbols::MAX_FRAMES as u8,
                crate::types::StackMode::Bpftrace,
                span,
            ),
            "ustack" => self.ustack(
                crate::symbols::MAX_FRAMES as u8,
                crate::types::StackMode::Bpftrace,
                span,
            ),
            "username" | "sarg0" | "ctx" | "__builtin_elapsed" | "kaddr" => {
                unsupported(span, name)
            }
            _ => {
                // Constants of the UAPI headers bpftrace's tools #include (bpftrace reads
                // them with clang; here they are fixed by the kernel ABI), then kernel enums.
                let known = match name {
                    "AF_UNSPEC" => Some(0),
                    "AF_UNIX" | "AF_LOCAL" => Some(1),
                    "AF_INET" => Some(2),
                    "AF_INET6" => Some(10),
                    "TASK_RUNNING" => Some(0),
                    _ => None,
                };
                // The script's own `enum` definitions come first.
                let script = self
                    .st
                    .enum_consts
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|&(_, v)| v);
                let value = match script.or(known) {
                    Some(v) => Some(v),
                    None => self.kernel_btf(span).ok().and_then(|k| k.enum_value(name)),
                };
                match value {
                    Some(v) => {
                        self.asm.ld_imm64(0, v as u64);
                        self.new_int(true, span)
                    }
                    None => Err(Diagnostic::new(
                        span,
                        format!("unknown identifier '{name}'"),
                    )),
                }
            }
        }
    }

    /// A USDT argument: a constant, a register of the probed task, or memory at a
    /// register plus an offset (read from user memory), sized and signed as its note says.
    fn usdt_arg(
        &mut self,
        arg: bpfkit::programs::usdt::UsdtArg,
        span: Span,
    ) -> Result<Val, Diagnostic> {
        use bpfkit::programs::usdt::UsdtArg;
        let size = match arg {
            UsdtArg::Const { value, size } => {
                self.asm.ld_imm64(0, value);
                size
            }
            UsdtArg::Reg { reg_off, size } => {
                self.asm.load(8, 0, 6, reg_off);
                size
            }
            UsdtArg::RegDeref {
                reg_off,
                offset,
                size,
            } => {
                let offset = i32::try_from(offset)
                    .map_err(|_| Diagnostic::new(span, "USDT argument offset out of range"))?;
                let dst = self.alloc(8, span)?;
                self.asm.store_imm(8, FP, dst, 0);
                self.asm.load(8, 3, 6, reg_off);
                self.asm.alu_imm(BPF_ADD, 3, offset);
                self.asm.mov(1, FP);
                self.asm.alu_imm(BPF_ADD, 1, dst as i32);
                self.asm.mov_imm(2, i32::from(size.unsigned_abs()));
                self.asm.call(PROBE_READ_USER);
                self.asm.load(8, 0, FP, dst);
                size
            }
        };
        let bytes = i32::from(size.unsigned_abs());
        if bytes < 8 {
            let shift = 64 - 8 * bytes;
            self.asm.alu_imm(BPF_LSH, 0, shift);
            self.asm
                .alu_imm(if size < 0 { BPF_ARSH } else { BPF_RSH }, 0, shift);
        }
        self.new_int(size < 0, span)
    }

    /// `kstack`: `bpf_get_stackid(ctx, stack map, 0)` (a negative id prints as an empty
    /// stack), shown as at most `limit` frames in `mode`.
    pub(super) fn kstack(
        &mut self,
        limit: u8,
        mode: crate::types::StackMode,
        span: Span,
    ) -> Result<Val, Diagnostic> {
        self.asm.mov(1, 6);
        self.asm.ld_map(2, STACK_MAP_REF);
        self.asm.mov_imm(3, 0);
        self.asm.call(GET_STACKID);
        let off = self.alloc(8, span)?;
        self.asm.store(8, FP, off, 0);
        Ok(Val::Sym(off, Ty::Kstack(limit, mode)))
    }

    /// `ustack`: `bpf_get_stackid(ctx, stack map, BPF_F_USER_STACK)` and the process id
    /// whose maps name its frames when printed (at most `limit`, in `mode`).
    pub(super) fn ustack(
        &mut self,
        limit: u8,
        mode: crate::types::StackMode,
        span: Span,
    ) -> Result<Val, Diagnostic> {
        self.asm.mov(1, 6);
        self.asm.ld_map(2, STACK_MAP_REF);
        self.asm.mov_imm(3, uapi::BPF_F_USER_STACK as i32);
        self.asm.call(GET_STACKID);
        let off = self.alloc(16, span)?;
        self.asm.store(8, FP, off, 0);
        self.asm.call(GET_CURRENT_PID_TGID);
        self.asm.alu_imm(BPF_RSH, 0, 32);
        self.asm.store(8, FP, off + 8, 0);
        Ok(Val::Sym(off, Ty::Ustack(limit, mode)))
    }

    /// A struct by name: the script's definition first (ids from [`SCRIPT_STRUCT_BASE`]),
    /// then the kernel's BTF.
    fn struct_id(&self, k: &crate::kbtf::KernelBtf, name: &str) -> Option<u32> {
        match self.st.script_structs.iter().position(|s| s.name == name) {
            Some(i) => Some(SCRIPT_STRUCT_BASE + i as u32),
            None => k.struct_id(name),
        }
    }

    fn member(
        &self,
        k: &crate::kbtf::KernelBtf,
        sid: u32,
        name: &str,
    ) -> Result<Option<(u32, crate::kbtf::Leaf)>, String> {
        match sid.checked_sub(SCRIPT_STRUCT_BASE) {
            Some(i) => Ok(self
                .st
                .script_structs
                .get(i as usize)
                .and_then(|s| s.members.iter().find(|m| m.0 == name).map(|m| (m.1, m.2)))),
            None => k.member(sid, name),
        }
    }

    fn type_name(&self, k: &crate::kbtf::KernelBtf, sid: u32) -> String {
        match sid.checked_sub(SCRIPT_STRUCT_BASE) {
            Some(i) => self
                .st
                .script_structs
                .get(i as usize)
                .map_or_else(String::new, |s| format!("struct {}", s.name)),
            None => k.type_name(sid),
        }
    }

    pub(super) fn tp_fields(&mut self, span: Span) -> Result<Vec<Field>, Diagnostic> {
        if let ProbeKind::Fentry { function, .. } = &self.probe.kind {
            let k = ("fentry".to_string(), function.clone());
            if let Some(f) = self.st.formats.get(&k) {
                return Ok(f.clone());
            }
            let kb = self.kernel_btf(span)?;
            let func = kb
                .function(function)
                .map_err(|e| Diagnostic::new(self.probe_span, e))?;
            let fields: Vec<Field> = func
                .params
                .iter()
                .map(|p| {
                    let (size, signed, kind) = match p.leaf {
                        Some(crate::kbtf::Leaf::Int { size, signed }) => {
                            (size as u16, signed, FieldKind::Int)
                        }
                        Some(crate::kbtf::Leaf::Ptr { .. }) => (8, false, FieldKind::Int),
                        _ => (8, false, FieldKind::Other),
                    };
                    Field {
                        name: p.name.clone(),
                        c_type: p.c_type.clone(),
                        offset: 8 * p.index,
                        size,
                        slot: size,
                        signed,
                        kind,
                        decl: format!("{} {}", p.c_type, p.name),
                    }
                })
                .collect();
            self.st.formats.insert(k, fields.clone());
            return Ok(fields);
        }
        let ProbeKind::Tracepoint { category, name } = &self.probe.kind else {
            return Err(Diagnostic::new(
                span,
                "args is only valid in tracepoints and fentry/fexit",
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

    /// The running kernel's BTF ([`crate::kbtf::KernelBtf::shared`]); an error at `span`
    /// without it.
    pub(super) fn kernel_btf(
        &self,
        span: Span,
    ) -> Result<&'static crate::kbtf::KernelBtf, Diagnostic> {
        crate::kbtf::KernelBtf::shared().map_err(|e| Diagnostic::new(span, e))
    }

    /// `curtask->a->b.c`: each step read with bpf_probe_read_kernel at offsets from the
    /// running kernel's BTF.
    pub(super) fn kernel_field(&mut self, e: &Expr) -> Result<Val, Diagnostic> {
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
        let root = self.struct_id(k, &struct_name).ok_or_else(|| {
            Diagnostic::new(
                cur.span,
                format!("no struct {struct_name} in the script or the kernel's BTF"),
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
            let (off, leaf) = self
                .member(k, sid, name)
                .map_err(|m| Diagnostic::unsupported(*pspan, m))?
                .ok_or_else(|| {
                    Diagnostic::new(
                        *pspan,
                        format!("{} has no member '{name}'", self.type_name(k, sid)),
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
                        self.mark_narrow(dst, size);
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
                    self.asm.zero(FP, dst, len as i16);
                    self.asm.mov(1, FP);
                    self.asm.alu_imm(BPF_ADD, 1, dst as i32);
                    self.asm.mov_imm(2, (n as i32).min(len as i32));
                    self.asm.load(8, 3, FP, addr);
                    self.asm.alu_imm(BPF_ADD, 3, off as i32);
                    // ntop()'s bytes are read whole; a string stops at its NUL.
                    self.asm.call(if self.raw_arrays { read } else { read_str });
                    return Ok(Val::Str(dst, len));
                }
            }
            state = leaf;
        }
        // The chain ended on a pointer: its value.
        Ok(Val::Int(addr, false))
    }

    pub(super) fn field(&mut self, field: &str, span: Span) -> Result<Val, Diagnostic> {
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
                // fentry's context is u64 slots the verifier lets be read whole only.
                let fentry = matches!(self.probe.kind, ProbeKind::Fentry { .. });
                self.asm
                    .load(if fentry { 8 } else { size }, 0, 6, f.offset as i16);
                if size < 8 && (f.signed || fentry) {
                    let shift = 64 - 8 * size as i32;
                    self.asm.alu_imm(BPF_LSH, 0, shift);
                    self.asm
                        .alu_imm(if f.signed { BPF_ARSH } else { BPF_RSH }, 0, shift);
                }
                let v = self.new_int(f.signed, span)?;
                if let Val::Int(off, _) = v {
                    self.mark_narrow(off, f.slot.min(8) as u8);
                }
                Ok(v)
            }
            FieldKind::CharArray => {
                let len = round8(f.size as i32).min(STR_LEN as i32) as u16;
                let off = self.alloc(len as i32, span)?;
                self.asm.zero(FP, off, len as i16);
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
                self.asm.zero(FP, off, STR_LEN as i16);
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
}
