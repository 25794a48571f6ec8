//! Minimized modules from disagreements the fuzzer found, each checked through the
//! oracle with a few choice streams.

fn agrees(wat: &str) {
    let wasm = wat::parse_str(wat).expect("valid WAT");
    let mut calls = 0;
    for seed in 0..16u8 {
        match tern_differential::check_module(&wasm, &[seed]) {
            Ok(summary) => calls += summary.calls,
            Err(d) => panic!("choices {seed}: {d}"),
        }
    }
    assert!(calls > 0, "nothing was compared");
}

/// Seed 311: after a restore on the fast tier, `ref.func` inside a continuation clone
/// gave a reference the capture could not map ("a funcref is not a function of the
/// module"). Fixed in tern-fast (the clones module re-exports its imported functions).
#[test]
fn funcref_made_by_a_clone() {
    agrees(
        r#"(module
          (global (mut funcref) (ref.null func))
          (func $f (export "f") (result i32)
            nop nop nop nop nop nop nop nop
            (global.set 0 (ref.func $g))
            (i32.const 0))
          (func $g (export "g") (result i32) (i32.const 1)))"#,
    );
}

/// Seed 1764: `f32x4.demote_f64x2_zero` of an all-ones lane (a NaN that is not canonical)
/// gave the canonical NaN on the interpreter and the all-ones f32 on wasmtime. Both are
/// valid Wasm (the NaN is nondeterministic), but `i32x4.trunc_sat_f64x2_u_zero` reading
/// those lanes as an f64 turned the difference into integers no NaN rule can excuse.
/// Fixed in tern-interp (demote and promote keep a NaN's sign and payload, as wasmtime
/// does; `canonicalize_nans` does not cover them).
#[test]
fn nan_bits_of_a_simd_demote() {
    agrees(
        r#"(module
          (global (mut v128) (v128.const i64x2 0 0))
          (func (export "demote") (result v128)
            (global.set 0
              (i32x4.trunc_sat_f64x2_u_zero
                (f32x4.demote_f64x2_zero (v128.const i64x2 -1 -1))))
            (f32x4.demote_f64x2_zero (v128.const i64x2 -1 0x7ff4000000000001)))
          (func (export "promote") (result v128)
            (f64x2.promote_low_f32x4 (v128.const i32x4 -1 0xff800001 0 0)))
          (func (export "scalar") (result i64)
            (i64.reinterpret_f64 (f64.promote_f32
              (f32.demote_f64 (f64.reinterpret_i64 (i64.const 0xfff4000020000001)))))))"#,
    );
}
