//! `hashaddr NAME`: prints the hash address of NAME (see `ioth_otip::addrtool`).

use std::process::ExitCode;

use clap::Parser;
use ioth_otip::addrtool::{HashaddrCli, run_hashaddr};

fn main() -> ExitCode {
    ioth_service::link_backends!();
    ioth_service::logging::init(false, false, "hashaddr");
    let cli = HashaddrCli::parse();
    match run_hashaddr(&cli) {
        Ok(line) => {
            print!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
