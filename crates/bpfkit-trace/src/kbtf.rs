//! Kernel struct fields through the running kernel's BTF (`/sys/kernel/btf/vmlinux`):
//! `curtask->real_parent->tgid` resolved to offsets, sizes and signedness. The program is
//! compiled on the machine that runs it, so the offsets are the kernel's own (what CO-RE
//! would relocate them to).

use std::sync::OnceLock;

use bpfkit_obj::btf::{Btf, Kind, Type, TypeId};

/// The kernel's BTF (see [`KernelBtf::shared`]).
pub struct KernelBtf {
    btf: Btf<'static>,
}

/// What a member access lands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf {
    /// An integer (or enum) of `size` bytes.
    Int {
        /// Bytes.
        size: u8,
        /// Signed.
        signed: bool,
    },
    /// A pointer to `pointee` (a struct to follow with `->`).
    Ptr {
        /// Target type id (modifiers and typedefs skipped).
        pointee: TypeId,
    },
    /// An embedded struct or union (follow with `.`).
    Struct(TypeId),
    /// A `char name[N]` array.
    CharArray(u32),
}

/// A kernel function's signature, as fentry/fexit see it.
#[derive(Clone, Debug)]
pub struct KernelFunc {
    /// The `FUNC` type id.
    pub btf_id: TypeId,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// Not `void`.
    pub has_ret: bool,
    /// The return type is a signed integer.
    pub ret_signed: bool,
}

/// One parameter: `ctx[index]` of an fentry program.
#[derive(Clone, Debug)]
pub struct Param {
    /// Name (`args->name`).
    pub name: String,
    /// Position.
    pub index: u16,
    /// C spelling (`struct file *`).
    pub c_type: String,
    /// What it is, when supported.
    pub leaf: Option<Leaf>,
}

impl KernelBtf {
    /// The running kernel's BTF, read and parsed once per process by the first of probe
    /// expansion, the compiler and the loader to need it (vmlinux does not change while
    /// bpfkit runs).
    pub fn shared() -> Result<&'static KernelBtf, String> {
        static SHARED: OnceLock<Result<KernelBtf, String>> = OnceLock::new();
        SHARED
            .get_or_init(Self::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Reads `/sys/kernel/btf/vmlinux`.
    pub fn load() -> Result<Self, String> {
        let path = "/sys/kernel/btf/vmlinux";
        let data = std::fs::read(path).map_err(|e| format!("read {path}: {e}"))?;
        let btf = Btf::parse_owned(data).map_err(|e| format!("parse {path}: {e}"))?;
        Ok(Self { btf })
    }

    /// The id of `struct name`.
    pub fn struct_id(&self, name: &str) -> Option<TypeId> {
        self.btf.id_by_name_kind(name, Kind::Struct)
    }

    fn strip(&self, id: TypeId) -> Result<TypeId, String> {
        self.btf
            .skip_mods_and_typedefs(id)
            .map_err(|e| e.to_string())
    }

    /// The value of the enumerator `name` of any kernel enum (`TCP_FIN_WAIT1`), as
    /// bpftrace resolves enum constants through BTF.
    pub fn enum_value(&self, name: &str) -> Option<i64> {
        self.btf
            .local_ids()
            .find_map(|id| match self.btf.type_by_id(id).ok()? {
                Type::Enum(e) => e
                    .values
                    .iter()
                    .find(|v| v.name == name)
                    .map(|v| v.value_signed(false)),
                Type::Enum64(e) => e
                    .values
                    .iter()
                    .find(|v| v.name == name)
                    .map(|v| v.value_signed(true)),
                _ => None,
            })
    }

    /// Names of the `FUNC`s matching a glob, sorted (fentry wildcards).
    pub fn functions_matching(&self, pattern: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .btf
            .local_ids()
            .filter(|&id| self.btf.kind(id).ok() == Some(Kind::Func))
            .filter_map(|id| self.btf.name(id).ok())
            .filter(|n| crate::probes::glob(pattern, n))
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The `FUNC` named `name`: its type id (the fentry attach target), its parameters as
    /// 8-byte context slots, and whether it returns a value.
    pub fn function(&self, name: &str) -> Result<KernelFunc, String> {
        let id = self
            .btf
            .id_by_name_kind(name, Kind::Func)
            .ok_or_else(|| format!("the kernel's BTF has no function '{name}'"))?;
        let Ok(Type::Func(f)) = self.btf.type_by_id(id) else {
            return Err(format!("BTF type {id} is not a function"));
        };
        let Ok(Type::FuncProto(proto)) = self.btf.type_by_id(f.proto) else {
            return Err(format!("function '{name}' has no prototype in BTF"));
        };
        let mut params = vec![];
        for (i, p) in proto.params.iter().enumerate() {
            if p.type_id == 0 {
                break;
            }
            params.push(Param {
                name: p.name.to_string(),
                index: i as u16,
                c_type: self.c_type(p.type_id),
                leaf: self.leaf(p.type_id).ok(),
            });
        }
        let returns = self.strip(proto.return_type).ok().map(|r| {
            (
                r != 0,
                matches!(self.leaf(r), Ok(Leaf::Int { signed: true, .. })),
            )
        });
        let (has_ret, ret_signed) = returns.unwrap_or((false, false));
        Ok(KernelFunc {
            btf_id: id,
            params,
            has_ret,
            ret_signed,
        })
    }

    /// A C spelling of a type good enough for casts and messages (`struct file *`, `int`).
    fn c_type(&self, id: TypeId) -> String {
        let Ok(id) = self.strip(id) else {
            return "?".into();
        };
        match self.btf.type_by_id(id) {
            Ok(Type::Ptr(p)) => {
                let inner = self.strip(p.target).unwrap_or(0);
                match self.btf.type_by_id(inner) {
                    Ok(Type::Struct(c)) => format!("struct {} *", c.name),
                    Ok(Type::Union(c)) => format!("union {} *", c.name),
                    Ok(Type::Void) => "void *".into(),
                    Ok(t) => format!("{} *", t.name()),
                    Err(_) => "void *".into(),
                }
            }
            Ok(Type::Struct(c)) => format!("struct {}", c.name),
            Ok(t) => t.name().to_string(),
            Err(_) => "?".into(),
        }
    }

    /// Bytes of type `id` (embedded kernel structs of script-defined structs).
    pub fn size_of(&self, id: TypeId) -> Option<u32> {
        self.btf.resolve_size(id).ok().map(|n| n as u32)
    }

    /// The name of a struct/union type, for messages.
    pub fn type_name(&self, id: TypeId) -> String {
        match self.btf.type_by_id(id) {
            Ok(Type::Struct(c)) => format!("struct {}", c.name),
            Ok(Type::Union(c)) => format!("union {}", c.name),
            Ok(t) => t.name().to_string(),
            Err(_) => format!("type {id}"),
        }
    }

    /// Finds `field` in the struct or union `id` (looking into anonymous members) and
    /// returns its byte offset and what it is.
    pub fn member(&self, id: TypeId, field: &str) -> Result<Option<(u32, Leaf)>, String> {
        let id = self.strip(id)?;
        let members = match self.btf.type_by_id(id).map_err(|e| e.to_string())? {
            Type::Struct(c) | Type::Union(c) => c.members,
            _ => return Err(format!("{} is not a struct or union", self.type_name(id))),
        };
        for m in &members {
            if m.name == field {
                if m.bitfield_size != 0 || m.bit_offset % 8 != 0 {
                    return Err(format!("'{field}' is a bitfield"));
                }
                return Ok(Some((m.bit_offset / 8, self.leaf(m.type_id)?)));
            }
        }
        for m in members.iter().filter(|m| m.name.is_empty()) {
            if let Some((off, leaf)) = self.member(m.type_id, field)? {
                return Ok(Some((m.bit_offset / 8 + off, leaf)));
            }
        }
        Ok(None)
    }

    fn leaf(&self, id: TypeId) -> Result<Leaf, String> {
        let id = self.strip(id)?;
        Ok(match self.btf.type_by_id(id).map_err(|e| e.to_string())? {
            Type::Int(i) if matches!(i.size, 1 | 2 | 4 | 8) => Leaf::Int {
                size: i.size as u8,
                signed: i.encoding.is_signed(),
            },
            Type::Enum(e) | Type::Enum64(e) if matches!(e.size, 1 | 2 | 4 | 8) => Leaf::Int {
                size: e.size as u8,
                signed: false,
            },
            Type::Ptr(p) => Leaf::Ptr {
                pointee: self.strip(p.target)?,
            },
            Type::Struct(_) | Type::Union(_) => Leaf::Struct(id),
            Type::Array(a) => {
                let elem = self.strip(a.elem_type)?;
                match self.btf.type_by_id(elem).map_err(|e| e.to_string())? {
                    Type::Int(i) if i.size == 1 => Leaf::CharArray(a.nelems),
                    _ => return Err("arrays other than char[] are not supported yet".into()),
                }
            }
            other => {
                return Err(format!(
                    "members of kind {:?} are not supported yet",
                    other.kind()
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_struct_members_resolve_through_the_running_kernel() {
        let Ok(k) = KernelBtf::load() else {
            println!("SKIP no /sys/kernel/btf/vmlinux");
            return;
        };
        let task = k.struct_id("task_struct").expect("task_struct");
        let (_, tgid) = k.member(task, "tgid").unwrap().expect("tgid");
        assert_eq!(
            tgid,
            Leaf::Int {
                size: 4,
                signed: true
            }
        );
        let (_, comm) = k.member(task, "comm").unwrap().expect("comm");
        assert_eq!(comm, Leaf::CharArray(16));
        let (_, parent) = k.member(task, "real_parent").unwrap().expect("real_parent");
        assert_eq!(parent, Leaf::Ptr { pointee: task });
        assert!(k.member(task, "no_such_field").unwrap().is_none());
    }
}
