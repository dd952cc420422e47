//! What bpftrace prints: maps at exit or on `print()` (values sorted, histograms with
//! ASCII bars, stats), printf lines, in text or `-f json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::format::c_string;
use crate::symbols::Stacks;
use crate::types::{MapInfo, MapKind, Ty};

/// Output format (`-f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// bpftrace's text.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The "Attaching N probes..." line.
pub fn attached(n: usize, f: OutputFormat) -> String {
    match f {
        OutputFormat::Text => {
            format!("Attaching {n} probe{}...\n", if n == 1 { "" } else { "s" })
        }
        OutputFormat::Json => {
            format!("{{\"type\": \"attached_probes\", \"data\": {{\"probes\": {n}}}}}\n")
        }
    }
}

/// bpftrace's notice of records the ring buffer had no room for.
pub fn lost_events(n: u64, f: OutputFormat) -> String {
    match f {
        OutputFormat::Text => format!("Lost {n} events\n"),
        OutputFormat::Json => {
            format!("{{\"type\": \"lost_events\", \"data\": {{\"events\": {n}}}}}\n")
        }
    }
}

/// A printf's text as printed.
pub fn printf(text: &str, f: OutputFormat) -> String {
    match f {
        OutputFormat::Text => text.to_string(),
        OutputFormat::Json => format!("{{\"type\": \"printf\", \"data\": {}}}\n", json_str(text)),
    }
}

/// `time()`'s text as printed: as it is (text), or a `time` record (JSON), as bpftrace
/// prints it (`{"type": "time", "data": "15:04:05\n"}`).
pub fn time(text: &str, f: OutputFormat) -> String {
    match f {
        OutputFormat::Text => text.to_string(),
        OutputFormat::Json => format!("{{\"type\": \"time\", \"data\": {}}}\n", json_str(text)),
    }
}

/// A file's text printed by `cat()`: as it is (text), or a `cat` record (JSON).
pub fn cat(text: &str, f: OutputFormat) -> String {
    match f {
        OutputFormat::Text => text.to_string(),
        OutputFormat::Json => format!("{{\"type\": \"cat\", \"data\": {}}}\n", json_str(text)),
    }
}

/// A `join()` line as printed.
pub fn join(text: &str, f: OutputFormat) -> String {
    match f {
        OutputFormat::Text => format!("{text}\n"),
        OutputFormat::Json => format!("{{\"type\": \"join\", \"data\": {}}}\n", json_str(text)),
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_ne_bytes(a)
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KeyPart {
    Int(i128),
    Str(String),
}

fn decode_key(info: &MapInfo, key: &[u8], stacks: Stacks<'_>) -> Vec<KeyPart> {
    let mut out = vec![];
    let mut at = 0;
    for t in &info.keys {
        match t {
            Ty::Int { signed } => {
                let v = u64_at(key, at);
                out.push(KeyPart::Int(if *signed {
                    v as i64 as i128
                } else {
                    v as i128
                }));
                at += 8;
            }
            Ty::Str(n) => {
                out.push(KeyPart::Str(c_string(
                    key.get(at..at + *n as usize).unwrap_or(&[]),
                )));
                at += *n as usize;
            }
            Ty::Ksym
            | Ty::Kstack(..)
            | Ty::Ustack(..)
            | Ty::Usym
            | Ty::Inet
            | Ty::Buf(_)
            | Ty::Time(_) => {
                let n = t.size() as usize;
                let bytes = key.get(at..at + n).unwrap_or(&[]);
                out.push(KeyPart::Str(
                    t.symbolize(bytes, 4, stacks).unwrap_or_default(),
                ));
                at += n;
            }
        }
    }
    out
}

fn key_text(name: &str, key: &[KeyPart]) -> String {
    if key.is_empty() {
        return name.to_string();
    }
    let parts: Vec<String> = key
        .iter()
        .map(|k| match k {
            KeyPart::Int(v) => v.to_string(),
            KeyPart::Str(s) => s.clone(),
        })
        .collect();
    format!("{name}[{}]", parts.join(", "))
}

fn key_json(key: &[KeyPart]) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|k| match k {
            KeyPart::Int(v) => v.to_string(),
            KeyPart::Str(s) => s.clone(),
        })
        .collect();
    json_str(&parts.join(","))
}

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Int(i128),
    Str(String),
    Stats { count: u64, total: i128 },
    Hist(BTreeMap<u64, u64>),
}

impl Value {
    fn sort_key(&self) -> i128 {
        match self {
            Value::Int(v) => *v,
            Value::Str(_) => 0,
            Value::Stats { count, total } => avg(*count, *total),
            Value::Hist(b) => b.values().map(|&c| c as i128).sum(),
        }
    }
}

fn avg(count: u64, total: i128) -> i128 {
    if count == 0 {
        0
    } else {
        total / count as i128
    }
}

fn int_value(v: u64, signed: bool) -> i128 {
    if signed {
        v as i64 as i128
    } else {
        v as i128
    }
}

/// Decodes raw `(key, value)` elements of `info` into sorted entries as bpftrace orders
/// them: by value (count, sum, ...), by average (avg, stats), by total count (histograms).
fn entries(
    info: &MapInfo,
    raw: &[(Vec<u8>, Vec<u8>)],
    stacks: Stacks<'_>,
) -> Vec<(Vec<KeyPart>, Value)> {
    let mut out: Vec<(Vec<KeyPart>, Value)> = vec![];
    if info.kind.is_histogram() {
        let user = info.user_key_size() as usize;
        let mut groups: BTreeMap<Vec<u8>, BTreeMap<u64, u64>> = BTreeMap::new();
        for (k, v) in raw {
            let bucket = u64_at(k, user);
            *groups
                .entry(k[..user.min(k.len())].to_vec())
                .or_default()
                .entry(bucket)
                .or_default() += u64_at(v, 0);
        }
        for (k, b) in groups {
            out.push((decode_key(info, &k, stacks), Value::Hist(b)));
        }
    } else {
        for (k, v) in raw {
            let value = match info.kind {
                MapKind::Str(_) => Value::Str(c_string(v)),
                MapKind::Sym(t) => Value::Str(t.symbolize(v, 8, stacks).unwrap_or_default()),
                MapKind::Avg { signed } | MapKind::Stats { signed } => Value::Stats {
                    count: u64_at(v, 0),
                    total: int_value(u64_at(v, 8), signed),
                },
                MapKind::Count => Value::Int(u64_at(v, 0) as i128),
                MapKind::Int { signed }
                | MapKind::Sum { signed }
                | MapKind::Min { signed }
                | MapKind::Max { signed } => Value::Int(int_value(u64_at(v, 0), signed)),
                MapKind::Hist | MapKind::Lhist { .. } => continue,
            };
            out.push((decode_key(info, k, stacks), value));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if !matches!(info.kind, MapKind::Str(_) | MapKind::Sym(_)) {
        out.sort_by_key(|e| e.1.sort_key());
    }
    out
}

/// A histogram bucket's bounds: `(min, max)` inclusive; `None` for open ends.
fn bucket_bounds(kind: MapKind, index: u64) -> (Option<i128>, Option<i128>) {
    match kind {
        MapKind::Lhist { min, max, step } => {
            let nb = ((max - min) / step) as u64;
            if index == 0 {
                (None, Some(min as i128 - 1))
            } else if index > nb {
                (Some(max as i128), None)
            } else {
                let lo = min as i128 + (index as i128 - 1) * step as i128;
                (Some(lo), Some(lo + step as i128 - 1))
            }
        }
        _ => match index {
            0 => (None, Some(-1)),
            1 => (Some(0), Some(0)),
            i => {
                let lo = 1i128 << (i - 2);
                (Some(lo), Some(2 * lo - 1))
            }
        },
    }
}

fn suffixed(n: i128) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    let mut unit = None;
    let mut v = n;
    for u in UNITS {
        if v != 0 && v % 1024 == 0 {
            v /= 1024;
            unit = Some(u);
        } else {
            break;
        }
    }
    match unit {
        Some(u) => format!("{v}{u}"),
        None => n.to_string(),
    }
}

fn bucket_label(kind: MapKind, index: u64) -> String {
    let lhist = matches!(kind, MapKind::Lhist { .. });
    let num = |n: i128| if lhist { n.to_string() } else { suffixed(n) };
    match bucket_bounds(kind, index) {
        (None, Some(hi)) => format!("(..., {})", num(hi + 1)),
        (Some(lo), None) => format!("[{}, ...)", num(lo)),
        (Some(lo), Some(hi)) if lo == hi && !lhist => format!("[{}]", num(lo)),
        (Some(lo), Some(hi)) => format!("[{}, {})", num(lo), num(hi + 1)),
        (None, None) => String::new(),
    }
}

/// bpftrace's hist/lhist text; `div` (`print(@h, top, div)`, 0 or 1: none) divides the
/// printed counts but not the bars, which stay scaled to the undivided counts as in bpftrace.
fn hist_text(kind: MapKind, buckets: &BTreeMap<u64, u64>, div: u64, out: &mut String) {
    let nonzero: Vec<u64> = buckets
        .iter()
        .filter(|(_, &c)| c > 0)
        .map(|(&i, _)| i)
        .collect();
    let (Some(&first), Some(&last)) = (nonzero.first(), nonzero.last()) else {
        return;
    };
    let max = buckets.values().copied().max().unwrap_or(1).max(1);
    for i in first..=last {
        let c = buckets.get(&i).copied().unwrap_or(0);
        let bar = (c as u128 * 52 / max as u128) as usize;
        let _ = writeln!(
            out,
            "{:<16}{:>8} |{:<52}|",
            bucket_label(kind, i),
            c / div.max(1),
            "@".repeat(bar)
        );
    }
}

fn hist_json(kind: MapKind, buckets: &BTreeMap<u64, u64>) -> String {
    let nonzero: Vec<u64> = buckets
        .iter()
        .filter(|(_, &c)| c > 0)
        .map(|(&i, _)| i)
        .collect();
    let (Some(&first), Some(&last)) = (nonzero.first(), nonzero.last()) else {
        return "[]".into();
    };
    let items: Vec<String> = (first..=last)
        .map(|i| {
            let c = buckets.get(&i).copied().unwrap_or(0);
            match bucket_bounds(kind, i) {
                (Some(lo), Some(hi)) => format!("{{\"min\": {lo}, \"max\": {hi}, \"count\": {c}}}"),
                (None, Some(hi)) => format!("{{\"max\": {hi}, \"count\": {c}}}"),
                (Some(lo), None) => format!("{{\"min\": {lo}, \"count\": {c}}}"),
                (None, None) => format!("{{\"count\": {c}}}"),
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Renders one map as bpftrace prints it at exit or on `print(@map)` (stack keys read from
/// `stacks`).
pub fn map(
    info: &MapInfo,
    raw: &[(Vec<u8>, Vec<u8>)],
    f: OutputFormat,
    stacks: Stacks<'_>,
) -> String {
    map_top(info, raw, f, 0, 0, stacks)
}

/// [`map`] for `print(@map, top, div)`: only the `top` largest entries (0: all), values
/// divided by `div` (0: not divided).
pub fn map_top(
    info: &MapInfo,
    raw: &[(Vec<u8>, Vec<u8>)],
    f: OutputFormat,
    top: usize,
    div: u64,
    stacks: Stacks<'_>,
) -> String {
    let mut entries = entries(info, raw, stacks);
    if top > 0 && entries.len() > top {
        entries.drain(..entries.len() - top);
    }
    // bpftrace divides plain values and averages; stats lines and hist counts (below)
    // are printed as bpftrace does: stats undivided, hist counts divided.
    let avg_div = if matches!(info.kind, MapKind::Avg { .. }) {
        div.max(1) as i128
    } else {
        1
    };
    if div > 1 {
        for (_, v) in &mut entries {
            if let Value::Int(n) = v {
                *n /= div as i128;
            }
        }
    }
    let mut out = String::new();
    match f {
        OutputFormat::Text => {
            if entries.is_empty() {
                // What bpftrace prints for a map nothing was stored in.
                match info.kind {
                    MapKind::Count if info.keys.is_empty() => {
                        let _ = writeln!(out, "{}: 0", info.name);
                    }
                    MapKind::Avg { .. } | MapKind::Stats { .. } => out.push_str("\n\n"),
                    _ => out.push('\n'),
                }
                return out;
            }
            for (k, v) in &entries {
                let name = key_text(&info.name, k);
                match v {
                    Value::Int(n) => {
                        let _ = writeln!(out, "{name}: {n}");
                    }
                    Value::Str(s) => {
                        let _ = writeln!(out, "{name}: {s}");
                    }
                    Value::Stats { count, total } => {
                        if matches!(info.kind, MapKind::Stats { .. }) {
                            let _ = writeln!(
                                out,
                                "{name}: count {count}, average {}, total {total}",
                                avg(*count, *total)
                            );
                        } else {
                            let _ = writeln!(out, "{name}: {}", avg(*count, *total) / avg_div);
                        }
                    }
                    Value::Hist(b) => {
                        let _ = writeln!(out, "{name}: ");
                        hist_text(info.kind, b, div, &mut out);
                        out.push('\n');
                    }
                }
            }
            if matches!(info.kind, MapKind::Avg { .. } | MapKind::Stats { .. }) {
                out.push('\n');
            }
        }
        OutputFormat::Json => {
            let kind = match info.kind {
                MapKind::Hist | MapKind::Lhist { .. } => "hist",
                MapKind::Avg { .. } | MapKind::Stats { .. } => "stats",
                _ => "map",
            };
            let value_json = |v: &Value| match v {
                Value::Int(n) => n.to_string(),
                Value::Str(s) => json_str(s),
                Value::Stats { count, total } => {
                    if matches!(info.kind, MapKind::Stats { .. }) {
                        format!(
                            "{{\"count\": {count}, \"average\": {}, \"total\": {total}}}",
                            avg(*count, *total)
                        )
                    } else {
                        (avg(*count, *total) / avg_div).to_string()
                    }
                }
                Value::Hist(b) => hist_json(info.kind, b),
            };
            let data = if info.keys.is_empty() {
                entries
                    .first()
                    .map_or_else(|| "null".into(), |(_, v)| value_json(v))
            } else {
                let items: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", key_json(k), value_json(v)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            };
            let _ = writeln!(
                out,
                "{{\"type\": \"{kind}\", \"data\": {{{}: {data}}}}}",
                json_str(&info.name)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: u64, v: u64) -> (Vec<u8>, Vec<u8>) {
        (k.to_ne_bytes().to_vec(), v.to_ne_bytes().to_vec())
    }

    fn hist_elem(bucket: u64, count: u64) -> (Vec<u8>, Vec<u8>) {
        let mut k = 0u64.to_ne_bytes().to_vec();
        k.extend(bucket.to_ne_bytes());
        (k, count.to_ne_bytes().to_vec())
    }

    #[test]
    fn counts_sort_by_value() {
        let info = MapInfo {
            name: "@c".into(),
            keys: vec![Ty::Int { signed: true }],
            kind: MapKind::Count,
        };
        assert_eq!(
            map(
                &info,
                &[e(2, 5), e(1, 7), e(3, 1)],
                OutputFormat::Text,
                None
            ),
            "@c[3]: 1\n@c[2]: 5\n@c[1]: 7\n"
        );
        assert_eq!(
            map(&info, &[e(2, 5)], OutputFormat::Json, None),
            "{\"type\": \"map\", \"data\": {\"@c\": {\"2\": 5}}}\n"
        );
    }

    #[test]
    fn hist_bars_and_labels_match_bpftrace() {
        let info = MapInfo {
            name: "@h".into(),
            keys: vec![],
            kind: MapKind::Hist,
        };
        // hist(3) once, hist(1500) twice: buckets [2, 4) and [1K, 2K).
        let text = map(
            &info,
            &[hist_elem(3, 1), hist_elem(12, 2)],
            OutputFormat::Text,
            None,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "@h: ");
        assert_eq!(
            lines[1],
            "[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |"
        );
        assert_eq!(
            lines[9],
            "[512, 1K)              0 |                                                    |"
        );
        assert_eq!(
            lines[10],
            "[1K, 2K)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        );
        assert_eq!(lines.len(), 12);
    }

    /// `print(@x, 10, 5)`, `print(@z, 10, 5)`, `print(@h, 10, 100)` as bpftrace 0.17 printed
    /// them for 7 `read()`s returning 2932 bytes in all: averages are divided, stats
    /// lines are not, hist counts are but their bars keep the undivided scale.
    #[test]
    fn print_div_matches_bpftrace() {
        let stats_elem = |count: u64, total: u64| {
            let mut v = count.to_ne_bytes().to_vec();
            v.extend(total.to_ne_bytes());
            (vec![], v)
        };
        let stats = MapInfo {
            name: "@x".into(),
            keys: vec![],
            kind: MapKind::Stats { signed: true },
        };
        assert_eq!(
            map_top(
                &stats,
                &[stats_elem(7, 2932)],
                OutputFormat::Text,
                10,
                5,
                None
            ),
            "@x: count 7, average 418, total 2932\n\n"
        );
        let avg = MapInfo {
            name: "@z".into(),
            keys: vec![],
            kind: MapKind::Avg { signed: true },
        };
        assert_eq!(
            map_top(
                &avg,
                &[stats_elem(7, 2932)],
                OutputFormat::Text,
                10,
                5,
                None
            ),
            "@z: 83\n\n"
        );
        assert_eq!(
            map_top(&avg, &[stats_elem(7, 2932)], OutputFormat::Text, 0, 0, None),
            "@z: 418\n\n"
        );
        let max = MapInfo {
            name: "@m".into(),
            keys: vec![],
            kind: MapKind::Max { signed: true },
        };
        assert_eq!(
            map_top(
                &max,
                &[(vec![], 832u64.to_ne_bytes().to_vec())],
                OutputFormat::Text,
                0,
                7,
                None
            ),
            "@m: 118\n"
        );
        let hist = MapInfo {
            name: "@h".into(),
            keys: vec![],
            kind: MapKind::Hist,
        };
        let raw = [
            hist_elem(8, 1),
            hist_elem(9, 1),
            hist_elem(10, 3),
            hist_elem(11, 2),
        ];
        assert_eq!(
            map_top(&hist, &raw, OutputFormat::Text, 10, 100, None),
            "@h: \n\
             [64, 128)              0 |@@@@@@@@@@@@@@@@@                                   |\n\
             [128, 256)             0 |@@@@@@@@@@@@@@@@@                                   |\n\
             [256, 512)             0 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
             [512, 1K)              0 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |\n\n"
        );
    }

    /// bpftrace 0.17's `-f json` record for `time("%Y\n")`.
    #[test]
    fn time_records_in_json() {
        assert_eq!(
            time("2026\n", OutputFormat::Json),
            "{\"type\": \"time\", \"data\": \"2026\\n\"}\n"
        );
        assert_eq!(time("15:04\n", OutputFormat::Text), "15:04\n");
    }

    #[test]
    fn lhist_open_ends() {
        let kind = MapKind::Lhist {
            min: 0,
            max: 100,
            step: 10,
        };
        assert_eq!(bucket_label(kind, 0), "(..., 0)");
        assert_eq!(bucket_label(kind, 6), "[50, 60)");
        assert_eq!(bucket_label(kind, 11), "[100, ...)");
        assert_eq!(bucket_label(MapKind::Hist, 0), "(..., 0)");
        assert_eq!(bucket_label(MapKind::Hist, 2), "[1]");
        assert_eq!(bucket_label(MapKind::Hist, 22), "[1M, 2M)");
    }
}
