//! The answer to one lookup.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Records found for a name and type, with how they were found.
#[derive(Clone, Debug)]
pub struct Lookup {
    pub(crate) query_name: Name,
    pub(crate) canonical: Name,
    pub(crate) rtype: RecordType,
    pub(crate) chain: Vec<Record>,
    pub(crate) records: Vec<Record>,
    pub(crate) response: Option<Arc<Message>>,
    pub(crate) from_cache: bool,
}

impl Lookup {
    /// The absolute name that was asked when the answer came (after the search list).
    pub fn query_name(&self) -> &Name {
        &self.query_name
    }

    /// The name owning the records: the query name, or the end of its CNAME chain.
    pub fn canonical_name(&self) -> &Name {
        &self.canonical
    }

    /// The type asked for.
    pub fn record_type(&self) -> RecordType {
        self.rtype
    }

    /// The CNAME records followed from the query name to the canonical name, in order.
    pub fn cname_chain(&self) -> &[Record] {
        &self.chain
    }

    /// The records of the asked type; a cached answer's TTLs count down.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The addresses among the records (A and AAAA), in order.
    pub fn ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.records.iter().filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
    }

    /// The whole reply the answer came from, as received (None for a hosts-file answer).
    /// The last reply when CNAMEs were followed over several queries.
    pub fn response(&self) -> Option<&Message> {
        self.response.as_deref()
    }

    /// Whether the answer came from the cache rather than a server.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The least TTL of the answer.
    pub fn ttl(&self) -> Duration {
        let secs = self
            .chain
            .iter()
            .chain(&self.records)
            .map(|r| r.ttl)
            .min()
            .unwrap_or(0);
        Duration::from_secs(secs.into())
    }

    /// The same answer with every TTL cut to `left` (what a cache hit reports).
    pub(crate) fn aged(&self, left: Duration) -> Lookup {
        let left = u32::try_from(left.as_secs()).unwrap_or(u32::MAX);
        let mut out = self.clone();
        for r in out.chain.iter_mut().chain(out.records.iter_mut()) {
            r.ttl = r.ttl.min(left);
        }
        out.from_cache = true;
        out
    }
}
