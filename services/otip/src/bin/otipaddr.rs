//! `otipaddr NAME PASSWORD`: prints the current One-Time IP address of NAME (see
//! `ioth_otip::addrtool`).

use std::process::ExitCode;

use clap::Parser;
use ioth_otip::addrtool::{OtipaddrCli, run_otipaddr};

fn main() -> ExitCode {
    ioth_service::link_backends!();
    ioth_service::logging::init(false, false, "otipaddr");
    let cli = OtipaddrCli::parse();
    match run_otipaddr(&cli) {
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
