//! Differential fuzzing of tern's engines (issue #5).
//!
//! Arbitrary bytes become a `wasm-smith` module restricted to what tern supports
//! ([`smith_config`]), bounded so every run ends, with arguments for each exported
//! function. For every such call the interpreter's plain run is the reference, and these
//! runs must end the same way (results, trap kind) with the same memories, tables and
//! globals:
//!
//! - the fast tier, plain;
//! - the interpreter paused at pseudo-random exact instruction counts, its snapshot
//!   encoded to bytes, decoded and restored on the interpreter and on the fast tier
//!   (sometimes checkpointed again while the continuation clones run, then finished on
//!   the interpreter);
//! - the fast tier checkpointed at deterministic safepoints — the first poll after the
//!   k-th call of the module's one import, and a `call:FUNC:N` trigger — each snapshot
//!   restored on the interpreter and on the fast tier, which checkpoints again, up to
//!   three times in a row.
//!
//! Every choice is derived from the input bytes, so a case replays exactly.
//!
//! ```no_run
//! let data = tern_differential::seed_bytes(7);
//! match tern_differential::check(&data) {
//!     Ok(summary) => println!("{} calls, {} checkpoints", summary.calls, summary.checkpoints),
//!     Err(d) => {
//!         let path = std::path::Path::new("case-7.wat");
//!         d.write_wat(path)?;
//!         panic!("{d} (module: {})", path.display());
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! `cargo fuzz run differential` (in `fuzz/`) runs [`check`] open-ended; the crate's
//! test runs a fixed range of seeds. See docs/fast-tier.md, "Differential fuzzing".

mod choose;
mod fast;
mod generate;
mod interp;
mod observed;
mod oracle;

pub use generate::{Call, Case, case, smith_config};
pub use observed::{Ending, Observed, TrapClass};
pub use oracle::Summary;

use std::fmt;
use std::path::Path;

/// The engines disagree on a generated module.
#[derive(Debug, Clone)]
pub struct Disagreement {
    /// The module (binary).
    pub wasm: Vec<u8>,
    /// Which call and which run, and the first difference from the reference.
    pub message: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "engines disagree: {}", self.message)
    }
}

impl std::error::Error for Disagreement {}

impl Disagreement {
    /// Writes the module as WAT to `path` (and the binary next to it, `.wasm`).
    pub fn write_wat(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path.with_extension("wasm"), &self.wasm)?;
        let text = wasmprinter::print_bytes(&self.wasm)
            .unwrap_or_else(|e| format!(";; not printable as WAT ({e}); see the .wasm file\n"));
        std::fs::write(path, text)
    }
}

/// Checks the case `data` gives (see the crate docs). Inputs that give no usable module
/// are an `Ok` with nothing compared.
pub fn check(data: &[u8]) -> Result<Summary, Disagreement> {
    match generate::case(data) {
        Some(case) => check_case(&case),
        None => Ok(Summary::default()),
    }
}

/// Checks a given module (e.g. a minimized regression case), with the pseudo-random
/// choices (arguments, checkpoint points) derived from `data`. A module tern's
/// validator refuses is an `Ok` with nothing compared.
pub fn check_module(wasm: &[u8], data: &[u8]) -> Result<Summary, Disagreement> {
    match generate::of_module(wasm.to_vec(), data) {
        Some(case) => check_case(&case),
        None => Ok(Summary::default()),
    }
}

fn check_case(case: &Case) -> Result<Summary, Disagreement> {
    oracle::check_case(case).map_err(|message| Disagreement {
        wasm: case.wasm.clone(),
        message,
    })
}

/// Input bytes for a numbered seed (xorshift), for tests that replay fixed cases.
pub fn seed_bytes(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
