//! `vdehub`: a VDE hub (or switch) served at a path, like `vde_switch -x -s PATH`, with
//! per-port counters, pcap capture and wirefilter-like impairment.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vde::pcap::PcapWriter;
use vde::{Hub, HubConfig, HubKind, Impairment, ServeConfig};

const HELP: &str = "\
vdehub: a VDE hub served at PATH (like `vde_switch -x -s PATH`); clients join with
`vde_plug vde://PATH`, vdeplug4's libvdeplug, or this project's `vde://PATH`.

Usage: vdehub [OPTIONS] PATH
       vdehub [OPTIONS] -s PATH

Options:
  -s, --sock PATH        directory to serve (created; must not exist)
  -x, --hub              forward every frame to every other port (default)
      --switch           learn MAC addresses; known unicast goes to one port only
      --expire SECS      switch: forget a MAC after SECS seconds (default 120)
  -m, --mode MODE        permissions of PATH/ctl and data sockets, octal (default 0600)
      --dirmode MODE     permissions of PATH, octal (default derived from --mode)
  -g, --group GROUP      group owning PATH and its sockets
      --pcap FILE        write every frame entering the hub to FILE (libpcap, Ethernet)
      --loss PCT         drop PCT% of frames
      --dup PCT          deliver PCT% of frames twice
      --delay MS[+JIT]   delay frames by MS ms, plus or minus up to JIT ms
      --reorder PCT      hold PCT% of frames back so later ones overtake them
      --rate MBIT        limit the hub to MBIT megabits per second
      --port N:SPEC      impairment of frames sent by port N only, SPEC like
                         `loss=5,delay=10+2,dup=1,reorder=1,rate=100`
      --idle-timeout MS  close a control connection that sent no port request
                         within MS milliseconds (default 10000)
      --max-conns N      most control connections at once (default 1024; also kept
                         below the open-file limit)
      --max-per-uid N    most control connections at once from one user (default 256)
  -h, --help             this text

A PATH left behind by a vdehub or vde_switch that died (PATH/ctl refuses connections)
is taken over; a PATH where a switch is alive is refused.

Per-port counters are printed on SIGUSR1 and at exit (SIGINT, SIGTERM, SIGHUP).
Impairment without --port applies to every frame; with it, to that port's frames
(both may be combined).
";

struct Args {
    path: PathBuf,
    kind: HubKind,
    expire: u64,
    serve: ServeConfig,
    pcap: Option<PathBuf>,
    global: Impairment,
    ports: Vec<(u32, Impairment)>,
}

fn usage_err(msg: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{msg} (see vdehub --help)"),
    )
}

fn parse_mode(opt: &str, v: &str) -> io::Result<u32> {
    u32::from_str_radix(v, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| usage_err(format!("{opt} {v:?} is not an octal mode")))
}

fn parse_args() -> io::Result<Option<Args>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut a = Args {
        path: PathBuf::new(),
        kind: HubKind::Hub,
        expire: 120,
        serve: ServeConfig::default(),
        pcap: None,
        global: Impairment::default(),
        ports: Vec::new(),
    };
    while let Some(arg) = args.next() {
        let (opt, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> io::Result<String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| usage_err(format!("{name} needs a value")))
        };
        match opt.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(None);
            }
            "-s" | "--sock" => path = Some(PathBuf::from(value(&opt)?)),
            "-x" | "--hub" => a.kind = HubKind::Hub,
            "--switch" => a.kind = HubKind::Switch,
            "--expire" => {
                let v = value(&opt)?;
                a.expire = v
                    .parse()
                    .map_err(|_| usage_err(format!("--expire {v:?} is not a number")))?;
            }
            "-m" | "--mode" => a.serve.mode = parse_mode(&opt, &value(&opt)?)?,
            "--dirmode" => a.serve.dirmode = Some(parse_mode(&opt, &value(&opt)?)?),
            "-g" | "--group" => {
                let v = value(&opt)?;
                a.serve.group =
                    Some(group_id(&v).ok_or_else(|| usage_err(format!("unknown group {v:?}")))?);
            }
            "--pcap" => a.pcap = Some(PathBuf::from(value(&opt)?)),
            "--loss" | "--dup" | "--delay" | "--reorder" | "--rate" => {
                let v = value(&opt)?;
                a.global.set(&opt[2..], &v).map_err(usage_err)?;
            }
            "--port" => {
                let v = value(&opt)?;
                let (n, spec) = v
                    .split_once(':')
                    .ok_or_else(|| usage_err(format!("--port {v:?}: expected N:SPEC")))?;
                let n: u32 = n
                    .parse()
                    .map_err(|_| usage_err(format!("--port {v:?}: {n:?} is not a port number")))?;
                a.ports
                    .push((n, Impairment::parse_list(spec).map_err(usage_err)?));
            }
            "--idle-timeout" => {
                let v = value(&opt)?;
                let ms: u64 = v.parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                    usage_err(format!(
                        "--idle-timeout {v:?} is not a number of milliseconds"
                    ))
                })?;
                a.serve.idle_timeout = Duration::from_millis(ms);
            }
            "--max-conns" | "--max-per-uid" => {
                let v = value(&opt)?;
                let n: usize =
                    v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        usage_err(format!("{opt} {v:?} is not a positive number"))
                    })?;
                if opt == "--max-conns" {
                    a.serve.max_connections = n;
                } else {
                    a.serve.max_per_uid = n;
                }
            }
            o if o.starts_with('-') => return Err(usage_err(format!("unknown option {o:?}"))),
            _ if path.is_none() => path = Some(PathBuf::from(arg)),
            _ => return Err(usage_err(format!("unexpected argument {arg:?}"))),
        }
    }
    a.path = path.ok_or_else(|| usage_err("PATH is missing"))?;
    Ok(Some(a))
}

fn group_id(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some(name))
            .then(|| f.nth(1).and_then(|g| g.parse().ok()))
            .flatten()
    })
}

fn print_stats(hub: &Hub) {
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{:>5} {:>6} {:>12} {:>15} {:>12} {:>15} {:>10}  description",
        "port", "where", "frames_in", "bytes_in", "frames_out", "bytes_out", "dropped"
    );
    for s in hub.stats() {
        let _ = writeln!(
            out,
            "{:>5} {:>6} {:>12} {:>15} {:>12} {:>15} {:>10}  {}",
            s.port,
            if s.remote { "remote" } else { "local" },
            s.frames_in,
            s.bytes_in,
            s.frames_out,
            s.bytes_out,
            s.dropped,
            s.description
        );
    }
    let _ = out.flush();
}

type Pcap = Arc<Mutex<PcapWriter<BufWriter<File>>>>;

fn flush(p: &Option<Pcap>) {
    if let Some(p) = p {
        let _ = p.lock().unwrap_or_else(|e| e.into_inner()).flush();
    }
}

/// Blocks the signals the main thread waits for (before any thread exists, so all inherit
/// the mask) and returns the set.
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialised by sigemptyset; pthread_sigmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn run() -> io::Result<()> {
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    let set = block_signals();
    let cfg = HubConfig {
        kind: args.kind,
        expire: Duration::from_secs(args.expire.max(1)),
        impairment: args.global.clone(),
        port_impairment: args.ports.clone(),
        ..HubConfig::default()
    };
    let hub = Hub::with_config(cfg);
    let pcap: Option<Pcap> = match &args.pcap {
        None => None,
        Some(p) => {
            let w = PcapWriter::new(BufWriter::new(File::create(p)?))?;
            let w = Arc::new(Mutex::new(w));
            let cap = w.clone();
            let mut last = Instant::now();
            hub.set_capture(Some(Box::new(move |frame: &[u8]| {
                let mut w = cap.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(e) = w.write_frame(frame) {
                    log::error!("pcap: {e}");
                }
                if last.elapsed() >= Duration::from_secs(1) {
                    let _ = w.flush();
                    last = Instant::now();
                }
            })));
            Some(w)
        }
    };
    let path = hub.serve(&args.path, &args.serve)?;
    log::info!("vdehub serving {} as a {:?}", path.display(), args.kind);
    eprintln!(
        "vdehub: serving {} ({:?}); join with vde_plug vde://{}",
        path.display(),
        args.kind,
        path.display()
    );
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: set is an initialised sigset; sig receives the signal number.
        let r = unsafe { libc::sigwait(&set, &mut sig) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        if sig == libc::SIGUSR1 {
            flush(&pcap);
            print_stats(&hub);
            continue;
        }
        break;
    }
    hub.set_capture(None);
    flush(&pcap);
    print_stats(&hub);
    Ok(())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vdehub: {e}");
            ExitCode::FAILURE
        }
    }
}
