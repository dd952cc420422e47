//! Rendering a record's format string with its arguments.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use bpfkit_log_common::{Hint, Parser, Piece};

use crate::decode::{Arg, DecodeError, Record};

fn hint_text(hint: Hint) -> &'static str {
    match hint {
        Hint::Display => "",
        Hint::LowerHex => ":x",
        Hint::UpperHex => ":X",
        Hint::Ip => ":i",
        Hint::Mac => ":mac",
    }
}

fn describe(arg: &Arg<'_>) -> String {
    match arg {
        Arg::Unsigned { size, .. } => format!("a u{}", u32::from(*size) * 8),
        Arg::Signed { size, .. } => format!("an i{}", u32::from(*size) * 8),
        Arg::Bool(_) => "a bool".to_string(),
        Arg::Bytes(b) => format!("a [u8; {}]", b.len()),
        Arg::Str(_) => "a string".to_string(),
    }
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end])
}

fn render_arg(
    out: &mut String,
    index: usize,
    hint: Hint,
    arg: &Arg<'_>,
) -> Result<(), DecodeError> {
    let mismatch = || DecodeError::HintMismatch {
        index,
        hint: hint_text(hint),
        arg: describe(arg),
    };
    // Writing to a String cannot fail.
    let _ = match (hint, arg) {
        (Hint::Display, Arg::Unsigned { value, .. }) => write!(out, "{value}"),
        (Hint::Display, Arg::Signed { value, .. }) => write!(out, "{value}"),
        (Hint::Display, Arg::Bool(b)) => write!(out, "{b}"),
        (Hint::Display, Arg::Bytes(b) | Arg::Str(b)) => write!(out, "{}", text(b)),
        (Hint::LowerHex, Arg::Unsigned { value, .. }) => write!(out, "{value:x}"),
        (Hint::UpperHex, Arg::Unsigned { value, .. }) => write!(out, "{value:X}"),
        (Hint::LowerHex, Arg::Signed { value, size }) => {
            write!(out, "{:x}", truncate(*value, *size))
        }
        (Hint::UpperHex, Arg::Signed { value, size }) => {
            write!(out, "{:X}", truncate(*value, *size))
        }
        (Hint::LowerHex, Arg::Bytes(b) | Arg::Str(b)) => {
            b.iter().try_for_each(|byte| write!(out, "{byte:02x}"))
        }
        (Hint::UpperHex, Arg::Bytes(b) | Arg::Str(b)) => {
            b.iter().try_for_each(|byte| write!(out, "{byte:02X}"))
        }
        (Hint::Ip, Arg::Unsigned { value, size: 4 }) => {
            // A `__be32` as the kernel stores it: its in-memory bytes are the octets.
            write!(out, "{}", Ipv4Addr::from((*value as u32).to_ne_bytes()))
        }
        (Hint::Ip, Arg::Bytes(b)) if b.len() == 4 => {
            write!(out, "{}", Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        }
        (Hint::Ip, Arg::Bytes(b)) if b.len() == 16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(b);
            write!(out, "{}", Ipv6Addr::from(octets))
        }
        (Hint::Mac, Arg::Bytes(b)) if b.len() == 6 => write!(
            out,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        ),
        _ => return Err(mismatch()),
    };
    Ok(())
}

/// Two's complement of `value` in `size` bytes, as `{:x}` shows a negative Rust integer.
fn truncate(value: i64, size: u8) -> u64 {
    match size {
        1 => u64::from(value as u8),
        2 => u64::from(value as u16),
        4 => u64::from(value as u32),
        _ => value as u64,
    }
}

impl Record<'_> {
    /// The message: the format string with each placeholder replaced by its argument.
    pub fn message(&self) -> Result<String, DecodeError> {
        let mut out = String::with_capacity(self.format.len() + 16 * self.args.len());
        let mut next = 0;
        for piece in Parser::new(self.format) {
            match piece.map_err(|e| DecodeError::Format {
                message: e.to_string(),
            })? {
                Piece::Literal(s) => out.push_str(s),
                Piece::Placeholder(hint) => {
                    let arg = self.args.get(next).ok_or(DecodeError::ArgCount {
                        placeholders: next + 1 + remaining_placeholders(self.format, next + 1),
                        args: self.args.len(),
                    })?;
                    render_arg(&mut out, next, hint, arg)?;
                    next += 1;
                }
            }
        }
        if next != self.args.len() {
            return Err(DecodeError::ArgCount {
                placeholders: next,
                args: self.args.len(),
            });
        }
        Ok(out)
    }
}

/// Placeholders after the first `seen` ones (for the error message only).
fn remaining_placeholders(format: &str, seen: usize) -> usize {
    Parser::new(format)
        .filter(|p| matches!(p, Ok(Piece::Placeholder(_))))
        .count()
        .saturating_sub(seen)
}
