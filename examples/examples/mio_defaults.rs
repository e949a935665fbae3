//! A UDP socket on the process default stack and a TCP stream on this thread's default stack,
//! waited on together with mio. The peers are plain kernel sockets on loopback, so the program
//! runs anywhere: `cargo run --example mio_defaults`.
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use ioth::{
    Stack,
    net::{TcpStream, UdpSocket},
};
use ioth_examples::{CmdLine, Failure, run};
use mio::{Events, Interest, Poll, Token, unix::SourceFd};

const PROGRAM: &str = "mio_defaults";
const USAGE: &str = "\
usage: mio_defaults

Opens a UDP socket on the process default stack and a TCP stream on a thread default stack
(both the kernel's), then waits on both with mio until each has received a message from a
kernel peer on 127.0.0.1. Takes no arguments.
  -h, --help       this text
Logging: RUST_LOG=debug (env_logger).";

fn main() -> ExitCode {
    run(PROGRAM, || {
        CmdLine::from_env(USAGE).finish(0)?;
        exchange().map_err(|e| Failure::runtime(e.to_string()))
    })
}

fn exchange() -> std::io::Result<()> {
    let _ = ioth_kernel::NAME; // link the kernel backend so "kernel" is found by name
    let peer_tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
    let peer_udp = std::net::UdpSocket::bind("127.0.0.1:0")?;

    ioth::set_default_stack(Some(Stack::new("kernel", &[])?)); // the process default
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    let _thread_default = Stack::new("kernel", &[])?.enter(); // this thread's default
    let mut tcp = TcpStream::connect(peer_tcp.local_addr()?)?;

    let mut poll = Poll::new()?;
    poll.registry().register(
        &mut SourceFd(&udp.as_raw_fd()),
        Token(0),
        Interest::READABLE,
    )?;
    poll.registry().register(
        &mut SourceFd(&tcp.as_raw_fd()),
        Token(1),
        Interest::READABLE,
    )?;
    peer_udp.send_to(b"hello over UDP", udp.local_addr()?)?;
    peer_tcp.accept()?.0.write_all(b"hello over TCP")?;

    let (mut events, mut pending) = (Events::with_capacity(4), 2);
    while pending > 0 {
        poll.poll(&mut events, None)?;
        for event in &events {
            let mut buf = [0u8; 64];
            let n = if event.token() == Token(0) {
                udp.recv(&mut buf)?
            } else {
                tcp.read(&mut buf)?
            };
            println!(
                "{:?} on the {} socket",
                String::from_utf8_lossy(&buf[..n]),
                if event.token() == Token(0) {
                    "UDP (process default)"
                } else {
                    "TCP (thread default)"
                }
            );
            pending -= 1;
        }
    }
    Ok(())
}
