//! DNS messages for the packet toolkit, in safe Rust: [`Composer`] builds one field at a
//! time as `iothdns_put_*` asks, [`Parser`] reads one field at a time as `iothdns_get_*`
//! asks. Every byte goes through hickory's `BinEncoder`/`BinDecoder`; names are hickory
//! [`Name`]s, read with its decoder (compression pointers followed, each strictly backwards,
//! so a pointer loop cannot happen; 255-byte limit) and compressed here against a table of
//! the suffixes already written, keyed by `Name`, whose equality ignores ASCII case (hickory's
//! own compressor matches bytes exactly, and the original library promises case-insensitive
//! matching).
//!
//! Errors are errno values: the C layer sets `errno` from them.

use std::collections::HashMap;

use hickory_proto::op::Header;
use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};

/// The fixed header.
pub(crate) const HEADER_LEN: usize = 12;
/// The longest DNS message (the 16-bit length of TCP framing).
pub(crate) const MAX_MESSAGE: usize = 65535;
/// A compression pointer holds a 14-bit offset.
const MAX_POINTER: usize = 0x3fff;
/// The record type of the EDNS pseudo-record.
pub(crate) const TYPE_OPT: u16 = 41;
/// The flag for a truncated message.
pub(crate) const FLAG_TC: u16 = 0x0200;
/// The flag for a response.
pub(crate) const FLAG_QR: u16 = 0x8000;

/// A question as the C API sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// The fixed part of a resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RrHeader {
    pub name: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdlength: u16,
}

/// A message being composed.
pub(crate) struct Composer {
    buf: Vec<u8>,
    /// Records per section (0 is the question).
    counts: [u16; 4],
    /// The section of the last record (0: none yet).
    section: usize,
    /// Where the current record's RDLENGTH sits.
    rdlength_at: Option<usize>,
    /// Name suffixes already in the message and where they start (below 0x4000).
    suffixes: HashMap<Name, u16>,
    /// The first failure: the message is not sent.
    error: Option<i32>,
}

impl Composer {
    /// A message with `id`, `flags` and an optional question.
    pub(crate) fn new(id: u16, flags: u16, question: Option<&Question>) -> Result<Self, i32> {
        let mut c = Self {
            buf: Vec::with_capacity(512),
            counts: [0; 4],
            section: 0,
            rdlength_at: None,
            suffixes: HashMap::new(),
            error: None,
        };
        // The flags word goes as it is: hickory's header has no Z bit, the C API does.
        c.emit(|e| {
            e.emit_u16(id)?;
            e.emit_u16(flags)?;
            for _ in 0..4 {
                e.emit_u16(0)?;
            }
            Ok(())
        })?;
        if let Some(q) = question {
            c.put_name(&q.name, true)?;
            c.put_u16(q.qtype)?;
            c.put_u16(q.qclass)?;
            c.counts[0] = 1;
        }
        Ok(c)
    }

    fn fail(&mut self, e: i32) -> Result<(), i32> {
        if self.error.is_none() {
            self.error = Some(e);
        }
        Err(e)
    }

    /// Runs `f` on an encoder at the end of the message; an overflow fails the message with
    /// `EMSGSIZE` and leaves no partial write behind.
    fn emit(
        &mut self,
        f: impl FnOnce(&mut BinEncoder<'_>) -> Result<(), hickory_proto::ProtoError>,
    ) -> Result<(), i32> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let start = self.buf.len();
        let r = {
            let mut enc = BinEncoder::new(&mut self.buf);
            enc.set_max_size(MAX_MESSAGE as u16);
            enc.set_offset(start);
            f(&mut enc)
        };
        if r.is_err() {
            self.buf.truncate(start);
            return self.fail(libc::EMSGSIZE);
        }
        Ok(())
    }

    /// Fails the message with `e` (for arguments the C layer found wrong).
    pub(crate) fn refuse(&mut self, e: i32) -> Result<(), i32> {
        match self.error {
            Some(first) => Err(first),
            None => self.fail(e),
        }
    }

    pub(crate) fn put_u8(&mut self, v: u8) -> Result<(), i32> {
        self.emit(|e| e.emit_u8(v))
    }

    pub(crate) fn put_u16(&mut self, v: u16) -> Result<(), i32> {
        self.emit(|e| e.emit_u16(v))
    }

    pub(crate) fn put_u32(&mut self, v: u32) -> Result<(), i32> {
        self.emit(|e| e.emit_u32(v))
    }

    pub(crate) fn put_data(&mut self, data: &[u8]) -> Result<(), i32> {
        self.emit(|e| e.emit_vec(data))
    }

    /// A character-string: at most 255 bytes of `s` (longer is cut, as the original does).
    pub(crate) fn put_string(&mut self, s: &[u8]) -> Result<(), i32> {
        let s = &s[..s.len().min(255)];
        self.emit(|e| e.emit_character_data(s))
    }

    /// Writes `name`, ending in a pointer to the longest suffix already in the message when
    /// `compress`; either way its suffixes become targets for later names.
    pub(crate) fn put_name(&mut self, name: &Name, compress: bool) -> Result<(), i32> {
        let labels: Vec<&[u8]> = name.iter().collect();
        let n = labels.len();
        let mut pointer = None;
        if compress {
            for i in 0..n {
                let suffix = name.trim_to(n - i);
                if let Some(&at) = self.suffixes.get(&suffix) {
                    pointer = Some((i, at));
                    break;
                }
            }
        }
        let spelled = pointer.map_or(n, |(i, _)| i);
        let start = self.buf.len();
        self.emit(|e| {
            for label in &labels[..spelled] {
                e.emit_character_data(label)?;
            }
            match pointer {
                Some((_, at)) => e.emit_u16(0xc000 | at),
                None => e.emit_u8(0),
            }
        })?;
        let mut at = start;
        for (i, label) in labels[..spelled].iter().enumerate() {
            if at > MAX_POINTER {
                break;
            }
            self.suffixes
                .entry(name.trim_to(n - i))
                .or_insert(at as u16);
            at += label.len() + 1;
        }
        Ok(())
    }

    /// Starts a record in `section` (1..=3, not before the previous record's section).
    pub(crate) fn put_rr(&mut self, section: usize, rr: &RrHeader) -> Result<(), i32> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if !(1..=3).contains(&section) || section < self.section {
            return self.fail(libc::EINVAL);
        }
        self.close_rdata();
        self.put_name(&rr.name, true)?;
        self.put_u16(rr.rtype)?;
        self.put_u16(rr.class)?;
        self.put_u32(rr.ttl)?;
        let at = self.buf.len();
        self.put_u16(0)?;
        self.rdlength_at = Some(at);
        self.section = section;
        self.counts[section] += 1;
        Ok(())
    }

    /// Writes the current record's RDLENGTH (it stays open: more data may follow).
    fn close_rdata(&mut self) {
        if let Some(at) = self.rdlength_at {
            let len = self.buf.len() - at - 2;
            // The message is at most 65535 bytes, so the length fits.
            let len = u16::try_from(len).unwrap_or(u16::MAX);
            self.buf[at..at + 2].copy_from_slice(&len.to_be_bytes());
        }
    }

    /// The message with its counts and RDLENGTH filled in; the failure if it has one.
    pub(crate) fn finish(&mut self) -> Result<&[u8], i32> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.close_rdata();
        let mut header = [0u8; 8];
        for (i, c) in self.counts.iter().enumerate() {
            header[2 * i..2 * i + 2].copy_from_slice(&c.to_be_bytes());
        }
        self.buf[4..HEADER_LEN].copy_from_slice(&header);
        Ok(&self.buf)
    }

    /// The id and flags words.
    pub(crate) fn header(&self) -> (u16, u16) {
        id_flags(&self.buf)
    }

    /// Overwrites the id and flags words.
    pub(crate) fn rewrite_header(&mut self, id: u16, flags: u16) {
        set_id_flags(&mut self.buf, id, flags);
    }
}

/// The id and flags of a message (0 for missing bytes).
pub(crate) fn id_flags(msg: &[u8]) -> (u16, u16) {
    let word = |i: usize| {
        msg.get(i..i + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    (word(0), word(2))
}

/// Overwrites the id and flags of a message (nothing when it is shorter than 4 bytes).
pub(crate) fn set_id_flags(msg: &mut [u8], id: u16, flags: u16) {
    if let Some(b) = msg.get_mut(0..4) {
        b[..2].copy_from_slice(&id.to_be_bytes());
        b[2..].copy_from_slice(&flags.to_be_bytes());
    }
}

/// What the header and first question of a message say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub id: u16,
    pub flags: u16,
    pub question: Option<Question>,
}

/// A reading position in a message; every call takes the same message bytes.
#[derive(Clone, Debug)]
pub(crate) struct Parser {
    /// Records left per section (index 0 unused).
    remaining: [u16; 4],
    /// Where the next record starts.
    next_rr: usize,
    /// Where the next data read starts, and where the current record's data ends.
    cursor: usize,
    limit: usize,
    /// A malformed record was met: no more records.
    failed: bool,
}

fn bad<E>(_: E) -> i32 {
    libc::EBADMSG
}

/// A decoder at `at` that sees `msg[..limit]`.
fn decoder_at(msg: &[u8], at: usize, limit: usize) -> Result<BinDecoder<'_>, i32> {
    if at > limit || limit > msg.len() {
        return Err(libc::EBADMSG);
    }
    let at = u16::try_from(at).map_err(bad)?;
    Ok(BinDecoder::new(&msg[..limit]).clone(at))
}

impl Parser {
    /// Reads the header and the questions (the first one is returned; the others skipped).
    /// `EBADMSG` for a malformed or cut header or question, `EMSGSIZE` over 65535 bytes.
    pub(crate) fn new(msg: &[u8]) -> Result<(Self, Parsed), i32> {
        if msg.len() > MAX_MESSAGE {
            return Err(libc::EMSGSIZE);
        }
        let mut d = BinDecoder::new(msg);
        let header = Header::read(&mut d).map_err(bad)?;
        // hickory's header has no Z bit: the flags word is taken as it is.
        let (_, flags) = id_flags(msg);
        let mut question = None;
        for i in 0..header.counts.queries {
            let name = Name::read(&mut d).map_err(bad)?;
            let qtype = d.read_u16().map_err(bad)?.unverified();
            let qclass = d.read_u16().map_err(bad)?.unverified();
            if i == 0 {
                question = Some(Question {
                    name,
                    qtype,
                    qclass,
                });
            }
        }
        let at = d.index();
        let c = header.counts;
        Ok((
            Self {
                remaining: [0, c.answers, c.authorities, c.additionals],
                next_rr: at,
                cursor: at,
                limit: msg.len(),
                failed: false,
            },
            Parsed {
                id: header.metadata.id,
                flags,
                question,
            },
        ))
    }

    /// Ends the record scan: later [`Parser::next_rr`] calls fail.
    pub(crate) fn fail(&mut self) {
        self.failed = true;
    }

    /// The next record's section and fixed part, `None` at the end; `EBADMSG` for a
    /// malformed or cut record (and from then on).
    pub(crate) fn next_rr(&mut self, msg: &[u8]) -> Result<Option<(usize, RrHeader)>, i32> {
        if self.failed {
            return Err(libc::EBADMSG);
        }
        let Some(section) = (1..=3).find(|&s| self.remaining[s] > 0) else {
            return Ok(None);
        };
        match Self::read_rr(msg, self.next_rr) {
            Ok((rr, data_at)) => {
                self.remaining[section] -= 1;
                self.cursor = data_at;
                self.limit = data_at + usize::from(rr.rdlength);
                self.next_rr = self.limit;
                Ok(Some((section, rr)))
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    fn read_rr(msg: &[u8], at: usize) -> Result<(RrHeader, usize), i32> {
        let mut d = decoder_at(msg, at, msg.len())?;
        let name = Name::read(&mut d).map_err(bad)?;
        let rtype = d.read_u16().map_err(bad)?.unverified();
        let class = d.read_u16().map_err(bad)?.unverified();
        let ttl = d.read_u32().map_err(bad)?.unverified();
        let rdlength = d.read_u16().map_err(bad)?.unverified();
        let data_at = d.index();
        if usize::from(rdlength) > d.len() {
            return Err(libc::EBADMSG);
        }
        Ok((
            RrHeader {
                name,
                rtype,
                class,
                ttl,
                rdlength,
            },
            data_at,
        ))
    }

    /// The next `len` bytes of the current data; `EBADMSG` (nothing consumed) past its end.
    pub(crate) fn read_slice<'m>(&mut self, msg: &'m [u8], len: usize) -> Result<&'m [u8], i32> {
        let mut d = decoder_at(msg, self.cursor, self.limit)?;
        let s = d.read_slice(len).map_err(bad)?.unverified();
        self.cursor = d.index();
        Ok(s)
    }

    pub(crate) fn read_u8(&mut self, msg: &[u8]) -> Result<u8, i32> {
        self.read_slice(msg, 1).map(|b| b[0])
    }

    pub(crate) fn read_u16(&mut self, msg: &[u8]) -> Result<u16, i32> {
        let mut d = decoder_at(msg, self.cursor, self.limit)?;
        let v = d.read_u16().map_err(bad)?.unverified();
        self.cursor = d.index();
        Ok(v)
    }

    pub(crate) fn read_u32(&mut self, msg: &[u8]) -> Result<u32, i32> {
        let mut d = decoder_at(msg, self.cursor, self.limit)?;
        let v = d.read_u32().map_err(bad)?.unverified();
        self.cursor = d.index();
        Ok(v)
    }

    /// A name in the current data (its pointers may reach anywhere earlier in the message).
    pub(crate) fn read_name(&mut self, msg: &[u8]) -> Result<Name, i32> {
        let mut d = decoder_at(msg, self.cursor, self.limit)?;
        let name = Name::read(&mut d).map_err(bad)?;
        self.cursor = d.index();
        Ok(name)
    }

    /// A character-string in the current data.
    pub(crate) fn read_string<'m>(&mut self, msg: &'m [u8]) -> Result<&'m [u8], i32> {
        let mut d = decoder_at(msg, self.cursor, self.limit)?;
        let len = d.read_u8().map_err(bad)?.unverified();
        let s = d.read_slice(usize::from(len)).map_err(bad)?.unverified();
        self.cursor = d.index();
        Ok(s)
    }
}

/// The UDP payload size a query's EDNS OPT record offers (at least 512), or 512 without one.
pub(crate) fn client_udp_limit(query: &[u8]) -> usize {
    let Ok((mut p, _)) = Parser::new(query) else {
        return 512;
    };
    while let Ok(Some((section, rr))) = p.next_rr(query) {
        if section == 3 && rr.rtype == TYPE_OPT {
            return usize::from(rr.class).max(512);
        }
    }
    512
}

/// `reply` cut down to `limit` bytes the way DNS truncates: header with TC, the questions,
/// and the reply's OPT record when it has one (all answer, authority and other additional
/// records are dropped; the client asks again over TCP). A reply that does not parse
/// becomes its header alone, with TC and no records.
pub(crate) fn truncate(reply: &[u8], limit: usize) -> Vec<u8> {
    let header_only = |reply: &[u8]| {
        let (id, flags) = id_flags(reply);
        let mut out = vec![0u8; HEADER_LEN];
        set_id_flags(&mut out, id, flags | FLAG_TC);
        out
    };
    let Ok((mut p, _)) = Parser::new(reply) else {
        return header_only(reply);
    };
    let questions_end = p.next_rr;
    let qdcount = [reply[4], reply[5]];
    let mut opt = None;
    let mut at = p.next_rr;
    while let Ok(Some((section, rr))) = p.next_rr(reply) {
        if section == 3 && rr.rtype == TYPE_OPT {
            opt = Some(at..p.next_rr);
            break;
        }
        at = p.next_rr;
    }
    let mut out = reply[..questions_end].to_vec();
    if out.len() > limit {
        return header_only(reply);
    }
    let (id, flags) = id_flags(reply);
    set_id_flags(&mut out, id, flags | FLAG_TC);
    out[4..6].copy_from_slice(&qdcount);
    out[6..12].fill(0);
    // The OPT record's owner is the root and its data holds no names: its bytes move as
    // they are.
    if let Some(range) = opt
        && out.len() + range.len() <= limit
    {
        out.extend_from_slice(&reply[range]);
        out[10..12].copy_from_slice(&1u16.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::iothdns::names::from_text;
    use hickory_proto::op::Message;
    use hickory_proto::rr::{RData, RecordType};
    use proptest::prelude::*;

    fn name(s: &str) -> Name {
        from_text(s.as_bytes()).unwrap()
    }

    fn rr(owner: &str, rtype: u16, ttl: u32) -> RrHeader {
        RrHeader {
            name: name(owner),
            rtype,
            class: 1,
            ttl,
            rdlength: 0,
        }
    }

    fn query(qname: &str, qtype: u16) -> Composer {
        let q = Question {
            name: name(qname),
            qtype,
            qclass: 1,
        };
        Composer::new(0x1234, 0x0100, Some(&q)).unwrap()
    }

    #[test]
    fn a_composed_reply_parses_with_hickory() {
        let mut c = query("www.Example.com", 1);
        c.put_rr(1, &rr("www.example.com", 5, 60)).unwrap();
        c.put_name(&name("host.EXAMPLE.com"), true).unwrap();
        c.put_rr(1, &rr("host.example.com", 1, 30)).unwrap();
        c.put_data(&[10, 0, 0, 1]).unwrap();
        c.put_rr(3, &rr("host.example.com", 16, 30)).unwrap();
        c.put_string(b"hello").unwrap();
        let bytes = c.finish().unwrap().to_vec();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.queries[0].name().to_ascii(), "www.Example.com.");
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.additionals.len(), 1);
        match &m.answers[0].data {
            // "EXAMPLE.com" matched the question's "Example.com" ignoring case, so the
            // reader sees the question's spelling.
            RData::CNAME(t) => assert_eq!(t.0.to_ascii(), "host.Example.com."),
            other => panic!("{other:?}"),
        }
        assert_eq!(m.answers[1].record_type(), RecordType::A);
        // Case-insensitive compression: the answer's owner points at the question.
        let owner_at = 12 + 17 + 4;
        assert_eq!(&bytes[owner_at..owner_at + 2], &[0xc0, 12]);
        // host.EXAMPLE.com reused "Example.com" of the question.
        assert!(bytes.windows(2).any(|w| w == [0xc0, 16]), "{bytes:x?}");
    }

    #[test]
    fn records_out_of_section_order_fail_the_message() {
        let mut c = query("a.b", 1);
        c.put_rr(3, &rr("a.b", 1, 1)).unwrap();
        assert_eq!(c.put_rr(1, &rr("a.b", 1, 1)), Err(libc::EINVAL));
        assert_eq!(c.put_u8(1), Err(libc::EINVAL), "later puts do nothing");
        assert_eq!(c.finish().unwrap_err(), libc::EINVAL);
        let mut c = query("a.b", 1);
        assert_eq!(c.put_rr(0, &rr("a.b", 1, 1)), Err(libc::EINVAL));
        let mut c = query("a.b", 1);
        assert_eq!(c.put_rr(4, &rr("a.b", 1, 1)), Err(libc::EINVAL));
    }

    #[test]
    fn a_message_stops_at_65535_bytes() {
        let mut c = query("a.b", 1);
        c.put_rr(1, &rr("a.b", 10, 1)).unwrap();
        let chunk = vec![0u8; 60000];
        c.put_data(&chunk).unwrap();
        assert_eq!(c.put_data(&chunk), Err(libc::EMSGSIZE));
        assert_eq!(c.finish().unwrap_err(), libc::EMSGSIZE);
    }

    #[test]
    fn getbuf_keeps_the_record_open() {
        let mut c = query("a.b", 1);
        c.put_rr(1, &rr("a.b", 16, 1)).unwrap();
        c.put_string(b"one").unwrap();
        let first = c.finish().unwrap().to_vec();
        c.put_string(b"two").unwrap();
        let second = c.finish().unwrap().to_vec();
        let m = Message::from_vec(&first).unwrap();
        assert_eq!(m.answers.len(), 1);
        let m = Message::from_vec(&second).unwrap();
        match &m.answers[0].data {
            RData::TXT(t) => assert_eq!(t.txt_data.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_z_bit_and_every_flag_survive() {
        let mut c = Composer::new(7, 0xffff, None).unwrap();
        let bytes = c.finish().unwrap().to_vec();
        let (_, parsed) = Parser::new(&bytes).unwrap();
        assert_eq!(parsed.flags, 0xffff);
        assert_eq!(parsed.question, None);
    }

    #[test]
    fn reads_stop_at_the_end_of_the_record_data() {
        let mut c = query("a.b", 1);
        c.put_rr(1, &rr("a.b", 1, 5)).unwrap();
        c.put_data(&[1, 2, 3, 4]).unwrap();
        c.put_rr(1, &rr("a.b", 1, 5)).unwrap();
        c.put_data(&[5, 6, 7, 8]).unwrap();
        let bytes = c.finish().unwrap().to_vec();
        let (mut p, h) = Parser::new(&bytes).unwrap();
        assert_eq!(h.question.unwrap().name, name("a.b"));
        let (s, r) = p.next_rr(&bytes).unwrap().unwrap();
        assert_eq!((s, r.rtype, r.ttl, r.rdlength), (1, 1, 5, 4));
        assert_eq!(p.read_u16(&bytes).unwrap(), 0x0102);
        assert_eq!(p.read_u32(&bytes), Err(libc::EBADMSG));
        assert_eq!(p.read_u16(&bytes).unwrap(), 0x0304, "nothing consumed");
        assert_eq!(p.read_u8(&bytes), Err(libc::EBADMSG));
        let (_, _) = p.next_rr(&bytes).unwrap().unwrap();
        assert_eq!(p.read_slice(&bytes, 4).unwrap(), &[5, 6, 7, 8]);
        assert_eq!(p.next_rr(&bytes).unwrap(), None);
    }

    #[test]
    fn cut_and_looping_messages_are_refused() {
        let mut c = query("a.b", 1);
        c.put_rr(1, &rr("a.b", 1, 5)).unwrap();
        c.put_data(&[1, 2, 3, 4]).unwrap();
        let bytes = c.finish().unwrap().to_vec();
        assert_eq!(Parser::new(&bytes[..11]).unwrap_err(), libc::EBADMSG);
        assert_eq!(Parser::new(&bytes[..16]).unwrap_err(), libc::EBADMSG);
        let cut = &bytes[..bytes.len() - 1];
        let (mut p, _) = Parser::new(cut).unwrap();
        assert_eq!(p.next_rr(cut), Err(libc::EBADMSG));
        assert_eq!(p.next_rr(cut), Err(libc::EBADMSG), "stays failed");
        // A question whose name points at itself.
        let mut looped = bytes[..12].to_vec();
        looped[5] = 1;
        looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(Parser::new(&looped).unwrap_err(), libc::EBADMSG);
    }

    #[test]
    fn extra_questions_are_skipped() {
        let mut c = query("first.q", 1);
        c.put_name(&name("second.q"), true).unwrap();
        c.put_u16(28).unwrap();
        c.put_u16(1).unwrap();
        c.put_rr(1, &rr("first.q", 1, 9)).unwrap();
        c.put_data(&[1, 2, 3, 4]).unwrap();
        let mut bytes = c.finish().unwrap().to_vec();
        bytes[5] = 2;
        let (mut p, h) = Parser::new(&bytes).unwrap();
        assert_eq!(h.question.unwrap().name, name("first.q"));
        let (_, r) = p.next_rr(&bytes).unwrap().unwrap();
        assert_eq!(r.ttl, 9);
    }

    #[test]
    fn truncation_keeps_the_question_and_opt() {
        let mut c = query("big.example", 16);
        for _ in 0..10 {
            c.put_rr(1, &rr("big.example", 16, 1)).unwrap();
            c.put_string(&[b'x'; 200]).unwrap();
        }
        c.put_rr(3, &rr("", TYPE_OPT, 0)).unwrap();
        let bytes = c.finish().unwrap().to_vec();
        let cut = truncate(&bytes, 512);
        assert!(cut.len() <= 512);
        let m = Message::from_vec(&cut).unwrap();
        assert!(m.metadata.truncation);
        assert_eq!(m.queries.len(), 1);
        assert!(m.answers.is_empty());
        assert!(m.edns.is_some());
        let garbage = truncate(&[1, 2, 0x81, 0], 512);
        assert_eq!(garbage.len(), HEADER_LEN);
        assert_eq!(id_flags(&garbage), (0x0102, 0x8100 | FLAG_TC));
    }

    #[test]
    fn edns_size_of_a_query() {
        let plain = query("a.b", 1).finish().unwrap().to_vec();
        assert_eq!(client_udp_limit(&plain), 512);
        let mut c = query("a.b", 1);
        c.put_rr(
            3,
            &RrHeader {
                name: Name::root(),
                rtype: TYPE_OPT,
                class: 1232,
                ttl: 0,
                rdlength: 0,
            },
        )
        .unwrap();
        let edns = c.finish().unwrap().to_vec();
        assert_eq!(client_udp_limit(&edns), 1232);
    }

    proptest! {
        /// No input makes the parser panic or read outside the message, and everything it
        /// reports lies inside it.
        #[test]
        fn parser_survives_anything(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                    reads in proptest::collection::vec(0u8..6, 0..40)) {
            if let Ok((mut p, _)) = Parser::new(&bytes) {
                let mut k = 0;
                while let Ok(Some((s, rr))) = p.next_rr(&bytes) {
                    prop_assert!((1..=3).contains(&s));
                    prop_assert!(p.limit <= bytes.len());
                    prop_assert_eq!(p.limit - p.cursor, usize::from(rr.rdlength));
                    if let Some(&r) = reads.get(k) {
                        k += 1;
                        let _ = match r {
                            0 => p.read_u8(&bytes).map(drop),
                            1 => p.read_u16(&bytes).map(drop),
                            2 => p.read_u32(&bytes).map(drop),
                            3 => p.read_name(&bytes).map(drop),
                            4 => p.read_string(&bytes).map(drop),
                            _ => p.read_slice(&bytes, 4).map(drop),
                        };
                        prop_assert!(p.cursor <= p.limit);
                    }
                }
            }
            let _ = truncate(&bytes, 512);
            let _ = client_udp_limit(&bytes);
        }

        /// Whatever hickory encodes, the parser reads back record by record.
        #[test]
        fn hickory_messages_parse(owners in proptest::collection::vec("[a-zA-Z]{1,10}(\\.[a-z]{1,5}){0,3}", 1..8),
                                  ttl in any::<u32>()) {
            use hickory_proto::rr::{Record, rdata::A};
            let mut m = Message::query();
            m.add_query(hickory_proto::op::Query::query(Name::from_ascii(&owners[0]).unwrap(), RecordType::A));
            for o in &owners {
                m.add_answer(Record::from_rdata(Name::from_ascii(o).unwrap(), ttl, RData::A(A::new(10, 1, 2, 3))));
            }
            let bytes = m.to_vec().unwrap();
            let (mut p, h) = Parser::new(&bytes).unwrap();
            prop_assert!(h.question.unwrap().name.eq_ignore_root(&Name::from_ascii(&owners[0]).unwrap()));
            for o in &owners {
                let (s, rr) = p.next_rr(&bytes).unwrap().unwrap();
                prop_assert_eq!(s, 1);
                prop_assert_eq!(crate::iothdns::names::to_text(&rr.name), o.as_bytes());
                prop_assert_eq!(rr.ttl, ttl);
                prop_assert_eq!(p.read_slice(&bytes, 4).unwrap(), &[10, 1, 2, 3]);
            }
            prop_assert_eq!(p.next_rr(&bytes).unwrap(), None);
        }

        /// Names written by the composer (compressed or not) read back equal, ignoring case
        /// only where compression reused an earlier spelling.
        #[test]
        fn composed_names_read_back(names in proptest::collection::vec("[a-cA-C]{1,3}(\\.[a-cA-C]{1,3}){0,3}", 1..10),
                                    compress in proptest::collection::vec(any::<bool>(), 10)) {
            let mut c = query("a.b", 1);
            c.put_rr(1, &rr("a.b", 10, 0)).unwrap();
            for (n, z) in names.iter().zip(&compress) {
                c.put_name(&name(n), *z).unwrap();
            }
            let bytes = c.finish().unwrap().to_vec();
            let (mut p, _) = Parser::new(&bytes).unwrap();
            p.next_rr(&bytes).unwrap().unwrap();
            for n in &names {
                let back = p.read_name(&bytes).unwrap();
                prop_assert_eq!(back, name(n));
            }
            prop_assert_eq!(p.cursor, p.limit);
        }
    }
}
