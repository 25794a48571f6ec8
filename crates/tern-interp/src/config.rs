//! Engine configuration: which Wasm features are accepted and how deep programs may recurse.

use wasmparser::WasmFeatures;

/// What modules may use and how much stack a running program gets.
#[derive(Debug, Clone)]
pub struct Config {
    /// Features accepted by validation. Anything beyond [`Config::supported_features`]
    /// is refused even if set here.
    pub features: WasmFeatures,
    /// Value-stack capacity in slots (one slot holds any value, v128 included).
    pub max_stack_slots: usize,
    /// Maximum number of nested Wasm calls.
    pub max_call_depth: usize,
    /// Whether uncounted runs use threaded code where the build has it (optimized
    /// builds for x86-64 and AArch64); otherwise they run the loop. The default is
    /// true unless the environment variable `TERN_INTERP_LOOP` is set, which is how
    /// benchmarks compare the two.
    pub threaded: bool,
}

impl Config {
    /// Everything tern-interp implements: Wasm 2.0 plus tail calls, extended constant
    /// expressions and multiple memories.
    pub fn supported_features() -> WasmFeatures {
        Self::wasm2_features()
            | WasmFeatures::TAIL_CALL
            | WasmFeatures::EXTENDED_CONST
            | WasmFeatures::MULTI_MEMORY
    }

    /// Exactly the WebAssembly 2.0 feature set.
    pub fn wasm2_features() -> WasmFeatures {
        WasmFeatures::WASM2
    }

    /// A configuration that accepts exactly `features` (clipped to what is supported).
    pub fn with_features(features: WasmFeatures) -> Self {
        Config {
            features: features & Self::supported_features(),
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            features: Self::supported_features(),
            // 16 MiB of 16-byte slots: deep enough for real recursive programs, small
            // enough that runaway recursion traps quickly.
            max_stack_slots: 1 << 20,
            max_call_depth: 100_000,
            threaded: std::env::var_os("TERN_INTERP_LOOP").is_none(),
        }
    }
}
