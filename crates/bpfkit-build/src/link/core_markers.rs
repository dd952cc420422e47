//! The CO-RE seam: where calls to `bpfcore$…` marker externs are found in the linked
//! module, before `opt`, to be replaced by LLVM's preserve-access-index intrinsics.
//!
//! The marker API (PIPELINE.md, "CO-RE from Rust programs") is a later issue. Until it
//! lands, this pass finds the markers a program uses and refuses them by name, so a program
//! never loads with a CO-RE access silently turned into a fixed offset.

/// The prefix of every CO-RE marker extern.
pub const MARKER_PREFIX: &str = "bpfcore$";

/// True when the linked bitcode mentions a CO-RE marker; symbol names are stored verbatim
/// in bitcode's string table, so this avoids disassembling programs without markers.
pub fn bitcode_mentions_markers(bitcode: &[u8]) -> bool {
    bitcode
        .windows(MARKER_PREFIX.len())
        .any(|w| w == MARKER_PREFIX.as_bytes())
}

/// The distinct markers declared in textual IR (`declare … @"bpfcore$field$task_struct$tgid"(…)`).
pub fn declared_markers(ir: &str) -> Vec<String> {
    let mut markers: Vec<String> = ir
        .lines()
        .filter(|l| l.starts_with("declare "))
        .filter_map(|l| {
            let at = l.find(MARKER_PREFIX)?;
            let end = l[at..].find(['"', '('])?;
            Some(l[at..at + end].to_string())
        })
        .collect();
    markers.sort();
    markers.dedup();
    markers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_declared_markers_once_each() {
        let ir = "declare ptr @\"bpfcore$field$task_struct$tgid\"(ptr)\n\
                  declare i32 @\"bpfcore$exists$task_struct$pid\"(ptr)\n\
                  define i32 @p() {\n  ret i32 0\n}\n";
        assert_eq!(
            declared_markers(ir),
            [
                "bpfcore$exists$task_struct$pid",
                "bpfcore$field$task_struct$tgid"
            ]
        );
        assert!(bitcode_mentions_markers(b"\x42\x43bpfcore$field$x"));
        assert!(!bitcode_mentions_markers(b"\x42\x43count"));
    }
}
