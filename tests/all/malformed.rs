//! Broken binaries: one clear line with the byte offset, a non-zero exit, no panic.

use crate::util::{TempDir, stderr, tern};

/// A valid module: one function `() -> i32` returning 42, exported as "f".
const VALID: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
    0x03, 0x02, 0x01, 0x00, // function section
    0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, // export "f"
    0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, // code: i32.const 42
];

fn check(name: &str, bytes: &[u8], expect: &str) {
    let dir = TempDir::new(&format!("malformed-{name}"));
    let path = dir.file(&format!("{name}.wasm"), bytes);
    let out = tern(&["run", "--invoke", "f", &path]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{name}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert_eq!(err.lines().count(), 1, "{name}: one line, got:\n{err}");
    assert!(err.contains("byte offset 0x"), "{name}: {err}");
    assert!(
        err.contains(expect),
        "{name}: expected `{expect}` in: {err}"
    );
}

#[test]
fn the_valid_module_runs() {
    let dir = TempDir::new("malformed-valid");
    let path = dir.file("valid.wasm", VALID);
    assert_eq!(
        crate::util::stdout(&tern(&["run", "--invoke", "f", &path])),
        "42\n"
    );
}

#[test]
fn bad_magic() {
    let mut bytes = VALID.to_vec();
    bytes[0] = 0x01;
    let dir = TempDir::new("malformed-magic");
    let path = dir.file("magic.wasm", &bytes);
    let out = tern(&["run", "--invoke", "f", &path]);
    // Not `\0asm`: it is read as text and refused by the text parser.
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn wrong_version() {
    let mut bytes = VALID.to_vec();
    bytes[4] = 0x02;
    check("version", &bytes, "version");
}

#[test]
fn every_truncation_is_refused() {
    // Cut right after the header or the type section, the rest is a valid module
    // without the export; every other cut is malformed.
    for len in 8..VALID.len() {
        if len == 8 || len == 15 {
            let dir = TempDir::new(&format!("malformed-cut{len}"));
            let path = dir.file("cut.wasm", &VALID[..len]);
            let err = stderr(&tern(&["run", "--invoke", "f", &path]));
            assert!(err.contains("no exported function named `f`"), "{err}");
        } else {
            check(&format!("truncated{len}"), &VALID[..len], "invalid module");
        }
    }
}

#[test]
fn section_length_past_the_end() {
    let mut bytes = VALID.to_vec();
    bytes[9] = 0x7f; // type section claims 127 bytes
    check("section-length", &bytes, "invalid module");
}

#[test]
fn type_error_in_a_body() {
    let mut bytes = VALID.to_vec();
    let at = bytes.len() - 3;
    bytes[at] = 0x42; // i64.const instead of i32.const
    check("type-mismatch", &bytes, "type mismatch");
}

#[test]
fn unknown_opcode() {
    let mut bytes = VALID.to_vec();
    let at = bytes.len() - 3;
    bytes[at] = 0xff;
    check("opcode", &bytes, "invalid module");
}
