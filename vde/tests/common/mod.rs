//! Helpers of the tests that need real peers: tool checks, namespaces, child processes,
//! and a tiny ARP/ICMP responder speaking on a `vde::Link`.
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call (for namespaces, interfaces, paths).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// True if `tool` can run. Missing: a loud message and false; under CI=true a failure.
pub fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("required tool {tool} is missing (CI=true)");
        }
        eprintln!("\n!!!!!! SKIPPING: {tool} is not installed; this test needs it !!!!!!\n");
    }
    ok
}

/// True if we may create network namespaces (root); loud skip otherwise (failure in CI).
pub fn can_netns() -> bool {
    let ok = have("ip") && unsafe_free_is_root();
    if !ok && !std::env::var("CI").is_ok_and(|v| v == "true") {
        eprintln!("\n!!!!!! SKIPPING: needs root for network namespaces !!!!!!\n");
    }
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("network namespaces unavailable (CI=true)");
    }
    ok
}

fn unsafe_free_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs a command to completion, panicking with its output if it fails.
pub fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace removed on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        let name = unique("vdet");
        run(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Runs a command inside the namespace to completion (must succeed).
    pub fn exec(&self, args: &[&str]) {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        run(&v);
    }

    /// Runs a command inside the namespace; its exit status.
    pub fn status(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Starts a long-running command inside the namespace.
    pub fn spawn(&self, args: &[&str]) -> Proc {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        Proc::spawn(c)
    }

    /// Runs `f` on a thread that entered the namespace (sockets it makes live there).
    pub fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace fd affects only this thread.
            let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", io::Error::last_os_error());
            f()
        })
        .join()
        .expect("netns thread")
    }

    /// Waits until interface `ifname` exists in the namespace.
    pub fn wait_link(&self, ifname: &str) {
        wait_until(
            Duration::from_secs(10),
            || self.status(&["ip", "link", "show", ifname]),
            &format!("{ifname} to appear"),
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Polls `cond` every 20 ms until true; panics with `what` after `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool, what: &str) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed and reaped on drop.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn spawn(mut c: Command) -> Proc {
        let child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        Proc { child }
    }

    /// Spawns with stdin and stdout piped (for `vde_plug URL` stream mode).
    pub fn spawn_piped(mut c: Command) -> (Proc, ChildStdin, ChildStdout) {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let i = child.stdin.take().expect("stdin");
        let o = child.stdout.take().expect("stdout");
        (Proc { child }, i, o)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A classic vde_switch (`-x`: hub) in the foreground, its stdin held open.
pub struct VdeSwitch {
    pub proc: Proc,
    pub path: PathBuf,
}

impl VdeSwitch {
    pub fn start(dir: &Path, hub: bool) -> VdeSwitch {
        let path = dir.join(unique("sw"));
        let mut c = Command::new("vde_switch");
        if hub {
            c.arg("-x");
        }
        c.arg("-s").arg(&path);
        let proc = Proc::spawn(c);
        let ctl = path.join("ctl");
        wait_until(
            Duration::from_secs(10),
            || ctl.exists(),
            "vde_switch's ctl socket",
        );
        VdeSwitch { proc, path }
    }

    pub fn vnl(&self) -> String {
        format!("vde://{}", self.path.display())
    }
}

/// Writes one frame in `vde_plug`'s stream format (2-byte big-endian length + frame).
pub fn stream_write(w: &mut impl Write, frame: &[u8]) {
    w.write_all(&(frame.len() as u16).to_be_bytes())
        .expect("write len");
    w.write_all(frame).expect("write frame");
    w.flush().expect("flush");
}

/// Reads one frame in `vde_plug`'s stream format.
pub fn stream_read(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut l = [0u8; 2];
    r.read_exact(&mut l)?;
    let mut f = vec![0u8; u16::from_be_bytes(l) as usize];
    r.read_exact(&mut f)?;
    Ok(f)
}

/// Reads stream frames on a thread, handing them over a channel.
pub fn stream_reader(mut r: ChildStdout) -> crossbeam_channel::Receiver<Vec<u8>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        while let Ok(f) = stream_read(&mut r) {
            if tx.send(f).is_err() {
                break;
            }
        }
    });
    rx
}

/// An Ethernet frame with `payload` after a 14-byte header of type 0x88b5 (local experimental).
pub fn test_frame(dst: [u8; 6], src: [u8; 6], tag: u8, len: usize) -> Vec<u8> {
    let mut f = vec![tag; len.max(14)];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12] = 0x88;
    f[13] = 0xb5;
    f
}

pub const BCAST: [u8; 6] = [0xff; 6];

/// Waits up to `limit` for a frame on `link`.
pub fn recv_timeout(link: &vde::Link, limit: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + limit;
    let mut buf = vec![0u8; 4096];
    loop {
        match link.recv(&mut buf) {
            Ok(n) => return Some(buf[..n].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("recv: {e}"),
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let mut p = libc::pollfd {
            fd: link.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: p is valid for the call.
        unsafe { libc::poll(&mut p, 1, left.as_millis().min(1000) as i32) };
    }
}

/// Waits for a frame on `link` satisfying `pred`, skipping others (IPv6 noise...).
pub fn recv_matching(
    link: &vde::Link,
    limit: Duration,
    pred: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let f = recv_timeout(link, left)?;
        if pred(&f) {
            return Some(f);
        }
    }
}

fn csum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        s += w as u32;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Answers ARP requests for `ip` and ICMP echo requests to `ip` on `link` until stopped.
pub struct Responder {
    stop: Arc<AtomicBool>,
    pub echoes: Arc<AtomicU64>,
    pub biggest: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    pub fn start(link: vde::Link, mac: [u8; 6], ip: [u8; 4]) -> Responder {
        let stop = Arc::new(AtomicBool::new(false));
        let echoes = Arc::new(AtomicU64::new(0));
        let biggest = Arc::new(AtomicU64::new(0));
        let (s, e, b) = (stop.clone(), echoes.clone(), biggest.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 2048];
            while !s.load(Ordering::Relaxed) {
                let mut p = libc::pollfd {
                    fd: link.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: p is valid for the call.
                unsafe { libc::poll(&mut p, 1, 100) };
                while let Ok(n) = link.recv(&mut buf) {
                    let f = &mut buf[..n];
                    if let Some(reply) = answer(f, mac, ip) {
                        b.fetch_max(reply.len() as u64, Ordering::Relaxed);
                        if reply[12..14] == [0x08, 0x00] {
                            e.fetch_add(1, Ordering::Relaxed);
                        }
                        link.send(&reply).expect("send reply");
                    }
                }
            }
        });
        Responder {
            stop,
            echoes,
            biggest,
            thread: Some(thread),
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reply to an ARP request or ICMP echo request addressed to `ip`, if `f` is one.
pub fn answer(f: &[u8], mac: [u8; 6], ip: [u8; 4]) -> Option<Vec<u8>> {
    if f.len() < 42 {
        return None;
    }
    if f[12..14] == [0x08, 0x06] && f[20..22] == [0, 1] && f[38..42] == ip {
        let mut r = vec![0u8; 42];
        r[0..6].copy_from_slice(&f[22..28]);
        r[6..12].copy_from_slice(&mac);
        r[12..14].copy_from_slice(&[0x08, 0x06]);
        r[14..22].copy_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 2]);
        r[22..28].copy_from_slice(&mac);
        r[28..32].copy_from_slice(&ip);
        r[32..38].copy_from_slice(&f[22..28]);
        r[38..42].copy_from_slice(&f[28..32]);
        return Some(r);
    }
    if f[12..14] == [0x08, 0x00] && f[23] == 1 && f[30..34] == ip {
        let ihl = ((f[14] & 0x0f) as usize) * 4;
        let total = u16::from_be_bytes([f[16], f[17]]) as usize;
        if f.len() < 14 + total || total < ihl + 8 || f[14 + ihl] != 8 {
            return None;
        }
        let mut r = f[..14 + total].to_vec();
        r[0..6].copy_from_slice(&f[6..12]);
        r[6..12].copy_from_slice(&mac);
        let (src, dst) = (f[26..30].to_vec(), f[30..34].to_vec());
        r[26..30].copy_from_slice(&dst);
        r[30..34].copy_from_slice(&src);
        r[22] = 64;
        r[24..26].copy_from_slice(&[0, 0]);
        let c = csum(&r[14..14 + ihl]);
        r[24..26].copy_from_slice(&c.to_be_bytes());
        r[14 + ihl] = 0;
        r[14 + ihl + 2..14 + ihl + 4].copy_from_slice(&[0, 0]);
        let c = csum(&r[14 + ihl..14 + total]);
        r[14 + ihl + 2..14 + ihl + 4].copy_from_slice(&c.to_be_bytes());
        return Some(r);
    }
    None
}

/// Pings `ip` from inside `ns`: `count` full-size (1514-byte frame) echoes with DF set.
pub fn ping_full_size(ns: &Netns, ip: &str, count: u32) -> bool {
    ns.status(&[
        "ping",
        "-c",
        &count.to_string(),
        "-i",
        "0.2",
        "-W",
        "3",
        "-s",
        "1472",
        "-M",
        "do",
        ip,
    ])
}

/// Waits until something accepts connections at the unix socket `ctl` (a stale socket file
/// left by a killed switch does not count).
pub fn wait_connectable(ctl: &Path, what: &str) {
    wait_until(
        Duration::from_secs(10),
        || std::os::unix::net::UnixStream::connect(ctl).is_ok(),
        what,
    );
}

/// A vde_switch (`-x`) at exactly `path`, for restarting one where another died.
pub fn vde_switch_at(path: &Path) -> Proc {
    let mut c = Command::new("vde_switch");
    c.arg("-x").arg("-s").arg(path);
    let p = Proc::spawn(c);
    wait_connectable(&path.join("ctl"), "vde_switch to accept");
    p
}

/// This crate's `vdehub` at `path` with `args`, its stderr captured line by line.
pub struct VdeHub {
    pub proc: Proc,
    pub path: PathBuf,
    /// Lines the hub wrote on stderr so far.
    pub lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl VdeHub {
    /// Starts it (through `prlimit --nofile=N` when `nofile` is given) and waits until it
    /// accepts connections.
    pub fn start(path: &Path, args: &[&str], nofile: Option<u64>) -> VdeHub {
        let bin = env!("CARGO_BIN_EXE_vdehub");
        let mut c = match nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        c.args(args).arg(path).env("RUST_LOG", "info");
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vdehub");
        let err = child.stderr.take().expect("stderr");
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let l = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in io::BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                l.lock().expect("lines").push(line);
            }
        });
        let end = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(path.join("ctl")).is_err() {
            if let Ok(Some(st)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                panic!("vdehub exited ({st}): {:?}", lines.lock().expect("lines"));
            }
            assert!(Instant::now() < end, "vdehub never accepted");
            std::thread::sleep(Duration::from_millis(20));
        }
        VdeHub {
            proc: Proc { child },
            path: path.to_owned(),
            lines,
        }
    }

    pub fn vnl(&self) -> String {
        format!("vde://{}", self.path.display())
    }

    /// SIGKILL and reap: nothing of the hub cleans up.
    pub fn kill9(mut self) {
        self.proc.child.kill().expect("kill -9 vdehub");
        self.proc.child.wait().expect("reap vdehub");
    }
}

/// True if `fd` turns readable within `ms` milliseconds.
pub fn readable(fd: std::os::fd::RawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: p is valid for the call.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// A non-blocking connect to unix stream socket `path` (EAGAIN when its backlog is full).
pub fn connect_nonblocking(path: &Path) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket(2); the fd is owned right below.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nobody else.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_un is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_os_str().as_bytes();
    assert!(b.len() < sa.sun_path.len(), "path too long");
    for (d, s) in sa.sun_path.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    // SAFETY: sa is a valid sockaddr_un for the call; fd is ours.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}
