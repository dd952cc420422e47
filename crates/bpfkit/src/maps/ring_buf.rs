//! Ring buffer maps (`BPF_MAP_TYPE_RINGBUF`, `BPF_MAP_TYPE_USER_RINGBUF`): creation and
//! checks. Reading and writing records is the readers' job ([`crate::readers::RingBuf`],
//! [`crate::readers::UserRingBufWriter`]); the program side is `bpfkit_ebpf::maps::RingBuf`.

use std::borrow::Borrow;

use super::{MapData, MapError, MapParams, MapType};

macro_rules! ring {
    ($(#[$doc:meta])* $name:ident, $ty:ident, $kname:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<T> {
            map: T,
        }

        impl<T: Borrow<MapData>> $name<T> {
            /// A typed view; checks the type.
            pub fn new(map: T) -> Result<Self, MapError> {
                map.borrow().check_type(&[MapType::$ty], $kname)?;
                Ok(Self { map })
            }

            /// The underlying map.
            pub fn map(&self) -> &MapData {
                self.map.borrow()
            }

            /// Data area size in bytes (`max_entries`).
            pub fn size(&self) -> u32 {
                self.map().max_entries()
            }
        }

        impl $name<MapData> {
            /// Create one with a data area of `size` bytes: a power of two and a multiple of
            /// the page size, as the kernel requires.
            pub fn create(name: &str, size: u32) -> Result<Self, MapError> {
                let data = MapData::create(&MapParams::new(name, MapType::$ty, 0, 0, size))?;
                Self::new(data)
            }
        }
    };
}

ring!(
    /// A kernel-to-user ring buffer map (read it with [`crate::readers::RingBuf`]).
    #[doc(alias = "BPF_MAP_TYPE_RINGBUF")]
    RingBufMap, Ringbuf, "RINGBUF"
);
ring!(
    /// A user-to-kernel ring buffer map, drained by `bpf_user_ringbuf_drain` (write it with
    /// [`crate::readers::UserRingBufWriter`]).
    #[doc(alias = "BPF_MAP_TYPE_USER_RINGBUF")]
    UserRingBufMap, UserRingbuf, "USER_RINGBUF"
);
