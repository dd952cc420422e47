//! Tracepoint record formats from tracefs (`events/<category>/<name>/format`): the kernel
//! sides hard-code field offsets, and tests check them against the running kernel here.

use std::path::PathBuf;

/// Where tracefs is mounted (`/sys/kernel/tracing`, or the debugfs path), if it is.
pub fn root() -> Option<PathBuf> {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("events").is_dir())
}

/// A field of a tracepoint record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its C declaration, e.g. `const char * filename`.
    pub declaration: String,
    /// Byte offset in the record.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// Parses a `format` file's `field:` lines.
pub fn parse_format(text: &str) -> Vec<Field> {
    text.lines()
        .filter_map(|line| {
            let mut declaration = None;
            let mut offset = None;
            let mut size = None;
            for part in line.trim().split(';') {
                let part = part.trim();
                if let Some(d) = part.strip_prefix("field:") {
                    declaration = Some(d.trim().to_owned());
                } else if let Some(o) = part.strip_prefix("offset:") {
                    offset = o.parse().ok();
                } else if let Some(s) = part.strip_prefix("size:") {
                    size = s.parse().ok();
                }
            }
            Some(Field {
                declaration: declaration?,
                offset: offset?,
                size: size?,
            })
        })
        .collect()
}

/// The field called `name` of tracepoint `category/event` in the running kernel (matched
/// on the last identifier of the declaration, array brackets removed).
pub fn field(category: &str, event: &str, name: &str) -> Result<Field, String> {
    let root =
        root().ok_or("tracefs is not mounted (mount -t tracefs none /sys/kernel/tracing)")?;
    let path = root
        .join("events")
        .join(category)
        .join(event)
        .join("format");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_format(&text)
        .into_iter()
        .find(|f| {
            let last = f.declaration.rsplit([' ', '*']).next().unwrap_or("");
            last.split('[').next() == Some(name)
        })
        .ok_or_else(|| format!("{}: no field {name}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_field_lines() {
        let text = "name: x\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
                    \tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;\n\nprint fmt: \"\"\n";
        let fields = parse_format(text);
        assert_eq!(fields.len(), 2);
        assert_eq!(
            fields[1],
            Field {
                declaration: "__u8 saddr[4]".into(),
                offset: 32,
                size: 4
            }
        );
    }
}
