//! `hub:///PATH` across processes: the first process given a path serves a hub there and
//! the others join it, also when they start at once; a path left by a killed server is
//! taken over; the served files go when the hub does (also while threads of the process
//! reopen it); a directory holding files no hub made is refused, naming it, and left as
//! it was.
//!
//! The other processes are this test binary run again (`--exact child_process`) with
//! `HUB_PATHS_CHILD` saying what to do; they report on stdout lines starting `CHILD `.

mod common;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const CHILD_ENV: &str = "HUB_PATHS_CHILD";
const VNL_ENV: &str = "HUB_PATHS_VNL";
/// How long a child may take to say something (a guard against hangs, not a measure).
const GUARD: Duration = Duration::from_secs(20);

const ME: [u8; 6] = [2, 0, 0, 0, 0, 0x51];
const ECHOER: [u8; 6] = [2, 0, 0, 0, 0, 0x52];

fn mac(i: u8) -> [u8; 6] {
    [2, 0, 0, 0, 1, i]
}

/// A child process running [`child_process`] (see `ioth_test_child`).
struct Peer(ioth_test_child::ChildTest);

impl Peer {
    /// Starts `role` on `vnl`.
    fn spawn(role: &str, vnl: &str) -> Peer {
        Peer(ioth_test_child::ChildTest::spawn(
            "child_process",
            "CHILD ",
            &[(CHILD_ENV, role), (VNL_ENV, vnl)],
        ))
    }

    /// The next report of the child (panics after [`GUARD`] or if it exits first).
    fn report(&self) -> String {
        self.0.report(GUARD)
    }

    /// Closes its stdin (the child's cue to drop its link and exit) and waits for it.
    fn finish(self) {
        self.0.finish(GUARD);
    }

    /// SIGKILL and reap: the child runs no destructor.
    fn kill9(self) {
        self.0.kill9();
    }
}

/// "served" or "joined": how this process is on the hub at `path`.
fn how(path: &Path) -> &'static str {
    if vde::hub::served_by_this_process(path) {
        "served"
    } else {
        "joined"
    }
}

/// True once stdin is at EOF (the parent closed it), waiting at most `ms`.
fn stdin_closed(ms: i32) -> bool {
    if !readable(0, ms) {
        return false;
    }
    let mut b = [0u8; 64];
    // SAFETY: reading into a valid buffer from fd 0, which this process owns.
    unsafe { libc::read(0, b.as_mut_ptr().cast(), b.len()) <= 0 }
}

/// The other processes of these tests (does nothing when run as a test).
///
/// Roles: `exit` calls `std::process::exit` at once, `leak` forgets its link and returns;
/// `echo` answers every test frame with one whose tag is one more, to its sender;
/// `mesh:N:I` sends a broadcast tagged I every 20 ms and reports `heard-all` once it heard
/// all of 0..N but itself. Both first report `served` or `joined` (or `error: TEXT`), and
/// drop their link and exit 0 when stdin closes.
#[test]
fn child_process() {
    let Some(role) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let role = role.to_string_lossy().into_owned();
    let vnl = std::env::var(VNL_ENV).expect("the VNL");
    let path = vnl.strip_prefix("hub://").expect("a hub:// VNL").to_owned();
    let link = match vde::open(&vnl) {
        Ok(l) => l,
        Err(e) => {
            println!("CHILD error: {e}");
            return;
        }
    };
    println!("CHILD {}", how(Path::new(&path)));
    let mut buf = [0u8; 1600];
    if role == "exit" {
        // No destructor runs: the link is still held when the process ends.
        std::process::exit(0);
    } else if role == "leak" {
        // The harness returns from main normally, the hub never dropped.
        std::mem::forget(link);
        return;
    } else if role == "echo" {
        while !stdin_closed(0) {
            if !readable(link.as_raw_fd(), 20) {
                continue;
            }
            while let Ok(n) = link.recv(&mut buf) {
                let f = &buf[..n];
                if n >= 21 && f[12..14] == [0x88, 0xb5] {
                    let src: [u8; 6] = f[6..12].try_into().expect("6 bytes");
                    link.send(&test_frame(src, ECHOER, f[20].wrapping_add(1), n))
                        .expect("send");
                }
            }
        }
    } else if let Some(spec) = role.strip_prefix("mesh:") {
        let (n, me) = spec.split_once(':').expect("mesh:N:I");
        let (n, me): (u8, u8) = (n.parse().expect("N"), me.parse().expect("I"));
        let mut heard = std::collections::BTreeSet::new();
        let mut told = false;
        while !stdin_closed(0) {
            link.send(&test_frame(BCAST, mac(me), me, 60))
                .expect("send");
            if readable(link.as_raw_fd(), 20) {
                while let Ok(len) = link.recv(&mut buf) {
                    if len >= 21 && buf[12..14] == [0x88, 0xb5] && buf[20] != me {
                        heard.insert(buf[20]);
                    }
                }
            }
            if !told && heard.len() == usize::from(n) - 1 {
                println!("CHILD heard-all");
                told = true;
            }
        }
    } else {
        panic!("unknown role {role}");
    }
    drop(link);
}

/// A frame to the echoing peer comes back with its tag plus one.
fn echo_round(link: &vde::Link, tag: u8) {
    link.send(&test_frame(BCAST, ME, tag, 100)).expect("send");
    let f = recv_matching(link, Duration::from_secs(5), |f| {
        f.len() > 20 && f[12..14] == [0x88, 0xb5] && f[20] == tag.wrapping_add(1)
    })
    .unwrap_or_else(|| panic!("no echo of tag {tag}"));
    assert_eq!(f.len(), 100);
}

/// Polls `cond` every 10 ms until true; panics with `what` after [`GUARD`].
fn poll_until(mut cond: impl FnMut() -> bool, what: &str) {
    let end = Instant::now() + GUARD;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_second_process_joins_the_hub_the_first_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub");
    let vnl = format!("hub://{}", path.display());
    let server = Peer::spawn("echo", &vnl);
    assert_eq!(server.report(), "served");

    // This process is the second: it joins, and frames go both ways.
    let link = vde::open(&vnl).expect("join the served hub");
    assert!(!vde::hub::served_by_this_process(&path));
    echo_round(&link, 1);
    echo_round(&link, 7);

    // Per-member impairment holds for a joined member too: with loss=100 none of its
    // frames reach the hub, while it still receives.
    let lossy = vde::open(&format!("{vnl}[loss=100]")).expect("join with loss");
    lossy.send(&test_frame(BCAST, ME, 40, 100)).expect("send");
    assert!(
        recv_matching(&link, Duration::from_millis(300), |f| f.len() > 20
            && f[20] == 41)
        .is_none(),
        "a frame of the lossy member was echoed"
    );
    assert!(lossy.dropped() >= 1);
    echo_round(&link, 9);
    assert!(
        recv_matching(&lossy, Duration::from_secs(5), |f| f.len() > 20
            && f[20] == 10)
        .is_some(),
        "the lossy member receives"
    );

    // The serving process exits: its members are cut off (link down) and its files gone.
    server.finish();
    assert!(!path.exists(), "the server's directory went with it");
    let mut buf = [0u8; 1600];
    poll_until(
        || {
            link.recv(&mut buf)
                .is_err_and(|e| e.raw_os_error() == Some(libc::ENETDOWN))
        },
        "the joined member to go down",
    );
    assert!(!link.is_up());
}

/// Processes started together on one path: exactly one serves, all hear each other.
fn start_together(path: &Path, n: u8) {
    let vnl = format!("hub://{}", path.display());
    let peers: Vec<Peer> = (0..n)
        .map(|i| Peer::spawn(&format!("mesh:{n}:{i}"), &vnl))
        .collect();
    let hows: Vec<String> = peers.iter().map(Peer::report).collect();
    assert_eq!(
        hows.iter().filter(|h| *h == "served").count(),
        1,
        "exactly one serves: {hows:?}"
    );
    assert_eq!(
        hows.iter().filter(|h| *h == "joined").count(),
        usize::from(n) - 1,
        "{hows:?}"
    );
    for p in &peers {
        assert_eq!(p.report(), "heard-all");
    }
    // Joined ones first, so that none of them is cut off before it is told to stop.
    let (server, joined): (Vec<_>, Vec<_>) = peers
        .into_iter()
        .zip(hows)
        .partition(|(_, h)| h == "served");
    for (p, _) in joined.into_iter().chain(server) {
        p.finish();
    }
    assert!(!path.exists(), "{} was left behind", path.display());
}

#[test]
fn processes_starting_at_once_one_serves_the_others_join() {
    let dir = tempfile::tempdir().expect("temp dir");
    for round in 0..5 {
        start_together(&dir.path().join(format!("fresh{round}")), 4);
    }
    // The same on a path a killed server left: one takes it over, the others join.
    for round in 0..5 {
        let path = dir.path().join(format!("stale{round}"));
        std::fs::create_dir(&path).expect("mkdir");
        drop(std::os::unix::net::UnixListener::bind(path.join("ctl")).expect("bind"));
        start_together(&path, 4);
    }
}

#[test]
fn a_path_left_by_a_killed_server_is_taken_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub");
    let vnl = format!("hub://{}", path.display());
    let first = Peer::spawn("echo", &vnl);
    assert_eq!(first.report(), "served");
    // A joined member of the first process's data socket is in the directory too.
    let member = vde::open(&vnl).expect("join");
    echo_round(&member, 1);
    first.kill9();
    assert!(
        std::fs::symlink_metadata(path.join("ctl")).is_ok_and(|m| m.file_type().is_socket()),
        "SIGKILL left the ctl socket behind"
    );
    drop(member);

    // The next run takes the stale path over and serves; a new process joins it.
    let link = vde::open(&vnl).expect("take the stale path over");
    assert!(vde::hub::served_by_this_process(&path));
    let second = Peer::spawn("echo", &vnl);
    assert_eq!(second.report(), "joined");
    echo_round(&link, 3);
    second.finish();
    drop(link);
    assert!(!path.exists(), "the taken-over directory went with its hub");
}

#[test]
fn dropping_the_last_member_removes_what_the_hub_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub");
    let vnl = format!("switch://{}", path.display());
    let a = vde::open(&vnl).expect("serve");
    let b = vde::open(&vnl).expect("the same hub, in-process");
    assert!(path.join("ctl").exists());
    a.send(&test_frame(BCAST, ME, 5, 60)).expect("send");
    assert_eq!(
        recv_timeout(&b, Duration::from_secs(5)).expect("frame")[20],
        5
    );
    drop(a);
    assert!(path.join("ctl").exists(), "b still uses the hub");
    drop(b);
    assert!(
        !path.exists(),
        "the hub's directory is gone with its last member"
    );
    // Opened again at once, the path is served afresh.
    let c = vde::open(&vnl).expect("serve again");
    assert!(vde::hub::served_by_this_process(&path));
    drop(c);
    assert!(!path.exists());

    // An empty directory that was there is used, and removed at the end.
    std::fs::create_dir(&path).expect("mkdir");
    let d = vde::open(&vnl).expect("serve in the empty directory");
    assert!(path.join("ctl").exists());
    drop(d);
    assert!(!path.exists());

    // A file someone puts in the directory while it is served stays, and so does the
    // directory: the hub removes only what it made.
    let e = vde::open(&vnl).expect("serve");
    std::fs::write(path.join("later.txt"), b"mine").expect("write");
    drop(e);
    let left: Vec<_> = std::fs::read_dir(&path)
        .expect("read")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, ["later.txt"]);
}

/// A process that exits without dropping its hub (`std::process::exit`, or a hub no one
/// drops) still removes the hub's files, on its way out.
#[test]
fn exiting_without_dropping_the_hub_removes_its_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    for role in ["exit", "leak"] {
        let path = dir.path().join(role);
        let vnl = format!("hub://{}", path.display());
        let mut p = Peer::spawn(role, &vnl);
        assert_eq!(p.report(), "served");
        let st = p.0.wait(GUARD);
        assert!(st.success(), "{role}: {st}");
        assert!(!path.exists(), "{role}: {} was left behind", path.display());
    }
}

/// Threads of one process opening and dropping one path at once always get this process's
/// hub (never a client of their own hub while it ends), and nothing is left at the end.
#[test]
fn threads_of_one_process_share_its_hub_while_it_comes_and_goes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub");
    let vnl = format!("hub://{}", path.display());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (vnl, path) = (vnl.clone(), path.clone());
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let link = vde::open(&vnl).expect("open");
                    assert!(vde::hub::served_by_this_process(&path), "joined itself");
                    drop(link);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread failed");
    }
    assert!(!path.exists());
}

#[test]
fn a_directory_with_files_no_hub_made_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub");
    std::fs::create_dir(&path).expect("mkdir");
    // A dead server's ctl socket, and a file of somebody else's.
    drop(std::os::unix::net::UnixListener::bind(path.join("ctl")).expect("bind"));
    std::fs::File::create(path.join("notes.txt"))
        .and_then(|mut f| f.write_all(b"mine"))
        .expect("write");
    let vnl = format!("hub://{}", path.display());
    let e = vde::open(&vnl).expect_err("refused");
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    let text = e.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("notes.txt"), "{text}");
    assert_eq!(
        text.matches(&path.display().to_string()).count(),
        1,
        "the path once: {text}"
    );
    assert!(!text.contains("os error"), "no bare errno text: {text}");
    // Nothing was removed.
    assert!(path.join("notes.txt").exists());
    assert!(path.join("ctl").exists());

    // Without a ctl socket the same.
    std::fs::remove_file(path.join("ctl")).expect("rm");
    let e = vde::open(&vnl).expect_err("refused");
    assert!(e.to_string().contains("notes.txt"), "{e}");
    assert!(path.join("notes.txt").exists());

    // A path that is a file is refused by name too.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let e = vde::open(&format!("hub://{}", file.display())).expect_err("refused");
    assert!(e.to_string().contains(&file.display().to_string()), "{e}");
    assert!(file.is_file());
}

#[test]
fn errors_name_the_path_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no/such/dir/hub");
    let e = vde::open(&format!("hub://{}", missing.display())).expect_err("no parent");
    let text = e.to_string();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{text}");
    assert_eq!(
        text.matches("No such file or directory").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches(&*dir.path().to_string_lossy()).count(),
        1,
        "{text}"
    );
}
