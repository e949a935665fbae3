//! Arbitrary text fed to the iothconf parser (both modes): it must never panic, and an error
//! always explains itself.
#![no_main]

use nlconf::iothconf::{Config, Mode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for mode in [Mode::Create, Mode::Running] {
        match Config::parse(text, mode) {
            Ok(cfg) => {
                let _ = cfg.configures_interface();
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
