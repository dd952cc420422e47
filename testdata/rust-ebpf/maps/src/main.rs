//! Every BTF-defined map type of bpfkit-ebpf, and XDP programs (run with BPF_PROG_TEST_RUN)
//! that exercise the kernel-side APIs and store what they observed in `RESULTS`.
#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::flags::{BPF_ANY, BPF_EXIST};
use bpfkit_ebpf::bindings::bpf_cgroup_storage_key;
use bpfkit_ebpf::loops::{for_each, LoopControl};
use bpfkit_ebpf::maps::UserRingBufSample;
use bpfkit_ebpf::macros::{map, xdp};
use bpfkit_ebpf::maps::*;
use bpfkit_ebpf::programs::{XdpContext, XDP_ABORTED, XDP_PASS};
use bpfkit_ebpf::sync::SpinLock;
use bpfkit_ebpf::{Global, GlobalMut};

/// A map value guarded by the kernel's spin lock.
#[repr(C)]
pub struct Locked {
    pub lock: SpinLock,
    pub count: u64,
}

#[map]
static RESULTS: Array<u64, 32> = Array::new();
#[map]
static HASH: HashMap<u32, u64, 16> = HashMap::new();
#[map]
static LRU: LruHashMap<u32, u64, 16> = LruHashMap::new();
#[map]
static PERCPU_HASH: PerCpuHashMap<u32, u64, 16> = PerCpuHashMap::new();
#[map]
static LRU_PERCPU_HASH: LruPerCpuHashMap<u32, u64, 16> = LruPerCpuHashMap::new();
#[map]
static PERCPU: PerCpuArray<u64, 4> = PerCpuArray::new();
#[map]
static FIFO: Queue<u64, 8> = Queue::new();
#[map]
static LIFO: Stack<u64, 8> = Stack::new();
#[map]
static SEEN: BloomFilter<u64, 64> = BloomFilter::new();
#[map]
static ROUTES: LpmTrie<[u8; 4], u64, 16> = LpmTrie::new();
#[map]
static LOCKED: Array<Locked, 1> = Array::new();
#[map]
static JUMPS: ProgramArray<4> = ProgramArray::new();
#[map]
static STACKS: StackTrace<16> = StackTrace::new();
#[map]
static EVENTS: RingBuf<4096> = RingBuf::new();
#[map]
static PERF: PerfEventArray = PerfEventArray::new();
#[map]
static FROM_USER: UserRingBuf<4096> = UserRingBuf::new();
#[map]
static INNER_TABLES: ArrayOfMaps<Array<u32, 4>, 2> = ArrayOfMaps::new();
#[map]
static NAMED_TABLES: HashOfMaps<u32, Array<u32, 4>, 2> = HashOfMaps::new();
#[map]
static SK_DATA: SkStorage<u64> = SkStorage::new();
#[map]
static INODE_DATA: InodeStorage<u64> = InodeStorage::new();
#[map]
static TASK_DATA: TaskStorage<u64> = TaskStorage::new();
#[map]
static CGRP_DATA: CgrpStorage<u64> = CgrpStorage::new();
#[map]
static SOCKS: SockMap<4> = SockMap::new();
#[map]
static SOCKS_BY_PORT: SockHash<u32, 4> = SockHash::new();
#[map]
static DEVS: DevMap<4> = DevMap::new();
#[map]
static DEVS_BY_INDEX: DevMapHash<4> = DevMapHash::new();
#[map]
static CPUS: CpuMap<4> = CpuMap::new();
#[map]
static XSKS: XskMap<4> = XskMap::new();

#[unsafe(no_mangle)]
static MAGIC: Global<u32> = Global::new(1234);
static RUNS: GlobalMut<u64> = GlobalMut::new(0);

fn store(slot: u32, value: u64) {
    if let Some(mut p) = RESULTS.get_ptr_mut(slot) {
        // SAFETY: the pointer is a live array element.
        unsafe { *p.as_mut() = value };
    }
}

#[xdp]
fn exercise_maps(ctx: XdpContext) -> u32 {
    // hash maps: insert then read back
    let _ = HASH.insert(&7, &700, BPF_ANY);
    store(0, HASH.get_copy(&7).unwrap_or(0));
    let _ = LRU.insert(&8, &800, BPF_ANY);
    store(1, LRU.get_copy(&8).unwrap_or(0));
    let _ = PERCPU_HASH.insert(&9, &900, BPF_ANY);
    let _ = LRU_PERCPU_HASH.insert(&9, &901, BPF_ANY);
    store(2, PERCPU_HASH.get_copy(&9).unwrap_or(0) + LRU_PERCPU_HASH.get_copy(&9).unwrap_or(0));
    // removal: present once, then absent
    let removed = HASH.remove(&7).is_ok() as u64 * 10 + HASH.remove(&7).is_ok() as u64;
    store(3, removed);
    // per-CPU array
    let _ = PERCPU.set(1, &31, BPF_EXIST);
    store(4, PERCPU.get(1).copied().unwrap_or(0));
    // queue is FIFO, stack LIFO
    let _ = FIFO.push(&1, 0);
    let _ = FIFO.push(&2, 0);
    let _ = LIFO.push(&1, 0);
    let _ = LIFO.push(&2, 0);
    store(5, FIFO.pop().unwrap_or(0) * 10 + LIFO.pop().unwrap_or(0));
    // bloom filter: no false negatives
    let _ = SEEN.insert(&42);
    store(6, SEEN.contains(&42) as u64);
    // LPM trie: the longest prefix wins
    let _ = ROUTES.insert(&LpmKey::new(8, [10, 0, 0, 0]), &1, BPF_ANY);
    let _ = ROUTES.insert(&LpmKey::new(16, [10, 1, 0, 0]), &2, BPF_ANY);
    store(7, ROUTES.get_copy(&LpmKey::new(32, [10, 1, 2, 3])).unwrap_or(0) * 10
        + ROUTES.get_copy(&LpmKey::new(32, [10, 9, 9, 9])).unwrap_or(0));
    // bpf_loop with a closure capturing state
    let mut sum = 0u64;
    let iterations = for_each(10, |i| {
        sum += i as u64;
        LoopControl::Continue
    })
    .unwrap_or(0);
    store(8, sum * 100 + iterations as u64);
    // spin lock in a map value
    if let Some(mut cell) = LOCKED.get_ptr_mut(0) {
        // SAFETY: array elements live as long as the map.
        let cell = unsafe { cell.as_mut() };
        let guard = cell.lock.lock();
        cell.count += 1;
        drop(guard);
        store(9, cell.count);
    }
    // globals: frozen .rodata and .bss
    store(10, MAGIC.get() as u64);
    RUNS.set(RUNS.get() + 1);
    store(11, RUNS.get());
    // packet bounds
    store(12, ctx.load::<[u8; 4]>(0).map_or(0, u32::from_be_bytes) as u64);
    // ring buffer output (no reader: just that the helper succeeds)
    store(13, EVENTS.output(&0xabcdu64, 0).is_ok() as u64);
    // tail call into slot 0 (filled by userspace); falls through when empty
    let _ = JUMPS.tail_call(&ctx, 0);
    XDP_PASS
}

#[xdp]
fn tail_target(_ctx: XdpContext) -> u32 {
    store(14, 99);
    XDP_ABORTED
}

/// Keeps the definitions that no program above uses referenced, with their key types.
#[xdp]
fn touch_definitions(ctx: XdpContext) -> u32 {
    let _ = &STACKS;
    let _ = &PERF;
    // user ring buffer: sum the u64 samples userspace wrote, count them
    let mut sum = 0u64;
    let drained = FROM_USER
        .drain(
            |sample: &UserRingBufSample| {
                sum += sample.read::<u64>(0).unwrap_or(0);
                LoopControl::Continue
            },
            0,
        )
        .unwrap_or(0);
    store(16, sum * 10 + drained as u64);
    // map-in-map: the inner array userspace put at slot 0 / key 1, element 2
    let inner = INNER_TABLES.get(0).and_then(|inner| inner.get(2)).copied().unwrap_or(0);
    let named = NAMED_TABLES.get(&1).and_then(|inner| inner.get(2)).copied().unwrap_or(0);
    store(15, inner as u64 * 1000 + named as u64);
    let _ = (&SK_DATA, &INODE_DATA, &TASK_DATA, &CGRP_DATA, &SOCKS, &SOCKS_BY_PORT);
    let _ = (&DEVS_BY_INDEX, &CPUS, &XSKS);
    let _ = bpf_cgroup_storage_key::default();
    let _ = ctx.ingress_ifindex();
    DEVS.redirect(0, XDP_PASS as u64)
}

bpfkit_ebpf::license!("GPL");
