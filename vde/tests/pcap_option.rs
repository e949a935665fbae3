//! `pcap=FILE` on a VNL: links on one hub exchange frames, and each link's file holds,
//! in order, exactly the frames it sent and received, readable while the link runs and
//! complete once it is dropped; a file that cannot be created fails the open, naming it.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use vde::FrameBatch;
use vde::pcap::{self, PcapRecord};

/// A broadcast frame from `src` with `tag` in its payload, `len` bytes long.
fn frame(src: u8, tag: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, src]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    for (i, b) in f[14..].iter_mut().enumerate() {
        *b = tag.wrapping_add(i as u8);
    }
    f
}

/// Waits (at most 5 s) until `link` has a frame, then receives it.
fn recv_one(link: &vde::Link) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    loop {
        match link.recv(&mut buf) {
            Ok(n) => return buf[..n].to_vec(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                let mut pfd = libc::pollfd {
                    fd: link.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the duration of the call.
                unsafe { libc::poll(&mut pfd, 1, 100) };
            }
            Err(e) => panic!("receive on {}: {e}", link.vnl()),
        }
    }
}

/// Receives `n` frames with `recv_batch` (at most 5 s).
fn recv_batch(link: &vde::Link, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut batch = FrameBatch::new(64);
    let mut out = Vec::new();
    while out.len() < n {
        match link.recv_batch(&mut batch) {
            Ok(_) => out.extend(batch.iter().map(<[u8]>::to_vec)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("batch receive on {}: {e}", link.vnl()),
        }
    }
    out
}

fn records(path: &Path) -> Vec<PcapRecord> {
    let bytes = std::fs::read(path).expect("the pcap file");
    pcap::parse(&bytes).expect("a pcap file")
}

fn datas(recs: &[PcapRecord]) -> Vec<Vec<u8>> {
    recs.iter().map(|r| r.data.clone()).collect()
}

/// Two links, both captured, exchange frames; returns nothing, checks everything.
fn exchange(vnl_a: &str, vnl_b: &str, pa: &Path, pb: &Path) {
    let before = SystemTime::now() - Duration::from_secs(1);
    let a = vde::open(vnl_a).expect("link a");
    let b = vde::open(vnl_b).expect("link b");
    // The header is there as soon as the link is open.
    assert_eq!(records(pa), vec![]);
    let a_sent: Vec<Vec<u8>> = (0..5).map(|i| frame(1, i, 60 + 100 * i as usize)).collect();
    let b_sent: Vec<Vec<u8>> = (0..3).map(|i| frame(2, 50 + i, 1514)).collect();
    let mut a_log = Vec::new();
    let mut b_log = Vec::new();
    for f in &a_sent[..2] {
        a.send(f).expect("a sends");
        a_log.push(f.clone());
        let got = recv_one(&b);
        assert_eq!(&got, f);
        b_log.push(got);
    }
    // A runt frame is dropped by the link and not written.
    a.send(&[1, 2, 3]).expect("a sends a runt");
    for f in &b_sent {
        b.send(f).expect("b sends");
        b_log.push(f.clone());
    }
    for f in recv_batch(&a, b_sent.len()) {
        a_log.push(f);
    }
    for f in &a_sent[2..] {
        a.send(f).expect("a sends");
        a_log.push(f.clone());
    }
    for f in recv_batch(&b, 3) {
        b_log.push(f);
    }
    assert_eq!(&a_log[2..5], &b_sent[..]);
    assert_eq!(&b_log[5..], &a_sent[2..]);
    // Readable while the links are open.
    assert_eq!(datas(&records(pa)), a_log);
    assert_eq!(datas(&records(pb)), b_log);
    drop(a);
    drop(b);
    let after = SystemTime::now() + Duration::from_secs(1);
    for (path, log) in [(pa, &a_log), (pb, &b_log)] {
        let recs = records(path);
        assert_eq!(datas(&recs), *log, "{}", path.display());
        for (r, f) in recs.iter().zip(log.iter()) {
            assert_eq!(r.orig_len as usize, f.len());
            assert!(r.time > before && r.time < after, "{:?}", r.time);
        }
        assert!(recs.windows(2).all(|w| w[0].time <= w[1].time));
        let raw = std::fs::read(path).expect("the pcap file");
        assert_eq!(&raw[..4], &0xa1b2_c3d4u32.to_ne_bytes());
        assert_eq!(&raw[20..24], &1u32.to_ne_bytes(), "link type Ethernet");
    }
}

#[test]
fn in_process_hub_members_capture_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.pcap"), dir.path().join("b.pcap"));
    exchange(
        &format!("hub://@pcap_opt[pcap={}]", pa.display()),
        &format!("hub://@pcap_opt[queue=64/pcap={}]", pb.display()),
        &pa,
        &pb,
    );
}

#[test]
fn a_vde_client_of_a_served_hub_captures_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub");
    let (pa, pb) = (dir.path().join("a.pcap"), dir.path().join("b.pcap"));
    // a serves the hub at the path (and is its in-process member); b joins it as a
    // vde_switch client, so its frames cross a datagram socket (recvmmsg).
    exchange(
        &format!("hub://{}[pcap={}]", hub.display(), pa.display()),
        &format!(
            "vde://{}[pcap={}/timeout=5000]",
            hub.display(),
            pb.display()
        ),
        &pa,
        &pb,
    );
}

#[test]
fn null_link_captures_what_it_sends() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("n.pcap");
    let l = vde::open(&format!("null:///pcap={}", p.display())).unwrap();
    l.send(&frame(9, 1, 100)).unwrap();
    assert_eq!(datas(&records(&p)), vec![frame(9, 1, 100)]);
}

#[test]
fn a_file_that_cannot_be_created_fails_the_open_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no/such/dir/x.pcap");
    let e = vde::open(&format!("hub://@pcap_err[pcap={}]", p.display())).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let text = e.to_string();
    assert!(text.contains(&p.display().to_string()), "{text}");
    let e = vde::open("hub://@pcap_err[pcap=]").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("pcap="), "{e}");
}

#[test]
fn one_file_captures_one_link_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("one.pcap");
    let vnl = format!("hub://@pcap_one[pcap={}]", p.display());
    let first = vde::open(&vnl).unwrap();
    first.send(&frame(1, 1, 60)).unwrap();
    // The same file by another name is the same file.
    let other = format!("hub://@pcap_one[pcap={}/./one.pcap]", dir.path().display());
    let e = vde::open(&other).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
    assert!(e.to_string().contains("one.pcap"), "{e}");
    // The first capture was not truncated; once it is closed the file is free again.
    assert_eq!(datas(&records(&p)), vec![frame(1, 1, 60)]);
    drop(first);
    let again = vde::open(&vnl).unwrap();
    assert_eq!(records(&p), vec![]);
    drop(again);
}
