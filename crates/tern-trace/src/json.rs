//! One event as one line of JSON, written directly (fields in a fixed, readable order:
//! `n`, `event`, `op`, then the rest) and typed values as unambiguous strings.

use tern_interp::Value;

/// An event line being built: `{"n":…,"event":…` plus fields, closed by [`Line::finish`].
pub struct Line(String);

impl Line {
    pub fn new(n: u64, event: &str) -> Line {
        let mut line = Line(format!("{{\"n\":{n}"));
        line.str("event", event);
        line
    }

    /// A field whose value is already JSON text.
    pub fn raw(&mut self, key: &str, json: &str) {
        self.0.push_str(",\"");
        self.0.push_str(key);
        self.0.push_str("\":");
        self.0.push_str(json);
    }

    pub fn str(&mut self, key: &str, text: &str) {
        let quoted = serde_json::to_string(text).expect("strings always serialize");
        self.raw(key, &quoted);
    }

    pub fn num(&mut self, key: &str, n: u64) {
        self.raw(key, &n.to_string());
    }

    pub fn bool(&mut self, key: &str, b: bool) {
        self.raw(key, if b { "true" } else { "false" });
    }

    pub fn values(&mut self, key: &str, values: &[Value]) {
        let items: Vec<String> = values.iter().map(value).collect();
        self.raw(key, &format!("[{}]", items.join(",")));
    }

    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A typed value as a JSON string: `"i32:-7"`, `"i64:42"` (signed decimal),
/// `"f32:1.5"`, `"f64:-0"`, `"f64:inf"` (shortest text that reads back to the same
/// bits), `"f32:nan:0x7fc00000"` (a NaN with its bits), `"v128:0x…"` (32 hex digits,
/// lane 0 last), `"funcref:3"`, `"funcref:null"`, `"externref:0"`.
pub fn value(v: &Value) -> String {
    let text = match *v {
        Value::I32(x) => format!("i32:{}", x as i32),
        Value::I64(x) => format!("i64:{}", x as i64),
        Value::F32(bits) => float(
            "f32",
            f64::from(f32::from_bits(bits)),
            || format!("{:?}", f32::from_bits(bits)),
            u64::from(bits),
            8,
        ),
        Value::F64(bits) => float(
            "f64",
            f64::from_bits(bits),
            || format!("{:?}", f64::from_bits(bits)),
            bits,
            16,
        ),
        Value::V128(x) => format!("v128:0x{x:032x}"),
        Value::FuncRef(r) => reference("funcref", r),
        Value::ExternRef(r) => reference("externref", r),
    };
    format!("\"{text}\"")
}

fn float(ty: &str, wide: f64, shortest: impl Fn() -> String, bits: u64, digits: usize) -> String {
    if wide.is_nan() {
        format!("{ty}:nan:0x{bits:0digits$x}")
    } else if wide.is_infinite() {
        format!("{ty}:{}inf", if wide < 0.0 { "-" } else { "" })
    } else {
        // `{:?}` prints the shortest decimal that reads back to the same value, with a
        // `.0` for whole numbers that is dropped here (`-0.0` becomes `-0`).
        let text = shortest();
        format!("{ty}:{}", text.strip_suffix(".0").unwrap_or(&text))
    }
}

fn reference(ty: &str, r: Option<u32>) -> String {
    r.map_or_else(|| format!("{ty}:null"), |n| format!("{ty}:{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_unambiguous() {
        assert_eq!(value(&Value::I32(-7i32 as u32)), "\"i32:-7\"");
        assert_eq!(value(&Value::I64(42)), "\"i64:42\"");
        assert_eq!(value(&Value::F32(1.5f32.to_bits())), "\"f32:1.5\"");
        assert_eq!(value(&Value::F64((-0.0f64).to_bits())), "\"f64:-0\"");
        assert_eq!(
            value(&Value::F64(f64::NEG_INFINITY.to_bits())),
            "\"f64:-inf\""
        );
        assert_eq!(value(&Value::F32(0x7fc0_0000)), "\"f32:nan:0x7fc00000\"");
        assert_eq!(value(&Value::F64(0.1f64.to_bits())), "\"f64:0.1\"");
        assert_eq!(value(&Value::FuncRef(None)), "\"funcref:null\"");
        assert_eq!(
            value(&Value::V128(1)),
            "\"v128:0x00000000000000000000000000000001\""
        );
        let mut line = Line::new(3, "store");
        line.str("name", "a\"b");
        line.num("addr", 16);
        assert_eq!(
            line.finish(),
            r#"{"n":3,"event":"store","name":"a\"b","addr":16}"#
        );
    }
}
