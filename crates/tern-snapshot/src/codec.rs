//! Binary encoding of [`ExecState`]: unsigned LEB128 integers, length-prefixed vectors,
//! one tag byte per value. `docs/snapshot-format.md` describes the layout.

use crate::state::{ExecState, Frame, InstanceImage, MemoryImage, TableImage, Value, WASM_PAGE};
use std::fmt;

/// Why a byte string is not a valid encoded state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset at which decoding failed.
    pub offset: usize,
    /// What was wrong there.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte offset {})", self.message, self.offset)
    }
}

impl std::error::Error for DecodeError {}

const TAG_I32: u8 = 0x7f;
const TAG_I64: u8 = 0x7e;
const TAG_F32: u8 = 0x7d;
const TAG_F64: u8 = 0x7c;
const TAG_V128: u8 = 0x7b;
const TAG_FUNCREF: u8 = 0x70;
const TAG_EXTERNREF: u8 = 0x6f;

/// Encodes a state to bytes; [`decode_state`] reverses it exactly.
pub fn encode_state(state: &ExecState) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.len(state.memories.len());
    for memory in &state.memories {
        w.uleb(memory.pages.into());
        w.len(memory.nonzero_pages.len());
        for (index, bytes) in &memory.nonzero_pages {
            w.uleb((*index).into());
            w.0.extend_from_slice(bytes);
        }
    }
    w.len(state.tables.len());
    for table in &state.tables {
        w.values(&table.elements);
    }
    w.values(&state.globals);
    w.len(state.instances.len());
    for instance in &state.instances {
        w.indices(&instance.dropped_data);
        w.indices(&instance.dropped_elems);
    }
    w.len(state.frames.len());
    for frame in &state.frames {
        for n in [frame.instance, frame.func, frame.pc] {
            w.uleb(n.into());
        }
        w.values(&frame.locals);
        w.values(&frame.stack);
    }
    w.0
}

/// Decodes bytes written by [`encode_state`], refusing anything malformed or trailing.
pub fn decode_state(bytes: &[u8]) -> Result<ExecState, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let mut state = ExecState::default();
    for _ in 0..r.len()? {
        let pages = r.u32()?;
        let mut nonzero_pages: Vec<(u32, Vec<u8>)> = Vec::new();
        for _ in 0..r.len()? {
            let at = r.pos;
            let index = r.u32()?;
            if index >= pages || nonzero_pages.last().is_some_and(|(prev, _)| *prev >= index) {
                return Err(r.error_at(at, format!("page index {index} out of order or range")));
            }
            nonzero_pages.push((index, r.take(WASM_PAGE)?.to_vec()));
        }
        state.memories.push(MemoryImage {
            pages,
            nonzero_pages,
        });
    }
    for _ in 0..r.len()? {
        state.tables.push(TableImage {
            elements: r.values()?,
        });
    }
    state.globals = r.values()?;
    for _ in 0..r.len()? {
        let dropped_data = r.indices()?;
        let dropped_elems = r.indices()?;
        state.instances.push(InstanceImage {
            dropped_data,
            dropped_elems,
        });
    }
    for _ in 0..r.len()? {
        let (instance, func, pc) = (r.u32()?, r.u32()?, r.u32()?);
        let (locals, stack) = (r.values()?, r.values()?);
        state.frames.push(Frame {
            instance,
            func,
            pc,
            locals,
            stack,
        });
    }
    if r.pos != bytes.len() {
        return Err(r.error("trailing bytes after state".into()));
    }
    Ok(state)
}

struct Writer(Vec<u8>);

impl Writer {
    fn uleb(&mut self, n: u64) {
        crate::bytes::Writer(&mut self.0).uleb(n);
    }

    fn len(&mut self, n: usize) {
        self.uleb(n as u64);
    }

    fn indices(&mut self, indices: &[u32]) {
        self.len(indices.len());
        for &i in indices {
            self.uleb(i.into());
        }
    }

    fn values(&mut self, values: &[Value]) {
        self.len(values.len());
        for value in values {
            self.value(value);
        }
    }

    fn value(&mut self, value: &Value) {
        match *value {
            Value::I32(v) | Value::F32(v) => {
                self.0.push(if matches!(value, Value::I32(_)) {
                    TAG_I32
                } else {
                    TAG_F32
                });
                self.0.extend_from_slice(&v.to_le_bytes());
            }
            Value::I64(v) | Value::F64(v) => {
                self.0.push(if matches!(value, Value::I64(_)) {
                    TAG_I64
                } else {
                    TAG_F64
                });
                self.0.extend_from_slice(&v.to_le_bytes());
            }
            Value::V128(v) => {
                self.0.push(TAG_V128);
                self.0.extend_from_slice(&v.to_le_bytes());
            }
            Value::FuncRef(r) | Value::ExternRef(r) => {
                let tag = if matches!(value, Value::FuncRef(_)) {
                    TAG_FUNCREF
                } else {
                    TAG_EXTERNREF
                };
                self.0.push(tag);
                // 0 is null; n + 1 is reference n.
                self.uleb(r.map_or(0, |n| u64::from(n) + 1));
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, message: String) -> DecodeError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, offset: usize, message: String) -> DecodeError {
        DecodeError { offset, message }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end =
            end.ok_or_else(|| self.error(format!("unexpected end of data, {n} bytes needed")))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn uleb(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut result = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            // The tenth byte holds only the top bit of a u64.
            if shift == 63 && byte > 1 {
                return Err(self.error_at(start, "integer too large for 64 bits".into()));
            }
            result |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(result);
            }
        }
        Err(self.error_at(start, "integer too long".into()))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let at = self.pos;
        let n = self.uleb()?;
        u32::try_from(n).map_err(|_| self.error_at(at, format!("{n} does not fit in 32 bits")))
    }

    fn len(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.u32()? as usize;
        // Every element takes at least one byte, so a longer count is certainly forged.
        if n > self.bytes.len() - self.pos {
            return Err(self.error_at(at, format!("count {n} exceeds the remaining data")));
        }
        Ok(n)
    }

    fn indices(&mut self) -> Result<Vec<u32>, DecodeError> {
        (0..self.len()?).map(|_| self.u32()).collect()
    }

    fn values(&mut self) -> Result<Vec<Value>, DecodeError> {
        (0..self.len()?).map(|_| self.value()).collect()
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        let at = self.pos;
        let tag = self.take(1)?[0];
        Ok(match tag {
            TAG_I32 => Value::I32(u32::from_le_bytes(self.array()?)),
            TAG_I64 => Value::I64(u64::from_le_bytes(self.array()?)),
            TAG_F32 => Value::F32(u32::from_le_bytes(self.array()?)),
            TAG_F64 => Value::F64(u64::from_le_bytes(self.array()?)),
            TAG_V128 => Value::V128(u128::from_le_bytes(self.array()?)),
            TAG_FUNCREF | TAG_EXTERNREF => {
                // 0 is null, n + 1 is reference n: the raw value spans 33 bits.
                let raw = self.uleb()?;
                let r = match raw.checked_sub(1) {
                    None => None,
                    Some(n) => Some(u32::try_from(n).map_err(|_| {
                        self.error_at(at, format!("reference {n} does not fit in 32 bits"))
                    })?),
                };
                if tag == TAG_FUNCREF {
                    Value::FuncRef(r)
                } else {
                    Value::ExternRef(r)
                }
            }
            other => return Err(self.error_at(at, format!("unknown value tag 0x{other:02x}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ExecState {
        let mut page = vec![0u8; WASM_PAGE];
        page[10] = 3;
        ExecState {
            memories: vec![MemoryImage {
                pages: 2,
                nonzero_pages: vec![(1, page)],
            }],
            tables: vec![TableImage {
                elements: vec![
                    Value::FuncRef(None),
                    Value::FuncRef(Some(0)),
                    Value::FuncRef(Some(u32::MAX)),
                    Value::ExternRef(Some(9)),
                ],
            }],
            globals: vec![
                Value::I32(1),
                Value::I64(u64::MAX),
                Value::F32(0x7fc0_0001),
                Value::F64(3),
            ],
            instances: vec![InstanceImage {
                dropped_data: vec![0, 4],
                dropped_elems: vec![],
            }],
            frames: vec![Frame {
                instance: 0,
                func: 3,
                pc: 300,
                locals: vec![Value::V128(u128::MAX - 5)],
                stack: vec![Value::ExternRef(None)],
            }],
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let state = sample();
        assert_eq!(decode_state(&encode_state(&state)).unwrap(), state);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode_state(&sample());
        for len in 0..bytes.len() {
            assert!(
                decode_state(&bytes[..len]).is_err(),
                "prefix of {len} bytes accepted"
            );
        }
    }

    #[test]
    fn trailing_and_bad_tags_are_errors() {
        let mut bytes = encode_state(&sample());
        bytes.push(0);
        assert!(
            decode_state(&bytes)
                .unwrap_err()
                .message
                .contains("trailing")
        );
        let bytes = encode_state(&ExecState {
            globals: vec![Value::I32(0)],
            ..Default::default()
        });
        let mut forged = bytes.clone();
        let tag_at = forged.iter().position(|&b| b == TAG_I32).unwrap();
        forged[tag_at] = 0x55;
        let err = decode_state(&forged).unwrap_err();
        assert_eq!(err.offset, tag_at);
    }
}
