//! `tern serve`: receives migrated programs and runs them, one thread per migration.
//!
//! The module travels with the stream (checked against the sha256 in the hello), so a
//! target needs nothing but its `--dir` preopens. A program is restored exactly as
//! `tern restore` restores one — the same module identity check, the same frame and
//! value validation (`Store::restore_with_memories` shares `restore_with`'s checks), the
//! same WASI rebuild — and only then is "running" sent and the program run. Its
//! stdout/stderr are serve's. One log line per migration goes to serve's stderr.
//!
//! `--engine` chooses the engine arrivals run on, whatever engine sent them: `fast`
//! (the default; `migrate_fast.rs` restores them) or `interp`.

use super::checkpoint::Session;
use super::engine::{Engine, EngineArgs};
use anyhow::Context;
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
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
            let status = match finish(restored, control) {
                Ok(code) => format!("exit status {code}"),
                Err(e) => format!("failed: {e}"),
            };
            let clones = timing
                .clones_ms
                .map_or(String::new(), |ms| format!(" (clones {ms:.2} ms)"));
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
                let restored = restore_files(&arrival, dirs, shared_fs)
                    .and_then(|_| wasi_for(&arrival, dirs, Some(flag)))
                    .and_then(|wasi| {
                        super::fast_arrival::finish(module, sink, &arrival.snapshot, wasi)
                    });
                return match restored {
                    Ok((program, instance, clones)) => {
                        arrival.confirm()?;
                        let ms = started.elapsed().as_secs_f64() * 1e3;
                        let timing = Timing {
                            restore_ms: ms,
                            clones_ms: Some(clones.as_secs_f64() * 1e3),
                        };
                        Ok((Restored::Fast(program, instance, wasm), arrival, timing))
                    }
                    Err(e) => {
                        arrival.refuse(&format!("{e:#}"));
                        Err(e)
                    }
                };
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
    match restore(&config, &module, &mut arrival, dirs, shared_fs) {
        Ok(session) => {
            arrival.confirm()?;
            let timing = Timing {
                restore_ms: started.elapsed().as_secs_f64() * 1e3,
                clones_ms: None,
            };
            Ok((Restored::Interp(session), arrival, timing))
        }
        Err(e) => {
            arrival.refuse(&format!("{e:#}"));
            Err(e)
        }
    }
}

/// Checks the preopens (every one of the program's must be given by `--dir` under the
/// same guest name) and writes the files that travelled under them.
fn restore_files(
    arrival: &Arrival,
    dirs: &[(String, String)],
    shared_fs: bool,
) -> anyhow::Result<()> {
    let wasi_bytes = arrival.snapshot.wasi.as_deref().unwrap_or(b"null");
    let state: Option<WasiState> =
        serde_json::from_slice(wasi_bytes).context("the WASI state does not decode")?;
    let mut hosts = Vec::new();
    if let Some(state) = &state {
        for p in &state.preopens {
            let host = dirs
                .iter()
                .find(|(_, g)| *g == p.guest_path)
                .map(|(h, _)| PathBuf::from(h))
                .with_context(|| {
                    format!(
                        "missing preopen: this host has no --dir for `{}`",
                        p.guest_path
                    )
                })?;
            hosts.push(host);
        }
    }
    if !shared_fs {
        for file in &arrival.files {
            let host = hosts
                .get(file.preopen as usize)
                .context("a file names a preopen the program does not have")?;
            let rel = Path::new(&file.path);
            if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
                anyhow::bail!("file path `{}` leaves its preopen", file.path);
            }
            let dest = host.join(rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&dest, &file.content)
                .with_context(|| format!("cannot write {}", dest.display()))?;
        }
    }
    Ok(())
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
    shared_fs: bool,
) -> anyhow::Result<Session> {
    arrival
        .snapshot
        .module
        .verify(module.bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    restore_files(arrival, dirs, shared_fs)?;
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
        control,
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
