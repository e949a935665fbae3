//! Our TCP engine (`tcp=ioth`) against the Linux kernel: 100 MB each way over IPv4 and IPv6
//! through a hub this test serves, with the first frames captured to a pcap file that
//! tcpdump reads, to see the kernel and our engine agree on SACK, timestamps and window
//! scaling; and the kernel's own TCP_INFO says the same.
//!
//! The kernel is on a TAP in a namespace this test makes (joined by `vde_plug`); the test
//! removes the namespace, the hub and its directory, and sends nothing outside them.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use ioth::Stack;
use ioth_tests::peers::{KernelOnTap, require_tool};
use sha2::{Digest, Sha256};

const MB: usize = 1 << 20;
/// Frames the capture keeps besides every SYN: the start of the first transfer.
const CAPTURED: usize = 100;

/// Whether an Ethernet frame carries a TCP segment with SYN set (IPv4, or IPv6 without
/// extension headers).
fn is_syn(frame: &[u8]) -> bool {
    let flags_at = match frame.get(12..14) {
        Some([0x08, 0x00]) if frame.get(14 + 9) == Some(&6) => {
            frame.get(14).map(|b| 14 + usize::from(b & 0x0f) * 4 + 13)
        }
        Some([0x86, 0xdd]) if frame.get(14 + 6) == Some(&6) => Some(14 + 40 + 13),
        _ => None,
    };
    flags_at
        .and_then(|i| frame.get(i))
        .is_some_and(|f| f & 0x02 != 0)
}

fn pattern_stream(w: &mut impl Write, len: usize, seed: u64) -> [u8; 32] {
    let mut x = seed | 1;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len());
        for chunk in buf[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        w.write_all(&buf[..n]).expect("write");
        h.update(&buf[..n]);
        left -= n;
    }
    h.finalize().into()
}

fn drain(r: &mut impl Read) -> ([u8; 32], usize) {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n;
    }
    (h.finalize().into(), total)
}

/// Linux's `tcpi_options` bits: timestamps, SACK, window scaling.
const TCPI_OPTS: u8 = 1 | 2 | 4;

/// The kernel side's `tcpi_options` for a connected socket of the kernel stack.
fn kernel_tcpi_options(s: &ioth::net::TcpStream) -> u8 {
    let mut info = [0u8; 104];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: the descriptor is a kernel TCP socket (the kernel backend's descriptors are the
    // kernel's own); info and len describe a writable buffer of len bytes.
    let r = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(s),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "TCP_INFO on the kernel's socket");
    info[5]
}

struct Setup {
    _dir: tempfile::TempDir,
    pcap: std::path::PathBuf,
    capture: Arc<Mutex<Option<vde::pcap::PcapWriter<std::io::BufWriter<std::fs::File>>>>>,
    _hub: vde::Hub,
    kernel: KernelOnTap,
    ours: Stack,
}

fn setup() -> Option<Setup> {
    ioth_tests::init_logging();
    let _ = ioth_smoltcp::NAME;
    let _ = ioth_kernel::NAME;
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = vde::Hub::new();
    let pcap = dir.path().join("start.pcap");
    let writer = vde::pcap::PcapWriter::new(std::io::BufWriter::new(
        std::fs::File::create(&pcap).expect("pcap file"),
    ))
    .expect("pcap header");
    let capture = Arc::new(Mutex::new(Some(writer)));
    let cap = capture.clone();
    let mut frames = 0usize;
    hub.set_capture(Some(Box::new(move |frame: &[u8]| {
        frames += 1;
        if (frames <= CAPTURED || is_syn(frame))
            && let Some(w) = cap.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
        {
            let _ = w.write_frame(frame);
        }
    })));
    let path = hub
        .serve(&dir.path().join("hub"), &vde::ServeConfig::default())
        .expect("serve the hub");
    let vnl = format!("vde://{}", path.display());
    let kernel = KernelOnTap::join(&vnl, &["10.67.0.1/24", "fc00:67::1/64"])?;
    let ours = Stack::new("smoltcp,tcp=ioth", &[&vnl]).expect("our stack with our TCP");
    let i = ours.if_nametoindex("vde0").unwrap();
    ours.link_set_up(i, true).unwrap();
    ours.ipaddr_add("10.67.0.2".parse().unwrap(), 24, i)
        .unwrap();
    ours.ipaddr_add("fc00:67::2".parse().unwrap(), 64, i)
        .unwrap();
    Some(Setup {
        _dir: dir,
        pcap,
        capture,
        _hub: hub,
        kernel,
        ours,
    })
}

impl Setup {
    fn kernel_stack(&self) -> Stack {
        Stack::new(&format!("kernel,netns={}", self.kernel.ns().name()), &[]).unwrap()
    }

    fn flush_capture(&self) -> &Path {
        if let Some(mut w) = self
            .capture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            w.flush().expect("flush the capture");
        }
        &self.pcap
    }
}

/// 100 MB from our stack to the kernel, then 100 MB back, on one address family.
fn both_ways(s: &Setup, kernel: &Stack, kernel_addr: &str, port: u16) {
    let addr: SocketAddr = format!("{kernel_addr}:{port}").parse().unwrap();
    // Ours -> kernel.
    let l = kernel.tcp_listen(addr).expect("kernel listens");
    let t = std::thread::spawn(move || {
        let (mut c, _) = l.accept().expect("kernel accepts");
        let opts = kernel_tcpi_options(&c);
        let got = drain(&mut c);
        (got, opts)
    });
    let mut c = s.ours.tcp_connect(addr).expect("our connect to the kernel");
    let sent = pattern_stream(&mut c, 100 * MB, 7);
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let ((got, n), opts) = t.join().unwrap();
    assert_eq!(n, 100 * MB, "{kernel_addr}: every byte reached the kernel");
    assert_eq!(got, sent, "{kernel_addr}: intact");
    assert_eq!(
        opts & TCPI_OPTS,
        TCPI_OPTS,
        "{kernel_addr}: the kernel agreed to SACK, timestamps and window scaling with us"
    );
    drop(c);
    // Kernel -> ours.
    let ours_addr: SocketAddr = match addr {
        SocketAddr::V4(_) => "10.67.0.2:0".parse().unwrap(),
        SocketAddr::V6(_) => "[fc00:67::2]:0".parse().unwrap(),
    };
    let l = s
        .ours
        .tcp_listen(SocketAddr::new(ours_addr.ip(), port + 1))
        .expect("we listen");
    let target = SocketAddr::new(ours_addr.ip(), port + 1);
    let kernel2 = s.kernel_stack();
    let t = std::thread::spawn(move || {
        let mut c = kernel2
            .tcp_connect(target)
            .expect("the kernel connects to us");
        let opts = kernel_tcpi_options(&c);
        let sent = pattern_stream(&mut c, 100 * MB, 9);
        c.shutdown(std::net::Shutdown::Write).unwrap();
        (sent, opts)
    });
    let (mut conn, _) = l.accept().expect("we accept");
    let (got, n) = drain(&mut conn);
    let (sent, opts) = t.join().unwrap();
    assert_eq!(n, 100 * MB, "{kernel_addr}: every byte reached us");
    assert_eq!(got, sent, "{kernel_addr}: intact");
    assert_eq!(opts & TCPI_OPTS, TCPI_OPTS);
}

#[test]
fn our_engine_and_the_kernel_move_100_mb_each_way_over_ipv4_and_ipv6() {
    let Some(s) = setup() else {
        return;
    };
    let kernel = s.kernel_stack();
    both_ways(&s, &kernel, "10.67.0.1", 6000);
    both_ways(&s, &kernel, "[fc00:67::1]", 6100);
    // What the wire carried: both SYNs of a handshake offer SACK, timestamps and wscale.
    if !require_tool("tcpdump", "reading the capture of the handshakes") {
        return;
    }
    let pcap = s.flush_capture();
    let out = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(pcap)
        .output()
        .expect("tcpdump");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tcpdump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let syns: Vec<&str> = text.lines().filter(|l| l.contains("Flags [S")).collect();
    assert!(syns.len() >= 8, "four handshakes captured:\n{text}");
    for l in &syns {
        assert!(
            l.contains("sackOK") && l.contains("TS val") && l.contains("wscale"),
            "a SYN without SACK, timestamps or window scaling: {l}"
        );
    }
    // Our SYNs (from .2) and our SYN-ACKs announce wscale 7 and our MSS.
    assert!(
        syns.iter()
            .any(|l| l.contains("10.67.0.2.") && l.contains("wscale 7") && l.contains("mss 1460")),
        "our IPv4 SYN:\n{text}"
    );
    assert!(
        syns.iter()
            .any(|l| l.contains("fc00:67::2.") && l.contains("mss 1440")),
        "our IPv6 SYN:\n{text}"
    );
}
