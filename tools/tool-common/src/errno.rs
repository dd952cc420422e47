//! errno names (`ENOENT`…), generated from `<asm-generic/errno*.h>` (the same on x86_64 and
//! aarch64).

use crate::tables::ERRNOS;

/// The name of errno `value` (positive).
///
/// ```
/// assert_eq!(tool_common::errno::name(2), Some("ENOENT"));
/// ```
pub fn name(value: u32) -> Option<&'static str> {
    ERRNOS
        .binary_search_by_key(&value, |(n, _)| *n)
        .ok()
        .map(|i| ERRNOS[i].1)
}

/// The name of errno `value`, or the number when it has none.
pub fn name_or_number(value: u32) -> String {
    name(value).map_or_else(|| value.to_string(), str::to_owned)
}

/// The errno given by name (`ENOENT`) or number.
pub fn parse(text: &str) -> Option<u32> {
    text.parse().ok().or_else(|| {
        ERRNOS
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(text))
            .map(|(value, _)| *value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_libc_values() {
        assert_eq!(name(libc::ENOENT as u32), Some("ENOENT"));
        assert_eq!(name(libc::EACCES as u32), Some("EACCES"));
        assert_eq!(name(libc::EAGAIN as u32), Some("EAGAIN"));
        assert_eq!(name(libc::ENOTSUP as u32), Some("EOPNOTSUPP"));
        assert_eq!(parse("enoent"), Some(2));
        assert_eq!(parse("13"), Some(13));
        assert_eq!(name_or_number(9999), "9999");
    }
}
