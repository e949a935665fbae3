//! Calls on the number of an ioth socket that was closed give EBADF, on every backend.
//!
//! One test in its own binary: with other tests running in parallel, the closed number could
//! be reused at once by another socket, as Linux allows.

use std::os::fd::IntoRawFd;

use ioth::bsd;
use ioth_tests::assert_errno;
use ioth_tests::fixtures::{self, Fixture};

#[test]
fn calls_on_a_closed_socket_number_are_ebadf() {
    ioth_tests::init_logging();
    let fixtures: Vec<Box<dyn Fixture>> = vec![
        Box::new(fixtures::kernel_linked()),
        Box::new(fixtures::smoltcp_pair()),
    ];
    for f in &fixtures {
        let addr = std::net::SocketAddr::new(f.server_ip(), 0);
        let fd = f.server().udp_bind(addr).unwrap().into_raw_fd();
        assert!(bsd::is_socket(fd));
        bsd::close(fd).unwrap();
        let mut buf = [0u8; 4];
        assert_errno(bsd::recv(fd, &mut buf, 0), libc::EBADF, "recv after close");
        assert_errno(
            bsd::sendto(fd, b"x", 0, &addr.into()),
            libc::EBADF,
            "sendto after close",
        );
        assert_errno(bsd::getsockname(fd), libc::EBADF, "getsockname after close");
        assert_errno(bsd::close(fd), libc::EBADF, "second close");
        assert_eq!(
            f.server().open_sockets(),
            0,
            "{}: the close was counted",
            f.name()
        );
    }
}
