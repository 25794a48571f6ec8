//! The host side of a restore through clones, independent of the engine: resume the top
//! frame's clone, hand its results to the clone of the frame below as the callee's
//! results, and so on down to the bottom frame, whose results are the invocation's.

use super::Continuations;
use tern_snapshot::Value;

/// How one clone call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CloneOutcome {
    /// The clone returned these results (the engine's own values).
    Returned(Vec<Value>),
    /// A checkpoint was taken inside it: the clone and what it called reported their
    /// frames through the instrumentation ABI and unwound.
    Unwound,
}

/// An engine that has instantiated the main module and then the clones module.
pub trait CloneRunner {
    type Error;
    /// Calls export `export` of the clones instance with `args`.
    fn call_clone(&mut self, export: &str, args: Vec<Value>) -> Result<CloneOutcome, Self::Error>;
}

/// How a resumed invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Resumed {
    /// The bottom frame returned: the invocation's results.
    Finished(Vec<Value>),
    /// A checkpoint was taken while frame `running` was resumed. The new canonical
    /// stack is the given frames `0..running` (not resumed yet, unchanged) under the
    /// frames the unwinding reported.
    Unwound { running: usize },
}

impl Continuations {
    /// Resumes every frame, top first, see [`Resumed`].
    pub fn resume<R: CloneRunner>(&self, runner: &mut R) -> Result<Resumed, R::Error> {
        let mut carried = Vec::new();
        for (i, call) in self.calls.iter().enumerate().rev() {
            let mut args = call.args.clone();
            args.append(&mut carried);
            match runner.call_clone(&call.export, args)? {
                CloneOutcome::Returned(results) => carried = results,
                CloneOutcome::Unwound => return Ok(Resumed::Unwound { running: i }),
            }
        }
        Ok(Resumed::Finished(carried))
    }
}
