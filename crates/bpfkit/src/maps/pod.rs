//! `Pod`: plain-old-data keys and values that cross the user/kernel boundary as bytes.

/// Plain old data: a type that is valid for any bit pattern of its size and has no padding
/// bytes whose contents matter, so it can be copied to and from map memory as bytes.
///
/// ```
/// use bpfkit::maps::Pod;
/// #[derive(Clone, Copy)]
/// #[repr(C)]
/// struct Point { x: u32, y: u32 }
/// // SAFETY: two u32s, no padding, every bit pattern valid.
/// unsafe impl Pod for Point {}
/// assert_eq!(Point { x: 1, y: 2 }.as_bytes(), &[1, 0, 0, 0, 2, 0, 0, 0]);
/// ```
///
/// # Safety
/// Implement only for `Copy` types with a fixed C-compatible layout (`#[repr(C)]` or
/// primitives), without padding, references, pointers, or values with invalid bit patterns
/// (`bool`, `char`, enums).
pub unsafe trait Pod: Copy + 'static {
    /// The value's bytes.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Pod` types have no padding and a fixed size; reading their bytes is valid.
        unsafe { std::slice::from_raw_parts(self as *const Self as *const u8, size_of::<Self>()) }
    }

    /// A value read from `bytes`, or `None` if the length is not `size_of::<Self>()`.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != size_of::<Self>() {
            return None;
        }
        // SAFETY: length checked; every bit pattern is a valid `Self` (the trait's contract);
        // `read_unaligned` copes with any alignment of the buffer.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const Self) })
    }

    /// The all-zero value.
    fn zeroed() -> Self {
        // SAFETY: every bit pattern, so also all-zero, is a valid `Self`.
        unsafe { std::mem::zeroed() }
    }
}

macro_rules! pod {
    ($($t:ty),*) => {$(
        // SAFETY: primitive integer/float: fixed size, no padding, every bit pattern valid.
        unsafe impl Pod for $t {}
    )*};
}
pod!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// SAFETY: an array of `Pod` has no padding between elements and is `Pod` itself.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}
