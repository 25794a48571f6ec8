//! Deterministic pseudo-random choices (arguments, checkpoint points) derived from the
//! input bytes, so a case replays exactly from its bytes or its seed.

use tern_snapshot::Value;
use wasmparser::ValType;

/// A splitmix64 stream seeded by a hash of the input.
#[derive(Debug, Clone)]
pub struct Choices(u64);

impl Choices {
    pub fn new(data: &[u8]) -> Choices {
        // FNV-1a over the input: every byte moves the stream.
        let seed = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Choices(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `1..=max` (`max >= 1`).
    pub fn up_to(&mut self, max: u64) -> u64 {
        1 + self.next() % max.max(1)
    }

    /// An argument of type `ty`: mostly small or boundary values, which reach more
    /// branches and in-bounds addresses than uniform ones.
    pub fn value(&mut self, ty: ValType) -> Value {
        let bits = match self.next() % 4 {
            0 => 0,
            1 => self.next() % 16,
            2 => u64::MAX - self.next() % 4,
            _ => self.next(),
        };
        match ty {
            ValType::I32 => Value::I32(bits as u32),
            ValType::I64 => Value::I64(bits),
            ValType::F32 => Value::F32((bits as u32 as f32).to_bits()),
            ValType::F64 => Value::F64((bits as f64).to_bits()),
            ValType::V128 => Value::V128(u128::from(bits) << 64 | u128::from(self.next())),
            // Only null references can be passed in from outside.
            ValType::Ref(r) if r.is_func_ref() => Value::FuncRef(None),
            ValType::Ref(_) => Value::ExternRef(None),
        }
    }
}
