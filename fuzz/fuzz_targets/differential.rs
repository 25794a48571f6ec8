//! Open-ended differential fuzzing: every input becomes a `wasm-smith` module whose
//! plain runs and checkpointed-and-restored runs on tern's two engines must agree (see
//! `tern_differential`). A disagreement aborts with the message and writes the module as
//! `differential-failure.wat` (and `.wasm`) in the working directory.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(d) = tern_differential::check(data) {
        let path = std::path::Path::new("differential-failure.wat");
        let dumped = match d.write_wat(path) {
            Ok(()) => path.display().to_string(),
            Err(e) => format!("not written: {e}"),
        };
        panic!("{d}\nmodule: {dumped}");
    }
});
