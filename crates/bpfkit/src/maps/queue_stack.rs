//! FIFO queues and LIFO stacks (`BPF_MAP_TYPE_QUEUE`, `BPF_MAP_TYPE_STACK`): push, pop, peek.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::AsFd;

use super::hash::pod_bytes_mut;
use super::{MapData, MapError, MapType, Pod};
use crate::sys;

fn push(m: &MapData, value: &[u8], flags: u64) -> Result<(), MapError> {
    sys::map_update_elem(m.as_fd(), &[], value, flags).map_err(|s| m.syscall(s))
}

fn pop<V: Pod>(m: &MapData) -> Result<Option<V>, MapError> {
    let mut v = V::zeroed();
    // SAFETY: the typed views' `new` checked that `V` has the map's value size (queues and
    // stacks have no key), so the kernel writes exactly `size_of::<V>()` bytes.
    let found =
        unsafe { sys::map_lookup_and_delete_elem(m.as_fd(), &[], pod_bytes_mut(&mut v), 0) }
            .map_err(|s| m.syscall(s))?;
    Ok(found.then_some(v))
}

fn peek<V: Pod>(m: &MapData) -> Result<Option<V>, MapError> {
    let mut v = V::zeroed();
    // SAFETY: as in `pop`: `V` has the map's value size, checked by `new`.
    let found = unsafe { sys::map_lookup_elem(m.as_fd(), &[], pod_bytes_mut(&mut v), 0) }
        .map_err(|s| m.syscall(s))?;
    Ok(found.then_some(v))
}

macro_rules! queue_like {
    ($(#[$doc:meta])* $name:ident, $ty:ident, $kname:literal, $order:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<T, V> {
            map: T,
            _v: PhantomData<V>,
        }

        impl<T: Borrow<MapData>, V: Pod> $name<T, V> {
            /// A typed view; checks the type and value size.
            pub fn new(map: T) -> Result<Self, MapError> {
                let m = map.borrow();
                m.check_type(&[MapType::$ty], $kname)?;
                m.check_value(size_of::<V>())?;
                Ok(Self { map, _v: PhantomData })
            }

            /// The underlying map.
            pub fn map(&self) -> &MapData {
                self.map.borrow()
            }

            /// Add `value`; with `BPF_EXIST` a full map drops its oldest element.
            pub fn push(&self, value: &V, flags: u64) -> Result<(), MapError> {
                push(self.map(), value.as_bytes(), flags)
            }

            #[doc = concat!("Remove and return the ", $order, " element; `None` when empty.")]
            pub fn pop(&self) -> Result<Option<V>, MapError> {
                pop(self.map())
            }

            #[doc = concat!("The ", $order, " element without removing it.")]
            pub fn peek(&self) -> Result<Option<V>, MapError> {
                peek(self.map())
            }
        }
    };
}

queue_like!(
    /// A FIFO queue of `V`.
    #[doc(alias = "BPF_MAP_TYPE_QUEUE")]
    Queue, Queue, "QUEUE", "oldest"
);
queue_like!(
    /// A LIFO stack of `V`.
    #[doc(alias = "BPF_MAP_TYPE_STACK")]
    Stack, Stack, "STACK", "newest"
);
