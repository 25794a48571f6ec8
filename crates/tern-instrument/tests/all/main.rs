//! The one integration-test binary of tern-instrument: instrumented modules run on tern's
//! interpreter, checkpointed through the cold path, restored from the reported frames on
//! the original module.

mod clones;
mod clones_smith;
mod harness;
mod real;
mod reclone;
mod wat_cases;
