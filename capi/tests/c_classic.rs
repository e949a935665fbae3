//! The classic libioth program in C, on the smoltcp stack built into libioth: its datagram
//! crosses a real `vde_switch` hub and reaches a kernel socket behind a TAP (joined to the hub
//! by `vde_plug`) in a namespace the test makes.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{compile, run};
use ioth_tests::peers::{NetNs, Peer, require_netns, require_tool};

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < ioth_tests::PATIENCE,
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A UDP socket bound to `addr` inside namespace `ns`, made by a short-lived thread that
/// enters the namespace (the test's own threads stay where they are).
fn udp_in_namespace(ns: &NetNs, addr: &str) -> UdpSocket {
    let path = Path::new("/run/netns").join(ns.name());
    let addr = addr.to_owned();
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: setns on a valid namespace descriptor affects only this thread.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        UdpSocket::bind(addr).unwrap()
    })
    .join()
    .unwrap()
}

/// A vde_switch hub, and the kernel of a namespace on a TAP joined to it by vde_plug with
/// 10.0.0.2/24 and a UDP socket on port 5000. Fields drop in reverse order of need.
struct KernelOnHub {
    receiver: UdpSocket,
    vnl: String,
    _plug: Peer,
    _ns: NetNs,
    _switch: Peer,
    _dir: tempfile::TempDir,
}

/// Sets up [`KernelOnHub`]; None (after a loud message) when a tool is missing.
fn kernel_on_hub(what: &str) -> Option<KernelOnHub> {
    if !(require_tool("vde_switch", what) && require_tool("vde_plug", what) && require_netns(what))
    {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub");
    let mut sw = Command::new("vde_switch");
    sw.arg("-x")
        .arg("-s")
        .arg(&hub)
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let _switch = Peer::spawn(sw, "vde_switch -x");
    wait_for("vde_switch's ctl socket", || hub.join("ctl").exists());

    let ns = NetNs::new();
    let tap = "ctap0";
    let mut plug = ns.command("vde_plug");
    plug.arg(format!("vde://{}", hub.display()))
        .arg(format!("tap://{tap}"))
        .stdin(Stdio::null());
    let _plug = Peer::spawn(plug, "vde_plug to a TAP");
    wait_for("the TAP", || {
        Command::new("ip")
            .args(["-n", ns.name(), "link", "show", tap])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    ns.exec(&["ip", "addr", "add", "10.0.0.2/24", "dev", tap]);
    ns.exec(&["ip", "link", "set", tap, "up"]);
    let receiver = udp_in_namespace(&ns, "10.0.0.2:5000");
    receiver
        .set_read_timeout(Some(ioth_tests::PATIENCE))
        .unwrap();

    Some(KernelOnHub {
        receiver,
        vnl: format!("vde://{}", hub.display()),
        _plug,
        _ns: ns,
        _switch,
        _dir: dir,
    })
}

/// The classic program: newstack on a VNL, if_nametoindex("vde0"), ipaddr_add 10.0.0.1/24,
/// linksetupdown, msocket(AF_INET, SOCK_DGRAM), sendto "ciao\n" to 10.0.0.2:5000, close: the
/// kernel behind a TAP on the same hub receives it.
#[test]
fn classic_program_reaches_a_kernel_through_a_vde_hub() {
    let Some(k) = kernel_on_hub("the classic C program test") else {
        return;
    };
    let exe = compile("classic.c", &[]);
    let mut cmd = Command::new(exe);
    cmd.arg(&k.vnl);
    let out = run(cmd, "classic");
    assert!(
        out.status.success(),
        "classic failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut buf = [0u8; 64];
    let (n, from) = k
        .receiver
        .recv_from(&mut buf)
        .expect("the kernel received the classic program's datagram");
    assert_eq!(&buf[..n], b"ciao\n");
    assert_eq!(from.ip().to_string(), "10.0.0.1");
}

/// The classic program, waiting for the kernel's answer before it closes: the datagram
/// crosses the hub both ways between the C program's smoltcp stack and the kernel.
#[test]
fn classic_program_and_kernel_exchange_datagrams_through_a_vde_hub() {
    let Some(k) = kernel_on_hub("the classic C program test") else {
        return;
    };
    let exe = compile("classic.c", &[]);
    let mut cmd = Command::new(exe);
    cmd.arg(&k.vnl).arg("reply");
    let receiver = k.receiver.try_clone().unwrap();
    let answer = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = receiver.recv_from(&mut buf)?;
        receiver.send_to(b"ciao da linux", from)?;
        Ok::<_, std::io::Error>((buf[..n].to_vec(), from))
    });
    let out = run(cmd, "classic reply");
    let (got, from) = answer
        .join()
        .unwrap()
        .expect("the kernel received the classic program's datagram");
    assert_eq!(got, b"ciao\n");
    assert_eq!(from.ip().to_string(), "10.0.0.1");
    assert!(
        out.status.success(),
        "classic failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("reply: ciao da linux"), "{stdout}");
    assert!(stdout.contains("sent"), "{stdout}");
}
