//! Rust type shapes whose BTF (from rustc's debug info, fixed up by bpfkit-link) the kernel
//! must accept: data-carrying enums, tuples, generics, closures, zero-sized statics, `char`,
//! reordered fields, `&str`, `Option`, unnamed parameters.
#![no_std]
#![no_main]

use core::marker::PhantomData;
use testprog::{MapDef, BPF_MAP_TYPE_ARRAY};

/// Fields declared out of size order: rustc reorders them (b, c, a) in memory.
pub struct Reordered {
    pub a: u8,
    pub b: u64,
    pub c: u16,
}

/// An enum carrying data.
pub enum Event {
    Empty,
    Exec { pid: u32, ppid: u32 },
    Exit(i64),
    Letter(char),
}

/// A generic wrapper.
pub struct Wrapper<T, const N: usize> {
    pub items: [T; N],
    pub len: u8,
}

/// A zero-sized type.
pub struct Unit;

pub struct Shapes {
    pub reordered: Reordered,
    pub event: Event,
    pub pair: (u8, u32),
    pub maybe: Option<u32>,
    pub wrapped: Wrapper<u16, 3>,
    pub letter: char,
    pub unit: Unit,
    pub phantom: PhantomData<u64>,
    pub wide: i128,
}

#[unsafe(no_mangle)]
#[unsafe(link_section = ".maps")]
pub static SHAPES: MapDef<BPF_MAP_TYPE_ARRAY, u32, Shapes, 1> = MapDef::new();

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[unsafe(no_mangle)]
pub static GREETING: &str = "hello";
#[unsafe(no_mangle)]
pub static LETTER: char = 'λ';
#[unsafe(no_mangle)]
pub static NOTHING: () = ();
#[unsafe(no_mangle)]
pub static MARKER: PhantomData<u64> = PhantomData;
#[unsafe(no_mangle)]
pub static UNIT_STRUCT: Unit = Unit;
#[unsafe(no_mangle)]
pub static PAIR: (u8, u32) = (7, 42);
#[unsafe(no_mangle)]
pub static mut HITS: u64 = 0;
/// A float (kept out of the map value: bpftool 7.1 cannot print FLOAT members).
#[unsafe(no_mangle)]
pub static mut RATIO: f64 = 0.5;

/// A tuple pattern parameter and a `_` parameter: both unnamed in debug info.
#[inline(never)]
fn mix((a, b): (u32, u32), _: u64, event: &Event) -> u32 {
    let extra = match event {
        Event::Empty => 0,
        Event::Exec { pid, ppid } => pid ^ ppid,
        Event::Exit(code) => *code as u32,
        Event::Letter(c) => *c as u32,
    };
    a.wrapping_mul(31).wrapping_add(b) ^ extra
}

/// A generic function called with a closure: its parameter type is `{closure_env#0}`.
#[inline(never)]
fn apply<F: Fn(u32) -> u32>(f: F, x: u32) -> u32 {
    f(x)
}

#[inline(never)]
fn first_byte(s: &str) -> u8 {
    match s.as_bytes().first() {
        Some(b) => *b,
        None => 0,
    }
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "tracepoint/syscalls/sys_enter_getppid")]
pub extern "C" fn shapes(_ctx: *mut core::ffi::c_void) -> u32 {
    let pid = testprog::current_tgid();
    let offset = pid & 0xff;
    let event = if pid & 1 == 0 {
        Event::Exec { pid, ppid: 1 }
    } else {
        Event::Letter(LETTER)
    };
    let mixed = mix((pid, PAIR.1), 0, &event);
    let scaled = apply(move |x| x.wrapping_add(offset), mixed);
    let key = 0u32;
    if let Some(shapes) = SHAPES.get(&key) {
        shapes.reordered = Reordered {
            a: first_byte(GREETING),
            b: scaled as u64,
            c: PAIR.0 as u16,
        };
        shapes.pair = (PAIR.0, scaled);
        shapes.maybe = if scaled > 10 { Some(scaled) } else { None };
        shapes.wrapped = Wrapper {
            items: [1, 2, 3],
            len: 3,
        };
        shapes.letter = LETTER;
        shapes.unit = Unit;
        shapes.wide = scaled as i128;
        shapes.event = event;
    }
    // SAFETY: a plain global counter; races only lose counts.
    unsafe {
        HITS = HITS.wrapping_add(1);
        RATIO = 0.25;
    }
    0
}
