//! libiothdns through C: programs built against `iothdns.h` and libioth.so compose messages
//! that hickory parses, parse messages hickory built (CNAME chain, MX, TXT, AAAA, SOA, OPT,
//! and every cut-short prefix), and serve a Rust client with the process_request helpers on
//! the kernel stack over loopback.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    assert_checks, c_source, cc, compile, include_dir, run, run_compiler, wait_patiently, work_dir,
};
use hickory_proto::op::{Edns, Message, OpCode, Query};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn tagged(stdout: &str, tag: &str) -> Vec<u8> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{tag} ")))
        .unwrap_or_else(|| panic!("no {tag} line in:\n{stdout}"));
    unhex(line)
}

/// A query and a full reply composed with the put functions are what hickory reads, with
/// case-insensitive compression and an uncompressed SRV target; the error conventions hold.
#[test]
fn c_composed_messages_parse_with_hickory() {
    let out = run(
        Command::new(compile("iothdns_compose.c", &[])),
        "iothdns_compose",
    );
    assert_checks(
        &out,
        &[
            "put_header",
            "getbuf",
            "retrieve_header",
            "rewrite_header",
            "put_rr_earlier_section_einval",
            "failed_packet_getbuf_null",
            "put_rr_bad_section_einval",
            "put_header_empty_label_einval",
            "put_header_long_label_enametoolong",
            "put_header_null_efault",
            "put_rr_null_efault",
            "put_on_freed_einval",
            "free_twice_einval",
            "getbuf_freed_einval",
            "header_only",
            "over_65535_emsgsize",
        ],
        "iothdns_compose",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);

    let q = Message::from_vec(&tagged(&stdout, "query")).unwrap();
    assert_eq!(q.metadata.id, 0x1234);
    assert!(q.metadata.recursion_desired);
    assert_eq!(q.queries.len(), 1);
    assert_eq!(q.queries[0].name().to_ascii(), "www.Example.com.");
    assert_eq!(q.queries[0].query_type(), RecordType::AAAA);
    assert!(q.answers.is_empty() && q.additionals.is_empty());

    let bytes = tagged(&stdout, "reply");
    // The flags word as given, Z bit included (hickory's header has no Z).
    assert_eq!(&bytes[2..4], &[0x85, 0x40]);
    let r = Message::from_vec(&bytes).unwrap();
    assert_eq!(r.metadata.id, 0xbeef);
    assert!(r.metadata.authoritative);
    assert_eq!(r.answers.len(), 2);
    assert_eq!(r.authorities.len(), 2);
    assert_eq!(r.additionals.len(), 4);
    match &r.answers[0].data {
        RData::CNAME(t) => assert_eq!(t.0, name("host.example.com.")),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.answers[0].ttl, 300);
    match &r.answers[1].data {
        RData::AAAA(a) => assert_eq!(a.0, "2001:db8::1".parse::<Ipv6Addr>().unwrap()),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.answers[1].name, name("host.example.com."));
    match &r.authorities[0].data {
        RData::NS(n) => assert_eq!(n.0, name("ns1.example.com.")),
        other => panic!("{other:?}"),
    }
    match &r.authorities[1].data {
        RData::MX(mx) => {
            assert_eq!(mx.preference, 10);
            assert_eq!(mx.exchange, name("mail.example.com."));
        }
        other => panic!("{other:?}"),
    }
    match &r.additionals[0].data {
        RData::A(a) => assert_eq!(a.0, Ipv4Addr::new(192, 0, 2, 53)),
        other => panic!("{other:?}"),
    }
    match &r.additionals[1].data {
        RData::TXT(t) => {
            assert_eq!(&*t.txt_data[0], b"v=spf1 -all");
            assert_eq!(&*t.txt_data[1], &[b'x'; 255][..], "cut at 255 bytes");
        }
        other => panic!("{other:?}"),
    }
    match &r.additionals[2].data {
        RData::SRV(s) => {
            assert_eq!((s.priority, s.weight, s.port), (1, 2, 5060));
            assert_eq!(s.target, name("host.example.com."));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.additionals[3].record_type(), RecordType::Unknown(65280));
    assert_eq!(&bytes[bytes.len() - 10..], &[0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    // "example" is spelled out twice only: in the question and in the uncompressed SRV
    // target; every other name points back, whatever its case.
    let spelled = |label: &[u8]| bytes.windows(label.len()).filter(|w| *w == label).count();
    assert_eq!(spelled(b"\x07example"), 2, "{}", hex(&bytes));
    assert_eq!(spelled(b"\x07EXAMPLE"), 0);
    assert_eq!(spelled(b"\x04host\x07example\x03com\x00"), 1);

    let rewritten = Message::from_vec(&tagged(&stdout, "rewritten")).unwrap();
    assert_eq!(rewritten.metadata.id, 0x4242);
    assert!(rewritten.metadata.recursion_available);
}

fn record(owner: &str, ttl: u32, data: RData) -> Record {
    Record::from_rdata(name(owner), ttl, data)
}

/// A reply hickory built: a CNAME chain to two A and an AAAA, NS and SOA, MX, TXT, OPT.
fn hickory_reply() -> Vec<u8> {
    let mut m = Message::response(0x5151, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.add_query(Query::query(name("www.example.org."), RecordType::A));
    m.add_answer(record(
        "www.example.org.",
        300,
        RData::CNAME(CNAME(name("alias.example.org."))),
    ));
    m.add_answer(record(
        "alias.example.org.",
        300,
        RData::CNAME(CNAME(name("host.example.org."))),
    ));
    m.add_answer(record(
        "host.example.org.",
        60,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    m.add_answer(record(
        "host.example.org.",
        60,
        RData::A(A::new(192, 0, 2, 2)),
    ));
    m.add_answer(record(
        "host.example.org.",
        60,
        RData::AAAA(AAAA("2001:db8::2".parse().unwrap())),
    ));
    m.add_authority(record(
        "example.org.",
        3600,
        RData::NS(NS(name("ns.example.org."))),
    ));
    m.add_authority(record(
        "example.org.",
        3600,
        RData::SOA(SOA::new(
            name("ns.example.org."),
            name("hostmaster.example.org."),
            2026,
            7200,
            900,
            86400,
            60,
        )),
    ));
    m.add_additional(record(
        "example.org.",
        3600,
        RData::MX(MX::new(10, name("mail.example.org."))),
    ));
    m.add_additional(record(
        "example.org.",
        3600,
        RData::TXT(TXT::new(vec!["hello world".into(), "v=1".into()])),
    ));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    m.set_edns(edns);
    m.to_vec().unwrap()
}

/// The get functions read a hickory-built reply record by record, and every prefix of it
/// fails cleanly (no crash, no read past the copy of exactly that many bytes; under
/// valgrind when it is installed).
#[test]
fn c_parses_hickory_replies_and_every_cut() {
    let reply = hickory_reply();
    let file = work_dir().join(format!("iothdns-msgs-{}", std::process::id()));
    let mut text = format!("{}\n", hex(&reply));
    for cut in 0..reply.len() {
        text.push_str(&hex(&reply[..cut]));
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let exe = compile("iothdns_parse.c", &[]);
    let valgrind = Command::new("valgrind").arg("--version").output().is_ok();
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args(["-q", "--error-exitcode=99", "--leak-check=no"])
            .arg(&exe);
        c
    } else {
        eprintln!("valgrind is not installed: the cut messages run without it");
        Command::new(&exe)
    };
    cmd.arg(&file);
    let out = run(cmd, "iothdns_parse");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_checks(
        &out,
        &[
            "null_qnamebuf_gives_null_qname",
            "get_rr_null_namebuf",
            "rewrite_in_place",
            "retrieve_after_rewrite",
            "getbuf_is_callers_buffer",
            "put_on_parsed_einval",
            "short_header_ebadmsg",
            "oversize_emsgsize",
            "null_buf_efault",
            "root_owner_rr",
            "int32_past_end",
            "int16_still_there",
            "int8_at_end",
            "get_rr_end_is_0",
        ],
        "iothdns_parse",
    );
    let blocks: Vec<&str> = stdout.split("message ").skip(1).collect();
    assert_eq!(blocks.len(), reply.len() + 1);
    let full = blocks[0];
    let lines: Vec<&str> = full.lines().collect();
    assert_eq!(lines[1], "header 20817 8180 www.example.org 1 1", "{full}");
    for want in [
        "name alias.example.org",
        "name host.example.org",
        "a 192.0.2.1",
        "a 192.0.2.2",
        "aaaa 2001:db8::2",
        "name ns.example.org",
        "soa ns.example.org hostmaster.example.org 2026",
        "mx 10 mail.example.org",
        "txt 11 hello world",
        "txt 3 v=1",
        &format!("txt_end {}", libc::EBADMSG),
        "end 0",
    ] {
        assert!(lines.contains(&want), "{want:?} missing:\n{full}");
    }
    let rrs: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("rr "))
        .collect();
    assert_eq!(rrs.len(), 10, "{full}");
    assert!(rrs[..5].iter().all(|l| l.starts_with("rr 1 ")));
    assert!(rrs[5..7].iter().all(|l| l.starts_with("rr 2 ")));
    assert!(rrs[7..].iter().all(|l| l.starts_with("rr 3 ")));
    assert!(rrs[0].ends_with(" www.example.org") && rrs[2].ends_with(" host.example.org"));
    assert!(
        rrs[9].starts_with("rr 3 41 1232 "),
        "the OPT record: {}",
        rrs[9]
    );
    // Every cut parses to a clean failure or a clean end, never further than the bytes.
    // (The last block is followed by the checks' lines.)
    let last_of = |block: &str| -> String {
        block
            .lines()
            .find(|l| l.starts_with("end ") || l.starts_with("noheader "))
            .unwrap_or("")
            .to_owned()
    };
    for (cut, block) in blocks[1..].iter().enumerate() {
        let last = last_of(block);
        let ok = last == "end 0"
            || last == format!("end {}", libc::EBADMSG)
            || last == format!("noheader {}", libc::EBADMSG);
        assert!(ok, "cut at {cut}: {block}");
    }
    assert_eq!(
        last_of(blocks[reply.len()]),
        format!("end {}", libc::EBADMSG),
        "one byte short: the last record is cut"
    );
    let _ = std::fs::remove_file(&file);
}

/// A test_server.c-shaped C server on the kernel stack answers a Rust client over UDP and
/// TCP on loopback: answers, NXDOMAIN, truncation to 512 bytes or the client's EDNS size,
/// full replies with EDNS and over TCP, no answer for NULL or failed replies, responses
/// and garbage dropped without calling back, an empty TCP connection.
#[test]
fn c_process_request_serves_a_rust_client() {
    let exe = compile("iothdns_server.c", &[]);
    let mut child = Command::new(exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let ports: Vec<u16> = first
        .trim()
        .strip_prefix("ports ")
        .unwrap_or_else(|| panic!("server said {first:?}"))
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    let (udp_port, tcp_port) = (ports[0], ports[1]);

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", udp_port)).unwrap();
    let ask = |qname: &str, qtype: RecordType, edns: Option<u16>| -> Option<(Vec<u8>, Message)> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(name(qname), qtype));
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            m.set_edns(e);
        }
        sock.send(&m.to_vec().unwrap()).unwrap();
        let wait = if qname.starts_with("none") || qname.starts_with("bad") {
            Duration::from_millis(500)
        } else {
            ioth_tests::PATIENCE
        };
        sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 65536];
        let n = sock.recv(&mut buf).ok()?;
        let reply = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(reply.metadata.id, m.metadata.id);
        Some((buf[..n].to_vec(), reply))
    };

    let (_, r) = ask("test.fake.", RecordType::A, None).expect("an answer");
    assert_eq!(r.metadata.response_code.low(), 0);
    assert!(r.metadata.authoritative);
    match &r.answers[0].data {
        RData::A(a) => assert_eq!(a.0, Ipv4Addr::new(10, 20, 30, 40)),
        other => panic!("{other:?}"),
    }
    let (_, r) = ask("elsewhere.fake.", RecordType::A, None).expect("an answer");
    assert_eq!(r.metadata.response_code.low(), 3, "NXDOMAIN");

    let (bytes, r) = ask("big.fake.", RecordType::TXT, None).expect("a truncated answer");
    assert!(
        bytes.len() <= 512 && r.metadata.truncation,
        "{} bytes",
        bytes.len()
    );
    assert_eq!(r.queries.len(), 1);
    assert!(r.answers.is_empty());
    let (bytes, r) = ask("big.fake.", RecordType::TXT, Some(1232)).expect("a truncated answer");
    assert!(bytes.len() <= 1232 && r.metadata.truncation);
    let (bytes, r) = ask("big.fake.", RecordType::TXT, Some(8192)).expect("the full answer");
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 20);
    assert!(bytes.len() > 4000);

    assert!(
        ask("none.fake.", RecordType::A, None).is_none(),
        "NULL reply: no answer"
    );
    assert!(
        ask("bad.fake.", RecordType::A, None).is_none(),
        "failed reply: not sent"
    );
    // A response and garbage are dropped before the callback.
    let mut resp = Message::response(9, OpCode::Query);
    resp.add_query(Query::query(name("test.fake."), RecordType::A));
    sock.send(&resp.to_vec().unwrap()).unwrap();
    sock.send(&[1, 2, 3, 4, 5]).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 512];
    assert!(
        sock.recv(&mut buf).is_err(),
        "no reply to a response or garbage"
    );

    let tcp_ask = |qname: &str, qtype: RecordType| -> Message {
        let mut m = Message::query();
        m.add_query(Query::query(name(qname), qtype));
        let q = m.to_vec().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
        s.set_read_timeout(Some(ioth_tests::PATIENCE)).unwrap();
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        // In two pieces: the helper reads the frame in full.
        s.write_all(&framed[..3]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(&framed[3..]).unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut reply).unwrap();
        Message::from_vec(&reply).unwrap()
    };
    let r = tcp_ask("test.fake.", RecordType::ANY);
    assert_eq!(r.answers.len(), 1);
    let r = tcp_ask("big.fake.", RecordType::TXT);
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 20);
    // A connection closed before any message.
    drop(TcpStream::connect(("127.0.0.1", tcp_port)).unwrap());
    std::thread::sleep(Duration::from_millis(200));

    let (_, r) = ask("quit.fake.", RecordType::A, None).expect("an answer");
    assert_eq!(r.metadata.response_code.low(), 0);
    let status = wait_patiently(&mut child, "iothdns_server");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{status}:\n{rest}");
    // test, elsewhere, big x3, none, bad, tcp test, tcp big, quit.
    assert!(rest.lines().any(|l| l == "calls 10"), "{rest}");
    assert!(rest.lines().any(|l| l == "tcp 0 0"), "{rest}");
}

/// A program written like the original's test/test_query.c compiles unchanged against
/// iothdns.h (c_iothdns_resolver.rs links and runs it against a server).
#[test]
fn test_query_shaped_program_compiles() {
    let obj = work_dir().join(format!("iothdns_test_query-{}.o", std::process::id()));
    let mut cmd = cc();
    cmd.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-c", "-I"])
        .arg(include_dir())
        .arg(c_source("iothdns_test_query.c"))
        .arg("-o")
        .arg(&obj);
    run_compiler(cmd);
    assert!(obj.is_file());
}
