//! A configuration made ready to answer from: names in `auth` lines resolved to addresses,
//! static records indexed by owner.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use hickory_proto::rr::{RData, RecordType};

use crate::config::{Auth, AuthKind, BaseSpec, Config, Net, Options, StaticRecord};
use crate::domain::{Domain, DomainSpec, mapped, reverse_domain};

/// One `auth` line, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Its line in the file.
    pub line: usize,
    /// What it does.
    pub kind: AuthKind,
    /// The nets it applies to (indexes into [`Zone::nets`]).
    pub nets: Vec<usize>,
    /// The names it applies to (`Any` for `accept`).
    pub domain: Domain,
    /// BASE, resolved (`hash`, `otip`).
    pub base: Option<Ipv6Addr>,
    /// PW (`otip`).
    pub password: Option<String>,
}

/// A configuration ready to answer from.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    /// The nets.
    pub nets: Vec<Net>,
    /// The rules in file order (`accept` lines included).
    pub rules: Vec<Rule>,
    /// Static records by owner (normal form), in file order.
    pub statics: HashMap<String, Vec<StaticRecord>>,
    /// Upstream servers.
    pub dns: Vec<IpAddr>,
    /// Options.
    pub options: Options,
}

/// Looks a name up upstream when no static record gives its address: AAAA (`want_v6`) or,
/// for reverse zones, AAAA then A.
pub trait NameLookup {
    /// The first address of `name` of the family asked (`v6_only`: AAAA only).
    fn lookup(&self, name: &str, v6_only: bool) -> Result<IpAddr, String>;
}

/// A lookup that knows nothing (no `dns` line).
#[derive(Debug)]
pub struct NoLookup;

impl NameLookup for NoLookup {
    fn lookup(&self, name: &str, _v6_only: bool) -> Result<IpAddr, String> {
        Err(format!(
            "{name} has no static address and there is no `dns` server to ask"
        ))
    }
}

impl Zone {
    /// Resolves `config`: BASE names and `NAME/LEN` domains through static AAAA (then A)
    /// records first, then `lookup`. Errors name the line (`ORIGIN:LINE: …`).
    pub fn load(config: &Config, origin: &str, lookup: &dyn NameLookup) -> Result<Zone, String> {
        let mut statics: HashMap<String, Vec<StaticRecord>> = HashMap::new();
        for r in &config.statics {
            statics.entry(r.key.clone()).or_default().push(r.clone());
        }
        let glue = |name: &str, v6_only: bool| -> Result<IpAddr, String> {
            let records = statics.get(name).map(Vec::as_slice).unwrap_or(&[]);
            let aaaa = records.iter().find_map(|r| match r.data {
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            });
            let a = records.iter().find_map(|r| match r.data {
                RData::A(a) if !v6_only => Some(IpAddr::V4(a.0)),
                _ => None,
            });
            match aaaa.or(a) {
                Some(ip) => Ok(ip),
                None => lookup.lookup(name, v6_only),
            }
        };
        let mut rules = Vec::with_capacity(config.auths.len());
        for auth in &config.auths {
            rules.push(resolve(auth, &glue).map_err(|e| format!("{origin}:{}: {e}", auth.line))?);
        }
        Ok(Zone {
            nets: config.nets.clone(),
            rules,
            statics,
            dns: config.dns.clone(),
            options: config.options,
        })
    }

    /// The nets `client` is in, as a membership list indexed like [`Zone::nets`].
    pub fn client_nets(&self, client: IpAddr) -> Vec<bool> {
        let a = mapped(client);
        self.nets
            .iter()
            .map(|n| n.prefixes.iter().any(|p| p.contains(&a)))
            .collect()
    }

    /// Whether some rule of `kind` exists.
    pub fn has(&self, kind: AuthKind) -> bool {
        self.rules.iter().any(|r| r.kind == kind)
    }

    /// Whether `client` may open TCP connections (it is in a net of an `accept` line).
    pub fn tcp_allowed(&self, client: IpAddr) -> bool {
        let member = self.client_nets(client);
        self.rules
            .iter()
            .filter(|r| r.kind == AuthKind::Accept)
            .any(|r| {
                r.nets
                    .iter()
                    .any(|&n| member.get(n).copied().unwrap_or(false))
            })
    }

    /// The static records of `key` of type `ty` (every type for ANY).
    pub fn static_records(&self, key: &str, ty: RecordType) -> impl Iterator<Item = &StaticRecord> {
        self.statics
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter(move |r| ty == RecordType::ANY || r.record_type() == ty)
    }
}

fn resolve(
    auth: &Auth,
    glue: &dyn Fn(&str, bool) -> Result<IpAddr, String>,
) -> Result<Rule, String> {
    let domain = match &auth.domain {
        None => Domain::Any,
        Some(DomainSpec::Ready(d)) => d.clone(),
        Some(DomainSpec::ReverseOfName { name, len }) => {
            let ip = glue(name, false).map_err(|e| format!("auth {}: {e}", auth.kind))?;
            reverse_domain(ip, *len).map_err(|e| format!("auth {}: {name}: {e}", auth.kind))?
        }
    };
    let base = match &auth.base {
        None => None,
        Some(BaseSpec::Addr(a)) => Some(*a),
        Some(BaseSpec::Name(name)) => match glue(name, true) {
            Ok(IpAddr::V6(a)) => Some(a),
            Ok(IpAddr::V4(a)) => {
                return Err(format!("auth {}: base {name} is {a}, not IPv6", auth.kind));
            }
            Err(e) => return Err(format!("auth {}: base {e}", auth.kind)),
        },
    };
    Ok(Rule {
        line: auth.line,
        kind: auth.kind,
        nets: auth.nets.clone(),
        domain,
        base,
        password: auth.password.clone(),
    })
}
