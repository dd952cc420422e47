//! Perf buffer reader against the kernel: `bpf_perf_event_output` samples from programs run
//! with BPF_PROG_TEST_RUN arrive intact and in order; lost samples are counted exactly from
//! PERF_RECORD_LOST; wake-ups follow `wakeup_events` / watermark. Run as root.

mod readers_common;

use std::time::Duration;

use bpfkit::cpus::online_cpus;
use bpfkit::readers::{PerfBuffer, PerfBufferOptions, Wakeup};
use readers_common::{check_record, current_cpu, load, pin_to_cpu, FdCheck};

const RECORD: usize = 16;
/// The kernel pads the raw data so that `u32 size` + data is a multiple of 8.
const RAW_16: usize = 20;
/// Ring space of one 16-byte sample: perf_event_header + u32 size + 20 bytes.
const SPACE_16: usize = 32;

fn options(pages: usize, wakeup: Wakeup) -> PerfBufferOptions {
    PerfBufferOptions {
        pages_per_cpu: pages,
        wakeup,
        cpus: None,
    }
}

#[test]
fn rings_are_opened_on_every_online_cpu() {
    let fds = FdCheck::start();
    {
        let obj = load("event_records", &[], &[]);
        let perf =
            PerfBuffer::open(obj.map("perf_records"), &PerfBufferOptions::default()).unwrap();
        let max = obj.map("perf_records").max_entries();
        let online: Vec<u32> = online_cpus()
            .unwrap()
            .into_iter()
            .filter(|&c| c < max)
            .collect();
        assert_eq!(perf.cpus(), online);
        assert_eq!(perf.ring_size(), 64 * 4096);
        // An explicit list (as if the others were offline) opens only those.
        let only = PerfBuffer::open(
            obj.map("perf_records"),
            &PerfBufferOptions {
                cpus: Some(vec![online[0]]),
                ..Default::default()
            },
        );
        // The first buffer holds that CPU's slot; a second one replaces it.
        assert_eq!(only.unwrap().cpus(), [online[0]]);
    }
    fds.assert_no_leak();
}

#[test]
fn a_million_samples_arrive_intact_and_in_order() {
    let fds = FdCheck::start();
    std::thread::spawn(|| {
        pin_to_cpu(0);
        assert_eq!(current_cpu(), 0);
        let obj = load("event_records", &[("records_per_run", 1000)], &[]);
        let mut perf =
            PerfBuffer::open(obj.map("perf_records"), &options(64, Wakeup::Events(1))).unwrap();
        let mut next_seq = 0u64;
        // 4 000 samples (128 000 bytes) per round into a 256 KiB ring.
        for _ in 0..262 {
            obj.run("fill_perfbuf", 4);
            perf.consume(|cpu, sample| {
                assert_eq!(cpu, 0);
                assert_eq!(sample.len(), RAW_16);
                check_record(sample, RECORD, next_seq);
                next_seq += 1;
            })
            .unwrap();
        }
        assert_eq!(next_seq, 1_048_000);
        assert_eq!(perf.lost(), 0);
        assert_eq!(obj.bss_u64("perfbuf_dropped"), 0);
    })
    .join()
    .unwrap();
    fds.assert_no_leak();
}

#[test]
fn overload_is_counted_exactly_by_perf_record_lost() {
    let fds = FdCheck::start();
    std::thread::spawn(|| {
        pin_to_cpu(0);
        let obj = load("event_records", &[], &[]);
        let pages = 8;
        let mut perf =
            PerfBuffer::open(obj.map("perf_records"), &options(pages, Wakeup::Events(1))).unwrap();
        let mut received = 0u64;
        obj.run("fill_perfbuf", 10_000);
        perf.consume(|_, s| {
            check_record(s, RECORD, received);
            received += 1;
        })
        .unwrap();
        // The kernel keeps one byte free (CIRC_SPACE): a full ring holds size - 1 bytes.
        assert_eq!(
            received,
            ((pages * 4096 - 1) / SPACE_16) as u64,
            "a full ring's worth"
        );
        // The kernel writes PERF_RECORD_LOST once there is room again: with the next sample.
        obj.run("fill_perfbuf", 1);
        let mut last = None;
        perf.consume(|_, s| {
            last = Some(u64::from_le_bytes(s[..8].try_into().unwrap()));
            received += 1;
        })
        .unwrap();
        assert_eq!(last, Some(10_000));
        let sent = 10_001;
        assert_eq!(received + perf.lost(), sent);
        assert_eq!(perf.lost(), obj.bss_u64("perfbuf_dropped"));
        assert_eq!(perf.lost_on(0), perf.lost());
    })
    .join()
    .unwrap();
    fds.assert_no_leak();
}

#[test]
fn samples_that_wrap_past_the_end_of_the_ring_are_reassembled() {
    let fds = FdCheck::start();
    std::thread::spawn(|| {
        pin_to_cpu(0);
        let len = 256usize;
        let obj = load("event_records", &[("record_size", len as u32)], &[]);
        let mut perf =
            PerfBuffer::open(obj.map("perf_records"), &options(8, Wakeup::Events(1))).unwrap();
        let space = 8 + 4 + 260; // header, size, 256 bytes padded to 260
        let (mut seq, mut pos, mut wrapped) = (0u64, 0usize, 0);
        for _ in 0..50 {
            obj.run("fill_perfbuf", 100);
            perf.consume(|_, s| {
                assert_eq!(s.len(), 260);
                check_record(s, len, seq);
                if pos % (8 * 4096) + space > 8 * 4096 {
                    wrapped += 1;
                }
                pos += space;
                seq += 1;
            })
            .unwrap();
        }
        assert_eq!(seq, 5000);
        assert!(wrapped >= 30, "only {wrapped} samples wrapped");
        assert_eq!(perf.lost(), 0);
    })
    .join()
    .unwrap();
    fds.assert_no_leak();
}

#[test]
fn poll_wakes_after_wakeup_events_samples() {
    let fds = FdCheck::start();
    std::thread::spawn(|| {
        pin_to_cpu(0);
        let obj = load("event_records", &[], &[]);
        let mut perf =
            PerfBuffer::open(obj.map("perf_records"), &options(8, Wakeup::Events(4))).unwrap();
        obj.run("fill_perfbuf", 3);
        let n = perf
            .poll(Some(Duration::from_millis(100)), |_, _| {})
            .unwrap();
        assert_eq!(n, 0, "3 samples < wakeup_events 4: no wake-up");
        obj.run("fill_perfbuf", 1);
        let mut seqs = Vec::new();
        perf.poll(Some(Duration::from_secs(5)), |_, s| {
            seqs.push(u64::from_le_bytes(s[..8].try_into().unwrap()))
        })
        .unwrap();
        assert_eq!(seqs, [0, 1, 2, 3]);
    })
    .join()
    .unwrap();
    fds.assert_no_leak();
}

#[test]
fn poll_wakes_once_the_watermark_is_reached() {
    let fds = FdCheck::start();
    std::thread::spawn(|| {
        pin_to_cpu(0);
        let obj = load("event_records", &[], &[]);
        let mut perf = PerfBuffer::open(
            obj.map("perf_records"),
            &options(8, Wakeup::Watermark(4096)),
        )
        .unwrap();
        obj.run("fill_perfbuf", 100); // 3 200 bytes
        let n = perf
            .poll(Some(Duration::from_millis(100)), |_, _| {})
            .unwrap();
        assert_eq!(n, 0, "below the 4096-byte watermark: no wake-up");
        obj.run("fill_perfbuf", 30); // 4 160 bytes
        let n = perf.poll(Some(Duration::from_secs(5)), |_, _| {}).unwrap();
        assert_eq!(n, 130);
    })
    .join()
    .unwrap();
    fds.assert_no_leak();
}

#[test]
fn tokio_stream_receives_samples() {
    let fds = FdCheck::start();
    let runtime = readers_common::tokio_runtime();
    runtime.block_on(async {
        let obj = std::sync::Arc::new(load("event_records", &[], &[]));
        let perf =
            PerfBuffer::open(obj.map("perf_records"), &options(8, Wakeup::Events(1))).unwrap();
        let mut stream = bpfkit::readers::AsyncPerfBuffer::new(perf).unwrap();
        let producer = obj.clone();
        let writer = std::thread::spawn(move || {
            pin_to_cpu(0);
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(20));
                producer.run("fill_perfbuf", 50);
            }
        });
        let mut seq = 0u64;
        while seq < 250 {
            tokio::time::timeout(
                Duration::from_secs(5),
                stream.consume(|cpu, s| {
                    assert_eq!(cpu, 0);
                    check_record(s, RECORD, seq);
                    seq += 1;
                }),
            )
            .await
            .expect("samples within 5 s")
            .unwrap();
        }
        writer.join().unwrap();
        assert_eq!(seq, 250);
        assert_eq!(stream.get_mut().lost(), 0);
        assert_eq!(stream.get_ref().pending_bytes(), 0);

        // into_inner gives the buffer back, deregistered, still reading the same rings.
        let mut perf = stream.into_inner();
        let producer = obj.clone();
        std::thread::spawn(move || {
            pin_to_cpu(0);
            producer.run("fill_perfbuf", 2);
        })
        .join()
        .unwrap();
        // 8-byte header, u32 size, 16 bytes padded to 20: 32 bytes per sample.
        assert_eq!(perf.pending_bytes(), 2 * 32);
        let n = perf
            .consume(|cpu, s| {
                assert_eq!(cpu, 0);
                check_record(s, RECORD, seq);
                seq += 1;
            })
            .unwrap();
        assert_eq!((n, seq), (2, 252));
        assert_eq!(perf.pending_bytes(), 0);
    });
    drop(runtime);
    fds.assert_no_leak();
}

#[test]
fn a_perf_buffer_reader_refuses_other_map_types() {
    let fds = FdCheck::start();
    {
        let obj = load("event_records", &[], &[]);
        let err = PerfBuffer::open(obj.map("records"), &PerfBufferOptions::default()).unwrap_err();
        assert!(err.to_string().contains("'records'"), "{err}");
        let err =
            PerfBuffer::open(obj.map("perf_records"), &options(3, Wakeup::Events(1))).unwrap_err();
        assert!(err.to_string().contains("power of two"), "{err}");
    }
    fds.assert_no_leak();
}

#[test]
fn a_panic_in_the_callback_does_not_strand_samples_behind_a_taken_wake_up() {
    let fds = FdCheck::start();
    std::thread::spawn(|| {
        pin_to_cpu(0);
        let obj = load("event_records", &[], &[]);
        let mut perf =
            PerfBuffer::open(obj.map("perf_records"), &options(8, Wakeup::Events(1))).unwrap();
        obj.run("fill_perfbuf", 3);
        // The wait takes CPU 0's wake-up, then the callback panics on the first sample.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            perf.poll(Some(Duration::from_secs(5)), |_, _| {
                panic!("callback fails")
            })
        }));
        assert!(panicked.is_err());
        // No new wake-up comes for these samples; the next poll must not sleep on them.
        let start = std::time::Instant::now();
        let mut seq = 0u64;
        let n = perf
            .poll(Some(Duration::from_secs(2)), |cpu, s| {
                assert_eq!(cpu, 0);
                check_record(s, RECORD, seq);
                seq += 1;
            })
            .unwrap();
        assert_eq!((n, seq), (3, 3));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "slept {:?} on pending samples",
            start.elapsed()
        );
    })
    .join()
    .unwrap();
    fds.assert_no_leak();
}
