//! Running a restored program: `tern_instrument`'s `Continuations::resume` drives the
//! continuation clones through [`CloneRunner`] on wasmtime — the top frame's clone
//! first, its results feed the clone of the frame below, down to the bottom frame,
//! whose results are the invocation's. A checkpoint requested meanwhile unwinds the
//! clones (and whatever they called) through the same ABI as a normal run; the capture
//! then stacks the frames not resumed yet under the ones reported.

use crate::error::Error;
use crate::instance::{FastInstance, Outcome, RunError, run_error};
use std::time::{Duration, Instant};
use tern_instrument::UNWINDING_OFFSET;
use tern_instrument::clone::{CloneOutcome, CloneRunner, Continuations, ResumeCollector, Resumed};
use tern_snapshot::{Frame, Value};
use wasmtime::{Instance, Val};

/// How long the phases of a restore took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreTiming {
    /// From the start of [`FastInstance::restore`] to the first clone being called.
    pub to_first_clone: Duration,
}

/// A restored program's clones and the frames they continue.
pub(crate) struct Resume {
    conts: Continuations,
    clones: Instance,
    /// The snapshot's frames, bottom first.
    frames: Vec<Frame>,
    started: Instant,
    /// Set when the resumed run unwound while frame `running` was resumed.
    pub running: Option<usize>,
}

impl Resume {
    pub fn new(
        conts: Continuations,
        clones: Instance,
        frames: Vec<Frame>,
        started: Instant,
    ) -> Resume {
        Resume {
            conts,
            clones,
            frames,
            started,
            running: None,
        }
    }

    /// The frames of a resumed run that unwound: the saved frames not resumed yet under
    /// the ones the unwinding reported.
    pub fn frames(
        &self,
        collector: ResumeCollector,
        main: &tern_instrument::InstrumentMap,
    ) -> Result<Vec<Frame>, Error> {
        let running = self
            .running
            .ok_or_else(|| Error::Capture("the restored program has not unwound".into()))?;
        let map = self
            .conts
            .map
            .as_ref()
            .ok_or_else(|| Error::Capture("internal error: clones without a map".into()))?;
        let reported = collector
            .finish(main, map, 0)
            .map_err(|e| Error::Capture(e.to_string()))?;
        let mut frames = self.frames[..running].to_vec();
        frames.extend(reported);
        Ok(frames)
    }
}

struct Runner<'a> {
    instance: &'a mut FastInstance,
    clones: Instance,
    started: Instant,
    timing: Option<RestoreTiming>,
}

impl CloneRunner for Runner<'_> {
    type Error = RunError;

    fn call_clone(&mut self, export: &str, args: Vec<Value>) -> Result<CloneOutcome, RunError> {
        let inst = &mut *self.instance;
        let func = self
            .clones
            .get_func(&mut inst.store, export)
            .ok_or_else(|| {
                RunError::Fatal(Error::Restore(format!("clone `{export}` is missing")))
            })?;
        let params = args
            .iter()
            .map(|v| inst.wasm_value(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RunError::Fatal)?;
        let mut results = vec![Val::I32(0); func.ty(&inst.store).results().len()];
        if self.timing.is_none() {
            self.timing = Some(RestoreTiming {
                to_first_clone: self.started.elapsed(),
            });
        }
        func.call(&mut inst.store, &params, &mut results)
            .map_err(|e| run_error(e, &inst.module.module))?;
        if inst.read_word(UNWINDING_OFFSET) != 0 {
            return Ok(CloneOutcome::Unwound);
        }
        let values = results
            .into_iter()
            .map(|v| inst.value_of(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RunError::Fatal)?;
        Ok(CloneOutcome::Returned(values))
    }
}

impl FastInstance {
    /// Runs a restored program ([`FastInstance::restore`]) from its saved frames to the
    /// end of the invocation that was checkpointed: `Finished` with that invocation's
    /// results, or `Unwound` when a checkpoint was requested again (then
    /// [`FastInstance::capture`] it, with the original pcs, as after `invoke`).
    pub fn resume(&mut self) -> Result<Outcome, RunError> {
        let Some(mut resume) = self.resume.take() else {
            return Err(RunError::Fatal(Error::Restore(
                "nothing to resume: the instance was not restored or has been resumed".into(),
            )));
        };
        if self.unwound {
            self.resume = Some(resume);
            return Err(RunError::Fatal(Error::Capture(
                "the program has unwound for a checkpoint; restore it to continue".into(),
            )));
        }
        self.write_word(UNWINDING_OFFSET, 0);
        self.checkpoint_handle().shared.sync_word();
        self.store.data_mut().resuming = Some(ResumeCollector::new());
        let mut runner = Runner {
            instance: self,
            clones: resume.clones,
            started: resume.started,
            timing: None,
        };
        let result = resume.conts.resume(&mut runner);
        let timing = runner.timing;
        self.timing = timing;
        match result {
            Ok(Resumed::Finished(results)) => {
                self.store.data_mut().resuming = None;
                Ok(Outcome::Finished(results))
            }
            Ok(Resumed::Unwound { running }) => {
                resume.running = Some(running);
                self.resume = Some(resume);
                self.unwound = true;
                Ok(Outcome::Unwound)
            }
            Err(e) => {
                self.store.data_mut().resuming = None;
                Err(e)
            }
        }
    }

    /// How long the last restore took to reach its first clone, once
    /// [`FastInstance::resume`] has run.
    pub fn restore_timing(&self) -> Option<RestoreTiming> {
        self.timing
    }
}
