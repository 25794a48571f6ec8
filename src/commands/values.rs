//! Typed values on the command line: parsing arguments and printing results.

use tern_interp::{ValType, Value};

/// Parses `text` as a value of type `ty`. Integers may be decimal (signed or unsigned)
/// or `0x` hex; floats accept `inf`, `-inf` and `nan`; references accept `null`.
pub fn parse(ty: ValType, text: &str) -> Result<Value, String> {
    let bad = || format!("`{text}` is not a valid {ty}");
    Ok(match ty {
        ValType::I32 => Value::I32(parse_int(text, 32).ok_or_else(bad)? as u32),
        ValType::I64 => Value::I64(parse_int(text, 64).ok_or_else(bad)?),
        ValType::F32 => Value::F32(text.parse::<f32>().map_err(|_| bad())?.to_bits()),
        ValType::F64 => Value::F64(text.parse::<f64>().map_err(|_| bad())?.to_bits()),
        ValType::V128 => {
            let hex = text.strip_prefix("0x").ok_or_else(bad)?;
            Value::V128(u128::from_str_radix(hex, 16).map_err(|_| bad())?)
        }
        ValType::FuncRef if text == "null" => Value::FuncRef(None),
        ValType::ExternRef if text == "null" => Value::ExternRef(None),
        ValType::ExternRef => Value::ExternRef(Some(text.parse().map_err(|_| bad())?)),
        ValType::FuncRef => {
            return Err(format!(
                "a funcref argument can only be `null`, not `{text}`"
            ));
        }
    })
}

/// An integer of `bits` width, signed or unsigned, as its two's-complement bit pattern.
fn parse_int(text: &str, bits: u32) -> Option<u64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    let limit = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    if negative {
        let min_magnitude = 1u64 << (bits - 1);
        (magnitude <= min_magnitude).then(|| magnitude.wrapping_neg() & limit)
    } else {
        (magnitude <= limit).then_some(magnitude)
    }
}

/// Formats a result: integers as signed decimal, floats in Rust's shortest round-trip
/// form, v128 as hex, references as `null`, `func N` or `extern N`.
pub fn format(value: &Value) -> String {
    match value {
        Value::I32(v) => (*v as i32).to_string(),
        Value::I64(v) => (*v as i64).to_string(),
        Value::F32(bits) => f32::from_bits(*bits).to_string(),
        Value::F64(bits) => f64::from_bits(*bits).to_string(),
        Value::V128(v) => format!("0x{v:032x}"),
        Value::FuncRef(None) | Value::ExternRef(None) => "null".into(),
        Value::FuncRef(Some(n)) => format!("func {n}"),
        Value::ExternRef(Some(n)) => format!("extern {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_accept_signed_unsigned_and_hex() {
        assert_eq!(parse(ValType::I32, "-1"), Ok(Value::I32(u32::MAX)));
        assert_eq!(parse(ValType::I32, "4294967295"), Ok(Value::I32(u32::MAX)));
        assert_eq!(
            parse(ValType::I32, "-2147483648"),
            Ok(Value::I32(0x8000_0000))
        );
        assert_eq!(parse(ValType::I64, "0x10"), Ok(Value::I64(16)));
        assert!(parse(ValType::I32, "4294967296").is_err());
        assert!(parse(ValType::I32, "-2147483649").is_err());
        assert!(parse(ValType::I32, "1.5").is_err());
    }

    #[test]
    fn results_print_as_signed_decimal() {
        assert_eq!(format(&Value::I32(u32::MAX)), "-1");
        assert_eq!(format(&Value::I64(42)), "42");
        assert_eq!(format(&Value::F64(1.5f64.to_bits())), "1.5");
        assert_eq!(format(&Value::ExternRef(None)), "null");
    }
}
