//! Stack trace maps (`BPF_MAP_TYPE_STACK_TRACE`): stack ids to arrays of instruction pointers.

use std::borrow::Borrow;

use super::{MapData, MapError, MapType};

/// Stacks recorded by `bpf_get_stackid`, keyed by stack id.
#[doc(alias = "BPF_MAP_TYPE_STACK_TRACE")]
#[derive(Debug)]
pub struct StackTraceMap<T> {
    map: T,
}

impl<T: Borrow<MapData>> StackTraceMap<T> {
    /// A typed view; checks the type and the 4-byte key.
    pub fn new(map: T) -> Result<Self, MapError> {
        let m = map.borrow();
        m.check_type(&[MapType::StackTrace], "STACK_TRACE")?;
        m.check_key(4)?;
        Ok(Self { map })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// The instruction pointers of `stack_id` (trailing zeros removed); `None` if absent.
    pub fn get(&self, stack_id: u32) -> Result<Option<Vec<u64>>, MapError> {
        let mut buf = vec![0u8; self.map().value_size() as usize];
        let found = self
            .map()
            .lookup_bytes(&stack_id.to_ne_bytes(), &mut buf, 0)?;
        if !found {
            return Ok(None);
        }
        let mut ips: Vec<u64> = buf
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        while ips.last() == Some(&0) {
            ips.pop();
        }
        Ok(Some(ips))
    }

    /// Every stored stack id.
    pub fn stack_ids(&self) -> impl Iterator<Item = Result<u32, MapError>> + '_ {
        self.map()
            .keys_bytes()
            .map(|k| k.map(|k| u32::from_ne_bytes(k[..4].try_into().unwrap_or([0; 4]))))
    }

    /// Remove `stack_id`.
    pub fn remove(&self, stack_id: u32) -> Result<bool, MapError> {
        self.map().delete_bytes(&stack_id.to_ne_bytes())
    }
}
