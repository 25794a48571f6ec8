//! One module per `tern` subcommand.

pub mod checkpoint;
pub mod inspect;
pub mod restore;
pub mod run;
pub mod values;
pub mod wast;
