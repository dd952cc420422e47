//! Ring buffer reader against the kernel: programs run with BPF_PROG_TEST_RUN write records,
//! the reader gets them intact, in order, with exact drop counts. Run as root.

mod readers_common;

use std::time::{Duration, Instant};

use bpfkit::readers::{RingBuf, RingBufPoller};
use readers_common::{check_record, load, FdCheck};

const RECORD: usize = 16;
/// Ring space of a 16-byte record: 8-byte header + 16.
const SPACE_16: usize = 24;

#[test]
fn a_million_records_arrive_intact_and_in_order() {
    let fds = FdCheck::start();
    {
        let obj = load("event_records", &[], &[("records", 2 << 20)]);
        let mut ring = RingBuf::new(obj.map("records")).unwrap();
        let mut next_seq = 0u64;
        let rounds = 16u64;
        let per_round = 65_536u32;
        for round in 0..rounds {
            obj.run("fill_ringbuf", per_round);
            // Rotate through the three APIs: closure drain, zero-copy batch, copying next().
            match round % 3 {
                0 => {
                    let n = ring
                        .consume(|r| {
                            assert_eq!(r.len(), RECORD);
                            check_record(r, RECORD, next_seq);
                            next_seq += 1;
                        })
                        .unwrap();
                    assert_eq!(n, per_round as usize);
                }
                1 => {
                    let batch = ring.batch();
                    for r in &batch {
                        assert_eq!(r.len(), RECORD);
                        check_record(r, RECORD, next_seq);
                        next_seq += 1;
                    }
                    assert_eq!(batch.finish().unwrap(), per_round as usize);
                }
                _ => {
                    while let Some(r) = ring.next().unwrap() {
                        assert_eq!(r.len(), RECORD);
                        check_record(&r, RECORD, next_seq);
                        next_seq += 1;
                    }
                }
            }
            assert_eq!(next_seq, (round + 1) * u64::from(per_round));
        }
        assert_eq!(next_seq, 1 << 20);
        assert_eq!(obj.bss_u64("ringbuf_dropped"), 0);
        assert_eq!(obj.bss_u64("ringbuf_seq"), 1 << 20);
        assert_eq!(ring.pending_bytes(), 0);
    }
    fds.assert_no_leak();
}

#[test]
fn overload_without_a_consumer_loses_exactly_what_did_not_fit() {
    let fds = FdCheck::start();
    {
        let size = 256 * 1024;
        let obj = load("event_records", &[], &[("records", size)]);
        let mut ring = RingBuf::new(obj.map("records")).unwrap();
        let sent = 100_000u64;
        obj.run("fill_ringbuf", sent as u32);
        let mut received = 0u64;
        ring.consume(|r| {
            check_record(r, RECORD, received);
            received += 1;
        })
        .unwrap();
        let dropped = obj.bss_u64("ringbuf_dropped");
        assert_eq!(
            received,
            (size as usize / SPACE_16) as u64,
            "a full ring's worth"
        );
        assert_eq!(received + dropped, sent);
        assert_eq!(obj.bss_u64("ringbuf_seq"), sent);
    }
    fds.assert_no_leak();
}

#[test]
fn discarded_records_are_skipped() {
    let fds = FdCheck::start();
    {
        let obj = load("readers_extra", &[], &[]);
        let mut ring = RingBuf::new(obj.map("discard_records")).unwrap();
        obj.run("fill_with_discards", 300);
        let mut seqs = Vec::new();
        ring.consume(|r| {
            assert_eq!(r.len(), 16);
            let seq = u64::from_le_bytes(r[..8].try_into().unwrap());
            let check = u64::from_le_bytes(r[8..].try_into().unwrap());
            assert_eq!(check, !seq, "record {seq} intact");
            seqs.push(seq);
        })
        .unwrap();
        let expected: Vec<u64> = (0..300).filter(|s| s % 3 != 2).collect();
        assert_eq!(seqs, expected);
        assert_eq!(obj.bss_u64("discard_dropped"), 0);
        // The discarded space was released too: nothing is pending.
        assert_eq!(ring.pending_bytes(), 0);
    }
    fds.assert_no_leak();
}

#[test]
fn records_that_wrap_past_the_end_of_the_ring_are_contiguous_and_intact() {
    let fds = FdCheck::start();
    {
        let size = 64 * 1024usize;
        let len = 256usize;
        let space = len + 8;
        let obj = load(
            "event_records",
            &[("record_size", len as u32)],
            &[("records", size as u32)],
        );
        let mut ring = RingBuf::new(obj.map("records")).unwrap();
        let (mut seq, mut pos, mut wrapped) = (0u64, 0usize, 0);
        for _ in 0..40 {
            obj.run("fill_ringbuf", 200); // 52 800 bytes: fits, and moves the start each round
            let batch = ring.batch();
            for r in &batch {
                assert_eq!(r.len(), len);
                check_record(r, len, seq);
                if pos % size + space > size {
                    wrapped += 1;
                }
                pos += space;
                seq += 1;
            }
        }
        assert_eq!(seq, 8000);
        assert!(wrapped >= 30, "only {wrapped} records wrapped");
        assert_eq!(obj.bss_u64("ringbuf_dropped"), 0);
    }
    fds.assert_no_leak();
}

#[test]
fn a_batch_publishes_the_consumer_position_once_when_it_ends() {
    let fds = FdCheck::start();
    {
        let obj = load("event_records", &[], &[]);
        let mut reader = RingBuf::new(obj.map("records")).unwrap();
        let observer = RingBuf::new(obj.map("records")).unwrap();
        obj.run("fill_ringbuf", 10);
        assert_eq!(observer.consumer_position(), 0);
        {
            let batch = reader.batch();
            let first = batch.next().unwrap();
            let second = batch.next().unwrap();
            let third = batch.next().unwrap();
            // Three records held at once, none released to the kernel yet.
            check_record(first, RECORD, 0);
            check_record(second, RECORD, 1);
            check_record(third, RECORD, 2);
            assert_eq!(observer.consumer_position(), 0);
            assert_eq!(batch.count(), 3);
        }
        assert_eq!(observer.consumer_position(), 3 * SPACE_16);
        let mut rest = 0;
        reader.consume(|_| rest += 1).unwrap();
        assert_eq!(rest, 7);
        assert_eq!(observer.consumer_position(), 10 * SPACE_16);
    }
    fds.assert_no_leak();
}

#[test]
fn one_poller_waits_on_several_ring_buffers() {
    let fds = FdCheck::start();
    {
        let events = load("event_records", &[], &[]);
        let extra = load("readers_extra", &[], &[]);
        let mut poller = RingBufPoller::new().unwrap();
        let a = poller
            .add(RingBuf::new(events.map("records")).unwrap())
            .unwrap();
        let b = poller
            .add(RingBuf::new(extra.map("discard_records")).unwrap())
            .unwrap();

        // Nothing yet: the wait times out.
        let start = Instant::now();
        let n = poller
            .poll(Some(Duration::from_millis(100)), |_, _| {})
            .unwrap();
        assert_eq!(n, 0);
        assert!(start.elapsed() >= Duration::from_millis(90));

        // A producer on another thread wakes the blocked poller.
        let got = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                extra.run("fill_with_discards", 3);
            });
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(5);
            while got.len() < 2 && Instant::now() < deadline {
                poller
                    .poll(Some(Duration::from_secs(5)), |ring, r| {
                        got.push((ring, u64::from_le_bytes(r[..8].try_into().unwrap())))
                    })
                    .unwrap();
            }
            got
        });
        assert_eq!(got, [(b, 0), (b, 1)]);

        events.run("fill_ringbuf", 2);
        extra.run("fill_with_discards", 1); // seq 3
        let mut got = Vec::new();
        poller
            .poll(Some(Duration::from_secs(5)), |ring, r| {
                got.push((ring, u64::from_le_bytes(r[..8].try_into().unwrap())))
            })
            .unwrap();
        got.sort();
        assert_eq!(got, [(a, 0), (a, 1), (b, 3)]);
    }
    fds.assert_no_leak();
}

#[test]
fn a_ring_buffer_reader_refuses_other_map_types() {
    let fds = FdCheck::start();
    {
        let obj = load("event_records", &[], &[]);
        let err = RingBuf::new(obj.map("perf_records")).unwrap_err();
        assert!(
            err.to_string().contains("perf_records") && err.to_string().contains("RINGBUF"),
            "{err}"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn tokio_stream_receives_records_as_they_are_written() {
    let fds = FdCheck::start();
    // The runtime's own fds exist only inside the fd check.
    let runtime = readers_common::tokio_runtime();
    runtime.block_on(async {
        let obj = std::sync::Arc::new(load("event_records", &[], &[]));
        let ring = RingBuf::new(obj.map("records")).unwrap();
        let mut stream = bpfkit::readers::AsyncRingBuf::new(ring).unwrap();
        let producer = obj.clone();
        let writer = std::thread::spawn(move || {
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(20));
                producer.run("fill_ringbuf", 100);
            }
        });
        let mut seq = 0u64;
        let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("first record within 5 s")
            .unwrap();
        check_record(&first, RECORD, 0);
        seq += 1;
        while seq < 500 {
            tokio::time::timeout(
                Duration::from_secs(5),
                stream.consume(|r| {
                    check_record(r, RECORD, seq);
                    seq += 1;
                }),
            )
            .await
            .expect("records within 5 s")
            .unwrap();
        }
        writer.join().unwrap();
        assert_eq!(seq, 500);

        // into_inner gives the reader back, deregistered, at the same position.
        let mut ring = stream.into_inner();
        obj.run("fill_ringbuf", 3);
        let n = ring
            .consume(|r| {
                check_record(r, RECORD, seq);
                seq += 1;
            })
            .unwrap();
        assert_eq!((n, seq), (3, 503));
        assert_eq!(obj.bss_u64("ringbuf_seq"), 503);
        // And it can be registered again.
        let mut stream = bpfkit::readers::AsyncRingBuf::new(ring).unwrap();
        obj.run("fill_ringbuf", 1);
        let record = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("record within 5 s")
            .unwrap();
        check_record(&record, RECORD, 503);
    });
    drop(runtime);
    fds.assert_no_leak();
}

#[test]
fn ring_buf_poll_times_out_empty_and_wakes_for_a_record() {
    let fds = FdCheck::start();
    {
        let obj = load("event_records", &[], &[]);
        let mut ring = RingBuf::new(obj.map("records")).unwrap();
        let start = Instant::now();
        let n = ring.poll(Some(Duration::from_millis(100)), |_| {}).unwrap();
        assert_eq!(n, 0);
        assert!(start.elapsed() >= Duration::from_millis(90));

        let mut seqs = Vec::new();
        let waited = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                obj.run("fill_ringbuf", 4);
            });
            let start = Instant::now();
            while seqs.len() < 4 && start.elapsed() < Duration::from_secs(5) {
                ring.poll(Some(Duration::from_secs(5)), |r| {
                    seqs.push(u64::from_le_bytes(r[..8].try_into().unwrap()))
                })
                .unwrap();
            }
            start.elapsed()
        });
        assert_eq!(seqs, [0, 1, 2, 3]);
        assert!(waited < Duration::from_secs(4), "woken after {waited:?}");
        assert_eq!(ring.pending_bytes(), 0);
        assert_eq!(ring.consumer_position(), 4 * SPACE_16);
    }
    fds.assert_no_leak();
}

#[test]
fn a_panic_in_the_callback_does_not_strand_records_behind_a_taken_wake_up() {
    let fds = FdCheck::start();
    {
        let obj = load("event_records", &[], &[]);
        let mut poller = RingBufPoller::new().unwrap();
        poller
            .add(RingBuf::new(obj.map("records")).unwrap())
            .unwrap();
        obj.run("fill_ringbuf", 3);
        // The wait takes the ring's (edge-triggered) wake-up, then the callback panics on the
        // first record: nothing is consumed.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            poller.poll(Some(Duration::from_secs(5)), |_, _| {
                panic!("callback fails")
            })
        }));
        assert!(panicked.is_err());
        // No new wake-up will come for these records; the next poll must not sleep on them.
        let start = Instant::now();
        let mut seqs = Vec::new();
        let n = poller
            .poll(Some(Duration::from_secs(2)), |_, r| {
                seqs.push(u64::from_le_bytes(r[..8].try_into().unwrap()))
            })
            .unwrap();
        assert_eq!((n, seqs), (3, vec![0, 1, 2]));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "slept {:?} on pending records",
            start.elapsed()
        );
    }
    fds.assert_no_leak();
}
