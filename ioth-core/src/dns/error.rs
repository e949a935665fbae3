//! What a failed lookup says happened.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// Why a lookup found nothing. Every variant names what it is about.
#[derive(Debug)]
pub enum ResolveError {
    /// The name is not a valid domain name.
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No server is known: the stack learned none and none was given.
    NoServers {
        /// The stack (implementation and identity) the resolver runs on.
        stack: String,
    },
    /// The name does not exist (NXDOMAIN), for every candidate of the search list.
    NxDomain {
        /// The names asked, in order.
        tried: Vec<String>,
    },
    /// The name exists but has no records of that type (NODATA).
    NoData {
        /// The name that has no such records.
        name: String,
        /// The type asked for.
        rtype: RecordType,
    },
    /// No server gave a usable answer: each one's last failure, with how long was spent.
    NoAnswer {
        /// The name asked.
        name: String,
        /// Each server and what went wrong with it.
        servers: Vec<(SocketAddr, ServerFailure)>,
        /// Time spent in all.
        elapsed: Duration,
    },
}

/// What went wrong with one server.
#[derive(Debug)]
pub enum ServerFailure {
    /// No reply within the timeout, for each attempt.
    Timeout(Duration),
    /// It replied with an error code.
    Rcode(ResponseCode),
    /// The stack could not reach it (ENETUNREACH, EHOSTUNREACH, ECONNREFUSED, …).
    Io(io::Error),
}

impl fmt::Display for ServerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerFailure::Timeout(t) => write!(f, "no reply in {} ms", t.as_millis()),
            ServerFailure::Rcode(r) => write!(f, "replied {}", r.to_str()),
            ServerFailure::Io(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::InvalidName { name, reason } => {
                write!(f, "{name:?} is not a valid domain name: {reason}")
            }
            ResolveError::NoServers { stack } => write!(
                f,
                "no DNS server known on {stack}: configure one (dns=, dhcp, rd) or give a resolv.conf"
            ),
            ResolveError::NxDomain { tried } => {
                write!(f, "no such name: {}", tried.join(", "))
            }
            ResolveError::NoData { name, rtype } => write!(f, "{name} has no {rtype} records"),
            ResolveError::NoAnswer {
                name,
                servers,
                elapsed,
            } => {
                write!(
                    f,
                    "no DNS server answered for {name} in {} ms:",
                    elapsed.as_millis()
                )?;
                for (i, (addr, why)) in servers.iter().enumerate() {
                    let sep = if i == 0 { " " } else { "; " };
                    write!(f, "{sep}{addr} {why}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ResolveError {}

impl ResolveError {
    /// The `io::ErrorKind` this failure is seen as through `std::io`: `NotFound` for names
    /// and records that do not exist, `TimedOut` when servers were silent, `InvalidInput` for
    /// bad names, the network's kind when no server could be reached.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            ResolveError::InvalidName { .. } => io::ErrorKind::InvalidInput,
            ResolveError::NoServers { .. } => io::ErrorKind::NotFound,
            ResolveError::NxDomain { .. } | ResolveError::NoData { .. } => io::ErrorKind::NotFound,
            ResolveError::NoAnswer { servers, .. } => {
                let mut kind = io::ErrorKind::TimedOut;
                for (_, why) in servers {
                    match why {
                        ServerFailure::Timeout(_) => return io::ErrorKind::TimedOut,
                        ServerFailure::Io(e) => kind = e.kind(),
                        ServerFailure::Rcode(_) => kind = io::ErrorKind::Other,
                    }
                }
                kind
            }
        }
    }

    /// Whether the name or record is known not to exist (as opposed to servers failing).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ResolveError::NxDomain { .. } | ResolveError::NoData { .. }
        )
    }
}

impl From<ResolveError> for io::Error {
    fn from(e: ResolveError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}
