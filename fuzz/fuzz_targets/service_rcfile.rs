//! The services' rc files: any text parses into entries or an error naming a line, and
//! merging under a command line never panics.
#![no_main]

use std::ffi::OsString;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(entries) = ioth_service::rcfile::parse(text, "fuzz") {
        let cmd = clap::Command::new("t")
            .args_override_self(true)
            .arg(clap::Arg::new("a").long("a"))
            .arg(clap::Arg::new("n").long("n").value_parser(clap::value_parser!(u16)))
            .arg(clap::Arg::new("f").long("f").action(clap::ArgAction::SetTrue));
        let _ = ioth_service::rcfile::merge_entries(&cmd, &entries, "fuzz", vec![OsString::from("t")]);
    }
});
