//! The 13 CO-RE relocation kinds of `enum bpf_core_relo_kind` and how each is grouped.

/// What a CO-RE relocation computes (`enum bpf_core_relo_kind` in `linux/bpf.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CoreReloKind {
    /// `BPF_CORE_FIELD_BYTE_OFFSET`: byte offset of a field.
    FieldByteOffset = 0,
    /// `BPF_CORE_FIELD_BYTE_SIZE`: byte size of a field (of its load unit for bitfields).
    FieldByteSize = 1,
    /// `BPF_CORE_FIELD_EXISTS`: 1 if the field exists in the target.
    FieldExists = 2,
    /// `BPF_CORE_FIELD_SIGNED`: 1 if the field is a signed int or signed enum.
    FieldSigned = 3,
    /// `BPF_CORE_FIELD_LSHIFT_U64`: left shift to isolate a bitfield in a u64.
    FieldLshiftU64 = 4,
    /// `BPF_CORE_FIELD_RSHIFT_U64`: right shift to isolate a bitfield in a u64.
    FieldRshiftU64 = 5,
    /// `BPF_CORE_TYPE_ID_LOCAL`: the type's id in the object's own BTF.
    TypeIdLocal = 6,
    /// `BPF_CORE_TYPE_ID_TARGET`: the type's id in the target BTF.
    TypeIdTarget = 7,
    /// `BPF_CORE_TYPE_EXISTS`: 1 if a compatible type exists in the target.
    TypeExists = 8,
    /// `BPF_CORE_TYPE_SIZE`: byte size of the type in the target.
    TypeSize = 9,
    /// `BPF_CORE_ENUMVAL_EXISTS`: 1 if the enumerator exists in the target.
    EnumvalExists = 10,
    /// `BPF_CORE_ENUMVAL_VALUE`: the enumerator's value in the target.
    EnumvalValue = 11,
    /// `BPF_CORE_TYPE_MATCHES`: 1 if a type that structurally matches exists in the target.
    TypeMatches = 12,
}

impl CoreReloKind {
    /// All kinds, in `enum bpf_core_relo_kind` order.
    pub const ALL: [CoreReloKind; 13] = [
        CoreReloKind::FieldByteOffset,
        CoreReloKind::FieldByteSize,
        CoreReloKind::FieldExists,
        CoreReloKind::FieldSigned,
        CoreReloKind::FieldLshiftU64,
        CoreReloKind::FieldRshiftU64,
        CoreReloKind::TypeIdLocal,
        CoreReloKind::TypeIdTarget,
        CoreReloKind::TypeExists,
        CoreReloKind::TypeSize,
        CoreReloKind::EnumvalExists,
        CoreReloKind::EnumvalValue,
        CoreReloKind::TypeMatches,
    ];

    /// The kind for a raw `bpf_core_relo.kind`, `None` for values this engine does not know.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Self::ALL.get(usize::try_from(raw).ok()?).copied()
    }

    /// libbpf's short name (`byte_off`, `type_matches`, ...), as in its debug log.
    pub fn as_str(self) -> &'static str {
        match self {
            CoreReloKind::FieldByteOffset => "byte_off",
            CoreReloKind::FieldByteSize => "byte_sz",
            CoreReloKind::FieldExists => "field_exists",
            CoreReloKind::FieldSigned => "signed",
            CoreReloKind::FieldLshiftU64 => "lshift_u64",
            CoreReloKind::FieldRshiftU64 => "rshift_u64",
            CoreReloKind::TypeIdLocal => "local_type_id",
            CoreReloKind::TypeIdTarget => "target_type_id",
            CoreReloKind::TypeExists => "type_exists",
            CoreReloKind::TypeSize => "type_size",
            CoreReloKind::EnumvalExists => "enumval_exists",
            CoreReloKind::EnumvalValue => "enumval_value",
            CoreReloKind::TypeMatches => "type_matches",
        }
    }

    /// Field-based kinds: the access string walks members and array elements.
    pub fn is_field_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::FieldByteOffset
                | CoreReloKind::FieldByteSize
                | CoreReloKind::FieldExists
                | CoreReloKind::FieldSigned
                | CoreReloKind::FieldLshiftU64
                | CoreReloKind::FieldRshiftU64
        )
    }

    /// Type-based kinds: the access string is `"0"`.
    pub fn is_type_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::TypeIdLocal
                | CoreReloKind::TypeIdTarget
                | CoreReloKind::TypeExists
                | CoreReloKind::TypeMatches
                | CoreReloKind::TypeSize
        )
    }

    /// Enumerator-based kinds: the access string is the enumerator's index.
    pub fn is_enumval_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }
}

impl std::fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::CoreReloKind;

    #[test]
    fn raw_values_follow_the_uapi_enum() {
        for (raw, kind) in CoreReloKind::ALL.iter().enumerate() {
            assert_eq!(*kind as u32, raw as u32);
            assert_eq!(CoreReloKind::from_raw(raw as u32), Some(*kind));
        }
        assert_eq!(CoreReloKind::from_raw(13), None);
        assert_eq!(CoreReloKind::from_raw(u32::MAX), None);
    }
}
