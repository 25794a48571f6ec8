//! The `tern` command.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod commands;

#[derive(Parser)]
#[command(
    name = "tern",
    version,
    about = "A WebAssembly runtime whose programs can be checkpointed, restored and migrated"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Run(commands::run::RunArgs),
    Restore(commands::restore::RestoreArgs),
    Inspect(commands::inspect::InspectArgs),
    Wast(commands::wast::WastArgs),
    #[cfg(not(target_os = "wasi"))]
    Serve(commands::serve::ServeArgs),
    #[cfg(not(target_os = "wasi"))]
    Migrate(commands::migrate::MigrateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Restore(args) => commands::restore::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Wast(args) => commands::wast::run(args),
        #[cfg(not(target_os = "wasi"))]
        Command::Serve(args) => commands::serve::run(args),
        #[cfg(not(target_os = "wasi"))]
        Command::Migrate(args) => commands::migrate::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.is::<commands::engine::UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
