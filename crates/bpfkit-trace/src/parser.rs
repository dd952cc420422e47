//! Recursive-descent parser for bpftrace's grammar: probes with several attach points,
//! predicates, blocks, statements and C-precedence expressions.

use crate::ast::*;
use crate::diag::{Diagnostic, Span};
use crate::lexer::{Lexer, Tok};

/// Parses a whole program.
///
/// ```
/// let p = bpfkit_trace::parser::parse("BEGIN { @x[1, \"a\"] = count(); }").unwrap();
/// assert_eq!(p.probes[0].attach[0].0, "BEGIN");
/// ```
pub fn parse(src: &str) -> Result<Program, Diagnostic> {
    Parser::new(src, 0).program()
}

struct Parser<'a> {
    lex: Lexer<'a>,
    src: &'a str,
    peeked: Option<(Tok, Span, usize)>,
    /// Inside `/predicate/` at paren depth 0, `/` ends the predicate.
    no_div: bool,
    /// How many expressions and blocks enclose the current one (at most [`MAX_DEPTH`]).
    depth: usize,
    /// `typedef TYPE NAME;` so far: `(NAME, TYPE)` with TYPE already resolved.
    typedefs: Vec<(String, String)>,
}

/// How deeply expressions and blocks may nest: deeper input is an error rather than a stack
/// overflow of the recursive parser (or of the code generator walking the tree).
pub const MAX_DEPTH: usize = 40;

const CAST_TYPES: &[&str] = &[
    "struct", "union", "enum", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "char", "int", "unsigned", "long", "short", "void", "bool",
];

fn bin_op(t: &Tok) -> Option<(BinOp, u8)> {
    let Tok::Punct(p) = t else { return None };
    Some(match *p {
        "||" => (BinOp::Or, 1),
        "&&" => (BinOp::And, 2),
        "|" => (BinOp::BitOr, 3),
        "^" => (BinOp::BitXor, 4),
        "&" => (BinOp::BitAnd, 5),
        "==" => (BinOp::Eq, 6),
        "!=" => (BinOp::Ne, 6),
        "<" => (BinOp::Lt, 7),
        "<=" => (BinOp::Le, 7),
        ">" => (BinOp::Gt, 7),
        ">=" => (BinOp::Ge, 7),
        "<<" => (BinOp::Shl, 8),
        ">>" => (BinOp::Shr, 8),
        "+" => (BinOp::Add, 9),
        "-" => (BinOp::Sub, 9),
        "*" => (BinOp::Mul, 10),
        "/" => (BinOp::Div, 10),
        "%" => (BinOp::Mod, 10),
        _ => return None,
    })
}

fn compound_op(p: &str) -> Option<Option<BinOp>> {
    Some(match p {
        "=" => None,
        "+=" => Some(BinOp::Add),
        "-=" => Some(BinOp::Sub),
        "*=" => Some(BinOp::Mul),
        "/=" => Some(BinOp::Div),
        "%=" => Some(BinOp::Mod),
        "&=" => Some(BinOp::BitAnd),
        "|=" => Some(BinOp::BitOr),
        "^=" => Some(BinOp::BitXor),
        "<<=" => Some(BinOp::Shl),
        ">>=" => Some(BinOp::Shr),
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    /// A parser of `src` from its start, already `depth` levels deep.
    fn new(src: &'a str, depth: usize) -> Self {
        Parser {
            lex: Lexer::new(src),
            src,
            peeked: None,
            no_div: false,
            depth,
            typedefs: vec![],
        }
    }
    fn peek(&mut self) -> Result<(Tok, Span), Diagnostic> {
        if self.peeked.is_none() {
            let before = self.lex.pos();
            let (t, s) = self.lex.next_token()?;
            self.peeked = Some((t, s, before));
        }
        let (t, s, _) = self.peeked.as_ref().expect("peeked was just filled");
        Ok((t.clone(), *s))
    }

    fn next(&mut self) -> Result<(Tok, Span), Diagnostic> {
        if let Some((t, s, _)) = self.peeked.take() {
            return Ok((t, s));
        }
        self.lex.next_token()
    }

    /// Drop a peeked token so the lexer can be read raw from where it started.
    fn unpeek(&mut self) {
        if let Some((_, _, before)) = self.peeked.take() {
            self.lex.set_pos(before);
        }
    }

    fn is(&mut self, p: &str) -> Result<bool, Diagnostic> {
        Ok(matches!(self.peek()?.0, Tok::Punct(q) if q == p))
    }

    fn eat(&mut self, p: &str) -> Result<bool, Diagnostic> {
        if self.is(p)? {
            self.next()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, p: &str, context: &str) -> Result<Span, Diagnostic> {
        let (t, s) = self.peek()?;
        if matches!(t, Tok::Punct(q) if q == p) {
            self.next()?;
            return Ok(s);
        }
        Err(Diagnostic::new(
            s,
            format!("expected '{p}' {context}, found {}", t.describe()),
        ))
    }

    /// `TYPE` with a leading typedef name replaced by what it names (`u32x *` →
    /// `unsigned int *`).
    fn resolve_type(&self, ty: &str) -> String {
        let ty = ty.trim();
        let end = ty
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(ty.len());
        match self.typedefs.iter().find(|(n, _)| *n == ty[..end]) {
            Some((_, target)) => format!("{target}{}", &ty[end..]),
            None => ty.to_string(),
        }
    }

    /// `typedef TYPE NAME;` or `typedef struct|union [X] { ... } NAME;`.
    fn typedef_def(&mut self, pos: usize) -> Result<crate::ast::StructDef, Diagnostic> {
        let rest = &self.src[pos..];
        let semi = rest.find(';').ok_or_else(|| {
            Diagnostic::new(Span::new(pos, pos + 7), "expected ';' to end the typedef")
        })?;
        let body = rest[7..].trim_start();
        let body_at = pos + 7 + (rest[7..].len() - body.len());
        let brace = rest.find('{').filter(|&b| b < semi);
        if let (Some(_), true) = (
            brace,
            body.starts_with("struct") || body.starts_with("union"),
        ) {
            // `typedef struct X { ... } NAME;`: the struct, then the name.
            // An anonymous struct takes the typedef's name.
            let alias = rest[rest.find('}').unwrap_or(semi) + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let def = self.struct_def(body_at, Some(alias))?;
            let (t, s) = self.next()?;
            let Tok::Ident(alias) = t else {
                return Err(Diagnostic::new(
                    s,
                    format!("expected the typedef's name, found {}", t.describe()),
                ));
            };
            self.expect(";", "after the typedef")?;
            let keyword = if def.union { "union" } else { "struct" };
            self.typedefs
                .push((alias, format!("{keyword} {}", def.name)));
            return Ok(def);
        }
        let decl = strip_comments(&rest[7..semi]);
        let decl = decl.trim();
        let at = decl
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|_| !decl.is_empty())
            .ok_or_else(|| {
                Diagnostic::new(
                    Span::new(pos, pos + semi + 1),
                    "expected 'typedef TYPE NAME;'",
                )
            })?;
        let (target, name) = decl.split_at(at + 1);
        if name.is_empty() || target.trim().is_empty() {
            return Err(Diagnostic::new(
                Span::new(pos, pos + semi + 1),
                "expected 'typedef TYPE NAME;'",
            ));
        }
        let target = self.resolve_type(target);
        self.typedefs.push((name.to_string(), target));
        self.lex.set_pos(pos + semi + 1);
        Ok(crate::ast::StructDef {
            name: String::new(),
            union: false,
            members: vec![],
            span: Span::new(pos, pos),
        })
    }

    /// `enum [NAME] { A, B = 5, C };`: the enumerators and their values.
    fn enum_def(&mut self, pos: usize, out: &mut Vec<(String, i64)>) -> Result<(), Diagnostic> {
        let rest = &self.src[pos..];
        let (open, close) = match (rest.find('{'), rest.find('}')) {
            (Some(o), Some(c)) if o < c => (o, c),
            _ => {
                return Err(Diagnostic::new(
                    Span::new(pos, pos + 4),
                    "expected 'enum NAME { A, B = 1 };'",
                ))
            }
        };
        let span = Span::new(pos, pos + close + 1);
        let mut next = 0i64;
        for item in strip_comments(&rest[open + 1..close])
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => {
                    let v = v.trim();
                    let (neg, digits) = match v.strip_prefix('-') {
                        Some(d) => (true, d.trim()),
                        None => (false, v),
                    };
                    let n_val = crate::lexer::parse_int(digits).ok_or_else(|| {
                        Diagnostic::new(span, format!("enumerator value '{v}' is not an integer"))
                    })? as i64;
                    (n.trim(), if neg { -n_val } else { n_val })
                }
                None => (item, next),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Diagnostic::new(span, format!("bad enumerator '{item}'")));
            }
            out.push((name.to_string(), value));
            next = value.wrapping_add(1);
        }
        let after = pos + close + 1;
        let semi = self.src[after..].trim_start();
        let end = if semi.starts_with(';') {
            self.src.len() - semi.len() + 1
        } else {
            after
        };
        self.lex.set_pos(end);
        Ok(())
    }

    /// `struct NAME { TYPE NAME[N]; ... };` (or `union`) read as text (comments skipped).
    fn struct_def(
        &mut self,
        pos: usize,
        anonymous: Option<String>,
    ) -> Result<crate::ast::StructDef, Diagnostic> {
        let rest = &self.src[pos..];
        let union = rest.starts_with("union");
        let keyword = if union { 5 } else { 6 };
        let what = if union { "union" } else { "struct" };
        let open = rest.find('{').ok_or_else(|| {
            Diagnostic::new(
                Span::new(pos, pos + keyword),
                format!("expected '{{' after {what} NAME"),
            )
        })?;
        let close = rest[open..].find('}').map(|c| open + c).ok_or_else(|| {
            Diagnostic::new(
                Span::new(pos, pos + open + 1),
                format!("expected '}}' to end the {what}"),
            )
        })?;
        let span = Span::new(pos, pos + close + 1);
        let name = match (rest[keyword..open].trim(), &anonymous) {
            ("", Some(alias)) => alias.as_str(),
            (n, _) => n,
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Diagnostic::new(span, format!("expected a {what} name")));
        }
        let body = strip_comments(&rest[open + 1..close]);
        let mut members = vec![];
        for decl in body.split(';').map(str::trim).filter(|d| !d.is_empty()) {
            let (decl, array) = match decl.split_once('[') {
                Some((d, n)) => {
                    let n = n.trim_end_matches(']').trim().parse().map_err(|_| {
                        Diagnostic::new(span, format!("bad array size in '{decl}'"))
                    })?;
                    (d.trim(), Some(n))
                }
                None => (decl, None),
            };
            let at = decl
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .ok_or_else(|| {
                    Diagnostic::new(span, format!("expected 'TYPE NAME' in '{decl}'"))
                })?;
            let (c_type, member) = decl.split_at(at + 1);
            members.push(crate::ast::MemberDef {
                c_type: self.resolve_type(c_type),
                name: member.to_string(),
                array,
            });
        }
        let after = pos + close + 1;
        let semi = self.src[after..].trim_start();
        let end = if semi.starts_with(';') {
            self.src.len() - semi.len() + 1
        } else {
            after
        };
        self.lex.set_pos(end);
        Ok(crate::ast::StructDef {
            name: name.to_string(),
            union,
            members,
            span,
        })
    }

    fn program(&mut self) -> Result<Program, Diagnostic> {
        let mut probes = vec![];
        let mut structs = vec![];
        let mut enums = vec![];
        loop {
            self.lex.skip_trivia()?;
            let pos = self.lex.pos();
            let rest = &self.src[pos..];
            if rest.is_empty() {
                break;
            }
            let word_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '#'))
                .unwrap_or(rest.len());
            let word = &rest[..word_len];
            let span = Span::new(pos, pos + word_len.max(1));
            if rest.starts_with('#') && !rest.starts_with("#define") {
                // The interpreter line, #include and #if*: headers only matter for struct
                // types and their casts, which are refused where they are used.
                self.lex
                    .set_pos(pos + rest.find('\n').unwrap_or(rest.len()));
                continue;
            }
            if word.starts_with('#') {
                return Err(Diagnostic::unsupported(span, "preprocessor directives"));
            }
            if word == "struct" || word == "union" {
                structs.push(self.struct_def(pos, None)?);
                continue;
            }
            if word == "enum" {
                self.enum_def(pos, &mut enums)?;
                continue;
            }
            if word == "typedef" {
                let def = self.typedef_def(pos)?;
                if !def.name.is_empty() {
                    structs.push(def);
                }
                continue;
            }
            if word == "config" {
                return Err(Diagnostic::unsupported(span, "config blocks"));
            }
            if word == "macro" || word == "fn" {
                return Err(Diagnostic::unsupported(span, "macros and functions"));
            }
            probes.push(self.probe()?);
        }
        if probes.is_empty() {
            return Err(Diagnostic::new(
                Span::new(self.src.len(), self.src.len()),
                "expected a probe (e.g. 'BEGIN { ... }'), found end of input",
            ));
        }
        Ok(Program {
            probes,
            structs,
            enums,
        })
    }

    fn probe(&mut self) -> Result<Probe, Diagnostic> {
        let mut attach = vec![];
        loop {
            let (point, span) = self.lex.attach_point()?;
            if point.is_empty() {
                let (t, s) = self.peek()?;
                return Err(Diagnostic::new(
                    s,
                    format!("expected an attach point, found {}", t.describe()),
                ));
            }
            attach.push((point, span));
            if !self.eat(",")? {
                break;
            }
            self.unpeek();
        }
        let mut predicate = None;
        if self.eat("/")? {
            self.no_div = true;
            let e = self.expr()?;
            self.no_div = false;
            self.expect("/", "to end the predicate")?;
            predicate = Some(e);
        }
        let (t, s) = self.peek()?;
        if !matches!(t, Tok::Punct("{")) {
            return Err(Diagnostic::new(
                s,
                format!(
                    "expected '{{' to start the probe's block, or ',' before another attach point, found {}",
                    t.describe()
                ),
            ));
        }
        let body = self.block()?;
        // The next probe's attach point is read raw; give back any peeked token.
        self.unpeek();
        Ok(Probe {
            attach,
            predicate,
            body,
        })
    }

    fn block(&mut self) -> Result<Vec<Stmt>, Diagnostic> {
        self.nested(Self::block_inner)
    }

    fn block_inner(&mut self) -> Result<Vec<Stmt>, Diagnostic> {
        self.expect("{", "to start a block")?;
        let mut stmts = vec![];
        loop {
            if self.eat("}")? {
                return Ok(stmts);
            }
            if self.eat(";")? {
                continue;
            }
            let (stmt, needs_semi) = self.stmt()?;
            stmts.push(stmt);
            if needs_semi && !self.eat(";")? && !self.is("}")? {
                let (t, s) = self.peek()?;
                return Err(Diagnostic::new(
                    s,
                    format!(
                        "expected ';' or '}}' after the statement, found {}",
                        t.describe()
                    ),
                ));
            }
        }
    }

    fn paren_expr(&mut self, what: &str) -> Result<Expr, Diagnostic> {
        self.expect("(", &format!("after '{what}'"))?;
        let saved = std::mem::replace(&mut self.no_div, false);
        let e = self.expr()?;
        self.no_div = saved;
        self.expect(")", &format!("to close the '{what}' condition"))?;
        Ok(e)
    }

    fn stmt(&mut self) -> Result<(Stmt, bool), Diagnostic> {
        let (t, start) = self.peek()?;
        if let Tok::Ident(word) = &t {
            match word.as_str() {
                "if" => {
                    self.next()?;
                    let cond = self.paren_expr("if")?;
                    let then = self.block()?;
                    let mut otherwise = vec![];
                    if matches!(self.peek()?.0, Tok::Ident(ref w) if w == "else") {
                        self.next()?;
                        if matches!(self.peek()?.0, Tok::Ident(ref w) if w == "if") {
                            otherwise.push(self.stmt()?.0);
                        } else {
                            otherwise = self.block()?;
                        }
                    }
                    let end = self.last_end();
                    return Ok((
                        Stmt {
                            kind: StmtKind::If {
                                cond,
                                then,
                                otherwise,
                            },
                            span: start.to(end),
                        },
                        false,
                    ));
                }
                "unroll" | "while" => {
                    self.next()?;
                    let head = self.paren_expr(word)?;
                    let body = self.block()?;
                    let span = start.to(self.last_end());
                    let kind = if word == "unroll" {
                        StmtKind::Unroll { count: head, body }
                    } else {
                        StmtKind::While { cond: head, body }
                    };
                    return Ok((Stmt { kind, span }, false));
                }
                "for" => {
                    self.next()?;
                    self.expect("(", "after 'for'")?;
                    let (t, s) = self.next()?;
                    let Tok::Var(var) = t else {
                        return Err(Diagnostic::new(
                            s,
                            format!("expected a $variable after 'for (', found {}", t.describe()),
                        ));
                    };
                    self.expect(":", "after the 'for' variable")?;
                    // `start..end`: the start is parsed from the text before `..`, which
                    // would otherwise read as a field access.
                    self.unpeek();
                    let from = self.lex.pos();
                    if self.src[from..].trim_start().starts_with('@') {
                        let m = self.expr()?;
                        let ExprKind::Map(map) = m.kind else {
                            return Err(Diagnostic::new(
                                m.span,
                                "expected 'for ($kv : @map)' with a map and no key",
                            ));
                        };
                        if !map.keys.is_empty() {
                            return Err(Diagnostic::new(
                                map.span,
                                "'for' iterates over a whole map: write it without a key",
                            ));
                        }
                        self.expect(")", "to close the 'for' map")?;
                        let body = self.block()?;
                        let span = start.to(self.last_end());
                        return Ok((
                            Stmt {
                                kind: StmtKind::ForMap { var, map, body },
                                span,
                            },
                            false,
                        ));
                    }
                    let dots = self.src[from..]
                        .find("..")
                        .map(|i| from + i)
                        .ok_or_else(|| Diagnostic::new(s, "expected 'for ($i : start..end)'"))?;
                    let mut sub = Parser::new(&self.src[..dots], self.depth);
                    sub.typedefs = self.typedefs.clone();
                    sub.lex.set_pos(from);
                    let first = sub.expr()?;
                    if !matches!(sub.peek()?.0, Tok::Eof) {
                        let (t, s) = sub.peek()?;
                        return Err(Diagnostic::new(
                            s,
                            format!("expected '..' in the 'for' range, found {}", t.describe()),
                        ));
                    }
                    self.lex.set_pos(dots + 2);
                    let last = self.expr()?;
                    self.expect(")", "to close the 'for' range")?;
                    let body = self.block()?;
                    let span = start.to(self.last_end());
                    return Ok((
                        Stmt {
                            kind: StmtKind::For {
                                var,
                                start: first,
                                end: last,
                                body,
                            },
                            span,
                        },
                        false,
                    ));
                }
                "return" => {
                    self.next()?;
                    return Ok((
                        Stmt {
                            kind: StmtKind::Return,
                            span: start,
                        },
                        true,
                    ));
                }
                "break" | "continue" => {
                    self.next()?;
                    let w = if word == "break" { "break" } else { "continue" };
                    return Ok((
                        Stmt {
                            kind: StmtKind::LoopControl(w),
                            span: start,
                        },
                        true,
                    ));
                }
                _ => {}
            }
        }
        if matches!(t, Tok::Punct("{")) {
            return Err(Diagnostic::unsupported(start, "nested blocks"));
        }
        let e = self.expr()?;
        let (t, s) = self.peek()?;
        if let Tok::Punct(p) = t {
            if let Some(op) = compound_op(p) {
                self.next()?;
                let value = self.expr()?;
                let span = e.span.to(value.span);
                let kind = match e.kind {
                    ExprKind::Map(map) => StmtKind::AssignMap { map, op, value },
                    ExprKind::Var(name) => StmtKind::AssignVar { name, op, value },
                    _ => {
                        return Err(Diagnostic::new(
                            s,
                            "the left side of an assignment must be a @map or a $variable",
                        ))
                    }
                };
                return Ok((Stmt { kind, span }, true));
            }
        }
        let span = e.span;
        Ok((
            Stmt {
                kind: StmtKind::Expr(e),
                span,
            },
            true,
        ))
    }

    fn last_end(&self) -> Span {
        let p = self
            .peeked
            .as_ref()
            .map_or(self.lex.pos(), |(_, _, before)| *before);
        Span::new(p, p)
    }

    fn expr(&mut self) -> Result<Expr, Diagnostic> {
        let cond = self.binary(1)?;
        if self.eat("?")? {
            let saved = std::mem::replace(&mut self.no_div, false);
            let a = self.expr()?;
            self.no_div = saved;
            self.expect(":", "between the branches of '?:'")?;
            let b = self.expr()?;
            let span = cond.span.to(b.span);
            return Ok(Expr {
                kind: ExprKind::Ternary(Box::new(cond), Box::new(a), Box::new(b)),
                span,
            });
        }
        Ok(cond)
    }

    fn binary(&mut self, min_prec: u8) -> Result<Expr, Diagnostic> {
        let mut lhs = self.unary()?;
        loop {
            let (t, _) = self.peek()?;
            let Some((op, prec)) = bin_op(&t) else {
                return Ok(lhs);
            };
            if prec < min_prec || (self.no_div && op == BinOp::Div) {
                return Ok(lhs);
            }
            self.next()?;
            let rhs = self.binary(prec + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
    }

    /// Runs `f` one nesting level deeper, refusing more than [`MAX_DEPTH`] levels.
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Diagnostic>,
    ) -> Result<T, Diagnostic> {
        if self.depth >= MAX_DEPTH {
            return Err(Diagnostic::new(
                self.last_end(),
                format!("nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn unary(&mut self) -> Result<Expr, Diagnostic> {
        self.nested(Self::unary_inner)
    }

    fn unary_inner(&mut self) -> Result<Expr, Diagnostic> {
        let (t, s) = self.peek()?;
        let op = match t {
            Tok::Punct("-") => Some(UnOp::Neg),
            Tok::Punct("!") => Some(UnOp::Not),
            Tok::Punct("~") => Some(UnOp::BitNot),
            Tok::Punct("*") => Some(UnOp::Deref),
            Tok::Punct("&") => Some(UnOp::AddrOf),
            Tok::Punct(p @ ("++" | "--")) => {
                self.next()?;
                let e = self.unary()?;
                let span = s.to(e.span);
                let delta = if p == "++" { 1 } else { -1 };
                return Ok(Expr {
                    kind: ExprKind::IncDec(Box::new(e), delta, true),
                    span,
                });
            }
            Tok::Punct("(") => {
                // A cast: '(' type-name ... ')'.
                let before = self.peeked.as_ref().map_or(self.lex.pos(), |(_, _, b)| *b);
                self.next()?;
                if let (Tok::Ident(w), _) = self.peek()? {
                    if CAST_TYPES.contains(&w.as_str())
                        || self.typedefs.iter().any(|(n, _)| *n == w)
                    {
                        let mut ty = String::new();
                        loop {
                            let (t, ts) = self.next()?;
                            match t {
                                Tok::Punct(")") => break,
                                Tok::Ident(w) => {
                                    if !ty.is_empty() && !ty.ends_with('*') {
                                        ty.push(' ');
                                    }
                                    ty.push_str(&w);
                                }
                                Tok::Punct("*") => ty.push('*'),
                                other => {
                                    return Err(Diagnostic::new(
                                        ts,
                                        format!(
                                            "expected ')' to end the cast, found {}",
                                            other.describe()
                                        ),
                                    ))
                                }
                            }
                        }
                        let ty = self.resolve_type(&ty);
                        let e = self.unary()?;
                        let span = s.to(e.span);
                        return Ok(Expr {
                            kind: ExprKind::Cast(ty, Box::new(e)),
                            span,
                        });
                    }
                }
                // Not a cast: rewind to the '('.
                self.peeked = None;
                self.lex.set_pos(before);
                None
            }
            _ => None,
        };
        if let Some(op) = op {
            self.next()?;
            let e = self.unary()?;
            let span = s.to(e.span);
            return Ok(Expr {
                kind: ExprKind::Unary(op, Box::new(e)),
                span,
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, Diagnostic> {
        let mut e = self.primary()?;
        loop {
            let (t, s) = self.peek()?;
            match t {
                Tok::Punct(p @ ("->" | ".")) => {
                    self.next()?;
                    let (t, fs) = self.next()?;
                    let name = match t {
                        Tok::Ident(n) => n,
                        Tok::Int(n) if p == "." => n.to_string(),
                        other => {
                            return Err(Diagnostic::new(
                                fs,
                                format!(
                                    "expected a field name after '{p}', found {}",
                                    other.describe()
                                ),
                            ))
                        }
                    };
                    let span = e.span.to(fs);
                    e = Expr {
                        kind: ExprKind::Field(Box::new(e), name, p == "->"),
                        span,
                    };
                }
                Tok::Punct("[") => {
                    self.next()?;
                    let saved = std::mem::replace(&mut self.no_div, false);
                    let i = self.expr()?;
                    self.no_div = saved;
                    let end = self.expect("]", "to close the index")?;
                    let span = e.span.to(end);
                    e = Expr {
                        kind: ExprKind::Index(Box::new(e), Box::new(i)),
                        span,
                    };
                }
                Tok::Punct(p @ ("++" | "--")) => {
                    self.next()?;
                    let span = e.span.to(s);
                    let delta = if p == "++" { 1 } else { -1 };
                    e = Expr {
                        kind: ExprKind::IncDec(Box::new(e), delta, false),
                        span,
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    fn list(&mut self, close: &'static str, what: &str) -> Result<(Vec<Expr>, Span), Diagnostic> {
        let saved = std::mem::replace(&mut self.no_div, false);
        let mut items = vec![];
        if !self.is(close)? {
            loop {
                items.push(self.expr()?);
                if !self.eat(",")? {
                    break;
                }
            }
        }
        let (t, s) = self.peek()?;
        if !matches!(t, Tok::Punct(p) if p == close) {
            return Err(Diagnostic::new(
                s,
                format!(
                    "expected ',' or '{close}' in {what}, found {}",
                    t.describe()
                ),
            ));
        }
        self.next()?;
        self.no_div = saved;
        Ok((items, s))
    }

    /// Type words (`unsigned int`, `struct task_struct *`) up to `close`, resolved through
    /// the script's typedefs; the span of `close`.
    fn type_words(
        &mut self,
        close: &'static str,
        what: &str,
    ) -> Result<(String, Span), Diagnostic> {
        let mut ty = String::new();
        loop {
            let (t, ts) = self.next()?;
            match t {
                Tok::Punct(p) if p == close => return Ok((self.resolve_type(&ty), ts)),
                Tok::Ident(w) => {
                    if !ty.is_empty() && !ty.ends_with('*') {
                        ty.push(' ');
                    }
                    ty.push_str(&w);
                }
                Tok::Punct("*") => ty.push('*'),
                other => {
                    return Err(Diagnostic::new(
                        ts,
                        format!(
                            "expected '{close}' to end {what}, found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, Diagnostic> {
        let (t, s) = self.next()?;
        let kind = match t {
            Tok::Int(n) => ExprKind::Int(n),
            Tok::Str(v) => ExprKind::Str(v),
            Tok::Var(v) => ExprKind::Var(v),
            Tok::Positional(n) => ExprKind::Positional(n),
            Tok::Ident(name) => {
                if self.is("(")? {
                    self.next()?;
                    // sizeof(TYPE): the type as a cast of 0, which codegen sizes.
                    if name == "sizeof" {
                        if let (Tok::Ident(w), ts) = self.peek()? {
                            if CAST_TYPES.contains(&w.as_str())
                                || self.typedefs.iter().any(|(n, _)| *n == w)
                            {
                                let (ty, end) = self.type_words(")", "the sizeof() type")?;
                                let arg = Expr {
                                    kind: ExprKind::Cast(
                                        ty,
                                        Box::new(Expr {
                                            kind: ExprKind::Int(0),
                                            span: ts,
                                        }),
                                    ),
                                    span: ts.to(end),
                                };
                                return Ok(Expr {
                                    kind: ExprKind::Call(name, vec![arg]),
                                    span: s.to(end),
                                });
                            }
                        }
                    }
                    let (args, end) = self.list(")", "the argument list")?;
                    return Ok(Expr {
                        kind: ExprKind::Call(name, args),
                        span: s.to(end),
                    });
                }
                ExprKind::Ident(name)
            }
            Tok::Map(name) => {
                let name = format!("@{name}");
                if self.is("[")? {
                    self.next()?;
                    let (keys, end) = self.list("]", "the map key")?;
                    if keys.is_empty() {
                        return Err(Diagnostic::new(end, "expected a map key inside '[]'"));
                    }
                    let span = s.to(end);
                    return Ok(Expr {
                        kind: ExprKind::Map(MapRef { name, keys, span }),
                        span,
                    });
                }
                ExprKind::Map(MapRef {
                    name,
                    keys: vec![],
                    span: s,
                })
            }
            Tok::Punct("(") => {
                let (mut items, end) = self.list(")", "the parenthesized expression")?;
                let span = s.to(end);
                if items.len() == 1 {
                    let mut e = items.remove(0);
                    e.span = span;
                    return Ok(e);
                }
                if items.is_empty() {
                    return Err(Diagnostic::new(end, "expected an expression inside '()'"));
                }
                ExprKind::Tuple(items)
            }
            other => {
                return Err(Diagnostic::new(
                    s,
                    format!("expected an expression, found {}", other.describe()),
                ))
            }
        };
        Ok(Expr { kind, span: s })
    }
}

/// `text` without `//` and `/* */` comments.
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_definitions_are_read_with_their_members() {
        let p = parse(
            "struct nd {\n  struct path path; // [...]\n  char name[16]; /* x */ struct nd *up;\n};\nBEGIN { exit(); }",
        )
        .unwrap();
        assert_eq!(p.structs.len(), 1);
        let m: Vec<(&str, &str, Option<u32>)> = p.structs[0]
            .members
            .iter()
            .map(|m| (m.c_type.as_str(), m.name.as_str(), m.array))
            .collect();
        assert_eq!(
            m,
            [
                ("struct path", "path", None),
                ("char", "name", Some(16)),
                ("struct nd *", "up", None)
            ]
        );
        assert_eq!(p.probes.len(), 1);
    }

    #[test]
    fn unions_enums_and_typedefs_are_read() {
        let p = parse(
            "typedef unsigned int u32x; union U { u32x a; long b; }; typedef struct { union U u; } t_t;\nenum E { A, B = 0x10, C, D = -1 };\nBEGIN { $x = (t_t *)0; $y = (u32x)C; }",
        )
        .unwrap();
        assert_eq!(p.structs.len(), 2);
        assert!(p.structs[0].union && !p.structs[1].union);
        assert_eq!(p.structs[0].members[0].c_type, "unsigned int");
        assert_eq!(p.structs[1].name, "t_t");
        assert_eq!(p.structs[1].members[0].c_type, "union U");
        let e: Vec<(&str, i64)> = p.enums.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        assert_eq!(e, [("A", 0), ("B", 16), ("C", 17), ("D", -1)]);
        let StmtKind::AssignVar { value, .. } = &p.probes[0].body[0].kind else {
            panic!("not an assignment")
        };
        assert!(matches!(&value.kind, ExprKind::Cast(t, _) if t == "struct t_t*"));
        let StmtKind::AssignVar { value, .. } = &p.probes[0].body[1].kind else {
            panic!("not an assignment")
        };
        assert!(matches!(&value.kind, ExprKind::Cast(t, _) if t == "unsigned int"));
        // A '}' before the '{' is an error, not a slice out of order.
        assert!(parse("typedef struct } {;").is_err());
        assert!(parse("struct X } { int a; }; BEGIN {}").is_err());
        assert!(parse("union U } {").is_err());
    }

    fn err(src: &str) -> (usize, usize, String) {
        let d = parse(src).unwrap_err();
        let (l, c) = d.line_col(src);
        (l, c, d.message)
    }

    #[test]
    fn probes_with_several_attach_points_and_predicates() {
        let p = parse(
            "BEGIN { } tracepoint:syscalls:sys_enter_read,tracepoint:syscalls:sys_enter_write /pid == 1 && ($x/2) > 0/ { @[comm] = count(); }",
        )
        .unwrap();
        assert_eq!(p.probes.len(), 2);
        assert_eq!(p.probes[1].attach.len(), 2);
        assert_eq!(
            p.probes[1].attach[1].0,
            "tracepoint:syscalls:sys_enter_write"
        );
        assert!(p.probes[1].predicate.is_some());
    }

    #[test]
    fn precedence_follows_c() {
        let p = parse("BEGIN { $x = 1 + 2 * 3 << 1 == 14 ? 5 : 6; }").unwrap();
        let StmtKind::AssignVar { value, .. } = &p.probes[0].body[0].kind else {
            panic!()
        };
        let ExprKind::Ternary(c, _, _) = &value.kind else {
            panic!()
        };
        let ExprKind::Binary(BinOp::Eq, l, _) = &c.kind else {
            panic!()
        };
        assert!(matches!(l.kind, ExprKind::Binary(BinOp::Shl, _, _)));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // Found by replaying the trace_lang fuzz corpus in a debug test thread (2 MiB stack):
        // 140 nested parentheses overflowed the recursive parser's stack.
        let deep = format!("BEGIN {{ @x = {}1{}; }}", "(".repeat(200), ")".repeat(200));
        let e = parse(&deep).unwrap_err();
        assert!(
            e.to_string().contains("nested more than 40 levels deep"),
            "{e}"
        );
        let e = parse(&format!("BEGIN {{ @x = {}1; }}", "-".repeat(500))).unwrap_err();
        assert!(
            e.to_string().contains("nested more than 40 levels deep"),
            "{e}"
        );
        let ok = format!("BEGIN {{ @x = {}1{}; }}", "(".repeat(20), ")".repeat(20));
        let p = parse(&ok).unwrap();
        let StmtKind::AssignMap { map, op, value } = &p.probes[0].body[0].kind else {
            panic!("not a map assignment: {:?}", p.probes[0].body);
        };
        assert_eq!(
            (map.name.as_str(), op, &value.kind),
            ("@x", &None, &ExprKind::Int(1))
        );
    }

    #[test]
    fn statements_and_postfix() {
        let p = parse(
            "i:s:1 { if (args->x > 1) { @a++; } else if (1) { $v += 2 } else { delete(@m[1, \"s\"]); } unroll(3) { @b[(uint32)pid] = hist(2); } }",
        )
        .unwrap();
        assert_eq!(p.probes[0].body.len(), 2);
    }

    #[test]
    fn missing_semicolon_is_positioned() {
        assert_eq!(
            err("BEGIN {\n  @x = 1\n  @y = 2; }"),
            (
                3,
                3,
                "expected ';' or '}' after the statement, found '@y'".into()
            )
        );
    }

    #[test]
    fn missing_expression_is_positioned() {
        assert_eq!(
            err("BEGIN { @x = ; }"),
            (1, 14, "expected an expression, found ';'".into())
        );
    }

    #[test]
    fn missing_block_is_positioned() {
        assert_eq!(
            err("BEGIN printf(\"x\")"),
            (
                1,
                7,
                "expected '{' to start the probe's block, or ',' before another attach point, found 'printf'".into()
            )
        );
    }

    #[test]
    fn unclosed_call_is_positioned() {
        assert_eq!(
            err("BEGIN { printf(\"%d\", 1 }"),
            (
                1,
                24,
                "expected ',' or ')' in the argument list, found '}'".into()
            )
        );
    }

    #[test]
    fn unsupported_constructs_say_so() {
        assert_eq!(
            err("#define X 1\nBEGIN {}").2,
            "not supported yet: preprocessor directives"
        );
        assert!(parse("#!/usr/bin/env bpftrace\n#include <linux/sched.h>\nBEGIN {}").is_ok());
        assert_eq!(
            err("BEGIN { for ($kv : @m[1]) {} }").2,
            "'for' iterates over a whole map: write it without a key"
        );
        let p = parse("BEGIN { for ($kv : @m) { @x = $kv.0.1; } }").unwrap();
        assert!(matches!(
            &p.probes[0].body[0].kind,
            StmtKind::ForMap { var, map, body } if var == "kv" && map.name == "@m" && body.len() == 1
        ));
        let p = parse("BEGIN { for ($i : 0..3) {} }").unwrap();
        let StmtKind::For {
            var,
            start,
            end,
            body,
        } = &p.probes[0].body[0].kind
        else {
            panic!("not a for loop: {:?}", p.probes[0].body);
        };
        assert_eq!(
            (var.as_str(), &start.kind, &end.kind, body.len()),
            ("i", &ExprKind::Int(0), &ExprKind::Int(3), 0)
        );
    }
}
