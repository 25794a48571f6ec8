//! Fixed-width 128-bit SIMD (WebAssembly 2.0, without relaxed-simd) as pure functions.
//!
//! A `v128` value is a `u128` whose little-endian bytes are the lanes: lane `i` of a shape
//! with `N`-bit lanes is bits `i*N .. (i+1)*N`. Scalars crossing the boundary (splat,
//! extract/replace lane, shift amounts) are "slot bits": an i32 is its `u32` zero-extended
//! to `u64`, an f32 is `f32::to_bits` zero-extended, i64/f64 are their 64 bits.
//!
//! The executor asks [`classify`] once per operator at translation time and then calls the
//! evaluation function matching the stack shape ([`unary`], [`binary`], ...). SIMD loads
//! read their bytes themselves and hand them to [`finish_load`].
//!
//! Float results that are NaN are always replaced by the positive canonical NaN. The spec
//! allows this everywhere it allows a NaN result (a canonical NaN is also an arithmetic
//! NaN), and it makes results independent of the host's NaN propagation rules, which
//! matters for a runtime whose programs may be migrated between machines. Operations the
//! spec defines bitwise (abs, neg, pmin, pmax, lane moves) keep NaN payloads untouched.
//! So do the conversions `f32x4.demote_f64x2_zero` and `f64x2.promote_low_f32x4`, by the
//! fixed rule of the scalar demote and promote ([`numeric::demote`]: sign and payload
//! kept, quiet bit set), which is what wasmtime gives: the fast tier and the interpreter
//! then agree on them, as `wasm-smith`'s `canonicalize_nans` leaves them uncovered.

use std::ops::{Add, Mul, Shl, Shr};

use crate::numeric;

use wasmparser::{MemArg, Operator};

// ---------------------------------------------------------------------------------------
// Operator classification
// ---------------------------------------------------------------------------------------

/// A SIMD operator without memory access, classified by its stack shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SimdOp {
    /// `v128 -> v128`
    Unary(UnaryOp),
    /// `v128 v128 -> v128`
    Binary(BinaryOp),
    /// `v128 v128 v128 -> v128`
    Ternary(TernaryOp),
    /// `i8x16.shuffle`: `v128 v128 -> v128`; each byte selects lane 0..32 of `a ++ b`.
    Shuffle([u8; 16]),
    /// `scalar -> v128`
    Splat(SplatOp),
    /// `v128 -> scalar`
    ExtractLane(ExtractOp, u8),
    /// `v128 scalar -> v128`
    ReplaceLane(ReplaceOp, u8),
    /// `v128 i32 -> v128`
    Shift(ShiftOp),
    /// `v128 -> i32`
    Test(TestOp),
}

/// Defines a fieldless operator enum whose variants are named exactly like the
/// `wasmparser::Operator` variants they stand for, plus the mapping from those operators.
/// Sharing the names keeps the mapping mechanical (no hand-written table to get wrong),
/// which is also why clippy's complaint about shared name suffixes is silenced.
macro_rules! op_enum {
    ($(#[$meta:meta])* $name:ident { $($op:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(clippy::enum_variant_names)]
        pub(crate) enum $name { $($op),* }

        impl $name {
            fn from_operator(op: &Operator<'_>) -> Option<Self> {
                match op {
                    $(Operator::$op => Some(Self::$op),)*
                    _ => None,
                }
            }
        }
    };
    // Operators carrying a lane immediate: the immediate is returned alongside.
    ($(#[$meta:meta])* $name:ident with lane { $($op:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(clippy::enum_variant_names)]
        pub(crate) enum $name { $($op),* }

        impl $name {
            fn from_operator(op: &Operator<'_>) -> Option<(Self, u8)> {
                match op {
                    $(Operator::$op { lane } => Some((Self::$op, *lane)),)*
                    _ => None,
                }
            }
        }
    };
}

op_enum! {
    /// `v128 -> v128` operators.
    UnaryOp {
        V128Not,
        I8x16Abs, I8x16Neg, I8x16Popcnt,
        I16x8Abs, I16x8Neg,
        I32x4Abs, I32x4Neg,
        I64x2Abs, I64x2Neg,
        I16x8ExtAddPairwiseI8x16S, I16x8ExtAddPairwiseI8x16U,
        I32x4ExtAddPairwiseI16x8S, I32x4ExtAddPairwiseI16x8U,
        I16x8ExtendLowI8x16S, I16x8ExtendHighI8x16S,
        I16x8ExtendLowI8x16U, I16x8ExtendHighI8x16U,
        I32x4ExtendLowI16x8S, I32x4ExtendHighI16x8S,
        I32x4ExtendLowI16x8U, I32x4ExtendHighI16x8U,
        I64x2ExtendLowI32x4S, I64x2ExtendHighI32x4S,
        I64x2ExtendLowI32x4U, I64x2ExtendHighI32x4U,
        F32x4Ceil, F32x4Floor, F32x4Trunc, F32x4Nearest, F32x4Abs, F32x4Neg, F32x4Sqrt,
        F64x2Ceil, F64x2Floor, F64x2Trunc, F64x2Nearest, F64x2Abs, F64x2Neg, F64x2Sqrt,
        I32x4TruncSatF32x4S, I32x4TruncSatF32x4U,
        F32x4ConvertI32x4S, F32x4ConvertI32x4U,
        I32x4TruncSatF64x2SZero, I32x4TruncSatF64x2UZero,
        F64x2ConvertLowI32x4S, F64x2ConvertLowI32x4U,
        F32x4DemoteF64x2Zero, F64x2PromoteLowF32x4,
    }
}

op_enum! {
    /// `v128 v128 -> v128` operators (the first operand is the deeper one).
    BinaryOp {
        V128And, V128AndNot, V128Or, V128Xor,
        I8x16Swizzle,
        I8x16NarrowI16x8S, I8x16NarrowI16x8U, I16x8NarrowI32x4S, I16x8NarrowI32x4U,

        I8x16Eq, I8x16Ne, I8x16LtS, I8x16LtU, I8x16GtS, I8x16GtU,
        I8x16LeS, I8x16LeU, I8x16GeS, I8x16GeU,
        I16x8Eq, I16x8Ne, I16x8LtS, I16x8LtU, I16x8GtS, I16x8GtU,
        I16x8LeS, I16x8LeU, I16x8GeS, I16x8GeU,
        I32x4Eq, I32x4Ne, I32x4LtS, I32x4LtU, I32x4GtS, I32x4GtU,
        I32x4LeS, I32x4LeU, I32x4GeS, I32x4GeU,
        I64x2Eq, I64x2Ne, I64x2LtS, I64x2GtS, I64x2LeS, I64x2GeS,
        F32x4Eq, F32x4Ne, F32x4Lt, F32x4Gt, F32x4Le, F32x4Ge,
        F64x2Eq, F64x2Ne, F64x2Lt, F64x2Gt, F64x2Le, F64x2Ge,

        I8x16Add, I8x16AddSatS, I8x16AddSatU, I8x16Sub, I8x16SubSatS, I8x16SubSatU,
        I8x16MinS, I8x16MinU, I8x16MaxS, I8x16MaxU, I8x16AvgrU,

        I16x8Add, I16x8AddSatS, I16x8AddSatU, I16x8Sub, I16x8SubSatS, I16x8SubSatU,
        I16x8Mul, I16x8MinS, I16x8MinU, I16x8MaxS, I16x8MaxU, I16x8AvgrU,
        I16x8Q15MulrSatS,
        I16x8ExtMulLowI8x16S, I16x8ExtMulHighI8x16S, I16x8ExtMulLowI8x16U, I16x8ExtMulHighI8x16U,

        I32x4Add, I32x4Sub, I32x4Mul, I32x4MinS, I32x4MinU, I32x4MaxS, I32x4MaxU,
        I32x4DotI16x8S,
        I32x4ExtMulLowI16x8S, I32x4ExtMulHighI16x8S, I32x4ExtMulLowI16x8U, I32x4ExtMulHighI16x8U,

        I64x2Add, I64x2Sub, I64x2Mul,
        I64x2ExtMulLowI32x4S, I64x2ExtMulHighI32x4S, I64x2ExtMulLowI32x4U, I64x2ExtMulHighI32x4U,

        F32x4Add, F32x4Sub, F32x4Mul, F32x4Div, F32x4Min, F32x4Max, F32x4PMin, F32x4PMax,
        F64x2Add, F64x2Sub, F64x2Mul, F64x2Div, F64x2Min, F64x2Max, F64x2PMin, F64x2PMax,
    }
}

op_enum! {
    /// `v128 v128 v128 -> v128` operators.
    TernaryOp { V128Bitselect }
}

op_enum! {
    /// `scalar -> v128` operators.
    SplatOp { I8x16Splat, I16x8Splat, I32x4Splat, I64x2Splat, F32x4Splat, F64x2Splat }
}

op_enum! {
    /// `v128 -> scalar` operators.
    ExtractOp with lane {
        I8x16ExtractLaneS, I8x16ExtractLaneU, I16x8ExtractLaneS, I16x8ExtractLaneU,
        I32x4ExtractLane, I64x2ExtractLane, F32x4ExtractLane, F64x2ExtractLane,
    }
}

op_enum! {
    /// `v128 scalar -> v128` operators.
    ReplaceOp with lane {
        I8x16ReplaceLane, I16x8ReplaceLane, I32x4ReplaceLane, I64x2ReplaceLane,
        F32x4ReplaceLane, F64x2ReplaceLane,
    }
}

op_enum! {
    /// `v128 i32 -> v128` lane shifts.
    ShiftOp {
        I8x16Shl, I8x16ShrS, I8x16ShrU,
        I16x8Shl, I16x8ShrS, I16x8ShrU,
        I32x4Shl, I32x4ShrS, I32x4ShrU,
        I64x2Shl, I64x2ShrS, I64x2ShrU,
    }
}

op_enum! {
    /// `v128 -> i32` operators.
    TestOp {
        V128AnyTrue,
        I8x16AllTrue, I16x8AllTrue, I32x4AllTrue, I64x2AllTrue,
        I8x16Bitmask, I16x8Bitmask, I32x4Bitmask, I64x2Bitmask,
    }
}

/// The classification of `op`, or `None` if it is not a memory-free SIMD operator
/// (loads, stores, `v128.const`, relaxed-simd and non-SIMD operators).
pub(crate) fn classify(op: &Operator<'_>) -> Option<SimdOp> {
    if let Operator::I8x16Shuffle { lanes } = op {
        return Some(SimdOp::Shuffle(*lanes));
    }
    UnaryOp::from_operator(op)
        .map(SimdOp::Unary)
        .or_else(|| BinaryOp::from_operator(op).map(SimdOp::Binary))
        .or_else(|| TernaryOp::from_operator(op).map(SimdOp::Ternary))
        .or_else(|| SplatOp::from_operator(op).map(SimdOp::Splat))
        .or_else(|| ExtractOp::from_operator(op).map(|(o, l)| SimdOp::ExtractLane(o, l)))
        .or_else(|| ReplaceOp::from_operator(op).map(|(o, l)| SimdOp::ReplaceLane(o, l)))
        .or_else(|| ShiftOp::from_operator(op).map(SimdOp::Shift))
        .or_else(|| TestOp::from_operator(op).map(SimdOp::Test))
}

// ---------------------------------------------------------------------------------------
// Lane access
// ---------------------------------------------------------------------------------------

/// A scalar type that can be a lane of a v128.
trait Lane: Copy {
    const BITS: u32;
    const COUNT: usize = (128 / Self::BITS) as usize;
    /// All-ones in the low `BITS` bits.
    const MASK: u128 = u128::MAX >> (128 - Self::BITS);
    /// The lane whose bits are the low `BITS` bits of `bits` (higher bits are ignored).
    fn from_bits(bits: u128) -> Self;
    /// The lane's bits, zero-extended.
    fn to_bits(self) -> u128;
}

macro_rules! int_lane {
    ($($t:ty => $u:ty),* $(,)?) => {$(
        impl Lane for $t {
            const BITS: u32 = <$t>::BITS;
            fn from_bits(bits: u128) -> Self {
                // Truncation is the point: keep only this lane's bits.
                bits as $u as $t
            }
            fn to_bits(self) -> u128 {
                // Through the unsigned type so that signed lanes are zero-extended.
                u128::from(self as $u)
            }
        }
    )*};
}
int_lane!(i8 => u8, u8 => u8, i16 => u16, u16 => u16, i32 => u32, u32 => u32, i64 => u64, u64 => u64);

impl Lane for f32 {
    const BITS: u32 = 32;
    fn from_bits(bits: u128) -> Self {
        f32::from_bits(bits as u32)
    }
    fn to_bits(self) -> u128 {
        u128::from(f32::to_bits(self))
    }
}

impl Lane for f64 {
    const BITS: u32 = 64;
    fn from_bits(bits: u128) -> Self {
        f64::from_bits(bits as u64)
    }
    fn to_bits(self) -> u128 {
        u128::from(f64::to_bits(self))
    }
}

/// Lane `i` of `v` viewed as `T` (`i` must be below `T::COUNT`).
fn get<T: Lane>(v: u128, i: usize) -> T {
    T::from_bits(v >> (i as u32 * T::BITS))
}

/// The v128 whose lane `i` is `f(i)`.
fn build<T: Lane>(mut f: impl FnMut(usize) -> T) -> u128 {
    (0..T::COUNT).fold(0, |acc, i| acc | f(i).to_bits() << (i as u32 * T::BITS))
}

/// Applies `f` to each lane.
fn map<T: Lane, U: Lane>(a: u128, f: impl Fn(T) -> U) -> u128 {
    debug_assert_eq!(T::COUNT, U::COUNT);
    build(|i| f(get(a, i)))
}

/// Applies `f` to each pair of corresponding lanes.
fn zip<T: Lane>(a: u128, b: u128, f: impl Fn(T, T) -> T) -> u128 {
    build(|i| f(get(a, i), get(b, i)))
}

/// A lane-wise comparison: all-ones lanes where `f` holds, all-zeros elsewhere.
fn cmp<T: Lane>(a: u128, b: u128, f: impl Fn(T, T) -> bool) -> u128 {
    (0..T::COUNT).fold(0, |acc, i| {
        if f(get(a, i), get(b, i)) {
            acc | T::MASK << (i as u32 * T::BITS)
        } else {
            acc
        }
    })
}

/// A lane index masked into range, so that unvalidated input cannot panic.
fn lane_index<T: Lane>(lane: u8) -> usize {
    usize::from(lane) % T::COUNT
}

// ---------------------------------------------------------------------------------------
// Shared lane operations
// ---------------------------------------------------------------------------------------

/// Sign- or zero-extends the low or high half of `a`'s narrow lanes (`N`) to wide lanes
/// (`W`); the signedness comes from `N`.
fn extend<N: Lane, W: Lane + From<N>>(a: u128, high: bool) -> u128 {
    let base = if high { W::COUNT } else { 0 };
    build(|i| W::from(get::<N>(a, base + i)))
}

/// Multiplies the extended low or high halves. The products cannot overflow `W` (the
/// largest magnitude is `MIN * MIN = 2^(2n-2)` resp. `(2^n-1)^2`).
fn extmul<N: Lane, W: Lane + From<N> + Mul<Output = W>>(a: u128, b: u128, high: bool) -> u128 {
    let base = if high { W::COUNT } else { 0 };
    build(|i| W::from(get::<N>(a, base + i)) * W::from(get::<N>(b, base + i)))
}

/// Adds adjacent pairs of narrow lanes into wide lanes (cannot overflow).
fn extadd_pairwise<N: Lane, W: Lane + From<N> + Add<Output = W>>(a: u128) -> u128 {
    build(|i| W::from(get::<N>(a, 2 * i)) + W::from(get::<N>(a, 2 * i + 1)))
}

/// Narrows the wide lanes of `a` (low half of the result) and `b` (high half), `sat`
/// saturating each one into the narrow type.
fn narrow<W: Lane, N: Lane>(a: u128, b: u128, sat: impl Fn(W) -> N) -> u128 {
    build(|i| {
        sat(if i < W::COUNT {
            get(a, i)
        } else {
            get(b, i - W::COUNT)
        })
    })
}

/// Left shift by `amount` modulo the lane width.
fn shl<T: Lane + Shl<u32, Output = T>>(v: u128, amount: u32) -> u128 {
    let n = amount % T::BITS;
    map(v, |x: T| x << n)
}

/// Right shift by `amount` modulo the lane width: arithmetic for signed `T`, logical for
/// unsigned `T`.
fn shr<T: Lane + Shr<u32, Output = T>>(v: u128, amount: u32) -> u128 {
    let n = amount % T::BITS;
    map(v, |x: T| x >> n)
}

fn all_true<T: Lane>(v: u128) -> bool {
    (0..T::COUNT).all(|i| get::<T>(v, i).to_bits() != 0)
}

/// Bit `i` of the result is the top bit of lane `i`.
fn bitmask<T: Lane>(v: u128) -> u32 {
    (0..T::COUNT).fold(0, |acc, i| {
        let top = (get::<T>(v, i).to_bits() >> (T::BITS - 1)) as u32;
        acc | top << i
    })
}

// ---------------------------------------------------------------------------------------
// Float helpers
// ---------------------------------------------------------------------------------------

trait Float: Lane + PartialOrd {
    /// The positive canonical NaN (quiet bit only).
    const CANONICAL_NAN: Self;
    fn is_nan(self) -> bool;
    fn is_sign_negative(self) -> bool;
}

impl Float for f32 {
    const CANONICAL_NAN: Self = f32::from_bits(0x7fc0_0000);
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn is_sign_negative(self) -> bool {
        f32::is_sign_negative(self)
    }
}

impl Float for f64 {
    const CANONICAL_NAN: Self = f64::from_bits(0x7ff8_0000_0000_0000);
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn is_sign_negative(self) -> bool {
        f64::is_sign_negative(self)
    }
}

/// Replaces any NaN by the canonical NaN (see the module docs). This also guarantees a
/// quiet result for signaling inputs, which a libm fallback for `ceil` etc. might not.
fn canon<F: Float>(x: F) -> F {
    if x.is_nan() { F::CANONICAL_NAN } else { x }
}

/// Wasm `fmin`: NaN if either input is NaN, and -0 is smaller than +0.
fn fmin<F: Float>(x: F, y: F) -> F {
    if x.is_nan() || y.is_nan() {
        F::CANONICAL_NAN
    } else if x == y {
        // Equal values differ at most in the sign of zero; prefer the negative one.
        if x.is_sign_negative() { x } else { y }
    } else if x < y {
        x
    } else {
        y
    }
}

/// Wasm `fmax`: NaN if either input is NaN, and +0 is larger than -0.
fn fmax<F: Float>(x: F, y: F) -> F {
    if x.is_nan() || y.is_nan() {
        F::CANONICAL_NAN
    } else if x == y {
        if x.is_sign_negative() { y } else { x }
    } else if x > y {
        x
    } else {
        y
    }
}

/// `pmin`: exactly `y < x ? y : x`, so `x` is returned unchanged whenever either input is
/// NaN or both are zeros of any sign.
fn pmin<F: Float>(x: F, y: F) -> F {
    if y < x { y } else { x }
}

/// `pmax`: exactly `x < y ? y : x`.
fn pmax<F: Float>(x: F, y: F) -> F {
    if x < y { y } else { x }
}

const F32_SIGN: u32 = 1 << 31;
const F64_SIGN: u64 = 1 << 63;

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

pub(crate) fn unary(op: UnaryOp, a: u128) -> u128 {
    use UnaryOp::*;
    match op {
        V128Not => !a,

        I8x16Abs => map(a, i8::wrapping_abs),
        I8x16Neg => map(a, i8::wrapping_neg),
        I8x16Popcnt => map(a, |x: u8| x.count_ones() as u8),
        I16x8Abs => map(a, i16::wrapping_abs),
        I16x8Neg => map(a, i16::wrapping_neg),
        I32x4Abs => map(a, i32::wrapping_abs),
        I32x4Neg => map(a, i32::wrapping_neg),
        I64x2Abs => map(a, i64::wrapping_abs),
        I64x2Neg => map(a, i64::wrapping_neg),

        I16x8ExtAddPairwiseI8x16S => extadd_pairwise::<i8, i16>(a),
        I16x8ExtAddPairwiseI8x16U => extadd_pairwise::<u8, u16>(a),
        I32x4ExtAddPairwiseI16x8S => extadd_pairwise::<i16, i32>(a),
        I32x4ExtAddPairwiseI16x8U => extadd_pairwise::<u16, u32>(a),

        I16x8ExtendLowI8x16S => extend::<i8, i16>(a, false),
        I16x8ExtendHighI8x16S => extend::<i8, i16>(a, true),
        I16x8ExtendLowI8x16U => extend::<u8, u16>(a, false),
        I16x8ExtendHighI8x16U => extend::<u8, u16>(a, true),
        I32x4ExtendLowI16x8S => extend::<i16, i32>(a, false),
        I32x4ExtendHighI16x8S => extend::<i16, i32>(a, true),
        I32x4ExtendLowI16x8U => extend::<u16, u32>(a, false),
        I32x4ExtendHighI16x8U => extend::<u16, u32>(a, true),
        I64x2ExtendLowI32x4S => extend::<i32, i64>(a, false),
        I64x2ExtendHighI32x4S => extend::<i32, i64>(a, true),
        I64x2ExtendLowI32x4U => extend::<u32, u64>(a, false),
        I64x2ExtendHighI32x4U => extend::<u32, u64>(a, true),

        F32x4Ceil => map(a, |x: f32| canon(x.ceil())),
        F32x4Floor => map(a, |x: f32| canon(x.floor())),
        F32x4Trunc => map(a, |x: f32| canon(x.trunc())),
        F32x4Nearest => map(a, |x: f32| canon(x.round_ties_even())),
        F32x4Sqrt => map(a, |x: f32| canon(x.sqrt())),
        // abs and neg are defined on the sign bit alone, NaN payloads included.
        F32x4Abs => map(a, |x: u32| x & !F32_SIGN),
        F32x4Neg => map(a, |x: u32| x ^ F32_SIGN),
        F64x2Ceil => map(a, |x: f64| canon(x.ceil())),
        F64x2Floor => map(a, |x: f64| canon(x.floor())),
        F64x2Trunc => map(a, |x: f64| canon(x.trunc())),
        F64x2Nearest => map(a, |x: f64| canon(x.round_ties_even())),
        F64x2Sqrt => map(a, |x: f64| canon(x.sqrt())),
        F64x2Abs => map(a, |x: u64| x & !F64_SIGN),
        F64x2Neg => map(a, |x: u64| x ^ F64_SIGN),

        // Rust's float-to-int `as` saturates and maps NaN to 0, exactly trunc_sat.
        I32x4TruncSatF32x4S => map(a, |x: f32| x as i32),
        I32x4TruncSatF32x4U => map(a, |x: f32| x as u32),
        // Int-to-float `as` rounds to nearest, ties to even, as the spec requires.
        F32x4ConvertI32x4S => map(a, |x: i32| x as f32),
        F32x4ConvertI32x4U => map(a, |x: u32| x as f32),
        // The "zero" forms fill the upper two i32 lanes with zeros.
        I32x4TruncSatF64x2SZero => build(|i| if i < 2 { get::<f64>(a, i) as i32 } else { 0 }),
        I32x4TruncSatF64x2UZero => build(|i| if i < 2 { get::<f64>(a, i) as u32 } else { 0 }),
        F64x2ConvertLowI32x4S => build(|i| f64::from(get::<i32>(a, i))),
        F64x2ConvertLowI32x4U => build(|i| f64::from(get::<u32>(a, i))),
        // NaN lanes keep sign and payload, as the scalar demote/promote and wasmtime
        // do (see `numeric::demote`): canonical NaNs here made the engines disagree.
        F32x4DemoteF64x2Zero => build(|i| {
            if i < 2 {
                numeric::demote(get::<f64>(a, i))
            } else {
                0.0
            }
        }),
        F64x2PromoteLowF32x4 => build(|i| numeric::promote(get::<f32>(a, i))),
    }
}

/// `saturate!(x, T)`: clamps the wider integer `x` into the range of `T` and converts.
macro_rules! saturate {
    ($x:expr, $t:ty) => {
        $x.clamp(<$t>::MIN.into(), <$t>::MAX.into()) as $t
    };
}

pub(crate) fn binary(op: BinaryOp, a: u128, b: u128) -> u128 {
    use BinaryOp::*;
    match op {
        V128And => a & b,
        V128AndNot => a & !b,
        V128Or => a | b,
        V128Xor => a ^ b,

        // Out-of-range indices select zero.
        I8x16Swizzle => build(|i| {
            let idx = usize::from(get::<u8>(b, i));
            if idx < 16 { get::<u8>(a, idx) } else { 0 }
        }),

        // Inputs are always interpreted as signed; only the target range differs.
        I8x16NarrowI16x8S => narrow(a, b, |x: i16| saturate!(x, i8)),
        I8x16NarrowI16x8U => narrow(a, b, |x: i16| saturate!(x, u8)),
        I16x8NarrowI32x4S => narrow(a, b, |x: i32| saturate!(x, i16)),
        I16x8NarrowI32x4U => narrow(a, b, |x: i32| saturate!(x, u16)),

        I8x16Eq => cmp(a, b, |x: u8, y| x == y),
        I8x16Ne => cmp(a, b, |x: u8, y| x != y),
        I8x16LtS => cmp(a, b, |x: i8, y| x < y),
        I8x16LtU => cmp(a, b, |x: u8, y| x < y),
        I8x16GtS => cmp(a, b, |x: i8, y| x > y),
        I8x16GtU => cmp(a, b, |x: u8, y| x > y),
        I8x16LeS => cmp(a, b, |x: i8, y| x <= y),
        I8x16LeU => cmp(a, b, |x: u8, y| x <= y),
        I8x16GeS => cmp(a, b, |x: i8, y| x >= y),
        I8x16GeU => cmp(a, b, |x: u8, y| x >= y),
        I16x8Eq => cmp(a, b, |x: u16, y| x == y),
        I16x8Ne => cmp(a, b, |x: u16, y| x != y),
        I16x8LtS => cmp(a, b, |x: i16, y| x < y),
        I16x8LtU => cmp(a, b, |x: u16, y| x < y),
        I16x8GtS => cmp(a, b, |x: i16, y| x > y),
        I16x8GtU => cmp(a, b, |x: u16, y| x > y),
        I16x8LeS => cmp(a, b, |x: i16, y| x <= y),
        I16x8LeU => cmp(a, b, |x: u16, y| x <= y),
        I16x8GeS => cmp(a, b, |x: i16, y| x >= y),
        I16x8GeU => cmp(a, b, |x: u16, y| x >= y),
        I32x4Eq => cmp(a, b, |x: u32, y| x == y),
        I32x4Ne => cmp(a, b, |x: u32, y| x != y),
        I32x4LtS => cmp(a, b, |x: i32, y| x < y),
        I32x4LtU => cmp(a, b, |x: u32, y| x < y),
        I32x4GtS => cmp(a, b, |x: i32, y| x > y),
        I32x4GtU => cmp(a, b, |x: u32, y| x > y),
        I32x4LeS => cmp(a, b, |x: i32, y| x <= y),
        I32x4LeU => cmp(a, b, |x: u32, y| x <= y),
        I32x4GeS => cmp(a, b, |x: i32, y| x >= y),
        I32x4GeU => cmp(a, b, |x: u32, y| x >= y),
        I64x2Eq => cmp(a, b, |x: u64, y| x == y),
        I64x2Ne => cmp(a, b, |x: u64, y| x != y),
        I64x2LtS => cmp(a, b, |x: i64, y| x < y),
        I64x2GtS => cmp(a, b, |x: i64, y| x > y),
        I64x2LeS => cmp(a, b, |x: i64, y| x <= y),
        I64x2GeS => cmp(a, b, |x: i64, y| x >= y),
        // IEEE comparisons: false for NaN except `ne`; -0 == +0.
        F32x4Eq => cmp(a, b, |x: f32, y| x == y),
        F32x4Ne => cmp(a, b, |x: f32, y| x != y),
        F32x4Lt => cmp(a, b, |x: f32, y| x < y),
        F32x4Gt => cmp(a, b, |x: f32, y| x > y),
        F32x4Le => cmp(a, b, |x: f32, y| x <= y),
        F32x4Ge => cmp(a, b, |x: f32, y| x >= y),
        F64x2Eq => cmp(a, b, |x: f64, y| x == y),
        F64x2Ne => cmp(a, b, |x: f64, y| x != y),
        F64x2Lt => cmp(a, b, |x: f64, y| x < y),
        F64x2Gt => cmp(a, b, |x: f64, y| x > y),
        F64x2Le => cmp(a, b, |x: f64, y| x <= y),
        F64x2Ge => cmp(a, b, |x: f64, y| x >= y),

        I8x16Add => zip(a, b, u8::wrapping_add),
        I8x16AddSatS => zip(a, b, i8::saturating_add),
        I8x16AddSatU => zip(a, b, u8::saturating_add),
        I8x16Sub => zip(a, b, u8::wrapping_sub),
        I8x16SubSatS => zip(a, b, i8::saturating_sub),
        I8x16SubSatU => zip(a, b, u8::saturating_sub),
        I8x16MinS => zip::<i8>(a, b, Ord::min),
        I8x16MinU => zip::<u8>(a, b, Ord::min),
        I8x16MaxS => zip::<i8>(a, b, Ord::max),
        I8x16MaxU => zip::<u8>(a, b, Ord::max),
        // Rounding average (x + y + 1) / 2, i.e. the halved sum rounded up, computed in a
        // wider type so the sum cannot overflow.
        I8x16AvgrU => zip(a, b, |x: u8, y| {
            (u16::from(x) + u16::from(y)).div_ceil(2) as u8
        }),

        I16x8Add => zip(a, b, u16::wrapping_add),
        I16x8AddSatS => zip(a, b, i16::saturating_add),
        I16x8AddSatU => zip(a, b, u16::saturating_add),
        I16x8Sub => zip(a, b, u16::wrapping_sub),
        I16x8SubSatS => zip(a, b, i16::saturating_sub),
        I16x8SubSatU => zip(a, b, u16::saturating_sub),
        I16x8Mul => zip(a, b, u16::wrapping_mul),
        I16x8MinS => zip::<i16>(a, b, Ord::min),
        I16x8MinU => zip::<u16>(a, b, Ord::min),
        I16x8MaxS => zip::<i16>(a, b, Ord::max),
        I16x8MaxU => zip::<u16>(a, b, Ord::max),
        I16x8AvgrU => zip(a, b, |x: u16, y| {
            (u32::from(x) + u32::from(y)).div_ceil(2) as u16
        }),
        // Q15 rounding multiply: (x*y + 2^14) >> 15 (arithmetic shift), saturated. Only
        // MIN * MIN overflows, giving 2^15 which saturates to i16::MAX.
        I16x8Q15MulrSatS => zip(a, b, |x: i16, y| {
            saturate!((i32::from(x) * i32::from(y) + (1 << 14)) >> 15, i16)
        }),
        I16x8ExtMulLowI8x16S => extmul::<i8, i16>(a, b, false),
        I16x8ExtMulHighI8x16S => extmul::<i8, i16>(a, b, true),
        I16x8ExtMulLowI8x16U => extmul::<u8, u16>(a, b, false),
        I16x8ExtMulHighI8x16U => extmul::<u8, u16>(a, b, true),

        I32x4Add => zip(a, b, u32::wrapping_add),
        I32x4Sub => zip(a, b, u32::wrapping_sub),
        I32x4Mul => zip(a, b, u32::wrapping_mul),
        I32x4MinS => zip::<i32>(a, b, Ord::min),
        I32x4MinU => zip::<u32>(a, b, Ord::min),
        I32x4MaxS => zip::<i32>(a, b, Ord::max),
        I32x4MaxU => zip::<u32>(a, b, Ord::max),
        // Each pair product fits in i32; only the sum of two MIN*MIN products (2^31)
        // overflows, and the spec wants it to wrap.
        I32x4DotI16x8S => build(|i| {
            let product = |j| i32::from(get::<i16>(a, j)) * i32::from(get::<i16>(b, j));
            product(2 * i).wrapping_add(product(2 * i + 1))
        }),
        I32x4ExtMulLowI16x8S => extmul::<i16, i32>(a, b, false),
        I32x4ExtMulHighI16x8S => extmul::<i16, i32>(a, b, true),
        I32x4ExtMulLowI16x8U => extmul::<u16, u32>(a, b, false),
        I32x4ExtMulHighI16x8U => extmul::<u16, u32>(a, b, true),

        I64x2Add => zip(a, b, u64::wrapping_add),
        I64x2Sub => zip(a, b, u64::wrapping_sub),
        I64x2Mul => zip(a, b, u64::wrapping_mul),
        I64x2ExtMulLowI32x4S => extmul::<i32, i64>(a, b, false),
        I64x2ExtMulHighI32x4S => extmul::<i32, i64>(a, b, true),
        I64x2ExtMulLowI32x4U => extmul::<u32, u64>(a, b, false),
        I64x2ExtMulHighI32x4U => extmul::<u32, u64>(a, b, true),

        F32x4Add => zip(a, b, |x: f32, y| canon(x + y)),
        F32x4Sub => zip(a, b, |x: f32, y| canon(x - y)),
        F32x4Mul => zip(a, b, |x: f32, y| canon(x * y)),
        F32x4Div => zip(a, b, |x: f32, y| canon(x / y)),
        F32x4Min => zip(a, b, fmin::<f32>),
        F32x4Max => zip(a, b, fmax::<f32>),
        F32x4PMin => zip(a, b, pmin::<f32>),
        F32x4PMax => zip(a, b, pmax::<f32>),
        F64x2Add => zip(a, b, |x: f64, y| canon(x + y)),
        F64x2Sub => zip(a, b, |x: f64, y| canon(x - y)),
        F64x2Mul => zip(a, b, |x: f64, y| canon(x * y)),
        F64x2Div => zip(a, b, |x: f64, y| canon(x / y)),
        F64x2Min => zip(a, b, fmin::<f64>),
        F64x2Max => zip(a, b, fmax::<f64>),
        F64x2PMin => zip(a, b, pmin::<f64>),
        F64x2PMax => zip(a, b, pmax::<f64>),
    }
}

pub(crate) fn ternary(op: TernaryOp, a: u128, b: u128, c: u128) -> u128 {
    match op {
        // Bits of `a` where the mask `c` is set, bits of `b` elsewhere.
        TernaryOp::V128Bitselect => (a & c) | (b & !c),
    }
}

/// `i8x16.shuffle`: result byte `i` is byte `lanes[i]` of the 32-byte concatenation
/// `a ++ b` (indices are masked to 0..32).
pub(crate) fn shuffle(lanes: &[u8; 16], a: u128, b: u128) -> u128 {
    build(|i| {
        let idx = usize::from(lanes[i] & 31);
        if idx < 16 {
            get::<u8>(a, idx)
        } else {
            get::<u8>(b, idx - 16)
        }
    })
}

pub(crate) fn splat(op: SplatOp, x: u64) -> u128 {
    /// Every lane gets the low `T::BITS` bits of `x` (i8/i16 splats truncate the i32).
    fn fill<T: Lane>(x: u64) -> u128 {
        let lane = T::from_bits(x.into());
        build(|_| lane)
    }
    match op {
        SplatOp::I8x16Splat => fill::<u8>(x),
        SplatOp::I16x8Splat => fill::<u16>(x),
        SplatOp::I32x4Splat | SplatOp::F32x4Splat => fill::<u32>(x),
        SplatOp::I64x2Splat | SplatOp::F64x2Splat => fill::<u64>(x),
    }
}

/// Extracts lane `lane` as slot bits (i32 results are zero-extended to 64 bits after the
/// `_s` forms sign-extend the lane to 32 bits).
pub(crate) fn extract_lane(op: ExtractOp, lane: u8, v: u128) -> u64 {
    fn lane_of<T: Lane>(v: u128, lane: u8) -> T {
        get(v, lane_index::<T>(lane))
    }
    use ExtractOp::*;
    match op {
        I8x16ExtractLaneS => u64::from(i32::from(lane_of::<i8>(v, lane)) as u32),
        I8x16ExtractLaneU => u64::from(lane_of::<u8>(v, lane)),
        I16x8ExtractLaneS => u64::from(i32::from(lane_of::<i16>(v, lane)) as u32),
        I16x8ExtractLaneU => u64::from(lane_of::<u16>(v, lane)),
        I32x4ExtractLane | F32x4ExtractLane => u64::from(lane_of::<u32>(v, lane)),
        I64x2ExtractLane | F64x2ExtractLane => lane_of::<u64>(v, lane),
    }
}

/// Replaces lane `lane` with the low lane-width bits of the slot bits `x`.
pub(crate) fn replace_lane(op: ReplaceOp, lane: u8, v: u128, x: u64) -> u128 {
    fn put<T: Lane>(v: u128, lane: u8, x: u64) -> u128 {
        let shift = lane_index::<T>(lane) as u32 * T::BITS;
        (v & !(T::MASK << shift)) | ((u128::from(x) & T::MASK) << shift)
    }
    use ReplaceOp::*;
    match op {
        I8x16ReplaceLane => put::<u8>(v, lane, x),
        I16x8ReplaceLane => put::<u16>(v, lane, x),
        I32x4ReplaceLane | F32x4ReplaceLane => put::<u32>(v, lane, x),
        I64x2ReplaceLane | F64x2ReplaceLane => put::<u64>(v, lane, x),
    }
}

/// Shifts every lane by `amount` modulo the lane width.
pub(crate) fn shift(op: ShiftOp, v: u128, amount: u32) -> u128 {
    use ShiftOp::*;
    match op {
        I8x16Shl => shl::<u8>(v, amount),
        I8x16ShrS => shr::<i8>(v, amount),
        I8x16ShrU => shr::<u8>(v, amount),
        I16x8Shl => shl::<u16>(v, amount),
        I16x8ShrS => shr::<i16>(v, amount),
        I16x8ShrU => shr::<u16>(v, amount),
        I32x4Shl => shl::<u32>(v, amount),
        I32x4ShrS => shr::<i32>(v, amount),
        I32x4ShrU => shr::<u32>(v, amount),
        I64x2Shl => shl::<u64>(v, amount),
        I64x2ShrS => shr::<i64>(v, amount),
        I64x2ShrU => shr::<u64>(v, amount),
    }
}

/// The i32 result (0 or 1 for the boolean tests, a lane bitmask for `bitmask`).
pub(crate) fn test(op: TestOp, v: u128) -> u32 {
    use TestOp::*;
    match op {
        V128AnyTrue => u32::from(v != 0),
        I8x16AllTrue => u32::from(all_true::<u8>(v)),
        I16x8AllTrue => u32::from(all_true::<u16>(v)),
        I32x4AllTrue => u32::from(all_true::<u32>(v)),
        I64x2AllTrue => u32::from(all_true::<u64>(v)),
        I8x16Bitmask => bitmask::<u8>(v),
        I16x8Bitmask => bitmask::<u16>(v),
        I32x4Bitmask => bitmask::<u32>(v),
        I64x2Bitmask => bitmask::<u64>(v),
    }
}

// ---------------------------------------------------------------------------------------
// Loads
// ---------------------------------------------------------------------------------------

/// How a SIMD load turns the bytes it read into a v128 (the executor reads
/// [`width_bytes`](LoadShape::width_bytes) bytes little-endian into the low bits of a
/// u64 or u128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadShape {
    /// `v128.load`: 16 bytes as they are.
    Full,
    /// `v128.load8x8_s`: 8 bytes, each sign-extended to an i16 lane.
    Extend8x8S,
    /// `v128.load8x8_u`: 8 bytes, each zero-extended to an i16 lane.
    Extend8x8U,
    /// `v128.load16x4_s`: 4 i16s sign-extended to i32 lanes.
    Extend16x4S,
    /// `v128.load16x4_u`: 4 u16s zero-extended to i32 lanes.
    Extend16x4U,
    /// `v128.load32x2_s`: 2 i32s sign-extended to i64 lanes.
    Extend32x2S,
    /// `v128.load32x2_u`: 2 u32s zero-extended to i64 lanes.
    Extend32x2U,
    /// `v128.load8_splat`: 1 byte copied into all 16 lanes.
    Splat8,
    /// `v128.load16_splat`
    Splat16,
    /// `v128.load32_splat`
    Splat32,
    /// `v128.load64_splat`
    Splat64,
    /// `v128.load32_zero`: 4 bytes into lane 0, the rest zero.
    Zero32,
    /// `v128.load64_zero`: 8 bytes into lane 0, the rest zero.
    Zero64,
}

impl LoadShape {
    /// The number of bytes the load reads from memory.
    pub(crate) fn width_bytes(self) -> u32 {
        use LoadShape::*;
        match self {
            Full => 16,
            Extend8x8S | Extend8x8U | Extend16x4S | Extend16x4U | Extend32x2S | Extend32x2U => 8,
            Splat8 => 1,
            Splat16 => 2,
            Splat32 | Zero32 => 4,
            Splat64 | Zero64 => 8,
        }
    }
}

/// The shape and memory immediate of a SIMD load that produces a whole v128 (not the
/// `load*_lane` forms, which also take a v128 operand).
pub(crate) fn load_shape(op: &Operator<'_>) -> Option<(LoadShape, MemArg)> {
    use LoadShape::*;
    let (shape, memarg) = match op {
        Operator::V128Load { memarg } => (Full, memarg),
        Operator::V128Load8x8S { memarg } => (Extend8x8S, memarg),
        Operator::V128Load8x8U { memarg } => (Extend8x8U, memarg),
        Operator::V128Load16x4S { memarg } => (Extend16x4S, memarg),
        Operator::V128Load16x4U { memarg } => (Extend16x4U, memarg),
        Operator::V128Load32x2S { memarg } => (Extend32x2S, memarg),
        Operator::V128Load32x2U { memarg } => (Extend32x2U, memarg),
        Operator::V128Load8Splat { memarg } => (Splat8, memarg),
        Operator::V128Load16Splat { memarg } => (Splat16, memarg),
        Operator::V128Load32Splat { memarg } => (Splat32, memarg),
        Operator::V128Load64Splat { memarg } => (Splat64, memarg),
        Operator::V128Load32Zero { memarg } => (Zero32, memarg),
        Operator::V128Load64Zero { memarg } => (Zero64, memarg),
        _ => return None,
    };
    Some((shape, *memarg))
}

/// The v128 a load of `shape` produces from the bytes it read (in the low
/// `shape.width_bytes()` bytes of `raw`; any higher bits are ignored).
pub(crate) fn finish_load(shape: LoadShape, raw: u128) -> u128 {
    use LoadShape::*;
    // The extending loads are exactly `extend_low` of the bytes placed in the low half.
    match shape {
        Full => raw,
        Extend8x8S => extend::<i8, i16>(raw, false),
        Extend8x8U => extend::<u8, u16>(raw, false),
        Extend16x4S => extend::<i16, i32>(raw, false),
        Extend16x4U => extend::<u16, u32>(raw, false),
        Extend32x2S => extend::<i32, i64>(raw, false),
        Extend32x2U => extend::<u32, u64>(raw, false),
        Splat8 => splat(SplatOp::I8x16Splat, raw as u64),
        Splat16 => splat(SplatOp::I16x8Splat, raw as u64),
        Splat32 => splat(SplatOp::I32x4Splat, raw as u64),
        Splat64 => splat(SplatOp::I64x2Splat, raw as u64),
        Zero32 => raw & u128::from(u32::MAX),
        Zero64 => raw & u128::from(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a v128 from lanes given lowest-lane first (test shorthand for `build`).
    fn v<T: Lane>(lanes: &[T]) -> u128 {
        assert_eq!(lanes.len(), T::COUNT);
        build(|i| lanes[i])
    }

    fn lanes<T: Lane>(x: u128) -> Vec<T> {
        (0..T::COUNT).map(|i| get(x, i)).collect()
    }

    fn f32_bits(x: u128) -> Vec<u32> {
        lanes::<u32>(x)
    }

    #[test]
    fn lane_layout_is_little_endian() {
        let x = v::<u8>(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(x, 0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100);
        assert_eq!(
            lanes::<u32>(x),
            [0x0302_0100, 0x0706_0504, 0x0b0a_0908, 0x0f0e_0d0c]
        );
        // Signed lanes are stored zero-extended, not smeared over their neighbours.
        assert_eq!(v::<i16>(&[-1, 0, 0, 0, 0, 0, 0, 0]), 0xffff);
    }

    #[test]
    fn float_min_max_nan_and_signed_zero() {
        let nan = f32::from_bits(0x7fc0_0001); // arithmetic NaN with a payload
        let a = v::<f32>(&[-0.0, 0.0, nan, 1.0]);
        let b = v::<f32>(&[0.0, -0.0, 1.0, nan]);
        let min = f32_bits(binary(BinaryOp::F32x4Min, a, b));
        let max = f32_bits(binary(BinaryOp::F32x4Max, a, b));
        assert_eq!(min[..2], [(-0.0f32).to_bits(), (-0.0f32).to_bits()]);
        assert_eq!(max[..2], [0.0f32.to_bits(), 0.0f32.to_bits()]);
        for r in [min[2], min[3], max[2], max[3]] {
            assert_eq!(r, 0x7fc0_0000, "NaN lanes must become the canonical NaN");
        }

        let a = v::<f64>(&[f64::NEG_INFINITY, -0.0]);
        let b = v::<f64>(&[f64::NAN, 0.0]);
        let min = lanes::<f64>(binary(BinaryOp::F64x2Min, a, b));
        assert!(min[0].is_nan());
        assert!(min[1] == 0.0 && min[1].is_sign_negative());
        let max = lanes::<f64>(binary(BinaryOp::F64x2Max, b, a));
        assert!(max[1] == 0.0 && max[1].is_sign_positive());
    }

    #[test]
    fn pmin_pmax_select_without_nan_handling() {
        let nan = f32::from_bits(0x7fa0_0000);
        let a = v::<f32>(&[nan, 1.0, -0.0, 0.0]);
        let b = v::<f32>(&[1.0, nan, 0.0, -0.0]);
        // NaN comparisons are false, so the first operand is returned unchanged.
        let pmin = f32_bits(binary(BinaryOp::F32x4PMin, a, b));
        let pmax = f32_bits(binary(BinaryOp::F32x4PMax, a, b));
        let expected = [
            0x7fa0_0000,
            1.0f32.to_bits(),
            (-0.0f32).to_bits(),
            0.0f32.to_bits(),
        ];
        assert_eq!(pmin, expected);
        assert_eq!(pmax, expected);
    }

    #[test]
    fn float_abs_neg_keep_nan_payload() {
        let x = v::<u32>(&[0xffa0_0001, 0x7f80_0001, 0, 0x8000_0000]);
        assert_eq!(
            f32_bits(unary(UnaryOp::F32x4Abs, x)),
            [0x7fa0_0001, 0x7f80_0001, 0, 0]
        );
        assert_eq!(
            f32_bits(unary(UnaryOp::F32x4Neg, x)),
            [0x7fa0_0001, 0xff80_0001, 0x8000_0000, 0]
        );
    }

    #[test]
    fn nearest_rounds_half_to_even_and_quiets_nan() {
        let x = v::<f32>(&[0.5, 1.5, -2.5, f32::from_bits(0x7f80_0001)]);
        let r = f32_bits(unary(UnaryOp::F32x4Nearest, x));
        assert_eq!(
            r[..3],
            [0.0f32.to_bits(), 2.0f32.to_bits(), (-2.0f32).to_bits()]
        );
        assert_eq!(r[3], 0x7fc0_0000, "a signaling NaN must come out quiet");
        // -0.5 rounds to -0.0 (sign kept).
        let r = lanes::<f64>(unary(UnaryOp::F64x2Nearest, v::<f64>(&[-0.5, 2.5])));
        assert!(r[0] == 0.0 && r[0].is_sign_negative());
        assert_eq!(r[1], 2.0);
    }

    #[test]
    fn conversions() {
        let x = v::<f32>(&[f32::NAN, 3e9, -3e9, -1.9]);
        assert_eq!(
            lanes::<i32>(unary(UnaryOp::I32x4TruncSatF32x4S, x)),
            [0, i32::MAX, i32::MIN, -1]
        );
        assert_eq!(
            lanes::<u32>(unary(UnaryOp::I32x4TruncSatF32x4U, x)),
            [0, 3_000_000_000, 0, 0]
        );
        let x = v::<f64>(&[-1e10, 4294967295.9]);
        assert_eq!(
            lanes::<u32>(unary(UnaryOp::I32x4TruncSatF64x2UZero, x)),
            [0, u32::MAX, 0, 0]
        );
        assert_eq!(
            lanes::<i32>(unary(UnaryOp::I32x4TruncSatF64x2SZero, x)),
            [i32::MIN, i32::MAX, 0, 0]
        );
        let x = v::<u32>(&[u32::MAX, 16_777_217, 7, 8]);
        assert_eq!(
            lanes::<f32>(unary(UnaryOp::F32x4ConvertI32x4U, x)),
            [4294967296.0, 16_777_216.0, 7.0, 8.0]
        );
        assert_eq!(
            lanes::<f32>(unary(UnaryOp::F32x4ConvertI32x4S, x)),
            [-1.0, 16_777_216.0, 7.0, 8.0]
        );
        assert_eq!(
            lanes::<f64>(unary(UnaryOp::F64x2ConvertLowI32x4S, x)),
            [-1.0, 16_777_217.0]
        );
        assert_eq!(
            lanes::<f64>(unary(UnaryOp::F64x2ConvertLowI32x4U, x)),
            [4294967295.0, 16_777_217.0]
        );
        let x = v::<f64>(&[1e300, 0.1]);
        assert_eq!(
            lanes::<f32>(unary(UnaryOp::F32x4DemoteF64x2Zero, x)),
            [f32::INFINITY, 0.1, 0.0, 0.0]
        );
        let x = v::<f32>(&[-0.0, 0.1, 9.0, 9.0]);
        let r = lanes::<f64>(unary(UnaryOp::F64x2PromoteLowF32x4, x));
        assert!(r[0] == 0.0 && r[0].is_sign_negative());
        assert_eq!(r[1], f64::from(0.1f32));
    }

    #[test]
    fn demote_and_promote_keep_nan_bits() {
        // Seed 1764: all-ones f64 lanes (an `f32x4.ge` mask) demote to all-ones f32
        // lanes, as on wasmtime, not to canonical NaNs.
        let x = v::<u64>(&[u64::MAX, 0x7ff8_0000_0000_0000]);
        assert_eq!(
            lanes::<u32>(unary(UnaryOp::F32x4DemoteF64x2Zero, x)),
            [u32::MAX, 0x7fc0_0000, 0, 0]
        );
        let x = v::<u32>(&[0xff80_0001, 0x7fc0_0000, 0, 0]);
        assert_eq!(
            lanes::<u64>(unary(UnaryOp::F64x2PromoteLowF32x4, x)),
            [0xfff8_0000_2000_0000, 0x7ff8_0000_0000_0000]
        );
    }

    #[test]
    fn saturating_arithmetic() {
        let a = v::<i8>(&[127, -128, 100, -100, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let b = v::<i8>(&[1, -1, 100, 100, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            lanes::<i8>(binary(BinaryOp::I8x16AddSatS, a, b))[..5],
            [127, -128, 127, 0, 0]
        );
        assert_eq!(
            lanes::<i8>(binary(BinaryOp::I8x16SubSatS, a, b))[..5],
            [126, -127, 0, -128, 2]
        );
        // Unsigned view of the same bits: 127+1, 128+255, 100+100, 156+100, 1+255.
        assert_eq!(
            lanes::<u8>(binary(BinaryOp::I8x16AddSatU, a, b))[..5],
            [128, 255, 200, 255, 255]
        );
        assert_eq!(
            lanes::<u8>(binary(BinaryOp::I8x16SubSatU, a, b))[..5],
            [126, 0, 0, 56, 0]
        );
        let a = v::<u16>(&[65535, 0, 1, 0, 0, 0, 0, 0]);
        let b = v::<u16>(&[1, 1, 2, 0, 0, 0, 0, 0]);
        assert_eq!(
            lanes::<u16>(binary(BinaryOp::I16x8AddSatU, a, b))[..3],
            [65535, 1, 3]
        );
        assert_eq!(
            lanes::<u16>(binary(BinaryOp::I16x8SubSatU, a, b))[..3],
            [65534, 0, 0]
        );
        assert_eq!(
            lanes::<i16>(binary(BinaryOp::I16x8AddSatS, a, b))[..3],
            [0, 1, 3]
        );
    }

    #[test]
    fn narrow_saturates_signed_input() {
        let a = v::<i16>(&[300, -300, 127, -128, 255, 256, -1, 0]);
        let b = v::<i16>(&[1, 2, 3, 4, 5, 6, 7, i16::MIN]);
        assert_eq!(
            lanes::<i8>(binary(BinaryOp::I8x16NarrowI16x8S, a, b)),
            [
                127, -128, 127, -128, 127, 127, -1, 0, 1, 2, 3, 4, 5, 6, 7, -128
            ]
        );
        assert_eq!(
            lanes::<u8>(binary(BinaryOp::I8x16NarrowI16x8U, a, b)),
            [255, 0, 127, 0, 255, 255, 0, 0, 1, 2, 3, 4, 5, 6, 7, 0]
        );
        let a = v::<i32>(&[70000, -70000, 65535, -1]);
        let b = v::<i32>(&[i32::MAX, i32::MIN, 32768, -32769]);
        assert_eq!(
            lanes::<u16>(binary(BinaryOp::I16x8NarrowI32x4U, a, b)),
            [65535, 0, 65535, 0, 65535, 0, 32768, 0]
        );
        assert_eq!(
            lanes::<i16>(binary(BinaryOp::I16x8NarrowI32x4S, a, b)),
            [32767, -32768, 32767, -1, 32767, -32768, 32767, -32768]
        );
    }

    #[test]
    fn q15mulr_dot_avgr() {
        let a = v::<i16>(&[i16::MIN, i16::MIN, 16384, -16384, 1, -1, i16::MAX, 3]);
        let b = v::<i16>(&[i16::MIN, i16::MAX, 16384, 16384, 16384, 16384, i16::MAX, 0]);
        assert_eq!(
            lanes::<i16>(binary(BinaryOp::I16x8Q15MulrSatS, a, b)),
            // MIN*MIN saturates; 1*0.5 rounds 0.5 up to 1; -1*0.5 = -0.5 rounds to 0.
            [i16::MAX, -32767, 8192, -8192, 1, 0, 32766, 0]
        );
        let a = v::<i16>(&[i16::MIN, i16::MIN, 1, 2, -3, 4, 0, 0]);
        assert_eq!(
            lanes::<i32>(binary(BinaryOp::I32x4DotI16x8S, a, a)),
            [i32::MIN, 5, 25, 0] // 2^30 + 2^30 wraps
        );
        let a = v::<u8>(&[255, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let b = v::<u8>(&[255, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            lanes::<u8>(binary(BinaryOp::I8x16AvgrU, a, b))[..4],
            [255, 1, 2, 2]
        );
    }

    #[test]
    fn extend_extmul_extadd() {
        let x = v::<i8>(&[-1, 2, -3, 4, 5, 6, 7, -128, 9, 10, 11, 12, 13, 14, 15, -2]);
        assert_eq!(
            lanes::<i16>(unary(UnaryOp::I16x8ExtendLowI8x16S, x)),
            [-1, 2, -3, 4, 5, 6, 7, -128]
        );
        assert_eq!(
            lanes::<u16>(unary(UnaryOp::I16x8ExtendHighI8x16U, x)),
            [9, 10, 11, 12, 13, 14, 15, 254]
        );
        assert_eq!(
            lanes::<i16>(unary(UnaryOp::I16x8ExtAddPairwiseI8x16S, x)),
            [1, 1, 11, -121, 19, 23, 27, 13]
        );
        assert_eq!(
            lanes::<u16>(unary(UnaryOp::I16x8ExtAddPairwiseI8x16U, x))[..4],
            [257, 257, 11, 135]
        );
        let a = v::<i32>(&[i32::MIN, -1, i32::MIN, -1]);
        assert_eq!(
            lanes::<i64>(binary(BinaryOp::I64x2ExtMulHighI32x4S, a, a)),
            [1 << 62, 1]
        );
        assert_eq!(
            lanes::<u64>(binary(BinaryOp::I64x2ExtMulLowI32x4U, a, a)),
            [1 << 62, u64::from(u32::MAX) * u64::from(u32::MAX)]
        );
    }

    #[test]
    fn integer_abs_min_and_popcnt() {
        let x = v::<i32>(&[i32::MIN, -5, 5, 0]);
        assert_eq!(
            lanes::<i32>(unary(UnaryOp::I32x4Abs, x)),
            [i32::MIN, 5, 5, 0]
        );
        let x = v::<i64>(&[i64::MIN, -7]);
        assert_eq!(lanes::<i64>(unary(UnaryOp::I64x2Abs, x)), [i64::MIN, 7]);
        assert_eq!(lanes::<i64>(unary(UnaryOp::I64x2Neg, x)), [i64::MIN, 7]);
        let x = v::<u8>(&[0, 1, 3, 255, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            lanes::<u8>(unary(UnaryOp::I8x16Popcnt, x))[..5],
            [0, 1, 2, 8, 1]
        );
        let a = v::<i16>(&[-1, 1, 0, 0, 0, 0, 0, 0]);
        let b = v::<i16>(&[1, -1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            lanes::<i16>(binary(BinaryOp::I16x8MinS, a, b))[..2],
            [-1, -1]
        );
        assert_eq!(lanes::<i16>(binary(BinaryOp::I16x8MinU, a, b))[..2], [1, 1]);
    }

    #[test]
    fn comparisons_make_full_lane_masks() {
        let a = v::<i64>(&[-1, 5]);
        let b = v::<i64>(&[1, 5]);
        assert_eq!(binary(BinaryOp::I64x2LtS, a, b), v::<u64>(&[u64::MAX, 0]));
        assert_eq!(binary(BinaryOp::I64x2GeS, a, b), v::<u64>(&[0, u64::MAX]));
        let a = v::<f32>(&[f32::NAN, 0.0, 1.0, 2.0]);
        let b = v::<f32>(&[f32::NAN, -0.0, 2.0, 1.0]);
        assert_eq!(
            binary(BinaryOp::F32x4Eq, a, b),
            v::<u32>(&[0, u32::MAX, 0, 0])
        );
        assert_eq!(
            binary(BinaryOp::F32x4Ne, a, b),
            v::<u32>(&[u32::MAX, 0, u32::MAX, u32::MAX])
        );
        assert_eq!(
            binary(BinaryOp::F32x4Le, a, b),
            v::<u32>(&[0, u32::MAX, u32::MAX, 0])
        );
        let a = v::<i8>(&[-1; 16]);
        let b = v::<i8>(&[1; 16]);
        assert_eq!(binary(BinaryOp::I8x16GtU, a, b), u128::MAX);
        assert_eq!(binary(BinaryOp::I8x16GtS, a, b), 0);
    }

    #[test]
    fn shifts_take_amount_modulo_width() {
        let x = v::<i8>(&[-128, 1, 64, -2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // 9 % 8 == 1
        assert_eq!(
            lanes::<i8>(shift(ShiftOp::I8x16Shl, x, 9))[..4],
            [0, 2, -128, -4]
        );
        assert_eq!(
            lanes::<i8>(shift(ShiftOp::I8x16ShrS, x, 9))[..4],
            [-64, 0, 32, -1]
        );
        assert_eq!(
            lanes::<u8>(shift(ShiftOp::I8x16ShrU, x, 9))[..4],
            [64, 0, 32, 127]
        );
        assert_eq!(shift(ShiftOp::I8x16Shl, x, 8), x);
        let x = v::<i32>(&[-8, 8, 1, i32::MIN]);
        assert_eq!(shift(ShiftOp::I32x4ShrS, x, 32), x);
        assert_eq!(
            lanes::<i32>(shift(ShiftOp::I32x4ShrS, x, 33)),
            [-4, 4, 0, -(1 << 30)]
        );
        assert_eq!(
            lanes::<u32>(shift(ShiftOp::I32x4ShrU, x, u32::MAX))[..3],
            [1, 0, 0]
        );
        let x = v::<i64>(&[-1, 1]);
        assert_eq!(
            lanes::<i64>(shift(ShiftOp::I64x2Shl, x, 64 + 63)),
            [i64::MIN, i64::MIN]
        );
        assert_eq!(lanes::<i64>(shift(ShiftOp::I64x2ShrS, x, 127)), [-1, 0]);
        // A shift must not bleed bits across lane boundaries.
        let x = v::<u16>(&[0x8001; 8]);
        assert_eq!(shift(ShiftOp::I16x8Shl, x, 1), v::<u16>(&[2; 8]));
        assert_eq!(shift(ShiftOp::I16x8ShrU, x, 1), v::<u16>(&[0x4000; 8]));
    }

    #[test]
    fn boolean_tests_and_bitmask() {
        let x = v::<i8>(&[-1, 1, -128, 0, 127, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, -2]);
        assert_eq!(test(TestOp::I8x16Bitmask, x), 0b1000_0000_0010_0101);
        assert_eq!(test(TestOp::I8x16AllTrue, x), 0);
        assert_eq!(test(TestOp::V128AnyTrue, x), 1);
        assert_eq!(test(TestOp::V128AnyTrue, 0), 0);
        let x = v::<i16>(&[-1, 1, 2, 3, i16::MIN, 5, 6, 7]);
        assert_eq!(test(TestOp::I16x8Bitmask, x), 0b1_0001);
        assert_eq!(test(TestOp::I16x8AllTrue, x), 1);
        // Non-zero bytes do not make an i32 lane of a 0x00ff... pattern false.
        assert_eq!(
            test(TestOp::I32x4AllTrue, v::<u32>(&[0x100, 1, 1 << 31, 0xff00])),
            1
        );
        assert_eq!(test(TestOp::I64x2AllTrue, v::<u64>(&[1 << 63, 0])), 0);
        assert_eq!(test(TestOp::I64x2Bitmask, v::<u64>(&[0, 1 << 63])), 0b10);
        assert_eq!(test(TestOp::I32x4Bitmask, u128::MAX), 0b1111);
    }

    #[test]
    fn swizzle_and_shuffle() {
        let a = v::<u8>(&[
            10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
        ]);
        let idx = v::<u8>(&[15, 0, 16, 255, 128, 1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 14]);
        assert_eq!(
            lanes::<u8>(binary(BinaryOp::I8x16Swizzle, a, idx)),
            [25, 10, 0, 0, 0, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0, 24]
        );
        let b = v::<u8>(&[
            30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45,
        ]);
        let sel = [0, 16, 31, 15, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22];
        assert_eq!(
            lanes::<u8>(shuffle(&sel, a, b)),
            [
                10, 30, 45, 25, 11, 31, 12, 32, 13, 33, 14, 34, 15, 35, 16, 36
            ]
        );
        // Unvalidated indices are masked instead of panicking.
        assert_eq!(get::<u8>(shuffle(&[255; 16], a, b), 0), 45);
    }

    #[test]
    fn lanes_extract_replace_splat() {
        let x = v::<i8>(&[-1, 2, -128, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 127]);
        assert_eq!(
            extract_lane(ExtractOp::I8x16ExtractLaneS, 0, x),
            0xffff_ffff
        );
        assert_eq!(
            extract_lane(ExtractOp::I8x16ExtractLaneS, 2, x),
            0xffff_ff80
        );
        assert_eq!(extract_lane(ExtractOp::I8x16ExtractLaneU, 2, x), 0x80);
        assert_eq!(extract_lane(ExtractOp::I8x16ExtractLaneS, 15, x), 127);
        // Out-of-range lanes wrap instead of panicking.
        assert_eq!(extract_lane(ExtractOp::I8x16ExtractLaneU, 16, x), 0xff);
        let y = v::<i16>(&[-2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            extract_lane(ExtractOp::I16x8ExtractLaneS, 0, y),
            0xffff_fffe
        );
        assert_eq!(extract_lane(ExtractOp::I16x8ExtractLaneU, 0, y), 0xfffe);
        let z = v::<u64>(&[1, u64::MAX]);
        assert_eq!(extract_lane(ExtractOp::F64x2ExtractLane, 1, z), u64::MAX);
        assert_eq!(extract_lane(ExtractOp::I32x4ExtractLane, 3, z), 0xffff_ffff);

        // Replacing takes only the low lane-width bits of the scalar.
        let r = replace_lane(ReplaceOp::I8x16ReplaceLane, 3, 0, 0x1234);
        assert_eq!(r, 0x34 << 24);
        let r = replace_lane(ReplaceOp::I16x8ReplaceLane, 7, u128::MAX, 0);
        assert_eq!(r, u128::MAX >> 16);
        let r = replace_lane(ReplaceOp::F32x4ReplaceLane, 1, 0, 1.5f32.to_bits().into());
        assert_eq!(lanes::<f32>(r), [0.0, 1.5, 0.0, 0.0]);
        let r = replace_lane(ReplaceOp::I64x2ReplaceLane, 0, u128::MAX, 5);
        assert_eq!(lanes::<u64>(r), [5, u64::MAX]);

        assert_eq!(splat(SplatOp::I8x16Splat, 0x1ff), v::<u8>(&[0xff; 16]));
        assert_eq!(
            splat(SplatOp::I16x8Splat, 0xffff_8000),
            v::<u16>(&[0x8000; 8])
        );
        assert_eq!(
            splat(SplatOp::F32x4Splat, 0x7fa0_0000),
            v::<u32>(&[0x7fa0_0000; 4])
        );
        assert_eq!(splat(SplatOp::I64x2Splat, u64::MAX), u128::MAX);
    }

    #[test]
    fn bitwise_ops() {
        let a = 0xff00_ff00_u128;
        let b = 0x0ff0_0ff0_u128;
        assert_eq!(binary(BinaryOp::V128AndNot, a, b), 0xf000_f000);
        assert_eq!(
            ternary(TernaryOp::V128Bitselect, a, b, 0xffff_0000),
            0xff00_0ff0
        );
        assert_eq!(unary(UnaryOp::V128Not, 0), u128::MAX);
    }

    #[test]
    fn loads() {
        let raw = 0x8001_7f02_u128 | (0xdead << 64); // junk above the 8 bytes read
        assert_eq!(
            lanes::<i16>(finish_load(
                LoadShape::Extend8x8S,
                raw & u128::from(u64::MAX)
            )),
            [2, 127, 1, -128, 0, 0, 0, 0]
        );
        assert_eq!(
            lanes::<u32>(finish_load(LoadShape::Extend16x4U, raw)),
            [0x7f02, 0x8001, 0, 0]
        );
        assert_eq!(
            lanes::<i64>(finish_load(LoadShape::Extend32x2S, raw))[0],
            -2147385598
        );
        assert_eq!(finish_load(LoadShape::Splat8, 0x1_80), v::<u8>(&[0x80; 16]));
        assert_eq!(
            finish_load(LoadShape::Splat64, raw),
            v::<u64>(&[0x8001_7f02; 2])
        );
        assert_eq!(finish_load(LoadShape::Zero32, raw), 0x8001_7f02);
        assert_eq!(finish_load(LoadShape::Full, raw), raw);
        assert_eq!(LoadShape::Splat16.width_bytes(), 2);
        assert_eq!(LoadShape::Extend32x2U.width_bytes(), 8);
        assert_eq!(LoadShape::Full.width_bytes(), 16);
    }

    #[test]
    fn classify_operators() {
        use wasmparser::{Ieee32, V128};
        let memarg = MemArg {
            align: 4,
            max_align: 4,
            offset: 16,
            target: wasmparser::MemArgTarget::Memory(0),
            ordering: None,
        };
        assert_eq!(
            classify(&Operator::I8x16Add),
            Some(SimdOp::Binary(BinaryOp::I8x16Add))
        );
        assert_eq!(
            classify(&Operator::V128Not),
            Some(SimdOp::Unary(UnaryOp::V128Not))
        );
        assert_eq!(
            classify(&Operator::V128Bitselect),
            Some(SimdOp::Ternary(TernaryOp::V128Bitselect))
        );
        assert_eq!(
            classify(&Operator::F64x2Splat),
            Some(SimdOp::Splat(SplatOp::F64x2Splat))
        );
        assert_eq!(
            classify(&Operator::I16x8ExtractLaneS { lane: 7 }),
            Some(SimdOp::ExtractLane(ExtractOp::I16x8ExtractLaneS, 7))
        );
        assert_eq!(
            classify(&Operator::F32x4ReplaceLane { lane: 2 }),
            Some(SimdOp::ReplaceLane(ReplaceOp::F32x4ReplaceLane, 2))
        );
        assert_eq!(
            classify(&Operator::I64x2ShrS),
            Some(SimdOp::Shift(ShiftOp::I64x2ShrS))
        );
        assert_eq!(
            classify(&Operator::I32x4Bitmask),
            Some(SimdOp::Test(TestOp::I32x4Bitmask))
        );
        let lanes = [3; 16];
        assert_eq!(
            classify(&Operator::I8x16Shuffle { lanes }),
            Some(SimdOp::Shuffle(lanes))
        );

        assert_eq!(
            classify(&Operator::V128Const {
                value: V128::from(0u128)
            }),
            None
        );
        assert_eq!(classify(&Operator::V128Load { memarg }), None);
        assert_eq!(classify(&Operator::V128Store { memarg }), None);
        assert_eq!(classify(&Operator::V128Load8Lane { memarg, lane: 1 }), None);
        assert_eq!(classify(&Operator::V128Load32Zero { memarg }), None);
        assert_eq!(classify(&Operator::I8x16RelaxedSwizzle), None);
        assert_eq!(classify(&Operator::I32Add), None);
        assert_eq!(
            classify(&Operator::F32Const {
                value: Ieee32::from(1.0f32)
            }),
            None
        );

        assert_eq!(
            load_shape(&Operator::V128Load16Splat { memarg }),
            Some((LoadShape::Splat16, memarg))
        );
        assert_eq!(
            load_shape(&Operator::V128Load64Lane { memarg, lane: 0 }),
            None
        );
        assert_eq!(load_shape(&Operator::I8x16Add), None);
    }

    #[test]
    fn op_enums_are_byte_sized() {
        use std::mem::size_of;
        assert_eq!(size_of::<UnaryOp>(), 1);
        assert_eq!(size_of::<BinaryOp>(), 1);
        assert_eq!(size_of::<ExtractOp>(), 1);
        assert_eq!(size_of::<ShiftOp>(), 1);
        assert_eq!(size_of::<TestOp>(), 1);
    }
}
