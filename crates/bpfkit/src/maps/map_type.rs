//! Map types: bpfkit-obj's [`MapType`] plus what only the runtime knows, the first kernel
//! with each type.

pub use bpfkit_obj::object::MapType;

use std::sync::OnceLock;

use crate::features::Feature;

/// Runtime facts about a [`MapType`] that the object crate does not carry.
pub trait MapTypeExt: Copy {
    /// The `enum bpf_map_type` number.
    fn number(self) -> u32;
    /// The type for a kernel number, if bpfkit knows it.
    fn from_number(number: u32) -> Option<Self>;
    /// The feature "map type X" with the first kernel that has it.
    fn feature(self) -> Feature;
    /// Whether values are stored once per possible CPU.
    fn is_per_cpu(self) -> bool;
}

impl MapTypeExt for MapType {
    fn number(self) -> u32 {
        self as u32
    }

    fn from_number(number: u32) -> Option<Self> {
        MapType::from_u32(number)
    }

    fn feature(self) -> Feature {
        Feature {
            name: feature_name(self),
            since: first_kernel(self),
        }
    }

    fn is_per_cpu(self) -> bool {
        matches!(
            self,
            MapType::PercpuHash
                | MapType::PercpuArray
                | MapType::LruPercpuHash
                | MapType::PercpuCgroupStorage
        )
    }
}

/// `"map type LRU_PERCPU_HASH"`, built once from the kernel names bpfkit-obj holds.
fn feature_name(t: MapType) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        MapType::ALL
            .iter()
            .map(|t| format!("map type {}", t.kernel_name().to_ascii_uppercase()))
            .collect()
    });
    MapType::ALL
        .iter()
        .position(|&x| x == t)
        .and_then(|i| names.get(i))
        .map_or("map type", String::as_str)
}

/// The first Linux release with the map type.
fn first_kernel(t: MapType) -> &'static str {
    use MapType::*;
    match t {
        Unspec | Hash | Array => "3.19",
        ProgArray => "4.2",
        PerfEventArray => "4.3",
        PercpuHash | PercpuArray | StackTrace => "4.6",
        CgroupArray => "4.8",
        LruHash | LruPercpuHash => "4.10",
        LpmTrie => "4.11",
        ArrayOfMaps | HashOfMaps => "4.12",
        Devmap | Sockmap => "4.14",
        Cpumap => "4.15",
        Xskmap | Sockhash => "4.18",
        CgroupStorage | ReuseportSockarray => "4.19",
        PercpuCgroupStorage | Queue | Stack => "4.20",
        SkStorage => "5.2",
        DevmapHash => "5.4",
        StructOps => "5.6",
        Ringbuf => "5.8",
        InodeStorage => "5.10",
        TaskStorage => "5.11",
        BloomFilter => "5.16",
        UserRingbuf => "6.1",
        CgrpStorage => "6.2",
        Arena => "6.9",
    }
}
