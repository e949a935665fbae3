//! Runs the built example programs as a user would: `--help`, bad input, the `threads` table,
//! the embedded-hub demos, and the UDP and TCP pairs as two processes meeting on a hub served
//! in a temporary directory. Every child is killed and reaped on every path.
//!
//! The examples are run from `target/<profile>/examples/<name>` (see `common::program`).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

// Shared by every test of this crate; this one uses only `program`.
#[allow(dead_code)]
mod common;

/// How long a child may run before the test gives up on it (a guard against hangs, not a
/// measure of speed).
const HANG_GUARD: Duration = Duration::from_secs(60);
/// How long a program given a bad command line may take to say so.
const BAD_INPUT_GUARD: Duration = Duration::from_secs(10);

const EXAMPLES: &[&str] = &[
    "threads",
    "udp_sender",
    "udp_receiver",
    "tcp_echo_server",
    "tcp_echo_client",
    "mio_defaults",
];

fn example(name: &str) -> PathBuf {
    common::program(name)
}

/// A running child, killed and reaped when dropped.
struct Running {
    child: Option<Child>,
    name: String,
}

impl Running {
    fn spawn(name: &str, args: &[&str], stdin: bool) -> Running {
        let child = Command::new(example(name))
            .args(args)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Running {
            child: Some(child),
            name: name.to_owned(),
        }
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("child still owned")
    }

    /// Waits for the child to exit (killing it after HANG_GUARD) and collects its output.
    fn finish(self) -> Output {
        self.finish_within(HANG_GUARD)
    }

    /// Waits for the child to exit (killing it after `guard`) and collects its output.
    fn finish_within(mut self, guard: Duration) -> Output {
        let mut child = self.child.take().expect("child still owned");
        drop(child.stdin.take());
        let out = collect(child.stdout.take());
        let err = collect(child.stderr.take());
        let deadline = Instant::now() + guard;
        let status = loop {
            match child.try_wait().expect("waiting for a child") {
                Some(status) => break status,
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{} did not exit within {} s", self.name, guard.as_secs());
                }
                None => thread::sleep(Duration::from_millis(10)),
            }
        };
        Output {
            status,
            stdout: out.join().expect("stdout reader"),
            stderr: err.join().expect("stderr reader"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_string(&mut s);
        }
        s
    })
}

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Output {
    fn show(&self) -> String {
        format!(
            "status {:?}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

fn run(name: &str, args: &[&str], input: Option<&[u8]>) -> Output {
    let mut r = Running::spawn(name, args, input.is_some());
    // stdin is fed from a thread while finish() drains stdout and stderr: a child that
    // echoes must never find both pipes full.
    let feeder = input.map(|input| {
        let mut stdin = r.child().stdin.take().expect("piped stdin");
        let input = input.to_vec();
        thread::spawn(move || {
            // A child that exits early closes its end: its output tells what went wrong.
            let _ = stdin.write_all(&input);
        })
    });
    let out = r.finish();
    if let Some(f) = feeder {
        f.join().expect("stdin feeder");
    }
    out
}

/// Runs `name` with arguments that may not be UTF-8, stdin closed, with a backtrace asked for
/// (so that a panic could not go unnoticed), giving up after [`BAD_INPUT_GUARD`].
fn run_os(name: &str, args: &[OsString]) -> Output {
    let child = Command::new(example(name))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    Running {
        child: Some(child),
        name: name.to_owned(),
    }
    .finish_within(BAD_INPUT_GUARD)
}

/// A server-side child whose stdout is read line by line while it runs.
struct Server {
    running: Running,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout_reader: thread::JoinHandle<()>,
}

impl Server {
    fn spawn(name: &str, args: &[&str]) -> Server {
        let mut running = Running::spawn(name, args, false);
        let stdout = running.child().stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        let stdout_reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            running,
            lines,
            seen: Vec::new(),
            stdout_reader,
        }
    }

    /// Waits for a line of stdout containing `what`.
    fn wait_for(&mut self, what: &str) {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(what);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!(
                    "{} never printed {what:?}; it printed:\n{}",
                    self.running.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the server to exit; returns its status, all its stdout lines and stderr.
    fn finish(self) -> (ExitStatus, Vec<String>, String) {
        let Server {
            running,
            lines,
            mut seen,
            stdout_reader,
        } = self;
        let out = running.finish();
        let _ = stdout_reader.join();
        seen.extend(lines.try_iter());
        (out.status, seen, out.stderr)
    }
}

fn many_lines(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("line {i} of the echo test\n").into_bytes())
        .collect()
}

#[test]
fn every_example_has_help() {
    for name in EXAMPLES {
        let out = run(name, &["--help"], None);
        assert!(out.status.success(), "{name} --help: {}", out.show());
        assert!(
            out.stdout.starts_with(&format!("usage: {name}")),
            "{name} --help: {}",
            out.show()
        );
    }
}

/// The options of each example that take a value, and what kind of value.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Free text: any UTF-8 string, the empty one included.
    Text,
    /// A number.
    Number,
    /// `ADDR/LEN`, the node's own address.
    Cidr,
    /// A port to listen on.
    Port,
    /// `ADDR:PORT`, a destination.
    Dest,
    /// A count that must be at least 1.
    Count,
}

fn options_of(example: &str) -> &'static [(&'static str, Kind)] {
    use Kind::*;
    match example {
        "threads" => &[
            ("--threads", Number),
            ("--messages", Number),
            ("--size", Number),
            ("--timeout", Number),
        ],
        "udp_sender" => &[
            ("--from", Cidr),
            ("--to", Dest),
            ("--message", Text),
            ("--count", Count),
            ("--interval", Number),
            ("--linger", Number),
            ("--name", Text),
        ],
        "udp_receiver" => &[
            ("--ip", Cidr),
            ("--port", Port),
            ("--count", Count),
            ("--name", Text),
        ],
        "tcp_echo_server" => &[
            ("--ip", Cidr),
            ("--port", Port),
            ("--connections", Count),
            ("--linger", Number),
            ("--name", Text),
        ],
        "tcp_echo_client" => &[
            ("--from", Cidr),
            ("--to", Dest),
            ("--timeout", Number),
            ("--name", Text),
        ],
        "mio_defaults" => &[],
        other => panic!("no options listed for {other}"),
    }
}

/// `prefix` followed by bytes that are not UTF-8.
fn not_utf8(prefix: &str) -> OsString {
    let mut v = prefix.as_bytes().to_vec();
    v.extend([0xff, 0xfe]);
    OsString::from_vec(v)
}

/// Bad command lines for `example`, each with a text its message must contain.
fn bad_command_lines(example: &str) -> Vec<(Vec<OsString>, String)> {
    let os = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
    let bad = r"\xFF\xFE".to_string();
    let mut cases = vec![
        (vec![not_utf8("")], bad.clone()),
        (
            vec![not_utf8("hub:///tmp/")],
            r"hub:///tmp/\xFF\xFE".to_string(),
        ),
        (vec![not_utf8("--")], bad.clone()),
        (os(&[""]), "\"\"".to_string()),
        (os(&["--bogus"]), "\"--bogus\"".to_string()),
        (os(&["-x"]), "\"-x\"".to_string()),
    ];
    for &(opt, kind) in options_of(example) {
        let mut eq = OsString::from(format!("{opt}="));
        eq.push(not_utf8(""));
        cases.push((vec![OsString::from(opt), not_utf8("")], opt.to_string()));
        cases.push((vec![eq], bad.clone()));
        cases.push((os(&[opt]), format!("{opt} needs a value")));
        cases.push((os(&[opt, "--bogus"]), format!("{opt} needs a value")));
        if kind != Kind::Text {
            cases.push((os(&[opt, ""]), format!("bad value \"\" for {opt}")));
            cases.push((
                os(&[opt, "99999999999999999999999"]),
                "\"99999999999999999999999\"".to_string(),
            ));
        }
        match kind {
            Kind::Text | Kind::Number => {}
            Kind::Cidr => {
                cases.push((os(&[opt, "224.0.0.1/24"]), "224.0.0.1".to_string()));
                cases.push((os(&[opt, "0.0.0.0/24"]), "0.0.0.0".to_string()));
                cases.push((os(&[opt, "10.0.0.1/33"]), "\"33\"".to_string()));
            }
            Kind::Port => {
                cases.push((os(&[opt, "0"]), format!("\"0\" for {opt}")));
                cases.push((os(&[opt, "70000"]), format!("\"70000\" for {opt}")));
                cases.push((os(&[opt, "-1"]), format!("\"-1\" for {opt}")));
            }
            Kind::Dest => {
                cases.push((os(&[opt, "10.0.0.2:0"]), "port 0".to_string()));
                cases.push((
                    os(&[opt, "10.0.0.2:70000"]),
                    "\"10.0.0.2:70000\"".to_string(),
                ));
                cases.push((os(&[opt, "10.0.0.2"]), "\"10.0.0.2\"".to_string()));
                cases.push((os(&[opt, "0.0.0.0:5000"]), "unspecified".to_string()));
            }
            Kind::Count => {
                cases.push((os(&[opt, "0"]), format!("{opt} 0")));
            }
        }
    }
    cases
}

#[test]
fn bad_input_gives_a_message_and_no_panic() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in EXAMPLES {
        for (args, mentions) in bad_command_lines(name) {
            let out = run_os(name, &args);
            checked += 1;
            let lines: Vec<&str> = out.stderr.lines().collect();
            let hint = format!("Try '{name} --help' for more information.");
            let ok = out.status.code() == Some(2)
                && lines.len() == 2
                && lines[0].starts_with(&format!("{name}: "))
                && lines[0].contains(&mentions)
                && lines[1] == hint;
            if !ok {
                failures.push(format!(
                    "{name} {args:?}: wanted exit 2 and one line naming {mentions:?} plus the \
                     hint; got {}",
                    out.show()
                ));
            }
        }
    }
    assert!(checked > 100, "only {checked} command lines checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} bad command lines misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // A runtime failure is one line too, with exit status 1.
    let out = run("udp_receiver", &["vde:///nonexistent-ioth-switch"], None);
    assert_eq!(out.status.code(), Some(1), "{}", out.show());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.show());
    assert!(
        out.stderr.starts_with("udp_receiver: error: ")
            && out.stderr.contains("nonexistent-ioth-switch"),
        "{}",
        out.show()
    );
}

/// The table rows of `threads`: (name, IPv4, UDP "sent/ok", TCP "sent/ok").
fn table_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter(|l| l.starts_with("thread-"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

fn check_threads_table(args: &[&str], threads: usize, messages: usize) {
    let out = run("threads", args, None);
    assert!(out.status.success(), "threads {args:?}: {}", out.show());
    let rows = table_rows(&out.stdout);
    assert_eq!(rows.len(), threads, "{}", out.show());
    let per_proto = 2 * messages; // IPv4 and IPv6
    for (i, row) in rows.iter().enumerate() {
        // thread IPv4 IPv6 UDP TCP bytes UDP-RTT TCP-RTT
        assert_eq!(row.len(), 8, "row {row:?}");
        assert_eq!(row[0], format!("thread-{i}"));
        assert_eq!(row[1], format!("10.0.0.{}", i + 1));
        let v6: std::net::Ipv6Addr = row[2].parse().expect("an IPv6 address");
        assert_eq!(
            v6,
            ioth::nlconf::hashaddr::hashaddr(ioth_examples::IPV6_BASE, &row[0], None, 0)
        );
        assert_eq!(row[3], format!("{per_proto}/{per_proto}"), "UDP of {row:?}");
        assert_eq!(row[4], format!("{per_proto}/{per_proto}"), "TCP of {row:?}");
        assert!(row[5].parse::<usize>().expect("bytes") > 0, "{row:?}");
        assert!(row[6].parse::<u64>().is_ok() && row[7].parse::<u64>().is_ok());
    }
    let total = threads * 2 * per_proto;
    assert!(
        out.stdout
            .contains(&format!("{total} of {total} messages echoed")),
        "{}",
        out.show()
    );
}

#[test]
fn threads_prints_its_table_with_every_message_echoed() {
    check_threads_table(&[], 8, 10);
    check_threads_table(
        &["--threads", "3", "--messages", "2", "--size", "200"],
        3,
        2,
    );
}

#[test]
fn alone_on_the_embedded_hub_each_example_runs_its_peer() {
    let out = run("udp_sender", &[], None);
    assert!(out.status.success(), "{}", out.show());
    assert!(
        out.stdout
            .contains("udp_receiver (in-process): from 10.0.0.1:"),
        "{}",
        out.show()
    );
    assert!(out.stdout.lines().any(|l| l.ends_with(": ciao")));

    let out = run("udp_receiver", &[], None);
    assert!(out.status.success(), "{}", out.show());
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("from 10.0.0.1:") && l.ends_with(": ciao")),
        "{}",
        out.show()
    );

    let out = run("tcp_echo_server", &[], None);
    assert!(out.status.success(), "{}", out.show());
    assert!(out.stdout.contains("echoed: ciao"), "{}", out.show());

    let input = many_lines(20_000);
    let out = run("tcp_echo_client", &[], Some(&input));
    assert!(out.status.success(), "{}", out.show());
    assert_eq!(out.stdout.as_bytes(), &input[..], "{}", out.stderr);
}

#[test]
fn udp_pair_meets_on_a_served_hub() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vnl = format!("hub://{}", dir.path().join("hub").display());
    let mut receiver = Server::spawn("udp_receiver", &[&vnl, "--count", "2"]);
    receiver.wait_for("listening on UDP port 5000 (serving a hub");
    let out = run(
        "udp_sender",
        &[
            &vnl,
            "--count",
            "2",
            "--interval",
            "10",
            "--message",
            "ciao mondo",
        ],
        None,
    );
    assert!(out.status.success(), "{}", out.show());
    assert!(out.stdout.contains("joined the hub"), "{}", out.show());
    let (status, lines, stderr) = receiver.finish();
    assert!(
        status.success(),
        "receiver: {status:?}\n{lines:?}\n{stderr}"
    );
    let got: Vec<_> = lines.iter().filter(|l| l.starts_with("from ")).collect();
    assert_eq!(got.len(), 2, "{lines:?}");
    for l in got {
        assert!(
            l.starts_with("from 10.0.0.1:") && l.ends_with(": ciao mondo"),
            "{l}"
        );
    }
    // The hub's directory went with the process that served it.
    assert!(!dir.path().join("hub").exists());
}

#[test]
fn tcp_pair_meets_on_a_served_hub() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vnl = format!("hub://{}", dir.path().join("hub").display());
    let mut server = Server::spawn("tcp_echo_server", &[&vnl, "--connections", "1"]);
    server.wait_for("listening on TCP port 5000 (serving a hub");
    let input = many_lines(20_000); // about half a megabyte: more than any buffer

    let out = run("tcp_echo_client", &[&vnl], Some(&input));
    assert!(out.status.success(), "{}", out.show());
    assert!(out.stderr.contains("joined the hub"), "{}", out.show());
    assert_eq!(out.stdout.as_bytes(), &input[..], "{}", out.stderr);
    let (status, lines, stderr) = server.finish();
    assert!(status.success(), "server: {status:?}\n{lines:?}\n{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(&format!("closed after {} bytes echoed", input.len()))),
        "{lines:?}"
    );
}

#[test]
fn a_hub_left_by_a_killed_server_is_served_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vnl = format!("hub://{}", dir.path().join("hub").display());
    let mut first = Server::spawn("udp_receiver", &[&vnl]);
    first.wait_for("serving a hub");
    drop(first); // SIGKILL: the hub's ctl socket stays behind
    assert!(dir.path().join("hub/ctl").exists());
    let mut second = Server::spawn("udp_receiver", &[&vnl, "--count", "1"]);
    second.wait_for("serving a hub");
    let out = run("udp_sender", &[&vnl], None);
    assert!(out.status.success(), "{}", out.show());
    let (status, lines, stderr) = second.finish();
    assert!(status.success(), "{status:?}\n{lines:?}\n{stderr}");
    assert!(lines.iter().any(|l| l.ends_with(": ciao")), "{lines:?}");
}

/// The README's two-process example, run as a user would try it: the server left running
/// (no --connections), then its client twice in a row, each with input of its own, each
/// echoed in full. (The second run used to fail with "Connection timed out".)
#[test]
fn a_tcp_server_left_running_serves_two_clients_in_a_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vnl = format!("hub://{}", dir.path().join("hub").display());
    let mut server = Server::spawn("tcp_echo_server", &[&vnl]);
    server.wait_for("listening on TCP port 5000 (serving a hub");
    for run_no in 1..=2 {
        let input = format!("run {run_no}: ciao\nrun {run_no}: mondo\n");
        let out = run("tcp_echo_client", &[&vnl], Some(input.as_bytes()));
        assert!(out.status.success(), "client run {run_no}: {}", out.show());
        assert!(out.stderr.contains("joined the hub"), "{}", out.show());
        assert_eq!(out.stdout, input, "client run {run_no}: {}", out.show());
        server.wait_for(&format!("closed after {} bytes echoed", input.len()));
    }
    // Still running, as it was never told to stop: the drop ends it.
}

/// The same for the UDP pair: the receiver left running (no --count), the sender twice.
#[test]
fn a_udp_receiver_left_running_hears_two_senders_in_a_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vnl = format!("hub://{}", dir.path().join("hub").display());
    let mut receiver = Server::spawn("udp_receiver", &[&vnl]);
    receiver.wait_for("listening on UDP port 5000 (serving a hub");
    for run_no in 1..=2 {
        let message = format!("ciao {run_no}");
        let out = run("udp_sender", &[&vnl, "--message", &message], None);
        assert!(out.status.success(), "sender run {run_no}: {}", out.show());
        assert!(out.stdout.contains("joined the hub"), "{}", out.show());
        receiver.wait_for(&format!(": {message}"));
    }
}

/// How many clients the concurrency test opens at once.
const CLIENTS: usize = 2000;
/// How long the concurrency test waits for every client to be served.
const CLIENTS_DEADLINE: Duration = Duration::from_secs(60);

/// What became of one of the many clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Connecting,
    Echoing,
    Served,
    Refused,
    Reset,
    TimedOut,
    ClosedEarly,
    Failed,
}

/// One client: a nonblocking kernel socket in the test's namespace, its line and its echo.
struct Client {
    sock: ioth::Socket,
    line: Vec<u8>,
    echo: Vec<u8>,
    fate: Fate,
    error: Option<std::io::Error>,
    /// When the test saw the connection established, and its echo complete.
    connected: Option<Instant>,
    echoed: Option<Instant>,
}

impl Client {
    fn fail(&mut self, e: std::io::Error) {
        self.fate = match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => Fate::Refused,
            Some(libc::ECONNRESET | libc::EPIPE) => Fate::Reset,
            Some(libc::ETIMEDOUT) => Fate::TimedOut,
            _ => Fate::Failed,
        };
        self.error = Some(e);
    }

    /// Moves the client along once its descriptor reported `revents`.
    fn advance(&mut self, revents: libc::c_short) {
        let would_block = |e: &std::io::Error| e.kind() == std::io::ErrorKind::WouldBlock;
        if self.fate == Fate::Connecting {
            match self.sock.take_error() {
                Ok(Some(e)) | Err(e) => return self.fail(e),
                Ok(None) if revents & libc::POLLOUT == 0 => return,
                Ok(None) => {}
            }
            // Connected: the short line fits any send buffer at once.
            self.connected = Some(Instant::now());
            match self.sock.send(&self.line, libc::MSG_NOSIGNAL) {
                Ok(n) if n == self.line.len() => self.fate = Fate::Echoing,
                Ok(n) => self.fail(std::io::Error::other(format!("short send of {n} bytes"))),
                Err(e) => self.fail(e),
            }
            return;
        }
        let mut buf = [0u8; 256];
        match self.sock.recv(&mut buf, 0) {
            Ok(0) => self.fate = Fate::ClosedEarly,
            Ok(n) => {
                self.echo.extend_from_slice(&buf[..n]);
                if self.echo.len() >= self.line.len() {
                    self.echoed = Some(Instant::now());
                    self.fate = if self.echo == self.line {
                        Fate::Served
                    } else {
                        Fate::Failed
                    };
                }
            }
            Err(e) if would_block(&e) => {}
            Err(e) => self.fail(e),
        }
    }
}

/// The `Threads:` line of /proc/PID/status.
fn threads_of(pid: u32) -> Option<usize> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Lets this process open as many descriptors as it may: the test holds one per client.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The issue's probe: 2,000 concurrent clients of tcp_echo_server, from the Linux kernel in a
/// namespace this test makes (a TAP joined to the server's hub by vde_plug). Every client
/// connects (nonblocking, all from one thread), sends a line and waits for its echo; all
/// 2,000 are held open together before any closes. The server must serve them all, with a
/// handful of threads (a thread per connection reached 823 threads and refused 1,473).
#[test]
fn tcp_echo_server_serves_2000_concurrent_kernel_clients() {
    use ioth_tests::peers::KernelOnTap;
    let dir = tempfile::tempdir().expect("temp dir");
    let hub = dir.path().join("hub");
    let vnl = format!("hub://{}", hub.display());
    let connections = CLIENTS.to_string();
    let mut server = Server::spawn("tcp_echo_server", &[&vnl, "--connections", &connections]);
    server.wait_for("listening on TCP port 5000 (serving a hub");
    let server_pid = server.running.child().id();
    let Some(kernel) = KernelOnTap::join(&format!("vde://{}", hub.display()), &["10.0.0.1/24"])
    else {
        return; // said loudly why (and failed under CI=true)
    };
    if !ioth_tests::peers::require_tool("ping", "the 2,000 clients test") {
        return;
    }
    raise_fd_limit();
    let _ = ioth_kernel::NAME;
    let stack = ioth::Stack::new(&format!("kernel,netns={}", kernel.ns().name()), &[])
        .expect("a kernel stack in the namespace");
    let to: std::net::SocketAddr = "10.0.0.2:5000".parse().expect("address");

    // The sockets first (the kernel backend makes each on a thread that enters the
    // namespace, which takes a while), then all the connects in one burst.
    let socks: Vec<ioth::Socket> = (0..CLIENTS)
        .map(|i| {
            stack
                .socket(
                    libc::AF_INET,
                    libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    0,
                )
                .unwrap_or_else(|e| panic!("client socket {i}: {e}"))
        })
        .collect();
    // Each side learns the other's MAC first: a burst of SYNs to an unresolved neighbour
    // would mostly be dropped by the kernel's ARP queue (101 packets), which is not what is
    // measured here.
    let ping = kernel
        .ns()
        .exec(&["ping", "-c", "1", "-W", "5", "10.0.0.2"]);
    assert!(ping.contains("1 received"), "{ping}");
    let started = Instant::now();
    let mut clients: Vec<Client> = socks
        .into_iter()
        .enumerate()
        .map(|(i, sock)| {
            let mut c = Client {
                sock,
                line: format!("client {i} says ciao\n").into_bytes(),
                echo: Vec::new(),
                fate: Fate::Connecting,
                error: None,
                connected: None,
                echoed: None,
            };
            match c.sock.connect(&to.into()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                Err(e) => c.fail(e),
            }
            c
        })
        .collect();
    let all_connecting = started.elapsed();
    let mut max_threads = 0;
    let mut last_sample = None::<Instant>;
    loop {
        if last_sample.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
            max_threads = max_threads.max(threads_of(server_pid).unwrap_or(0));
            last_sample = Some(Instant::now());
        }
        let busy: Vec<usize> = (0..clients.len())
            .filter(|&i| matches!(clients[i].fate, Fate::Connecting | Fate::Echoing))
            .collect();
        if busy.is_empty() || started.elapsed() > CLIENTS_DEADLINE {
            break;
        }
        let interest: Vec<_> = busy
            .iter()
            .map(|&i| {
                let c = &clients[i];
                let events = if c.fate == Fate::Connecting {
                    libc::POLLOUT
                } else {
                    libc::POLLIN
                };
                (std::os::fd::AsRawFd::as_raw_fd(&c.sock), events)
            })
            .collect();
        let revents =
            ioth_examples::poll::wait(&interest, Some(Duration::from_millis(200))).expect("poll");
        for (&i, r) in busy.iter().zip(revents) {
            if r != 0 {
                clients[i].advance(r);
            }
        }
    }
    let elapsed = started.elapsed();
    // Every client still open: the server holds them all now.
    let threads_with_all_open = threads_of(server_pid).unwrap_or(0);
    max_threads = max_threads.max(threads_with_all_open);
    let mut fates = std::collections::BTreeMap::<Fate, usize>::new();
    for c in &clients {
        *fates.entry(c.fate).or_default() += 1;
    }
    let served = fates.get(&Fate::Served).copied().unwrap_or(0);
    // Connections that took a second or more needed the kernel to send their SYN again.
    let mut echo_waits: Vec<Duration> = clients
        .iter()
        .filter_map(|c| c.echoed.zip(c.connected).map(|(e, c)| e - c))
        .collect();
    echo_waits.sort_unstable();
    let mut waits: Vec<Duration> = clients
        .iter()
        .filter_map(|c| c.connected.map(|t| t - started))
        .collect();
    waits.sort_unstable();
    let retried = waits
        .iter()
        .filter(|w| **w >= Duration::from_secs(1))
        .count();
    let errors: Vec<String> = clients
        .iter()
        .filter_map(|c| c.error.as_ref().map(|e| e.to_string()))
        .take(5)
        .collect();
    let figures = format!(
        "{CLIENTS} clients: {fates:?} after {:.1} s (connected: median {:?}, last {:?}; \
         {retried} after a SYN retransmission; all connects started after {all_connecting:?}; \
         echo after connect: median {:?}, last {:?}); server threads: {threads_with_all_open} with \
         all open, at most {max_threads}; first errors: {errors:?}",
        elapsed.as_secs_f64(),
        waits.get(waits.len() / 2).copied().unwrap_or_default(),
        waits.last().copied().unwrap_or_default(),
        echo_waits
            .get(echo_waits.len() / 2)
            .copied()
            .unwrap_or_default(),
        echo_waits.last().copied().unwrap_or_default(),
    );
    eprintln!("{figures}");
    drop(clients);
    drop(stack);
    if served != CLIENTS {
        // The server waits for connections that will never come: stop it before failing.
        drop(server);
        drop(kernel);
        panic!("not every client was served: {figures}");
    }
    let (status, lines, stderr) = server.finish();
    drop(kernel);
    assert!(status.success(), "server: {status:?}\n{stderr}");
    let closed = lines
        .iter()
        .filter(|l| l.contains(" closed after ") && l.ends_with(" bytes echoed"))
        .count();
    assert_eq!(closed, CLIENTS, "server closes: {figures}\n{stderr}");
    assert!(
        max_threads > 0 && max_threads <= 8,
        "the server should serve every client from a handful of threads: {figures}"
    );
}
