//! Threads: the `Send`/`Sync` promises of the crate docs ("Thread safety") checked at compile
//! time, and several threads loading, attaching and reading at once (each its own object,
//! plus one object shared by reference whose map every thread updates). Run as root.

mod common;

use std::ffi::CString;
use std::sync::Barrier;

use bpfkit::loader::{Loader, Object};
use bpfkit::maps::{Array, MapData};
use bpfkit::programs::tracepoint;
use bpfkit::readers::RingBuf;
use common::FdCheck;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

/// Every public type that owns kernel objects or reader state, with the bound the crate docs
/// give it. A change that breaks one fails to compile here.
#[test]
fn public_types_are_send_and_sync_as_documented() {
    use bpfkit::{info, links, loader, maps, programs, readers, sys};
    // Owned kernel objects and their typed views: fds and plain data.
    send_sync::<loader::Object>();
    send_sync::<loader::Program>();
    send_sync::<loader::Loader>();
    send_sync::<loader::Prepared>();
    send_sync::<loader::KernelBtf>();
    send_sync::<maps::MapData>();
    send_sync::<maps::MapParams<'static>>();
    send_sync::<maps::HashMap<MapData, u32, u64>>();
    send_sync::<maps::Array<&'static MapData, u64>>();
    send_sync::<maps::PerCpuArray<MapData, u64>>();
    send_sync::<maps::PerCpuHashMap<MapData, u32, u64>>();
    send_sync::<maps::LpmTrie<MapData, u32, u64>>();
    send_sync::<maps::BloomFilter<MapData, u32>>();
    send_sync::<maps::StackTraceMap<MapData>>();
    send_sync::<maps::ProgramArray<MapData>>();
    send_sync::<maps::ArrayOfMaps<MapData>>();
    send_sync::<maps::HashOfMaps<MapData, u32>>();
    send_sync::<maps::PerfEventArray<MapData>>();
    send_sync::<maps::Arena<MapData>>();
    send_sync::<links::Link>();
    send_sync::<info::StatsGuard>();
    send_sync::<sys::MmapRegion>();
    send_sync::<sys::netlink::RouteSocket>();
    send_sync::<programs::Interface>();
    // Readers: owned by one consumer at a time; moved between threads, not shared (their
    // methods take `&mut self`, and `Sync` costs nothing because nothing is shared through
    // `&self` but positions read atomically).
    send_sync::<readers::RingBuf>();
    send_sync::<readers::PerfBuffer>();
    send_sync::<readers::RingBufPoller>();
    send_sync::<readers::Poller>();
    send_sync::<readers::UserRingBufWriter>();
    send_sync::<readers::AsyncRingBuf>();
    send_sync::<readers::AsyncPerfBuffer>();
    // A zero-copy batch borrows its ring mutably and tracks positions in `Cell`s: `Send`
    // (it can move with the `&mut RingBuf`), not `Sync`.
    send::<readers::Batch<'static>>();
    // Errors cross threads (`Box<dyn Error + Send + Sync>`).
    send_sync::<loader::LoadError>();
    send_sync::<maps::MapError>();
    send_sync::<programs::AttachError>();
    send_sync::<links::LinkError>();
    send_sync::<readers::ReaderError>();
    send_sync::<sys::SyscallError>();
    send_sync::<sys::ProgLoadError>();
    send_sync::<sys::netlink::NetlinkError>();
    send_sync::<bpfkit::pin::PinError>();
    send_sync::<bpfkit::skel::SkelError>();
    send_sync::<programs::QueryError>();
    // Plain data: options, attributes, info records, probes, seam calls, fd-trace leaks.
    send_sync::<sys::MapCreateAttr<'static>>();
    send_sync::<sys::ProgLoadAttr<'static>>();
    send_sync::<sys::TestRunAttr<'static>>();
    send_sync::<sys::seam::Call>();
    send_sync::<sys::seam::Reply>();
    send_sync::<sys::fdtrace::Leak>();
    send_sync::<loader::TestRun<'static>>();
    send_sync::<loader::TestRunOutput>();
    send_sync::<programs::auto::AutoTargets<'static>>();
    send_sync::<programs::tc::TcOptions<'static>>();
    send_sync::<programs::netkit::NetkitOptions<'static>>();
    send_sync::<programs::uprobe::UprobeOptions>();
    send_sync::<readers::PerfBufferOptions>();
    send_sync::<info::ProgramInfo>();
    send_sync::<info::MapInfo>();
    send_sync::<info::LinkInfo>();
    send_sync::<bpfkit::features::Feature>();
    send_sync::<bpfkit::skel::GlobalSection>();
    send_sync::<bpfkit::skel::PinnedMaps>();
    send_sync::<bpfkit::skel::MapSource<'static>>();
    send_sync::<bpfkit::skel::MapShape>();
    send_sync::<bpfkit::caps::Capability>();
    // `Report` borrows a `dyn Error` that need not be `Sync`: neither, by design (it only
    // formats an error where it is).
}

fn load() -> Object {
    let mut loader = Loader::new();
    loader.set_global("target_pid", &(std::process::id() as i32).to_ne_bytes());
    loader
        .load_file(bpfkit_test_support::fixture("run_records"))
        .unwrap_or_else(|e| panic!("load: {}", bpfkit::Report(&e)))
}

fn openat(path: &str) {
    let c = CString::new(path).unwrap();
    // SAFETY: a NUL-terminated path; fails with ENOENT, opens nothing.
    let ret = unsafe { libc::openat(libc::AT_FDCWD, c.as_ptr(), libc::O_RDONLY) };
    assert_eq!(ret, -1);
}

/// Paths of the records in `ring`.
fn paths(ring: &mut RingBuf) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(record) = ring.next().expect("ring read") {
        let path = &record[20..];
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        out.push(String::from_utf8_lossy(&path[..end]).into_owned());
    }
    out
}

/// Four threads, each: load its own object, attach, trigger 50 openats naming the thread,
/// read its own ring — while all of them update one shared array through `&MapData` (the
/// object's `.bss` map, `calls`, is not used: a separate array) and every ring sees the
/// others' events too (the programs filter by process, not by thread).
#[test]
fn threads_load_attach_and_read_at_once() {
    const THREADS: usize = 4;
    const EVENTS: usize = 50;
    let fds = FdCheck::start();
    let shared = MapData::create(&bpfkit::maps::MapParams::new(
        "conc_shared",
        bpfkit::maps::MapType::Array,
        4,
        8,
        THREADS as u32,
    ))
    .expect("shared array");
    let shared_view: Array<&MapData, u64> = Array::new(&shared).expect("typed view");
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let barrier = &barrier;
                let shared_view = &shared_view;
                s.spawn(move || {
                    let object = load();
                    let program = object.program("record_openat").expect("record_openat");
                    let mut ring = RingBuf::new(object.map("opens").expect("opens")).expect("ring");
                    let link = tracepoint::attach(program, "syscalls", "sys_enter_openat")
                        .unwrap_or_else(|e| panic!("attach: {}", bpfkit::Report(&e)));
                    barrier.wait();
                    let mut mine = 0;
                    for i in 0..EVENTS {
                        openat(&format!("/nonexistent-bpfkit-conc/{t}/{i}"));
                        shared_view.set(t as u32, &(i as u64 + 1), 0).expect("set");
                        mine += paths(&mut ring)
                            .iter()
                            .filter(|p| p.starts_with(&format!("/nonexistent-bpfkit-conc/{t}/")))
                            .count();
                    }
                    // Everything attached by now: the other threads' events arrive as well.
                    barrier.wait();
                    drop(link);
                    (mine, program.id().expect("prog id"))
                })
            })
            .collect();
        let mut ids = Vec::new();
        for (t, h) in handles.into_iter().enumerate() {
            let (mine, id) = h.join().expect("thread");
            assert_eq!(mine, EVENTS, "thread {t} read its own events");
            ids.push(id);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), THREADS, "one program per thread");
    });
    for t in 0..THREADS as u32 {
        assert_eq!(shared_view.get(t).expect("get"), EVENTS as u64);
    }
    drop(shared);
    fds.assert_no_leak();
}
