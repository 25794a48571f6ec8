//! `tern wast FILE...`: run spec-format scripts and report per-file counts.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use tern::wast::{WastOptions, run_wast};

/// Run `.wast` scripts (the spec test format) and report pass/fail counts per file.
#[derive(clap::Args)]
pub struct WastArgs {
    /// Scripts to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Pause every N instructions, snapshot the whole store to bytes, restore it into a
    /// fresh store and go on.
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<u64>,
}

pub fn run(args: WastArgs) -> anyhow::Result<ExitCode> {
    let options = WastOptions {
        checkpoint_every: args.checkpoint_every,
        ..WastOptions::default()
    };
    let mut all_passed = true;
    for path in &args.files {
        let source = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let report =
            run_wast(&source, &options).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut text = String::new();
        for (line, message) in &report.failures {
            text += &format!("{}:{line}: {message}\n", path.display());
        }
        text += &format!(
            "{}: {} passed, {} failed\n",
            path.display(),
            report.passed,
            report.failures.len()
        );
        super::print_stdout(&text)?;
        all_passed &= report.failures.is_empty();
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
