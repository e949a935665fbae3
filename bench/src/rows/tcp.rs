//! `tcp_stream_inproc`: bulk TCP between two smoltcp stacks of this process over the in-process
//! hub, against kernel TCP over loopback, a line per TCP engine of the stacks (smoltcp's, the
//! row's historical line, and ours: `.tcp_ioth`); smoltcp's bare loopback (one thread, no hub,
//! no sockets layer) is printed as the ceiling of smoltcp's line.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::fixture::{A_IP, Engine, Pair};
use crate::report::{Better, Row, Samples};

/// Size of each application write and read.
const CHUNK: usize = 64 * 1024;

/// Streams from `w` to `r` for `secs` (after a warm-up) and returns Gbit/s seen by the reader.
/// The writer runs on its own thread; closing it at the end gives the reader its EOF.
pub(crate) fn stream_gbps<W, R>(mut w: W, mut r: R, secs: f64) -> io::Result<f64>
where
    W: Write + Send + 'static,
    R: Read,
{
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let writer = std::thread::spawn(move || -> io::Result<()> {
        let buf = vec![0x5au8; CHUNK];
        while !s.load(Ordering::Relaxed) {
            w.write_all(&buf)?;
        }
        Ok(())
    });
    let mut buf = vec![0u8; CHUNK];
    let warm = Duration::from_secs_f64((secs * 0.15).max(0.05));
    let start = Instant::now();
    let mut measuring: Option<(Instant, u64)> = None;
    let mut result = None;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        match &mut measuring {
            None if start.elapsed() >= warm => measuring = Some((Instant::now(), 0)),
            None => {}
            Some((t0, bytes)) => {
                *bytes += n as u64;
                let el = t0.elapsed().as_secs_f64();
                if el >= secs && result.is_none() {
                    result = Some(*bytes as f64 * 8.0 / el / 1e9);
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    let w = writer
        .join()
        .map_err(|_| io::Error::other("writer thread panicked"))?;
    w?;
    result.ok_or_else(|| io::Error::other("stream ended before the measurement did"))
}

/// Our two stacks on a hub running `engine`'s TCP: b streams to a.
pub(crate) fn ours_with(engine: Engine, secs: f64) -> io::Result<f64> {
    let pair = Pair::with(engine)?;
    let listener = pair.a.tcp_listen(SocketAddr::from((A_IP, 5001)))?;
    let client = pair.b.tcp_connect(SocketAddr::from((A_IP, 5001)))?;
    let (server, _) = listener.accept()?;
    stream_gbps(client, server, secs)
}

/// The kernel over 127.0.0.1.
fn kernel(secs: f64) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    stream_gbps(client, server, secs)
}

/// The row's name for `engine`: smoltcp's TCP keeps the historical name.
pub(crate) fn row_name(engine: Engine) -> String {
    match engine {
        Engine::Smoltcp => "tcp_stream_inproc".into(),
        Engine::Ioth => format!("tcp_stream_inproc.{}", engine.tag()),
    }
}

/// A line per engine, and the bare smoltcp loopback ceiling as a row of its own.
pub(crate) fn run(ctx: &Ctx) -> Vec<Row> {
    let (mut k, mut bare) = (Samples::default(), Samples::default());
    let mut ours: [Samples; 2] = Default::default();
    let mut errors: [Vec<String>; 2] = Default::default();
    let mut kernel_errors = Vec::new();
    for _ in 0..ctx.repeats {
        for (i, e) in Engine::BOTH.iter().enumerate() {
            match ours_with(*e, ctx.secs) {
                Ok(v) => ours[i].0.push(v),
                Err(err) => errors[i].push(format!("ours: {err}")),
            }
        }
        match kernel(ctx.secs) {
            Ok(v) => k.0.push(v),
            Err(e) => kernel_errors.push(format!("kernel: {e}")),
        }
        bare.0.push(bare::gbps(ctx.secs));
    }
    let mut rows = Vec::new();
    let mut smoltcp_line = Samples::default();
    for (i, e) in Engine::BOTH.iter().enumerate() {
        let mut note = format!(
            "b→a over hub://@, stacks {:?}, {} KiB writes, {}; reference: kernel TCP on 127.0.0.1; goal ≥ 5 Gbit/s",
            e.stack_name(),
            CHUNK / 1024,
            e.buffers()
        );
        let errs: Vec<&String> = errors[i].iter().chain(&kernel_errors).collect();
        if !errs.is_empty() {
            let errs: Vec<&str> = errs.iter().map(|s| s.as_str()).collect();
            note.push_str(&format!("; errors: {}", errs.join(", ")));
        }
        if *e == Engine::Smoltcp {
            smoltcp_line = ours[i].clone();
        }
        rows.push(Row::new(
            &row_name(*e),
            "Gbit/s",
            Better::Higher,
            ours[i].clone(),
            k.clone(),
            note,
        ));
    }
    rows.extend([
        Row::new(
            "tcp_stream_inproc.ceiling",
            "Gbit/s",
            Better::Higher,
            smoltcp_line,
            bare,
            "ours: the tcp_stream_inproc line (smoltcp's TCP); reference here is smoltcp's bare loopback (one thread, one Interface, MTU 1514, 64 KiB buffers, no hub, no locks): the ceiling our stack could reach with smoltcp's TCP",
        ),
    ]);
    rows
}

/// smoltcp alone: one interface on a loopback device, a client and a server socket, one thread.
pub(crate) mod bare {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::time::Instant as StdInstant;

    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant;
    use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

    /// A loopback Ethernet device that recycles its buffers (no allocation per frame).
    struct Loop {
        queue: VecDeque<Vec<u8>>,
        free: RefCell<Vec<Vec<u8>>>,
    }

    struct Rx<'a> {
        buf: Vec<u8>,
        free: &'a RefCell<Vec<Vec<u8>>>,
    }

    struct Tx<'a> {
        queue: &'a mut VecDeque<Vec<u8>>,
        free: &'a RefCell<Vec<Vec<u8>>>,
    }

    impl phy::RxToken for Rx<'_> {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            let r = f(&self.buf);
            self.free.borrow_mut().push(self.buf);
            r
        }
    }

    impl phy::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut buf = self.free.borrow_mut().pop().unwrap_or_default();
            buf.resize(len, 0);
            let r = f(&mut buf);
            self.queue.push_back(buf);
            r
        }
    }

    impl Device for Loop {
        type RxToken<'a> = Rx<'a>;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
            let buf = self.queue.pop_front()?;
            Some((
                Rx {
                    buf,
                    free: &self.free,
                },
                Tx {
                    queue: &mut self.queue,
                    free: &self.free,
                },
            ))
        }

        fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
            Some(Tx {
                queue: &mut self.queue,
                free: &self.free,
            })
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut c = DeviceCapabilities::default();
            c.medium = Medium::Ethernet;
            c.max_transmission_unit = 1514;
            c
        }
    }

    fn now(t0: StdInstant) -> Instant {
        Instant::from_micros(t0.elapsed().as_micros() as i64)
    }

    /// Gbit/s of one TCP connection over the loopback for `secs` (after a short warm-up).
    pub(crate) fn gbps(secs: f64) -> f64 {
        let t0 = StdInstant::now();
        let mut dev = Loop {
            queue: VecDeque::new(),
            free: RefCell::new(Vec::new()),
        };
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
        let mut iface = Interface::new(
            Config::new(HardwareAddress::Ethernet(mac)),
            &mut dev,
            now(t0),
        );
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
        });
        let mk = || {
            tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; 65536]),
                tcp::SocketBuffer::new(vec![0; 65536]),
            )
        };
        let mut set = SocketSet::new(Vec::new());
        let server = set.add(mk());
        let client = set.add(mk());
        let _ = set.get_mut::<tcp::Socket>(server).listen(1234);
        let _ = set.get_mut::<tcp::Socket>(client).connect(
            iface.context(),
            (IpAddress::v4(127, 0, 0, 1), 1234),
            65000,
        );
        let chunk = vec![0x5au8; 65536];
        let mut sink = vec![0u8; 65536];
        let warm = (secs * 0.15).max(0.05);
        let mut start: Option<(StdInstant, u64)> = None;
        loop {
            iface.poll(now(t0), &mut dev, &mut set);
            let c = set.get_mut::<tcp::Socket>(client);
            if c.can_send() {
                let _ = c.send_slice(&chunk);
            }
            let s = set.get_mut::<tcp::Socket>(server);
            if s.can_recv()
                && let Ok(n) = s.recv_slice(&mut sink)
            {
                match &mut start {
                    None if t0.elapsed().as_secs_f64() >= warm => {
                        start = Some((StdInstant::now(), 0));
                    }
                    None => {}
                    Some((ts, bytes)) => {
                        *bytes += n as u64;
                        let el = ts.elapsed().as_secs_f64();
                        if el >= secs {
                            return *bytes as f64 * 8.0 / el / 1e9;
                        }
                    }
                }
            }
        }
    }
}
