//! Checkpoint triggers and the loop that runs a program to its end, writing a snapshot
//! whenever a trigger fires. Shared by `tern run` and `tern restore`.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_interp::{InstanceId, Module, Outcome, PauseReason, RunError, Store, Value};
use tern_snapshot::{ModuleIdentity, Snapshot, TriggerInfo, trigger_kind};
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

/// Which flag-based trigger fired, so the snapshot records it.
#[derive(Default)]
pub(super) struct Fired {
    pub signal: Arc<AtomicBool>,
    pub file: Arc<AtomicBool>,
    pub interval: Arc<AtomicBool>,
}

/// Whether file and interval triggers are polled by the running thread rather than
/// watched by threads: in the self-hosted build, as wasm32-wasip1 has no threads.
const POLLED: bool = cfg!(target_os = "wasi");

/// Interrupt checks (backward branches and calls) the interpreter makes between two polls
/// of the clock and, at most every [`FILE_POLL_PERIOD`], the trigger files (when
/// [`POLLED`]): some tens of microseconds of work, so a trigger is seen promptly, and
/// enough that a poll (a pause, a clock read, a resume) costs little.
#[cfg(target_os = "wasi")]
const POLL_INTERVAL: u64 = 1 << 12;

/// How often polled trigger files are looked for.
const FILE_POLL_PERIOD: Duration = Duration::from_millis(1);

/// A trigger looked at by the running thread.
enum Polled {
    File(PathBuf),
    Interval { every: Duration, next: Instant },
}

/// The armed triggers of one run.
struct Armed {
    instructions: Option<u64>,
    /// Store address of the watched function and N.
    calls: Option<(u32, u64)>,
    fired: Fired,
    stop_watchers: Arc<AtomicBool>,
    /// Triggers polled whenever the interpreter pauses for a poll (see [`POLLED`]).
    polled: Vec<Polled>,
    /// When the polled trigger files were last looked for.
    files_seen: Option<Instant>,
}

impl Armed {
    /// Arms the instruction trigger afresh (N more instructions) and, with polled
    /// triggers, the interpreter's poll pauses.
    fn restart_budget(&self, store: &mut Store) {
        store.set_instruction_budget(self.instructions);
        #[cfg(target_os = "wasi")]
        store.set_poll_interval((!self.polled.is_empty()).then_some(POLL_INTERVAL));
    }

    /// Polls the triggers at each poll pause and resumes until one fires or the program
    /// stops for another reason; without polled triggers `outcome` is returned as is. A
    /// fired file or interval trigger leaves the interrupt pause it was seen at, as the
    /// watcher threads of the native build do.
    fn settle(
        &mut self,
        store: &mut Store,
        mut outcome: Result<Outcome, RunError>,
    ) -> Result<Outcome, RunError> {
        if self.polled.is_empty() {
            return outcome;
        }
        // Nothing else sets the interrupt flag where triggers are polled.
        while matches!(outcome, Ok(Outcome::Paused(PauseReason::Interrupted))) && !self.poll() {
            outcome = store.resume();
        }
        outcome
    }

    /// Looks at every polled trigger; true when one fired.
    fn poll(&mut self) -> bool {
        let now = Instant::now();
        // Files are looked at once a millisecond at most (a `stat` costs more than a
        // poll pause), and at the first poll.
        let look = self
            .files_seen
            .is_none_or(|seen| now.duration_since(seen) >= FILE_POLL_PERIOD);
        if look {
            self.files_seen = Some(now);
        }
        let mut any = false;
        for polled in &mut self.polled {
            match polled {
                Polled::File(path) => {
                    if look && path.exists() {
                        let _ = std::fs::remove_file(&*path);
                        self.fired.file.store(true, Ordering::Relaxed);
                        any = true;
                    }
                }
                Polled::Interval { every, next } => {
                    if now >= *next {
                        *next = now + *every;
                        self.fired.interval.store(true, Ordering::Relaxed);
                        any = true;
                    }
                }
            }
        }
        any
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.stop_watchers.store(true, Ordering::Relaxed);
    }
}

fn arm(triggers: &[Trigger], session: &Session) -> anyhow::Result<Armed> {
    let interrupt = &session.store.interrupt_handle();
    let mut armed = Armed {
        instructions: None,
        calls: None,
        fired: Fired::default(),
        stop_watchers: Arc::new(AtomicBool::new(false)),
        polled: Vec::new(),
        files_seen: None,
    };
    for trigger in triggers {
        match trigger {
            Trigger::Instructions(n) => armed.instructions = Some(*n),
            Trigger::Call(func, n) => {
                let index = func
                    .parse()
                    .ok()
                    .or_else(|| session.module.func_by_name(func))
                    .with_context(|| format!("--checkpoint-on call: no function `{func}`"))?;
                let addr = session
                    .store
                    .func_addr(session.instance, index)
                    .with_context(|| format!("--checkpoint-on call: no function {index}"))?;
                armed.calls = Some((addr, *n));
            }
            #[cfg(not(target_os = "wasi"))]
            Trigger::Signal(signal) => {
                signal_hook::flag::register(*signal, armed.fired.signal.clone())?;
                signal_hook::flag::register(*signal, interrupt.clone())?;
            }
            Trigger::File(path) if POLLED => armed.polled.push(Polled::File(path.clone())),
            Trigger::Interval(every) if POLLED => armed.polled.push(Polled::Interval {
                every: *every,
                next: Instant::now() + *every,
            }),
            Trigger::File(path) => {
                let (path, fired, flag) =
                    (path.clone(), armed.fired.file.clone(), interrupt.clone());
                let stop = armed.stop_watchers.clone();
                watch(stop, Duration::from_millis(10), move || {
                    if path.exists() {
                        let _ = std::fs::remove_file(&path);
                        fired.store(true, Ordering::Relaxed);
                        flag.store(true, Ordering::Relaxed);
                    }
                });
            }
            Trigger::Interval(every) => {
                let (fired, flag) = (armed.fired.interval.clone(), interrupt.clone());
                watch(armed.stop_watchers.clone(), *every, move || {
                    fired.store(true, Ordering::Relaxed);
                    flag.store(true, Ordering::Relaxed);
                });
            }
        }
    }
    Ok(armed)
}

/// Runs `tick` every `period` on a background thread until `stop` is set.
pub(super) fn watch(stop: Arc<AtomicBool>, period: Duration, tick: impl Fn() + Send + 'static) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(period);
            if !stop.load(Ordering::Relaxed) {
                tick();
            }
        }
    });
}

/// Runs `session` from `outcome` to its end, checkpointing when triggers fire.
pub fn drive(
    mut session: Session,
    args: &CheckpointArgs,
    default_snapshot: &Path,
    first: impl FnOnce(&mut Store) -> Result<Outcome, RunError>,
) -> anyhow::Result<ExitCode> {
    let triggers = args.parsed_triggers()?;
    let mut armed = arm(&triggers, &session)?;
    let mut snapshots = args.snapshot_paths(default_snapshot);
    armed.restart_budget(&mut session.store);
    session.store.watch_calls(armed.calls);
    let started = run_traced(&mut session, first);
    let mut outcome = armed.settle(&mut session.store, started);
    loop {
        match outcome {
            Ok(Outcome::Finished(results)) => {
                if session.print_results {
                    print_results(&results)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            Ok(Outcome::Paused(reason)) => {
                let trigger = trigger_info(reason, &armed, &session);
                let path = snapshots.next();
                write_snapshot(&session, trigger, &path)?;
                eprintln!("tern: checkpoint written to {}", path.display());
                if !args.leave_running {
                    return Ok(ExitCode::from(CHECKPOINT_EXIT));
                }
                armed.restart_budget(&mut session.store);
                if reason == PauseReason::CallReached {
                    session.store.watch_calls(armed.calls);
                }
                let resumed = run_traced(&mut session, Store::resume);
                outcome = armed.settle(&mut session.store, resumed);
            }
            Err(RunError::Exit(code)) => return Ok(ExitCode::from(code as u8)),
            Err(RunError::Trap(trap)) => {
                eprintln!("error: {trap}");
                return Ok(ExitCode::from(TRAP_EXIT));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs `run` on the session's store, through its tracer if it has one.
fn run_traced(
    session: &mut Session,
    run: impl FnOnce(&mut Store) -> Result<Outcome, RunError>,
) -> Result<Outcome, RunError> {
    match &mut session.tracer {
        Some(tracer) => tracer.run(&mut session.store, run),
        None => run(&mut session.store),
    }
}

pub(super) fn print_results(results: &[Value]) -> anyhow::Result<()> {
    let text: String = results
        .iter()
        .map(|v| super::values::format(v) + "\n")
        .collect();
    super::print_stdout(&text)
}

fn trigger_info(reason: PauseReason, armed: &Armed, session: &Session) -> TriggerInfo {
    let take = |flag: &AtomicBool| flag.swap(false, Ordering::Relaxed);
    let mut info = if reason == PauseReason::BudgetExhausted {
        let n = armed.instructions.unwrap_or_default();
        TriggerInfo::now(trigger_kind::INSTRUCTIONS, n.to_string())
    } else if reason == PauseReason::CallReached {
        let (addr, n) = armed.calls.unwrap_or_default();
        TriggerInfo::now(trigger_kind::CALL, format!("function at {addr}, call {n}"))
    } else if take(&armed.fired.signal) {
        TriggerInfo::now(trigger_kind::SIGNAL, "")
    } else if take(&armed.fired.file) {
        TriggerInfo::now(trigger_kind::FILE, "")
    } else if take(&armed.fired.interval) {
        TriggerInfo::now(trigger_kind::INTERVAL, "")
    } else {
        TriggerInfo::now(trigger_kind::MANUAL, "")
    };
    // The store counts from the start of this run (while a budget is armed, which it is
    // all along with an instruction trigger); the snapshot records the program's total.
    if armed.instructions.is_some() {
        info.instructions = session
            .instructions_before
            .map(|before| before + session.store.counted_instructions());
    }
    info
}

/// Captures the paused program (Wasm and WASI state) into the snapshot file `path`.
/// The WASI state comes first: when it cannot be captured (a file the program holds was
/// unlinked, so no restore could reopen it) nothing is written, and the error ends the run
/// like any other failed checkpoint. Memories are not copied: their pages are compressed
/// where they lie.
fn write_snapshot(session: &Session, trigger: TriggerInfo, path: &Path) -> anyhow::Result<()> {
    let wasi_state = session
        .wasi
        .lock()
        .expect("WASI context lock")
        .state()
        .map_err(|e| anyhow::anyhow!("checkpoint failed, no snapshot written: {e}"))?;
    let (state, memories) = session.store.capture_borrowed();
    let snapshot = Snapshot {
        module: session.identity,
        trigger,
        state,
        wasi: Some(serde_json::to_vec(&wasi_state).context("encoding the WASI state")?),
    };
    let trace = session.tracer.as_ref().map(tern_trace::Tracer::tail);
    tern_snapshot::write_snapshot_file_with_trace(path, &snapshot, &memories, trace.as_ref())
        .with_context(|| format!("writing snapshot {}", path.display()))
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

    /// The polling of the self-hosted build, which the native build compiles but does
    /// not use.
    #[test]
    fn polled_triggers_fire() {
        let dir = std::env::temp_dir().join(format!("tern-poll-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("checkpoint-now");
        let hour = Duration::from_secs(3600);
        let mut armed = Armed {
            instructions: None,
            calls: None,
            fired: Fired::default(),
            stop_watchers: Arc::new(AtomicBool::new(false)),
            polled: vec![
                Polled::File(file.clone()),
                Polled::Interval {
                    every: hour,
                    next: Instant::now() + hour,
                },
            ],
            files_seen: None,
        };
        assert!(!armed.poll());
        std::fs::write(&file, "").unwrap();
        armed.files_seen = None;
        assert!(armed.poll());
        assert!(!file.exists(), "a fired trigger file is removed");
        assert!(armed.fired.file.load(Ordering::Relaxed));
        assert!(!armed.fired.interval.load(Ordering::Relaxed));

        armed.polled[1] = Polled::Interval {
            every: hour,
            next: Instant::now(),
        };
        assert!(armed.poll());
        assert!(armed.fired.interval.load(Ordering::Relaxed));
        assert!(!armed.poll(), "the next interval is an hour away");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
