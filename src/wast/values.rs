//! Script values: arguments as canonical values and the patterns results must match
//! (NaN classes, SIMD lanes, references), shared by both engines' drivers.

use super::Result;
use tern_snapshot::Value;
use wast::WastArg;
use wast::WastRet;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};

fn null_of(heap: &HeapType<'_>) -> Result<Value> {
    match heap {
        HeapType::Abstract {
            ty: AbstractHeapType::Func | AbstractHeapType::NoFunc,
            ..
        } => Ok(Value::FuncRef(None)),
        HeapType::Abstract {
            ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern,
            ..
        } => Ok(Value::ExternRef(None)),
        other => Err(format!("unsupported reference type {other:?}")),
    }
}

pub(crate) fn arg_value(arg: &WastArg<'_>) -> Result<Value> {
    let WastArg::Core(arg) = arg else {
        return Err("component values are not supported".into());
    };
    Ok(match arg {
        WastArgCore::I32(v) => Value::I32(*v as u32),
        WastArgCore::I64(v) => Value::I64(*v as u64),
        WastArgCore::F32(v) => Value::F32(v.bits),
        WastArgCore::F64(v) => Value::F64(v.bits),
        WastArgCore::V128(v) => Value::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(heap) => null_of(heap)?,
        WastArgCore::RefExtern(n) => Value::ExternRef(Some(*n)),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

fn f32_matches(bits: u32, pattern: &NanPattern<wast::token::F32>) -> bool {
    match pattern {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => bits == v.bits,
    }
}

fn f64_matches(bits: u64, pattern: &NanPattern<wast::token::F64>) -> bool {
    const QUIET: u64 = 0x7ff8_0000_0000_0000;
    match pattern {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == QUIET,
        NanPattern::ArithmeticNan => bits & QUIET == QUIET,
        NanPattern::Value(v) => bits == v.bits,
    }
}

fn v128_matches(v: u128, pattern: &V128Pattern) -> bool {
    let bytes = v.to_le_bytes();
    let lane = |i: usize, width: usize| -> u64 {
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(&bytes[i * width..(i + 1) * width]);
        u64::from_le_bytes(buf)
    };
    match pattern {
        V128Pattern::I8x16(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 1) == u64::from(*x as u8)),
        V128Pattern::I16x8(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 2) == u64::from(*x as u16)),
        V128Pattern::I32x4(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 4) == u64::from(*x as u32)),
        V128Pattern::I64x2(l) => l.iter().enumerate().all(|(i, x)| lane(i, 8) == *x as u64),
        V128Pattern::F32x4(l) => l
            .iter()
            .enumerate()
            .all(|(i, p)| f32_matches(lane(i, 4) as u32, p)),
        V128Pattern::F64x2(l) => l
            .iter()
            .enumerate()
            .all(|(i, p)| f64_matches(lane(i, 8), p)),
    }
}

fn matches_core(value: &Value, expected: &WastRetCore<'_>) -> bool {
    match (expected, value) {
        (WastRetCore::I32(e), Value::I32(v)) => *e as u32 == *v,
        (WastRetCore::I64(e), Value::I64(v)) => *e as u64 == *v,
        (WastRetCore::F32(p), Value::F32(v)) => f32_matches(*v, p),
        (WastRetCore::F64(p), Value::F64(v)) => f64_matches(*v, p),
        (WastRetCore::V128(p), Value::V128(v)) => v128_matches(*v, p),
        (WastRetCore::RefNull(heap), value) => match heap.as_ref().map(null_of) {
            None => matches!(value, Value::FuncRef(None) | Value::ExternRef(None)),
            Some(Ok(null)) => null == *value,
            Some(Err(_)) => false,
        },
        (WastRetCore::RefExtern(None), Value::ExternRef(r)) => r.is_some(),
        (WastRetCore::RefExtern(Some(n)), Value::ExternRef(r)) => *r == Some(*n),
        (WastRetCore::RefFunc(_), Value::FuncRef(r)) => r.is_some(),
        (WastRetCore::Either(options), value) => options.iter().any(|o| matches_core(value, o)),
        _ => false,
    }
}

pub(crate) fn matches_ret(value: &Value, expected: &WastRet<'_>) -> bool {
    match expected {
        WastRet::Core(core) => matches_core(value, core),
        _ => false,
    }
}
