//! Map definitions, globals and the license section, checked on the host: the layout libbpf
//! parses (one pointer-sized field per attribute) and the values programs read.

use bpfkit_ebpf::macros::map;
use bpfkit_ebpf::maps::{
    Array, ArrayOfMaps, BloomFilter, HashMap, LpmKey, LpmTrie, PerCpuArray, PerfEventArray,
    PinnedArray, PinnedHashMap, ProgramArray, Queue, RingBuf, SkStorage, SockHash, StackTrace,
    UserRingBuf, XskMap,
};
use bpfkit_ebpf::{Global, GlobalMut};

#[map]
static COUNTS: HashMap<u32, u64, 1024> = HashMap::new();
#[map(name = "events_v2")]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

#[test]
fn map_definitions_have_one_pointer_per_libbpf_attribute() {
    const P: usize = core::mem::size_of::<usize>();
    // type, key, value, max_entries, map_flags, pinning
    assert_eq!(core::mem::size_of::<PinnedHashMap<u32, u64, 1024>>(), 6 * P);
    assert_eq!(core::mem::size_of::<PinnedArray<u64, 1>>(), 6 * P);
    // type, key, value, max_entries, map_flags
    assert_eq!(core::mem::size_of::<HashMap<u32, u64, 1024>>(), 5 * P);
    assert_eq!(core::mem::size_of::<Array<u64, 1>>(), 5 * P);
    assert_eq!(core::mem::size_of::<PerCpuArray<[u8; 512], 1>>(), 5 * P);
    assert_eq!(core::mem::size_of::<LpmTrie<[u8; 4], u32, 16>>(), 5 * P);
    assert_eq!(core::mem::size_of::<StackTrace<128>>(), 5 * P);
    assert_eq!(core::mem::size_of::<XskMap<4>>(), 5 * P);
    // type, value, max_entries, map_flags
    assert_eq!(core::mem::size_of::<Queue<u64, 8>>(), 4 * P);
    assert_eq!(core::mem::size_of::<BloomFilter<u64, 8>>(), 4 * P);
    // type, key_size, value_size, max_entries
    assert_eq!(core::mem::size_of::<PerfEventArray>(), 4 * P);
    assert_eq!(core::mem::size_of::<ProgramArray<4>>(), 4 * P);
    assert_eq!(core::mem::size_of::<SockHash<u64, 4>>(), 4 * P);
    assert_eq!(core::mem::size_of::<SkStorage<u64>>(), 4 * P);
    // type, max_entries, map_flags / type, max_entries
    assert_eq!(core::mem::size_of::<RingBuf<4096>>(), 3 * P);
    assert_eq!(core::mem::size_of::<UserRingBuf<4096>>(), 2 * P);
    // type, key, max_entries, map_flags, values[0]
    assert_eq!(core::mem::size_of::<ArrayOfMaps<Array<u32, 1>, 4>>(), 4 * P);
    // definitions carry no data: every byte of the statics is zero
    for bytes in [as_bytes(&COUNTS), as_bytes(&EVENTS)] {
        assert!(bytes.iter().all(|b| *b == 0));
    }
}

fn as_bytes<T>(value: &T) -> &[u8] {
    // SAFETY: map definitions are plain pointers (no padding); reading their bytes is fine.
    unsafe {
        core::slice::from_raw_parts((value as *const T).cast::<u8>(), core::mem::size_of::<T>())
    }
}

#[test]
fn lpm_key_is_prefix_then_data_without_padding() {
    let key = LpmKey::new(24, [10u8, 0, 0, 0]);
    assert_eq!(core::mem::size_of_val(&key), 8);
    assert_eq!({ key.prefix_len }, 24);
    assert_eq!(core::mem::size_of::<LpmKey<[u8; 16]>>(), 20);
}

#[no_mangle]
static MAX_LEVEL: Global<u8> = Global::new(3);
static SEEN: GlobalMut<u64> = GlobalMut::new(0);

#[test]
fn globals_read_and_write_their_values() {
    assert_eq!(MAX_LEVEL.get(), 3);
    assert_eq!(SEEN.get(), 0);
    SEEN.set(41);
    SEEN.set(SEEN.get() + 1);
    assert_eq!(SEEN.get(), 42);
}

bpfkit_ebpf::license!("Dual MIT/GPL");

#[test]
fn license_is_nul_terminated_text() {
    assert_eq!(&LICENSE, b"Dual MIT/GPL\0");
}

#[test]
fn helper_bindings_cover_libbpf_list() {
    use bpfkit_ebpf::helpers::generated::{HELPER_COUNT, HELPER_STRUCTS, MAX_HELPER_ID};
    assert_eq!(HELPER_COUNT, 211);
    assert_eq!(MAX_HELPER_ID, 211);
    assert!(HELPER_STRUCTS.contains(&"__sk_buff"));
}

/// The committed bindings are exactly what the committed generator makes of the host's
/// `bpf_helper_defs.h` (libbpf-dev), when both are present.
#[test]
fn generated_helpers_match_generator_output() {
    let header = std::path::Path::new("/usr/include/bpf/bpf_helper_defs.h");
    if !header.exists() {
        eprintln!("skipping: libbpf-dev's bpf_helper_defs.h is not installed");
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = match std::process::Command::new("python3")
        .arg(dir.join("gen/gen_helpers.py"))
        .arg(header)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipping: python3 not runnable: {e}");
            return;
        }
    };
    assert!(
        out.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read(dir.join("src/helpers/generated.rs")).expect("generated.rs");
    assert!(
        out.stdout == committed,
        "src/helpers/generated.rs is stale: rerun gen/gen_helpers.py"
    );
}
