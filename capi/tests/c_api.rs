//! C programs built against ioth.h and libioth.so (and libioth.a) with the system compiler:
//! libioth's error contract, UDP and TCP through the C API on the kernel stack, poll() on ioth
//! descriptors together with stdin.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};

use common::{assert_checks, compile, run, wait_patiently};
use ioth_tests::peers::{Peer, unique_name};

/// EBADF, EBUSY, ENOTSUP, EINVAL, EFAULT, ENODEV, ENONET and the default stack pointers, as a
/// C program sees them.
#[test]
fn errno_contract_seen_from_c() {
    let exe = compile("errno_checks.c", &[]);
    let missing = unique_name("nosuchstack");
    let mut cmd = Command::new(exe);
    cmd.arg(&missing)
        .env("IOTH_PLUGIN_PATH", common::work_dir());
    let out = run(cmd, "errno_checks");
    assert_checks(
        &out,
        &[
            "close_unknown_fd_ebadf",
            "close_stdin_ebadf",
            "read_unknown_fd_ebadf",
            "delstack_in_use_ebusy",
            "socket_still_works_after_ebusy",
            "bind_null_efault",
            "read_null_buffer_efault",
            "getifaddrs_null_efault",
            "delstack_null_einval",
            "delstack_bogus_einval",
            "msocket_bogus_einval",
            "kernel_takes_no_vnl_einval",
            "newstackl_passes_every_vnl",
            "close_twice_ebadf",
            "msocket_on_deleted_handle_einval",
            "missing_plugin_enotsup",
            "if_nametoindex_missing_enodev",
            "get_defstack_same_pointer",
            "delstack_default_in_use_ebusy",
            "set_defstack_bogus_einval",
            "socket_on_deleted_default_enonet",
            "defstack_reset_null",
            "get_thread_defstack_same_pointer",
            "other_thread_has_no_thread_default",
            "thread_default_counts_sockets_ebusy",
            "set_thread_defstack_bogus_einval",
            "macton_colons",
            "macton_mixed_separators_refused",
        ],
        "errno_checks",
    );
}

/// Echoes `count` datagrams back in upper case to their senders.
fn upper_echo(sock: UdpSocket, count: usize) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(ioth_tests::PATIENCE)).unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        for _ in 0..count {
            let (n, from) = sock
                .recv_from(&mut buf)
                .expect("datagram from the C program");
            seen.push(buf[..n].to_vec());
            sock.send_to(&buf[..n].to_ascii_uppercase(), from).unwrap();
        }
        seen
    })
}

/// Every UDP call of the C API round-trips with a kernel socket.
#[test]
fn udp_round_trip_through_c() {
    let exe = compile("udp_roundtrip.c", &[]);
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    let echo = upper_echo(peer, 4);
    let mut cmd = Command::new(exe);
    cmd.arg(port.to_string());
    let out = run(cmd, "udp_roundtrip");
    assert_checks(
        &out,
        &[
            "recv_empty_eagain",
            "sendto",
            "fionread",
            "recvfrom",
            "recvfrom_sender",
            "writev",
            "readv",
            "getpeername",
            "sendmsg",
            "recvmsg",
            "read",
            "delstack",
        ],
        "udp_roundtrip",
    );
    let seen = echo.join().unwrap();
    assert_eq!(
        seen,
        vec![
            b"ciao\n".to_vec(),
            b"hello".to_vec(),
            b"msg".to_vec(),
            b"bye".to_vec()
        ]
    );
}

fn read_line(r: &mut impl BufRead) -> String {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

/// A C TCP echo server polls its ioth descriptors together with stdin: it echoes while
/// idle on stdin, answers stdin while connections are open, and exits on "quit".
#[test]
fn tcp_echo_server_polls_ioth_fds_with_stdin() {
    let exe = compile("tcp_echo_server.c", &[]);
    let mut cmd = Command::new(exe);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut server = Peer::spawn(cmd, "tcp_echo_server");
    let mut stdin = server.child().stdin.take().unwrap();
    let mut stdout = BufReader::new(server.child().stdout.take().unwrap());
    let first = read_line(&mut stdout);
    let port: u16 = first
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("server said {first:?}"));

    let mut a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    a.set_read_timeout(Some(ioth_tests::PATIENCE)).unwrap();
    a.write_all(b"hello\n").unwrap();
    let mut buf = [0u8; 6];
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello\n");

    // stdin is served while a connection is open and idle
    stdin.write_all(b"stats\n").unwrap();
    assert_eq!(read_line(&mut stdout), "stats connections 1 bytes 6");

    let mut b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    b.set_read_timeout(Some(ioth_tests::PATIENCE)).unwrap();
    let big: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    b.write_all(&big).unwrap();
    let mut back = vec![0u8; big.len()];
    b.read_exact(&mut back).unwrap();
    assert_eq!(back, big);
    drop(a);
    stdin.write_all(b"stats\n").unwrap();
    assert_eq!(read_line(&mut stdout), "stats connections 2 bytes 4006");

    stdin.write_all(b"quit\n").unwrap();
    assert_eq!(read_line(&mut stdout), "bye");
    let status = wait_patiently(server.child(), "tcp_echo_server");
    assert!(status.success(), "server exited with {status}");
}

/// A C program linked against libioth.a alone (no libioth.so at run time) passes the errno
/// contract checks.
#[test]
fn static_library_links_and_runs() {
    let lib = common::built_dir();
    let exe = common::work_dir().join(unique_name("errno_static"));
    let mut cmd = common::cc();
    cmd.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(common::include_dir())
        .arg(common::c_source("errno_checks.c"))
        .arg(lib.join("libioth.a"))
        .args(ioth_clink::NATIVE_LIBS)
        .arg("-o")
        .arg(&exe);
    common::run_compiler(cmd);
    let ldd = Command::new("ldd").arg(&exe).output().unwrap();
    let deps = String::from_utf8_lossy(&ldd.stdout);
    assert!(!deps.contains("libioth"), "linked dynamically:\n{deps}");
    let mut run_cmd = Command::new(&exe);
    run_cmd.arg(unique_name("nosuchstack"));
    let out = run(run_cmd, "errno_checks (static)");
    assert_checks(
        &out,
        &[
            "delstack_in_use_ebusy",
            "missing_plugin_enotsup",
            "get_defstack_same_pointer",
        ],
        "errno_checks (static)",
    );
}
