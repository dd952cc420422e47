//! User ring buffer writer against the kernel: records written from userspace are drained by
//! `bpf_user_ringbuf_drain` in a program run with BPF_PROG_TEST_RUN. Run as root.

mod readers_common;

use std::time::Duration;

use bpfkit::maps::MapType;
use bpfkit::readers::{ReaderError, UserRingBufWriter};
use readers_common::{lacks_map_type, load, FdCheck};

#[test]
fn submitted_records_reach_the_program_and_discarded_ones_do_not() {
    // Serialised (and fds counted) before the probe, which creates a map itself.
    let fds = FdCheck::start();
    if lacks_map_type(
        "submitted_records_reach_the_program_and_discarded_ones_do_not",
        MapType::UserRingbuf,
    ) {
        return;
    }
    {
        let obj = load("readers_user", &[], &[]);
        let mut writer = UserRingBufWriter::new(obj.map("user_records")).unwrap();
        for value in 1..=1000u64 {
            let mut record = writer.reserve(8).unwrap();
            record.copy_from_slice(&value.to_ne_bytes());
            if value % 10 == 0 {
                record.discard();
            } else if value % 10 == 5 {
                drop(record); // dropped unsubmitted: discarded too
            } else {
                record.submit();
            }
        }
        obj.run("drain_user", 1);
        let expected: u64 = (1..=1000u64).filter(|v| v % 10 != 0 && v % 10 != 5).sum();
        assert_eq!(obj.bss_u64("user_count"), 800);
        assert_eq!(obj.bss_u64("user_sum"), expected);
        assert_eq!(obj.bss_u64("user_short"), 0);
    }
    fds.assert_no_leak();
}

#[test]
fn a_full_user_ring_buffer_refuses_until_the_program_drains_it() {
    // Serialised (and fds counted) before the probe, which creates a map itself.
    let fds = FdCheck::start();
    if lacks_map_type(
        "a_full_user_ring_buffer_refuses_until_the_program_drains_it",
        MapType::UserRingbuf,
    ) {
        return;
    }
    {
        let obj = load("readers_user", &[], &[]);
        let mut writer = UserRingBufWriter::new(obj.map("user_records")).unwrap();
        let capacity = 64 * 1024;
        assert_eq!(writer.free_bytes(), capacity);
        // 8-byte records take 16 bytes with their header: 4096 fit.
        for value in 0..4096u64 {
            let mut record = writer.reserve(8).unwrap();
            record.copy_from_slice(&value.to_ne_bytes());
            record.submit();
        }
        assert_eq!(writer.free_bytes(), 0);
        match writer.reserve(8) {
            Err(ReaderError::UserRingBufFull {
                free, capacity: c, ..
            }) => {
                assert_eq!((free, c), (0, capacity as u64))
            }
            other => panic!("expected UserRingBufFull, got {other:?}"),
        }
        obj.run("drain_user", 1);
        assert_eq!(obj.bss_u64("user_count"), 4096);
        assert_eq!(obj.bss_u64("user_sum"), 4095 * 4096 / 2);
        assert_eq!(writer.free_bytes(), capacity);
        let mut record = writer
            .reserve_timeout(8, Duration::from_millis(100))
            .unwrap();
        record.copy_from_slice(&7u64.to_ne_bytes());
        record.submit();
        obj.run("drain_user", 1);
        assert_eq!(obj.bss_u64("user_count"), 4097);
    }
    fds.assert_no_leak();
}

#[test]
fn records_that_can_never_fit_are_refused_by_name() {
    // Serialised (and fds counted) before the probe, which creates a map itself.
    let fds = FdCheck::start();
    if lacks_map_type(
        "records_that_can_never_fit_are_refused_by_name",
        MapType::UserRingbuf,
    ) {
        return;
    }
    {
        let obj = load("readers_user", &[], &[]);
        let mut writer = UserRingBufWriter::new(obj.map("user_records")).unwrap();
        let err = writer.reserve(64 * 1024).unwrap_err();
        assert!(
            matches!(err, ReaderError::RecordTooLarge { size: 65536, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("user_records"), "{err}");
        let extra = load("readers_extra", &[], &[]);
        let err = UserRingBufWriter::new(extra.map("discard_records")).unwrap_err();
        assert!(err.to_string().contains("USER_RINGBUF"), "{err}");
    }
    fds.assert_no_leak();
}
