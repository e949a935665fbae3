//! [`StaticZone`]: an authoritative handler serving records read from master-file text
//! (RFC 1035 §5, parsed by hickory's zone parser).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;

use crate::request::{Handler, Request, Response};

/// Why zone text was refused.
#[derive(Debug)]
pub struct ZoneError(String);

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ZoneError {}

/// How many CNAMEs an answer follows inside the zone.
const CNAME_CHAIN: usize = 8;

/// Records of one zone, answered authoritatively (AA).
///
/// Guarantees: names match case-insensitively (RFC 4343) and the question's spelling is
/// echoed; an exact name and type gets its records; `ANY` gets every record of the name; a
/// name holding a CNAME gets it and, up to 8 links, what its target holds inside the zone; a
/// name that exists without the type (or has names below it) gets NOERROR with no answer,
/// one that does not gets NXDOMAIN, both with the zone's SOA (if it has one) as authority;
/// names outside the zone and classes other than IN get REFUSED. Lookups take no lock.
#[derive(Clone, Debug)]
pub struct StaticZone {
    origin: LowerName,
    records: HashMap<(LowerName, RecordType), Arc<[Record]>>,
    /// Every owner name and every name between an owner and the origin.
    names: HashSet<LowerName>,
    soa: Option<Record>,
}

impl StaticZone {
    /// Reads master-file text: `$ORIGIN`, `$TTL`, `@`, relative names, parentheses, comments;
    /// `origin` applies when the text has no `$ORIGIN` line. `$INCLUDE` is refused (zone text
    /// may come from anywhere; it must not name files to read). Records outside the origin
    /// are refused.
    pub fn parse(text: &str, origin: Option<&str>) -> Result<StaticZone, ZoneError> {
        if text.to_ascii_lowercase().contains("$include") {
            return Err(ZoneError("$INCLUDE is not supported".into()));
        }
        let origin = origin
            .map(|o| Name::from_ascii(o).map_err(|e| ZoneError(format!("origin {o:?}: {e}"))))
            .transpose()?;
        let (origin, sets) = Parser::new(text, None, origin)
            .parse()
            .map_err(|e| ZoneError(e.to_string()))?;
        let origin = LowerName::new(&origin);
        let mut zone = StaticZone {
            origin: origin.clone(),
            records: HashMap::new(),
            names: HashSet::new(),
            soa: None,
        };
        for (key, set) in sets {
            let name = key.name.clone();
            if !origin.zone_of(&name) {
                return Err(ZoneError(format!("{name} is outside the zone {origin}")));
            }
            let records: Vec<Record> = set.records_without_rrsigs().cloned().collect();
            if key.record_type == RecordType::SOA {
                zone.soa = records.first().cloned();
            }
            let mut n = Name::from(&name);
            loop {
                zone.names.insert(LowerName::new(&n));
                if n.num_labels() == 0 || LowerName::new(&n) == origin {
                    break;
                }
                n = n.base_name();
            }
            zone.records.insert((name, key.record_type), records.into());
        }
        Ok(zone)
    }

    /// The zone's origin.
    pub fn origin(&self) -> &LowerName {
        &self.origin
    }

    /// How many record sets the zone holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the zone holds no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn get(&self, name: &LowerName, ty: RecordType) -> Option<&Arc<[Record]>> {
        self.records.get(&(name.clone(), ty))
    }

    /// Records of `name` and type `ty` (every type for ANY), with the owner spelled as asked.
    fn push_matching(&self, name: &LowerName, asked: &Name, ty: RecordType, out: &mut Vec<Record>) {
        let with_name = |r: &Record| {
            let mut r = r.clone();
            r.name = asked.clone();
            r
        };
        if ty == RecordType::ANY {
            for ((n, _), rs) in &self.records {
                if n == name {
                    out.extend(rs.iter().map(with_name));
                }
            }
        } else if let Some(rs) = self.get(name, ty) {
            out.extend(rs.iter().map(with_name));
        }
    }
}

impl Handler for StaticZone {
    fn handle(&self, request: &Request<'_>) -> Response {
        let Some(q) = request.query() else {
            return Response::Message(request.error(ResponseCode::FormErr));
        };
        if q.query_class() != DNSClass::IN && q.query_class() != DNSClass::ANY {
            return Response::Message(request.error(ResponseCode::Refused));
        }
        let asked = q.name();
        let name = LowerName::new(asked);
        if !self.origin.zone_of(&name) {
            return Response::Message(request.error(ResponseCode::Refused));
        }
        let mut reply = request.reply();
        reply.metadata.authoritative = true;
        let ty = q.query_type();
        self.push_matching(&name, asked, ty, &mut reply.answers);
        if reply.answers.is_empty() && ty != RecordType::CNAME {
            // Follow CNAMEs inside the zone.
            let mut at = name.clone();
            for _ in 0..CNAME_CHAIN {
                let Some(cname) = self.get(&at, RecordType::CNAME) else {
                    break;
                };
                let Some(RData::CNAME(target)) = cname.first().map(|r| &r.data) else {
                    break;
                };
                let target = target.0.clone();
                let owner = if at == name {
                    asked.clone()
                } else {
                    Name::from(&at)
                };
                reply.answers.extend(cname.iter().map(|r| {
                    let mut r = r.clone();
                    r.name = owner.clone();
                    r
                }));
                at = LowerName::new(&target);
                if !self.origin.zone_of(&at) {
                    break;
                }
                self.push_matching(&at, &target, ty, &mut reply.answers);
                if reply.answers.iter().any(|r| r.record_type() == ty) {
                    break;
                }
            }
        }
        if reply.answers.is_empty() {
            if !self.names.contains(&name) {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            if let Some(soa) = &self.soa {
                reply.authorities.push(soa.clone());
            }
        }
        Response::Message(reply)
    }
}
