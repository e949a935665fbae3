//! A program that depends on `ioth` alone (this test links no backend crate) finds the kernel
//! stack by name, and a socket opened with no default stack lands on it.

use std::io::{Read, Write};

use ioth::Stack;
use ioth::net::{TcpListener, TcpStream, UdpSocket};

#[test]
fn the_kernel_is_found_by_name_with_ioth_alone() {
    assert!(ioth::registry::names().iter().any(|n| n == "kernel"));
    let stack = Stack::new("kernel", &[]).expect("the built-in kernel stack");
    assert_eq!(stack.implementation(), "kernel");
    let sock = stack
        .udp_bind("127.0.0.1:0")
        .expect("a UDP socket on the kernel stack");
    let to = sock.local_addr().expect("its address");
    sock.send_to(b"ciao", to).expect("a datagram to itself");
    let mut buf = [0u8; 16];
    let (n, from) = sock.recv_from(&mut buf).expect("the datagram back");
    assert_eq!((&buf[..n], from), (&b"ciao"[..], to));
}

#[test]
fn a_socket_without_a_default_stack_uses_the_kernel() {
    assert!(ioth::thread_stack().is_none());
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener on the fallback stack");
    let addr = listener.local_addr().expect("its address");
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("the connection");
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).expect("the request");
        conn.write_all(&buf).expect("the echo");
    });
    let mut client = TcpStream::connect(addr).expect("a connection on the fallback stack");
    client.write_all(b"hello").expect("the request");
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).expect("the echo");
    assert_eq!(&buf, b"hello");
    server.join().expect("the server thread");
    let udp = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket on the fallback stack");
    assert!(udp.local_addr().expect("its address").port() != 0);
}
