//! The DNS rows.
//!
//! - `dns_qps`: dnsperf in a kernel namespace, through a real `vde_switch -x`, to a
//!   static-answer server built on `ioth-dns` on our smoltcp stack; reference: NSD serving the
//!   same zone in another namespace behind the same switch. Queries/s.
//! - `dns_inproc`: our resolver asking our server, both smoltcp stacks in this process on an
//!   in-process hub, several client threads, no cache: queries/s and p50 latency; reference:
//!   dnsperf → NSD over kernel loopback (queries/s) and a blocking kernel UDP client → NSD
//!   (p50), in a namespace of their own.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ioth::dns::{RecordType, Resolver, ResolverOptions};
use ioth_dns::{Server, ServerConfig, ServerHandle, StaticZone};

use crate::Ctx;
use crate::fixture::{Pair, smoltcp_stack, wait_until};
use crate::helper::warmup;
use crate::peers::{ChildGuard, Netns, TapPlug, TempDir, VdeSwitch, missing, self_exe};
use crate::report::{Better, Row, Samples};

const ZONE: &str = "$ORIGIN bench.test.
$TTL 300
@    IN SOA ns admin 1 3600 600 86400 60
@    IN NS  ns
ns   IN A   10.79.0.2
www  IN A   10.0.0.80
www  IN AAAA fc00::80
mail IN A   10.0.0.25
@    IN MX  10 mail
";

/// The names dnsperf asks, in turn.
const QUERIES: &str = "www.bench.test A\nwww.bench.test AAAA\nmail.bench.test A\nbench.test MX\n";

/// Client threads of our in-process side, and dnsperf's clients.
const CLIENTS: usize = 4;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const OURS: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
const NSD: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 3);

fn zone() -> io::Result<StaticZone> {
    StaticZone::parse(ZONE, None).map_err(|e| io::Error::other(e.to_string()))
}

fn serve(stack: &ioth::Stack, addr: SocketAddr) -> io::Result<ServerHandle> {
    let config = ServerConfig {
        addrs: vec![addr],
        tcp: false,
        ..ServerConfig::default()
    };
    Server::bind(stack, config, zone()?)
}

/// NSD serving a zone of `bench.test` on `addr` inside `ns`, until dropped.
pub(crate) struct Nsd {
    _child: ChildGuard,
}

impl Nsd {
    fn start(ns: &Netns, dir: &Path, addr: Ipv4Addr) -> io::Result<Nsd> {
        Nsd::start_with(ns, dir, addr, ZONE)
    }

    /// NSD serving `zone` (master-file text of `bench.test`).
    pub(crate) fn start_with(
        ns: &Netns,
        dir: &Path,
        addr: Ipv4Addr,
        zone: &str,
    ) -> io::Result<Nsd> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("bench.zone"), zone)?;
        let d = dir.display();
        // Rate limiting off (Debian's NSD limits responses per netblock), one server process.
        let conf = format!(
            "server:\n  ip-address: {addr}\n  port: 53\n  server-count: 1\n  username: \"\"\n  chroot: \"\"\n  \
             zonesdir: \"{d}\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
             pidfile: \"{d}/nsd.pid\"\n  logfile: \"{d}/nsd.log\"\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  verbosity: 1\n\
             remote-control:\n  control-enable: no\nzone:\n  name: bench.test\n  zonefile: bench.zone\n"
        );
        std::fs::write(dir.join("nsd.conf"), conf)?;
        let mut cmd = ns.command(Path::new("nsd"));
        cmd.arg("-d").arg("-c").arg(dir.join("nsd.conf"));
        let child = ChildGuard::spawn(cmd, "nsd")?;
        let log = dir.join("nsd.log");
        let started = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("nsd started"))
        });
        if !started {
            return Err(io::Error::other(format!(
                "nsd did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )));
        }
        Ok(Nsd { _child: child })
    }
}

/// dnsperf from `ns` against `server` for `secs` (after a warm-up run): queries/s.
fn dnsperf(ns: &Netns, dir: &Path, server: Ipv4Addr, secs: f64) -> io::Result<f64> {
    dnsperf_with(ns, dir, server, secs, QUERIES)
}

/// dnsperf from `ns` against `server` asking `queries` (dnsperf's `NAME TYPE` lines) in turn
/// for `secs`, after a warm-up run: queries/s.
pub(crate) fn dnsperf_with(
    ns: &Netns,
    dir: &Path,
    server: Ipv4Addr,
    secs: f64,
    queries: &str,
) -> io::Result<f64> {
    let qfile = dir.join(format!("queries-{server}.txt"));
    std::fs::write(&qfile, queries)?;
    let run = |secs: f64| -> io::Result<f64> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                "dnsperf",
                "-s",
                &server.to_string(),
                "-d",
            ])
            .arg(&qfile)
            .args(["-l", &format!("{}", secs.ceil().max(1.0) as u64)])
            .args(["-c", &CLIENTS.to_string(), "-q", "200", "-t", "2"])
            .stdin(Stdio::null())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.trim().strip_prefix("Queries per second:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "dnsperf printed no rate: {}{}",
                    text,
                    String::from_utf8_lossy(&out.stderr)
                ))
            })
    };
    run(warmup(secs).as_secs_f64())?;
    run(secs)
}

struct WireSetup {
    // Field order is drop order: servers and plugs before namespaces, the switch, the dir.
    _nsd: Nsd,
    _plug_client: TapPlug,
    _plug_nsd: TapPlug,
    client: Netns,
    _nsd_ns: Netns,
    sw: VdeSwitch,
    dir: TempDir,
}

fn wire_setup() -> io::Result<WireSetup> {
    let dir = TempDir::new("dns")?;
    let sw = VdeSwitch::start(&dir.0.join("sw"))?;
    let client = Netns::new()?;
    let nsd_ns = Netns::new()?;
    let plug_client = TapPlug::start(&client, &sw.vnl(), "tap0", &format!("{CLIENT}/24"))?;
    let plug_nsd = TapPlug::start(&nsd_ns, &sw.vnl(), "tap0", &format!("{NSD}/24"))?;
    let nsd = Nsd::start(&nsd_ns, &dir.0.join("nsd"), NSD)?;
    Ok(WireSetup {
        _nsd: nsd,
        _plug_client: plug_client,
        _plug_nsd: plug_nsd,
        client,
        _nsd_ns: nsd_ns,
        sw,
        dir,
    })
}

/// `dns_qps`.
pub(crate) fn qps(ctx: &Ctx) -> Vec<Row> {
    const NAME: &str = "dns_qps";
    const UNIT: &str = "queries/s";
    if let Some(why) = missing(&["vde_switch", "vde_plug", "ip", "dnsperf", "nsd"]) {
        return vec![Row::skipped(NAME, UNIT, why)];
    }
    let s = match wire_setup() {
        Ok(s) => s,
        Err(e) => return vec![Row::skipped(NAME, UNIT, format!("setup: {e}"))],
    };
    let ours = smoltcp_stack(&s.sw.vnl(), OURS)
        .and_then(|stack| serve(&stack, SocketAddr::from((OURS, 53))).map(|h| (stack, h)));
    let (_stack, _server) = match ours {
        Ok(v) => v,
        Err(e) => return vec![Row::skipped(NAME, UNIT, format!("our server: {e}"))],
    };
    let (mut o, mut r, mut errors) = (Samples::default(), Samples::default(), Vec::new());
    for _ in 0..ctx.repeats {
        match dnsperf(&s.client, &s.dir.0, OURS, ctx.secs) {
            Ok(v) => o.0.push(v),
            Err(e) => errors.push(format!("ours: {e}")),
        }
        match dnsperf(&s.client, &s.dir.0, NSD, ctx.secs) {
            Ok(v) => r.0.push(v),
            Err(e) => errors.push(format!("nsd: {e}")),
        }
    }
    let tail = if errors.is_empty() {
        String::new()
    } else {
        format!("; errors: {}", errors.join(", "))
    };
    vec![Row::new(
        NAME,
        UNIT,
        Better::Higher,
        o,
        r,
        format!(
            "dnsperf -c {CLIENTS} from a kernel namespace through vde_switch -x to ioth-dns's StaticZone on our smoltcp stack; reference: NSD 1 process (RRL off) behind the same switch, same zone; goal: ratio ≥ 1{tail}"
        ),
    )]
}

/// Our in-process side: (queries/s, p50 µs).
pub(crate) fn ours_inproc(secs: f64) -> io::Result<(f64, f64)> {
    let pair = Pair::new()?;
    let server_addr = SocketAddr::from((crate::fixture::B_IP, 53));
    let _server = serve(&pair.b, server_addr)?;
    let stop = Arc::new(AtomicBool::new(false));
    let counting = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for _ in 0..CLIENTS {
        let resolver = Resolver::from_servers(&pair.a, &[server_addr]);
        resolver.set_options(ResolverOptions {
            cache_entries: 0,
            timeout: Duration::from_secs(1),
            attempts: 1,
            ..ResolverOptions::default()
        });
        let (stop, counting) = (stop.clone(), counting.clone());
        threads.push(std::thread::spawn(
            move || -> io::Result<(u64, Vec<u32>)> {
                let mut n = 0u64;
                let mut lat = Vec::with_capacity(1 << 16);
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    resolver
                        .lookup("www.bench.test.", RecordType::A)
                        .map_err(io::Error::from)?;
                    if counting.load(Ordering::Relaxed) {
                        n += 1;
                        lat.push(t0.elapsed().as_nanos().min(u32::MAX as u128) as u32);
                    }
                }
                Ok((n, lat))
            },
        ));
    }
    std::thread::sleep(warmup(secs));
    counting.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    counting.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (mut total, mut lat) = (0u64, Vec::new());
    for t in threads {
        let (n, l) = t
            .join()
            .map_err(|_| io::Error::other("a client thread panicked"))??;
        total += n;
        lat.extend(l);
    }
    lat.sort_unstable();
    let p50 = lat
        .get(lat.len() / 2)
        .map_or(f64::NAN, |&ns| f64::from(ns) / 1000.0);
    Ok((total as f64 / elapsed, p50))
}

/// The kernel side's p50 (µs): the `dns-rtt` helper in `ns`, one query at a time to `server`.
fn kernel_p50(ns: &Netns, server: Ipv4Addr, secs: f64) -> io::Result<f64> {
    let mut cmd = ns.command(&self_exe()?);
    cmd.args([
        "--helper",
        "dns-rtt",
        &format!("{server}:53"),
        &secs.to_string(),
    ]);
    let mut child = ChildGuard::spawn(cmd, "dns-rtt helper")?;
    let lines = child.lines()?;
    let mut p50 = None;
    for line in lines {
        if let Some(v) = line?.strip_prefix("p50 ") {
            p50 = v.trim().parse::<f64>().ok();
        }
    }
    let _ = child.finish(Duration::from_secs(5));
    p50.ok_or_else(|| io::Error::other("dns-rtt printed no p50"))
}

/// `dns_inproc`.
pub(crate) fn inproc(ctx: &Ctx) -> Vec<Row> {
    let skip = |why: String| {
        vec![
            Row::skipped("dns_inproc.qps", "queries/s", why.clone()),
            Row::skipped("dns_inproc.p50", "µs", why),
        ]
    };
    if let Some(why) = missing(&["ip", "dnsperf", "nsd"]) {
        return skip(why);
    }
    let setup = (|| -> io::Result<(TempDir, Netns, Nsd)> {
        let dir = TempDir::new("dnsk")?;
        let ns = Netns::new()?;
        let nsd = Nsd::start(&ns, &dir.0.join("nsd"), Ipv4Addr::LOCALHOST)?;
        Ok((dir, ns, nsd))
    })();
    let (dir, ns, _nsd) = match setup {
        Ok(v) => v,
        Err(e) => return skip(format!("setup: {e}")),
    };
    let (mut oq, mut op, mut rq, mut rp) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    let mut errors = Vec::new();
    for _ in 0..ctx.repeats {
        match ours_inproc(ctx.secs) {
            Ok((q, p)) => {
                oq.0.push(q);
                op.0.push(p);
            }
            Err(e) => errors.push(format!("ours: {e}")),
        }
        match dnsperf(&ns, &dir.0, Ipv4Addr::LOCALHOST, ctx.secs) {
            Ok(q) => rq.0.push(q),
            Err(e) => errors.push(format!("dnsperf: {e}")),
        }
        match kernel_p50(&ns, Ipv4Addr::LOCALHOST, ctx.secs) {
            Ok(p) => rp.0.push(p),
            Err(e) => errors.push(format!("dns-rtt: {e}")),
        }
    }
    let tail = if errors.is_empty() {
        String::new()
    } else {
        format!("; errors: {}", errors.join(", "))
    };
    vec![
        Row::new(
            "dns_inproc.qps",
            "queries/s",
            Better::Higher,
            oq,
            rq,
            format!(
                "our resolver ({CLIENTS} threads, no cache, a fresh socket per query) asking ioth-dns on another smoltcp stack, one process, in-process hub; reference: dnsperf -c {CLIENTS} → NSD over kernel loopback; goal: ours ≥ 200,000/s{tail}"
            ),
        ),
        Row::new(
            "dns_inproc.p50",
            "µs",
            Better::Lower,
            op,
            rp,
            format!(
                "median query latency of the same runs; reference: one query at a time from a kernel UDP socket to NSD over loopback; goal: ratio ≥ 1{tail}"
            ),
        ),
    ]
}

/// The `dns-rtt ADDR SECS` helper: one A query at a time over a kernel UDP socket for SECS
/// (after a warm-up); prints `p50 MICROSECONDS`.
pub(crate) fn rtt_helper(addr: SocketAddr, secs: f64, out: &mut impl io::Write) -> io::Result<()> {
    use ioth::dns::proto::op::{Message, MessageType, OpCode, Query};
    use ioth::dns::proto::rr::Name;
    let sock = std::net::UdpSocket::bind("0.0.0.0:0")?;
    sock.connect(addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(1)))?;
    let name = Name::from_ascii("www.bench.test.").map_err(|e| io::Error::other(e.to_string()))?;
    let mut buf = [0u8; 1500];
    let mut lat = Vec::new();
    let warm_end = Instant::now() + warmup(secs);
    let end = warm_end + Duration::from_secs_f64(secs);
    let mut id = 0u16;
    while Instant::now() < end {
        id = id.wrapping_add(1);
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(name.clone(), RecordType::A));
        let bytes = m.to_vec().map_err(|e| io::Error::other(e.to_string()))?;
        let t0 = Instant::now();
        sock.send(&bytes)?;
        loop {
            let n = sock.recv(&mut buf)?;
            if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                break;
            }
        }
        if t0 >= warm_end {
            lat.push(t0.elapsed().as_nanos() as f64 / 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);
    let p50 = lat.get(lat.len() / 2).copied().unwrap_or(f64::NAN);
    writeln!(out, "p50 {p50}")
}
