//! The checkpoint options of `tern run` and `tern restore` (triggers, snapshot paths,
//! exit statuses), shared by both engines, and the interpreter's [`Session`]. The loop
//! that runs a program through its checkpoints is in `drive.rs`.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_interp::{InstanceId, Module, Store, Value};
use tern_snapshot::ModuleIdentity;
use tern_wasi::WasiCtx;

/// Exit status of tern after it checkpointed a program and stopped it: the program is
/// not finished, it continues with `tern restore` (EX_TEMPFAIL).
pub const CHECKPOINT_EXIT: u8 = 75;

/// Exit status when the program traps (like an abort: 128 + SIGABRT).
pub const TRAP_EXIT: u8 = 134;

/// When and where to checkpoint; the same options for `tern run` and `tern restore`.
#[derive(clap::Args, Debug, Default)]
pub struct CheckpointArgs {
    /// When to checkpoint: `instructions:N` (after exactly N instructions),
    /// `call:FUNC:N` (in front of every N-th call of FUNC, a name or an index), `signal`
    /// (SIGUSR1), `signal:term` (SIGTERM), `file:PATH` (when PATH appears; it is
    /// removed), `interval:DURATION` (e.g. `500ms`, `2s`). Repeatable.
    #[arg(long = "checkpoint-on", value_name = "TRIGGER")]
    pub triggers: Vec<String>,
    /// Where to write snapshots: a file, or an existing directory for numbered
    /// snapshots (`snapshot-0001.tern`, ...). Default: `MODULE.tern` next to the module.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// Keep running after each checkpoint (by default tern stops the program and exits
    /// with status 75).
    #[arg(long)]
    pub leave_running: bool,
}

impl CheckpointArgs {
    /// The `--checkpoint-on` triggers, parsed.
    pub(super) fn parsed_triggers(&self) -> anyhow::Result<Vec<Trigger>> {
        self.triggers.iter().map(|t| parse_trigger(t)).collect()
    }

    /// Where the checkpoints go: `--snapshot`, or `default` beside the module.
    pub(super) fn snapshot_paths(&self, default: &Path) -> SnapshotPaths {
        SnapshotPaths::new(self.snapshot.as_deref().unwrap_or(default))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Trigger {
    Instructions(u64),
    /// Function (name or index) and N: pause in front of every N-th call.
    Call(String, u64),
    #[cfg(not(target_os = "wasi"))]
    Signal(i32),
    File(PathBuf),
    Interval(Duration),
}

pub(super) fn parse_trigger(text: &str) -> anyhow::Result<Trigger> {
    let (kind, arg) = text.split_once(':').unwrap_or((text, ""));
    Ok(match (kind, arg) {
        ("instructions", n) => {
            Trigger::Instructions(n.parse().ok().filter(|&n| n > 0).with_context(|| {
                format!("--checkpoint-on {text}: expected instructions:N with N > 0")
            })?)
        }
        ("call", spec) => {
            let bad = || format!("--checkpoint-on {text}: expected call:FUNC:N with N > 0");
            let (func, n) = spec.rsplit_once(':').with_context(bad)?;
            let n = n.parse().ok().filter(|&n| n > 0).with_context(bad)?;
            Trigger::Call(func.to_string(), n)
        }
        ("signal", name @ ("" | "usr1" | "term")) => signal_trigger(name)?,
        ("file", path) if !path.is_empty() => Trigger::File(path.into()),
        ("interval", d) => Trigger::Interval(
            parse_duration(d).with_context(|| format!("--checkpoint-on {text}: bad duration"))?,
        ),
        _ => bail!(
            "--checkpoint-on {text}: expected instructions:N, call:FUNC:N, signal[:usr1|:term], \
             file:PATH or interval:DURATION"
        ),
    })
}

#[cfg(not(target_os = "wasi"))]
fn signal_trigger(name: &str) -> anyhow::Result<Trigger> {
    use signal_hook::consts::{SIGTERM, SIGUSR1};
    Ok(Trigger::Signal(if name == "term" {
        SIGTERM
    } else {
        SIGUSR1
    }))
}

#[cfg(target_os = "wasi")]
fn signal_trigger(_: &str) -> anyhow::Result<Trigger> {
    bail!(
        "signal triggers are not available in tern.wasm: use file:PATH, interval:DURATION, \
         instructions:N or call:FUNC:N"
    )
}

/// `250ms`, `2s`, `1.5s`, `3m`.
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    (seconds > 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The program being run, with everything a checkpoint needs.
pub struct Session {
    pub store: Store,
    pub instance: InstanceId,
    pub module: Module,
    /// The module's identity, hashed once when it is loaded (not at every checkpoint).
    pub identity: ModuleIdentity,
    /// Instructions the program had executed before this run started: 0 for `tern run`,
    /// the snapshot's count for `tern restore` (`None` when the snapshot has none, so
    /// later snapshots record no total either).
    pub instructions_before: Option<u64>,
    pub wasi: Arc<Mutex<WasiCtx>>,
    /// Result of `--invoke`: print the function's results when it returns.
    pub print_results: bool,
    /// `--trace`: the program runs one traced instruction at a time.
    pub tracer: Option<tern_trace::Tracer>,
}

/// Prints the results of a finished `--invoke` (or restored) run, one per line.
pub(super) fn print_results(results: &[Value]) -> anyhow::Result<()> {
    let text: String = results
        .iter()
        .map(|v| super::values::format(v) + "\n")
        .collect();
    super::print_stdout(&text)
}

/// A single snapshot file, or numbered files in a directory.
pub(super) struct SnapshotPaths {
    base: PathBuf,
    numbered: bool,
    next: u32,
}

impl SnapshotPaths {
    pub fn new(base: &Path) -> Self {
        SnapshotPaths {
            base: base.to_path_buf(),
            numbered: base.is_dir(),
            next: 1,
        }
    }

    pub fn next(&mut self) -> PathBuf {
        if !self.numbered {
            return self.base.clone();
        }
        loop {
            let path = self.base.join(format!("snapshot-{:04}.tern", self.next));
            self.next += 1;
            if !path.exists() {
                return path;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse() {
        assert_eq!(
            parse_trigger("instructions:5").unwrap(),
            Trigger::Instructions(5)
        );
        #[cfg(not(target_os = "wasi"))]
        assert_eq!(
            parse_trigger("signal").unwrap(),
            Trigger::Signal(signal_hook::consts::SIGUSR1)
        );
        assert_eq!(
            parse_trigger("file:/tmp/x").unwrap(),
            Trigger::File("/tmp/x".into())
        );
        assert_eq!(
            parse_trigger("interval:250ms").unwrap(),
            Trigger::Interval(Duration::from_millis(250))
        );
        assert_eq!(
            parse_trigger("call:fib:3").unwrap(),
            Trigger::Call("fib".into(), 3)
        );
        assert_eq!(
            parse_trigger("call:a:b:2").unwrap(),
            Trigger::Call("a:b".into(), 2)
        );
        assert!(parse_trigger("call:fib").is_err());
        assert!(parse_trigger("instructions:0").is_err());
        assert!(parse_trigger("interval:5").is_err());
        assert!(parse_trigger("whenever").is_err());
    }
}
