//! BTF describing each map's key and value, so `bpftool map dump` shows named fields
//! (`k0`, `k1`, `bucket`, `count`, `total`) instead of bytes.

use bpfkit_obj::btf::{BtfMut, FuncLinkage, IntEncoding, TypeId};

use crate::types::{MapInfo, MapKind, Ty};

/// BTF for a set of maps: the encoded bytes and `(key type, value type)` per map.
pub struct MapBtf {
    /// The BTF blob for `BPF_BTF_LOAD`.
    pub bytes: Vec<u8>,
    /// Key and value type ids, by map index.
    pub ids: Vec<(TypeId, TypeId)>,
}

struct Builder {
    btf: BtfMut,
    u64_id: TypeId,
    s64_id: TypeId,
    char_id: TypeId,
    int_id: TypeId,
}

impl Builder {
    fn new() -> Self {
        let mut btf = BtfMut::new();
        btf.set_big_endian(cfg!(target_endian = "big"));
        let u64_id = btf.add_int("u64", 8, 0);
        let s64_id = btf.add_int("s64", 8, IntEncoding::SIGNED);
        let char_id = btf.add_int("char", 1, IntEncoding::CHAR);
        let int_id = btf.add_int("int", 4, IntEncoding::SIGNED);
        Self {
            btf,
            u64_id,
            s64_id,
            char_id,
            int_id,
        }
    }

    fn int(&self, signed: bool) -> TypeId {
        if signed {
            self.s64_id
        } else {
            self.u64_id
        }
    }

    fn chars(&mut self, n: u16) -> TypeId {
        self.btf.add_array(self.char_id, self.int_id, u32::from(n))
    }

    fn ty(&mut self, t: Ty) -> TypeId {
        match t {
            Ty::Int { signed } => self.int(signed),
            Ty::Str(n) => self.chars(n),
            Ty::Ksym | Ty::Kstack(..) | Ty::Time(_) => self.int(false),
            Ty::Ustack(..) | Ty::Usym => self.chars(16),
            Ty::Inet => self.chars(24),
            Ty::Buf(n) => self.chars(8 + n),
        }
    }

    fn record(&mut self, name: &str, fields: &[(String, TypeId, u32)]) -> TypeId {
        let mut members = Vec::with_capacity(fields.len());
        let mut at = 0u32;
        for (fname, id, size) in fields {
            members.push((fname.as_str(), *id, at * 8));
            at += size;
        }
        self.btf.add_struct(name, at, &members)
    }
}

fn c_name(map: &str) -> String {
    let base: String = map
        .trim_start_matches('@')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if base.is_empty() {
        "anon".into()
    } else {
        base
    }
}

/// Describes `maps`; `None` if encoding fails (the maps then go without BTF).
pub fn build(maps: &[MapInfo]) -> Option<MapBtf> {
    let mut b = Builder::new();
    let mut ids = vec![];
    for m in maps {
        let name = c_name(&m.name);
        let mut fields: Vec<(String, TypeId, u32)> = m
            .keys
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("k{i}"), b.ty(*t), u32::from(t.size())))
            .collect();
        if m.keys.is_empty() {
            fields.push(("k0".into(), b.u64_id, 8));
        }
        if m.kind.is_histogram() {
            fields.push(("bucket".into(), b.u64_id, 8));
        }
        let key = if fields.len() == 1 {
            fields[0].1
        } else {
            b.record(&format!("{name}_key"), &fields)
        };
        let value = match m.kind {
            MapKind::Str(n) => b.chars(n),
            MapKind::Sym(t) => b.ty(t),
            MapKind::Avg { signed } | MapKind::Stats { signed } => {
                let total = b.int(signed);
                b.record(
                    &format!("{name}_value"),
                    &[("count".into(), b.u64_id, 8), ("total".into(), total, 8)],
                )
            }
            MapKind::Int { signed }
            | MapKind::Sum { signed }
            | MapKind::Min { signed }
            | MapKind::Max { signed } => b.int(signed),
            MapKind::Count | MapKind::Hist | MapKind::Lhist { .. } => b.u64_id,
        };
        ids.push((key, value));
    }
    let bytes = b.btf.to_bytes().ok()?;
    Some(MapBtf { bytes, ids })
}

/// BTF for a program with callbacks (`for` over a map): `static long main(void *ctx)` and
/// `static long for_each_elem(void *map, void *key, void *value, void *ctx)`, as the
/// `func_info` the kernel needs to accept `BPF_PSEUDO_FUNC` references. Returns the bytes
/// and the two FUNC ids.
pub fn func_btf() -> Option<(Vec<u8>, TypeId, TypeId)> {
    let mut b = Builder::new();
    let long = b.btf.add_int("long", 8, IntEncoding::SIGNED);
    let ptr = b.btf.add_ptr(0);
    let mut func = |name: &str, params: &[&str]| {
        let params: Vec<_> = params.iter().map(|&p| (p, ptr)).collect();
        let proto = b.btf.add_func_proto(long, &params);
        b.btf.add_func(name, proto, FuncLinkage::Static)
    };
    let main = func("main", &["ctx"]);
    let callback = func("for_each_elem", &["map", "key", "value", "ctx"]);
    let bytes = b.btf.to_bytes().ok()?;
    Some((bytes, main, callback))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_obj::btf::{Btf, Type};

    #[test]
    fn tuple_keys_become_structs_with_the_key_size() {
        let maps = vec![MapInfo {
            name: "@h".into(),
            keys: vec![Ty::Int { signed: true }, Ty::Str(16)],
            kind: MapKind::Hist,
        }];
        let mb = build(&maps).unwrap();
        let btf = Btf::parse(&mb.bytes).unwrap();
        let Type::Struct(key) = btf.type_by_id(mb.ids[0].0).unwrap() else {
            panic!("key is not a struct")
        };
        assert_eq!(key.name, "h_key");
        assert_eq!(key.size, u32::from(maps[0].key_size()));
        let names: Vec<&str> = key.members.iter().map(|m| m.name).collect();
        assert_eq!(names, ["k0", "k1", "bucket"]);
        assert_eq!(btf.resolve_size(mb.ids[0].1).unwrap(), 8);
    }
}
