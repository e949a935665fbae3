//! [`Resolver`]: a stub resolver whose queries leave through one stack only.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::cache::Cache;
use super::conf::{ConfError, ResolvConf, ResolverOptions};
use super::error::{ResolveError, ServerFailure};
use super::hosts::Hosts;
use super::lookup::Lookup;
use super::message::{MAX_CNAME_HOPS, Outcome, Question, interpret};
use super::search::{absolute, candidates};
use super::source::{Effective, effective, learned};
use super::transport;
use crate::stack::Stack;

/// How long a configuration learned from the stack is used before it is read again.
const CONF_REFRESH: Duration = Duration::from_secs(1);

/// What the cache keeps for a (name, type).
#[derive(Clone, Debug)]
enum Cached {
    Answer(Box<Lookup>),
    NxDomain,
    NoData,
}

/// Where a resolver's configuration comes from.
#[derive(Debug)]
enum Source {
    /// What the stack learned (static `dns=`/`domain=`, DHCP, RDNSS/DNSSL), re-read as it
    /// changes; on the kernel stack, the system's resolv.conf when nothing was configured.
    Stack,
    /// Given once.
    Fixed,
}

/// The state a resolver keeps: its configuration and its cache. The stack's own resolver
/// keeps it with the stack, so every `Resolver::for_stack` of one stack shares one cache.
#[derive(Debug, Default)]
pub(crate) struct State {
    conf: Mutex<Option<(Instant, Effective)>>,
    cache: Mutex<Option<Cache<(Name, RecordType), Cached>>>,
    /// The server the next query starts at, with `rotate`.
    next: std::sync::atomic::AtomicUsize,
    /// Options set on the stack's own resolver, kept over re-reads of the configuration.
    options: Mutex<Option<ResolverOptions>>,
    /// A hosts file set on the stack's own resolver.
    hosts: Mutex<Option<Arc<Hosts>>>,
    /// Servers added to the stack's own resolver, asked after the learned ones.
    added: Mutex<Vec<SocketAddr>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A DNS stub resolver over one stack: every query it makes leaves through that stack's own
/// sockets, to the servers that stack knows, and nowhere else.
///
/// UDP with EDNS(0) and TCP when an answer is truncated; several servers in order, each tried
/// `attempts` times with `timeout` per try; a random id and a fresh socket (random source port)
/// per query; replies accepted only when source, id and question match (RFC 5452); the search
/// list with `ndots`; a trailing dot makes a name absolute; a hosts table; a bounded cache that
/// honours TTLs and negative TTLs (RFC 2308). Cloning is cheap and clones share the cache.
///
/// ```
/// use std::net::IpAddr;
/// use std::sync::Arc;
/// use ioth::dns::{Hosts, ResolveError, Resolver};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let stack = ioth::Stack::new("kernel", &[])?;
/// let resolver = Resolver::from_servers(&stack, &[]); // no server: hosts only
/// assert_eq!(resolver.lookup_ip("localhost")?.len(), 2); // 127.0.0.1 and ::1, by default
/// resolver.set_hosts(Arc::new(Hosts::parse("10.0.0.80 web.lan www.lan\nfc00::80 web.lan\n")));
///
/// let expected: [IpAddr; 2] = ["fc00::80".parse()?, "10.0.0.80".parse()?];
/// assert_eq!(resolver.lookup_ip("web.lan")?, expected); // IPv6 first
/// assert_eq!(resolver.lookup_ip("WWW.lan.")?, expected[1..]); // case and one dot ignored
/// assert_eq!(resolver.reverse("10.0.0.80".parse()?)?[0].to_ascii(), "web.lan.");
///
/// let err = resolver.lookup_ip("mail.lan").expect_err("not in hosts, no server to ask");
/// assert!(matches!(err, ResolveError::NoServers { .. }), "{err}");
/// assert_eq!(std::io::Error::from(err).kind(), std::io::ErrorKind::NotFound);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Resolver {
    stack: Stack,
    source: Arc<Source>,
    state: Arc<State>,
}

/// The stack's configuration changed through [`Stack::configure`]: its own resolver reads it
/// again at its next lookup (answers it cached stay, as glibc's nscd keeps them).
pub(crate) fn stack_reconfigured(stack: &Stack) {
    if let Some(state) = stack.extension::<State>() {
        *lock(&state.conf) = None;
    }
}

impl Resolver {
    /// The stack's own resolver: it uses the servers and search domains the stack learned
    /// (static `dns=`/`domain=`, DHCPv4 options 6/15/119, RDNSS/DNSSL, DHCPv6) and sees their
    /// changes at once when made by [`Stack::configure`], within a second otherwise (at once
    /// after [`Resolver::reload`]). A kernel stack with nothing configured uses the system's
    /// resolv.conf and hosts (`/etc/netns/NAME/` ones for a stack in namespace NAME, when they
    /// exist); a user-space stack never reads the host's files and knows `localhost` only.
    /// Every `for_stack` of one stack shares one cache.
    pub fn for_stack(stack: &Stack) -> Resolver {
        let state = stack
            .extension::<State>()
            .unwrap_or_else(|| Arc::new(State::default()));
        Resolver {
            stack: stack.clone(),
            source: Arc::new(Source::Stack),
            state,
        }
    }

    /// A resolver over `stack` configured by resolv.conf text (`nameserver`, `search`,
    /// `domain`, `options ndots: timeout: attempts: rotate edns0 use-vc`). A bad value is an
    /// error naming its line.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ioth::dns::Resolver;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let stack = ioth::Stack::new("kernel", &[])?;
    /// let text = "nameserver 127.0.0.53\nsearch corp.test\noptions ndots:2 timeout:1 rotate\n";
    /// let resolver = Resolver::from_conf(&stack, text)?;
    /// assert_eq!(resolver.servers(), ["127.0.0.53:53".parse()?]);
    /// assert_eq!(resolver.search()[0].to_ascii(), "corp.test.");
    /// let options = resolver.options();
    /// assert_eq!((options.ndots, options.timeout), (2, Duration::from_secs(1)));
    /// assert!(options.rotate);
    ///
    /// let err = Resolver::from_conf(&stack, "search x\nnameserver banana\n").expect_err("bad");
    /// assert_eq!(err.line, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_conf(stack: &Stack, text: &str) -> Result<Resolver, ConfError> {
        let conf = ResolvConf::parse(text)?;
        Ok(Resolver::fixed(stack, conf, Arc::new(Hosts::loopback())))
    }

    /// A resolver over `stack` asking `servers` in order, with default options and no search
    /// list.
    pub fn from_servers(stack: &Stack, servers: &[SocketAddr]) -> Resolver {
        let r = Resolver::fixed(stack, ResolvConf::default(), Arc::new(Hosts::loopback()));
        if let Some((_, eff)) = lock(&r.state.conf).as_mut() {
            eff.servers = servers.to_vec();
        }
        r
    }

    fn fixed(stack: &Stack, conf: ResolvConf, hosts: Arc<Hosts>) -> Resolver {
        let eff = effective(stack, &conf, hosts);
        let state = State {
            conf: Mutex::new(Some((Instant::now(), eff))),
            ..State::default()
        };
        Resolver {
            stack: stack.clone(),
            source: Arc::new(Source::Fixed),
            state: Arc::new(state),
        }
    }

    /// Replaces the options (for the stack's own resolver, kept over configuration changes).
    pub fn set_options(&self, options: ResolverOptions) {
        if matches!(*self.source, Source::Stack) {
            *lock(&self.state.options) = Some(options.clone());
        }
        if let Some((_, eff)) = lock(&self.state.conf).as_mut() {
            eff.options = options;
        }
        *lock(&self.state.cache) = None;
    }

    /// Replaces the search list (a resolver from text or servers; the stack's own resolver
    /// follows the stack).
    pub fn set_search(&self, search: &[Name]) {
        if let Some((_, eff)) = lock(&self.state.conf).as_mut() {
            eff.search = search.iter().map(absolute).collect();
        }
    }

    /// Uses the hosts file at `path` (read now) before DNS for addresses and reverse lookups.
    pub fn set_hosts_file(&self, path: &Path) -> std::io::Result<()> {
        let hosts = Arc::new(Hosts::parse(&std::fs::read_to_string(path)?));
        self.set_hosts(hosts);
        Ok(())
    }

    /// Uses `hosts` before DNS for addresses and reverse lookups.
    pub fn set_hosts(&self, hosts: Arc<Hosts>) {
        if matches!(*self.source, Source::Stack) {
            *lock(&self.state.hosts) = Some(Arc::clone(&hosts));
        }
        if let Some((_, eff)) = lock(&self.state.conf).as_mut() {
            eff.hosts = hosts;
        }
    }

    /// Adds a server after the others (the stack's own resolver keeps it over changes).
    pub fn add_server(&self, server: SocketAddr) {
        if matches!(*self.source, Source::Stack) {
            let mut added = lock(&self.state.added);
            if !added.contains(&server) {
                added.push(server);
            }
        }
        let mut conf = lock(&self.state.conf);
        if conf.is_none() {
            drop(conf);
            self.effective();
            conf = lock(&self.state.conf);
        }
        if let Some((_, eff)) = conf.as_mut()
            && !eff.servers.contains(&server)
        {
            eff.servers.push(server);
        }
    }

    /// The stack the queries go through.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The servers asked, in order.
    pub fn servers(&self) -> Vec<SocketAddr> {
        self.effective().servers
    }

    /// The search list.
    pub fn search(&self) -> Vec<Name> {
        self.effective().search
    }

    /// The options in use.
    pub fn options(&self) -> ResolverOptions {
        self.effective().options
    }

    /// Forgets every cached answer.
    pub fn clear_cache(&self) {
        if let Some(c) = lock(&self.state.cache).as_mut() {
            c.clear();
        }
    }

    /// Reads what the stack learned now, instead of within the next second (the stack's own
    /// resolver; others have nothing to reload). [`Stack::configure`] does this itself; what
    /// DHCP, router advertisements or another process's netlink requests change is seen
    /// within a second, or at once after this call.
    pub fn reload(&self) {
        if matches!(*self.source, Source::Stack) {
            let eff = self.relearn();
            *lock(&self.state.conf) = Some((Instant::now(), eff));
        }
    }

    /// What the stack learned, with what was set on this resolver by hand.
    fn relearn(&self) -> Effective {
        let mut eff = learned(&self.stack);
        if let Some(o) = lock(&self.state.options).clone() {
            eff.options = o;
        }
        if let Some(h) = lock(&self.state.hosts).clone() {
            eff.hosts = h;
        }
        for s in lock(&self.state.added).iter() {
            if !eff.servers.contains(s) {
                eff.servers.push(*s);
            }
        }
        eff
    }

    fn effective(&self) -> Effective {
        {
            let conf = lock(&self.state.conf);
            match (&*conf, &*self.source) {
                (Some((_, eff)), Source::Fixed) => return eff.clone(),
                (Some((at, eff)), Source::Stack) if at.elapsed() < CONF_REFRESH => {
                    return eff.clone();
                }
                _ => {}
            }
        }
        // Read the stack's configuration without holding the lock: lookups meanwhile use
        // what was there.
        let eff = self.relearn();
        *lock(&self.state.conf) = Some((Instant::now(), eff.clone()));
        eff
    }

    /// Records of `rtype` for `name`, through the search list, the cache and the servers.
    /// CNAME chains are followed (the records are those at the chain's end).
    pub fn lookup(&self, name: &str, rtype: RecordType) -> Result<Lookup, ResolveError> {
        self.resolve(name, &[rtype], false)
            .pop()
            .unwrap_or_else(|| Err(no_servers(&self.stack)))
    }

    /// Like [`Resolver::lookup`], over TCP only.
    pub fn lookup_tcp(&self, name: &str, rtype: RecordType) -> Result<Lookup, ResolveError> {
        self.resolve(name, &[rtype], true)
            .pop()
            .unwrap_or_else(|| Err(no_servers(&self.stack)))
    }

    /// The addresses of `name`: an IP literal as itself; else the hosts table, else AAAA and
    /// A asked at once. IPv6 addresses come first.
    pub fn lookup_ip(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let mut ips = Vec::new();
        let mut first_err = None;
        for result in self.resolve(name, &[RecordType::AAAA, RecordType::A], false) {
            match result {
                Ok(l) => ips.extend(l.ips()),
                Err(e) => {
                    let better = matches!(
                        (&first_err, &e),
                        (None, _)
                            | (Some(ResolveError::NoData { .. }), _)
                            | (
                                Some(ResolveError::NxDomain { .. }),
                                ResolveError::NoAnswer { .. }
                            )
                    );
                    if better {
                        first_err = Some(e);
                    }
                }
            }
        }
        if ips.is_empty() {
            return Err(first_err.unwrap_or_else(|| no_servers(&self.stack)));
        }
        Ok(ips)
    }

    /// The names of `ip`: the hosts table, else its PTR records.
    pub fn reverse(&self, ip: IpAddr) -> Result<Vec<Name>, ResolveError> {
        let eff = self.effective();
        if let Some(name) = eff.hosts.reverse(ip)
            && let Ok(n) = Name::from_ascii(name)
        {
            return Ok(vec![absolute(&n)]);
        }
        let arpa = absolute(&Name::from(ip));
        let lookup = self.lookup(&arpa.to_ascii(), RecordType::PTR)?;
        Ok(lookup
            .records()
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(p.0.clone()),
                _ => None,
            })
            .collect())
    }

    /// One result per type in `types`, for `name`.
    fn resolve(
        &self,
        name: &str,
        types: &[RecordType],
        tcp_only: bool,
    ) -> Vec<Result<Lookup, ResolveError>> {
        let eff = self.effective();
        let candidates = match candidates(name, &eff.search, eff.options.ndots) {
            Ok(c) => c,
            Err(reason) => {
                let invalid = || ResolveError::InvalidName {
                    name: name.to_string(),
                    reason: reason.clone(),
                };
                return types.iter().map(|_| Err(invalid())).collect();
            }
        };
        if let Some(hit) = from_hosts(&eff.hosts, name, &candidates[0], types) {
            return hit;
        }
        if eff.servers.is_empty() {
            return types.iter().map(|_| Err(no_servers(&self.stack))).collect();
        }
        let mut results: Vec<Option<Result<Lookup, ResolveError>>> =
            (0..types.len()).map(|_| None).collect();
        let mut nodata: Vec<Option<Name>> = vec![None; types.len()];
        // A candidate found not to exist, and servers failing on a later candidate: a failure
        // after a definite answer does not hide it (as glibc, whose NODATA wins too).
        let mut nx_seen = vec![false; types.len()];
        let mut failure: Vec<Option<ResolveError>> = (0..types.len()).map(|_| None).collect();
        for cand in &candidates {
            let mut ask: Vec<usize> = Vec::new();
            for (i, rtype) in types.iter().enumerate() {
                if results[i].is_some() {
                    continue;
                }
                match self.cached(cand, *rtype, &eff) {
                    Some(Cached::Answer(l)) => results[i] = Some(Ok(*l)),
                    Some(Cached::NoData) => nodata[i] = Some(cand.clone()),
                    Some(Cached::NxDomain) => nx_seen[i] = true,
                    None => ask.push(i),
                }
            }
            let questions: Vec<Question> = ask
                .iter()
                .map(|&i| Question {
                    name: cand.clone(),
                    rtype: types[i],
                })
                .collect();
            let answers = self.ask(&eff, &questions, tcp_only);
            for (&i, answer) in ask.iter().zip(answers) {
                match answer {
                    Ok(Final::Answer(l)) => results[i] = Some(Ok(*l)),
                    Ok(Final::NoData) => nodata[i] = Some(cand.clone()),
                    Ok(Final::NxDomain) => nx_seen[i] = true,
                    Err(e) if nodata[i].is_some() || nx_seen[i] => failure[i] = Some(e),
                    Err(e) => results[i] = Some(Err(e)),
                }
            }
            let answered = results.iter().any(|r| matches!(r, Some(Ok(_))));
            if answered {
                // The name that answered one type is the name: the other types have no data.
                for (i, r) in results.iter_mut().enumerate() {
                    if r.is_none() {
                        *r = Some(Err(ResolveError::NoData {
                            name: cand.to_ascii(),
                            rtype: types[i],
                        }));
                    }
                }
            }
            if results.iter().all(Option::is_some) {
                break;
            }
        }
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| match (&nodata[i], failure[i].take()) {
                    (Some(n), _) => Err(ResolveError::NoData {
                        name: n.to_ascii(),
                        rtype: types[i],
                    }),
                    (None, Some(f)) if !nx_seen[i] => Err(f),
                    _ => Err(ResolveError::NxDomain {
                        tried: candidates.iter().map(Name::to_ascii).collect(),
                    }),
                })
            })
            .collect()
    }

    fn cache_lock(
        &self,
        eff: &Effective,
    ) -> MutexGuard<'_, Option<Cache<(Name, RecordType), Cached>>> {
        let mut cache = lock(&self.state.cache);
        if cache.is_none() {
            *cache = Some(Cache::new(eff.options.cache_entries));
        }
        cache
    }

    fn cached(&self, name: &Name, rtype: RecordType, eff: &Effective) -> Option<Cached> {
        let key = (name.clone(), rtype);
        let (value, left) = self.cache_lock(eff).as_mut()?.get(&key, Instant::now())?;
        Some(match value {
            Cached::Answer(l) => Cached::Answer(Box::new(l.aged(left))),
            other => other,
        })
    }

    fn remember(&self, eff: &Effective, q: &Question, value: Cached, ttl: Option<Duration>) {
        if let Some(ttl) = ttl
            && let Some(cache) = self.cache_lock(eff).as_mut()
        {
            cache.insert((q.name.clone(), q.rtype), value, ttl, Instant::now());
        }
    }

    /// Asks the servers every question, following CNAME chains that end without an answer.
    fn ask(
        &self,
        eff: &Effective,
        questions: &[Question],
        tcp_only: bool,
    ) -> Vec<Result<Final, ResolveError>> {
        let started = Instant::now();
        let outcomes = self.ask_servers(eff, questions, tcp_only);
        questions
            .iter()
            .zip(outcomes)
            .map(|(q, outcome)| {
                let (outcome, response) = match outcome {
                    Ok(pair) => pair,
                    Err(servers) => {
                        return Err(ResolveError::NoAnswer {
                            name: q.name.to_ascii(),
                            servers,
                            elapsed: started.elapsed(),
                        });
                    }
                };
                self.settle(eff, q, outcome, response, tcp_only, 0)
            })
            .collect()
    }

    /// Turns one outcome into a final answer, asking again along a dangling CNAME chain.
    fn settle(
        &self,
        eff: &Effective,
        q: &Question,
        outcome: Outcome,
        response: Arc<hickory_proto::op::Message>,
        tcp_only: bool,
        hops: usize,
    ) -> Result<Final, ResolveError> {
        match outcome {
            Outcome::Answer {
                canonical,
                chain,
                records,
                ttl,
            } => {
                let lookup = Lookup {
                    query_name: q.name.clone(),
                    canonical,
                    rtype: q.rtype,
                    chain,
                    records,
                    response: Some(response),
                    from_cache: false,
                };
                self.remember(eff, q, Cached::Answer(Box::new(lookup.clone())), Some(ttl));
                Ok(Final::Answer(Box::new(lookup)))
            }
            Outcome::NxDomain { ttl, .. } => {
                self.remember(eff, q, Cached::NxDomain, ttl);
                Ok(Final::NxDomain)
            }
            Outcome::NoData { ttl, .. } => {
                self.remember(eff, q, Cached::NoData, ttl);
                Ok(Final::NoData)
            }
            Outcome::FollowCname { target, chain } if hops < MAX_CNAME_HOPS => {
                let next = Question {
                    name: target,
                    rtype: q.rtype,
                };
                let followed = match self.ask(eff, std::slice::from_ref(&next), tcp_only).pop() {
                    Some(r) => r?,
                    None => return Ok(Final::NoData),
                };
                Ok(match followed {
                    Final::Answer(mut l) => {
                        let mut full = chain;
                        full.append(&mut l.chain);
                        l.chain = full;
                        l.query_name = q.name.clone();
                        Final::Answer(l)
                    }
                    other => other,
                })
            }
            // Failures and truncation were dealt with by ask_servers; a chain too long ends.
            _ => Ok(Final::NoData),
        }
    }

    /// Asks each server in turn (`attempts` rounds) until every question has an outcome. An
    /// error is each server's last failure.
    #[allow(clippy::type_complexity)]
    fn ask_servers(
        &self,
        eff: &Effective,
        questions: &[Question],
        tcp_only: bool,
    ) -> Vec<Result<(Outcome, Arc<hickory_proto::op::Message>), Vec<(SocketAddr, ServerFailure)>>>
    {
        let o = &eff.options;
        let tcp_only = tcp_only || o.use_tcp;
        let edns = o.edns0.then_some(o.edns_payload);
        let n = eff.servers.len();
        let start = if o.rotate {
            self.state
                .next
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                % n
        } else {
            0
        };
        let mut outcomes: Vec<Option<(Outcome, Arc<hickory_proto::op::Message>)>> =
            questions.iter().map(|_| None).collect();
        let mut failures: Vec<Vec<(SocketAddr, ServerFailure)>> =
            questions.iter().map(|_| Vec::new()).collect();
        'rounds: for _attempt in 0..o.attempts.max(1) {
            for k in 0..n {
                let server = eff.servers[(start + k) % n];
                let todo: Vec<usize> = (0..questions.len())
                    .filter(|&i| outcomes[i].is_none())
                    .collect();
                if todo.is_empty() {
                    break 'rounds;
                }
                let deadline = Instant::now() + o.timeout;
                let replies: Vec<Result<hickory_proto::op::Message, ServerFailure>> = if tcp_only {
                    todo.iter()
                        .map(|&i| {
                            transport::tcp(&self.stack, server, &questions[i], edns, deadline)
                        })
                        .collect()
                } else {
                    let qs: Vec<Question> = todo.iter().map(|&i| questions[i].clone()).collect();
                    transport::udp(&self.stack, server, &qs, edns, deadline)
                };
                for (&i, reply) in todo.iter().zip(replies) {
                    let q = &questions[i];
                    let mut reply = reply;
                    let mut outcome = reply.as_ref().ok().map(|m| interpret(m, q));
                    if outcome == Some(Outcome::Truncated) {
                        log::debug!(
                            "{}: dns: {server} truncated {} {}; asking over TCP",
                            self.stack.name(),
                            q.name,
                            q.rtype
                        );
                        let deadline = Instant::now() + o.timeout;
                        reply = transport::tcp(&self.stack, server, q, edns, deadline);
                        outcome = reply.as_ref().ok().map(|m| interpret(m, q));
                    }
                    let failure = match (reply, outcome) {
                        (Ok(_), Some(Outcome::Failure(rcode))) => ServerFailure::Rcode(rcode),
                        (Ok(_), Some(Outcome::Truncated)) => {
                            ServerFailure::Io(std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                "the TCP answer was truncated too",
                            ))
                        }
                        (Ok(msg), Some(outcome)) => {
                            outcomes[i] = Some((outcome, Arc::new(msg)));
                            continue;
                        }
                        (Ok(_), None) => continue,
                        (Err(f), _) => f,
                    };
                    log::debug!(
                        "{}: dns: {server} for {} {}: {failure}",
                        self.stack.name(),
                        q.name,
                        q.rtype
                    );
                    let list = &mut failures[i];
                    list.retain(|(s, _)| *s != server);
                    list.push((server, failure));
                }
            }
        }
        outcomes
            .into_iter()
            .zip(failures)
            .map(|(o, f)| o.ok_or(f))
            .collect()
    }
}

/// A question's verdict once servers have spoken.
enum Final {
    Answer(Box<Lookup>),
    NxDomain,
    NoData,
}

fn no_servers(stack: &Stack) -> ResolveError {
    ResolveError::NoServers {
        stack: format!("the {} stack", stack.implementation()),
    }
}

/// An answer from the hosts table for A/AAAA questions, when it lists the name.
fn from_hosts(
    hosts: &Hosts,
    name: &str,
    first: &Name,
    types: &[RecordType],
) -> Option<Vec<Result<Lookup, ResolveError>>> {
    if !types
        .iter()
        .all(|t| matches!(t, RecordType::A | RecordType::AAAA))
    {
        return None;
    }
    let ips = hosts.lookup(name);
    if ips.is_empty() {
        return None;
    }
    let owner = absolute(&Name::from_utf8(name).ok()?);
    Some(
        types
            .iter()
            .map(|&rtype| {
                let records: Vec<Record> = ips
                    .iter()
                    .filter_map(|ip| match (ip, rtype) {
                        (IpAddr::V4(a), RecordType::A) => {
                            Some(Record::from_rdata(owner.clone(), 0, RData::A(A(*a))))
                        }
                        (IpAddr::V6(a), RecordType::AAAA) => {
                            Some(Record::from_rdata(owner.clone(), 0, RData::AAAA(AAAA(*a))))
                        }
                        _ => None,
                    })
                    .collect();
                if records.is_empty() {
                    return Err(ResolveError::NoData {
                        name: owner.to_ascii(),
                        rtype,
                    });
                }
                Ok(Lookup {
                    query_name: first.clone(),
                    canonical: owner.clone(),
                    rtype,
                    chain: Vec::new(),
                    records,
                    response: None,
                    from_cache: false,
                })
            })
            .collect(),
    )
}
