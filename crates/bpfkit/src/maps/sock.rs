//! Socket maps (`BPF_MAP_TYPE_SOCKMAP`, `BPF_MAP_TYPE_SOCKHASH`): sockets by index or key.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::{MapData, MapError, MapType, Pod};

/// Sockets stored by index, for redirection from sk_msg/sk_skb programs.
#[doc(alias = "BPF_MAP_TYPE_SOCKMAP")]
#[derive(Debug)]
pub struct SockMap<T> {
    map: T,
}

impl<T: Borrow<MapData>> SockMap<T> {
    /// A typed view; checks the type.
    pub fn new(map: T) -> Result<Self, MapError> {
        map.borrow().check_type(&[MapType::Sockmap], "SOCKMAP")?;
        Ok(Self { map })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Store socket `socket` at `index`.
    pub fn set(&self, index: u32, socket: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        let value = socket_value(self.map(), socket);
        self.map().update_bytes(&index.to_ne_bytes(), &value, flags)
    }

    /// Remove the socket at `index`.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().delete_bytes(&index.to_ne_bytes())
    }
}

/// The fd as the map's value: 4 bytes, or 8 for maps created with a u64 value.
fn socket_value(map: &MapData, socket: BorrowedFd<'_>) -> Vec<u8> {
    let fd = socket.as_raw_fd() as u32;
    if map.value_size() == 8 {
        u64::from(fd).to_ne_bytes().to_vec()
    } else {
        fd.to_ne_bytes().to_vec()
    }
}

/// Sockets stored by key `K`.
#[doc(alias = "BPF_MAP_TYPE_SOCKHASH")]
#[derive(Debug)]
pub struct SockHash<T, K> {
    map: T,
    _k: PhantomData<K>,
}

impl<T: Borrow<MapData>, K: Pod> SockHash<T, K> {
    /// A typed view; checks the type and key size.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(&[MapType::Sockhash], "SOCKHASH")?;
        m.check_key(size_of::<K>())?;
        Ok(Self {
            map,
            _k: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Store socket `socket` under `key`.
    pub fn insert(&self, key: &K, socket: BorrowedFd<'_>, flags: u64) -> Result<(), MapError> {
        let value = socket_value(self.map(), socket);
        self.map().update_bytes(key.as_bytes(), &value, flags)
    }

    /// Remove `key`.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete_bytes(key.as_bytes())
    }
}
