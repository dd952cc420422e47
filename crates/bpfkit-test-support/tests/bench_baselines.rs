//! libbpf's benchmark baselines run and report consistent numbers (not timed assertions).

use bpfkit_test_support::{libbpf_drain, libbpf_map_ops, EventBuffer};

#[test]
fn map_ops_report_positive_per_element_times() {
    let t = libbpf_map_ops(1000, 1).unwrap();
    assert_eq!(t.entries, 1000);
    for (op, ns) in [
        ("update", t.update_ns),
        ("lookup", t.lookup_ns),
        ("delete", t.delete_ns),
        ("update_batch", t.update_batch_ns),
        ("lookup_batch", t.lookup_batch_ns),
    ] {
        assert!(ns > 0.0 && ns < 1e7, "{op}: {ns} ns");
    }
}

#[test]
fn ring_buffer_drain_delivers_every_record_in_order() {
    for size in [16, 256] {
        let d = libbpf_drain(EventBuffer::Ring, size, 20_000, 1).unwrap();
        assert_eq!(
            (d.records, d.in_order, d.lost),
            (20_000, true, 0),
            "{size} B"
        );
        assert!(d.records_per_sec > 0.0);
    }
}

#[test]
fn perf_buffer_drain_delivers_every_record_in_order() {
    let d = libbpf_drain(EventBuffer::Perf, 16, 20_000, 1).unwrap();
    assert_eq!((d.records, d.in_order, d.lost), (20_000, true, 0));
}
