//! [`TriggerInfo`]: why and when a snapshot was taken, and its section encoding.

use crate::bytes::{Reader, Writer};
use crate::error::SnapshotError;
use std::time::{SystemTime, UNIX_EPOCH};

/// The trigger kinds tern itself writes. [`TriggerInfo::kind`] is a free string so that a
/// newer tern can add kinds without a format change; readers show unknown kinds as they are.
pub mod trigger_kind {
    /// After an exact number of executed instructions (`--checkpoint-on instructions:N`).
    pub const INSTRUCTIONS: &str = "instructions";
    /// On a signal such as SIGUSR1 or SIGTERM.
    pub const SIGNAL: &str = "signal";
    /// A trigger file appeared.
    pub const FILE: &str = "file";
    /// At the N-th call of a function.
    pub const CALL: &str = "call";
    /// Periodically.
    pub const INTERVAL: &str = "interval";
    /// Requested by an embedder or a test, or as the stop point of a migration.
    pub const MANUAL: &str = "manual";
}

/// What caused a checkpoint. Purely informational: restoring never depends on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerInfo {
    /// One of [`trigger_kind`], or a newer kind.
    pub kind: String,
    /// Free text, e.g. `SIGUSR1`, the trigger file's path or `fib:3`.
    pub detail: String,
    /// Instructions executed since the program first started, if the engine counts them
    /// (a restored run continues the count of the snapshot it was restored from).
    pub instructions: Option<u64>,
    /// Wall-clock time of capture, in nanoseconds since the Unix epoch.
    pub unix_nanos: u64,
}

impl TriggerInfo {
    /// A trigger of `kind` captured now, with no instruction count.
    pub fn now(kind: &str, detail: impl Into<String>) -> TriggerInfo {
        // A clock before 1970 is a broken clock; 0 says "unknown" rather than failing
        // the checkpoint over an informational field.
        let unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        TriggerInfo {
            kind: kind.to_owned(),
            detail: detail.into(),
            instructions: None,
            unix_nanos,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.string(&self.kind);
        w.string(&self.detail);
        match self.instructions {
            None => w.u8(0),
            Some(n) => {
                w.u8(1);
                w.u64(n);
            }
        }
        w.u64(self.unix_nanos);
    }

    pub(crate) fn decode(mut r: Reader<'_>) -> Result<TriggerInfo, SnapshotError> {
        let kind = r.string()?;
        let detail = r.string()?;
        let at = r.offset();
        let instructions = match r.u8()? {
            0 => None,
            1 => Some(r.u64()?),
            other => {
                return Err(r.error_at(
                    at,
                    format!("instruction-count marker {other} is not 0 or 1"),
                ));
            }
        };
        let unix_nanos = r.u64()?;
        r.finish()?;
        Ok(TriggerInfo {
            kind,
            detail,
            instructions,
            unix_nanos,
        })
    }
}
