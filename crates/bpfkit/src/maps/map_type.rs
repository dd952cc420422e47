//! Map types, named as the kernel names them (`enum bpf_map_type`).

use crate::features::Feature;
use crate::sys::{uapi, uapi_ext};

macro_rules! map_types {
    ($($variant:ident = $number:expr, $kname:literal, $alias:literal, $since:literal;)*) => {
        /// A map type (`enum bpf_map_type`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum MapType {
            $(#[doc = concat!("`BPF_MAP_TYPE_", $kname, "` (Linux ", $since, ").")]
            #[doc(alias = $alias)]
            $variant,)*
        }

        impl MapType {
            /// Every map type bpfkit knows.
            pub const ALL: &'static [MapType] = &[$(Self::$variant),*];

            /// The `enum bpf_map_type` number.
            pub fn number(self) -> u32 {
                match self { $(Self::$variant => $number),* }
            }

            /// The type for a kernel number, if bpfkit knows it.
            pub fn from_number(number: u32) -> Option<Self> {
                match number { $(n if n == $number => Some(Self::$variant),)* _ => None }
            }

            /// The kernel's name without prefix, e.g. `LRU_PERCPU_HASH`.
            pub fn kernel_name(self) -> &'static str {
                match self { $(Self::$variant => $kname),* }
            }

            /// The feature "map type X" with the first kernel that has it.
            pub fn feature(self) -> Feature {
                match self {
                    $(Self::$variant => Feature {
                        name: concat!("map type ", $kname),
                        since: $since,
                    }),*
                }
            }
        }
    };
}

map_types! {
    Hash = uapi::BPF_MAP_TYPE_HASH, "HASH", "BPF_MAP_TYPE_HASH", "3.19";
    Array = uapi::BPF_MAP_TYPE_ARRAY, "ARRAY", "BPF_MAP_TYPE_ARRAY", "3.19";
    ProgArray = uapi::BPF_MAP_TYPE_PROG_ARRAY, "PROG_ARRAY", "BPF_MAP_TYPE_PROG_ARRAY", "4.2";
    PerfEventArray = uapi::BPF_MAP_TYPE_PERF_EVENT_ARRAY, "PERF_EVENT_ARRAY", "BPF_MAP_TYPE_PERF_EVENT_ARRAY", "4.3";
    PercpuHash = uapi::BPF_MAP_TYPE_PERCPU_HASH, "PERCPU_HASH", "BPF_MAP_TYPE_PERCPU_HASH", "4.6";
    PercpuArray = uapi::BPF_MAP_TYPE_PERCPU_ARRAY, "PERCPU_ARRAY", "BPF_MAP_TYPE_PERCPU_ARRAY", "4.6";
    StackTrace = uapi::BPF_MAP_TYPE_STACK_TRACE, "STACK_TRACE", "BPF_MAP_TYPE_STACK_TRACE", "4.6";
    CgroupArray = uapi::BPF_MAP_TYPE_CGROUP_ARRAY, "CGROUP_ARRAY", "BPF_MAP_TYPE_CGROUP_ARRAY", "4.8";
    LruHash = uapi::BPF_MAP_TYPE_LRU_HASH, "LRU_HASH", "BPF_MAP_TYPE_LRU_HASH", "4.10";
    LruPercpuHash = uapi::BPF_MAP_TYPE_LRU_PERCPU_HASH, "LRU_PERCPU_HASH", "BPF_MAP_TYPE_LRU_PERCPU_HASH", "4.10";
    LpmTrie = uapi::BPF_MAP_TYPE_LPM_TRIE, "LPM_TRIE", "BPF_MAP_TYPE_LPM_TRIE", "4.11";
    ArrayOfMaps = uapi::BPF_MAP_TYPE_ARRAY_OF_MAPS, "ARRAY_OF_MAPS", "BPF_MAP_TYPE_ARRAY_OF_MAPS", "4.12";
    HashOfMaps = uapi::BPF_MAP_TYPE_HASH_OF_MAPS, "HASH_OF_MAPS", "BPF_MAP_TYPE_HASH_OF_MAPS", "4.12";
    Devmap = uapi::BPF_MAP_TYPE_DEVMAP, "DEVMAP", "BPF_MAP_TYPE_DEVMAP", "4.14";
    Sockmap = uapi::BPF_MAP_TYPE_SOCKMAP, "SOCKMAP", "BPF_MAP_TYPE_SOCKMAP", "4.14";
    Cpumap = uapi::BPF_MAP_TYPE_CPUMAP, "CPUMAP", "BPF_MAP_TYPE_CPUMAP", "4.15";
    Xskmap = uapi::BPF_MAP_TYPE_XSKMAP, "XSKMAP", "BPF_MAP_TYPE_XSKMAP", "4.18";
    Sockhash = uapi::BPF_MAP_TYPE_SOCKHASH, "SOCKHASH", "BPF_MAP_TYPE_SOCKHASH", "4.18";
    CgroupStorage = uapi::BPF_MAP_TYPE_CGROUP_STORAGE, "CGROUP_STORAGE", "BPF_MAP_TYPE_CGROUP_STORAGE", "4.19";
    ReuseportSockarray = uapi::BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, "REUSEPORT_SOCKARRAY", "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY", "4.19";
    PercpuCgroupStorage = uapi::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, "PERCPU_CGROUP_STORAGE", "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE", "4.20";
    Queue = uapi::BPF_MAP_TYPE_QUEUE, "QUEUE", "BPF_MAP_TYPE_QUEUE", "4.20";
    Stack = uapi::BPF_MAP_TYPE_STACK, "STACK", "BPF_MAP_TYPE_STACK", "4.20";
    SkStorage = uapi::BPF_MAP_TYPE_SK_STORAGE, "SK_STORAGE", "BPF_MAP_TYPE_SK_STORAGE", "5.2";
    DevmapHash = uapi::BPF_MAP_TYPE_DEVMAP_HASH, "DEVMAP_HASH", "BPF_MAP_TYPE_DEVMAP_HASH", "5.4";
    StructOps = uapi::BPF_MAP_TYPE_STRUCT_OPS, "STRUCT_OPS", "BPF_MAP_TYPE_STRUCT_OPS", "5.6";
    RingBuf = uapi::BPF_MAP_TYPE_RINGBUF, "RINGBUF", "BPF_MAP_TYPE_RINGBUF", "5.8";
    InodeStorage = uapi::BPF_MAP_TYPE_INODE_STORAGE, "INODE_STORAGE", "BPF_MAP_TYPE_INODE_STORAGE", "5.10";
    TaskStorage = uapi::BPF_MAP_TYPE_TASK_STORAGE, "TASK_STORAGE", "BPF_MAP_TYPE_TASK_STORAGE", "5.11";
    BloomFilter = uapi::BPF_MAP_TYPE_BLOOM_FILTER, "BLOOM_FILTER", "BPF_MAP_TYPE_BLOOM_FILTER", "5.16";
    UserRingBuf = uapi::BPF_MAP_TYPE_USER_RINGBUF, "USER_RINGBUF", "BPF_MAP_TYPE_USER_RINGBUF", "6.1";
    CgrpStorage = uapi_ext::BPF_MAP_TYPE_CGRP_STORAGE, "CGRP_STORAGE", "BPF_MAP_TYPE_CGRP_STORAGE", "6.2";
    Arena = uapi_ext::BPF_MAP_TYPE_ARENA, "ARENA", "BPF_MAP_TYPE_ARENA", "6.9";
}

impl MapType {
    /// Whether values are stored once per possible CPU.
    pub fn is_per_cpu(self) -> bool {
        matches!(
            self,
            Self::PercpuHash | Self::PercpuArray | Self::LruPercpuHash | Self::PercpuCgroupStorage
        )
    }
}

impl std::fmt::Display for MapType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kernel_name())
    }
}
