//! Minimized modules from disagreements the fuzzer found, each checked through the
//! oracle with a few choice streams.

fn agrees(wat: &str) {
    let wasm = wat::parse_str(wat).expect("valid WAT");
    let mut calls = 0;
    for seed in 0..8u8 {
        match tern_differential::check_module(&wasm, &[seed]) {
            Ok(summary) => calls += summary.calls,
            Err(d) => panic!("choices {seed}: {d}"),
        }
    }
    assert!(calls > 0, "nothing was compared");
}

/// Seed 311: a funcref global holding a function named in a global initializer.
#[test]
fn funcref_global_initialized_by_ref_func() {
    agrees(
        r#"(module
          (global (mut funcref) (ref.func 1))
          (func (export "f") (result i32)
            (global.set 0 (ref.func 1))
            (i32.const 0))
          (func (export "g") (result i32) (i32.const 1)))"#,
    );
}
