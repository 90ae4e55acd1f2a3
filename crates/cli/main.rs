//! The `ferry` command line: parses arguments, runs the command, maps the outcome to an exit
//! code. Everything else lives in the modules below and in the libraries.

mod args;
mod commands;
mod copy;
mod download;
mod exit;
mod output;
mod tree;
mod upload;
mod uploads;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    exit::init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferry: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
