//! The `tern` command's library half: what the subcommands share with the test suites.

pub mod wast;
