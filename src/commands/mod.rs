//! One module per `tern` subcommand.

pub mod checkpoint;
pub mod inspect;
pub mod restore;
pub mod run;
pub mod values;
pub mod wast;

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
