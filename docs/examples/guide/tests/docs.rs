//! The guide (`docs/`) cannot drift from compiled code: every `{{#include}}` in its Markdown
//! names an existing file and, when it names one, an anchor that file opens and closes;
//! every ```rust block is made of includes only (no free-standing Rust); `SUMMARY.md`
//! lists exactly the chapters there are; and every relative link between chapters (or to a
//! file of the repository) points at a file that exists. That is what `mdbook build` checks
//! (and a little more), without installing mdbook: CI builds no HTML.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.md` file under `docs/src`, sorted.
fn chapters() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(docs_dir().join("src"))
        .expect("read docs/src")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

/// An `{{#include path[:anchor]}}` directive.
#[derive(Debug)]
struct Include {
    path: String,
    anchor: Option<String>,
}

/// The include directives on `line` (mdBook's syntax: `{{#include path:anchor}}`).
fn includes_on(line: &str) -> Vec<Include> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{#include ") {
        let after = &rest[start + "{{#include ".len()..];
        let Some(end) = after.find("}}") else { break };
        let target = after[..end].trim();
        let (path, anchor) = match target.split_once(':') {
            Some((p, a)) => (p.to_string(), Some(a.to_string())),
            None => (target.to_string(), None),
        };
        out.push(Include { path, anchor });
        rest = &after[end + 2..];
    }
    out
}

/// Problems with one include from `chapter`, or none.
fn check_include(chapter: &Path, include: &Include) -> Option<String> {
    let file = chapter.parent().expect("docs/src").join(&include.path);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Some(format!("{}: no file {}", chapter.display(), include.path));
    };
    let anchor = include.anchor.as_ref()?;
    if anchor.chars().all(|c| c.is_ascii_digit()) || anchor.is_empty() {
        return Some(format!(
            "{}: {} uses a line number, not an anchor",
            chapter.display(),
            include.path
        ));
    }
    let opens = text
        .lines()
        .filter(|l| l.trim_end().ends_with(&format!("ANCHOR: {anchor}")))
        .count();
    let closes = text
        .lines()
        .filter(|l| l.trim_end().ends_with(&format!("ANCHOR_END: {anchor}")))
        .count();
    (opens != 1 || closes != 1).then(|| {
        format!(
            "{}: {}:{anchor} opens {opens} and closes {closes} times (want 1 and 1)",
            chapter.display(),
            include.path
        )
    })
}

#[test]
fn every_include_resolves_and_every_rust_block_is_an_include() {
    let mut problems = Vec::new();
    let mut included = 0;
    for chapter in chapters() {
        let text = std::fs::read_to_string(&chapter).expect("read chapter");
        let mut fence: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if let Some(info) = trimmed.strip_prefix("```") {
                fence = match fence {
                    None => Some(info.trim().to_string()),
                    Some(_) => None,
                };
                continue;
            }
            for include in includes_on(line) {
                included += 1;
                problems.extend(check_include(&chapter, &include));
            }
            let in_rust = fence.as_deref().is_some_and(|info| {
                info.split(',')
                    .next()
                    .is_some_and(|lang| lang.trim() == "rust")
            });
            if in_rust && !trimmed.is_empty() && !trimmed.starts_with("{{#include ") {
                problems.push(format!(
                    "{}:{}: free-standing Rust in a ```rust block (include it from docs/examples): {line}",
                    chapter.display(),
                    n + 1
                ));
            }
        }
        if fence.is_some() {
            problems.push(format!("{}: unclosed code block", chapter.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        included >= 30,
        "only {included} includes: did the guide lose its samples?"
    );
}

#[test]
fn summary_lists_every_chapter() {
    let summary = std::fs::read_to_string(docs_dir().join("src/SUMMARY.md")).expect("SUMMARY");
    let linked: BTreeSet<String> = summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_string)
        .collect();
    let present: BTreeSet<String> = chapters()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .filter(|name| name != "SUMMARY.md")
        .collect();
    assert_eq!(linked, present);
    assert!(docs_dir().join("book.toml").is_file());
}

/// The relative link targets (`](path)` or `](path#anchor)`, not URLs or bare anchors) on
/// `line`, without their anchors.
fn relative_links_on(line: &str) -> Vec<String> {
    line.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|target| {
            target
                .split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .filter(|target| !target.is_empty() && !target.contains("://"))
        .filter(|target| !target.starts_with("mailto:"))
        .collect()
}

#[test]
fn every_relative_link_resolves() {
    let mut problems = Vec::new();
    let mut links = 0;
    for chapter in chapters() {
        let text = std::fs::read_to_string(&chapter).expect("read chapter");
        let mut in_code = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            for target in relative_links_on(line) {
                links += 1;
                let file = chapter.parent().expect("docs/src").join(&target);
                if !file.exists() {
                    problems.push(format!(
                        "{}:{}: link to {target}, which does not exist",
                        chapter.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        links >= 10,
        "only {links} relative links: is SUMMARY.md read?"
    );
}

#[test]
fn the_checker_refuses_what_it_should() {
    let here = docs_dir().join("src/hello.md");
    let found =
        includes_on("a {{#include ../examples/guide/src/lib.rs:skel_mod}} b {{#include x.rs}}");
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].anchor.as_deref(), Some("skel_mod"));
    assert!(check_include(&here, &found[0]).is_none());
    assert!(check_include(&here, &found[1]).is_some(), "missing file");
    let missing_anchor = Include {
        path: "../examples/guide/src/lib.rs".into(),
        anchor: Some("no_such_anchor".into()),
    };
    assert!(check_include(&here, &missing_anchor).is_some());
    let line_range = Include {
        path: "../examples/guide/src/lib.rs".into(),
        anchor: Some("3".into()),
    };
    assert!(check_include(&here, &line_range).is_some());
    assert_eq!(
        relative_links_on("see [Maps](maps.md#typed), [x](https://x.org) and [y](#here)"),
        ["maps.md"]
    );
}
