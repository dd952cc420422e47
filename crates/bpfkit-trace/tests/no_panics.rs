//! Bad input gives an error, never a panic: every prefix of real programs, and every
//! program with one byte removed, goes through the parser and the code generator.

use bpfkit_trace::{codegen, parser};

const PROGRAMS: &[&str] = &[
    r#"BEGIN { printf("%d %u %x %5s|%-5d\n", 42, 42, 255, "ab", 7); @x[1, "a"] = count(); exit(); }"#,
    r#"BEGIN { $i = 0; while ($i < 10) { $i++; if ($i % 2 == 0) { continue; } @s = sum($i); } }"#,
    r#"interval:ms:50 { @n++; if (@n == 3) { print(@n, 1, 2); clear(@h); exit(); } else { @h = hist(@n); } }"#,
    r#"BEGIN { @l = lhist(-5, 0, 100, 10); @m[comm, pid] = stats(-1); $s = "x"; @t = $s == "x" ? (uint8)300 : -1; delete(@m[comm, pid]); }"#,
    r#"BEGIN { unroll(3) { @a[$1] = avg(str($2) == "q"); } @c = curtask; time("%H\n"); zero(@a); } END { printf("%s\n", probe); }"#,
];

fn check(src: &str) {
    if let Ok(p) = parser::parse(src) {
        let opts = codegen::CompileOptions {
            params: vec!["1".into(), "q".into()],
            ..Default::default()
        };
        if let Err(d) = codegen::compile(&p, &opts) {
            // Rendering must not panic either, whatever the span.
            let _ = d.render("t.bt", src);
        }
    } else if let Err(d) = parser::parse(src) {
        let _ = d.render("t.bt", src);
    }
}

#[test]
fn every_prefix_is_an_answer_not_a_panic() {
    for p in PROGRAMS {
        let opts = codegen::CompileOptions {
            params: vec!["1".into(), "q".into()],
            ..Default::default()
        };
        let compiled = codegen::compile(&parser::parse(p).unwrap(), &opts);
        assert!(compiled.is_ok(), "{p}: {compiled:?}");
        for end in (0..=p.len()).filter(|&i| p.is_char_boundary(i)) {
            check(&p[..end]);
        }
    }
}

#[test]
fn every_single_byte_deletion_is_an_answer_not_a_panic() {
    for p in PROGRAMS {
        for at in 0..p.len() {
            let mut s = p.to_string();
            s.remove(at);
            check(&s);
        }
    }
}
