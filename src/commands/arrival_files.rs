//! `tern serve` writing the open files that travelled with a program under its `--dir`s,
//! and taking them back when the migration is refused after they were written (the WASI
//! rebuild or the state validation fails, or the source does not commit): a refused
//! migration leaves the target's directories as they were.

use anyhow::Context;
use std::path::{Component, Path, PathBuf};
use tern_migrate::Arrival;
use tern_wasi::WasiState;

/// What writing an arrival's files changed, until [`keep`](Self::keep) or
/// [`undo`](Self::undo).
#[derive(Default)]
pub(super) struct Written {
    /// Files that did not exist before.
    created: Vec<PathBuf>,
    /// Files that existed, and where their previous content was moved meanwhile.
    replaced: Vec<(PathBuf, PathBuf)>,
    /// Directories made for them, outermost first.
    dirs: Vec<PathBuf>,
}

impl Written {
    /// The migration went through: the previous contents of replaced files go.
    pub(super) fn keep(self) {
        for (_, backup) in &self.replaced {
            let _ = std::fs::remove_file(backup);
        }
    }

    /// The migration was refused: every file written is removed, every replaced file
    /// gets its previous content back, every directory made is removed again.
    pub(super) fn undo(self) {
        for path in &self.created {
            let _ = std::fs::remove_file(path);
        }
        for (path, backup) in &self.replaced {
            let _ = std::fs::rename(backup, path);
        }
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// Writes `content` to `dest`, remembering what was there.
    fn write(&mut self, dest: &Path, content: &[u8]) -> anyhow::Result<()> {
        if let Some(parent) = dest.parent() {
            let missing: Vec<PathBuf> = parent
                .ancestors()
                .take_while(|d| !d.exists())
                .map(Path::to_path_buf)
                .collect();
            for dir in missing.into_iter().rev() {
                std::fs::create_dir(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                self.dirs.push(dir);
            }
        }
        if dest.exists() {
            let name = dest.file_name().unwrap_or_default().to_string_lossy();
            let backup = dest.with_file_name(format!(
                ".{name}.tern-migrate-{}-{}",
                std::process::id(),
                self.replaced.len()
            ));
            std::fs::rename(dest, &backup)
                .with_context(|| format!("cannot move {} aside", dest.display()))?;
            self.replaced.push((dest.to_path_buf(), backup));
        } else {
            self.created.push(dest.to_path_buf());
        }
        std::fs::write(dest, content).with_context(|| format!("cannot write {}", dest.display()))
    }
}

/// Checks the preopens (every one of the program's must be given by `--dir` under the
/// same guest name) and writes the files that travelled under them; on an error, what
/// was written is taken back.
pub(super) fn restore_files(
    arrival: &Arrival,
    dirs: &[(String, String)],
    shared_fs: bool,
) -> anyhow::Result<Written> {
    let mut written = Written::default();
    match write_all(arrival, dirs, shared_fs, &mut written) {
        Ok(()) => Ok(written),
        Err(e) => {
            written.undo();
            Err(e)
        }
    }
}

fn write_all(
    arrival: &Arrival,
    dirs: &[(String, String)],
    shared_fs: bool,
    written: &mut Written,
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
    if shared_fs {
        return Ok(());
    }
    for file in &arrival.files {
        let host = hosts
            .get(file.preopen as usize)
            .context("a file names a preopen the program does not have")?;
        let rel = Path::new(&file.path);
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            anyhow::bail!("file path `{}` leaves its preopen", file.path);
        }
        written.write(&host.join(rel), &file.content)?;
    }
    Ok(())
}
