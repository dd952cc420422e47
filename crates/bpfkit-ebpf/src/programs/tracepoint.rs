//! Tracepoint (`BPF_PROG_TYPE_TRACEPOINT`) context: the raw trace event record.

use super::context;

/// Context of a `tracepoint/<category>/<name>` program: the event record laid out as
/// `/sys/kernel/tracing/events/<category>/<name>/format` describes (the first 8 bytes are
/// the common fields, not readable by programs).
pub struct TracePointContext {
    ctx: *mut u8,
}

context!(TracePointContext, ctx: u8);

impl TracePointContext {
    /// Reads the `T` at byte `offset` of the record.
    ///
    /// # Safety
    /// `offset` must be the (naturally aligned) offset of a field of type `T` in this
    /// tracepoint's format; the verifier rejects reads outside the record.
    #[inline(always)]
    pub unsafe fn read_at<T: Copy>(&self, offset: usize) -> T {
        // SAFETY: the caller guarantees `offset` names a `T` field of the record.
        unsafe { self.ctx.add(offset).cast::<T>().read() }
    }
}
