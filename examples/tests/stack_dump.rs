//! `stack_dump` as a user runs it: its help and a bad command line; the demo's dumps show
//! the addresses, routes and sockets, its counters what was sent, and `--pcap FILE` leaves
//! a capture that holds the client's datagrams; with `--loss` the client retransmits and
//! says so.

mod common;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    common::run("stack_dump", args)
}

/// The number after `word` in `line` (`"... retransmitted 4"` → 4).
fn number_after(text: &str, line_start: &str, word: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no line {line_start:?} in {text}"));
    let mut it = line.split_whitespace();
    it.by_ref().find(|w| *w == word);
    it.next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {word:?} in {line:?}"))
}

#[test]
fn help_and_a_bad_command_line() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("Usage: stack_dump") && out.contains("--pcap <FILE>"),
        "{out}"
    );
    let (code, _, err) = run(&["--datagrams", "many"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("many") && !err.contains("panicked"), "{err}");
    let (code, _, err) = run(&["--loss", "300"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("300"), "{err}");
}

#[test]
fn the_demo_dumps_both_stacks_counts_and_captures() {
    let dir = tempfile::tempdir().expect("a directory");
    let pcap = dir.path().join("client.pcap");
    let pcap_text = pcap.to_str().expect("a UTF-8 path");
    let (code, out, err) = run(&["--pcap", pcap_text, "--datagrams", "12"]);
    assert_eq!(code, Some(0), "{out}{err}");
    for want in [
        "12 UDP datagrams sent, 12 received",
        "100000 bytes echoed over TCP",
        "=== server (smoltcp) ===",
        "=== client (smoltcp) ===",
        "    inet 10.0.0.1/24 brd 10.0.0.255 scope global vde0\n",
        "    inet 10.0.0.2/24 brd 10.0.0.255 scope global vde0\n",
        "default via 10.0.0.1 dev vde0\n",
        "10.0.0.0/24 dev vde0 proto kernel scope link src 10.0.0.1\n",
        "# ss -tuanp\n",
        "# netstat -s\n",
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{out}");
    }
    let socket_line = |netid: &str, state: &str, local: &str| {
        out.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 7 && w[0] == netid && w[1] == state && w[4] == local
        })
    };
    assert!(socket_line("tcp", "LISTEN", "10.0.0.1:7"), "{out}");
    assert!(socket_line("tcp", "ESTAB", "10.0.0.1:7"), "{out}");
    assert!(socket_line("udp", "UNCONN", "10.0.0.1:5000"), "{out}");
    // The counters the traffic left.
    assert_eq!(number_after(&out, "stack_dump: server udp:", "in"), 12);
    assert_eq!(number_after(&out, "stack_dump: client udp:", "out"), 12);
    let tx = number_after(&out, "stack_dump: client vde0:", "tx");
    assert!(tx >= 12 + 100_000 / 1460, "{out}");
    assert!(number_after(&out, "stack_dump: client vde0:", "packets") >= 12);
    // The capture: every frame of the client's link, the 12 datagrams among them.
    let printed = number_after(&out, "stack_dump: pcap", &format!("{pcap_text}:"));
    let frames = vde::pcap::parse(&std::fs::read(&pcap).expect("the capture")).expect("a pcap");
    assert!(
        frames.len() as u64 >= printed && printed > 0,
        "{printed} {}",
        frames.len()
    );
    let datagrams = frames
        .iter()
        .filter(|f| {
            let d = &f.data;
            d.len() > 42
                && d[12..14] == [0x08, 0x00]
                && d[23] == 17
                && d[36..38] == 5000u16.to_be_bytes()
        })
        .count();
    assert_eq!(datagrams, 12);
}

#[test]
fn with_loss_the_client_retransmits() {
    let (code, out, err) = run(&[
        "--loss",
        "10",
        "--datagrams",
        "5",
        "--vnl",
        "hub://@stack-dump-loss",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("[loss=10]"), "{out}");
    let retrans = number_after(&out, "stack_dump: client udp:", "retransmitted");
    assert!(retrans > 0, "{out}");
}
