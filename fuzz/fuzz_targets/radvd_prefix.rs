//! iothradvd's prefix specifications (`addr/len/flags/valid/preferred`, from the command line
//! and rc files): any text parses or is refused, and what parses is valid and prints to a
//! form that parses back to it; the advertisement holding it parses back too.
#![no_main]

use iothradvd::PrefixSpec;
use nlconf::ndisc::RouterAdvert;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = PrefixSpec::parse(text) {
        assert!(p.len <= 128 && p.preferred <= p.valid);
        assert_eq!(PrefixSpec::parse(&p.to_string()), Ok(p.clone()));
        let mut advert = iothradvd::Advert::new(600);
        advert.prefixes.push(p.clone());
        let ra = RouterAdvert::parse(&advert.message(None).emit()).expect("our own message");
        assert_eq!(ra.prefixes, vec![p.option()]);
    }
});
