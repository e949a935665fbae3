//! The types of the engine's surface: settings, socket options, identifiers, states, errors,
//! what a connection shows to its socket, and what the engine emits.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::cc::Algorithm;

/// Per-stack settings. The defaults are Linux's.
#[derive(Clone, Debug)]
pub struct Config {
    /// Lower bound of the retransmission timeout (Linux's `TCP_RTO_MIN`, 200 ms).
    pub min_rto: Duration,
    /// Upper bound of the retransmission timeout (Linux's `TCP_RTO_MAX`, 120 s).
    pub max_rto: Duration,
    /// Initial congestion window in segments (RFC 6928: 10).
    pub initial_window: usize,
    /// Congestion control of new connections.
    pub congestion: Algorithm,
    /// SYN retransmissions before a connect fails with `ETIMEDOUT` (`tcp_syn_retries`, 6).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a half-open connection is dropped (`tcp_synack_retries`, 5).
    pub synack_retries: u32,
    /// Retransmissions of data before the connection fails (`tcp_retries2`, 15), counted as
    /// Linux does: as the time those retransmissions would take from a 200 ms RTO.
    pub retries2: u32,
    /// How long an orphaned connection waits in FIN-WAIT-2 (`tcp_fin_timeout`, 60 s).
    pub fin_timeout: Duration,
    /// How long TIME-WAIT lasts (Linux: 60 s).
    pub time_wait: Duration,
    /// Offer and accept timestamps (RFC 7323).
    pub timestamps: bool,
    /// Offer and accept SACK (RFC 2018).
    pub sack: bool,
    /// Offer and accept window scaling (RFC 7323).
    pub window_scaling: bool,
    /// Answer SYNs with SYN cookies when a listener's SYN queue is full.
    pub syncookies: bool,
    /// Longest a received segment waits for its acknowledgement (40 ms, Linux's minimum ATO).
    pub delayed_ack_max: Duration,
    /// Receive buffer of a socket without `SO_RCVBUF` (Linux's `tcp_rmem[1]`, 128 KiB); it
    /// grows with the connection's rate up to [`Config::rmem_max`].
    pub rmem_default: usize,
    /// Most a receive buffer grows to by itself (Linux's `tcp_rmem[2]`, 6 MiB).
    pub rmem_max: usize,
    /// Send buffer of a socket without `SO_SNDBUF` (Linux's `tcp_wmem[1]`, 16 KiB, grows: we
    /// take a fixed 1 MiB, which a fast or long path needs, and whose pages cost nothing
    /// until used).
    pub wmem_default: usize,
    /// Most connections held in TIME-WAIT (Linux's `tcp_max_tw_buckets`); past it a
    /// connection that would enter TIME-WAIT ends at once, as Linux's do on overflow.
    pub max_time_wait: usize,
    /// The secret behind initial sequence numbers and SYN cookies: the backend fills it with
    /// random bytes.
    pub secret: [u8; 32],
}

impl Default for Config {
    fn default() -> Config {
        Config {
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            initial_window: 10,
            congestion: Algorithm::Cubic,
            syn_retries: 6,
            synack_retries: 5,
            retries2: 15,
            fin_timeout: Duration::from_secs(60),
            time_wait: Duration::from_secs(60),
            timestamps: true,
            sack: true,
            window_scaling: true,
            syncookies: true,
            delayed_ack_max: Duration::from_millis(40),
            rmem_default: 128 * 1024,
            rmem_max: 6 * 1024 * 1024,
            wmem_default: 1024 * 1024,
            max_time_wait: 16384,
            secret: [0; 32],
        }
    }
}

/// Options of one socket (what `setsockopt` sets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SockOpts {
    /// `TCP_NODELAY`: no Nagle.
    pub nodelay: bool,
    /// `TCP_CORK`: only full segments (a partial one after 200 ms, as Linux).
    pub cork: bool,
    /// `SO_KEEPALIVE`.
    pub keepalive: bool,
    /// `TCP_KEEPIDLE`; None: 7200 s.
    pub keep_idle: Option<Duration>,
    /// `TCP_KEEPINTVL`; None: 75 s.
    pub keep_interval: Option<Duration>,
    /// `TCP_KEEPCNT`; None: 9.
    pub keep_count: Option<u32>,
    /// `TCP_USER_TIMEOUT`; None: the `retries2` timing.
    pub user_timeout: Option<Duration>,
    /// `IP_TTL` / `IPV6_UNICAST_HOPS`; None: the backend's default.
    pub hop_limit: Option<u8>,
    /// `SO_RCVBUF`; 0: [`Config::rmem_default`], growing with the rate.
    pub rcvbuf: usize,
    /// `SO_SNDBUF`; 0: [`Config::wmem_default`].
    pub sndbuf: usize,
}

impl SockOpts {
    pub(crate) fn keep_idle(&self) -> Duration {
        self.keep_idle.unwrap_or(Duration::from_secs(7200))
    }
    pub(crate) fn keep_interval(&self) -> Duration {
        self.keep_interval.unwrap_or(Duration::from_secs(75))
    }
    pub(crate) fn keep_count(&self) -> u32 {
        self.keep_count.unwrap_or(9)
    }
}

/// A connection of an [`Engine`](crate::Engine). An id whose connection is gone is refused
/// with [`Error::NotConnected`], never confused with a newer connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ConnId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A listener of an [`Engine`](crate::Engine); stale ids are refused as [`ConnId`]s are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ListenerId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// The states of RFC 9293 3.3.2.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// No connection (ended).
    Closed,
    /// Waiting for SYNs.
    Listen,
    /// Our SYN sent, waiting for the peer's.
    SynSent,
    /// SYN received and answered, waiting for its acknowledgement.
    SynReceived,
    /// Open.
    Established,
    /// We closed; our FIN not yet acknowledged.
    FinWait1,
    /// We closed and our FIN was acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both closed at once; waiting for our FIN's acknowledgement.
    Closing,
    /// The peer closed, then we did; waiting for our FIN's acknowledgement.
    LastAck,
    /// Both closed; waiting out old duplicates.
    TimeWait,
}

impl State {
    /// The number Linux's `tcpi_state` and `ss` use (`TCP_ESTABLISHED` = 1 ...).
    pub fn linux_number(self) -> u8 {
        match self {
            State::Established => 1,
            State::SynSent => 2,
            State::SynReceived => 3,
            State::FinWait1 => 4,
            State::FinWait2 => 5,
            State::TimeWait => 6,
            State::Closed => 7,
            State::CloseWait => 8,
            State::LastAck => 9,
            State::Listen => 10,
            State::Closing => 11,
        }
    }

    /// Whether the state is synchronized (RFC 9293: ESTABLISHED and later).
    pub fn synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}

/// Why a call failed or a connection ended. [`Error::errno`] gives Linux's number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// `EAGAIN`: nothing to read, no room to write, nothing to accept.
    WouldBlock,
    /// `EADDRINUSE`: the four-tuple, or the listening address, is taken.
    AddrInUse,
    /// `ENOTCONN`: not connected (yet), or a stale id.
    NotConnected,
    /// `ECONNREFUSED`: our SYN was answered with a reset.
    ConnectionRefused,
    /// `ECONNRESET`: the peer reset the connection.
    ConnectionReset,
    /// `ETIMEDOUT`: the peer stopped answering (SYN retries, data retries or
    /// `TCP_USER_TIMEOUT`, keepalive).
    TimedOut,
    /// `EHOSTUNREACH`: the backend could not reach the peer (neighbour resolution failed).
    HostUnreachable,
    /// `ENETUNREACH`: no route to the peer.
    NetUnreachable,
    /// `EPIPE`: sending after `shutdown(SHUT_WR)` or after the connection ended.
    BrokenPipe,
    /// `EINVAL`: a call that makes no sense in this state.
    InvalidInput,
}

impl Error {
    /// Linux's errno for this error.
    pub fn errno(self) -> i32 {
        match self {
            Error::WouldBlock => 11,
            Error::AddrInUse => 98,
            Error::NotConnected => 107,
            Error::ConnectionRefused => 111,
            Error::ConnectionReset => 104,
            Error::TimedOut => 110,
            Error::HostUnreachable => 113,
            Error::NetUnreachable => 101,
            Error::BrokenPipe => 32,
            Error::InvalidInput => 22,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::io::Error::from_raw_os_error(self.errno()).fmt(f)
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        std::io::Error::from_raw_os_error(e.errno())
    }
}

/// What a connection shows to its socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The connection's state.
    pub state: State,
    /// Bytes a receive would return now.
    pub readable: usize,
    /// The peer's FIN has arrived: after `readable` bytes, a receive returns 0.
    pub eof: bool,
    /// Bytes a send would accept now.
    pub send_space: usize,
    /// Bytes sent or queued and not yet acknowledged (`SIOCOUTQ`).
    pub unsent: usize,
    /// The connection ended with this error (reset, refused, timed out...).
    pub error: Option<Error>,
    /// The handshake completed (a connect finished).
    pub established: bool,
    /// Whether sending is over (our FIN queued, or the connection ended).
    pub write_closed: bool,
    /// The local address (IPv4-mapped for an IPv4 connection of a dual-stack listener).
    pub local: SocketAddr,
    /// The peer's address (mapped likewise).
    pub remote: SocketAddr,
}

/// A segment to send: the backend wraps it in an IP header from `src` to `dst` and routes it.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// Source address (one of the stack's).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Hop limit the socket asked for; None: the backend's default.
    pub hop_limit: Option<u8>,
    /// The TCP header and payload, checksum filled.
    pub segment: &'a [u8],
}

/// A socket whose [`Status`] (or a listener's accept queue) may have changed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Event {
    /// The token given at connect, listen, accept or `set_token`.
    pub token: u64,
}

/// Counters of the whole engine (what `netstat -s` shows for TCP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Segments received (well-formed).
    pub segs_in: u64,
    /// Segments sent.
    pub segs_out: u64,
    /// Segments retransmitted.
    pub retrans_segs: u64,
    /// Segments dropped as malformed or with a bad checksum.
    pub bad_segs: u64,
    /// Segments dropped for a bad checksum (also in `bad_segs`, as Linux's `InCsumErrors`
    /// are in `InErrs`).
    pub csum_errors: u64,
    /// Resets sent.
    pub rsts_out: u64,
    /// Active opens (connects).
    pub active_opens: u64,
    /// Passive opens (connections accepted by listeners).
    pub passive_opens: u64,
    /// SYN cookies sent.
    pub syncookies_sent: u64,
    /// Connections made from a valid SYN cookie.
    pub syncookies_recv: u64,
    /// SYNs dropped because the accept queue was full.
    pub listen_drops: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Segments refused by PAWS (RFC 7323 5).
    pub paws_drops: u64,
    /// Connections that ended by a timeout.
    pub timeouts: u64,
}
