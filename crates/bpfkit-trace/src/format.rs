//! printf: format strings checked at compile time, formatted in userspace from the bytes
//! the program sent, with C's flags, width, precision and conversions.

use crate::types::Ty;

/// One conversion like `%-8.3llu`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conv {
    /// `-`: left-justify.
    pub left: bool,
    /// `0`: pad with zeros.
    pub zero: bool,
    /// `+`: always a sign.
    pub plus: bool,
    /// ` `: a space for positive numbers.
    pub space: bool,
    /// `#`: alternate form (`0x`).
    pub alt: bool,
    /// Minimum width.
    pub width: usize,
    /// Precision.
    pub precision: Option<usize>,
    /// Bits of the integer C's length modifier reads, as bpftrace's printf (which is C's)
    /// reads them: 32 with none (`%d` prints the low 32 bits, signed), 16 for `h`, 8 for
    /// `hh`, 64 for `l`, `ll`, `z`, `j`, `t`.
    pub bits: u8,
    /// `d i u x X o c s p`.
    pub conv: char,
}

/// A piece of a format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Text printed as is.
    Lit(String),
    /// A conversion consuming one argument.
    Conv(Conv),
}

/// A parsed printf format and its argument types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintfSpec {
    /// The pieces.
    pub segments: Vec<Segment>,
    /// Argument types in order.
    pub args: Vec<Ty>,
}

/// The largest width or precision a conversion may ask for (each event would print that
/// many characters).
pub const MAX_WIDTH: usize = 4096;

/// The decimal number at the start of `chars` (0 if none), at most [`MAX_WIDTH`].
fn number(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    what: &str,
) -> Result<usize, String> {
    let mut n: usize = 0;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = n * 10 + d as usize;
        if n > MAX_WIDTH {
            return Err(format!(
                "the {what} of a conversion is larger than {MAX_WIDTH}"
            ));
        }
        chars.next();
    }
    Ok(n)
}

/// Parses `fmt`; the error says what is wrong with which conversion.
pub fn parse_format(fmt: &str) -> Result<Vec<Segment>, String> {
    let mut out = vec![];
    let mut lit = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            lit.push('%');
            continue;
        }
        let mut conv = Conv {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alt: false,
            width: 0,
            precision: None,
            bits: 32,
            conv: 'd',
        };
        while let Some(&f) = chars.peek() {
            match f {
                '-' => conv.left = true,
                '0' => conv.zero = true,
                '+' => conv.plus = true,
                ' ' => conv.space = true,
                '#' => conv.alt = true,
                _ => break,
            }
            chars.next();
        }
        conv.width = number(&mut chars, "width")?;
        if chars.peek() == Some(&'.') {
            chars.next();
            conv.precision = Some(number(&mut chars, "precision")?);
        }
        while let Some(&m) = chars.peek() {
            conv.bits = match m {
                'h' if conv.bits == 16 => 8,
                'h' => 16,
                'l' | 'z' | 'j' | 't' => 64,
                _ => break,
            };
            chars.next();
        }
        match chars.next() {
            Some(c @ ('d' | 'i' | 'u' | 'x' | 'X' | 'o' | 'c' | 's' | 'p' | 'r')) => conv.conv = c,
            Some('*') => return Err("'*' widths are not supported yet".into()),
            Some(c) => return Err(format!("unknown conversion '%{c}'")),
            None => return Err("the format ends in the middle of a conversion".into()),
        }
        if !lit.is_empty() {
            out.push(Segment::Lit(std::mem::take(&mut lit)));
        }
        out.push(Segment::Conv(conv));
    }
    if !lit.is_empty() {
        out.push(Segment::Lit(lit));
    }
    Ok(out)
}

/// An argument value read back from an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// An integer (its bits) and whether its type is signed.
    Int(u64, bool),
    /// A string up to its first NUL.
    Str(String),
}

/// Reads the arguments of `types` laid out one after another in `data` (stacks from
/// `stacks`, `strftime()` formats from `time_formats`).
pub fn decode_args(
    types: &[Ty],
    data: &[u8],
    stacks: crate::symbols::Stacks<'_>,
    time_formats: &[String],
) -> Vec<Arg> {
    let mut out = vec![];
    let mut at = 0;
    for t in types {
        let n = t.size() as usize;
        let bytes = data.get(at..at + n).unwrap_or(&[]);
        out.push(match t {
            Ty::Int { signed } => {
                let mut b = [0u8; 8];
                b[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
                Arg::Int(u64::from_ne_bytes(b), *signed)
            }
            Ty::Str(_) => Arg::Str(c_string(bytes)),
            Ty::Time(i) => {
                let mut b = [0u8; 8];
                b[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
                let fmt = time_formats.get(*i as usize).map_or("", String::as_str);
                Arg::Str(crate::runtime::strftime_boot_ns(fmt, u64::from_ne_bytes(b)))
            }
            Ty::Ksym | Ty::Kstack(..) | Ty::Ustack(..) | Ty::Usym | Ty::Inet | Ty::Buf(_) => {
                Arg::Str(t.symbolize(bytes, 8, stacks).unwrap_or_default())
            }
        });
        at += n;
    }
    out
}

/// Bytes up to the first NUL, lossily as UTF-8.
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn pad(c: &Conv, body: String, sign_prefix: &str, numeric: bool) -> String {
    let len = sign_prefix.len() + body.chars().count();
    if len >= c.width {
        return format!("{sign_prefix}{body}");
    }
    let fill = c.width - len;
    if c.left {
        format!("{sign_prefix}{body}{}", " ".repeat(fill))
    } else if c.zero && numeric && c.precision.is_none() {
        format!("{sign_prefix}{}{body}", "0".repeat(fill))
    } else {
        format!("{}{sign_prefix}{body}", " ".repeat(fill))
    }
}

/// Formats one conversion of one argument as C's printf would.
pub fn format_conv(c: &Conv, arg: &Arg) -> String {
    match (c.conv, arg) {
        ('s' | 'r', Arg::Str(s)) => {
            let s = match c.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            pad(c, s, "", false)
        }
        ('c', Arg::Int(v, _)) => pad(c, ((*v as u8) as char).to_string(), "", false),
        (conv, Arg::Int(v, _)) => {
            // C reads the argument at the length modifier's width: the low bits, signed
            // for d/i whatever the value's type (bpftrace: `%d` of `(uint64)-1` is -1,
            // `%x` of -1 is ffffffff, `%ld` of `(uint32)-1` is 4294967295).
            let bits = if conv == 'p' { 64 } else { u32::from(c.bits) };
            let low = if bits >= 64 {
                *v
            } else {
                *v & ((1u64 << bits) - 1)
            };
            let (neg, mag) = if matches!(conv, 'd' | 'i') {
                let shift = 64 - bits;
                let sv = ((low << shift) as i64) >> shift;
                (sv < 0, sv.unsigned_abs())
            } else {
                (false, low)
            };
            let mut digits = match conv {
                'x' | 'p' => format!("{mag:x}"),
                'X' => format!("{mag:X}"),
                'o' => format!("{mag:o}"),
                _ => mag.to_string(),
            };
            if let Some(p) = c.precision {
                if digits.len() < p {
                    digits = format!("{}{digits}", "0".repeat(p - digits.len()));
                }
                if p == 0 && mag == 0 {
                    digits.clear();
                }
            }
            let prefix = if neg {
                "-"
            } else if matches!(conv, 'd' | 'i') && c.plus {
                "+"
            } else if matches!(conv, 'd' | 'i') && c.space {
                " "
            } else if conv == 'p' || (c.alt && mag != 0 && matches!(conv, 'x' | 'X')) {
                if conv == 'X' {
                    "0X"
                } else {
                    "0x"
                }
            } else if c.alt && conv == 'o' && !digits.starts_with('0') {
                "0"
            } else {
                ""
            };
            pad(c, digits, prefix, true)
        }
        (_, Arg::Str(s)) => pad(c, s.clone(), "", false),
    }
}

/// Formats a whole printf.
pub fn format(spec: &PrintfSpec, args: &[Arg]) -> String {
    let mut out = String::new();
    let mut i = 0;
    for seg in &spec.segments {
        match seg {
            Segment::Lit(s) => out.push_str(s),
            Segment::Conv(c) => {
                if let Some(a) = args.get(i) {
                    out.push_str(&format_conv(c, a));
                }
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_widths_and_precisions_are_errors_not_overflows() {
        // Found by the trace_lang fuzz target (fuzz/regressions/trace_lang/): a width of 30
        // digits overflowed usize.
        let e = parse_format("%3333333333333333333333333333u").unwrap_err();
        assert_eq!(e, "the width of a conversion is larger than 4096");
        let e = parse_format("%.99999s").unwrap_err();
        assert_eq!(e, "the precision of a conversion is larger than 4096");
        let limits: Vec<(usize, Option<usize>, char)> = parse_format("%4096d %.4096s")
            .unwrap()
            .into_iter()
            .filter_map(|s| match s {
                Segment::Conv(c) => Some((c.width, c.precision, c.conv)),
                Segment::Lit(_) => None,
            })
            .collect();
        assert_eq!(limits, [(4096, None, 'd'), (0, Some(4096), 's')]);
    }

    fn f(fmt: &str, args: &[Arg]) -> String {
        let segments = parse_format(fmt).unwrap();
        format(
            &PrintfSpec {
                segments,
                args: vec![],
            },
            args,
        )
    }

    #[test]
    fn conversions_match_c() {
        use Arg::*;
        assert_eq!(
            f(
                "%d|%5d|%-5d|%05d",
                &[
                    Int(-3i64 as u64, true),
                    Int(42, true),
                    Int(42, true),
                    Int(42, true)
                ]
            ),
            "-3|   42|42   |00042"
        );
        assert_eq!(
            f(
                "%u %x %X %#x %o %llu %lx",
                &[
                    Int(10, false),
                    Int(255, false),
                    Int(255, false),
                    Int(255, false),
                    Int(8, false),
                    Int(7, false),
                    Int(16, false)
                ]
            ),
            "10 ff FF 0xff 10 7 10"
        );
        assert_eq!(
            f(
                "[%s] [%-6s] [%6s] [%.2s] 100%%",
                &[
                    Str("ab".into()),
                    Str("ab".into()),
                    Str("ab".into()),
                    Str("abc".into())
                ]
            ),
            "[ab] [ab    ] [    ab] [ab] 100%"
        );
        assert_eq!(f("%c%c", &[Int(104, false), Int(105, false)]), "hi");
    }

    /// What bpftrace 0.17 printed for `printf("[%d]", v)` and friends: C's length
    /// modifiers pick the integer's width whatever the value's type.
    #[test]
    fn length_modifiers_read_the_integer_as_c_does() {
        use Arg::*;
        let big = Int(0x1_0000_0001, false);
        let minus1 = Int(u64::MAX, true);
        let u64_minus1 = Int(u64::MAX, false);
        let u32_minus1 = Int(0xffff_ffff, false);
        let x1ffff = Int(0x1ffff, false);
        let cases: [(&str, &Arg, &str); 16] = [
            ("%d", &big, "1"),
            ("%x", &minus1, "ffffffff"),
            ("%u", &minus1, "4294967295"),
            ("%X", &Int(-2i64 as u64, true), "FFFFFFFE"),
            ("%o", &minus1, "37777777777"),
            ("%ld", &big, "4294967297"),
            ("%lx", &minus1, "ffffffffffffffff"),
            ("%lu", &minus1, "18446744073709551615"),
            ("%hd", &x1ffff, "-1"),
            ("%hu", &minus1, "65535"),
            ("%hhx", &x1ffff, "ff"),
            ("%lld", &big, "4294967297"),
            ("%zu", &big, "4294967297"),
            ("%d", &u64_minus1, "-1"),
            ("%ld", &u32_minus1, "4294967295"),
            ("%p", &big, "0x100000001"),
        ];
        for (fmt, arg, want) in cases {
            assert_eq!(f(fmt, std::slice::from_ref(arg)), want, "{fmt}");
        }
        assert_eq!(
            f("%-4hhd|%5d", &[Int(-3i64 as u64, true), u64_minus1]),
            "-3  |   -1"
        );
    }

    #[test]
    fn bad_conversions_are_errors() {
        assert_eq!(parse_format("%q").unwrap_err(), "unknown conversion '%q'");
        assert!(parse_format("abc %").is_err());
    }
}
