//! iothnamed's configuration files and queries: any text parses or names its faulty lines;
//! any message that hickory parses gets a decision from the engine, never a panic.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use iothnamed::config::Config;
use iothnamed::engine::Engine;
use iothnamed::zone::{NoLookup, Zone};

const ZONE: &str = "\
dns 10.9.9.9
net local 10.0.0.0/8
net local fc00::/64
net world ::/0
auth accept local
auth error world .err.test
auth static local .test.local
auth static local 10.0.0.0/8
auth hash world .hash.local fc00::
auth hrev world fc00::/64
auth otip local .otip fc01:: pw
auth cache local .
auth fwd local .
static A one.test.local 10.0.0.1
static CNAME a.test.local one.test.local
static CNAME loop.test.local loop.test.local
static TXT one.test.local \"x\" \"y\"
static PTR 10.0.0.1 one.test.local
";

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let c = Config::parse(ZONE, "fuzz").expect("the fuzz zone parses");
        Engine::new(Zone::load(&c, "fuzz", &NoLookup).expect("the fuzz zone loads"))
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    if first & 1 == 0 {
        if let Ok(text) = std::str::from_utf8(rest)
            && let Ok(c) = Config::parse(text, "fuzz")
        {
            let _ = Zone::load(&c, "fuzz", &NoLookup);
        }
    } else if let Ok(m) = hickory_proto::op::Message::from_vec(rest) {
        let client = if first & 2 == 0 { "10.1.2.3" } else { "fc00::9" };
        let now = Duration::from_secs(u64::from(first) * 1000);
        let _ = engine().decide(&m, client.parse().expect("ip"), now);
    }
});
