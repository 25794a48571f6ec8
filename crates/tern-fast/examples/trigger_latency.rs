//! How soon a checkpoint request takes effect on the fast tier: a program runs, another
//! thread requests a checkpoint at a pseudo-random moment, and this measures
//! - *request → unwound*: from the request to `invoke` returning `Outcome::Unwound` —
//!   the next safepoint reached (loop header, function entry or post-call check) plus
//!   the cold path handing every frame to the host, so an upper bound of the time to the
//!   safepoint that grows with the stack's depth;
//! - *request → written*: up to the snapshot file durable (capture, encoding,
//!   compression of the touched memory, write, fsync, rename).
//!
//! Small stacks: the benchmark kernels of `bench/workloads` (`run(n)`, the largest `n`
//! of `checksums.json`). Large stacks: a recursion `DEPTH` calls deep whose bottom
//! frame computes in a loop, every frame holding locals and operand-stack values.
//!
//! `cargo run --profile test -p tern-fast --example trigger_latency [TRIALS]`

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_fast::{FastEngine, FastInstance, FastModule, Outcome};
use tern_snapshot::{TriggerInfo, Value, trigger_kind};

type Error = Box<dyn std::error::Error>;

/// Frames of the large-stack case.
const DEPTH: i32 = 2000;

/// `run(d)`: recurses `d` times, then spins in a loop far longer than any trial waits;
/// each level keeps two locals and two operand-stack values live across its call.
const DEEP: &str = r#"
(module
  (memory (export "memory") 1)
  (func $spin (param $n i64) (result i64) (local $acc i64)
    (loop $l
      (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 6364136223846793005))
                               (local.get $n)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br_if $l (i64.ne (local.get $n) (i64.const 0))))
    (local.get $acc))
  (func $deep (param $d i32) (result i64) (local $a i64) (local $b f64)
    (local.set $a (i64.extend_i32_u (local.get $d)))
    (local.set $b (f64.convert_i32_u (local.get $d)))
    (if (result i64) (i32.eqz (local.get $d))
      (then (call $spin (i64.const 20000000000)))
      (else
        (i64.add
          (i64.add (local.get $a) (i64.trunc_f64_u (local.get $b)))
          (call $deep (i32.sub (local.get $d) (i32.const 1)))))))
  (func (export "run") (param $d i32) (result i64)
    (call $deep (local.get $d))))
"#;

/// A program to checkpoint: its name, bytes and argument.
struct Case {
    name: String,
    wasm: Vec<u8>,
    arg: i32,
}

fn cases() -> Result<Vec<Case>, Error> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/workloads");
    let sums: std::collections::BTreeMap<String, i64> =
        serde_json::from_str(&std::fs::read_to_string(root.join("checksums.json"))?)?;
    let mut cases: Vec<Case> = Vec::new();
    for key in sums.keys() {
        let (name, n) = key.split_once(':').ok_or("bad checksum key")?;
        let n: i32 = n.parse()?;
        match cases.iter_mut().find(|c| c.name == name) {
            Some(case) => case.arg = case.arg.max(n),
            None => cases.push(Case {
                name: name.to_string(),
                wasm: std::fs::read(root.join(format!("{name}.wasm")))?,
                arg: n,
            }),
        }
    }
    cases.push(Case {
        name: format!("recursion, {DEPTH} frames"),
        wasm: wat::parse_str(DEEP)?,
        arg: DEPTH,
    });
    Ok(cases)
}

/// One trial: (request → unwound, request → written, frames, snapshot bytes), or `None`
/// when the program finished before the request.
fn trial(
    module: &FastModule,
    arg: i32,
    delay: Duration,
    path: &Path,
) -> Result<Option<(Duration, Duration, usize, u64)>, Error> {
    let wasi = tern_wasi::WasiCtxBuilder::new().build()?;
    let mut instance = FastInstance::new(module, Arc::new(Mutex::new(wasi)))?;
    let handle = instance.checkpoint_handle();
    let requested: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stamp = requested.clone();
    let requester = std::thread::spawn(move || {
        std::thread::sleep(delay);
        *stamp.lock().unwrap() = Some(Instant::now());
        handle.request();
    });
    let outcome = instance.invoke("run", &[Value::I32(arg as u32)]);
    let unwound = Instant::now();
    requester.join().map_err(|_| "requester panicked")?;
    match outcome {
        Ok(Outcome::Unwound) => {}
        Ok(Outcome::Finished(_)) => return Ok(None),
        Err(e) => return Err(e.to_string().into()),
    }
    let trigger = TriggerInfo::now(trigger_kind::MANUAL, "latency");
    let frames = instance.capture_to_file(trigger, path)?.state.frames.len();
    let written = Instant::now();
    let at = requested.lock().unwrap().ok_or("no request time")?;
    Ok(Some((
        unwound - at,
        written - at,
        frames,
        std::fs::metadata(path)?.len(),
    )))
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn main() -> Result<(), Error> {
    let trials: usize = std::env::args().nth(1).map_or(Ok(15), |a| a.parse())?;
    let dir = std::env::temp_dir().join(format!("tern-trigger-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("snapshot.tern");
    let engine = FastEngine::with_cache(None)?;
    println!(
        "| program | frames | snapshot (KB) | request → unwound, median (ms) | max (ms) | request → written, median (ms) | max (ms) | trials |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    // A fixed pseudo-random sequence of request delays, 5–45 ms into the run.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for case in cases()? {
        let module = FastModule::new(&engine, &case.wasm)?;
        let (mut unwound, mut written) = (Vec::new(), Vec::new());
        let (mut frames, mut bytes) = (0, 0);
        for _ in 0..trials {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = Duration::from_micros(5_000 + seed % 40_000);
            if let Some((u, w, f, b)) = trial(&module, case.arg, delay, &path)? {
                unwound.push(u);
                written.push(w);
                (frames, bytes) = (frames.max(f), b);
            }
        }
        if unwound.is_empty() {
            println!(
                "| {} | – | – | finished before every request | | | | 0 |",
                case.name
            );
            continue;
        }
        unwound.sort();
        written.sort();
        println!(
            "| {} | {frames} | {} | {} | {} | {} | {} | {} |",
            case.name,
            bytes / 1024,
            ms(unwound[unwound.len() / 2]),
            ms(unwound[unwound.len() - 1]),
            ms(written[written.len() / 2]),
            ms(written[written.len() - 1]),
            unwound.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
