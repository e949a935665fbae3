//! `ioth::tokio` on both backends: the kernel over 127.0.0.1 and two smoltcp stacks on an
//! in-process hub. Each test runs in a fresh multi-thread runtime and fails on wrong data,
//! wrong errors, or a wake that never comes (a bounded wait, not a hang).

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ioth::Stack;
use ioth::tokio::{TcpListener, TcpStream, UdpSocket};
use ioth_tests::fixtures::{self, Fixture};
use ioth_tests::init_logging;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug)]
enum Backend {
    /// The host kernel, both ends on 127.0.0.1.
    Kernel,
    /// Two smoltcp stacks on an in-process hub (10.77.0.1 serves, 10.77.0.2 is the client).
    Smoltcp,
}

/// The server stack, the client stack and the server's address.
struct Net {
    server: Stack,
    client: Stack,
    server_ip: std::net::IpAddr,
    client_ip: std::net::IpAddr,
}

fn net(backend: Backend) -> Net {
    let f: Box<dyn Fixture> = match backend {
        Backend::Kernel => Box::new(fixtures::kernel_linked()),
        Backend::Smoltcp => Box::new(fixtures::smoltcp_pair()),
    };
    Net {
        server: f.server(),
        client: f.client(),
        server_ip: f.server_ip(),
        client_ip: f.client_ip(),
    }
}

impl Net {
    fn server_any_port(&self) -> SocketAddr {
        SocketAddr::new(self.server_ip, 0)
    }
    fn client_any_port(&self) -> SocketAddr {
        SocketAddr::new(self.client_ip, 0)
    }
    fn stacks(&self) -> [&Stack; 2] {
        [&self.server, &self.client]
    }
}

/// Runs `test` on a two-worker runtime with IO and time, failing if it takes over `limit`;
/// then the state of `stacks` (addresses, link counters, sockets with their queues,
/// protocol counters) is printed first, to tell a missed wake-up from a stalled stack.
fn run<F: Future<Output = ()>>(stacks: &[&Stack], limit: Duration, test: F) {
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        if tokio::time::timeout(limit, test).await.is_err() {
            for stack in stacks {
                match stack.dump() {
                    Ok(dump) => eprintln!("{dump}"),
                    Err(e) => eprintln!("{stack:?}: no dump: {e}"),
                }
            }
            panic!("the test did not finish in {limit:?} (a missing wake-up or a stalled stack)");
        }
    });
}

/// Generates `mod NAME { fn kernel(); fn smoltcp(); }` running `NAME(backend)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn kernel() {
                super::$name(super::Backend::Kernel)
            }
            #[test]
            fn smoltcp() {
                super::$name(super::Backend::Smoltcp)
            }
        }
    )*};
}

on_both_backends!(
    echo_of_4_mib_comes_back_intact,
    udp_round_trip,
    connect_to_a_closed_port_is_refused,
    accept_is_cancel_safe,
    fifty_concurrent_clients_on_one_listener,
    a_read_after_a_partial_drain_and_after_would_block_wakes,
);

/// Deterministic bytes that differ at every offset within a stream (so a lost, repeated or
/// reordered chunk shows), seeded per stream.
fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A server echoing every connection it accepts, until the client shuts down its side.
async fn echo_server(listener: TcpListener, connections: usize) -> io::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (conn, _peer) = listener.accept().await?;
        tasks.spawn(async move {
            let (mut rd, mut wr) = conn.into_split();
            let n = tokio::io::copy(&mut rd, &mut wr).await?;
            wr.shutdown().await?;
            io::Result::Ok(n)
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("an echo task")?;
    }
    Ok(())
}

/// Sends `data` on a fresh connection to `addr` (writing and reading at once, from two
/// tasks) and returns what comes back until the server closes.
async fn echo_client(stack: &Stack, addr: SocketAddr, data: Vec<u8>) -> io::Result<Vec<u8>> {
    let conn = TcpStream::connect_on(stack, addr).await?;
    assert_eq!(conn.peer_addr()?, addr, "connected to the server");
    let (mut rd, mut wr) = conn.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(&data).await?;
        wr.shutdown().await
    });
    let mut back = Vec::new();
    rd.read_to_end(&mut back).await?;
    writer.await.expect("the writer task")?;
    Ok(back)
}

fn echo_of_4_mib_comes_back_intact(backend: Backend) {
    let net = net(backend);
    run(&net.stacks(), Duration::from_secs(120), async {
        let listener = TcpListener::bind_on(&net.server, net.server_any_port())
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let server = tokio::spawn(echo_server(listener, 1));
        let sent = pattern(4, 4 << 20);
        let back = echo_client(&net.client, addr, sent.clone())
            .await
            .expect("the echo client");
        assert_eq!(back.len(), sent.len(), "{backend:?}: every byte came back");
        if let Some(i) = back.iter().zip(&sent).position(|(a, b)| a != b) {
            panic!("{backend:?}: the echo differs first at byte {i}");
        }
        server.await.expect("the server task").expect("the server");
    });
}

fn udp_round_trip(backend: Backend) {
    let net = net(backend);
    run(&net.stacks(), Duration::from_secs(30), async {
        let server = UdpSocket::bind_on(&net.server, net.server_any_port())
            .await
            .expect("server bind");
        let client = UdpSocket::bind_on(&net.client, net.client_any_port())
            .await
            .expect("client bind");
        let (saddr, caddr) = (
            server.local_addr().expect("server addr"),
            client.local_addr().expect("client addr"),
        );
        let mut buf = [0u8; 2048];
        for round in 0..20u32 {
            let ping = pattern(round, 100 + round as usize * 50);
            assert_eq!(
                client.send_to(&ping, saddr).await.expect("send_to"),
                ping.len()
            );
            let (n, from) = server.recv_from(&mut buf).await.expect("recv_from");
            assert_eq!((&buf[..n], from), (&ping[..], caddr), "round {round}: ping");
            let pong: Vec<u8> = ping.iter().map(|b| !b).collect();
            server.send_to(&pong, from).await.expect("reply");
            let (n, from) = client.recv_from(&mut buf).await.expect("client recv_from");
            assert_eq!((&buf[..n], from), (&pong[..], saddr), "round {round}: pong");
        }
        // Connected: send/recv, and readiness first.
        client.connect(saddr).await.expect("connect");
        assert_eq!(client.peer_addr().expect("peer"), saddr);
        client.writable().await.expect("writable");
        client.send(b"connected").await.expect("send");
        server.readable().await.expect("readable");
        let (n, from) = server
            .try_recv_from(&mut buf)
            .expect("ready after readable()");
        assert_eq!((&buf[..n], from), (&b"connected"[..], caddr));
        let err = server
            .try_recv_from(&mut buf)
            .expect_err("nothing more queued");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        server.send_to(b"to you", caddr).await.expect("send_to");
        let n = client.recv(&mut buf).await.expect("recv");
        assert_eq!(&buf[..n], b"to you");
    });
}

fn connect_to_a_closed_port_is_refused(backend: Backend) {
    let net = net(backend);
    run(&net.stacks(), Duration::from_secs(30), async {
        // A port that was just bound, then released: nobody listens there.
        let listener = TcpListener::bind_on(&net.server, net.server_any_port())
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        drop(listener);
        let err = TcpStream::connect_on(&net.client, addr)
            .await
            .expect_err("nobody listens");
        assert_eq!(
            err.kind(),
            io::ErrorKind::ConnectionRefused,
            "{backend:?}: {err}"
        );
        assert_eq!(
            ioth::errno_of(&err),
            libc::ECONNREFUSED,
            "{backend:?}: {err}"
        );
        // The stack is none the worse: a listener there is reached.
        let listener = TcpListener::bind_on(&net.server, addr)
            .await
            .expect("bind again");
        let (conn, accepted) =
            tokio::join!(TcpStream::connect_on(&net.client, addr), listener.accept());
        let conn = conn.expect("connect");
        let (_, peer) = accepted.expect("accept");
        assert_eq!(peer, conn.local_addr().expect("local_addr"));
    });
}

fn accept_is_cancel_safe(backend: Backend) {
    let net = net(backend);
    run(&net.stacks(), Duration::from_secs(60), async {
        let listener = TcpListener::bind_on(&net.server, net.server_any_port())
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        // Nobody connects yet: every accept future is dropped by the timeout.
        for _ in 0..20 {
            tokio::select! {
                r = listener.accept() => panic!("accepted {r:?} with nobody connecting"),
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
        // Three clients connect (the backlog completes their handshakes) while accepts
        // keep being dropped; each must be accepted exactly once.
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(
                TcpStream::connect_on(&net.client, addr)
                    .await
                    .expect("connect while nobody accepts"),
            );
        }
        let wanted: BTreeSet<SocketAddr> = clients
            .iter()
            .map(|c| c.local_addr().expect("local_addr"))
            .collect();
        let mut accepted = Vec::new();
        let mut dropped = 0u32;
        while accepted.len() < clients.len() {
            tokio::select! {
                r = listener.accept() => accepted.push(r.expect("accept")),
                // Zero: the timer often wins before the accept is even polled.
                _ = tokio::time::sleep(Duration::ZERO) => dropped += 1,
            }
            assert!(dropped < 100_000, "accept never completed");
        }
        let got: BTreeSet<SocketAddr> = accepted.iter().map(|(_, peer)| *peer).collect();
        assert_eq!(got, wanted, "{backend:?}: each client accepted once");
        // The accepted streams are the clients' connections: data flows.
        for (conn, peer) in &mut accepted {
            let port = peer.port().to_be_bytes();
            conn.write_all(&port).await.expect("write");
        }
        for client in &mut clients {
            let mut port = [0u8; 2];
            client.read_exact(&mut port).await.expect("read");
            assert_eq!(
                u16::from_be_bytes(port),
                client.local_addr().expect("local_addr").port()
            );
        }
        // And no connection is left behind in the backlog.
        tokio::select! {
            r = listener.accept() => panic!("a fourth connection {r:?}"),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        log::info!("{backend:?}: {dropped} accept futures dropped");
    });
}

fn fifty_concurrent_clients_on_one_listener(backend: Backend) {
    const CLIENTS: usize = 50;
    let net = net(backend);
    run(&net.stacks(), Duration::from_secs(60), async {
        let listener = TcpListener::bind_on(&net.server, net.server_any_port())
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let server = tokio::spawn(echo_server(listener, CLIENTS));
        let mut clients = tokio::task::JoinSet::new();
        for i in 0..CLIENTS {
            let stack = net.client.clone();
            clients.spawn(async move {
                let data = pattern(1000 + i as u32, 16 * 1024 + i * 37);
                let back = echo_client(&stack, addr, data.clone()).await;
                (i, data, back)
            });
        }
        let mut done = BTreeSet::new();
        while let Some(r) = clients.join_next().await {
            let (i, data, back) = r.expect("a client task");
            let back = back.unwrap_or_else(|e| panic!("{backend:?}: client {i}: {e}"));
            assert!(back == data, "{backend:?}: client {i} got other bytes back");
            done.insert(i);
        }
        assert_eq!(done.len(), CLIENTS);
        server.await.expect("the server task").expect("the server");
    });
}

/// tokio's reactor is edge-triggered: after a read that returned `WouldBlock` it waits for
/// the descriptor's next change. These are the cases where a stack that does not change its
/// descriptor when it should would leave a reader waiting for ever (bounded here).
fn a_read_after_a_partial_drain_and_after_would_block_wakes(backend: Backend) {
    let net = net(backend);
    run(&net.stacks(), Duration::from_secs(60), async {
        let listener = TcpListener::bind_on(&net.server, net.server_any_port())
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let (client, accepted) =
            tokio::join!(TcpStream::connect_on(&net.client, addr), listener.accept());
        let mut client = client.expect("connect");
        let (mut server, _) = accepted.expect("accept");
        client.set_nodelay(true).expect("nodelay");
        server.set_nodelay(true).expect("nodelay");

        // 1. Partial drain: 1000 bytes, read 10 at a time. After the first read no new data
        // arrives, so the reads after it must not wait for a change.
        let data = pattern(7, 1000);
        server.write_all(&data).await.expect("write");
        let mut got = Vec::new();
        let mut chunk = [0u8; 10];
        while got.len() < data.len() {
            let n = client.read(&mut chunk).await.expect("read");
            assert!(n > 0, "end of file too early");
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, data);

        // 2. readable() then try_read of part of what is there: readable() again returns at
        // once, with the rest.
        server.write_all(b"0123456789").await.expect("write");
        client.readable().await.expect("readable");
        let mut first = [0u8; 4];
        let mut n = 0;
        while n == 0 {
            // readable() may be spurious; what is not there yet comes with the next change.
            match client.try_read(&mut first) {
                Ok(k) => n = k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    client.readable().await.expect("readable")
                }
                Err(e) => panic!("try_read: {e}"),
            }
        }
        let mut rest = Vec::from(&first[..n]);
        while rest.len() < 10 {
            tokio::time::timeout(Duration::from_secs(5), client.readable())
                .await
                .expect("data is left: readable() returns")
                .expect("readable");
            let mut more = [0u8; 16];
            match client.try_read(&mut more) {
                Ok(k) => rest.extend_from_slice(&more[..k]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("try_read: {e}"),
            }
        }
        assert_eq!(rest, b"0123456789");

        // 3. Drained to WouldBlock, then the next data arrives later: the read wakes.
        let mut buf = [0u8; 64];
        let err = client.try_read(&mut buf).expect_err("all drained");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            server.write_all(b"late").await.expect("late write");
            server
        });
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
            .await
            .expect("the read after WouldBlock woke")
            .expect("read");
        assert_eq!(&buf[..n], b"late");
        let mut server = late.await.expect("the late writer");

        // 4. Ping-pong: every round each side drains to WouldBlock and waits for a change.
        for round in 0..300u32 {
            let msg = round.to_be_bytes();
            client.write_all(&msg).await.expect("ping");
            let mut got = [0u8; 4];
            server.read_exact(&mut got).await.expect("ping read");
            assert_eq!(got, msg, "round {round}");
            server.write_all(&got).await.expect("pong");
            client.read_exact(&mut got).await.expect("pong read");
            assert_eq!(got, msg, "round {round}");
        }

        // 5. The peer's shutdown wakes a waiting reader with end of file.
        let closer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            server.shutdown().await.expect("shutdown");
            server
        });
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
            .await
            .expect("end of file woke the reader")
            .expect("read");
        assert_eq!(n, 0, "end of file");
        drop(closer.await.expect("closer"));
    });
}

/// Outside a runtime the constructors fail with an error (no panic).
#[test]
fn outside_a_runtime_the_constructors_fail() {
    init_logging();
    let stack = fixtures::kernel_linked().server();
    let std = ioth::net::UdpSocket::bind_on(&stack, "127.0.0.1:0").expect("std bind");
    let err = UdpSocket::from_std(std).expect_err("no runtime");
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

/// `from_std` and `into_std` keep the socket: what was sent before is received after.
#[test]
fn from_std_and_into_std_keep_the_socket() {
    let stack = fixtures::kernel_linked().server();
    run(&[&stack], Duration::from_secs(10), async {
        let std = ioth::net::UdpSocket::bind_on(&stack, "127.0.0.1:0").expect("bind");
        let addr = std.local_addr().expect("addr");
        let sock = UdpSocket::from_std(std).expect("from_std");
        let peer = UdpSocket::bind_on(&stack, "127.0.0.1:0")
            .await
            .expect("bind");
        peer.send_to(b"one", addr).await.expect("send");
        let mut buf = [0u8; 8];
        let (n, _) = sock.recv_from(&mut buf).await.expect("recv");
        assert_eq!(&buf[..n], b"one");
        let std = sock.into_std().expect("into_std");
        assert_eq!(std.local_addr().expect("addr"), addr);
        peer.send_to(b"two", addr).await.expect("send");
        std.set_nonblocking(false).expect("blocking again");
        let (n, _) = std.recv_from(&mut buf).expect("blocking recv");
        assert_eq!(&buf[..n], b"two");
    });
}

/// A name is looked up on tokio's blocking pool: on a runtime with one thread, other tasks go
/// on while the stack's resolver waits for a DNS server that never answers.
#[test]
fn a_name_is_resolved_off_the_runtime_thread() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    init_logging();
    let net = net(Backend::Smoltcp);
    // A DNS server that takes the queries and never answers.
    let _silent = ioth::net::UdpSocket::bind_on(&net.server, SocketAddr::new(net.server_ip, 53))
        .expect("bind port 53");
    net.client
        .configure(&format!("dns={}", net.server_ip))
        .expect("dns=");
    let resolver = net.client.resolver();
    let mut options = resolver.options();
    options.timeout = Duration::from_millis(300);
    options.attempts = 1;
    resolver.set_options(options);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        let err = TcpStream::connect_on(&net.client, "slow.example.test:80")
            .await
            .expect_err("no answer, no address");
        ticker.abort();
        assert!(
            ticks.load(Ordering::SeqCst) > 0,
            "the runtime's only thread ran nothing while the name was looked up ({err})"
        );
        // Literals need no lookup and no runtime thread either: refused at once here.
        let refused = TcpStream::connect_on(&net.client, SocketAddr::new(net.server_ip, 1))
            .await
            .expect_err("nothing listens on port 1");
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    });
}
