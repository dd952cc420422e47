//! [`Report`]: an error with its whole [`source`](std::error::Error::source) chain on one
//! line, for printing errors to users.
//!
//! bpfkit's errors say only their own part in their Display (`object 'o': program 'p'`) and
//! return what caused it from `source()` (`BPF_PROG_LOAD failed: ...`), so nothing is printed
//! twice; `Report` joins the parts with `": "`. The alternate form (`{:#}`) shows each part
//! in its alternate form too: the full verifier log of a refused program.

use std::error::Error;
use std::fmt;

/// Display an error followed by each of its sources, separated by `": "`.
///
/// ```
/// use bpfkit::Report;
/// let err = bpfkit::loader::Loader::new().load(b"not an ELF", "bad").unwrap_err();
/// let line = Report(&err).to_string();
/// assert!(line.starts_with("object 'bad': "), "{line}");
/// ```
#[derive(Clone, Copy)]
pub struct Report<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alternate = f.alternate();
        let mut next: Option<&(dyn Error + 'static)> = Some(self.0);
        let mut first = true;
        while let Some(error) = next {
            if !first {
                f.write_str(": ")?;
            }
            first = false;
            if alternate {
                write!(f, "{error:#}")?;
            } else {
                write!(f, "{error}")?;
            }
            next = error.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
