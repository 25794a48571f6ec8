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
