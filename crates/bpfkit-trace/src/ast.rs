//! The syntax tree the parser builds: probes, statements, expressions, each with its span.

use crate::diag::Span;

/// A whole program: its probes in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Probe blocks.
    pub probes: Vec<Probe>,
    /// `struct X { ... };` and `union X { ... };` definitions, in source order.
    pub structs: Vec<StructDef>,
    /// Enumerators of `enum X { A, B = 5 };` definitions, usable as constants.
    pub enums: Vec<(String, i64)>,
}

/// A struct defined in the script (`struct X { int a; char name[16]; struct Y *next; };`).
#[derive(Clone, Debug, PartialEq)]
pub struct StructDef {
    /// Name without `struct`/`union`.
    pub name: String,
    /// `union`: every member at offset 0.
    pub union: bool,
    /// Members in order.
    pub members: Vec<MemberDef>,
    /// Where.
    pub span: Span,
}

/// One member of a [`StructDef`].
#[derive(Clone, Debug, PartialEq)]
pub struct MemberDef {
    /// The C type without the array part (`struct path`, `char *`, `unsigned long`).
    pub c_type: String,
    /// Name.
    pub name: String,
    /// `[N]`.
    pub array: Option<u32>,
}

/// `attach, attach /predicate/ { body }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The attach points as written (`tracepoint:syscalls:sys_enter_read`).
    pub attach: Vec<(String, Span)>,
    /// The predicate between slashes.
    pub predicate: Option<Expr>,
    /// The action block.
    pub body: Vec<Stmt>,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where.
    pub span: Span,
}

/// Statement kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect (`printf(...)`, `@x++`).
    Expr(Expr),
    /// `@m[k] = v`, `@m op= v` (op is the binary operator of a compound assignment).
    AssignMap {
        /// The map element.
        map: MapRef,
        /// `Some(op)` for `op=`.
        op: Option<BinOp>,
        /// The right side.
        value: Expr,
    },
    /// `$v = e`, `$v op= e`.
    AssignVar {
        /// Variable name without `$`.
        name: String,
        /// `Some(op)` for `op=`.
        op: Option<BinOp>,
        /// The right side.
        value: Expr,
    },
    /// `if (c) { } else { }`.
    If {
        /// Condition.
        cond: Expr,
        /// Then branch.
        then: Vec<Stmt>,
        /// Else branch (empty when absent; `else if` nests an `If`).
        otherwise: Vec<Stmt>,
    },
    /// `unroll (n) { }`.
    Unroll {
        /// Repetitions.
        count: Expr,
        /// Body.
        body: Vec<Stmt>,
    },
    /// `while (c) { }`.
    While {
        /// Condition.
        cond: Expr,
        /// Body.
        body: Vec<Stmt>,
    },
    /// `for ($i : start..end) { }`: `$i` from `start` up to, not including, `end`.
    For {
        /// Variable name without `$`.
        var: String,
        /// First value.
        start: Expr,
        /// Bound (exclusive).
        end: Expr,
        /// Body.
        body: Vec<Stmt>,
    },
    /// `for ($kv : @map) { }`: the body runs once per element, `$kv.0` the key and
    /// `$kv.1` the value (a `bpf_for_each_map_elem` callback).
    ForMap {
        /// Variable name without `$`.
        var: String,
        /// The map (no keys).
        map: MapRef,
        /// Body.
        body: Vec<Stmt>,
    },
    /// `return;`
    Return,
    /// `break;` or `continue;`
    LoopControl(&'static str),
}

/// `@name[keys]` (no brackets: no keys).
#[derive(Clone, Debug, PartialEq)]
pub struct MapRef {
    /// Name including `@` (`@` alone for the anonymous map).
    pub name: String,
    /// Key expressions (several: a tuple key).
    pub keys: Vec<Expr>,
    /// Where.
    pub span: Span,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
    Deref,
    AddrOf,
}

/// Expression kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// Integer literal.
    Int(u64),
    /// String literal.
    Str(String),
    /// A bare identifier: a builtin (`pid`, `comm`, `args`) or an unknown name.
    Ident(String),
    /// `$name`.
    Var(String),
    /// `$1`.
    Positional(u32),
    /// `@m[k]`.
    Map(MapRef),
    /// `f(args)`.
    Call(String, Vec<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `op a`.
    Unary(UnOp, Box<Expr>),
    /// `c ? a : b`.
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `e->field` (arrow true) or `e.field`.
    Field(Box<Expr>, String, bool),
    /// `e[i]` on a non-map.
    Index(Box<Expr>, Box<Expr>),
    /// `(type)e`.
    Cast(String, Box<Expr>),
    /// `(a, b)`.
    Tuple(Vec<Expr>),
    /// `x++`/`x--` (post) or `++x`/`--x` (pre): target, +1/-1, pre.
    IncDec(Box<Expr>, i64, bool),
}

impl Probe {
    /// Whether any expression of the block (predicate included) is the bare identifier
    /// `name` (e.g. `func`, `probe`).
    pub fn uses_ident(&self, name: &str) -> bool {
        self.predicate.as_ref().is_some_and(|e| e.uses_ident(name))
            || self.body.iter().any(|s| s.uses_ident(name))
    }
}

impl Stmt {
    /// Whether this statement is, or contains, a `for` over a map.
    pub fn has_map_for(&self) -> bool {
        let any = |b: &[Stmt]| b.iter().any(Stmt::has_map_for);
        match &self.kind {
            StmtKind::ForMap { .. } => true,
            StmtKind::If {
                then, otherwise, ..
            } => any(then) || any(otherwise),
            StmtKind::Unroll { body, .. }
            | StmtKind::While { body, .. }
            | StmtKind::For { body, .. } => any(body),
            _ => false,
        }
    }

    fn uses_ident(&self, name: &str) -> bool {
        let any = |b: &[Stmt]| b.iter().any(|s| s.uses_ident(name));
        match &self.kind {
            StmtKind::Expr(e) => e.uses_ident(name),
            StmtKind::AssignMap { map, value, .. } => {
                map.keys.iter().any(|k| k.uses_ident(name)) || value.uses_ident(name)
            }
            StmtKind::AssignVar { value, .. } => value.uses_ident(name),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => cond.uses_ident(name) || any(then) || any(otherwise),
            StmtKind::Unroll { count: c, body } | StmtKind::While { cond: c, body } => {
                c.uses_ident(name) || any(body)
            }
            StmtKind::For {
                start, end, body, ..
            } => start.uses_ident(name) || end.uses_ident(name) || any(body),
            StmtKind::ForMap { body, .. } => any(body),
            StmtKind::Return | StmtKind::LoopControl(_) => false,
        }
    }
}

impl Expr {
    fn uses_ident(&self, name: &str) -> bool {
        match &self.kind {
            ExprKind::Ident(n) => n == name,
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Var(_) | ExprKind::Positional(_) => {
                false
            }
            ExprKind::Map(m) => m.keys.iter().any(|k| k.uses_ident(name)),
            ExprKind::Call(_, args) | ExprKind::Tuple(args) => {
                args.iter().any(|a| a.uses_ident(name))
            }
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
                a.uses_ident(name) || b.uses_ident(name)
            }
            ExprKind::Ternary(a, b, c) => {
                a.uses_ident(name) || b.uses_ident(name) || c.uses_ident(name)
            }
            ExprKind::Unary(_, a)
            | ExprKind::Field(a, _, _)
            | ExprKind::Cast(_, a)
            | ExprKind::IncDec(a, _, _) => a.uses_ident(name),
        }
    }
}
