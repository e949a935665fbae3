//! otip_rproxy's own parsers: a forwarding (`EXTPORT,INTHOST,INTPORT`), an external stack
//! (`stack=,vnl=,iface=`), a `--dns` value, and rc-file text merged under its command line
//! and parsed into options. Nothing may panic; what parses must hold together.
#![no_main]

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};
use ioth_otip::rproxy_cli::RproxyCli;
use ioth_otip::spec::{ExtStack, ForwardSpec};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<ForwardSpec>() {
        Ok(f) => {
            assert!(f.ext_port > 0 && f.int_port > 0 && !f.int_host.is_empty());
            assert_eq!(f.to_string().parse::<ForwardSpec>(), Ok(f));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Ok(e) = text.parse::<ExtStack>() {
        assert!(!e.stack.is_empty() && !e.vnl.is_empty() && !e.iface.is_empty());
    }
    let _ = ioth_otip::lookup::dns_text(text);
    let cmd = RproxyCli::command();
    if let Ok(entries) = ioth_service::rcfile::parse(text, "fuzz.rc") {
        let argv = vec![OsString::from("otip_rproxy")];
        if let Ok(merged) = ioth_service::rcfile::merge_entries(&cmd, &entries, "fuzz.rc", argv)
            && let Ok(m) = cmd.try_get_matches_from(merged)
            && let Ok(cli) = RproxyCli::from_arg_matches(&m)
        {
            let _ = cli.check();
            assert!(cli.timing().is_ok(), "a period clap accepted must make a timing");
        }
    }
});
