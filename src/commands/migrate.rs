//! Live migration, source side: `tern run --control PATH` / `--migrate-on` (the program
//! can be told to move) and `tern migrate --to HOST:PORT CONTROL` (tell it).
//!
//! The interpreter keeps running the program on its own thread while a migration thread
//! streams memory ([`tern_migrate::migrate`]); the two meet only at the pause. Engines
//! plug in through [`tern_migrate::Program`]; this is the interpreter's implementation,
//! plus what both engines share: the control socket and triggers ([`listen`]) and one
//! migration with its reports ([`perform`]). The fast tier's is `migrate_fast.rs`.

use super::checkpoint::{Session, TRAP_EXIT};
use super::control::{Conn, Endpoint};
use anyhow::Context;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_interp::{MemoryLocations, Outcome, RunError, Store};
use tern_migrate::{MemoryRegion, Options, Program, Report};
use tern_snapshot::{Snapshot, TriggerInfo, trigger_kind};
use tern_wasi::WasiCtx;

/// Migration options of `tern run`.
#[derive(clap::Args, Debug, Default)]
pub struct ControlArgs {
    /// Listen here for `tern migrate` requests: a Unix socket path, or a loopback
    /// `HOST:PORT`.
    #[arg(long, value_name = "PATH|HOST:PORT", value_parser = Endpoint::parse)]
    pub control: Option<Endpoint>,
    /// Migrate when this happens: `signal` (SIGUSR2) or `file:PATH` (PATH appears; it is
    /// removed). Needs `--migrate-to`.
    #[arg(long = "migrate-on", value_name = "TRIGGER", requires = "migrate_to")]
    pub migrate_on: Vec<String>,
    /// The `tern serve` to migrate to on a `--migrate-on` trigger.
    #[arg(long = "migrate-to", value_name = "HOST:PORT")]
    pub migrate_to: Option<String>,
    /// With `--migrate-on`: stop-and-copy instead of pre-copy.
    #[arg(long = "migrate-stop-and-copy")]
    pub stop_and_copy: bool,
    /// With `--migrate-on`: the target sees the same files; open files do not travel.
    #[arg(long = "migrate-shared-fs")]
    pub shared_fs: bool,
}

impl ControlArgs {
    pub fn enabled(&self) -> bool {
        self.control.is_some() || !self.migrate_on.is_empty()
    }
}

/// Tell a program run with `tern run --control PATH` to move to a `tern serve`.
#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The target: a `tern serve --listen` address.
    #[arg(long, value_name = "HOST:PORT")]
    to: String,
    /// Pause the program first and send everything (no pre-copy).
    #[arg(long)]
    stop_and_copy: bool,
    /// The target sees the same files as the source: open files do not travel.
    #[arg(long)]
    shared_fs: bool,
    /// The program's control endpoint (`tern run --control PATH|HOST:PORT`).
    #[arg(value_name = "CONTROL", value_parser = Endpoint::parse)]
    control: Endpoint,
}

/// `tern migrate`: sends the request, shows progress, exits 0 once the target runs the
/// program and 1 otherwise (the program then continues at the source).
pub fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let mut stream =
        (args.control.connect()).with_context(|| format!("cannot connect to {}", args.control))?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    writeln!(
        stream,
        "migrate {} {} {}",
        args.to,
        u8::from(args.stop_and_copy),
        u8::from(args.shared_fs)
    )?;
    for line in BufReader::new(stream).lines() {
        let line = line.context("control connection")?;
        if let Some(report) = line.strip_prefix("ok ") {
            eprintln!("tern migrate: done: {report}");
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(e) = line.strip_prefix("error ") {
            anyhow::bail!("migration failed, the program continues at the source: {e}");
        }
        eprintln!("tern migrate: {line}");
    }
    anyhow::bail!("the program closed the control connection (it ended?)")
}

/// A migration asked for.
pub(super) struct Request {
    pub(super) to: String,
    stop_and_copy: bool,
    shared_fs: bool,
    reply: Option<Conn>,
}

pub(super) type Pending = Arc<Mutex<Option<Request>>>;

/// Called when a request landed in the slot (from the listener or a trigger thread).
pub(super) type Wake = Arc<dyn Fn() + Send + Sync>;

/// Starts the control socket and the triggers; requests land in the returned slot and
/// call `wake` (the interpreter: set its interrupt flag).
pub(super) fn listen(args: &ControlArgs, wake: Wake) -> anyhow::Result<Pending> {
    let pending: Pending = Arc::default();
    if let Some(endpoint) = &args.control {
        let listener =
            (endpoint.bind()).with_context(|| format!("--control {endpoint}: cannot listen"))?;
        let (pending, wake) = (pending.clone(), wake.clone());
        std::thread::spawn(move || {
            loop {
                let Ok(mut conn) = listener.accept() else {
                    // A failed accept (e.g. out of descriptors) must not spin.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut line = String::new();
                let Ok(reader) = conn.try_clone() else {
                    continue;
                };
                if BufReader::new(reader).read_line(&mut line).is_err() {
                    continue;
                }
                let words: Vec<&str> = line.split_whitespace().collect();
                let request = match words[..] {
                    ["migrate", to, s, f] => Request {
                        to: to.to_string(),
                        stop_and_copy: s == "1",
                        shared_fs: f == "1",
                        reply: None,
                    },
                    _ => {
                        let _ = writeln!(conn, "error bad request");
                        continue;
                    }
                };
                let mut slot = pending.lock().unwrap();
                if slot.is_some() {
                    let _ = writeln!(conn, "error a migration is already requested");
                    continue;
                }
                *slot = Some(Request {
                    reply: Some(conn),
                    ..request
                });
                drop(slot);
                wake();
            }
        });
    }
    for trigger in &args.migrate_on {
        let to = args
            .migrate_to
            .clone()
            .context("--migrate-on needs --migrate-to")?;
        let (stop_and_copy, shared_fs) = (args.stop_and_copy, args.shared_fs);
        let request = move || Request {
            to: to.clone(),
            stop_and_copy,
            shared_fs,
            reply: None,
        };
        let fire = {
            let (pending, wake) = (pending.clone(), wake.clone());
            move |r: Request| {
                let mut slot = pending.lock().unwrap();
                if slot.is_none() {
                    *slot = Some(r);
                    drop(slot);
                    wake();
                }
            }
        };
        match trigger.split_once(':').unwrap_or((trigger, "")) {
            ("signal", "") => {
                let flag = Arc::new(AtomicBool::new(false));
                signal_hook::flag::register(signal_hook::consts::SIGUSR2, flag.clone())?;
                std::thread::spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_millis(5));
                        if flag.swap(false, Ordering::Relaxed) {
                            fire(request());
                        }
                    }
                });
            }
            ("file", path) if !path.is_empty() => {
                let path = PathBuf::from(path);
                std::thread::spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_millis(10));
                        if path.exists() {
                            let _ = std::fs::remove_file(&path);
                            fire(request());
                        }
                    }
                });
            }
            _ => anyhow::bail!("--migrate-on {trigger}: expected signal or file:PATH"),
        }
    }
    Ok(pending)
}

/// The interpreter's side of a migration in progress.
struct Coord {
    pause_wanted: AtomicBool,
    interrupt: Arc<AtomicBool>,
    locations: MemoryLocations,
}

/// [`Program`] for the interpreter, used on the migration thread.
struct InterpProgram {
    coord: Arc<Coord>,
    states: Receiver<Result<Snapshot, String>>,
    decisions: Sender<bool>,
}

impl Program for InterpProgram {
    fn with_memories(&self, f: &mut dyn FnMut(&[MemoryRegion])) {
        let guard = self.coord.locations.read();
        let regions: Vec<MemoryRegion> = guard
            .iter()
            .map(|m| MemoryRegion {
                ptr: m.ptr,
                len: m.len,
                generation: m.generation,
            })
            .collect();
        f(&regions);
    }

    fn pause(&mut self) -> Result<Snapshot, String> {
        self.coord.pause_wanted.store(true, Ordering::SeqCst);
        self.coord.interrupt.store(true, Ordering::SeqCst);
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

/// A migration thread and its end of the channels.
struct Running {
    coord: Arc<Coord>,
    states: Sender<Result<Snapshot, String>>,
    decisions: Receiver<bool>,
    thread: std::thread::JoinHandle<Result<Report, String>>,
    to: String,
}

/// `tern run` with `--control` / `--migrate-on`: runs the program to its end, or until it
/// has moved to another host (exit 0, "tern: migrated to ...").
pub fn drive(
    session: Session,
    args: &ControlArgs,
    module_bytes: Vec<u8>,
    first: impl FnOnce(&mut Store) -> Result<Outcome, RunError>,
) -> anyhow::Result<ExitCode> {
    drive_status(session, args, module_bytes, first).map(ExitCode::from)
}

/// [`drive`], with the exit status as a number.
pub fn drive_status(
    mut session: Session,
    args: &ControlArgs,
    module_bytes: Vec<u8>,
    first: impl FnOnce(&mut Store) -> Result<Outcome, RunError>,
) -> anyhow::Result<u8> {
    let interrupt = session.store.interrupt_handle();
    let wake = interrupt.clone();
    let pending = listen(args, Arc::new(move || wake.store(true, Ordering::Relaxed)))?;
    let mut running: Option<Running> = None;
    let mut outcome = first(&mut session.store);
    loop {
        match outcome {
            Ok(Outcome::Paused(_)) => {
                if let Some(r) = &running {
                    if r.coord.pause_wanted.swap(false, Ordering::SeqCst) {
                        let state = capture(&session)
                            .and_then(|s| hand_over_listeners(&session.wasi).map(|()| s));
                        let handed_over = state.is_ok();
                        let _ = r.states.send(state);
                        let finish = r.decisions.recv().unwrap_or(false);
                        let r = running.take().unwrap();
                        let result = r.thread.join().unwrap_or(Err("migration thread".into()));
                        if finish && result.is_ok() {
                            r.coord.locations.close();
                            eprintln!("tern: migrated to {}", r.to);
                            return Ok(0);
                        }
                        if handed_over {
                            take_back_listeners(&session.wasi);
                        }
                        session.store.unshare_memory_locations();
                    } else if r.thread.is_finished() {
                        let r = running.take().unwrap();
                        let _ = r.thread.join();
                        session.store.unshare_memory_locations();
                    }
                }
                if running.is_none()
                    && let Some(request) = pending.lock().unwrap().take()
                {
                    running = Some(start(&mut session, request, &module_bytes, &interrupt));
                }
                outcome = session.store.resume();
            }
            end => {
                if let Some(r) = running.take() {
                    r.coord.locations.close();
                    let _ = r.states.send(Err("the program ended".into()));
                    drop(r.decisions);
                    let _ = r.thread.join();
                }
                return match end {
                    Ok(_) => Ok(0),
                    Err(RunError::Exit(code)) => Ok(code as u8),
                    Err(RunError::Trap(trap)) => {
                        eprintln!("error: {trap}");
                        Ok(TRAP_EXIT)
                    }
                    Err(e) => Err(e.into()),
                };
            }
        }
    }
}

/// Stops the paused program's listeners from accepting, keeping them bound, so that a
/// target on this same host can bind their addresses (`tern_wasi`'s `handover.rs`).
pub(super) fn hand_over_listeners(wasi: &Mutex<WasiCtx>) -> Result<(), String> {
    wasi.lock()
        .unwrap_or_else(|e| e.into_inner())
        .stop_listening()
        .map_err(|e| format!("cannot hand the listeners over: {e}"))
}

/// After a failed migration: the listeners accept here again (waiting a little for a
/// target on this host to let go of their addresses).
pub(super) fn take_back_listeners(wasi: &Mutex<WasiCtx>) {
    let mut wasi = wasi.lock().unwrap_or_else(|e| e.into_inner());
    for line in wasi.listen_again(Duration::from_secs(3)) {
        eprintln!("tern: {line}");
    }
}

/// The paused program's canonical state, memory pages left out (they travel apart).
fn capture(session: &Session) -> Result<Snapshot, String> {
    let wasi = session
        .wasi
        .lock()
        .expect("WASI context lock")
        .state()
        .map_err(|e| format!("cannot capture the WASI state: {e}"))?;
    let (state, _) = session.store.capture_borrowed();
    Ok(Snapshot {
        module: session.identity,
        trigger: TriggerInfo::now(trigger_kind::MANUAL, "migration"),
        state,
        wasi: Some(serde_json::to_vec(&wasi).map_err(|e| e.to_string())?),
    })
}

/// Starts the migration thread for `request`; the program keeps running meanwhile.
fn start(
    session: &mut Session,
    request: Request,
    module: &[u8],
    interrupt: &Arc<AtomicBool>,
) -> Running {
    let coord = Arc::new(Coord {
        pause_wanted: AtomicBool::new(false),
        interrupt: interrupt.clone(),
        locations: session.store.share_memory_locations(),
    });
    let (states_tx, states_rx) = channel();
    let (decisions_tx, decisions_rx) = channel();
    let mut program = InterpProgram {
        coord: coord.clone(),
        states: states_rx,
        decisions: decisions_tx,
    };
    let module = module.to_vec();
    let to = request.to.clone();
    let wake = interrupt.clone();
    let thread = std::thread::spawn(move || {
        let result = perform(request, &mut program, module);
        // Let the run loop notice that this thread is done.
        wake.store(true, Ordering::SeqCst);
        result
    });
    Running {
        coord,
        states: states_tx,
        decisions: decisions_rx,
        thread,
        to,
    }
}

/// Runs the migration `request` asks for on this thread, telling the requester (its
/// control connection, or stderr for a trigger) the progress and the result.
pub(super) fn perform(
    request: Request,
    program: &mut dyn Program,
    module: Vec<u8>,
) -> Result<Report, String> {
    let opts = Options {
        module,
        stop_and_copy: request.stop_and_copy,
        shared_fs: request.shared_fs,
        source_name: hostname(),
        ..Options::default()
    };
    let mut reply = request.reply;
    let mut say = |line: &str| match &mut reply {
        Some(s) => {
            let _ = writeln!(s, "{line}");
        }
        None => eprintln!("tern: migrate: {line}"),
    };
    let result = tern_migrate::migrate(&request.to, program, &opts, &mut say);
    let line = match &result {
        Ok(r) => format!(
            "ok downtime {:.2} ms, total {:.1} ms, rounds {}, bytes {}, chunks {} (last {}), tracking {}",
            r.downtime.as_secs_f64() * 1e3,
            r.total.as_secs_f64() * 1e3,
            r.rounds,
            r.bytes,
            r.chunks,
            r.final_chunks,
            r.tracker
        ),
        Err(e) => format!("error {e}"),
    };
    if let Err(e) = &result {
        eprintln!(
            "tern: migration to {} failed, the program continues here: {e}",
            request.to
        );
    }
    say(&line);
    result.map_err(|e| e.to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}
