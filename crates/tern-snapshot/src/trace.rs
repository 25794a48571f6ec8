//! [`TraceTail`]: the end of an execution trace recorded up to a checkpoint, in the
//! optional `trace` section (`0x85`, format 1.1). Restoring never needs it; `tern
//! inspect` shows it, and a traced restore numbers its events on from `next`.

use crate::bytes::{Reader, Writer};
use crate::error::SnapshotError;
use crate::layout;

/// The last events of a trace that was being recorded when the snapshot was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceTail {
    /// Number of the next instruction (instructions executed since the program first
    /// started): the first event of a traced restore gets this number.
    pub next: u64,
    /// The last events, oldest first: each one line of JSON (`docs/tracing.md`), without
    /// the line end.
    pub events: Vec<String>,
}

impl TraceTail {
    /// `next:u64 events:vec(string)`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.u64(self.next);
        w.uleb(self.events.len() as u64);
        for event in &self.events {
            w.string(event);
        }
    }

    pub(crate) fn decode(mut r: Reader<'_>) -> Result<TraceTail, SnapshotError> {
        let next = r.u64()?;
        // Every string takes at least its one-byte length.
        let n = r.count(1, || "trace event".into())?;
        let events = (0..n).map(|_| r.string()).collect::<Result<_, _>>()?;
        r.finish()?;
        Ok(TraceTail { next, events })
    }
}

/// The trace tail of an encoded snapshot, `None` if it has no `trace` section. The file's
/// header, framing and checksum are validated first (steps 1–6 of the format's reading
/// order), the other sections are not decoded.
///
/// ```
/// use tern_snapshot::{ExecState, ModuleIdentity, Snapshot, TraceTail, TriggerInfo};
///
/// let snapshot = Snapshot {
///     module: ModuleIdentity::of(b""),
///     trigger: TriggerInfo::now("manual", ""),
///     state: ExecState::default(),
///     wasi: None,
/// };
/// let tail = TraceTail { next: 7, events: vec![r#"{"n":6,"event":"return"}"#.into()] };
/// let bytes = tern_snapshot::encode_snapshot_with_trace(&snapshot, &[], Some(&tail));
/// assert_eq!(tern_snapshot::trace_tail(&bytes).unwrap(), Some(tail));
/// assert_eq!(tern_snapshot::decode_snapshot(&bytes).unwrap(), snapshot);
/// ```
pub fn trace_tail(bytes: &[u8]) -> Result<Option<TraceTail>, SnapshotError> {
    let layout = layout::parse(bytes)?;
    layout
        .trace
        .map(|s| TraceTail::decode(Reader::new(s.payload, s.payload_offset(), "trace")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{FormatVersion, section};
    use crate::testutil::{rich, small};
    use crate::{decode_snapshot, encode_snapshot, encode_snapshot_with_trace};

    fn tail() -> TraceTail {
        TraceTail {
            next: 1234,
            events: vec![
                r#"{"n":1232,"event":"store","op":"i32.store","addr":16,"value":"i32:-1"}"#.into(),
                "{\"n\":1233,\"event\":\"other\",\"name\":\"\u{e9}\"}".into(),
            ],
        }
    }

    #[test]
    fn round_trip_and_the_rest_is_unchanged() {
        for snapshot in [rich(), small()] {
            let bytes = encode_snapshot_with_trace(&snapshot, &[], Some(&tail()));
            assert_eq!(trace_tail(&bytes).unwrap(), Some(tail()));
            assert_eq!(decode_snapshot(&bytes).unwrap(), snapshot);
            let sizes = crate::section_sizes(&bytes).unwrap();
            assert_eq!(sizes.unknown, 0, "the trace section is known");
            let sum = sizes.header
                + sizes.module
                + sizes.trigger
                + sizes.state
                + sizes.memory
                + sizes.wasi
                + sizes.trace
                + sizes.end;
            assert_eq!(sum, sizes.total);
            let plain = encode_snapshot(&snapshot);
            assert_eq!(trace_tail(&plain).unwrap(), None);
            assert_eq!(bytes.len(), plain.len() + sizes.trace);
        }
        let empty = TraceTail::default();
        let bytes = encode_snapshot_with_trace(&small(), &[], Some(&empty));
        assert_eq!(trace_tail(&bytes).unwrap(), Some(empty));
    }

    #[test]
    fn files_say_1_1_and_1_0_files_still_read() {
        let bytes = encode_snapshot(&small());
        assert_eq!(FormatVersion::CURRENT, FormatVersion { major: 1, minor: 1 });
        assert_eq!(&bytes[8..12], &[1, 0, 1, 0]);
        let mut old = bytes.clone();
        old[10] = 0;
        crate::testutil::reseal(&mut old);
        assert_eq!(decode_snapshot(&old).unwrap(), small());
    }

    #[test]
    fn forged_trace_sections_are_refused() {
        let bytes = encode_snapshot_with_trace(&small(), &[], Some(&tail()));
        let (header, sections) = crate::testutil::split(&bytes);
        let at = (sections.iter())
            .position(|(id, _)| *id == section::TRACE)
            .expect("a trace section");
        let payload = &sections[at].1;
        // A count larger than the bytes left, a truncated string, trailing bytes.
        for forged in [
            [&payload[..8], &[0xff, 0xff, 0x03][..]].concat(),
            payload[..payload.len() - 1].to_vec(),
            [&payload[..], &[0][..]].concat(),
        ] {
            let mut parts = sections.clone();
            parts[at].1 = forged;
            let bytes = crate::testutil::assemble(&header, &parts);
            assert!(
                matches!(
                    trace_tail(&bytes),
                    Err(SnapshotError::Malformed { .. }) | Err(SnapshotError::Truncated { .. })
                ),
                "{:?}",
                trace_tail(&bytes)
            );
            // Restoring never needs the section: the snapshot itself still decodes.
            assert!(decode_snapshot(&bytes).is_ok());
        }
        let mut twice = sections.clone();
        twice.insert(at, sections[at].clone());
        assert!(matches!(
            trace_tail(&crate::testutil::assemble(&header, &twice)),
            Err(SnapshotError::DuplicateSection { .. })
        ));
    }
}
