//! Kernel log records to the `log` crate.

use bpfkit_log::EbpfLogger;

use crate::skel::Skel;
use crate::Error;

// ANCHOR: logging_user
/// Forwards every log record the object's programs wrote so far to `logger` (pass
/// `bpfkit_log::EbpfLogger::new` alone to use the logger `log::set_logger` installed, e.g.
/// env_logger's). Returns how many records were forwarded.
pub fn forward_logs(skel: &Skel, logger: Box<dyn log::Log>) -> Result<usize, Error> {
    let mut logs = EbpfLogger::new(skel.object())?.with_logger(logger);
    Ok(logs.forward_pending()?)
}
// ANCHOR_END: logging_user
