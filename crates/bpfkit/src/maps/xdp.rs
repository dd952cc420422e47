//! XDP redirect maps: `DEVMAP`, `DEVMAP_HASH` (interfaces), `CPUMAP` (CPUs), `XSKMAP` (AF_XDP).

use std::borrow::Borrow;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::{MapData, MapError, MapType};

fn get_u32(m: &MapData, key: u32) -> Result<Option<u32>, MapError> {
    let mut v = vec![0u8; m.value_size() as usize];
    let found = m.lookup_bytes(&key.to_ne_bytes(), &mut v, 0)?;
    Ok(found.then(|| u32::from_ne_bytes([v[0], v[1], v[2], v[3]])))
}

/// A u32 first field followed by zeros, sized as the map's value (4 or 8 bytes).
fn u32_value(m: &MapData, first: u32) -> Vec<u8> {
    let mut v = vec![0u8; (m.value_size() as usize).max(4)];
    v[..4].copy_from_slice(&first.to_ne_bytes());
    v
}

macro_rules! redirect_map {
    ($(#[$doc:meta])* $name:ident, $ty:ident, $kname:literal, $key:literal, $val:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<T> {
            map: T,
        }

        impl<T: Borrow<MapData>> $name<T> {
            /// A typed view; checks the type, the u32 key and a 4- or 8-byte value.
            pub fn new(map: T) -> Result<Self, MapError> {
                let m = map.borrow();
                m.check_type(&[MapType::$ty], $kname)?;
                m.check_key(4)?;
                if m.value_size() < 4 {
                    m.check_value(4)?;
                }
                Ok(Self { map })
            }

            /// The underlying map.
            pub fn map(&self) -> &MapData {
                self.map.borrow()
            }

            #[doc = concat!("Set entry `", $key, "` to ", $val, ".")]
            pub fn set(&self, key: u32, value: u32, flags: u64) -> Result<(), MapError> {
                let v = u32_value(self.map(), value);
                self.map().update_bytes(&key.to_ne_bytes(), &v, flags)
            }

            #[doc = concat!("The ", $val, " at entry `", $key, "`.")]
            pub fn get(&self, key: u32) -> Result<Option<u32>, MapError> {
                get_u32(self.map(), key)
            }

            /// Remove an entry.
            pub fn clear(&self, key: u32) -> Result<bool, MapError> {
                self.map().delete_bytes(&key.to_ne_bytes())
            }
        }
    };
}

redirect_map!(
    /// Interfaces to redirect to, by index.
    #[doc(alias = "BPF_MAP_TYPE_DEVMAP")]
    DevMap, Devmap, "DEVMAP", "index", "an ifindex"
);
redirect_map!(
    /// Interfaces to redirect to, by arbitrary u32 key.
    #[doc(alias = "BPF_MAP_TYPE_DEVMAP_HASH")]
    DevMapHash, DevmapHash, "DEVMAP_HASH", "key", "an ifindex"
);
redirect_map!(
    /// CPUs to redirect to, with their queue size (`bpf_cpumap_val.qsize`).
    #[doc(alias = "BPF_MAP_TYPE_CPUMAP")]
    CpuMap, Cpumap, "CPUMAP", "cpu", "a queue size"
);

/// AF_XDP sockets by queue index.
#[doc(alias = "BPF_MAP_TYPE_XSKMAP")]
#[derive(Debug)]
pub struct XskMap<T> {
    map: T,
}

impl<T: Borrow<MapData>> XskMap<T> {
    /// A typed view; checks the type.
    pub fn new(map: T) -> Result<Self, MapError> {
        map.borrow().check_type(&[MapType::Xskmap], "XSKMAP")?;
        Ok(Self { map })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Store the AF_XDP socket `socket` at queue `index`.
    pub fn set(&self, index: u32, socket: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        let fd = socket.as_raw_fd() as u32;
        self.map()
            .update_bytes(&index.to_ne_bytes(), &fd.to_ne_bytes(), flags)
    }

    /// Remove the socket at `index`.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().delete_bytes(&index.to_ne_bytes())
    }
}
