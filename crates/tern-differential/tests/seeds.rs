//! A fixed range of seeded cases through the oracle, so plain `cargo test` exercises it.
//! `DIFF_SEEDS=a..b` runs another range (a longer hunt, or one failing seed).

use std::path::Path;

/// Seeds run by default: about a minute of a test-profile run on a busy 2-core machine.
const SEEDS: std::ops::Range<u64> = 0..40;

#[test]
fn seeded_cases_agree() {
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
