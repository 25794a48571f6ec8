//! Scalar numeric semantics that differ from Rust's operators: division traps, float
//! min/max/nearest, trapping float-to-integer conversions, and the NaN bits of demote and
//! promote.

use crate::error::TrapKind;

macro_rules! float_min_max {
    ($min:ident, $max:ident, $f:ty) => {
        /// Wasm `min`: NaN if either operand is NaN, and -0 is below +0.
        pub(crate) fn $min(a: $f, b: $f) -> $f {
            if a.is_nan() || b.is_nan() {
                <$f>::NAN
            } else if a == b {
                // Equal values differ at most in the sign of zero: keep the negative one.
                <$f>::from_bits(a.to_bits() | b.to_bits())
            } else {
                a.min(b)
            }
        }

        /// Wasm `max`: NaN if either operand is NaN, and +0 is above -0.
        pub(crate) fn $max(a: $f, b: $f) -> $f {
            if a.is_nan() || b.is_nan() {
                <$f>::NAN
            } else if a == b {
                <$f>::from_bits(a.to_bits() & b.to_bits())
            } else {
                a.max(b)
            }
        }
    };
}

float_min_max!(f32_min, f32_max, f32);
float_min_max!(f64_min, f64_max, f64);

/// Checks that `x` truncates to a value inside the open interval `(low, high)` and
/// returns the truncation. Every f32 widens exactly to f64, so one check serves both.
fn checked_trunc(x: f64, low: f64, high: f64) -> Result<f64, TrapKind> {
    if x.is_nan() {
        Err(TrapKind::InvalidConversionToInteger)
    } else if x <= low || x >= high {
        Err(TrapKind::IntegerOverflow)
    } else {
        Ok(x.trunc())
    }
}

pub(crate) fn i32_trunc_s(x: f64) -> Result<u32, TrapKind> {
    checked_trunc(x, -2147483649.0, 2147483648.0).map(|t| t as i32 as u32)
}

pub(crate) fn i32_trunc_u(x: f64) -> Result<u32, TrapKind> {
    checked_trunc(x, -1.0, 4294967296.0).map(|t| t as u32)
}

pub(crate) fn i64_trunc_s(x: f64) -> Result<u64, TrapKind> {
    // -2^63 itself is in range; the nearest double below it is far below -2^63 - 1.
    if x == -9223372036854775808.0 {
        return Ok(i64::MIN as u64);
    }
    checked_trunc(x, -9223372036854775808.0, 9223372036854775808.0).map(|t| t as i64 as u64)
}

pub(crate) fn i64_trunc_u(x: f64) -> Result<u64, TrapKind> {
    checked_trunc(x, -1.0, 18446744073709551616.0).map(|t| t as u64)
}

macro_rules! div_rem {
    ($div_s:ident, $div_u:ident, $rem_s:ident, $rem_u:ident, $u:ty, $i:ty) => {
        pub(crate) fn $div_s(a: $u, b: $u) -> Result<$u, TrapKind> {
            let (a, b) = (a as $i, b as $i);
            if b == 0 {
                Err(TrapKind::IntegerDivideByZero)
            } else if a == <$i>::MIN && b == -1 {
                Err(TrapKind::IntegerOverflow)
            } else {
                Ok((a / b) as $u)
            }
        }

        pub(crate) fn $div_u(a: $u, b: $u) -> Result<$u, TrapKind> {
            a.checked_div(b).ok_or(TrapKind::IntegerDivideByZero)
        }

        pub(crate) fn $rem_s(a: $u, b: $u) -> Result<$u, TrapKind> {
            if b == 0 {
                Err(TrapKind::IntegerDivideByZero)
            } else {
                // MIN % -1 is 0 in Wasm; wrapping_rem gives exactly that.
                Ok((a as $i).wrapping_rem(b as $i) as $u)
            }
        }

        pub(crate) fn $rem_u(a: $u, b: $u) -> Result<$u, TrapKind> {
            a.checked_rem(b).ok_or(TrapKind::IntegerDivideByZero)
        }
    };
}

div_rem!(i32_div_s, i32_div_u, i32_rem_s, i32_rem_u, u32, i32);
div_rem!(i64_div_s, i64_div_u, i64_rem_s, i64_rem_u, u64, i64);

/// Sets the quiet bit of a NaN. Rounding a signalling NaN must give an arithmetic
/// (quiet) NaN, but software rounding returns its input unchanged.
pub(crate) fn quiet_f32(x: f32) -> f32 {
    if x.is_nan() {
        f32::from_bits(x.to_bits() | 0x0040_0000)
    } else {
        x
    }
}

/// [`quiet_f32`] for `f64`.
pub(crate) fn quiet_f64(x: f64) -> f64 {
    if x.is_nan() {
        f64::from_bits(x.to_bits() | 0x0008_0000_0000_0000)
    } else {
        x
    }
}

/// Wasm `demote` (f64 to f32), NaNs included. The spec lets a NaN from a non-canonical
/// NaN be any NaN; this keeps its sign and the top of its payload and sets the quiet bit,
/// as x86-64 (`cvtsd2ss`, `cvtpd2ps`) and AArch64 (`fcvt`, `fcvtn`) do, and so as the
/// fast tier (wasmtime) does. A canonical NaN stays canonical. Canonicalizing every NaN
/// would be valid Wasm too, but then the engines disagree, visibly once the NaN's bits
/// reach memory or integer lanes of a `v128` (seed 1764: `f32x4.demote_f64x2_zero` of an
/// all-ones lane, then those lanes read as f64 by `i32x4.trunc_sat_f64x2_u_zero`).
pub(crate) fn demote(x: f64) -> f32 {
    if x.is_nan() {
        let bits = x.to_bits();
        let sign = (bits >> 32) as u32 & 0x8000_0000;
        let payload = (bits >> 29) as u32 & 0x007f_ffff;
        f32::from_bits(sign | 0x7fc0_0000 | payload)
    } else {
        x as f32
    }
}

/// Wasm `promote` (f32 to f64), NaNs included: the NaN rule of [`demote`] (sign and
/// payload kept, quiet bit set), which is what the hardware and so wasmtime do.
pub(crate) fn promote(x: f32) -> f64 {
    if x.is_nan() {
        let bits = x.to_bits();
        let sign = u64::from(bits & 0x8000_0000) << 32;
        let payload = u64::from(bits & 0x007f_ffff) << 29;
        f64::from_bits(sign | 0x7ff8_0000_0000_0000 | payload)
    } else {
        f64::from(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_respect_signed_zero_and_nan() {
        assert!(f32_min(0.0, -0.0).is_sign_negative());
        assert!(f32_max(-0.0, 0.0).is_sign_positive());
        assert!(f64_min(f64::NAN, 1.0).is_nan());
        assert_eq!(f64_max(1.0, 2.0), 2.0);
    }

    #[test]
    fn trunc_edges() {
        assert_eq!(i32_trunc_s(-2147483648.9), Ok(i32::MIN as u32));
        assert_eq!(i32_trunc_s(2147483648.0), Err(TrapKind::IntegerOverflow));
        assert_eq!(i32_trunc_u(-0.9), Ok(0));
        assert_eq!(i64_trunc_s(-9223372036854775808.0), Ok(i64::MIN as u64));
        assert_eq!(
            i64_trunc_u(f64::NAN),
            Err(TrapKind::InvalidConversionToInteger)
        );
    }

    #[test]
    fn demote_and_promote_keep_nan_sign_and_payload() {
        // Seed 1764: an all-ones f64 lane demotes to an all-ones f32, as on wasmtime.
        assert_eq!(demote(f64::from_bits(u64::MAX)).to_bits(), u32::MAX);
        assert_eq!(demote(f64::NAN).to_bits(), 0x7fc0_0000);
        // A signalling NaN comes out quiet, with the top of its payload.
        assert_eq!(
            demote(f64::from_bits(0xfff0_0000_2000_0001)).to_bits(),
            0xffc0_0001
        );
        assert_eq!(
            promote(f32::from_bits(0xff80_0001)).to_bits(),
            0xfff8_0000_2000_0000
        );
        assert_eq!(promote(f32::NAN).to_bits(), 0x7ff8_0000_0000_0000);
        assert_eq!(demote(1e300), f32::INFINITY);
        assert!(promote(-0.0).is_sign_negative());
    }

    #[test]
    fn division_traps() {
        assert_eq!(
            i32_div_s(i32::MIN as u32, u32::MAX),
            Err(TrapKind::IntegerOverflow)
        );
        assert_eq!(i32_rem_s(i32::MIN as u32, u32::MAX), Ok(0));
        assert_eq!(i64_div_u(1, 0), Err(TrapKind::IntegerDivideByZero));
    }
}
