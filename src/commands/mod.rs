//! One module per `tern` subcommand.

pub mod run;
pub mod values;
pub mod wast;
