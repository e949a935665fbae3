//! The socket behaviour suite: written once, run against every backend through a
//! [`Fixture`]. Each test asserts what Linux does; the kernel backend is the oracle.
//!
//! Instantiate it for a backend with [`crate::socket_suite!`].

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use ioth::net::{TcpListener, TcpStream, UdpSocket};
use ioth::{Ioctl, SockAddr, bsd};
use libc::{
    AF_INET, EADDRINUSE, EADDRNOTAVAIL, EAGAIN, EBADF, ECONNREFUSED, ECONNRESET, ENOTCONN, POLLHUP,
    POLLIN, POLLOUT, POLLRDHUP, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM,
};

use crate::fixtures::Fixture;
use crate::{PATIENCE, assert_errno, poll_fd};

mod dual;
mod pktinfo;
pub use dual::udp_v4_and_v6_on_one_port;
pub use pktinfo::{
    udp_pktinfo_control_truncates_as_linux, udp_pktinfo_replies_from_the_address_reached,
    udp_pktinfo_send_errors, udp_pktinfo_v6,
};

/// Runs the whole suite on one fixture, as `#[test]` functions.
#[macro_export]
macro_rules! socket_suite {
    ($fixture:expr) => {
        $crate::socket_suite!(@tests $fixture;
            udp_sendto_recvfrom, udp_connected, udp_readv_writev_msg, tcp_echo,
            tcp_backlog_accepts_in_order, tcp_half_close, tcp_connect_refused, tcp_reset,
            nonblocking_calls_give_eagain, accept_flags, read_timeout_gives_eagain,
            poll_readiness_udp, poll_readiness_tcp, poll_hup_after_peer_closes,
            bind_foreign_address_is_eaddrnotavail, port_in_use_is_eaddrinuse,
            calls_on_foreign_descriptors_are_ebadf, fionread_and_fcntl, getpeername_unconnected,
            std_types_round_trip, delete_stack_with_sockets_is_ebusy, tcp_liveness_options,
            udp_pktinfo_replies_from_the_address_reached, udp_pktinfo_v6,
            udp_pktinfo_control_truncates_as_linux, udp_pktinfo_send_errors,
            udp_v4_and_v6_on_one_port);
    };
    (@tests $fixture:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::init_logging();
                let fixture = $fixture;
                $crate::suite::$name(&fixture);
            }
        )*
    };
}

fn any_port(ip: std::net::IpAddr) -> SocketAddr {
    SocketAddr::new(ip, 0)
}

fn sa(addr: SocketAddr) -> SockAddr {
    addr.into()
}

fn std_of(addr: &SockAddr) -> SocketAddr {
    addr.as_socket().expect("an IP socket address")
}

/// UDP datagrams carry their sender's address both ways.
pub fn udp_sendto_recvfrom(f: &dyn Fixture) {
    let server = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    let client = f.client().udp_bind(any_port(f.client_ip())).unwrap();
    let server_addr = server.local_addr().unwrap();
    let client_addr = client.local_addr().unwrap();
    assert_ne!(server_addr.port(), 0, "bind to port 0 picks a port");

    assert_eq!(client.send_to(b"ciao\n", server_addr).unwrap(), 5);
    let mut buf = [0u8; 64];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ciao\n");
    assert_eq!(from, client_addr, "recvfrom reports the sender");

    server.send_to(b"reply", from).unwrap();
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"reply");
    assert_eq!(from, server_addr);

    // A datagram longer than the buffer is cut, and the rest is dropped.
    client.send_to(&[7u8; 100], server_addr).unwrap();
    client.send_to(b"next", server_addr).unwrap();
    let mut small = [0u8; 10];
    let (n, _) = server.recv_from(&mut small).unwrap();
    assert_eq!(n, 10);
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"next", "the cut datagram's tail is gone");
}

/// A connected UDP socket sends to its peer and hears only from it.
pub fn udp_connected(f: &dyn Fixture) {
    let server = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    let client = f.client().udp_bind(any_port(f.client_ip())).unwrap();
    let stranger = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    assert_errno(
        client.send(b"x"),
        libc::EDESTADDRREQ,
        "send on unconnected UDP",
    );

    client.connect(server.local_addr().unwrap()).unwrap();
    assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
    client.send(b"hello").unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from, client.local_addr().unwrap());

    // A datagram from anyone but the peer is filtered out.
    stranger
        .send_to(b"intruder", client.local_addr().unwrap())
        .unwrap();
    server.send_to(b"peer", from).unwrap();
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"peer", "only the connected peer is heard");
}

/// Scatter/gather and msg calls work on datagrams.
pub fn udp_readv_writev_msg(f: &dyn Fixture) {
    let server = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    let client = f.client().udp_bind(any_port(f.client_ip())).unwrap();
    client.connect(server.local_addr().unwrap()).unwrap();
    let n = client
        .socket()
        .send_msg(&[IoSlice::new(b"ab"), IoSlice::new(b"cde")], None, &[], 0)
        .unwrap();
    assert_eq!(n, 5);
    let (mut a, mut b) = ([0u8; 3], [0u8; 8]);
    let meta = server
        .socket()
        .recv_msg(
            &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)],
            &mut [],
            0,
        )
        .unwrap();
    assert_eq!(meta.len, 5);
    assert_eq!(&a, b"abc");
    assert_eq!(&b[..2], b"de");
    assert_eq!(
        std_of(meta.addr.as_ref().expect("sender address")),
        client.local_addr().unwrap()
    );
    // The descriptor-based face does the same.
    let fd = client.as_raw_fd();
    assert_eq!(
        bsd::writev(fd, &[IoSlice::new(b"xy"), IoSlice::new(b"z")]).unwrap(),
        3
    );
    let mut buf = [0u8; 8];
    assert_eq!(bsd::read(server.as_raw_fd(), &mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"xyz");
}

fn tcp_pair(f: &dyn Fixture) -> (TcpStream, TcpStream) {
    let listener = f.server().tcp_listen(any_port(f.server_ip())).unwrap();
    let client = f
        .client()
        .tcp_connect(listener.local_addr().unwrap())
        .unwrap();
    let (server, peer) = listener.accept().unwrap();
    assert_eq!(
        peer,
        client.local_addr().unwrap(),
        "accept reports the client"
    );
    (client, server)
}

/// TCP connects, accepts and echoes; both ends agree on the addresses.
pub fn tcp_echo(f: &dyn Fixture) {
    let (mut client, mut server) = tcp_pair(f);
    assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let msg = msg.clone();
        let mut c = client.try_clone().unwrap();
        std::thread::spawn(move || c.write_all(&msg).unwrap())
    };
    let mut got = vec![0u8; msg.len()];
    server.read_exact(&mut got).unwrap();
    writer.join().unwrap();
    assert!(got == msg, "the stream arrives intact and in order");
    server.write_all(&got[..1000]).unwrap();
    let mut back = [0u8; 1000];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back[..], &msg[..1000]);
}

/// A backlog of 16 pending connections is accepted, in the order they connected.
pub fn tcp_backlog_accepts_in_order(f: &dyn Fixture) {
    let listener = f.server().tcp_listen(any_port(f.server_ip())).unwrap();
    let addr = listener.local_addr().unwrap();
    let clients: Vec<TcpStream> = (0..16u8)
        .map(|i| {
            let mut c = f.client().tcp_connect(addr).unwrap();
            c.write_all(&[i]).unwrap();
            c
        })
        .collect();
    for (i, client) in clients.iter().enumerate() {
        let (mut conn, peer) = listener.accept().unwrap();
        assert_eq!(
            peer,
            client.local_addr().unwrap(),
            "connection {i} accepted in order"
        );
        let mut b = [0u8; 1];
        conn.read_exact(&mut b).unwrap();
        assert_eq!(usize::from(b[0]), i);
    }
}

/// shutdown(WR): the peer reads EOF; the other direction still works.
pub fn tcp_half_close(f: &dyn Fixture) {
    let (mut client, mut server) = tcp_pair(f);
    client.write_all(b"last words").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"last words", "data then EOF");
    server.write_all(b"still heard").unwrap();
    server.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    client.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"still heard");
    assert_errno(client.write(b"x"), libc::EPIPE, "write after shutdown(WR)");
}

/// A connect to a port where nobody listens is refused.
pub fn tcp_connect_refused(f: &dyn Fixture) {
    // Find a port that was free a moment ago, and leave it closed.
    let port = {
        let l = f.server().tcp_listen(any_port(f.server_ip())).unwrap();
        l.local_addr().unwrap().port()
    };
    let res = f.client().tcp_connect(SocketAddr::new(f.server_ip(), port));
    assert_errno(res, ECONNREFUSED, "connect to a closed port");
}

/// A peer that aborts (SO_LINGER 0 then close) resets the connection.
pub fn tcp_reset(f: &dyn Fixture) {
    let (mut client, server) = tcp_pair(f);
    server
        .socket()
        .set_option(
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            libc::linger {
                l_onoff: 1,
                l_linger: 0,
            },
        )
        .unwrap();
    drop(server);
    assert!(
        poll_fd(client.as_raw_fd(), POLLIN, PATIENCE) != 0,
        "the reset arrives"
    );
    let mut buf = [0u8; 8];
    assert_errno(
        client.read(&mut buf),
        ECONNRESET,
        "read after the peer's reset",
    );
}

/// Calls that would block fail with EAGAIN on nonblocking sockets.
pub fn nonblocking_calls_give_eagain(f: &dyn Fixture) {
    let udp = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    udp.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8];
    assert_errno(udp.recv_from(&mut buf), EAGAIN, "nonblocking recvfrom");

    let listener = f.server().tcp_listen(any_port(f.server_ip())).unwrap();
    listener.set_nonblocking(true).unwrap();
    assert_errno(listener.accept(), EAGAIN, "nonblocking accept");

    let (client, server) = tcp_pair(f);
    // FIONBIO is the other way to set the mode.
    let mut on: libc::c_int = 1;
    client
        .socket()
        .ioctl(Ioctl::Int {
            request: libc::FIONBIO,
            value: &mut on,
        })
        .unwrap();
    assert_errno(
        (&client).read(&mut buf),
        EAGAIN,
        "nonblocking read, no data",
    );
    drop(server);

    // SOCK_NONBLOCK at creation.
    let fd = bsd::msocket(Some(&f.server()), AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0).unwrap();
    bsd::bind(fd, &sa(any_port(f.server_ip()))).unwrap();
    assert_errno(
        bsd::recv(fd, &mut buf, 0),
        EAGAIN,
        "recv on SOCK_NONBLOCK socket",
    );
    // MSG_DONTWAIT on a blocking socket.
    let blocking = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    assert_errno(
        blocking.socket().recv(&mut buf, libc::MSG_DONTWAIT),
        EAGAIN,
        "recv with MSG_DONTWAIT",
    );
    bsd::close(fd).unwrap();
}

/// accept4's SOCK_NONBLOCK makes the accepted socket nonblocking.
pub fn accept_flags(f: &dyn Fixture) {
    let listener = f.server().tcp_listen(any_port(f.server_ip())).unwrap();
    let _client = f
        .client()
        .tcp_connect(listener.local_addr().unwrap())
        .unwrap();
    let (conn, _) = listener
        .socket()
        .accept4(SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
        .unwrap();
    assert!(conn.nonblocking().unwrap(), "O_NONBLOCK from accept4");
    let fd_flags = conn.fcntl(libc::F_GETFD, 0).unwrap();
    assert!(fd_flags & libc::FD_CLOEXEC != 0, "FD_CLOEXEC from accept4");
    let mut buf = [0u8; 4];
    assert_errno(
        conn.recv(&mut buf, 0),
        EAGAIN,
        "read on the nonblocking accepted socket",
    );
}

/// SO_RCVTIMEO makes a blocking receive give up with EAGAIN.
pub fn read_timeout_gives_eagain(f: &dyn Fixture) {
    let udp = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    // Linux rounds the timeout up to its clock tick (52 ms at HZ=250).
    let t = udp.read_timeout().unwrap().expect("a timeout is set");
    assert!(
        t >= Duration::from_millis(50) && t < Duration::from_millis(70),
        "SO_RCVTIMEO reads back as set (up to a tick): {t:?}"
    );
    let mut buf = [0u8; 8];
    assert_errno(udp.recv_from(&mut buf), EAGAIN, "recv past SO_RCVTIMEO");
    assert!(
        udp.set_read_timeout(Some(Duration::ZERO)).is_err(),
        "zero timeout is refused"
    );
}

/// A UDP socket is writable at once and readable exactly when a datagram waits.
pub fn poll_readiness_udp(f: &dyn Fixture) {
    let server = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    let client = f.client().udp_bind(any_port(f.client_ip())).unwrap();
    let fd = server.as_raw_fd();
    assert_eq!(
        poll_fd(fd, POLLIN, Duration::ZERO),
        0,
        "nothing to read yet"
    );
    assert!(
        poll_fd(fd, POLLOUT, Duration::ZERO) & POLLOUT != 0,
        "UDP is writable"
    );
    client
        .send_to(b"wake", server.local_addr().unwrap())
        .unwrap();
    assert!(
        poll_fd(fd, POLLIN, PATIENCE) & POLLIN != 0,
        "readable once data arrives"
    );
    let mut buf = [0u8; 8];
    server.recv_from(&mut buf).unwrap();
    assert_eq!(
        poll_fd(fd, POLLIN, Duration::ZERO),
        0,
        "not readable once drained"
    );
}

/// TCP: writable once connected, readable once data arrives, not before.
pub fn poll_readiness_tcp(f: &dyn Fixture) {
    let listener = f.server().tcp_listen(any_port(f.server_ip())).unwrap();
    let lfd = listener.as_raw_fd();
    assert_eq!(
        poll_fd(lfd, POLLIN, Duration::ZERO),
        0,
        "no pending connection yet"
    );

    let sock = f
        .client()
        .socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)
        .unwrap();
    match sock.connect(&sa(listener.local_addr().unwrap())) {
        Ok(()) => {}
        Err(e) => assert_eq!(
            ioth::errno_of(&e),
            libc::EINPROGRESS,
            "nonblocking connect: {e}"
        ),
    }
    assert!(
        poll_fd(sock.as_raw_fd(), POLLOUT, PATIENCE) & POLLOUT != 0,
        "writable once connected"
    );
    assert!(
        sock.take_error().unwrap().is_none(),
        "connected without error"
    );
    assert!(
        poll_fd(lfd, POLLIN, PATIENCE) & POLLIN != 0,
        "listener readable with a pending connection"
    );
    let (conn, _) = listener.accept().unwrap();
    assert_eq!(
        poll_fd(conn.as_raw_fd(), POLLIN, Duration::ZERO),
        0,
        "no data yet"
    );
    sock.send(b"data", 0).unwrap();
    assert!(
        poll_fd(conn.as_raw_fd(), POLLIN, PATIENCE) & POLLIN != 0,
        "readable with data"
    );
}

/// After the peer closes: readable (EOF) with RDHUP; HUP once both directions are shut.
pub fn poll_hup_after_peer_closes(f: &dyn Fixture) {
    let (client, server) = tcp_pair(f);
    let fd = server.as_raw_fd();
    drop(client);
    let ev = poll_fd(fd, POLLIN | POLLRDHUP, PATIENCE);
    assert!(
        ev & POLLIN != 0 && ev & POLLRDHUP != 0,
        "EOF shows as IN|RDHUP, got {ev:#x}"
    );
    let mut buf = [0u8; 4];
    assert_eq!((&server).read(&mut buf).unwrap(), 0, "read gives EOF");
    server.shutdown(Shutdown::Write).unwrap();
    let ev = poll_fd(fd, POLLIN, PATIENCE);
    assert!(
        ev & POLLHUP != 0,
        "HUP once both directions are closed, got {ev:#x}"
    );
}

/// Binding to an address the stack does not have fails.
pub fn bind_foreign_address_is_eaddrnotavail(f: &dyn Fixture) {
    let res = f.server().udp_bind(any_port(f.foreign_ip()));
    assert_errno(res, EADDRNOTAVAIL, "UDP bind to a foreign address");
    let sock = f.server().socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_errno(
        sock.bind(&sa(SocketAddr::new(f.foreign_ip(), 8080))),
        EADDRNOTAVAIL,
        "TCP bind to a foreign address",
    );
}

/// A port in use cannot be bound again.
pub fn port_in_use_is_eaddrinuse(f: &dyn Fixture) {
    let listener = f.server().tcp_listen(any_port(f.server_ip())).unwrap();
    let addr = listener.local_addr().unwrap();
    let sock = f.server().socket(AF_INET, SOCK_STREAM, 0).unwrap();
    sock.set_option(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1 as libc::c_int)
        .unwrap();
    assert_errno(
        sock.bind(&sa(addr)),
        EADDRINUSE,
        "TCP bind to a listening port",
    );

    let udp = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    let res = f.server().udp_bind(udp.local_addr().unwrap());
    assert_errno(res, EADDRINUSE, "UDP bind to a bound port");
}

/// Every call on a descriptor that is not an ioth socket fails with EBADF.
pub fn calls_on_foreign_descriptors_are_ebadf(f: &dyn Fixture) {
    // A real descriptor that is not an ioth socket: a pipe.
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // (A closed ioth socket's number is checked in tests/closed_descriptor.rs: here, tests
    // running in parallel could reuse the number at once, as Linux allows.)
    let mut buf = [0u8; 4];
    let addr = sa(any_port(f.server_ip()));
    for fd in [fds[0], -1, 1_000_000] {
        assert_errno(bsd::bind(fd, &addr), EBADF, "bind");
        assert_errno(bsd::connect(fd, &addr), EBADF, "connect");
        assert_errno(bsd::listen(fd, 1), EBADF, "listen");
        assert_errno(bsd::accept(fd, 0), EBADF, "accept");
        assert_errno(bsd::getsockname(fd), EBADF, "getsockname");
        assert_errno(bsd::getpeername(fd), EBADF, "getpeername");
        assert_errno(
            bsd::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, &[1, 0, 0, 0]),
            EBADF,
            "setsockopt",
        );
        assert_errno(
            bsd::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, &mut buf),
            EBADF,
            "getsockopt",
        );
        assert_errno(bsd::shutdown(fd, libc::SHUT_RDWR), EBADF, "shutdown");
        let mut n = 0;
        assert_errno(
            bsd::ioctl(
                fd,
                Ioctl::Int {
                    request: libc::FIONREAD,
                    value: &mut n,
                },
            ),
            EBADF,
            "ioctl",
        );
        assert_errno(bsd::fcntl(fd, libc::F_GETFL, 0), EBADF, "fcntl");
        assert_errno(bsd::read(fd, &mut buf), EBADF, "read");
        assert_errno(
            bsd::readv(fd, &mut [IoSliceMut::new(&mut buf)]),
            EBADF,
            "readv",
        );
        assert_errno(bsd::recv(fd, &mut buf, 0), EBADF, "recv");
        assert_errno(bsd::recvfrom(fd, &mut buf, 0), EBADF, "recvfrom");
        assert_errno(
            bsd::recvmsg(fd, &mut [IoSliceMut::new(&mut buf)], &mut [], 0),
            EBADF,
            "recvmsg",
        );
        assert_errno(bsd::write(fd, b"x"), EBADF, "write");
        assert_errno(bsd::writev(fd, &[IoSlice::new(b"x")]), EBADF, "writev");
        assert_errno(bsd::send(fd, b"x", 0), EBADF, "send");
        assert_errno(bsd::sendto(fd, b"x", 0, &addr), EBADF, "sendto");
        assert_errno(
            bsd::sendmsg(fd, &[IoSlice::new(b"x")], None, &[], 0),
            EBADF,
            "sendmsg",
        );
        assert_errno(bsd::close(fd), EBADF, "close");
    }
    // The pipe was left alone.
    // SAFETY: closing our own pipe descriptors.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
}

/// FIONREAD counts what a read would return; F_GETFL/F_SETFL toggle O_NONBLOCK.
pub fn fionread_and_fcntl(f: &dyn Fixture) {
    let (client, server) = tcp_pair(f);
    (&client).write_all(b"12345").unwrap();
    assert!(poll_fd(server.as_raw_fd(), POLLIN, PATIENCE) & POLLIN != 0);
    let mut ready = 0;
    for _ in 0..100 {
        ready = server.socket().bytes_readable().unwrap();
        if ready == 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(ready, 5, "FIONREAD");
    let fd = server.as_raw_fd();
    let fl = bsd::fcntl(fd, libc::F_GETFL, 0).unwrap();
    assert_eq!(fl & libc::O_NONBLOCK, 0, "blocking by default");
    bsd::fcntl(fd, libc::F_SETFL, libc::c_long::from(fl | libc::O_NONBLOCK)).unwrap();
    assert!(server.socket().nonblocking().unwrap());
    let mut buf = [0u8; 16];
    assert_eq!(bsd::recv(fd, &mut buf, 0).unwrap(), 5);
    assert_errno(
        bsd::recv(fd, &mut buf, 0),
        EAGAIN,
        "drained nonblocking socket",
    );
}

/// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT keep what is set within
/// Linux's ranges and refuse the rest with EINVAL.
pub fn tcp_liveness_options(f: &dyn Fixture) {
    use libc::{IPPROTO_TCP, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_USER_TIMEOUT, c_int};
    let (client, _server) = tcp_pair(f);
    let s = client.socket();
    for (name, good, bad) in [
        (TCP_KEEPIDLE, [1, 600, 32767], [0, -1, 32768]),
        (TCP_KEEPINTVL, [1, 30, 32767], [0, -5, 32768]),
        (TCP_KEEPCNT, [1, 5, 127], [0, -1, 128]),
        (
            TCP_USER_TIMEOUT,
            [0, 1500, 1 << 30],
            [-1, -1000, c_int::MIN],
        ),
    ] {
        for v in good {
            s.set_option::<c_int>(IPPROTO_TCP, name, v).unwrap();
            assert_eq!(
                s.option::<c_int>(IPPROTO_TCP, name).unwrap(),
                v,
                "option {name}"
            );
        }
        for v in bad {
            assert_errno(
                s.set_option::<c_int>(IPPROTO_TCP, name, v),
                libc::EINVAL,
                "an option out of Linux's range",
            );
        }
    }
}

/// getpeername on an unconnected socket is ENOTCONN.
pub fn getpeername_unconnected(f: &dyn Fixture) {
    let udp = f.server().udp_bind(any_port(f.server_ip())).unwrap();
    assert_errno(
        udp.peer_addr(),
        ENOTCONN,
        "peer of an unconnected UDP socket",
    );
    let listener = f.server().tcp_listen(any_port(f.server_ip())).unwrap();
    assert_errno(
        listener.socket().peer_addr(),
        ENOTCONN,
        "peer of a listener",
    );
}

/// The std-like types work through the stack's defaults, not only with a named stack.
pub fn std_types_round_trip(f: &dyn Fixture) {
    let server = f.server();
    let client = f.client();
    let listener = {
        let _g = server.enter();
        TcpListener::bind(any_port(f.server_ip())).unwrap()
    };
    assert!(
        listener.stack().same_as(&server),
        "bound on the thread default"
    );
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let _g = client.enter();
        let mut s = TcpStream::connect(addr).unwrap();
        assert!(s.stack().same_as(&client));
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
        s.write_all(b"over std types").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut back = String::new();
        s.read_to_string(&mut back).unwrap();
        back
    });
    let (mut conn, _) = listener.accept().unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    conn.write_all(got.to_uppercase().as_bytes()).unwrap();
    drop(conn);
    assert_eq!(t.join().unwrap(), "OVER STD TYPES");

    let u = UdpSocket::bind_on(&f.server(), any_port(f.server_ip())).unwrap();
    u.set_broadcast(true).unwrap();
    assert!(u.broadcast().unwrap());
}

/// A stack with open sockets cannot be deleted; a failed socket() leaves no count behind.
pub fn delete_stack_with_sockets_is_ebusy(f: &dyn Fixture) {
    let stack = f.server();
    let before = stack.open_sockets();
    let sock = stack.udp_bind(any_port(f.server_ip())).unwrap();
    assert_eq!(stack.open_sockets(), before + 1);
    assert_errno(stack.delete(), libc::EBUSY, "delete with an open socket");
    assert!(!stack.is_deleted());
    // A socket call the stack refuses leaves the count unchanged.
    assert!(stack.socket(12345, SOCK_DGRAM, 0).is_err());
    assert_eq!(
        stack.open_sockets(),
        before + 1,
        "a failed socket() is not counted"
    );
    drop(sock);
    assert_eq!(stack.open_sockets(), before);
}
