//! `tern inspect`: what a snapshot holds.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use tern_snapshot::{Snapshot, Value};

/// Show what a snapshot holds: call stack, memories, globals, WASI descriptors, trigger.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// The snapshot file.
    snapshot: PathBuf,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let shown = args.snapshot.display();
    let bytes = std::fs::read(&args.snapshot).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let snapshot =
        tern_snapshot::decode_snapshot(&bytes).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    print!("{}", describe(&snapshot, bytes.len()));
    Ok(ExitCode::SUCCESS)
}

fn describe(s: &Snapshot, file_len: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "snapshot: {file_len} bytes");
    let _ = writeln!(
        out,
        "module: sha256:{} ({} bytes)",
        s.module.sha256_hex(),
        s.module.len
    );
    let t = &s.trigger;
    let _ = write!(out, "trigger: {}", t.kind);
    if !t.detail.is_empty() {
        let _ = write!(out, " {}", t.detail);
    }
    if let Some(n) = t.instructions {
        let _ = write!(out, " ({n} instructions executed)");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "call stack ({} frames, innermost first):",
        s.state.frames.len()
    );
    for (i, frame) in s.state.frames.iter().rev().enumerate() {
        let _ = writeln!(
            out,
            "  {i:>3}: func[{}] @ 0x{:x}  locals {}  stack {}",
            frame.func,
            frame.pc,
            frame.locals.len(),
            frame.stack.len()
        );
    }
    for (i, m) in s.state.memories.iter().enumerate() {
        let _ = writeln!(
            out,
            "memory {i}: {} pages, {} non-zero",
            m.pages,
            m.nonzero_pages.len()
        );
    }
    for (i, g) in s.state.globals.iter().enumerate() {
        let _ = writeln!(out, "global {i}: {}", value(g));
    }
    for (i, t) in s.state.tables.iter().enumerate() {
        let _ = writeln!(out, "table {i}: {} elements", t.elements.len());
    }
    if let Some(wasi) = &s.wasi {
        let _ = writeln!(out, "wasi state: {} bytes of JSON", wasi.len());
        if let Ok(state) = serde_json::from_slice::<tern_wasi::WasiState>(wasi) {
            for (fd, d) in &state.fds {
                let _ = writeln!(out, "  fd {fd}: {d:?}");
            }
        }
    }
    out
}

fn value(v: &Value) -> String {
    match v {
        Value::I32(x) => format!("i32 {}", *x as i32),
        Value::I64(x) => format!("i64 {}", *x as i64),
        Value::F32(b) => format!("f32 {}", f32::from_bits(*b)),
        Value::F64(b) => format!("f64 {}", f64::from_bits(*b)),
        Value::V128(x) => format!("v128 0x{x:032x}"),
        Value::FuncRef(r) => format!("funcref {r:?}"),
        Value::ExternRef(r) => format!("externref {r:?}"),
    }
}
