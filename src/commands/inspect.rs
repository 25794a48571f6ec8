//! `tern inspect`: what a snapshot holds, as text or JSON.

use serde_json::{Value as Json, json};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use tern_snapshot::{SnapshotSizes, SnapshotView, Value};

/// Show what a snapshot holds: call stack, memories, globals, tables, WASI descriptors,
/// trigger, and the size of each part.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// The snapshot file.
    snapshot: PathBuf,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let shown = args.snapshot.display();
    let bytes = std::fs::read(&args.snapshot).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let fail = |e: tern_snapshot::SnapshotError| anyhow::anyhow!("{shown}: {e}");
    let sizes = tern_snapshot::section_sizes(&bytes).map_err(fail)?;
    // Every part is checked (checksum included) but no page is decompressed: a stored
    // page is a non-zero one, so counting them is enough.
    let snapshot = SnapshotView::parse(&bytes).map_err(fail)?;
    let mut report = to_json(&snapshot, &sizes);
    let tail = tern_snapshot::trace_tail(&bytes).map_err(fail)?;
    if let Some(tail) = &tail {
        report["trace"] = trace_json(tail);
    }
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        describe(&report) + &tail.map_or_else(String::new, |t| describe_trace(&t, sizes.trace))
    };
    super::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Everything `inspect` shows, as one JSON value (the text form is rendered from it).
fn to_json(s: &SnapshotView<'_>, sizes: &SnapshotSizes) -> Json {
    let frames: Vec<Json> = (s.state.frames.iter().rev())
        .map(|f| {
            json!({
                "instance": f.instance, "func": f.func, "pc": f.pc,
                "locals": f.locals.iter().map(value).collect::<Vec<_>>(),
                "stack": f.stack.iter().map(value).collect::<Vec<_>>(),
            })
        })
        .collect();
    let memories: Vec<Json> = (s.state.memories.iter().enumerate())
        .map(|(i, m)| json!({ "pages": m.pages, "nonzero_pages": s.stored_pages(i) }))
        .collect();
    let wasi = s.wasi.map(|bytes| {
        serde_json::from_slice::<Json>(bytes)
            .unwrap_or_else(|e| json!({ "undecodable": e.to_string() }))
    });
    json!({
        "format": sizes.version.to_string(),
        "module": { "sha256": s.module.sha256_hex(), "len": s.module.len },
        "trigger": {
            "kind": s.trigger.kind, "detail": s.trigger.detail,
            "instructions": s.trigger.instructions, "unix_nanos": s.trigger.unix_nanos,
        },
        "frames": frames,
        "memories": memories,
        "globals": s.state.globals.iter().map(value).collect::<Vec<_>>(),
        "tables": s.state.tables.iter().map(|t| t.elements.len()).collect::<Vec<_>>(),
        "wasi": wasi,
        "sizes": {
            "header": sizes.header, "module": sizes.module, "trigger": sizes.trigger,
            "state": sizes.state, "memory": sizes.memory, "wasi": sizes.wasi,
            "trace": sizes.trace, "unknown": sizes.unknown, "end": sizes.end,
            "total": sizes.total,
        },
    })
}

fn describe(r: &Json) -> String {
    let mut out = String::new();
    let t = &r["trigger"];
    let _ = writeln!(
        out,
        "format {}, {} bytes",
        text(&r["format"]),
        r["sizes"]["total"]
    );
    let _ = writeln!(
        out,
        "module: sha256:{} ({} bytes)",
        text(&r["module"]["sha256"]),
        r["module"]["len"]
    );
    let _ = write!(out, "trigger: {} {}", text(&t["kind"]), text(&t["detail"]));
    if let Some(n) = t["instructions"].as_u64() {
        let _ = write!(out, " ({n} instructions executed)");
    }
    let frames = r["frames"].as_array().map_or(&[][..], Vec::as_slice);
    let _ = writeln!(
        out,
        "\ncall stack ({} frames, innermost first):",
        frames.len()
    );
    for (i, f) in frames.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {i:>3}: func[{}] @ 0x{:x}  locals {}  stack {}",
            f["func"],
            f["pc"].as_u64().unwrap_or_default(),
            f["locals"].as_array().map_or(0, Vec::len),
            f["stack"].as_array().map_or(0, Vec::len),
        );
    }
    for (i, m) in r["memories"].as_array().into_iter().flatten().enumerate() {
        let _ = writeln!(
            out,
            "memory {i}: {} pages, {} non-zero",
            m["pages"], m["nonzero_pages"]
        );
    }
    for (i, g) in r["globals"].as_array().into_iter().flatten().enumerate() {
        let _ = writeln!(out, "global {i}: {}", text(g));
    }
    for (i, n) in r["tables"].as_array().into_iter().flatten().enumerate() {
        let _ = writeln!(out, "table {i}: {n} elements");
    }
    if let Some(fds) = r["wasi"]["fds"].as_object() {
        let _ = writeln!(out, "open descriptors:");
        for (fd, d) in fds {
            let _ = writeln!(out, "  fd {fd}: {}", d["kind"]);
        }
    }
    let s = &r["sizes"];
    let _ = writeln!(
        out,
        "sizes: header {}, module {}, trigger {}, state {}, memory {}, wasi {}, end {}",
        s["header"], s["module"], s["trigger"], s["state"], s["memory"], s["wasi"], s["end"]
    );
    out
}

/// The trace tail as text: the events as the trace wrote them, one per line.
fn describe_trace(tail: &tern_snapshot::TraceTail, bytes: usize) -> String {
    let mut out = format!(
        "trace tail ({} events, next instruction {}, {bytes} bytes):\n",
        tail.events.len(),
        tail.next
    );
    for event in &tail.events {
        let _ = writeln!(out, "  {event}");
    }
    out
}

/// The trace tail: the events are JSON lines, shown as the objects they are.
fn trace_json(tail: &tern_snapshot::TraceTail) -> Json {
    let events: Vec<Json> = (tail.events.iter())
        .map(|e| serde_json::from_str(e).unwrap_or_else(|_| Json::String(e.clone())))
        .collect();
    json!({ "next": tail.next, "events": events })
}

/// A JSON string without its quotes; anything else as JSON.
fn text(v: &Json) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn value(v: &Value) -> Json {
    Json::String(match v {
        Value::I32(x) => format!("i32 {}", *x as i32),
        Value::I64(x) => format!("i64 {}", *x as i64),
        Value::F32(b) => format!("f32 {}", f32::from_bits(*b)),
        Value::F64(b) => format!("f64 {}", f64::from_bits(*b)),
        Value::V128(x) => format!("v128 0x{x:032x}"),
        Value::FuncRef(r) => r.map_or("funcref null".into(), |n| format!("funcref {n}")),
        Value::ExternRef(r) => r.map_or("externref null".into(), |n| format!("externref {n}")),
    })
}
