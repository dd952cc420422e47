//! Every map family against the running kernel: create, write, read back exact values;
//! batch ops agree with single ops; per-CPU values; bpftool sees the same type and sizes.

mod common;

use std::os::fd::{AsFd, AsRawFd};

use bpfkit::maps::*;
use bpfkit::sys::{self, uapi};
use common::*;

fn create(name: &str, t: MapType, k: u32, v: u32, n: u32) -> MapData {
    MapData::create(&MapParams::new(name, t, k, v, n)).expect("map create")
}

/// bpftool's view of the map: (type, key, value, max_entries).
fn bpftool_shape(map: &MapData) -> (String, u64, u64, u64) {
    let id = map.id().expect("map id").to_string();
    let j = bpftool(&["map", "show", "id", &id]);
    (
        // bpftool prints the type's name, or its number when it predates the type.
        match &j["type"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        j["bytes_key"].as_u64().expect("key"),
        j["bytes_value"].as_u64().expect("value"),
        j["max_entries"].as_u64().expect("max_entries"),
    )
}

/// bpftool names the type in lower case, or prints its number if it predates the type.
fn bpftool_knows_as(bpftool_type: &str, t: MapType) -> bool {
    bpftool_type == t.kernel_name().to_lowercase() || bpftool_type == t.number().to_string()
}

#[test]
fn hash_map_reads_back_written_values_and_bpftool_agrees() {
    let fds = FdCheck::start();
    {
        let data = create("h_basic", MapType::Hash, 4, 8, 16);
        assert_eq!(bpftool_shape(&data), ("hash".into(), 4, 8, 16));
        let map: HashMap<_, u32, u64> = HashMap::new(&data).unwrap();
        map.insert(&7, &0xdead_beef_0000_0001, BPF_ANY.into())
            .unwrap();
        map.insert(&9, &99, BPF_ANY.into()).unwrap();
        assert_eq!(map.get(&7).unwrap(), Some(0xdead_beef_0000_0001));
        assert_eq!(map.get(&8).unwrap(), None);
        let err = map.insert(&7, &1, BPF_NOEXIST.into()).unwrap_err();
        let text = bpfkit::Report(&err).to_string();
        assert!(text.contains("BPF_MAP_UPDATE_ELEM"), "{text}");
        let mut keys: Vec<u32> = map.keys().map(Result::unwrap).collect();
        keys.sort();
        assert_eq!(keys, [7, 9]);
        let mut all: Vec<(u32, u64)> = map.iter().map(Result::unwrap).collect();
        all.sort();
        assert_eq!(all, [(7, 0xdead_beef_0000_0001), (9, 99)]);
        assert!(map.remove(&7).unwrap());
        assert!(!map.remove(&7).unwrap());
        assert_eq!(map.get(&7).unwrap(), None);
    }
    fds.assert_no_leak();
}

#[test]
fn hash_map_works_owned_and_lru_evicts() {
    let fds = FdCheck::start();
    {
        let map: HashMap<MapData, u32, u32> =
            HashMap::new(create("lru", MapType::LruHash, 4, 4, 8)).unwrap();
        assert_eq!(bpftool_shape(map.map()).0, "lru_hash");
        for i in 0..64u32 {
            map.insert(&i, &(i * 10), BPF_ANY.into()).unwrap();
        }
        let kept: Vec<(u32, u32)> = map.iter().map(Result::unwrap).collect();
        assert!(
            kept.len() <= 8 && !kept.is_empty(),
            "LRU keeps at most max_entries: {kept:?}"
        );
        assert!(kept.iter().all(|(k, v)| *v == k * 10));
        assert_eq!(
            map.get(&63).unwrap(),
            Some(630),
            "newest key survives eviction"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn lookup_batch_into_fills_caller_buffers_chunk_by_chunk() {
    let fds = FdCheck::start();
    {
        let data = create("h_into", MapType::Hash, 4, 8, 1024);
        let map: HashMap<_, u32, u64> = HashMap::new(&data).unwrap();
        let keys: Vec<u32> = (0..300).collect();
        let values: Vec<u64> = keys.iter().map(|k| u64::from(*k) * 7 + 2).collect();
        assert_eq!(map.insert_batch(&keys, &values, 0).unwrap(), 300);
        // 300 elements into one 300-slot buffer, 64 per syscall, as libbpf callers do.
        let (mut k_out, mut v_out) = (vec![u32::MAX; 300], vec![0u64; 300]);
        let mut cursor = BatchCursor::new();
        let (mut got, mut calls) = (0, 0);
        while !cursor.is_done() && got < 300 {
            let end = (got + 64).min(300);
            got += map
                .lookup_batch_into(&mut cursor, &mut k_out[got..end], &mut v_out[got..end])
                .unwrap();
            calls += 1;
        }
        assert_eq!(got, 300);
        assert!(calls >= 5, "{calls} calls for 300 elements in chunks of 64");
        let mut pairs: Vec<(u32, u64)> = k_out.into_iter().zip(v_out).collect();
        pairs.sort();
        let expected: Vec<(u32, u64)> = keys.iter().copied().zip(values.iter().copied()).collect();
        assert_eq!(pairs, expected);
        // A finished cursor returns nothing more; the map is unchanged.
        if !cursor.is_done() {
            let (mut k, mut v) = ([0u32; 64], [0u64; 64]);
            assert_eq!(
                map.lookup_batch_into(&mut cursor, &mut k, &mut v).unwrap(),
                0
            );
            assert!(cursor.is_done());
        }
        assert_eq!(map.keys().count(), 300);

        // take_batch_into removes what it returns.
        let (mut k, mut v) = (vec![0u32; 1024], vec![0u64; 1024]);
        let mut cursor = BatchCursor::new();
        let n = map.take_batch_into(&mut cursor, &mut k, &mut v).unwrap();
        assert_eq!(n, 300);
        assert!(cursor.is_done());
        assert!(k[..n]
            .iter()
            .zip(&v[..n])
            .all(|(k, v)| *v == u64::from(*k) * 7 + 2));
        assert_eq!(map.keys().count(), 0);

        // Mismatched batch lengths are a typed error naming the map, before any syscall.
        match map.insert_batch(&keys[..3], &values[..2], 0) {
            Err(MapError::BatchLength {
                name,
                keys: 3,
                values: 2,
            }) => assert_eq!(name, "h_into"),
            other => panic!("expected BatchLength, got {other:?}"),
        }
    }
    fds.assert_no_leak();
}

#[test]
fn batch_operations_agree_with_single_operations() {
    let fds = FdCheck::start();
    {
        let data = create("h_batch", MapType::Hash, 4, 8, 1024);
        let map: HashMap<_, u32, u64> = HashMap::new(&data).unwrap();
        let keys: Vec<u32> = (0..500).collect();
        let values: Vec<u64> = keys.iter().map(|k| u64::from(*k) * 3 + 1).collect();
        assert_eq!(map.insert_batch(&keys, &values, 0).unwrap(), 500);
        for k in [0u32, 1, 250, 499] {
            assert_eq!(map.get(&k).unwrap(), Some(u64::from(k) * 3 + 1));
        }
        let mut batch = map.get_batch(64).unwrap();
        batch.sort();
        let mut single: Vec<(u32, u64)> = map.iter().map(Result::unwrap).collect();
        single.sort();
        assert_eq!(batch.len(), 500);
        assert_eq!(batch, single);
        assert_eq!(map.remove_batch(&keys[..100]).unwrap(), 100);
        assert_eq!(map.get(&50).unwrap(), None);
        assert_eq!(map.keys().count(), 400);
        let taken = map.take_batch(128).unwrap();
        assert_eq!(taken.len(), 400);
        assert!(taken.iter().all(|(k, v)| *v == u64::from(*k) * 3 + 1));
        assert_eq!(map.keys().count(), 0);

        let arr_data = create("a_batch", MapType::Array, 4, 4, 10);
        let arr: Array<_, u32> = Array::new(&arr_data).unwrap();
        assert_eq!(arr.set_batch(&[1, 3, 5], &[10, 30, 50], 0).unwrap(), 3);
        let got = arr.get_batch(4).unwrap();
        assert_eq!(got.len(), 10);
        let single: Vec<(u32, u32)> = (0..10).map(|i| (i, arr.get(i).unwrap())).collect();
        assert_eq!(got, single);
        assert_eq!(arr.get(3).unwrap(), 30);
    }
    fds.assert_no_leak();
}

#[test]
fn wrong_size_value_is_a_typed_error_before_any_syscall() {
    let fds = FdCheck::start();
    {
        let data = create("h_sizes", MapType::Hash, 4, 8, 4);
        let before = sys::bpf_calls_on_this_thread();
        let err = data
            .update_bytes(&1u32.to_ne_bytes(), &[0u8; 4], 0)
            .unwrap_err();
        assert!(
            matches!(&err, MapError::ValueSize { name, expected: 8, actual: 4 } if name == "h_sizes"),
            "{err:?}"
        );
        let err = data.lookup_bytes(&[0u8; 2], &mut [0u8; 8], 0).unwrap_err();
        assert!(
            matches!(
                err,
                MapError::KeySize {
                    expected: 4,
                    actual: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = HashMap::<_, u32, u32>::new(&data).unwrap_err();
        assert!(
            matches!(
                err,
                MapError::ValueSize {
                    expected: 8,
                    actual: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            bpfkit::Report(&err).to_string(),
            "map 'h_sizes': value is 4 bytes but the map's value size is 8"
        );
        let err = Array::<_, u64>::new(&data).unwrap_err();
        assert!(
            matches!(
                err,
                MapError::WrongType {
                    actual: MapType::Hash,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            sys::bpf_calls_on_this_thread(),
            before,
            "nothing reached the kernel"
        );
    }
    fds.assert_no_leak();
}

/// The kernel writes a map's whole value size through the lookup's value pointer whatever
/// the caller's buffer: every safe path that hands it a caller's buffer checks the length
/// first. An 8-byte buffer on a 56-byte value map is a typed error, nothing reaches the
/// kernel and the bytes after the short buffer stay untouched.
#[test]
fn short_output_buffers_are_typed_errors_before_the_syscall() {
    let fds = FdCheck::start();
    {
        let data = create("h_short", MapType::Hash, 4, 56, 4);
        let value: Vec<u8> = (0..56).map(|i| 0xa0 ^ i as u8).collect();
        data.update_bytes(&1u32.to_ne_bytes(), &value, 0).unwrap();
        let percpu = create("pc_short", MapType::PercpuArray, 4, 4, 1);

        // One allocation: an 8-byte "buffer" followed by a guard the kernel must not reach.
        let mut memory = [0x55u8; 64];
        let before = sys::bpf_calls_on_this_thread();
        let (short, guard) = memory.split_at_mut(8);
        let err = data
            .lookup_bytes(&1u32.to_ne_bytes(), short, 0)
            .unwrap_err();
        assert!(
            matches!(&err, MapError::ValueSize { name, expected: 56, actual: 8 } if name == "h_short"),
            "{err:?}"
        );
        let mut keys = [0u8; 4 * 4];
        let mut cursor = BatchCursor::new();
        let err = data
            .lookup_batch_into_bytes(&mut cursor, false, &mut keys, short, 4)
            .unwrap_err();
        assert!(
            matches!(
                err,
                MapError::ValueSize {
                    expected: 56,
                    actual: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = data
            .lookup_batch_into_bytes(&mut cursor, true, &mut keys[..3], &mut [0u8; 56 * 4], 4)
            .unwrap_err();
        assert!(
            matches!(err, MapError::KeySize { expected: 4, .. }),
            "{err:?}"
        );
        // A per-CPU value is one 8-byte slot per possible CPU, not the value size.
        let err = percpu
            .lookup_bytes(&0u32.to_ne_bytes(), &mut short[..4], 0)
            .unwrap_err();
        assert!(
            matches!(err, MapError::ValueSize { actual: 4, .. }),
            "{err:?}"
        );
        assert_eq!(
            sys::bpf_calls_on_this_thread(),
            before,
            "nothing reached the kernel"
        );
        assert!(guard.iter().all(|&b| b == 0x55), "guard bytes untouched");
        assert!(short.iter().all(|&b| b == 0x55), "short buffer untouched");
        assert!(!cursor.is_done());

        // The same calls with the map's sizes read back what was written.
        let mut full = vec![0u8; 56];
        assert!(data
            .lookup_bytes(&1u32.to_ne_bytes(), &mut full, 0)
            .unwrap());
        assert_eq!(full, value);
        let mut values = vec![0u8; 56 * 4];
        let n = data
            .lookup_batch_into_bytes(&mut cursor, false, &mut keys, &mut values, 4)
            .unwrap();
        assert_eq!(
            (n, &keys[..4], &values[..56]),
            (1, &1u32.to_ne_bytes()[..], &value[..])
        );
    }
    fds.assert_no_leak();
}

#[test]
fn array_values_read_back_and_through_mmap() {
    let fds = FdCheck::start();
    {
        let mut p = MapParams::new("a_mmap", MapType::Array, 4, 8, 4);
        p.map_flags = uapi::BPF_F_MMAPABLE;
        let data = MapData::create(&p).unwrap();
        assert_eq!(bpftool_shape(&data), ("array".into(), 4, 8, 4));
        let arr: Array<_, u64> = Array::new(&data).unwrap();
        arr.set(2, &0x1122_3344_5566_7788, 0).unwrap();
        assert_eq!(arr.get(2).unwrap(), 0x1122_3344_5566_7788);
        assert_eq!(arr.get(0).unwrap(), 0);
        let err = arr.get(4).unwrap_err();
        assert!(matches!(
            err,
            MapError::OutOfBounds {
                index: 4,
                max_entries: 4,
                ..
            }
        ));
        let region = arr.mmap(true).unwrap();
        assert_eq!(arr.read_mapped(&region, 2).unwrap(), 0x1122_3344_5566_7788);
        assert!(region.write(8, &77u64.to_ne_bytes()));
        assert_eq!(arr.get(1).unwrap(), 77, "write through mmap seen by lookup");
        let values: Vec<u64> = arr.iter().map(Result::unwrap).collect();
        assert_eq!(values, [0, 77, 0x1122_3344_5566_7788, 0]);
        // A read-only mapping refuses the write (instead of faulting) and still reads.
        let read_only = arr.mmap(false).unwrap();
        assert!(!read_only.write(8, &1u64.to_ne_bytes()));
        assert_eq!(arr.read_mapped(&read_only, 1).unwrap(), 77);
        assert_eq!(arr.get(1).unwrap(), 77);
    }
    fds.assert_no_leak();
}

#[test]
fn per_cpu_maps_hold_one_value_per_possible_cpu() {
    let fds = FdCheck::start();
    {
        let cpus = possible_cpus().unwrap();
        let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
        assert!(cpus >= 1, "{text}");
        let data = create("pc_arr", MapType::PercpuArray, 4, 4, 2);
        assert_eq!(bpftool_shape(&data), ("percpu_array".into(), 4, 4, 2));
        let arr: PerCpuArray<_, u32> = PerCpuArray::new(&data).unwrap();
        let values: Vec<u32> = (0..cpus as u32).map(|c| 100 + c).collect();
        arr.set(1, &PerCpuValues(values.clone()), 0).unwrap();
        assert_eq!(arr.get(1).unwrap().0, values);
        assert_eq!(arr.get(0).unwrap().0, vec![0; cpus]);
        let err = arr.set(0, &PerCpuValues(vec![1; cpus + 1]), 0).unwrap_err();
        assert!(matches!(err, MapError::CpuCount { .. }), "{err:?}");

        for t in [MapType::PercpuHash, MapType::LruPercpuHash] {
            let data = create("pc_hash", t, 8, 2, 8);
            let map: PerCpuHashMap<_, u64, u16> = PerCpuHashMap::new(&data).unwrap();
            let values: Vec<u16> = (0..cpus as u16).map(|c| 7 * (c + 1)).collect();
            map.insert(&5, &PerCpuValues(values.clone()), 0).unwrap();
            assert_eq!(map.get(&5).unwrap().unwrap().0, values);
            let batch = map.get_batch(4).unwrap();
            assert_eq!(batch, vec![(5u64, PerCpuValues(values.clone()))]);
            assert!(map.remove(&5).unwrap());
        }
    }
    fds.assert_no_leak();
}

#[test]
fn lpm_trie_matches_the_longest_prefix() {
    let fds = FdCheck::start();
    {
        let mut p = MapParams::new("lpm", MapType::LpmTrie, 8, 4, 16);
        p.map_flags = uapi::BPF_F_NO_PREALLOC;
        let data = MapData::create(&p).unwrap();
        assert_eq!(bpftool_shape(&data), ("lpm_trie".into(), 8, 4, 16));
        let trie: LpmTrie<_, [u8; 4], u32> = LpmTrie::new(&data).unwrap();
        let key = |len, ip: [u8; 4]| LpmKey {
            prefix_len: len,
            data: ip,
        };
        trie.insert(&key(8, [10, 0, 0, 0]), &1, 0).unwrap();
        trie.insert(&key(16, [10, 1, 0, 0]), &2, 0).unwrap();
        assert_eq!(trie.get(&key(32, [10, 1, 2, 3])).unwrap(), Some(2));
        assert_eq!(trie.get(&key(32, [10, 2, 2, 3])).unwrap(), Some(1));
        assert_eq!(trie.get(&key(32, [11, 0, 0, 1])).unwrap(), None);
        assert_eq!(trie.keys().count(), 2);
        assert!(trie.remove(&key(16, [10, 1, 0, 0])).unwrap());
        assert_eq!(trie.get(&key(32, [10, 1, 2, 3])).unwrap(), Some(1));
    }
    fds.assert_no_leak();
}

#[test]
fn queue_is_fifo_and_stack_is_lifo() {
    let fds = FdCheck::start();
    {
        let q: Queue<MapData, u64> = Queue::new(create("q", MapType::Queue, 0, 8, 4)).unwrap();
        assert_eq!(bpftool_shape(q.map()), ("queue".into(), 0, 8, 4));
        let s: Stack<MapData, u64> = Stack::new(create("s", MapType::Stack, 0, 8, 4)).unwrap();
        for v in [1u64, 2, 3] {
            q.push(&v, 0).unwrap();
            s.push(&v, 0).unwrap();
        }
        assert_eq!(q.peek().unwrap(), Some(1));
        assert_eq!(s.peek().unwrap(), Some(3));
        assert_eq!(
            [
                q.pop().unwrap(),
                q.pop().unwrap(),
                q.pop().unwrap(),
                q.pop().unwrap()
            ],
            [Some(1), Some(2), Some(3), None]
        );
        assert_eq!(
            [
                s.pop().unwrap(),
                s.pop().unwrap(),
                s.pop().unwrap(),
                s.pop().unwrap()
            ],
            [Some(3), Some(2), Some(1), None]
        );
    }
    fds.assert_no_leak();
}

#[test]
fn bloom_filter_contains_what_was_added() {
    let fds = FdCheck::start();
    {
        let mut p = MapParams::new("bloom", MapType::BloomFilter, 0, 4, 100);
        p.map_extra = 3;
        let bloom: BloomFilter<MapData, u32> =
            BloomFilter::new(MapData::create(&p).unwrap()).unwrap();
        assert_eq!(
            bpftool_shape(bloom.map()),
            ("bloom_filter".into(), 0, 4, 100)
        );
        for v in [10u32, 20, 30] {
            bloom.insert(&v).unwrap();
        }
        for v in [10u32, 20, 30] {
            assert!(bloom.contains(&v).unwrap());
        }
        let absent = (1000..1100u32)
            .filter(|v| !bloom.contains(v).unwrap())
            .count();
        assert!(
            absent > 90,
            "a 100-entry filter with 3 values rejects most others: {absent}"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn stack_trace_ring_buffers_and_perf_event_array_are_created_as_requested() {
    let fds = FdCheck::start();
    {
        let st = StackTraceMap::new(create("stacks", MapType::StackTrace, 4, 127 * 8, 64)).unwrap();
        assert_eq!(bpftool_shape(st.map()), ("stack_trace".into(), 4, 1016, 64));
        assert_eq!(st.get(0).unwrap(), None);
        assert_eq!(st.stack_ids().count(), 0);

        let rb = RingBufMap::create("rb", 1 << 16).unwrap();
        assert_eq!(rb.size(), 1 << 16);
        assert_eq!(bpftool_shape(rb.map()), ("ringbuf".into(), 0, 0, 65536));
        let urb = UserRingBufMap::create("urb", 1 << 14).unwrap();
        assert_eq!(bpftool_shape(urb.map()).3, 16384);
        let err = RingBufMap::create("rb_bad", 1000).unwrap_err();
        assert!(
            matches!(&err, MapError::Syscall { source, .. } if source.errno() == Some(libc::EINVAL)),
            "{err:?}"
        );

        let cpus = possible_cpus().unwrap() as u32;
        let pea = PerfEventArray::new(create("perf", MapType::PerfEventArray, 4, 4, cpus)).unwrap();
        assert_eq!(
            bpftool_shape(pea.map()),
            ("perf_event_array".into(), 4, 4, u64::from(cpus))
        );
        assert!(!pea.clear(0).unwrap());
    }
    fds.assert_no_leak();
}

#[test]
fn maps_of_maps_store_inner_maps_by_id() {
    let fds = FdCheck::start();
    {
        let inner_a = create("inner_a", MapType::Array, 4, 4, 1);
        let inner_b = create("inner_b", MapType::Array, 4, 4, 1);
        let mut p = MapParams::new("aom", MapType::ArrayOfMaps, 4, 4, 2);
        p.inner_map = Some(&inner_a);
        let aom = ArrayOfMaps::new(MapData::create(&p).unwrap()).unwrap();
        assert_eq!(bpftool_shape(aom.map()), ("array_of_maps".into(), 4, 4, 2));
        aom.set(1, &inner_b, 0).unwrap();
        assert_eq!(aom.get_id(1).unwrap(), Some(inner_b.id().unwrap()));
        assert_eq!(aom.get_id(0).unwrap(), None);
        let reopened = MapData::from_id(aom.get_id(1).unwrap().unwrap()).unwrap();
        assert_eq!(reopened.name(), "inner_b");

        let mut p = MapParams::new("hom", MapType::HashOfMaps, 8, 4, 4);
        p.inner_map = Some(&inner_a);
        let hom: HashOfMaps<_, u64> = HashOfMaps::new(MapData::create(&p).unwrap()).unwrap();
        hom.insert(&42, &inner_a, 0).unwrap();
        assert_eq!(hom.get_id(&42).unwrap(), Some(inner_a.id().unwrap()));
        assert_eq!(hom.keys().map(Result::unwrap).collect::<Vec<_>>(), [42]);
        assert!(hom.remove(&42).unwrap());
    }
    fds.assert_no_leak();
}

#[test]
fn local_storage_holds_a_value_per_socket_file_task_and_cgroup() {
    let fds = FdCheck::start();
    {
        let btf = sys::btf_load(&btf_int()).unwrap();
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        // SAFETY: pidfd_open(getpid(), 0) returns a new fd or -1.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) } as i32;
        assert!(pidfd >= 0, "pidfd_open");
        // SAFETY: a fresh fd we own.
        let pidfd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(pidfd) };
        let cgroup = std::fs::File::open(
            bpfkit_test_support::cgroup::cgroup2_root().expect("a cgroup2 mount"),
        )
        .unwrap();
        let cases: [(MapType, std::os::fd::BorrowedFd<'_>); 4] = [
            (MapType::SkStorage, socket.as_fd()),
            (MapType::InodeStorage, file.as_fd()),
            (MapType::TaskStorage, pidfd.as_fd()),
            (MapType::CgrpStorage, cgroup.as_fd()),
        ];
        for (t, owner) in cases {
            let mut p = MapParams::new("storage", t, 4, 4, 0);
            p.map_flags = uapi::BPF_F_NO_PREALLOC;
            p.btf = Some((btf.as_fd(), 1, 1));
            let data = MapData::create(&p).unwrap_or_else(|e| panic!("{t}: {e}"));
            let (bt, k, v, n) = bpftool_shape(&data);
            assert!(bpftool_knows_as(&bt, t), "{t}: bpftool says {bt}");
            assert_eq!((k, v, n), (4, 4, 0));
            let st: LocalStorage<_, i32> = LocalStorage::new(&data).unwrap();
            assert_eq!(
                st.get(owner).unwrap_or_else(|e| panic!("{t}: {e}")),
                None,
                "{t}"
            );
            st.insert(owner, &-5, 0)
                .unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(st.get(owner).unwrap(), Some(-5), "{t}");
            assert!(st.remove(owner).unwrap(), "{t}");
        }
    }
    fds.assert_no_leak();
}

#[test]
fn socket_maps_accept_sockets() {
    let fds = FdCheck::start();
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let sm = SockMap::new(create("sockmap", MapType::Sockmap, 4, 8, 2)).unwrap();
        assert_eq!(bpftool_shape(sm.map()), ("sockmap".into(), 4, 8, 2));
        sm.set(0, client.as_fd(), 0).unwrap();
        // Lookup from user space returns the socket cookie.
        let mut cookie = [0u8; 8];
        assert!(sm
            .map()
            .lookup_bytes(&0u32.to_ne_bytes(), &mut cookie, 0)
            .unwrap());
        assert_ne!(u64::from_ne_bytes(cookie), 0);
        assert!(sm.clear(0).unwrap());
        let sh: SockHash<_, u32> =
            SockHash::new(create("sockhash", MapType::Sockhash, 4, 8, 2)).unwrap();
        assert_eq!(bpftool_shape(sh.map()).0, "sockhash");
        sh.insert(&77, client.as_fd(), 0).unwrap();
        assert!(sh.remove(&77).unwrap());
        assert!(!sh.remove(&77).unwrap());
    }
    fds.assert_no_leak();
}

#[test]
fn xdp_redirect_maps_store_interfaces_and_cpus() {
    let fds = FdCheck::start();
    {
        let lo = 1u32; // the loopback interface is always ifindex 1
        let dm = DevMap::new(create("devmap", MapType::Devmap, 4, 4, 4)).unwrap();
        assert_eq!(bpftool_shape(dm.map()), ("devmap".into(), 4, 4, 4));
        dm.set(2, lo, 0).unwrap();
        assert_eq!(dm.get(2).unwrap(), Some(lo));
        let dmh = DevMapHash::new(create("devmap_hash", MapType::DevmapHash, 4, 8, 4)).unwrap();
        assert_eq!(bpftool_shape(dmh.map()), ("devmap_hash".into(), 4, 8, 4));
        dmh.set(1000, lo, 0).unwrap();
        assert_eq!(dmh.get(1000).unwrap(), Some(lo));
        assert_eq!(dmh.get(1).unwrap(), None);
        let cm = CpuMap::new(create("cpumap", MapType::Cpumap, 4, 4, 2)).unwrap();
        assert_eq!(bpftool_shape(cm.map()), ("cpumap".into(), 4, 4, 2));
        cm.set(0, 192, 0).unwrap();
        assert_eq!(cm.get(0).unwrap(), Some(192));
        let xsk = XskMap::new(create("xskmap", MapType::Xskmap, 4, 4, 4)).unwrap();
        assert_eq!(bpftool_shape(xsk.map()), ("xskmap".into(), 4, 4, 4));
        // The kernel reports success when clearing an empty XSKMAP slot.
        assert!(xsk.clear(0).unwrap());
    }
    fds.assert_no_leak();
}

#[test]
fn arena_is_created_and_mapped_read_write() {
    if bpfkit_test_support::skip_without_arena("arena_is_created_and_mapped_read_write") {
        return;
    }
    let fds = FdCheck::start();
    {
        let arena = Arena::create("arena", 4).unwrap();
        let shape = bpftool_shape(arena.map());
        assert!(bpftool_knows_as(&shape.0, MapType::Arena), "{}", shape.0);
        assert_eq!((shape.1, shape.2, shape.3), (0, 0, 4));
        let region = arena.mmap().unwrap();
        assert_eq!(region.len(), arena.size());
        assert!(region.write(4096 + 16, b"bpfkit"));
        let mut back = [0u8; 6];
        assert!(region.read(4096 + 16, &mut back));
        assert_eq!(&back, b"bpfkit");
        assert!(
            !region.read(arena.size() - 2, &mut back),
            "out of range read refused"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn prog_array_stores_programs_by_index() {
    let fds = FdCheck::start();
    {
        let insns = [mov64_imm(0, 0), exit()];
        let (prog, _) = sys::prog_load(&sys::ProgLoadAttr {
            prog_type: uapi::BPF_PROG_TYPE_SOCKET_FILTER,
            insns: &insns,
            license: c"GPL",
            name: "tail",
            ..Default::default()
        })
        .unwrap();
        let pa = ProgramArray::new(create("progs", MapType::ProgArray, 4, 4, 4)).unwrap();
        assert_eq!(bpftool_shape(pa.map()), ("prog_array".into(), 4, 4, 4));
        pa.set(3, prog.as_fd()).unwrap();
        let info = bpfkit::info::ProgramInfo::from_fd(prog.as_fd()).unwrap();
        assert_eq!(pa.get_id(3).unwrap(), Some(info.id));
        assert!(pa.clear(3).unwrap());
        let _ = prog.as_raw_fd();
    }
    fds.assert_no_leak();
}
