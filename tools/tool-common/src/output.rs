//! Output: lines to stdout that end the run quietly when the reader goes away (`| head`),
//! and the string helpers for kernel byte fields.

use std::io::Write;

/// Stdout, line by line; after a write fails (closed pipe) every later line is dropped and
/// [`Lines::closed`] says so.
#[derive(Debug)]
pub struct Lines {
    out: std::io::Stdout,
    closed: bool,
}

impl Default for Lines {
    fn default() -> Self {
        Self::new()
    }
}

impl Lines {
    /// Lines to stdout.
    pub fn new() -> Lines {
        Lines {
            out: std::io::stdout(),
            closed: false,
        }
    }

    /// Writes `line` and a newline (and flushes, so a pipe sees it at once); false once
    /// stdout is closed.
    pub fn line(&mut self, line: &str) -> bool {
        if !self.closed {
            let mut out = self.out.lock();
            self.closed = writeln!(out, "{line}").and_then(|()| out.flush()).is_err();
        }
        !self.closed
    }

    /// Whether stdout has been closed by its reader.
    pub fn closed(&self) -> bool {
        self.closed
    }
}

/// The text of a NUL-terminated byte field (a command name, a path), lossy UTF-8.
///
/// ```
/// assert_eq!(tool_common::output::c_str(b"cat\0\0\0"), "cat");
/// ```
pub fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The local wall-clock time as `HH:MM:SS` (for the tools' TIME column).
pub fn time_of_day() -> String {
    // SAFETY: time(NULL) and localtime_r into a zeroed tm are valid.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
    }
}

/// A JSON string literal (quotes and escapes) for `text`.
///
/// ```
/// assert_eq!(tool_common::output::json_string("a\"b\n"), r#""a\"b\n""#);
/// ```
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_str_stops_at_the_first_nul_or_the_end() {
        assert_eq!(c_str(b"abc"), "abc");
        assert_eq!(c_str(b"\0abc"), "");
        assert_eq!(c_str(b"a\xffb\0"), "a\u{fffd}b");
    }

    #[test]
    fn json_string_escapes_control_characters() {
        assert_eq!(json_string("\u{1}x\\"), r#""\u0001x\\""#);
    }
}
