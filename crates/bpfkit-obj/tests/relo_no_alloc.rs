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
fn type_lookups_through_type_source_do_not_allocate() {
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
                .is_some_and(|t| t.kind == Kind::FuncProto && t.vlen() >= 3)
        })
        .unwrap();

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let (mut members, mut named, mut enumerators, mut params) = (0, 0, 0u64, 0);
    for _ in 0..100 {
        let t = TypeSource::type_by_id(&btf, task).unwrap();
        for m in t.members().iter() {
            members += 1;
            named += usize::from(!m.name.is_empty());
        }
        let e = TypeSource::type_by_id(&btf, state).unwrap();
        enumerators += e.enumerators().iter().map(|e| e.value).sum::<u64>();
        let p = TypeSource::type_by_id(&btf, proto).unwrap();
        params += p.params().iter().filter(|p| p.type_id != 0).count();
    }
    let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(allocated, 0, "allocations during 300 lookups");

    // What the lazy view read is the parser's decoded type.
    let whole = btf.type_by_id(task).unwrap();
    let decoded = whole.members().unwrap();
    assert_eq!(members, 100 * decoded.len());
    assert_eq!(
        named,
        100 * decoded.iter().filter(|m| !m.name.is_empty()).count()
    );
    let view = TypeSource::type_by_id(&btf, task).unwrap();
    for (lazy, m) in view.members().iter().zip(decoded) {
        assert_eq!((lazy.name, lazy.type_id), (m.name, m.type_id));
        assert_eq!(lazy.bit_offset, m.bit_offset);
        assert_eq!(lazy.bitfield_size, u32::from(m.bitfield_size));
    }
    assert!(enumerators > 0 && params > 0);
}
