//! A fixed range of seeded cases through the oracle, so plain `cargo test` exercises it.
//! `DIFF_SEEDS=a..b` runs another range (a longer hunt, or one failing seed);
//! `DIFF_MODULE=path.wasm` checks one module file instead (e.g. a dumped, edited case).

use std::path::Path;

/// Seeds run by default: about a minute of a test-profile run on a busy 2-core machine.
const SEEDS: std::ops::Range<u64> = 0..500;

#[test]
fn seeded_cases_agree() {
    if let Ok(path) = std::env::var("DIFF_MODULE") {
        let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let module = if path.ends_with(".wat") {
            wat::parse_bytes(&wasm).expect("valid WAT").into_owned()
        } else {
            wasm
        };
        // Several choice streams: other arguments and checkpoint points.
        for choices in 0..16u8 {
            match tern_differential::check_module(&module, &[choices]) {
                Ok(summary) => eprintln!("{path}, choices {choices}: {summary:?}"),
                Err(d) => panic!("{path}, choices {choices}: {d}"),
            }
        }
        return;
    }
    let range = std::env::var("DIFF_SEEDS")
        .ok()
        .and_then(|r| {
            let (a, b) = r.split_once("..")?;
            Some(a.parse().ok()?..b.parse().ok()?)
        })
        .unwrap_or(SEEDS);
    let (mut calls, mut checkpoints) = (0, 0);
    for seed in range {
        match tern_differential::check(&tern_differential::seed_bytes(seed)) {
            Ok(summary) => {
                calls += summary.calls;
                checkpoints += summary.checkpoints;
            }
            Err(d) => {
                let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join(format!("differential-seed-{seed}.wat"));
                let dumped = match d.write_wat(&path) {
                    Ok(()) => path.display().to_string(),
                    Err(e) => format!("not written: {e}"),
                };
                panic!("seed {seed}: {d}\nmodule: {dumped}");
            }
        }
    }
    eprintln!("{calls} calls compared, {checkpoints} checkpoints restored");
    assert!(calls > 0, "no call was compared");
    assert!(checkpoints > 0, "no checkpoint was taken");
}
