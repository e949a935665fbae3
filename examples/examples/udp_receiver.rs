//! `udp_receiver`: a node at 10.0.0.2/24 that prints every UDP datagram arriving on port 5000.
//!
//! The other half of `udp_sender`. To run the two as separate processes, give both the same
//! served hub: the first one started serves it at `PATH/ctl`, the second joins it.
//!
//! ```sh
//! cargo run --example udp_receiver -- hub:///tmp/ioth-demo      # serves the hub, waits
//! cargo run --example udp_sender -- hub:///tmp/ioth-demo        # joins it, sends "ciao\n"
//! ```
//!
//! Both can also join a real switch: `vde_switch -d -s /tmp/sw`, then `vde:///tmp/sw` for each.
//! Without a VNL the receiver is on an embedded hub nobody else can reach, so it starts an
//! in-process sender thread on the same hub, prints its "ciao" and exits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use ioth_examples::peers::{UdpReceiver, printable};
use ioth_examples::{
    Attachment, CmdLine, Context, Failure, Ipv4Cidr, Node, Port, at_least_one, attach, run,
};

const PROGRAM: &str = "udp_receiver";
const USAGE: &str = "\
usage: udp_receiver [OPTIONS] [VNL]

A network node with its own user-space TCP/IP stack that prints every UDP datagram arriving on
its port, as 'from ADDRESS:PORT: TEXT'. Its IPv6 address and MAC are derived from its name by
the IoTh hash (base fc00:0:0:1::); IPv4 and IPv6 are both received.

arguments:
  VNL              the virtual network. hub:///PATH serves a hub at PATH/ctl, or joins it if
                   another process (e.g. udp_sender hub:///PATH) already serves it;
                   vde:///PATH joins a vde_switch. Default: an embedded hub that only this
                   process can reach; then an in-process sender thread (10.0.0.1) sends
                   \"ciao\\n\" once and the receiver exits after printing it.
options:
  --ip ADDR/LEN    this node's IPv4 address (default 10.0.0.2/24)
  --port PORT      the UDP port, 1..=65535 (default 5000)
  --count N        exit after N datagrams (default: never; 1 on the embedded hub)
  --name NAME      the name the IPv6 address and MAC are derived from (default udp_receiver)
  -h, --help       this text
Logging: RUST_LOG=debug (env_logger).";

fn main() -> ExitCode {
    run(PROGRAM, || {
        let mut cmd = CmdLine::from_env(USAGE);
        let ip = cmd.value::<Ipv4Cidr>("--ip")?.unwrap_or(Ipv4Cidr {
            addr: Ipv4Addr::new(10, 0, 0, 2),
            prefix: 24,
        });
        let port = cmd.value::<Port>("--port")?.map_or(5000, |p| p.0);
        let count = at_least_one("--count", cmd.value::<usize>("--count")?)?;
        let name = cmd
            .value::<String>("--name")?
            .unwrap_or_else(|| PROGRAM.into());
        let positional = cmd.finish(1)?;
        let (vnl, how) = match positional.first() {
            Some(v) => (v.clone(), attach(v)?),
            None => (
                format!("hub://@ioth-udp-{}", std::process::id()),
                Attachment::Embedded,
            ),
        };
        let node = Node::new(&vnl, &name, Some((ip.addr, ip.prefix)))?;
        let receiver = UdpReceiver::bind(&node, port)?;
        println!(
            "{name}: {} and {}: listening on UDP port {port} ({})",
            ip,
            node.ipv6,
            how.describe(&vnl)
        );
        let count = if how.is_shared() {
            count
        } else {
            Some(count.unwrap_or(1))
        };
        let demo = if how.is_shared() {
            None
        } else {
            println!(
                "{name}: nobody else can reach an embedded hub: starting an in-process sender \
                 (10.0.0.1) that sends \"ciao\\n\"; give a VNL such as hub:///tmp/ioth-demo to \
                 receive from other processes"
            );
            let to = SocketAddr::new(IpAddr::V4(ip.addr), port);
            let vnl = vnl.clone();
            let times = count.unwrap_or(1);
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let handle = thread::Builder::new()
                .name("udp_sender".into())
                .spawn(move || demo_sender(&vnl, to, times, &done_rx))
                .context("starting the in-process sender")?;
            Some((handle, done_tx))
        };
        let mut received = 0;
        while count.is_none_or(|c| received < c) {
            let (data, from) = receiver.recv().context("receiving")?;
            println!("from {from}: {}", printable(&data));
            received += 1;
        }
        if let Some((d, done)) = demo {
            drop(done);
            d.join()
                .map_err(|_| Failure::runtime("the in-process sender panicked"))??;
        }
        Ok(())
    })
}

/// The in-process sender of the embedded-hub demo: sends "ciao\n" `times` times to `to`.
fn demo_sender(
    vnl: &str,
    to: SocketAddr,
    times: usize,
    done: &mpsc::Receiver<()>,
) -> Result<(), Failure> {
    let node = Node::new(vnl, "udp_sender", Some((Ipv4Addr::new(10, 0, 0, 1), 24)))?;
    let sock = node
        .stack
        .udp_bind((Ipv4Addr::UNSPECIFIED, 0))
        .context("in-process sender: binding")?;
    for _ in 0..times {
        sock.send_to(b"ciao\n", to)
            .context(format_args!("in-process sender: sending to {to}"))?;
    }
    // Keep the socket (and so any datagram still waiting for ARP) until the receiver is done:
    // closing a socket drops the datagrams it has not sent yet.
    let _ = done.recv();
    Ok(())
}
