//! The CO-RE view of a parsed BTF allocates nothing per lookup: `type_by_id` on a struct,
//! an enum and a function prototype, and reading every member, enumerator and parameter,
//! leave the allocation counter where it was. Read from the running kernel's BTF.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bpfkit_obj::btf::{Btf, Kind};
use bpfkit_obj::relo::TypeSource;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn type_lookups_do_not_allocate() {
    let Ok(bytes) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        println!("SKIP no /sys/kernel/btf/vmlinux");
        return;
    };
    let btf = Btf::parse(&bytes).unwrap();
    let task = btf.id_by_name_kind("task_struct", Kind::Struct).unwrap();
    let state = btf.id_by_name_kind("bpf_map_type", Kind::Enum).unwrap();
    let proto = (1..Btf::type_count(&btf))
        .find(|&id| {
            TypeSource::type_by_id(&btf, id)
                .is_some_and(|t| t.kind() == Kind::FuncProto && t.vlen() >= 3)
        })
        .unwrap();

    // Both routes: the CO-RE engine's (`TypeSource`) and the checked public one.
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let (mut members, mut named, mut enumerators, mut params) = (0, 0, 0u64, 0);
    for _ in 0..100 {
        let t = TypeSource::type_by_id(&btf, task).unwrap();
        for m in t.members().iter() {
            members += 1;
            named += usize::from(!m.name.is_empty());
        }
        let e = TypeSource::type_by_id(&btf, state).unwrap();
        enumerators += e.enumerators().iter().map(|e| e.raw).sum::<u64>();
        let p = TypeSource::type_by_id(&btf, proto).unwrap();
        params += p.params().iter().filter(|p| p.type_id != 0).count();
        let checked = btf.type_by_id(task).unwrap();
        members += checked.members().len();
        let e = btf.type_by_id(state).unwrap();
        enumerators += e.enumerators().iter().map(|e| e.raw).sum::<u64>();
    }
    let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(allocated, 0, "allocations during 500 lookups");

    // Both routes read the same records.
    let whole = btf.type_by_id(task).unwrap();
    let view = TypeSource::type_by_id(&btf, task).unwrap();
    assert_eq!(whole, view);
    let decoded = whole.members();
    assert!(
        decoded.len() > 50,
        "task_struct has {} members",
        decoded.len()
    );
    assert_eq!(members, 200 * decoded.len());
    assert_eq!(
        named,
        100 * decoded.iter().filter(|m| !m.name.is_empty()).count()
    );
    assert!(enumerators > 0 && params > 0);
}
