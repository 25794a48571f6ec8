//! The cache entries next to the compiled modules (`src/entries.rs`): a warm load takes
//! the prepared entry (no instrumenting) and its map serves a capture; a restore takes
//! the generated clones of the same resume points; a damaged entry is ignored and
//! rewritten; a changed module never uses another module's entry.

use crate::support::TempDir;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tern_fast::{FastEngine, FastInstance, FastModule, ModuleCache, Outcome};
use tern_snapshot::{Snapshot, TriggerInfo, Value, trigger_kind};
use tern_wasi::WasiCtxBuilder;

/// Sums `n + (n - 1) + … + 1` (with `step` = `local.get 0`) in a loop; the request set
/// before the run stops it at the loop header.
fn module(step: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module (func (export "run") (param i32) (result i32) (local i32)
             (loop
               (local.set 1 (i32.add (local.get 1) {step}))
               (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
             (local.get 1)))"#
    ))
    .unwrap()
}

fn wasi() -> Arc<Mutex<tern_wasi::WasiCtx>> {
    Arc::new(Mutex::new(WasiCtxBuilder::new().build().unwrap()))
}

fn engine(dir: &Path) -> FastEngine {
    FastEngine::with_cache(Some(ModuleCache::at(dir))).unwrap()
}

/// The files with extension `ext` in the cache's subdirectory `subdir`, sorted.
fn files(engine: &FastEngine, subdir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = engine.cache().unwrap().dir().join(subdir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == ext));
    paths.sort();
    paths
}

/// The entries of one kind (`prepared`, `generated`), sorted.
fn entries(engine: &FastEngine, kind: &str) -> Vec<PathBuf> {
    files(engine, kind, "entry")
}

fn checkpointed(module: &FastModule) -> Snapshot {
    let mut instance = FastInstance::new(module, wasi()).unwrap();
    instance.checkpoint_handle().request();
    assert_eq!(
        instance.invoke("run", &[Value::I32(5)]).unwrap(),
        Outcome::Unwound
    );
    instance
        .capture(TriggerInfo::now(trigger_kind::MANUAL, ""))
        .unwrap()
}

fn restored(module: &FastModule, snapshot: &Snapshot) -> Vec<Value> {
    let mut instance = FastInstance::restore(module, snapshot, wasi()).unwrap();
    match instance.resume().unwrap() {
        Outcome::Finished(results) => results,
        Outcome::Unwound => panic!("unwound again"),
    }
}

fn run(module: &FastModule) -> Vec<Value> {
    let mut instance = FastInstance::new(module, wasi()).unwrap();
    match instance.invoke("run", &[Value::I32(5)]).unwrap() {
        Outcome::Finished(results) => results,
        Outcome::Unwound => panic!("unwound"),
    }
}

#[test]
fn a_warm_load_and_restore_use_the_entries() {
    let dir = TempDir::new("entries-warm");
    let engine = engine(dir.path());
    let wasm = module("(local.get 0)");
    let cold = FastModule::new(&engine, &wasm).unwrap();
    assert!(!cold.cache_hit());
    assert_eq!(entries(&engine, "prepared").len(), 1);
    assert_eq!(entries(&engine, "maps").len(), 1);
    let warm = FastModule::new(&engine, &wasm).unwrap();
    assert!(warm.cache_hit());
    // The instrumented module is made again on demand, the same bytes.
    assert_eq!(warm.instrumented().unwrap(), cold.instrumented().unwrap());
    // A capture reads the cached map.
    let snapshot = checkpointed(&warm);
    assert_eq!(snapshot.state.frames.len(), 1);
    assert!(entries(&engine, "generated").is_empty());
    assert_eq!(restored(&warm, &snapshot), [Value::I32(15)]);
    assert_eq!(entries(&engine, "generated").len(), 1);
    let compiled_clones = files(&engine, "clones", "cwasm");
    assert_eq!(compiled_clones.len(), 1);
    // The second restore takes the generated clones from the entry, and their compiled
    // module from the file keyed by that entry.
    let again = FastModule::new(&engine, &wasm).unwrap();
    assert_eq!(restored(&again, &snapshot), [Value::I32(15)]);
    assert_eq!(entries(&engine, "generated").len(), 1);
    assert_eq!(files(&engine, "clones", "cwasm"), compiled_clones);
}

#[test]
fn damaged_entries_are_ignored_and_rewritten() {
    let dir = TempDir::new("entries-damaged");
    let engine = engine(dir.path());
    let wasm = module("(local.get 0)");
    let module = FastModule::new(&engine, &wasm).unwrap();
    let snapshot = checkpointed(&module);
    assert_eq!(restored(&module, &snapshot), [Value::I32(15)]);
    for kind in ["prepared", "maps", "generated"] {
        let [path] = &entries(&engine, kind)[..] else {
            panic!("one {kind} entry");
        };
        let good = std::fs::read(path).unwrap();
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        let mut wrong_length = good.clone();
        wrong_length.extend_from_slice(b"more");
        let damages = [
            good[..good.len() / 2].to_vec(),
            good[..10].to_vec(),
            Vec::new(),
            flipped,
            wrong_length,
        ];
        for (i, damaged) in damages.into_iter().enumerate() {
            std::fs::write(path, damaged).unwrap();
            let module = FastModule::new(&engine, &wasm).unwrap();
            assert!(
                module.cache_hit(),
                "{kind} damage {i}: the compiled code is fine"
            );
            assert_eq!(run(&module), [Value::I32(15)], "{kind} damage {i}");
            let snapshot = checkpointed(&module);
            assert_eq!(
                restored(&module, &snapshot),
                [Value::I32(15)],
                "{kind} damage {i}"
            );
            assert_eq!(
                std::fs::read(path).unwrap(),
                good,
                "{kind} damage {i}: the entry is written again"
            );
        }
    }
}

#[test]
fn a_changed_module_never_uses_another_modules_entry() {
    let dir = TempDir::new("entries-changed");
    let engine = engine(dir.path());
    let a = module("(local.get 0)");
    let b = module("(i32.const 2)");
    let module_a = FastModule::new(&engine, &a).unwrap();
    assert_eq!(run(&module_a), [Value::I32(15)]);
    let entry_a = entries(&engine, "prepared");
    let module_b = FastModule::new(&engine, &b).unwrap();
    assert!(
        !module_b.cache_hit(),
        "b is compiled, not taken from a's entry"
    );
    assert_eq!(run(&module_b), [Value::I32(10)]);
    let all = entries(&engine, "prepared");
    assert_eq!(all.len(), 2);
    let entry_b: Vec<&PathBuf> = all.iter().filter(|p| !entry_a.contains(p)).collect();
    let [entry_b] = entry_b[..] else {
        panic!("one entry for b");
    };
    // a's entry under b's name is refused (it names its own key): b is prepared again.
    let good_b = std::fs::read(entry_b).unwrap();
    std::fs::copy(&entry_a[0], entry_b).unwrap();
    let module_b = FastModule::new(&engine, &b).unwrap();
    assert_eq!(run(&module_b), [Value::I32(10)]);
    assert_eq!(
        restored(&module_b, &checkpointed(&module_b)),
        [Value::I32(10)]
    );
    assert_eq!(std::fs::read(entry_b).unwrap(), good_b);
}
