//! smoltcp stacks in two processes given the same `vnl=hub:///PATH` meet: the first serves
//! the hub, the second joins it, and UDP goes between them; after a SIGKILL of the serving
//! process the next one takes the path over; the served directory goes with the last stack
//! using it; a directory holding files no hub made is refused with an error naming it once.
//!
//! The other process is this test binary run again (`--exact peer_process`).

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::net::UdpSocket;
use ioth_tests::fixtures::smoltcp_on;

const PEER_ENV: &str = "HUB_PROCESSES_VNL";
/// How long a peer may take to say something (a guard against hangs, not a measure).
const GUARD: Duration = Duration::from_secs(20);
const ECHO_IP: [u8; 4] = [10, 88, 0, 1];
const ECHO_PORT: u16 = 7000;

/// The peer process: a smoltcp stack at 10.88.0.1 on the VNL in `HUB_PROCESSES_VNL`
/// echoing UDP on port 7000 until its stdin closes. It reports `PEER served` or `PEER
/// joined` (or `PEER error: TEXT`) once listening. Does nothing when run as a test.
#[test]
fn peer_process() {
    let Ok(vnl) = std::env::var(PEER_ENV) else {
        return;
    };
    let path = vnl.strip_prefix("hub://").expect("a hub:// VNL").to_owned();
    let stack = smoltcp_on(&vnl, Some(ECHO_IP));
    let sock = UdpSocket::bind_on(&stack, SocketAddr::from((ECHO_IP, ECHO_PORT))).expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let how = if vde::hub::served_by_this_process(Path::new(&path)) {
        "served"
    } else {
        "joined"
    };
    println!("PEER {how}");
    let (tx, stdin_closed) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = tx.send(());
    });
    let mut buf = [0u8; 1500];
    while stdin_closed.try_recv().is_err() {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            sock.send_to(&buf[..n], from).expect("echo");
        }
    }
    drop(sock);
    drop(stack);
}

/// A peer process running [`peer_process`] (see `ioth_test_child`).
struct Peer(ioth_test_child::ChildTest);

impl Peer {
    fn spawn(vnl: &str) -> Peer {
        Peer(ioth_test_child::ChildTest::spawn(
            "peer_process",
            "PEER ",
            &[(PEER_ENV, vnl)],
        ))
    }

    /// How the peer attached: "served" or "joined".
    fn report(&self) -> String {
        self.0.report(GUARD)
    }

    /// Closes its stdin (its cue to drop its stack and exit) and waits for it.
    fn finish(self) {
        self.0.finish(GUARD);
    }

    /// SIGKILL and reap: the peer runs no destructor.
    fn kill9(self) {
        self.0.kill9();
    }
}

/// A datagram from `stack` to the peer comes back (resent every 100 ms while ARP settles).
fn udp_echo(stack: &Stack, text: &str) {
    let sock = UdpSocket::bind_on(stack, "0.0.0.0:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let to = SocketAddr::from((ECHO_IP, ECHO_PORT));
    let end = Instant::now() + GUARD;
    let mut buf = [0u8; 1500];
    while Instant::now() < end {
        sock.send_to(text.as_bytes(), to).expect("send");
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            assert_eq!(from, to);
            assert_eq!(&buf[..n], text.as_bytes());
            return;
        }
    }
    panic!("no echo of {text:?} from {to}");
}

#[test]
fn stacks_in_two_processes_meet_on_one_hub_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub");
    let vnl = format!("hub://{}", path.display());
    let peer = Peer::spawn(&vnl);
    assert_eq!(peer.report(), "served");
    let stack = smoltcp_on(&vnl, Some([10, 88, 0, 2]));
    assert!(!vde::hub::served_by_this_process(&path), "this one joins");
    udp_echo(&stack, "ciao");
    udp_echo(&stack, "mondo");
    drop(stack);
    peer.finish();
    assert!(
        !path.exists(),
        "the directory went with the serving process"
    );

    // The other way round: this process serves, the peer joins.
    let stack = smoltcp_on(&vnl, Some([10, 88, 0, 2]));
    assert!(vde::hub::served_by_this_process(&path));
    let peer = Peer::spawn(&vnl);
    assert_eq!(peer.report(), "joined");
    udp_echo(&stack, "again");
    peer.finish();
    drop(stack);
    assert!(!path.exists(), "the directory went with the last stack");
}

#[test]
fn after_a_sigkill_the_next_process_takes_the_path_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub");
    let vnl = format!("hub://{}", path.display());
    let first = Peer::spawn(&vnl);
    assert_eq!(first.report(), "served");
    first.kill9();
    assert!(
        path.join("ctl").exists(),
        "SIGKILL left the ctl socket behind"
    );

    let second = Peer::spawn(&vnl);
    assert_eq!(second.report(), "served", "the stale path was taken over");
    let stack = smoltcp_on(&vnl, Some([10, 88, 0, 2]));
    assert!(!vde::hub::served_by_this_process(&path));
    udp_echo(&stack, "after the kill");
    drop(stack);
    second.finish();
    assert!(!path.exists());
}

#[test]
fn a_stack_on_a_directory_holding_foreign_files_is_refused_naming_it_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub");
    std::fs::create_dir(&path).expect("mkdir");
    std::fs::write(path.join("notes.txt"), b"mine").expect("write");
    let vnl = format!("hub://{}", path.display());
    let e = Stack::new("smoltcp", &[vnl.as_str()]).expect_err("refused");
    let text = e.to_string();
    let shown = path.display().to_string();
    assert!(text.contains("notes.txt"), "{text}");
    assert_eq!(text.matches(&shown).count(), 1, "the path once: {text}");
    assert!(
        text.matches("os error").count() <= 1,
        "errno text once: {text}"
    );
    assert!(path.join("notes.txt").exists());

    // An errno from the system is given once too.
    let missing = dir.path().join("no/such/hub");
    let e = Stack::new(
        "smoltcp",
        &[format!("hub://{}", missing.display()).as_str()],
    )
    .expect_err("no parent directory");
    let text = e.to_string();
    assert_eq!(
        text.matches("No such file or directory").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches(&*dir.path().to_string_lossy()).count(),
        1,
        "the path once: {text}"
    );
}
