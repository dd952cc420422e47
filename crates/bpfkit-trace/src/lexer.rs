//! The tokenizer. Attach points (`tracepoint:syscalls:sys_enter_*`, `uprobe:/bin/sh:main`)
//! are not tokens: the parser reads them raw with [`Lexer::attach_point`], as they may hold
//! `/`, `*` and `:` that mean something else inside a block.

use crate::diag::{Diagnostic, Span};

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// An integer literal (decimal, hex, octal, with `_` separators and K/M/G suffixes
    /// are not bpftrace: plain C integers).
    Int(u64),
    /// A string literal, escapes resolved.
    Str(String),
    /// An identifier or keyword (`if`, `pid`, `count`, …).
    Ident(String),
    /// `$name`.
    Var(String),
    /// `$1`, a positional parameter.
    Positional(u32),
    /// `@name` (`@` alone has an empty name).
    Map(String),
    /// Punctuation and operators, as written.
    Punct(&'static str),
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is named in "found …" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Int(n) => format!("integer {n}"),
            Tok::Str(_) => "a string".into(),
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Var(s) => format!("'${s}'"),
            Tok::Positional(n) => format!("'${n}'"),
            Tok::Map(s) => format!("'@{s}'"),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// Operators, longest first so that `<<=` wins over `<<` and `<`.
const PUNCTS: &[&str] = &[
    "<<=", ">>=", "...", "->", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<",
    ">>", "<=", ">=", "==", "!=", "&&", "||", "{", "}", "(", ")", "[", "]", ",", ";", ":", "?",
    ".", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "<", ">", "=",
];

/// The tokenizer over one program text.
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    /// The current byte offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Rewinds (or advances) to `pos`, used to undo a peek.
    pub fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Skips spaces, `//` and `/* */` comments.
    pub fn skip_trivia(&mut self) -> Result<(), Diagnostic> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                match body.find("*/") {
                    Some(i) => self.pos += i + 4,
                    None => {
                        return Err(Diagnostic::new(
                            Span::new(self.pos, self.pos + 2),
                            "unterminated comment: expected '*/'",
                        ))
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// Reads one attach point: everything up to whitespace, `,` or `{`.
    /// Returns an empty string when the next character cannot start one.
    pub fn attach_point(&mut self) -> Result<(String, Span), Diagnostic> {
        self.skip_trivia()?;
        let start = self.pos;
        let rest = self.rest();
        let len = rest
            .find(|c: char| c.is_whitespace() || c == ',' || c == '{')
            .unwrap_or(rest.len());
        // A predicate right after the point (`BEGIN/1/`) is not bpftrace; but
        // `tracepoint:a:b/pid==1/` without a space is, so stop at a '/' that follows a
        // name character unless it is part of a uprobe path (`:/`).
        let mut end = len;
        let bytes = rest.as_bytes();
        for i in 0..len {
            if bytes[i] == b'/' && i > 0 && bytes[i - 1] != b':' && !rest[..i].contains(":/") {
                end = i;
                break;
            }
        }
        self.pos += end;
        Ok((rest[..end].to_string(), Span::new(start, start + end)))
    }

    /// The next token and its span.
    pub fn next_token(&mut self) -> Result<(Tok, Span), Diagnostic> {
        self.skip_trivia()?;
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok((Tok::Eof, Span::new(start, start)));
        };
        let ident_len = |s: &str| {
            s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(s.len())
        };
        let tok = if c.is_ascii_digit() {
            let len = ident_len(rest);
            let text = &rest[..len];
            let value = parse_int(text).ok_or_else(|| {
                Diagnostic::new(
                    Span::new(start, start + len),
                    format!("invalid integer literal '{text}'"),
                )
            })?;
            self.pos += len;
            Tok::Int(value)
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len = ident_len(rest);
            self.pos += len;
            Tok::Ident(rest[..len].to_string())
        } else if rest.starts_with("$#") {
            self.pos += 2;
            Tok::Var("#".into())
        } else if c == '$' {
            let len = ident_len(&rest[1..]);
            let name = &rest[1..1 + len];
            self.pos += 1 + len;
            if name.is_empty() {
                return Err(Diagnostic::new(
                    Span::new(start, start + 1),
                    "expected a variable name after '$'",
                ));
            }
            if name.bytes().all(|b| b.is_ascii_digit()) {
                Tok::Positional(name.parse().unwrap_or(u32::MAX))
            } else {
                Tok::Var(name.to_string())
            }
        } else if c == '@' {
            let len = ident_len(&rest[1..]);
            self.pos += 1 + len;
            Tok::Map(rest[1..1 + len].to_string())
        } else if c == '"' {
            Tok::Str(self.string(start)?)
        } else if c == '\'' {
            return Err(Diagnostic::unsupported(
                Span::new(start, start + 1),
                "character literals",
            ));
        } else if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            self.pos += p.len();
            Tok::Punct(p)
        } else {
            return Err(Diagnostic::new(
                Span::new(start, start + c.len_utf8()),
                format!("unexpected character '{c}'"),
            ));
        };
        Ok((tok, Span::new(start, self.pos)))
    }

    fn string(&mut self, start: usize) -> Result<String, Diagnostic> {
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let Some((j, e)) = chars.next() else { break };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        '0'..='7' => {
                            let mut v = e.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                let mut peek = chars.clone();
                                match peek.next() {
                                    Some((_, d)) if d.is_digit(8) => {
                                        v = v * 8 + d.to_digit(8).unwrap_or(0);
                                        chars = peek;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(char::from_u32(v).unwrap_or('?'));
                        }
                        _ => {
                            let at = start + 1 + j;
                            return Err(Diagnostic::new(
                                Span::new(at - 1, at + e.len_utf8()),
                                format!("unknown escape sequence '\\{e}'"),
                            ));
                        }
                    }
                }
                '\n' => break,
                c => out.push(c),
            }
        }
        Err(Diagnostic::new(
            Span::new(start, start + 1),
            "unterminated string: expected '\"'",
        ))
    }
}

pub(crate) fn parse_int(text: &str) -> Option<u64> {
    let t = text.replace('_', "");
    // bpftrace's integer scientific notation: 1e6.
    if let Some((m, e)) = t.split_once(['e', 'E']).filter(|_| !t.starts_with("0x")) {
        let m: u64 = m.parse().ok()?;
        let e: u32 = e.parse().ok()?;
        return 10u64.checked_pow(e)?.checked_mul(m);
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut l = Lexer::new(src);
        let mut out = vec![];
        loop {
            let (t, _) = l.next_token().unwrap();
            if t == Tok::Eof {
                return out;
            }
            out.push(t);
        }
    }

    #[test]
    fn operators_take_the_longest_match() {
        assert_eq!(
            toks("a<<=b<=c->d"),
            vec![
                Tok::Ident("a".into()),
                Tok::Punct("<<="),
                Tok::Ident("b".into()),
                Tok::Punct("<="),
                Tok::Ident("c".into()),
                Tok::Punct("->"),
                Tok::Ident("d".into())
            ]
        );
    }

    #[test]
    fn literals_vars_maps_and_comments() {
        assert_eq!(
            toks("0x10 010 1e3 \"a\\n\\\"\" $x @y @ $1 // c\n/* d */ z"),
            vec![
                Tok::Int(16),
                Tok::Int(8),
                Tok::Int(1000),
                Tok::Str("a\n\"".into()),
                Tok::Var("x".into()),
                Tok::Map("y".into()),
                Tok::Map(String::new()),
                Tok::Positional(1),
                Tok::Ident("z".into())
            ]
        );
    }

    #[test]
    fn attach_points_are_read_raw() {
        let mut l = Lexer::new("uprobe:/bin/sh:main,tracepoint:a:b_*/pid/ {");
        assert_eq!(l.attach_point().unwrap().0, "uprobe:/bin/sh:main");
        assert_eq!(l.next_token().unwrap().0, Tok::Punct(","));
        assert_eq!(l.attach_point().unwrap().0, "tracepoint:a:b_*");
        assert_eq!(l.next_token().unwrap().0, Tok::Punct("/"));
    }

    #[test]
    fn unterminated_string_is_positioned() {
        let err = Lexer::new("  \"abc").next_token().unwrap_err();
        assert_eq!(err.span, Span::new(2, 3));
    }
}
