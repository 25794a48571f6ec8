//! One module per `tern` subcommand.

#[cfg(not(target_os = "wasi"))]
mod arrival_files;
pub mod checkpoint;
#[cfg(not(target_os = "wasi"))]
pub mod control;
mod drive;
pub mod engine;
#[cfg(feature = "fast")]
pub mod fast;
#[cfg(all(feature = "fast", not(target_os = "wasi")))]
mod fast_arrival;
pub mod inspect;
mod interp_run;
#[cfg(not(target_os = "wasi"))]
pub mod migrate;
#[cfg(all(feature = "fast", not(target_os = "wasi")))]
pub mod migrate_fast;
pub mod restore;
pub mod run;
#[cfg(not(target_os = "wasi"))]
pub mod serve;
pub mod trace;
pub mod values;
pub mod wast;

/// Preopens every `--dir HOST[::GUEST]` (GUEST defaults to HOST) in `builder`.
pub fn preopen_dirs(builder: &mut tern_wasi::WasiCtxBuilder, dirs: &[String]) {
    for dir in dirs {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        builder.preopened_dir(host, guest);
    }
}

/// Writes `text` to stdout. A closed pipe (`tern inspect X | head`) is not an error:
/// the reader has what it wanted.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
