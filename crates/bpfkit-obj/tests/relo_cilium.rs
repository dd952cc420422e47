//! CO-RE on cilium/ebpf's relocation test objects: our relocated instructions equal libbpf's.

mod relo_support;

use bpfkit_obj::btf::Btf;
use bpfkit_obj::relo::TypeSource;
use bpfkit_test_support::{corpus_dir, libbpf_relocated, RelocateOptions};
use object::{Object, ObjectSection};

fn btf_of_elf(elf: &[u8]) -> Vec<u8> {
    let file = object::File::parse(elf).unwrap();
    file.section_by_name(".BTF")
        .unwrap()
        .data()
        .unwrap()
        .to_vec()
}

/// Relocates `object` against `target`'s BTF with both engines and compares; programs in
/// `refused` must fail in both (their errors are returned, ours first).
fn check(object: &str, target: &str, refused: &[&str]) -> Vec<(String, String)> {
    let dir = corpus_dir().join("cilium/btf/testdata");
    let elf = loadable_by_libbpf(&std::fs::read(dir.join(object)).unwrap());
    let tmp = std::env::temp_dir().join(format!("bpfkit-relo-{}-{object}", std::process::id()));
    std::fs::write(&tmp, &elf).unwrap();
    let result = std::panic::catch_unwind(|| compare(&dir, &tmp, &elf, object, target, refused));
    let _ = std::fs::remove_file(&tmp);
    result.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// cilium names its sections `socket_filter/...`, which libbpf does not know, so libbpf
/// would stop before handing any program to the kernel. The same-length prefix
/// `kprobe/sockflt` (a kprobe section) keeps every offset of the file and changes
/// nothing CO-RE looks at.
fn loadable_by_libbpf(elf: &[u8]) -> Vec<u8> {
    const FROM: &[u8] = b"socket_filter/";
    const TO: &[u8] = b"kprobe/sockflt";
    let mut out = elf.to_vec();
    let mut i = 0;
    while i + FROM.len() <= out.len() {
        if &out[i..i + FROM.len()] == FROM {
            out[i..i + FROM.len()].copy_from_slice(TO);
            i += FROM.len();
        } else {
            i += 1;
        }
    }
    out
}

fn compare(
    dir: &std::path::Path,
    path: &std::path::Path,
    elf: &[u8],
    object: &str,
    target: &str,
    refused: &[&str],
) -> Vec<(String, String)> {
    let target_btf = btf_of_elf(&std::fs::read(dir.join(target)).unwrap());
    let target_types = Btf::parse(&target_btf).unwrap();
    let targets: [&dyn TypeSource; 1] = [&target_types];
    let ours = relo_support::relocate_object(elf, &targets);
    let opts = RelocateOptions {
        btf_custom_path: Some(dir.join(target_path(object))),
        fake_load: true,
        autoload: refused.iter().map(|p| (p.to_string(), false)).collect(),
        ..Default::default()
    };
    let libbpf = libbpf_relocated(path, &opts).unwrap();
    assert!(
        libbpf.load_error.is_none(),
        "{object}: libbpf failed: {:?}",
        libbpf.load_error
    );
    let cmp = relo_support::assert_same_as_libbpf(&ours, &libbpf, object);
    let (n, changed) = (cmp.relos, cmp.changed);
    let total: usize = ours
        .sections
        .values()
        .filter_map(|s| s.result.as_ref().ok())
        .map(|a| a.len())
        .sum();
    eprintln!(
        "{object}: {n} of {total} CO-RE relocations compared with libbpf, {changed} insns changed"
    );
    // Against its own BTF CO-RE is the identity; against another target it must not be.
    assert_eq!(
        changed > 0,
        object != target,
        "{object}: {changed} insns changed"
    );
    assert!(
        n > 0 && n == total,
        "{object}: compared {n} of {total} relocations"
    );

    let mut errors = Vec::new();
    for prog in refused {
        let func = ours.funcs.iter().find(|f| f.name == *prog).unwrap();
        let our_err = ours.sections[&func.section].result.clone().unwrap_err();
        let only_this = RelocateOptions {
            btf_custom_path: opts.btf_custom_path.clone(),
            fake_load: true,
            autoload: libbpf
                .object
                .programs
                .iter()
                .map(|p| (p.name.clone(), p.name == *prog))
                .collect(),
            ..Default::default()
        };
        let theirs = libbpf_relocated(path, &only_this).unwrap();
        let their_err = theirs
            .load_error
            .unwrap_or_else(|| panic!("{object}: libbpf accepted {prog}, we said {our_err}"));
        errors.push((
            our_err,
            format!("{} {:?}", their_err.message, their_err.log),
        ));
    }
    errors
}

fn target_path(object: &str) -> &'static str {
    if object == "relocs_read-el.elf" {
        "relocs_read_tgt-el.elf"
    } else {
        "relocs-el.elf"
    }
}

#[test]
fn relocs_against_its_own_btf_match_libbpf() {
    let errors = check(
        "relocs-el.elf",
        "relocs-el.elf",
        &["err_ambiguous", "err_ambiguous_flavour"],
    );
    // Both engines refuse the two ambiguous programs, for the same reason.
    for (ours, theirs) in &errors {
        assert!(ours.contains("ambiguity"), "ours: {ours}");
        assert!(theirs.contains("ambiguity"), "libbpf: {theirs}");
    }
    assert_eq!(errors.len(), 2);
}

#[test]
fn relocs_read_against_the_target_object_match_libbpf() {
    let errors = check("relocs_read-el.elf", "relocs_read_tgt-el.elf", &[]);
    assert!(errors.is_empty());
}
