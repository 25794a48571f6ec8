//! `--trace` and its options, shared by `tern run` and `tern restore`: they build the
//! [`Tracer`] that `interp_run::drive` runs the program through.

use anyhow::Context;
use std::path::{Path, PathBuf};
use tern_interp::Module;
use tern_trace::{TraceOptions, Tracer};

/// Execution tracing (interpreter): one JSON line per executed instruction.
#[derive(clap::Args, Debug, Default)]
pub struct TraceArgs {
    /// Trace the program: one JSON line per instruction (see docs/tracing.md).
    #[arg(long)]
    pub trace: bool,
    /// Which instructions: `all`, or some of call, return, branch, load, store, local,
    /// global, memory, table, other (comma-separated).
    #[arg(long, value_name = "KINDS", requires = "trace")]
    pub trace_events: Option<String>,
    /// What each event carries: `all`, or some of pc, stack, locals, globals, memory
    /// (comma-separated; default pc,memory).
    #[arg(long, value_name = "PARTS", requires = "trace")]
    pub trace_resource: Option<String>,
    /// Write the trace to FILE (default: stderr).
    #[arg(long, value_name = "FILE", requires = "trace")]
    pub trace_output: Option<PathBuf>,
    /// Only instructions of these functions: names or indices, comma-separated.
    #[arg(long, value_name = "NAMES", requires = "trace")]
    pub trace_functions: Option<String>,
    /// Stop tracing after N events; the program runs on untraced.
    #[arg(long, value_name = "N", requires = "trace")]
    pub trace_limit: Option<u64>,
}

impl TraceArgs {
    /// The tracer of `tern restore` from `snapshot`: it numbers instructions on from the
    /// trace the snapshot ends (its `trace` section), or else from the snapshot's
    /// instruction count.
    pub fn restore_tracer(
        &self,
        module: &Module,
        snapshot: &Path,
        instructions: Option<u64>,
    ) -> anyhow::Result<Option<Tracer>> {
        if !self.trace {
            return Ok(None);
        }
        // The file was checked whole by the restore; the section is informational, so
        // one that does not decode just leaves the count to the trigger.
        let tail = std::fs::read(snapshot)
            .ok()
            .and_then(|bytes| tern_snapshot::trace_tail(&bytes).ok().flatten());
        let first = tail.map(|t| t.next).or(instructions).unwrap_or(0);
        self.tracer(module, first)
    }

    /// The tracer the options ask for (`None` without `--trace`), numbering
    /// instructions from `first`.
    pub fn tracer(&self, module: &Module, first: u64) -> anyhow::Result<Option<Tracer>> {
        if !self.trace {
            return Ok(None);
        }
        let mut options = TraceOptions::default();
        if let Some(text) = &self.trace_events {
            options.events = TraceOptions::parse_events(text)?;
        }
        if let Some(text) = &self.trace_resource {
            options.resources = TraceOptions::parse_resources(text)?;
        }
        if let Some(text) = &self.trace_functions {
            options.functions = Some(TraceOptions::parse_functions(text, module)?);
        }
        options.limit = self.trace_limit;
        let out: Box<dyn std::io::Write> = match &self.trace_output {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("--trace-output {}", path.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stderr())),
        };
        Ok(Some(Tracer::new(options, out, first)))
    }
}
