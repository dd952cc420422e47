//! The kernel side reads `trace_event_raw_inet_sock_set_state` through CO-RE: every member
//! it reads has a field-byte-offset relocation in the embedded object's `.BTF.ext`, rooted
//! at the generated record type, and the scalar members are direct loads from the context
//! (the relocation is on the load instruction, as clang emits for `ctx->field` over a
//! `preserve_access_index` type), not fixed offsets. No root needed.

use bpfkit_obj::btf::{Btf, CoreReloKind};
use bpfkit_obj::object::ObjectSpec;

const RECORD: &str = "trace_event_raw_inet_sock_set_state";

/// `BPF_LDX | BPF_MEM` with any size: the class is the low 3 bits (1 = LDX), the mode the
/// top 3 (3 = MEM).
fn is_mem_load(code: u8) -> bool {
    code & 0x07 == 0x01 && code & 0xe0 == 0x60
}

#[test]
fn set_state_reads_every_record_member_through_a_core_relocation() {
    let spec = ObjectSpec::parse(tcpconnect::skel::OBJECT).expect("parse the tcpconnect object");
    let btf = Btf::parse(spec.btf.as_deref().expect("the object has BTF")).expect("parse BTF");
    let program = spec
        .programs
        .iter()
        .find(|p| p.name == "set_state")
        .expect("program set_state");
    let mut members = Vec::new();
    for relo in &program.btf_ext.core_relos {
        let root = btf.type_by_id(relo.type_id).expect("root type");
        assert_eq!(root.name(), RECORD, "{relo:?}");
        assert_eq!(relo.kind, CoreReloKind::FieldByteOffset, "{relo:?}");
        // "0:N": member N of the record, reached directly.
        let index: usize = relo
            .access
            .strip_prefix("0:")
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("access string {:?} is not 0:N", relo.access));
        let member = root.members().get(index).expect("a member");
        let at = relo.insn_offset as usize * 8;
        let code = program.instructions[at];
        println!(
            "insn {:>3} code {code:#04x} {} {RECORD}.{} (access {}, offset {} in this BTF)",
            relo.insn_offset,
            relo.kind.name(),
            member.name,
            relo.access,
            member.bit_offset / 8
        );
        members.push((member.name.to_owned(), is_mem_load(code)));
    }
    members.sort();
    members.dedup();
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    let mut want = [
        "daddr", "daddr_v6", "dport", "family", "newstate", "oldstate", "protocol", "saddr",
        "saddr_v6", "sport",
    ];
    want.sort();
    assert_eq!(names, want, "members read through CO-RE");
    for (name, load) in &members {
        if !name.ends_with("_v6") {
            assert!(load, "{name} is read by a relocated load from the context");
        }
    }
}
