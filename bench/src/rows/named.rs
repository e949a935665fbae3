//! `named_qps`: dnsperf in a kernel namespace, through a real `vde_switch -x`, to iothnamed
//! on our smoltcp stack, three ways, each against the reference the issue names, in one run:
//!
//! - `named_qps.static`: static answers; reference NSD serving the same names;
//! - `named_qps.hash`: hash-address answers (AAAA under a `hash` domain); reference NSD
//!   serving the same addresses as static records;
//! - `named_qps.cache`: cache hits (iothnamed forwarding to NSD and caching); reference
//!   unbound forwarding to the same NSD, from its cache.

use std::io;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use crate::Ctx;
use crate::fixture::wait_until;
use crate::peers::{ChildGuard, Netns, TapPlug, TempDir, VdeSwitch, missing};
use crate::report::{Better, Row, Samples};
use crate::rows::dns::{Nsd, dnsperf_with};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 79, 1, 1);
const NAMED: Ipv4Addr = Ipv4Addr::new(10, 79, 1, 2);
const NSD: Ipv4Addr = Ipv4Addr::new(10, 79, 1, 3);
const UNBOUND: Ipv4Addr = Ipv4Addr::new(10, 79, 1, 4);

const HASH_BASE: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0);
const HASHED: [&str; 4] = ["h1", "h2", "h3", "h4"];

const STATIC_QUERIES: &str =
    "www.bench.test A\nwww.bench.test AAAA\nmail.bench.test A\nbench.test MX\n";
const CACHE_QUERIES: &str =
    "www.up.bench.test A\nwww.up.bench.test AAAA\nmail.up.bench.test A\nup.bench.test MX\n";

fn hash_queries() -> String {
    HASHED
        .iter()
        .map(|h| format!("{h}.hash.bench.test AAAA\n"))
        .collect()
}

fn hashed(h: &str) -> std::net::Ipv6Addr {
    nlconf::hashaddr::hashaddr(HASH_BASE, &format!("{h}.hash.bench.test"), None, 0)
}

/// NSD's zone: the static names, the hash names as static AAAA, and the `up` names that
/// the forwarders cache.
fn nsd_zone() -> String {
    let mut z = String::from(
        "$ORIGIN bench.test.\n$TTL 3600\n@ IN SOA ns admin 1 3600 600 86400 60\n@ IN NS ns\n\
         ns IN A 10.79.1.3\nwww IN A 10.0.0.80\nwww IN AAAA fc00::80\nmail IN A 10.0.0.25\n\
         @ IN MX 10 mail\nwww.up IN A 10.0.1.80\nwww.up IN AAAA fc00::1:80\n\
         mail.up IN A 10.0.1.25\nup IN MX 10 mail.up\n",
    );
    for h in HASHED {
        z.push_str(&format!("{h}.hash IN AAAA {}\n", hashed(h)));
    }
    z
}

fn named_config(vnl: &str) -> String {
    format!(
        "stack stack=smoltcp,vnl={vnl}\nstack eth,ip={NAMED}/24\ndns {NSD}\nnet world ::/0\n\
         auth cache world .up.bench.test\nauth fwd world .up.bench.test\n\
         auth hash world .hash.bench.test {HASH_BASE}\n\
         auth static world .bench.test\nauth static world bench.test\n\
         static A www.bench.test 10.0.0.80\nstatic AAAA www.bench.test fc00::80\n\
         static A mail.bench.test 10.0.0.25\nstatic MX bench.test 10 mail.bench.test\n\
         option hashttl 3600\n"
    )
}

/// unbound in `ns` on `addr`, forwarding `bench.test` to NSD, one thread.
struct Unbound {
    _child: ChildGuard,
}

impl Unbound {
    fn start(ns: &Netns, dir: &Path, addr: Ipv4Addr) -> io::Result<Unbound> {
        std::fs::create_dir_all(dir)?;
        let d = dir.display();
        let conf = format!(
            "server:\n  interface: {addr}\n  port: 53\n  num-threads: 1\n  access-control: 10.0.0.0/8 allow\n  \
             do-not-query-localhost: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  \
             pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  \
             module-config: \"iterator\"\n  do-ip6: no\n  local-zone: \"test.\" nodefault\n  \
             domain-insecure: \"bench.test\"\nforward-zone:\n  name: \"bench.test\"\n  forward-addr: {NSD}\n"
        );
        std::fs::write(dir.join("unbound.conf"), conf)?;
        let mut cmd = ns.command(Path::new("unbound"));
        cmd.arg("-d").arg("-c").arg(dir.join("unbound.conf"));
        let child = ChildGuard::spawn(cmd, "unbound")?;
        let log = dir.join("unbound.log");
        let started = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("start of service"))
        });
        if !started {
            return Err(io::Error::other(format!(
                "unbound did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )));
        }
        Ok(Unbound { _child: child })
    }
}

struct Setup {
    // Field order is drop order: servers and plugs before namespaces, the switch, the dir.
    named: iothnamed::Handle,
    _unbound: Unbound,
    _nsd: Nsd,
    _plugs: Vec<TapPlug>,
    client: Netns,
    _others: Vec<Netns>,
    _sw: VdeSwitch,
    dir: TempDir,
}

fn setup() -> io::Result<Setup> {
    let dir = TempDir::new("named")?;
    let sw = VdeSwitch::start(&dir.0.join("sw"))?;
    let client = Netns::new()?;
    let nsd_ns = Netns::new()?;
    let unbound_ns = Netns::new()?;
    let plugs = vec![
        TapPlug::start(&client, &sw.vnl(), "tap0", &format!("{CLIENT}/24"))?,
        TapPlug::start(&nsd_ns, &sw.vnl(), "tap0", &format!("{NSD}/24"))?,
        TapPlug::start(&unbound_ns, &sw.vnl(), "tap0", &format!("{UNBOUND}/24"))?,
    ];
    let nsd = Nsd::start_with(&nsd_ns, &dir.0.join("nsd"), NSD, &nsd_zone())?;
    let unbound = Unbound::start(&unbound_ns, &dir.0.join("unbound"), UNBOUND)?;
    let _ = ioth_smoltcp::NAME;
    let named = iothnamed::spawn(iothnamed::Settings::new(
        named_config(&sw.vnl()),
        "bench.rc",
    ))
    .map_err(io::Error::from)?;
    Ok(Setup {
        named,
        _unbound: unbound,
        _nsd: nsd,
        _plugs: plugs,
        client,
        _others: vec![nsd_ns, unbound_ns],
        _sw: sw,
        dir,
    })
}

/// `named_qps`.
pub(crate) fn qps(ctx: &Ctx) -> Vec<Row> {
    const UNIT: &str = "queries/s";
    let names = ["named_qps.static", "named_qps.hash", "named_qps.cache"];
    let skip = |why: String| -> Vec<Row> {
        names
            .iter()
            .map(|n| Row::skipped(n, UNIT, why.clone()))
            .collect()
    };
    if let Some(why) = missing(&["vde_switch", "vde_plug", "ip", "dnsperf", "nsd", "unbound"]) {
        return skip(why);
    }
    let s = match setup() {
        Ok(s) => s,
        Err(e) => return skip(format!("setup: {e}")),
    };
    let hash = hash_queries();
    let cases: [(&str, &str, Ipv4Addr, &str); 3] = [
        (
            STATIC_QUERIES,
            "static answers; reference: NSD serving the same names",
            NSD,
            "NSD",
        ),
        (
            &hash,
            "hash answers (AAAA under .hash.bench.test); reference: NSD serving the same addresses as static AAAA",
            NSD,
            "NSD",
        ),
        (
            CACHE_QUERIES,
            "cache hits (iothnamed forwarding to NSD, `auth cache`); reference: unbound 1 thread forwarding to the same NSD, from its cache",
            UNBOUND,
            "unbound",
        ),
    ];
    let mut rows = Vec::new();
    for (i, (queries, what, reference, ref_name)) in cases.into_iter().enumerate() {
        let (mut o, mut r, mut errors) = (Samples::default(), Samples::default(), Vec::new());
        for _ in 0..ctx.repeats {
            match dnsperf_with(&s.client, &s.dir.0, NAMED, ctx.secs, queries) {
                Ok(v) => o.0.push(v),
                Err(e) => errors.push(format!("ours: {e}")),
            }
            match dnsperf_with(&s.client, &s.dir.0, reference, ctx.secs, queries) {
                Ok(v) => r.0.push(v),
                Err(e) => errors.push(format!("{ref_name}: {e}")),
            }
        }
        let tail = if errors.is_empty() {
            String::new()
        } else {
            format!("; errors: {}", errors.join(", "))
        };
        rows.push(Row::new(
            names[i],
            UNIT,
            Better::Higher,
            o,
            r,
            format!(
                "dnsperf -c 4 from a kernel namespace through vde_switch -x to iothnamed on our smoltcp stack: {what}; goal: ratio ≥ 1{tail}"
            ),
        ));
    }
    log::info!("named_qps: iothnamed counters {}", s.named.counters());
    rows
}
