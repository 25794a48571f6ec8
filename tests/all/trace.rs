//! `tern run --trace` and `tern restore --trace`: golden traces of the small programs in
//! `tests/all/trace/` (regenerate with `TERN_BLESS=1 cargo test --test all trace`, then
//! review the diff), and a checkpointed run traced in two parts.

use crate::util::{TempDir, stderr, stdout, tern};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/all/trace")
}

/// Runs `tern run --trace` on `program` with `flags`, then compares the trace with
/// `<golden>.jsonl` (or writes it, with `TERN_BLESS=1`).
fn golden(program: &str, golden: &str, flags: &[&str], invoke: &[&str], code: i32) {
    let tmp = TempDir::new(&format!("trace-{golden}"));
    let out_path = tmp.0.join("trace.jsonl");
    let module = dir().join(program);
    let mut args = vec![
        "run",
        "--trace",
        "--trace-output",
        out_path.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--invoke", invoke[0], module.to_str().unwrap()]);
    args.extend_from_slice(&invoke[1..]);
    let out = tern(&args);
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    let trace = std::fs::read_to_string(&out_path).expect("the trace is written");
    for line in trace.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every line is JSON");
    }
    let expected = dir().join(format!("{golden}.jsonl"));
    if std::env::var_os("TERN_BLESS").is_some() {
        std::fs::write(&expected, &trace).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&expected)
        .unwrap_or_else(|e| panic!("{}: {e} (TERN_BLESS=1 writes it)", expected.display()));
    assert_eq!(trace, want, "trace differs from {}", expected.display());
}

#[test]
fn calls_all_events_all_resources() {
    golden(
        "calls.wat",
        "calls-all",
        &["--trace-resource", "all"],
        &["main"],
        0,
    );
}

#[test]
fn calls_filtered_by_kind_function_and_limit() {
    golden(
        "calls.wat",
        "calls-filtered",
        &[
            "--trace-events",
            "call,return,branch,global",
            "--trace-functions",
            "pick,double,negate",
            "--trace-limit",
            "8",
        ],
        &["main"],
        0,
    );
}

#[test]
fn memory_loads_stores_and_tables() {
    golden(
        "memory.wat",
        "memory",
        &["--trace-resource", "pc,memory,stack,globals"],
        &["main", "100"],
        0,
    );
    golden(
        "memory.wat",
        "memory-loads-stores",
        &["--trace-events", "load,store", "--trace-resource", "memory"],
        &["main", "100"],
        0,
    );
}

#[test]
fn a_trap_ends_the_trace() {
    golden(
        "trap.wat",
        "trap",
        &["--trace-resource", "pc,locals,stack"],
        &["divide", "7", "0"],
        134,
    );
}

#[test]
fn bad_options_are_one_line_errors() {
    let module = dir().join("loop.wat");
    let module = module.to_str().unwrap();
    for (flags, message) in [
        (&["--trace-events", "call,jump"][..], "unknown name `jump`"),
        (&["--trace-resource", "heap"][..], "unknown name `heap`"),
        (&["--trace-functions", "nope"][..], "no function `nope`"),
    ] {
        let mut args = vec!["run", "--trace"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--invoke", "sum", module, "3"]);
        let out = tern(&args);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains(message) && err.lines().count() == 1, "{err}");
    }
    let out = tern(&[
        "run",
        "--trace-events",
        "all",
        "--invoke",
        "sum",
        module,
        "3",
    ]);
    assert!(!out.status.success(), "--trace-events needs --trace");
}

#[test]
fn checkpointed_trace_plus_restored_trace_is_the_whole_trace() {
    let tmp = TempDir::new("trace-checkpoint");
    let module = dir().join("loop.wat");
    let module = module.to_str().unwrap();
    let path = |name: &str| tmp.0.join(name).display().to_string();
    let flags = ["--trace", "--trace-resource", "all"];
    let run = |extra: &[&str], output: &str| {
        let mut args = vec!["run"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&["--trace-output", output]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--invoke", "sum", module, "20"]);
        tern(&args)
    };
    let whole = run(&[], &path("whole.jsonl"));
    assert!(whole.status.success(), "{}", stderr(&whole));
    assert_eq!(stdout(&whole), "420\n");

    let snapshot = path("s.tern");
    for at in [1, 37, 100] {
        let first = run(
            &[
                "--checkpoint-on",
                &format!("instructions:{at}"),
                "--snapshot",
                &snapshot,
            ],
            &path("first.jsonl"),
        );
        assert_eq!(first.status.code(), Some(75), "{}", stderr(&first));
        let mut args = vec!["restore", &snapshot, "--module", module];
        args.extend_from_slice(&flags);
        let second_path = path("second.jsonl");
        args.extend_from_slice(&["--trace-output", &second_path]);
        let second = tern(&args);
        assert!(second.status.success(), "{}", stderr(&second));
        assert_eq!(stdout(&second), "420\n");
        let read = |p: &str| std::fs::read_to_string(p).unwrap();
        let (first, second) = (read(&path("first.jsonl")), read(&second_path));
        assert_eq!(
            first.lines().count(),
            at,
            "the first part stops at the checkpoint"
        );
        assert_eq!(
            first + &second,
            read(&path("whole.jsonl")),
            "checkpoint after {at} instructions"
        );

        // The snapshot keeps the end of the first part, which `tern inspect` shows.
        let out = tern(&["inspect", "--json", &snapshot]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(report["trace"]["next"], at as u64);
        let events = report["trace"]["events"].as_array().unwrap();
        assert_eq!(events.len(), at.min(tern_trace::TAIL_LEN));
        assert_eq!(events.last().unwrap()["n"], at as u64 - 1);
        let text = stdout(&tern(&["inspect", &snapshot]));
        assert!(
            text.contains(&format!("trace tail ({} events", events.len())),
            "{text}"
        );
    }
}

/// A pause that is not an instruction count (here, in front of a watched call) leaves
/// the paused instruction to the restored run; an untraced checkpoint's restore numbers
/// its events from the snapshot's instruction count.
#[test]
fn call_triggers_and_untraced_checkpoints_split_the_trace_too() {
    let tmp = TempDir::new("trace-call-trigger");
    let module = dir().join("loop.wat");
    let module = module.to_str().unwrap();
    let path = |name: &str| tmp.0.join(name).display().to_string();
    let snapshot = path("s.tern");
    let read = |p: &str| std::fs::read_to_string(p).unwrap();
    let traced = |args: &[&str], output: &str| {
        // The trace options go before the module: what follows it is the program's.
        let mut all = vec![args[0], "--trace", "--trace-output", output];
        all.extend_from_slice(&args[1..]);
        tern(&all)
    };
    let whole = traced(
        &["run", "--invoke", "sum", module, "5"],
        &path("whole.jsonl"),
    );
    assert!(whole.status.success(), "{}", stderr(&whole));
    let whole = read(&path("whole.jsonl"));

    let first = traced(
        &[
            "run",
            "--checkpoint-on",
            "call:twice:1",
            "--snapshot",
            &snapshot,
            "--invoke",
            "sum",
            module,
            "5",
        ],
        &path("a.jsonl"),
    );
    assert_eq!(first.status.code(), Some(75), "{}", stderr(&first));
    let second = traced(
        &["restore", &snapshot, "--module", module],
        &path("b.jsonl"),
    );
    assert_eq!(stdout(&second), "30\n", "{}", stderr(&second));
    let (a, b) = (read(&path("a.jsonl")), read(&path("b.jsonl")));
    assert!(b.starts_with(r#"{"n":"#) && b.contains(r#""op":"call""#));
    assert_eq!(a + &b, whole);

    // Untraced up to the checkpoint, traced after it.
    let out = tern(&[
        "run",
        "--checkpoint-on",
        "instructions:10",
        "--snapshot",
        &snapshot,
        "--invoke",
        "sum",
        module,
        "5",
    ]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    let rest = traced(
        &["restore", &snapshot, "--module", module],
        &path("c.jsonl"),
    );
    assert!(rest.status.success(), "{}", stderr(&rest));
    let tail: Vec<&str> = whole.lines().skip(10).collect();
    assert_eq!(read(&path("c.jsonl")).lines().collect::<Vec<_>>(), tail);
}

/// After `--trace-limit` the run goes on untraced but counted: a later snapshot keeps the
/// last events written and the exact instruction number, so the restored trace goes on
/// with the right numbers.
#[test]
fn a_limited_trace_still_numbers_the_restored_part() {
    let tmp = TempDir::new("trace-limit-checkpoint");
    let module = dir().join("loop.wat");
    let module = module.to_str().unwrap();
    let path = |name: &str| tmp.0.join(name).display().to_string();
    let (whole_path, first_path, rest_path) = (path("w.jsonl"), path("a.jsonl"), path("b.jsonl"));
    let snapshot = path("s.tern");
    let invoke = ["--invoke", "sum", module, "20"];
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--trace"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&invoke);
        tern(&args)
    };
    assert!(run(&["--trace-output", &whole_path]).status.success());
    let first = run(&[
        "--trace-output",
        &first_path,
        "--trace-limit",
        "5",
        "--checkpoint-on",
        "instructions:100",
        "--snapshot",
        &snapshot,
    ]);
    assert_eq!(first.status.code(), Some(75), "{}", stderr(&first));

    let out = tern(&["inspect", "--json", &snapshot]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["trace"]["next"], 100);
    assert_eq!(report["trace"]["events"].as_array().unwrap().len(), 5);

    let rest = tern(&[
        "restore",
        &snapshot,
        "--module",
        module,
        "--trace",
        "--trace-output",
        &rest_path,
    ]);
    assert_eq!(stdout(&rest), "420\n", "{}", stderr(&rest));
    let read = |p: &str| std::fs::read_to_string(p).unwrap();
    let whole = read(&whole_path);
    let lines: Vec<&str> = whole.lines().collect();
    assert_eq!(read(&first_path).lines().collect::<Vec<_>>(), lines[..5]);
    assert_eq!(read(&rest_path).lines().collect::<Vec<_>>(), lines[100..]);
}
