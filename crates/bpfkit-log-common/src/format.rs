//! Format strings: `{}`, `{:x}`, `{:X}`, `{:i}` (IP address), `{:mac}`, and `{{`/`}}` escapes.

/// How a placeholder renders its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// `{}`: integers in decimal, byte arrays and strings as text.
    Display,
    /// `{:x}`: lower-case hexadecimal (byte arrays as hex digits).
    LowerHex,
    /// `{:X}`: upper-case hexadecimal.
    UpperHex,
    /// `{:i}`: an IPv4 (`u32` in network byte order, `[u8; 4]`) or IPv6 (`[u8; 16]`) address.
    Ip,
    /// `{:mac}`: a MAC address (`[u8; 6]`).
    Mac,
}

/// One piece of a parsed format string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text to print as is (escapes already resolved, so `{{` arrives as `{`).
    Literal(&'a str),
    /// A placeholder for the next argument.
    Placeholder(Hint),
}

/// Why a format string is invalid; `offset` is the byte position in the string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError<'a> {
    /// A `{` without its `}`.
    Unclosed {
        /// Where the `{` is.
        offset: usize,
    },
    /// A `}` that closes nothing (write `}}` for a literal one).
    UnmatchedClose {
        /// Where the `}` is.
        offset: usize,
    },
    /// A placeholder spec other than ``, `:x`, `:X`, `:i`, `:mac`.
    UnknownSpec {
        /// Where the `{` is.
        offset: usize,
        /// What was between the braces.
        spec: &'a str,
    },
}

impl core::fmt::Display for FormatError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FormatError::Unclosed { offset } => write!(f, "`{{` at byte {offset} is never closed"),
            FormatError::UnmatchedClose { offset } => {
                write!(f, "`}}` at byte {offset} closes nothing (write `}}}}` for a literal brace)")
            }
            FormatError::UnknownSpec { offset, spec } => write!(
                f,
                "placeholder `{{{spec}}}` at byte {offset} is not one of {{}}, {{:x}}, {{:X}}, {{:i}}, {{:mac}}"
            ),
        }
    }
}

/// Splits a format string into [`Piece`]s, without allocating.
#[derive(Clone, Debug)]
pub struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// A parser over `text`.
    pub const fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Piece<'a>, FormatError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.text.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let start = self.pos;
        if let Some(after) = rest.strip_prefix("{{") {
            let _ = after;
            self.pos += 2;
            return Some(Ok(Piece::Literal("{")));
        }
        if rest.starts_with("}}") {
            self.pos += 2;
            return Some(Ok(Piece::Literal("}")));
        }
        if rest.starts_with('{') {
            let Some(close) = rest.find('}') else {
                self.pos = self.text.len();
                return Some(Err(FormatError::Unclosed { offset: start }));
            };
            let spec = &rest[1..close];
            self.pos += close + 1;
            let hint = match spec {
                "" => Hint::Display,
                ":x" => Hint::LowerHex,
                ":X" => Hint::UpperHex,
                ":i" => Hint::Ip,
                ":mac" => Hint::Mac,
                _ => {
                    return Some(Err(FormatError::UnknownSpec {
                        offset: start,
                        spec,
                    }))
                }
            };
            return Some(Ok(Piece::Placeholder(hint)));
        }
        if rest.starts_with('}') {
            self.pos += 1;
            return Some(Err(FormatError::UnmatchedClose { offset: start }));
        }
        let end = rest.find(['{', '}']).unwrap_or(rest.len());
        self.pos += end;
        Some(Ok(Piece::Literal(&rest[..end])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> [Option<Result<Piece<'_>, FormatError<'_>>>; 6] {
        let mut p = Parser::new(text);
        core::array::from_fn(|_| p.next())
    }

    #[test]
    fn splits_literals_and_placeholders() {
        let got = pieces("pid {} ip {:i} mac {:mac}");
        assert_eq!(got[0], Some(Ok(Piece::Literal("pid "))));
        assert_eq!(got[1], Some(Ok(Piece::Placeholder(Hint::Display))));
        assert_eq!(got[2], Some(Ok(Piece::Literal(" ip "))));
        assert_eq!(got[3], Some(Ok(Piece::Placeholder(Hint::Ip))));
        assert_eq!(got[4], Some(Ok(Piece::Literal(" mac "))));
        assert_eq!(got[5], Some(Ok(Piece::Placeholder(Hint::Mac))));
    }

    #[test]
    fn resolves_brace_escapes() {
        let got = pieces("{{{:x}}}");
        assert_eq!(got[0], Some(Ok(Piece::Literal("{"))));
        assert_eq!(got[1], Some(Ok(Piece::Placeholder(Hint::LowerHex))));
        assert_eq!(got[2], Some(Ok(Piece::Literal("}"))));
        assert_eq!(got[3], None);
    }

    #[test]
    fn reports_errors_with_offsets() {
        assert_eq!(
            Parser::new("a {").nth(1),
            Some(Err(FormatError::Unclosed { offset: 2 }))
        );
        assert_eq!(
            Parser::new("a } b").nth(1),
            Some(Err(FormatError::UnmatchedClose { offset: 2 }))
        );
        assert_eq!(
            Parser::new("{:?}").next(),
            Some(Err(FormatError::UnknownSpec {
                offset: 0,
                spec: ":?"
            }))
        );
    }
}
