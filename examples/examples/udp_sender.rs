//! `udp_sender`: the classic: a node at 10.0.0.1/24 sends "ciao\n" to 10.0.0.2:5000 over UDP.
//!
//! The other half of `udp_receiver`. To run the two as separate processes, give both the same
//! served hub: the first one started serves it at `PATH/ctl`, the second joins it.
//!
//! ```sh
//! cargo run --example udp_receiver -- hub:///tmp/ioth-demo      # serves the hub, waits
//! cargo run --example udp_sender -- hub:///tmp/ioth-demo        # joins it, sends "ciao\n"
//! ```
//!
//! Both can also join a real switch: `vde_switch -d -s /tmp/sw`, then `vde:///tmp/sw` for each.
//! Without a VNL the sender is on an embedded hub nobody else can reach, so it starts an
//! in-process receiver thread (10.0.0.2, its own stack on the same hub) that prints what
//! arrives.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ioth_examples::peers::{UdpReceiver, printable};
use ioth_examples::{
    Attachment, CmdLine, Context, Destination, Failure, Ipv4Cidr, Node, at_least_one, attach, run,
};

const PROGRAM: &str = "udp_sender";
const USAGE: &str = "\
usage: udp_sender [OPTIONS] [VNL]

A network node with its own user-space TCP/IP stack that sends UDP datagrams (\"ciao\\n\" by
default) to 10.0.0.2:5000, where udp_receiver listens. Its IPv6 address and MAC are derived
from its name by the IoTh hash (base fc00:0:0:1::).

arguments:
  VNL              the virtual network. hub:///PATH serves a hub at PATH/ctl, or joins it if
                   another process (e.g. udp_receiver hub:///PATH) already serves it;
                   vde:///PATH joins a vde_switch. Default: an embedded hub that only this
                   process can reach; then an in-process receiver thread (its own stack, with
                   the --to IPv4 address) prints what arrives.
options:
  --from ADDR/LEN  this node's IPv4 address (default 10.0.0.1/24)
  --to ADDR:PORT   the destination, IPv4 or [IPv6] (default 10.0.0.2:5000)
  --message TEXT   send TEXT followed by a newline (default \"ciao\")
  --count N        send N datagrams (default 1)
  --interval MS    pause between datagrams (default 100)
  --linger MS      keep the socket open after the last send, so datagrams still waiting for
                   the peer's MAC (ARP/ND) leave before the stack goes (default 500)
  --name NAME      the name the IPv6 address and MAC are derived from (default udp_sender)
  -h, --help       this text
Logging: RUST_LOG=debug (env_logger).";

/// How long the embedded demo waits for its in-process receiver to print everything.
const DEMO_WAIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    run(PROGRAM, || {
        let mut cmd = CmdLine::from_env(USAGE);
        let from = cmd.value::<Ipv4Cidr>("--from")?.unwrap_or(Ipv4Cidr {
            addr: Ipv4Addr::new(10, 0, 0, 1),
            prefix: 24,
        });
        let to = cmd.value::<Destination>("--to")?.map_or(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 5000),
            |d| d.0,
        );
        let message = cmd
            .value::<String>("--message")?
            .unwrap_or_else(|| "ciao".into());
        let count = at_least_one("--count", cmd.value::<usize>("--count")?)?.unwrap_or(1);
        let interval = Duration::from_millis(cmd.value::<u64>("--interval")?.unwrap_or(100));
        let linger = Duration::from_millis(cmd.value::<u64>("--linger")?.unwrap_or(500));
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
        let payload = format!("{message}\n").into_bytes();

        let node = Node::new(&vnl, &name, Some((from.addr, from.prefix)))?;
        println!(
            "{name}: {} and {} ({})",
            from,
            node.ipv6,
            how.describe(&vnl)
        );
        let demo = if how.is_shared() {
            None
        } else {
            Some(start_demo_receiver(&vnl, to, from.prefix, count)?)
        };

        let local: SocketAddr = if to.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = node.stack.udp_bind(local).context("binding a UDP socket")?;
        for i in 0..count {
            if i > 0 {
                thread::sleep(interval);
            }
            let n = sock
                .send_to(&payload, to)
                .context(format_args!("sending to {to}"))?;
            println!("{name}: sent {n} bytes to {to}: {}", printable(&payload));
        }
        match demo {
            Some((thread, printed)) => {
                // The in-process receiver prints everything, then says so.
                printed.recv_timeout(DEMO_WAIT).map_err(|_| {
                    Failure::runtime(format!(
                        "the in-process receiver did not get {count} datagrams within {} s",
                        DEMO_WAIT.as_secs()
                    ))
                })?;
                thread
                    .join()
                    .map_err(|_| Failure::runtime("the in-process receiver panicked"))??;
            }
            None => {
                // Closing the socket drops datagrams the stack has not sent yet (a first
                // datagram waits for the peer's MAC): give them a moment.
                thread::sleep(linger);
            }
        }
        drop(sock);
        Ok(())
    })
}

type Demo = (thread::JoinHandle<Result<(), Failure>>, mpsc::Receiver<()>);

/// Starts the in-process receiver of the embedded-hub demo on its own stack at `to` and
/// waits until it listens. The channel says when it has printed `count` datagrams.
fn start_demo_receiver(
    vnl: &str,
    to: SocketAddr,
    prefix: u8,
    count: usize,
) -> Result<Demo, Failure> {
    let IpAddr::V4(v4) = to.ip() else {
        return Err(Failure::usage(format!(
            "--to {to}: on the embedded hub the in-process receiver has an IPv4 address only; \
             give an IPv4 destination or a VNL shared with a udp_receiver"
        )));
    };
    println!(
        "{PROGRAM}: nobody else can reach an embedded hub: starting an in-process receiver at \
         {to}; give a VNL such as hub:///tmp/ioth-demo to reach another process"
    );
    let node = Node::new(vnl, "udp_receiver", Some((v4, prefix)))?;
    let receiver = UdpReceiver::bind(&node, to.port())?;
    let (printed_tx, printed_rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name("udp_receiver".into())
        .spawn(move || -> Result<(), Failure> {
            for _ in 0..count {
                let (data, from) = receiver.recv().context("in-process receiver")?;
                println!(
                    "udp_receiver (in-process): from {from}: {}",
                    printable(&data)
                );
            }
            let _ = printed_tx.send(());
            drop(node);
            Ok(())
        })
        .context("starting the in-process receiver")?;
    Ok((thread, printed_rx))
}
