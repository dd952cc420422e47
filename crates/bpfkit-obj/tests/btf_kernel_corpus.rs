//! Every corpus object's .BTF, with externs finalized and DATASECs fixed up from its ELF
//! symbols, is accepted by the kernel.

mod btf_support;

use bpfkit_obj::btf::{finalize_extern_datasecs, fixup_datasecs, Btf, BtfMut, Kind, Type};
use btf_support::*;

#[test]
fn corpus_btf_after_datasec_fixup_loads_into_the_kernel() {
    let mut failures = Vec::new();
    let mut loaded = 0;
    for (path, bytes) in corpus_btf() {
        let btf = Btf::parse(&bytes).unwrap();
        let mut m = BtfMut::from_btf(&btf).unwrap();
        // .kconfig values one after the other, 8-byte aligned (any valid layout will do).
        let mut kconfig = std::collections::BTreeMap::new();
        if let Some(id) = btf.id_by_name_kind(".kconfig", Kind::Datasec) {
            let Type::Datasec(d) = btf.type_by_id(id).unwrap() else {
                unreachable!()
            };
            let mut off = 0;
            for v in &d.vars {
                kconfig.insert(btf.name(v.type_id).unwrap().to_string(), off);
                off = (off + v.size).next_multiple_of(8);
            }
        }
        finalize_extern_datasecs(&mut m, |name| kconfig.get(name).copied()).unwrap();
        if let Err(e) = fixup_datasecs(&mut m, &ElfLayout::read(&path)) {
            failures.push(format!("{}: fixup: {e}", path.display()));
            continue;
        }
        match kernel_load_btf(&m.to_bytes().unwrap()) {
            Ok(()) => loaded += 1,
            Err(log) => failures.push(format!(
                "{}: {}",
                path.display(),
                log.lines().last().unwrap_or("")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{loaded} loaded; failures:\n{}",
        failures.join("\n")
    );
}
