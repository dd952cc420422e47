//! Typed log arguments: how each Rust type is tagged and laid out in its record slot, and
//! which format hints it accepts (checked at compile time through marker traits).

use crate::pad8;

/// Capacity of the slot a runtime string (`&str`, `&[u8]`) occupies; longer ones are cut.
pub const STR_CAPACITY: usize = 64;

/// The type of an argument, first byte of its descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ArgTag {
    /// Unsigned integer (payload: 8 bytes, zero-extended; descriptor length: original size).
    Unsigned = 1,
    /// Signed integer (payload: 8 bytes, sign-extended).
    Signed = 2,
    /// `bool` (payload: 8 bytes, 0 or 1).
    Bool = 3,
    /// Fixed-size byte array (payload: the bytes).
    Bytes = 4,
    /// Runtime string or byte slice (payload: `STR_CAPACITY` bytes, descriptor length used).
    Str = 5,
}

impl ArgTag {
    /// The tag encoded as `value`, `None` for anything else.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => ArgTag::Unsigned,
            2 => ArgTag::Signed,
            3 => ArgTag::Bool,
            4 => ArgTag::Bytes,
            5 => ArgTag::Str,
            _ => return None,
        })
    }
}

/// The 8-byte descriptor in front of every payload: tag in byte 0, payload length in bytes
/// 2..4 (native endian), the rest zero; as a word for one aligned store.
#[inline(always)]
pub const fn descriptor(tag: ArgTag, len: u16) -> u64 {
    let len = len.to_ne_bytes();
    u64::from_ne_bytes([tag as u8, 0, len[0], len[1], 0, 0, 0, 0])
}

/// A value a log call can carry.
///
/// # Safety
/// `write_slot` must write exactly a descriptor and `PAYLOAD_CAPACITY` payload bytes (at most)
/// within `SLOT_SIZE` bytes.
pub unsafe trait LogArg {
    /// The argument's tag.
    const TAG: ArgTag;
    /// Room its payload needs.
    const PAYLOAD_CAPACITY: usize;
    /// Descriptor plus padded payload.
    const SLOT_SIZE: usize = 8 + pad8(Self::PAYLOAD_CAPACITY);

    /// Writes the descriptor and payload.
    ///
    /// # Safety
    /// `dst` must be 8-byte aligned and writable for `SLOT_SIZE` bytes.
    unsafe fn write_slot(&self, dst: *mut u8);
}

/// Arguments `{}` accepts.
pub trait DisplayArg {}
/// Arguments `{:x}` and `{:X}` accept.
pub trait HexArg {}
/// Arguments `{:i}` accepts.
pub trait IpArg {}
/// Arguments `{:mac}` accepts.
pub trait MacArg {}

macro_rules! int_arg {
    ($tag:ident, $wide:ty; $($ty:ty),*) => {$(
        // SAFETY: writes the 8-byte descriptor and an 8-byte payload, 16 = SLOT_SIZE bytes.
        unsafe impl LogArg for $ty {
            const TAG: ArgTag = ArgTag::$tag;
            const PAYLOAD_CAPACITY: usize = 8;
            #[inline(always)]
            unsafe fn write_slot(&self, dst: *mut u8) {
                let desc = descriptor(ArgTag::$tag, core::mem::size_of::<$ty>() as u16);
                // SAFETY: the caller provides 16 aligned writable bytes.
                unsafe {
                    dst.cast::<u64>().write(desc);
                    dst.add(8).cast::<u64>().write(*self as $wide as u64);
                }
            }
        }
        impl DisplayArg for $ty {}
        impl HexArg for $ty {}
    )*};
}

int_arg!(Unsigned, u64; u8, u16, u32, u64, usize);
int_arg!(Signed, i64; i8, i16, i32, i64, isize);
impl IpArg for u32 {}

// SAFETY: writes the 8-byte descriptor and an 8-byte payload.
unsafe impl LogArg for bool {
    const TAG: ArgTag = ArgTag::Bool;
    const PAYLOAD_CAPACITY: usize = 8;
    #[inline(always)]
    unsafe fn write_slot(&self, dst: *mut u8) {
        // SAFETY: the caller provides 16 aligned writable bytes.
        unsafe {
            dst.cast::<u64>().write(descriptor(ArgTag::Bool, 1));
            dst.add(8).cast::<u64>().write(*self as u64);
        }
    }
}
impl DisplayArg for bool {}

// SAFETY: writes the descriptor and N payload bytes, within 8 + pad8(N).
unsafe impl<const N: usize> LogArg for [u8; N] {
    const TAG: ArgTag = ArgTag::Bytes;
    const PAYLOAD_CAPACITY: usize = N;
    #[inline(always)]
    unsafe fn write_slot(&self, dst: *mut u8) {
        // SAFETY: the caller provides 8 + pad8(N) aligned writable bytes.
        unsafe {
            dst.cast::<u64>().write(descriptor(ArgTag::Bytes, N as u16));
            core::ptr::copy_nonoverlapping(self.as_ptr(), dst.add(8), N);
        }
    }
}
impl<const N: usize> DisplayArg for [u8; N] {}
impl<const N: usize> HexArg for [u8; N] {}
impl IpArg for [u8; 4] {}
impl IpArg for [u8; 16] {}
impl MacArg for [u8; 6] {}

/// Copies up to `STR_CAPACITY` bytes with a loop the verifier can bound.
///
/// # Safety
/// `dst` must be writable for `8 + STR_CAPACITY` bytes, 8-byte aligned.
#[inline(always)]
unsafe fn write_str_slot(bytes: &[u8], dst: *mut u8) {
    let len = if bytes.len() < STR_CAPACITY {
        bytes.len()
    } else {
        STR_CAPACITY
    };
    // SAFETY: the caller provides the slot; `i < len <= bytes.len()` and `len <= STR_CAPACITY`.
    unsafe {
        dst.cast::<u64>().write(descriptor(ArgTag::Str, len as u16));
        let mut i = 0;
        while i < STR_CAPACITY {
            if i >= len {
                break;
            }
            dst.add(8 + i).write(*bytes.as_ptr().add(i));
            i += 1;
        }
    }
}

// SAFETY: writes the descriptor and at most STR_CAPACITY bytes.
unsafe impl LogArg for [u8] {
    const TAG: ArgTag = ArgTag::Str;
    const PAYLOAD_CAPACITY: usize = STR_CAPACITY;
    #[inline(always)]
    unsafe fn write_slot(&self, dst: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe { write_str_slot(self, dst) }
    }
}
impl DisplayArg for [u8] {}
impl HexArg for [u8] {}

// SAFETY: writes the descriptor and at most STR_CAPACITY bytes.
unsafe impl LogArg for str {
    const TAG: ArgTag = ArgTag::Str;
    const PAYLOAD_CAPACITY: usize = STR_CAPACITY;
    #[inline(always)]
    unsafe fn write_slot(&self, dst: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe { write_str_slot(self.as_bytes(), dst) }
    }
}
impl DisplayArg for str {}

// SAFETY: delegates to `T`, with `T`'s sizes.
unsafe impl<T: LogArg + ?Sized> LogArg for &T {
    const TAG: ArgTag = T::TAG;
    const PAYLOAD_CAPACITY: usize = T::PAYLOAD_CAPACITY;
    const SLOT_SIZE: usize = T::SLOT_SIZE;
    #[inline(always)]
    unsafe fn write_slot(&self, dst: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe { (**self).write_slot(dst) }
    }
}
impl<T: DisplayArg + ?Sized> DisplayArg for &T {}
impl<T: HexArg + ?Sized> HexArg for &T {}
impl<T: IpArg + ?Sized> IpArg for &T {}
impl<T: MacArg + ?Sized> MacArg for &T {}
