//! Value types, map kinds and the userspace-visible layout of maps and events.

use crate::format::PrintfSpec;
use crate::probes::Probe;
use bpfkit_obj::insn::Insn;

/// Length of the buffer `str()` reads into (bpftrace's default `strlen`).
pub const STR_LEN: u16 = 64;

/// Arguments `join()` reads (bpftrace's default `join_argnum`).
pub const JOIN_ARGS: u16 = 16;

/// Bytes of a `join()` record: the id and the argument strings.
pub const JOIN_RECORD: u32 = 8 + JOIN_ARGS as u32 * STR_LEN as u32;

/// The type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A 64-bit integer.
    Int {
        /// Signed.
        signed: bool,
    },
    /// A NUL-padded string in a buffer of this many bytes (a multiple of 8).
    Str(u16),
    /// A kernel address printed as its function's name (`ksym()`).
    Ksym,
    /// A kernel stack id in the stack trace map, printed as at most this many frames in
    /// this mode.
    Kstack(u8, StackMode),
    /// A user stack: its id in the stack trace map (8 bytes) and the process id (8 bytes),
    /// printed as at most this many frames in this mode.
    Ustack(u8, StackMode),
    /// `usym()`: a user address (8 bytes) and the process id (8 bytes), printed as its
    /// function's name.
    Usym,
    /// `ntop()`: an address family (8 bytes) and 16 address bytes, printed as an IPv4 or
    /// IPv6 address.
    Inet,
    /// `buf()`: a length (8 bytes) and up to this many bytes, printed hex-escaped.
    Buf(u16),
    /// `strftime(fmt, ns)` as a printf argument: nanoseconds since boot (8 bytes), printed
    /// as local time in the format `CompiledProgram::time_formats[index]`.
    Time(u16),
}

/// How `kstack`/`ustack` frames print (their optional first argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackMode {
    /// `bpftrace` (the default): `name+offset`, indented like the value.
    Bpftrace,
    /// `perf`: a tab, the address in hex, `name+offset`, and for user frames the mapped
    /// file in parentheses, as `perf script` prints them.
    Perf,
}

impl Ty {
    /// Bytes the value takes in keys, values and events.
    pub fn size(self) -> u16 {
        match self {
            Ty::Str(n) => n,
            Ty::Int { .. } | Ty::Ksym | Ty::Kstack(..) | Ty::Time(_) => 8,
            Ty::Ustack(..) | Ty::Usym => 16,
            Ty::Inet => 24,
            Ty::Buf(n) => 8 + n,
        }
    }

    /// How a symbolic value prints (map keys at `indent` 4, printf at 8, as bpftrace);
    /// stacks are read from `stacks`.
    pub fn symbolize(
        self,
        bytes: &[u8],
        indent: usize,
        stacks: crate::symbols::Stacks<'_>,
    ) -> Option<String> {
        let word = |at: usize| {
            let mut b = [0u8; 8];
            if let Some(s) = bytes.get(at..at + 8) {
                b.copy_from_slice(s);
            }
            u64::from_ne_bytes(b)
        };
        match self {
            Ty::Ksym => Some(crate::symbols::ksym(word(0))),
            Ty::Kstack(limit, mode) => {
                Some(crate::symbols::kstack(stacks, word(0), limit, mode, indent))
            }
            Ty::Ustack(limit, mode) => Some(crate::symbols::ustack(
                stacks,
                word(0),
                word(8) as u32,
                limit,
                mode,
                indent,
            )),
            Ty::Usym => Some(crate::symbols::usym(word(0), word(8) as u32)),
            Ty::Inet => {
                let addr = bytes.get(8..24)?;
                Some(match word(0) {
                    2 => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
                    10 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?).to_string(),
                    _ => String::new(),
                })
            }
            Ty::Buf(n) => {
                let len = (word(0) as usize).min(n as usize);
                let data = bytes.get(8..8 + len)?;
                // Printable ASCII as is, anything else as \xNN (bpftrace's buffer format).
                Some(data.iter().fold(String::new(), |mut s, &b| {
                    if (32..=126).contains(&b) {
                        s.push(b as char);
                    } else {
                        s.push_str(&format!("\\x{b:02x}"));
                    }
                    s
                }))
            }
            // A time is only a printf argument, formatted by `format::decode_args`.
            Ty::Int { .. } | Ty::Str(_) | Ty::Time(_) => None,
        }
    }
}

/// What a map holds, fixed by its first assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `@x = expr` with an integer.
    Int {
        /// Signed.
        signed: bool,
    },
    /// `@x = expr` with a string.
    Str(u16),
    /// `@x = kstack` and other symbolic values (`ustack`, `ksym()`, `usym()`, `ntop()`,
    /// `buf()`), printed as they print in map keys but indented as printf prints them.
    Sym(Ty),
    /// `count()`.
    Count,
    /// `sum(v)`.
    Sum {
        /// Signed.
        signed: bool,
    },
    /// `avg(v)`: count and total.
    Avg {
        /// Signed.
        signed: bool,
    },
    /// `min(v)`.
    Min {
        /// Signed.
        signed: bool,
    },
    /// `max(v)`.
    Max {
        /// Signed.
        signed: bool,
    },
    /// `stats(v)`: count and total.
    Stats {
        /// Signed.
        signed: bool,
    },
    /// `hist(v)`: one element per (key, log2 bucket).
    Hist,
    /// `lhist(v, min, max, step)`: one element per (key, linear bucket).
    Lhist {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
        /// Bucket width.
        step: i64,
    },
}

impl MapKind {
    /// The function name that makes it (for messages).
    pub fn describe(self) -> &'static str {
        match self {
            MapKind::Int { .. } => "an integer",
            MapKind::Str(_) => "a string",
            MapKind::Sym(_) => "a symbolic value (kstack, ustack, ksym(), ...)",
            MapKind::Count => "count()",
            MapKind::Sum { .. } => "sum()",
            MapKind::Avg { .. } => "avg()",
            MapKind::Min { .. } => "min()",
            MapKind::Max { .. } => "max()",
            MapKind::Stats { .. } => "stats()",
            MapKind::Hist => "hist()",
            MapKind::Lhist { .. } => "lhist()",
        }
    }

    /// Whether elements carry a bucket index after the key.
    pub fn is_histogram(self) -> bool {
        matches!(self, MapKind::Hist | MapKind::Lhist { .. })
    }

    /// Value bytes.
    pub fn value_size(self) -> u16 {
        match self {
            MapKind::Str(n) => n,
            MapKind::Sym(t) => t.size(),
            MapKind::Avg { .. } | MapKind::Stats { .. } => 16,
            _ => 8,
        }
    }
}

/// One map of the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// `@name`.
    pub name: String,
    /// Types of the key parts (empty: no key).
    pub keys: Vec<Ty>,
    /// What the values are.
    pub kind: MapKind,
}

impl MapInfo {
    /// Bytes of the user key (8 for a map without keys).
    pub fn user_key_size(&self) -> u16 {
        if self.keys.is_empty() {
            8
        } else {
            self.keys.iter().map(|t| t.size()).sum()
        }
    }

    /// Bytes of the BPF map key (user key plus the bucket of histograms).
    pub fn key_size(&self) -> u16 {
        self.user_key_size() + if self.kind.is_histogram() { 8 } else { 0 }
    }

    /// Element capacity of the BPF map.
    pub fn max_entries(&self) -> u32 {
        if self.kind.is_histogram() {
            4096 * 16
        } else {
            4096
        }
    }
}

/// Ids of the records the programs send to userspace: `kind << 32 | index`.
pub mod event {
    /// `printf` number `index`.
    pub const PRINTF: u64 = 1;
    /// `print(@map)`, index = map.
    pub const PRINT: u64 = 2;
    /// `clear(@map)`.
    pub const CLEAR: u64 = 3;
    /// `zero(@map)`.
    pub const ZERO: u64 = 4;
    /// `exit()`.
    pub const EXIT: u64 = 5;
    /// `time(fmt)`, index = format.
    pub const TIME: u64 = 6;
    /// `join(argv, delim)`, index = delimiter; then [`super::JOIN_ARGS`] strings of
    /// [`super::STR_LEN`] bytes.
    pub const JOIN: u64 = 7;
    /// `cat(fmt, args...)`: a printf record whose text is a path to print the file of.
    pub const CAT: u64 = 8;
}

/// One program for one concrete probe.
#[derive(Clone, Debug)]
pub struct CompiledProgram {
    /// The probe it runs at.
    pub probe: Probe,
    /// The instructions; map references hold the map index until load.
    pub insns: Vec<Insn>,
    /// `(slot, map index)` of every map reference.
    pub map_refs: Vec<(usize, u32)>,
    /// `(first slot, span)` of each statement, in slot order.
    pub spans: Vec<(usize, crate::diag::Span)>,
    /// First slot of each callback subprogram after the main one (`for` over a map); the
    /// program is loaded with BTF `func_info` for them.
    pub subprogs: Vec<usize>,
}

/// A whole compiled program.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// One program per concrete probe, in source order.
    pub programs: Vec<CompiledProgram>,
    /// The maps, by index; the event ring buffer is index `maps.len()`.
    pub maps: Vec<MapInfo>,
    /// printf formats by index.
    pub printfs: Vec<PrintfSpec>,
    /// `time()` strftime formats by index.
    pub time_formats: Vec<String>,
    /// `join()` delimiters by index.
    pub join_delims: Vec<String>,
}

impl Compiled {
    /// Index of the event ring buffer in map references.
    pub fn ringbuf_index(&self) -> u32 {
        self.maps.len() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_values_print_as_addresses() {
        let mut v6 = vec![0u8; 24];
        v6[0] = 10;
        v6[8..10].copy_from_slice(&[0xfe, 0x80]);
        v6[23] = 1;
        assert_eq!(Ty::Inet.symbolize(&v6, 0, None).unwrap(), "fe80::1");
        let mut mapped = vec![0u8; 24];
        mapped[0] = 10;
        mapped[18..24].copy_from_slice(&[0xff, 0xff, 127, 0, 0, 1]);
        assert_eq!(
            Ty::Inet.symbolize(&mapped, 0, None).unwrap(),
            "::ffff:127.0.0.1"
        );
        let mut v4 = vec![0u8; 24];
        v4[0] = 2;
        v4[8..12].copy_from_slice(&[192, 168, 1, 1]);
        assert_eq!(Ty::Inet.symbolize(&v4, 0, None).unwrap(), "192.168.1.1");
    }
}
