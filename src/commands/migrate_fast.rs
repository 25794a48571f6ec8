//! Live migration on the fast tier: `tern run --control/--migrate-on` when the fast
//! engine runs the program, and `tern serve` restoring an arrival on it.
//!
//! The program runs in wasmtime on the main thread and never stops for pre-copy: a
//! migration thread (started by the request, not by the program) reads the memories in
//! place through their published locations (`tern_fast::MemoryLocations`). To pause, it
//! requests a checkpoint; the program unwinds at its next safepoint (a blocking WASI call
//! gives way and is issued again later) and this loop captures the canonical state,
//! memory images sized but without pages. If the target confirms, the program ends
//! here; otherwise it continues in place: the captured state, with the memories read
//! back from the unwound instance, is restored into a new instance with the live WASI
//! context, as `--leave-running` does.

use super::checkpoint::TRAP_EXIT;
use super::fast::{Program, Start};
use super::migrate::{
    ControlArgs, Pending, Request, hand_over_listeners, listen, perform, take_back_listeners,
};
use anyhow::anyhow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_fast::{CheckpointHandle, FastEngine, FastInstance, FastModule, MemoryLocations};
use tern_fast::{Outcome, RunError};
use tern_migrate::MemoryRegion;
use tern_snapshot::{Snapshot, TriggerInfo, trigger_kind};

/// What the run loop and the migration thread share.
struct Link {
    /// The migration thread wants the program stopped (set before the request).
    pause_wanted: AtomicBool,
    /// The current instance's checkpoint handle and memory locations (a failed
    /// migration replaces the instance).
    current: Mutex<(CheckpointHandle, MemoryLocations)>,
    /// A migration is in progress (the run loop waits for its report at the end).
    busy: AtomicBool,
    /// Where the migration in progress goes.
    to: Mutex<String>,
}

impl Link {
    /// Waits (at most 30 s) until no migration is in progress.
    fn wait_idle(&self) {
        let since = Instant::now();
        while self.busy.load(Ordering::SeqCst) && since.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, (CheckpointHandle, MemoryLocations)> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// [`tern_migrate::Program`] for the fast tier, used on the migration thread.
struct FastProgram {
    link: Arc<Link>,
    states: Receiver<Result<Snapshot, String>>,
    decisions: Sender<bool>,
}

impl tern_migrate::Program for FastProgram {
    fn with_memories(&self, f: &mut dyn FnMut(&[MemoryRegion])) {
        let locations = self.link.current().1.clone();
        locations.with(|now| {
            let regions: Vec<MemoryRegion> = now
                .iter()
                .map(|m| MemoryRegion {
                    ptr: m.ptr,
                    len: m.len,
                    generation: m.generation,
                })
                .collect();
            f(&regions);
        });
    }

    fn pause(&mut self) -> Result<Snapshot, String> {
        self.link.pause_wanted.store(true, Ordering::SeqCst);
        self.link.current().0.request();
        self.states
            .recv()
            .map_err(|_| "the program ended".to_string())?
    }

    fn resume(&mut self) {
        let _ = self.decisions.send(false);
    }

    fn finish(&mut self) {
        let _ = self.decisions.send(true);
    }
}

/// Starts the migration thread: it waits for requests and performs them one at a time
/// while the program runs.
fn serve_requests(
    pending: Pending,
    wakes: Receiver<()>,
    mut program: FastProgram,
    module: Vec<u8>,
) {
    std::thread::spawn(move || {
        while wakes.recv().is_ok() {
            let Some(request): Option<Request> = pending.lock().unwrap().take() else {
                continue;
            };
            let link = program.link.clone();
            *link.to.lock().unwrap_or_else(|e| e.into_inner()) = request.to.clone();
            link.busy.store(true, Ordering::SeqCst);
            let moved = perform(request, &mut program, module.clone()).is_ok();
            link.busy.store(false, Ordering::SeqCst);
            if moved {
                return;
            }
        }
    });
}

/// Runs the program until it ends (its exit status) or has moved to another host (0,
/// after `tern: migrated to ADDR`).
pub(super) fn drive(
    program: &Program,
    mut instance: FastInstance,
    start: Start,
    args: &ControlArgs,
    module_bytes: Vec<u8>,
) -> anyhow::Result<u8> {
    let locations = instance
        .share_memory_locations()
        .map_err(|e| anyhow!("live migration: {e}"))?;
    let link = Arc::new(Link {
        pause_wanted: AtomicBool::new(false),
        current: Mutex::new((instance.checkpoint_handle(), locations)),
        busy: AtomicBool::new(false),
        to: Mutex::new(String::new()),
    });
    let (states_tx, states_rx) = channel();
    let (decisions_tx, decisions_rx) = channel();
    let (wake_tx, wake_rx) = channel();
    let pending = listen(
        args,
        Arc::new(move || {
            let _ = wake_tx.send(());
        }),
    )?;
    let migrating = FastProgram {
        link: link.clone(),
        states: states_rx,
        decisions: decisions_tx,
    };
    serve_requests(pending, wake_rx, migrating, module_bytes);

    let mut outcome = match start {
        Start::Invoke(name, params) => instance.invoke(&name, &params),
        Start::Resume => instance.resume(),
    };
    let end = loop {
        match outcome {
            Ok(Outcome::Unwound) => {
                if !link.pause_wanted.swap(false, Ordering::SeqCst) {
                    break Err(anyhow!(
                        "the program unwound, but no migration asked for it"
                    ));
                }
                // Exact lengths for the last round, then the state without pages.
                instance.refresh_memory_locations();
                let trigger = TriggerInfo::now(trigger_kind::MANUAL, "migration");
                let snapshot = match instance.capture_sized(trigger) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = states_tx.send(Err(e.to_string()));
                        break Err(anyhow!("the program cannot continue: {e}"));
                    }
                };
                let handed_over = hand_over_listeners(&program.wasi);
                let state_sent = handed_over.is_ok();
                let _ = states_tx.send(handed_over.map(|()| snapshot.clone()));
                // A state that was not sent gets no decision: the migration failed.
                if state_sent && decisions_rx.recv().unwrap_or(false) {
                    let to = link.to.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    drop(instance);
                    // The requester gets the final report before this process exits.
                    link.wait_idle();
                    eprintln!("tern: migrated to {to}");
                    return Ok(0);
                }
                if state_sent {
                    take_back_listeners(&program.wasi);
                }
                instance = continue_here(program, instance, snapshot)?;
                *link.current() = (
                    instance.checkpoint_handle(),
                    instance
                        .share_memory_locations()
                        .map_err(|e| anyhow!("live migration: {e}"))?,
                );
                outcome = instance.resume();
            }
            Ok(Outcome::Finished(results)) => {
                if program.print_results {
                    super::checkpoint::print_results(&results)?;
                }
                break Ok(0);
            }
            Err(RunError::Exit(code)) => break Ok(code as u8),
            Err(RunError::Trap(message)) => {
                eprintln!("error: {message}");
                break Ok(TRAP_EXIT);
            }
            Err(RunError::Fatal(e)) => break Err(anyhow!("{e}")),
        }
    };
    // The program is over: a migration in progress fails ("the program ended") and
    // reports so to its requester before this process may exit.
    drop(instance);
    drop(states_tx);
    drop(decisions_rx);
    link.wait_idle();
    end
}

/// After a failed migration: the captured state, with the memories read back from the
/// unwound instance, restored into a new instance with the live WASI context.
fn continue_here(
    program: &Program,
    mut unwound: FastInstance,
    mut snapshot: Snapshot,
) -> anyhow::Result<FastInstance> {
    snapshot.state.memories = unwound
        .memory_images()
        .map_err(|e| anyhow!("cannot continue after the failed migration: {e}"))?;
    drop(unwound);
    FastInstance::restore(&program.module, &snapshot, program.wasi.clone())
        .map_err(|e| anyhow!("cannot continue after the failed migration: {e}"))
}

/// The fast tier's module for an arriving program; `None` when the fast tier does not
/// take it (it refuses to instrument it) and the engine was not chosen explicitly.
pub(super) fn load_arrival(wasm: &[u8], explicit: bool) -> anyhow::Result<Option<FastModule>> {
    let engine = FastEngine::new().map_err(|e| anyhow!("the fast engine: {e}"))?;
    match FastModule::new(&engine, wasm) {
        Ok(module) => Ok(Some(module)),
        Err(tern_fast::Error::Instrument(_) | tern_fast::Error::Unsupported { .. })
            if !explicit =>
        {
            Ok(None)
        }
        Err(e) => Err(anyhow!(
            "the module does not compile on the fast engine: {e}"
        )),
    }
}
