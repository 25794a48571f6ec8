//! The interpreter behind [`drive`](super::drive::drive): its own triggers (an exact
//! instruction count, the N-th call of a function; in the self-hosted build also the
//! polled file and interval triggers), tracing, and snapshots written straight from the
//! store's memories.

use super::checkpoint::{Session, Trigger};
use super::drive::{CheckpointEngine, Failure, Fired, Requester, Step};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tern_interp::{Outcome, PauseReason, RunError, Store};
use tern_snapshot::{Snapshot, TriggerInfo, trigger_kind};

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

/// Runs `session` from `first` to its end, checkpointing when triggers fire.
pub fn drive(
    session: Session,
    args: &super::checkpoint::CheckpointArgs,
    default_snapshot: &Path,
    first: impl FnOnce(&mut Store) -> Result<Outcome, RunError>,
) -> anyhow::Result<ExitCode> {
    let mut run = InterpRun {
        session,
        instructions: None,
        calls: None,
        polled: PolledTriggers::default(),
        last_pause: None,
    };
    super::drive::drive(&mut run, args, default_snapshot, |run| run.run(first))
}

/// A program on the interpreter, with the triggers it arms itself.
struct InterpRun {
    session: Session,
    instructions: Option<u64>,
    /// Store address of the watched function and N.
    calls: Option<(u32, u64)>,
    polled: PolledTriggers,
    /// Why the program last stopped.
    last_pause: Option<PauseReason>,
}

impl InterpRun {
    /// Runs `run` on the store (through the tracer, if there is one), settles polled
    /// triggers and maps the outcome.
    fn run(
        &mut self,
        run: impl FnOnce(&mut Store) -> Result<Outcome, RunError>,
    ) -> Result<Step, Failure> {
        let store = &mut self.session.store;
        let outcome = match &mut self.session.tracer {
            Some(tracer) => tracer.run(store, run),
            None => run(store),
        };
        match self.polled.settle(store, outcome) {
            Ok(Outcome::Finished(values)) => Ok(Step::Finished(values)),
            Ok(Outcome::Paused(reason)) => {
                self.last_pause = Some(reason);
                Ok(Step::Stopped)
            }
            Err(RunError::Exit(code)) => Err(Failure::Exit(code as u8)),
            Err(RunError::Trap(trap)) => Err(Failure::Trap(trap.to_string())),
            Err(e) => Err(Failure::Fatal(e.into())),
        }
    }

    /// Arms the instruction trigger afresh (N more instructions) and, with polled
    /// triggers, the interpreter's poll pauses.
    fn restart_budget(&mut self) {
        let store = &mut self.session.store;
        store.set_instruction_budget(self.instructions);
        #[cfg(target_os = "wasi")]
        store.set_poll_interval((!self.polled.triggers.is_empty()).then_some(POLL_INTERVAL));
    }
}

impl CheckpointEngine for InterpRun {
    fn requester(&self) -> Requester {
        let interrupt = self.session.store.interrupt_handle();
        std::sync::Arc::new(move || interrupt.store(true, Ordering::Relaxed))
    }

    fn arm(&mut self, trigger: &Trigger, fired: &Fired) -> anyhow::Result<bool> {
        match trigger {
            Trigger::Instructions(n) => self.instructions = Some(*n),
            Trigger::Call(func, n) => {
                let session = &self.session;
                let index = func
                    .parse()
                    .ok()
                    .or_else(|| session.module.func_by_name(func))
                    .with_context(|| format!("--checkpoint-on call: no function `{func}`"))?;
                let addr = session
                    .store
                    .func_addr(session.instance, index)
                    .with_context(|| format!("--checkpoint-on call: no function {index}"))?;
                self.calls = Some((addr, *n));
                self.session.store.watch_calls(self.calls);
            }
            Trigger::File(path) if POLLED => {
                self.polled.triggers.push(Polled::File(path.clone()));
                self.polled.fired = fired.clone();
            }
            Trigger::Interval(every) if POLLED => {
                self.polled.triggers.push(Polled::Interval {
                    every: *every,
                    next: Instant::now() + *every,
                });
                self.polled.fired = fired.clone();
            }
            _ => return Ok(false),
        }
        self.restart_budget();
        Ok(true)
    }

    fn resume(&mut self) -> Result<Step, Failure> {
        self.run(Store::resume)
    }

    fn trigger(&mut self, fired: &Fired) -> TriggerInfo {
        let mut info = match self.last_pause {
            Some(PauseReason::BudgetExhausted) => {
                let n = self.instructions.unwrap_or_default();
                TriggerInfo::now(trigger_kind::INSTRUCTIONS, n.to_string())
            }
            Some(PauseReason::CallReached) => {
                let (addr, n) = self.calls.unwrap_or_default();
                TriggerInfo::now(trigger_kind::CALL, format!("function at {addr}, call {n}"))
            }
            _ => fired.take(),
        };
        // The store counts from the start of this run (while a budget is armed, which it
        // is all along with an instruction trigger); the snapshot records the total.
        if self.instructions.is_some() {
            let session = &self.session;
            info.instructions = session
                .instructions_before
                .map(|before| before + session.store.counted_instructions());
        }
        info
    }

    /// The WASI state comes first: when it cannot be captured (a file the program holds
    /// was unlinked, so no restore could reopen it) nothing is written, and the error
    /// ends the run like any other failed checkpoint. Memories are not copied: their
    /// pages are compressed where they lie.
    fn write_snapshot(&mut self, trigger: TriggerInfo, path: &Path) -> anyhow::Result<()> {
        let session = &self.session;
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

    fn leave_running(&mut self) -> anyhow::Result<()> {
        self.restart_budget();
        if self.last_pause == Some(PauseReason::CallReached) {
            self.session.store.watch_calls(self.calls);
        }
        Ok(())
    }

    fn prints_results(&self) -> bool {
        self.session.print_results
    }
}

/// A trigger looked at by the running thread.
enum Polled {
    File(PathBuf),
    Interval { every: Duration, next: Instant },
}

/// The triggers polled whenever the interpreter pauses for a poll (see [`POLLED`]).
#[derive(Default)]
struct PolledTriggers {
    triggers: Vec<Polled>,
    fired: Fired,
    /// When the trigger files were last looked for.
    files_seen: Option<Instant>,
}

impl PolledTriggers {
    /// Polls the triggers at each poll pause and resumes until one fires or the program
    /// stops for another reason; without polled triggers `outcome` is returned as is. A
    /// fired file or interval trigger leaves the interrupt pause it was seen at, as the
    /// watcher threads of the native build do.
    fn settle(
        &mut self,
        store: &mut Store,
        mut outcome: Result<Outcome, RunError>,
    ) -> Result<Outcome, RunError> {
        if self.triggers.is_empty() {
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
        for polled in &mut self.triggers {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The polling of the self-hosted build, which the native build compiles but does
    /// not use.
    #[test]
    fn polled_triggers_fire() {
        let dir = std::env::temp_dir().join(format!("tern-poll-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("checkpoint-now");
        let hour = Duration::from_secs(3600);
        let mut polled = PolledTriggers {
            triggers: vec![
                Polled::File(file.clone()),
                Polled::Interval {
                    every: hour,
                    next: Instant::now() + hour,
                },
            ],
            ..PolledTriggers::default()
        };
        assert!(!polled.poll());
        std::fs::write(&file, "").unwrap();
        polled.files_seen = None;
        assert!(polled.poll());
        assert!(!file.exists(), "a fired trigger file is removed");
        assert!(polled.fired.file.load(Ordering::Relaxed));
        assert!(!polled.fired.interval.load(Ordering::Relaxed));

        polled.triggers[1] = Polled::Interval {
            every: hour,
            next: Instant::now(),
        };
        assert!(polled.poll());
        assert!(polled.fired.interval.load(Ordering::Relaxed));
        assert!(!polled.poll(), "the next interval is an hour away");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
