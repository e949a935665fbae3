// One stack configured call by call through rtnetlink on the stack itself, as `ip` would
// configure Linux, another from a configuration string, and a datagram between them.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ioth::nlconf::hashaddr::hashmac;
use ioth::{Configured, Stack};
use ioth_smoltcp as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Stack::new("smoltcp", &["hub://@config"])?; // lo, and vde0 down without address
    let vde0 = a.if_nametoindex("vde0")?;
    a.link_set_mac(vde0, hashmac("a.lan", None))?;
    a.link_set_up(vde0, true)?;
    a.ipaddr_add("10.0.1.1".parse()?, 24, vde0)?;
    a.iproute_add(None, Some("10.0.1.254".parse()?), Some(vde0))?; // the default route
    let wanted = [Configured::Ipv4Address, Configured::Ipv4DefaultRoute];
    a.wait_configured(&wanted, Duration::ZERO)?; // static: there already

    let config = "stack=smoltcp vnl=hub://@config fqdn=b.lan eth ip=10.0.1.2/24 dns=10.0.1.53";
    let (b, report) = Stack::from_config(config)?;
    assert_eq!(report.mac, Some(hashmac("b.lan", None))); // `eth` with `fqdn=`: a hash MAC
    assert_eq!(
        b.resolver().servers(),
        ["10.0.1.53:53".parse::<SocketAddr>()?]
    );

    let rx = a.udp_bind("10.0.1.1:5000")?;
    rx.set_read_timeout(Some(Duration::from_secs(5)))?;
    let tx = b.udp_bind("0.0.0.0:0")?;
    tx.send_to(b"ciao", "10.0.1.1:5000")?; // ARP first: the stack sends it once resolved
    let mut buf = [0u8; 16];
    let (n, from) = rx.recv_from(&mut buf)?;
    assert_eq!(
        (&buf[..n], from.ip()),
        (&b"ciao"[..], IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2)))
    );
    Ok(())
}
