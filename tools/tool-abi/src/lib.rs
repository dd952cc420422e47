//! What the tools' eBPF and userspace halves share (`no_std`, no dependencies): the
//! in-kernel filter's globals ([`filter`]), log2 histograms ([`hist`]), the lost-event
//! counter ([`lost`]) and each tool's
//! records and global names (one module per tool).
//!
//! The kernel side uses the macros ([`filter_globals!`]) and the record types; userspace
//! uses the same types to decode what the kernel wrote, and the global names to set them
//! with `bpfkit::loader::Loader::set_global` before loading.
#![no_std]
#![deny(missing_docs)]

pub mod bpfsnoop;
pub mod filter;
pub mod hist;
pub mod lost;
pub mod opensnoop;
pub mod syscount;
pub mod syslat;
pub mod tcpconnect;

/// `bpfkit::maps::Pod` for types whose every bit pattern is valid and that have no padding.
#[cfg(feature = "pod")]
macro_rules! pod {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: `#[repr(C)]`, integer and byte-array fields only, laid out without
        // padding (checked by the layout tests), so every bit pattern is valid.
        unsafe impl bpfkit::maps::Pod for $t {}
    )*};
}
#[cfg(feature = "pod")]
pod!(
    syscount::Key,
    syscount::Stats,
    hist::Hist,
    opensnoop::OpenEvent,
    tcpconnect::ConnectEvent,
    bpfsnoop::BpfEvent,
);

/// Length of a task's command name (`TASK_COMM_LEN`), NUL included.
pub const COMM_LEN: usize = 16;

#[cfg(test)]
mod tests {
    use core::mem::size_of;

    #[test]
    fn records_have_no_padding() {
        assert_eq!(size_of::<crate::syscount::Key>(), 8);
        assert_eq!(size_of::<crate::syscount::Stats>(), 8 + 8 + 16);
        assert_eq!(size_of::<crate::hist::Hist>(), 8 * (crate::hist::SLOTS + 2));
        assert_eq!(size_of::<crate::opensnoop::Start>(), 24);
        assert_eq!(
            size_of::<crate::opensnoop::OpenEvent>(),
            4 + 4 + 8 + 8 + 8 + 16 + 256
        );
        assert_eq!(
            size_of::<crate::tcpconnect::ConnectEvent>(),
            4 + 4 + 8 + 16 + 16 + 16
        );
        assert_eq!(
            size_of::<crate::bpfsnoop::BpfEvent>(),
            4 * 4 + 8 + 16 + crate::bpfsnoop::ATTR_LEN + crate::bpfsnoop::LICENSE_LEN
        );
    }
}
