//! `tern serve`: receives migrated programs and runs them, one thread per migration.
//!
//! The module travels with the stream (checked against the sha256 in the hello), so a
//! target needs nothing but its `--dir` preopens. A program is restored exactly as
//! `tern restore` restores one — the same module identity check, the same frame and
//! value validation (`Store::restore_with_memories` shares `restore_with`'s checks), the
//! same WASI rebuild — and only then is "running" sent; the program runs once the
//! source commits (without the commit it is discarded and the files it brought are taken
//! back: `arrival_files.rs`). Its stdout/stderr are serve's. Two log lines per migration
//! go to serve's stderr: when the program starts running (with the restore time) and when
//! it ends (or one when the migration is refused).
//!
//! `--engine` chooses the engine arrivals run on, whatever engine sent them: `fast`
//! (the default; `fast_arrival.rs` restores them, writing pre-copy pages straight into
//! the instance's memories) or `interp`.

use super::arrival_files::{Written, restore_files};
use super::checkpoint::Session;
use super::engine::{Engine, EngineArgs};
use anyhow::Context;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_interp::{Config, Linker, Module, Store};
use tern_migrate::{Arrival, Incoming};
use tern_wasi::{WasiCtxBuilder, WasiState, add_to_linker};

/// Receive migrated programs and run them.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (e.g. `0.0.0.0:7070`; port 0 picks one, printed on stderr).
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// Directories migrated programs may use, by their guest name: every preopen of an
    /// arriving program must be given here, or the migration is refused.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Give every arriving program a control socket `DIR/migration-N.sock`, so that
    /// `tern migrate` can move it on again (N counts this serve's migrations from 1).
    #[arg(long, value_name = "DIR")]
    control_dir: Option<PathBuf>,
    /// Exit after this many migrations have ended (for tests and scripts).
    #[arg(long, value_name = "N")]
    max_migrations: Option<u64>,
    /// Engine arriving programs run on: `fast` (the default; a module the fast engine
    /// does not take runs on the interpreter) or `interp`.
    #[arg(long, value_enum, value_name = "ENGINE")]
    engine: Option<Engine>,
}

/// How long a target waits for the source's commit after telling it the program is
/// restored.
const COMMIT_WAIT: Duration = Duration::from_secs(10);

/// The engine arrivals run on, and whether it was chosen explicitly.
type Choice = super::engine::Choice;

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let choice = EngineArgs {
        engine: args.engine,
    }
    .choose(None)?;
    let listener = TcpListener::bind(&args.listen)
        .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
    eprintln!("tern serve: listening on {}", listener.local_addr()?);
    let dirs: Arc<Vec<(String, String)>> = Arc::new(
        args.dirs
            .iter()
            .map(|d| {
                let (h, g) = d.split_once("::").unwrap_or((d, d));
                (h.to_string(), g.to_string())
            })
            .collect(),
    );
    let mut threads = Vec::new();
    let mut accepted = 0u64;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        accepted += 1;
        threads.retain(|t: &std::thread::JoinHandle<()>| !t.is_finished());
        let dirs = dirs.clone();
        let control =
            (args.control_dir.as_ref()).map(|d| d.join(format!("migration-{accepted}.sock")));
        threads.push(std::thread::spawn(move || {
            serve_one(conn, &dirs, control, choice);
        }));
        if args.max_migrations.is_some_and(|n| accepted >= n) {
            break;
        }
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(ExitCode::SUCCESS)
}

fn serve_one(conn: TcpStream, dirs: &[(String, String)], control: Option<PathBuf>, choice: Choice) {
    let peer = conn
        .peer_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    let incoming = match tern_migrate::accept_hello(conn, Duration::from_secs(30)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("tern serve: migration from {peer}: refused: {e}");
            return;
        }
    };
    let from = format!("{} ({})", incoming.peer, incoming.source_name);
    match receive(incoming, dirs, choice) {
        Ok((restored, arrival, timing)) => {
            let clones = timing
                .clones_ms
                .map_or(String::new(), |ms| format!(" (clones {ms:.2} ms)"));
            // Now, not only at the end: a program may run for a long time here.
            eprintln!(
                "tern serve: migration from {from}: running, restored in {:.2} ms{clones}",
                timing.restore_ms
            );
            let status = match finish(restored, control) {
                Ok(code) => format!("exit status {code}"),
                Err(e) => format!("failed: {e}"),
            };
            eprintln!(
                "tern serve: migration from {from}: {} rounds, {} bytes, restore {:.2} ms{clones}, {status}",
                arrival.rounds, arrival.bytes, timing.restore_ms
            );
        }
        Err(e) => eprintln!("tern serve: migration from {from}: refused: {e:#}"),
    }
}

/// How long the restore after the final state took, and of that the fast tier's
/// continuation clones.
struct Timing {
    restore_ms: f64,
    clones_ms: Option<f64>,
}

/// A restored arrival, about to run.
enum Restored {
    Interp(Session),
    #[cfg(feature = "fast")]
    Fast(super::fast::Program, tern_fast::FastInstance, Vec<u8>),
}

/// Receives and restores; on any error the source is told (and resumes its program).
fn receive(
    incoming: Incoming,
    dirs: &[(String, String)],
    choice: Choice,
) -> anyhow::Result<(Restored, Arrival, Timing)> {
    #[cfg(feature = "fast")]
    if choice.engine == Engine::Fast {
        match super::migrate_fast::load_arrival(&incoming.module, choice.explicit) {
            Ok(Some(module)) => {
                let shared_fs = incoming.shared_fs;
                let wasm = incoming.module.clone();
                // Instantiated now, so that pre-copy writes into the memories it runs on.
                let mut sink = match super::fast_arrival::stage(&module) {
                    Ok(sink) => sink,
                    Err(e) => {
                        incoming.refuse(&format!("{e:#}"));
                        return Err(e);
                    }
                };
                let mut arrival = incoming.receive_into(&mut sink)?;
                let started = Instant::now();
                let flag = sink.0.interrupt_flag();
                let written = files_or_refuse(&mut arrival, dirs, shared_fs)?;
                let restored = wasi_for(&arrival, dirs, Some(flag)).and_then(|wasi| {
                    super::fast_arrival::finish(module, sink, &arrival.snapshot, wasi)
                });
                let (program, instance, clones) = match restored {
                    Ok(r) => r,
                    Err(e) => {
                        written.undo();
                        arrival.refuse(&format!("{e:#}"));
                        return Err(e);
                    }
                };
                let timing = Timing {
                    restore_ms: started.elapsed().as_secs_f64() * 1e3,
                    clones_ms: Some(clones.as_secs_f64() * 1e3),
                };
                commit(&mut arrival, written)?;
                return Ok((Restored::Fast(program, instance, wasm), arrival, timing));
            }
            Ok(None) => {}
            Err(e) => {
                incoming.refuse(&format!("{e:#}"));
                return Err(e);
            }
        }
    }
    let _ = choice;
    let config = Config::default();
    let module = match Module::new(&config, &incoming.module) {
        Ok(m) => m,
        Err(e) => {
            incoming.refuse(&format!("the module does not compile: {e}"));
            anyhow::bail!("the module does not compile: {e}");
        }
    };
    let shared_fs = incoming.shared_fs;
    let mut arrival = incoming.receive()?;
    let started = Instant::now();
    let written = files_or_refuse(&mut arrival, dirs, shared_fs)?;
    match restore(&config, &module, &mut arrival, dirs) {
        Ok(session) => {
            let timing = Timing {
                restore_ms: started.elapsed().as_secs_f64() * 1e3,
                clones_ms: None,
            };
            commit(&mut arrival, written)?;
            Ok((Restored::Interp(session), arrival, timing))
        }
        Err(e) => {
            written.undo();
            arrival.refuse(&format!("{e:#}"));
            Err(e)
        }
    }
}

/// Writes the arrival's files (see `arrival_files.rs`); refuses the migration if that
/// fails.
fn files_or_refuse(
    arrival: &mut Arrival,
    dirs: &[(String, String)],
    shared_fs: bool,
) -> anyhow::Result<Written> {
    restore_files(arrival, dirs, shared_fs).inspect_err(|e| arrival.refuse(&format!("{e:#}")))
}

/// Tells the source the program is restored and waits for its commit; without it the
/// files written are taken back and the program is not run (the caller drops it).
fn commit(arrival: &mut Arrival, written: Written) -> anyhow::Result<()> {
    match arrival.confirm(COMMIT_WAIT) {
        Ok(()) => {
            written.keep();
            Ok(())
        }
        Err(e) => {
            written.undo();
            anyhow::bail!("the source did not commit, the program is discarded: {e}")
        }
    }
}

/// The arrival's WASI context rebuilt on this host's `--dir`s (the interpreter passes
/// its interrupt flag; the fast engine takes the context's own).
fn wasi_for(
    arrival: &Arrival,
    dirs: &[(String, String)],
    interrupt: Option<Arc<std::sync::atomic::AtomicBool>>,
) -> anyhow::Result<tern_wasi::WasiCtx> {
    let wasi_bytes = arrival.snapshot.wasi.as_deref().unwrap_or(b"null");
    let state: Option<WasiState> =
        serde_json::from_slice(wasi_bytes).context("the WASI state does not decode")?;
    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stdio();
    if let Some(flag) = interrupt {
        builder.interrupt_flag(flag);
    }
    for (host, guest) in dirs {
        builder.preopened_dir(host, guest.as_str());
    }
    match &state {
        Some(state) => builder.rebuild(state),
        None => builder.build(),
    }
    .map_err(|e| anyhow::anyhow!("cannot restore the WASI state: {e}"))
}

fn restore(
    config: &Config,
    module: &Module,
    arrival: &mut Arrival,
    dirs: &[(String, String)],
) -> anyhow::Result<Session> {
    arrival
        .snapshot
        .module
        .verify(module.bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut store = Store::new(config);
    let wasi = wasi_for(arrival, dirs, Some(store.interrupt_handle()))?;
    let wasi = Arc::new(Mutex::new(wasi));
    let mut linker = Linker::new();
    add_to_linker(&mut linker, wasi.clone());
    let instance = linker
        .instantiate_for_restore(&mut store, module)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let memories = std::mem::take(&mut arrival.memories);
    let snapshot = &arrival.snapshot;
    store
        .restore_with_memories(&snapshot.state, memories)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Session {
        store,
        instance,
        module: module.clone(),
        identity: snapshot.module,
        instructions_before: None,
        wasi,
        print_results: false,
        tracer: None,
    })
}

/// Runs the restored program to its end (or until it moves on); its exit status.
fn finish(restored: Restored, control: Option<PathBuf>) -> anyhow::Result<u8> {
    let args = super::migrate::ControlArgs {
        control: control.map(super::control::Endpoint::Unix),
        ..Default::default()
    };
    match restored {
        Restored::Interp(session) => {
            let module = session.module.bytes().to_vec();
            super::migrate::drive_status(session, &args, module, Store::resume)
        }
        #[cfg(feature = "fast")]
        Restored::Fast(program, instance, module) => {
            let start = super::fast::Start::Resume;
            super::migrate_fast::drive(&program, instance, start, &args, module)
        }
    }
}
