//! Compiler-style diagnostics: a byte span in the source, rendered as
//! `file:line:col: error: message`, the source line and a caret under the span.

use std::fmt;

/// A half-open byte range `[start, end)` in the program text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte (`start` for an empty span, e.g. end of input).
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// An error in the program text, at a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where.
    pub span: Span,
    /// What went wrong, including what was expected.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
        }
    }

    /// The "not supported yet: `<construct>`" error for valid bpftrace outside the subset.
    pub fn unsupported(span: Span, construct: impl fmt::Display) -> Self {
        Self::new(span, format!("not supported yet: {construct}"))
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        let start = self.span.start.min(source.len());
        let before = &source[..floor_char(source, start)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The diagnostic as a compiler prints it:
    ///
    /// ```text
    /// stdin:1:9: error: expected an expression, found '}'
    ///     1 | BEGIN { @x = }
    ///       |              ^
    /// ```
    pub fn render(&self, file: &str, source: &str) -> String {
        let (line, col) = self.line_col(source);
        let text = source.lines().nth(line - 1).unwrap_or("");
        let width = {
            let start = self.span.start.min(source.len());
            let end = self.span.end.clamp(start, source.len());
            let line_end = source[start..]
                .find('\n')
                .map_or(source.len(), |i| start + i);
            let end = end.min(line_end);
            source[floor_char(source, start)..floor_char(source, end)]
                .chars()
                .count()
                .max(1)
        };
        let gutter = line.to_string().len().max(4);
        format!(
            "{file}:{line}:{col}: error: {msg}\n{num:>gutter$} | {text}\n{blank:>gutter$} | {pad}{carets}\n",
            msg = self.message,
            num = line,
            blank = "",
            pad = " ".repeat(col - 1),
            carets = "^".repeat(width),
        )
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_column_and_caret() {
        let src = "BEGIN {\n  @x = ;\n}";
        let d = Diagnostic::new(Span::new(15, 16), "expected an expression, found ';'");
        assert_eq!(d.line_col(src), (2, 8));
        assert_eq!(
            d.render("t.bt", src),
            "t.bt:2:8: error: expected an expression, found ';'\n   2 |   @x = ;\n     |        ^\n"
        );
    }
}
