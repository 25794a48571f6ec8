//! The loop that runs a program to its end on either engine, writing a snapshot whenever
//! a checkpoint trigger fires.
//!
//! Both engines are driven through one trait, [`CheckpointEngine`]: the interpreter in
//! `interp_run.rs`, the fast tier in `fast.rs`. The triggers every engine shares (signal,
//! file, interval) are watched here by threads that ask the engine for a checkpoint; the
//! rest (an instruction count, a call) the engine arms itself.

use super::checkpoint::{CHECKPOINT_EXIT, CheckpointArgs, TRAP_EXIT, Trigger, print_results};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tern_snapshot::{TriggerInfo, Value, trigger_kind};

/// Asks a running program to stop at its next safepoint; callable from any thread.
pub(super) type Requester = Arc<dyn Fn() + Send + Sync>;

/// How one stretch of running ended, when the program did not fail.
pub(super) enum Step {
    /// The program (or the invoked function) returned these results.
    Finished(Vec<Value>),
    /// The program stopped at a safepoint for a checkpoint.
    Stopped,
}

/// How a program failed to finish.
pub(super) enum Failure {
    /// `proc_exit` with this status.
    Exit(u8),
    /// A trap, with its kind and Wasm backtrace.
    Trap(String),
    /// Not the program's fault: tern could not go on.
    Fatal(anyhow::Error),
}

/// What [`drive`] needs from an engine.
pub(super) trait CheckpointEngine {
    /// Asks the program, as it runs now or after the next `leave_running`, to stop.
    fn requester(&self) -> Requester;
    /// Arms `trigger` when the engine implements it itself; false leaves it to the
    /// watchers of [`drive`]. `fired` records which shared trigger fired.
    fn arm(&mut self, trigger: &Trigger, fired: &Fired) -> anyhow::Result<bool>;
    /// Continues the stopped program.
    fn resume(&mut self) -> Result<Step, Failure>;
    /// Why the program stopped: the engine's own trigger, else the one `fired` holds.
    fn trigger(&mut self, fired: &Fired) -> TriggerInfo;
    /// Writes the stopped program durably to `path`.
    fn write_snapshot(&mut self, trigger: TriggerInfo, path: &Path) -> anyhow::Result<()>;
    /// Gets the program ready to continue after a checkpoint (`--leave-running`).
    fn leave_running(&mut self) -> anyhow::Result<()>;
    /// Whether the results of a finished run are printed (`--invoke`, restores).
    fn prints_results(&self) -> bool;
}

/// Which shared trigger fired, so the snapshot records it.
#[derive(Default, Clone)]
pub(super) struct Fired {
    pub signal: Arc<AtomicBool>,
    pub file: Arc<AtomicBool>,
    pub interval: Arc<AtomicBool>,
}

impl Fired {
    /// The shared trigger that fired (each flag is taken), or a manual request.
    pub fn take(&self) -> TriggerInfo {
        let take = |flag: &AtomicBool| flag.swap(false, Ordering::Relaxed);
        let kind = if take(&self.signal) {
            trigger_kind::SIGNAL
        } else if take(&self.file) {
            trigger_kind::FILE
        } else if take(&self.interval) {
            trigger_kind::INTERVAL
        } else {
            trigger_kind::MANUAL
        };
        TriggerInfo::now(kind, "")
    }
}

/// Runs the program from `first` to its end, checkpointing whenever a trigger fires.
pub(super) fn drive<E: CheckpointEngine>(
    engine: &mut E,
    args: &CheckpointArgs,
    default_snapshot: &Path,
    first: impl FnOnce(&mut E) -> Result<Step, Failure>,
) -> anyhow::Result<ExitCode> {
    let triggers = args.parsed_triggers()?;
    let watchers = Watchers::arm(&triggers, engine)?;
    let mut snapshots = args.snapshot_paths(default_snapshot);
    let mut outcome = first(engine);
    loop {
        match outcome {
            Ok(Step::Finished(results)) => {
                if engine.prints_results() {
                    print_results(&results)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            Ok(Step::Stopped) => {
                let trigger = engine.trigger(&watchers.fired);
                let path = snapshots.next();
                engine.write_snapshot(trigger, &path)?;
                eprintln!("tern: checkpoint written to {}", path.display());
                if !args.leave_running {
                    return Ok(ExitCode::from(CHECKPOINT_EXIT));
                }
                engine.leave_running()?;
                outcome = engine.resume();
            }
            Err(Failure::Exit(code)) => return Ok(ExitCode::from(code)),
            Err(Failure::Trap(message)) => {
                eprintln!("error: {message}");
                return Ok(ExitCode::from(TRAP_EXIT));
            }
            Err(Failure::Fatal(e)) => return Err(e),
        }
    }
}

/// The threads watching the shared triggers of one run; they stop with it.
struct Watchers {
    fired: Fired,
    stop: Arc<AtomicBool>,
}

impl Drop for Watchers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Watchers {
    fn arm(triggers: &[Trigger], engine: &mut impl CheckpointEngine) -> anyhow::Result<Self> {
        let watchers = Watchers {
            fired: Fired::default(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        for trigger in triggers {
            if engine.arm(trigger, &watchers.fired)? {
                continue;
            }
            let request = engine.requester();
            match trigger {
                #[cfg(not(target_os = "wasi"))]
                Trigger::Signal(signal) => {
                    // A thread waits for the signal (the handler itself only records it).
                    let mut signals = signal_hook::iterator::Signals::new([*signal])?;
                    let fired = watchers.fired.signal.clone();
                    std::thread::spawn(move || {
                        for _ in signals.forever() {
                            fired.store(true, Ordering::Relaxed);
                            request();
                        }
                    });
                }
                Trigger::File(path) => {
                    let (path, fired) = (path.clone(), watchers.fired.file.clone());
                    watch(
                        watchers.stop.clone(),
                        Duration::from_millis(10),
                        move || {
                            if path.exists() {
                                let _ = std::fs::remove_file(&path);
                                fired.store(true, Ordering::Relaxed);
                                request();
                            }
                        },
                    );
                }
                Trigger::Interval(every) => {
                    let fired = watchers.fired.interval.clone();
                    watch(watchers.stop.clone(), *every, move || {
                        fired.store(true, Ordering::Relaxed);
                        request();
                    });
                }
                Trigger::Instructions(_) | Trigger::Call(..) => {
                    anyhow::bail!("internal: the engine did not arm {trigger:?}")
                }
            }
        }
        Ok(watchers)
    }
}

/// Runs `tick` every `period` on a background thread until `stop` is set.
fn watch(stop: Arc<AtomicBool>, period: Duration, tick: impl Fn() + Send + 'static) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(period);
            if !stop.load(Ordering::Relaxed) {
                tick();
            }
        }
    });
}
