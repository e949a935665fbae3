#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A SYN as Linux sends it, from 192.168.1.10:54321 to 93.184.216.34:80: window 64240,
/// options MSS 1460, SACK-Permitted, Timestamps (TSval 0x0c1b2a39, TSecr 0), NOP, window
/// scale 7 (data offset 10). The checksum (0xf433) was computed independently.
const LINUX_SYN: [u8; 40] = [
    0xd4, 0x31, 0x00, 0x50, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
    0xf4, 0x33, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x0c, 0x1b, 0x2a, 0x39,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
];

fn syn_addrs() -> (IpAddr, IpAddr) {
    (
        Ipv4Addr::new(192, 168, 1, 10).into(),
        Ipv4Addr::new(93, 184, 216, 34).into(),
    )
}

#[test]
fn linux_syn_every_field() {
    let seg = Segment::parse(&LINUX_SYN).unwrap();
    let h = seg.header;
    assert_eq!(h.src_port, 54321);
    assert_eq!(h.dst_port, 80);
    assert_eq!(h.seq, Seq(0x1a2b_3c4d));
    assert_eq!(h.ack, Seq(0));
    assert_eq!(h.flags, Flags::SYN);
    assert_eq!(h.window, 64240);
    assert_eq!(h.urgent, 0);
    assert_eq!(h.options.mss, Some(1460));
    assert!(h.options.sack_permitted);
    assert_eq!(
        h.options.timestamps,
        Some(Timestamps {
            val: 0x0c1b_2a39,
            ecr: 0
        })
    );
    assert_eq!(h.options.window_scale, Some(7));
    assert!(h.options.sack.is_empty());
    assert!(seg.payload.is_empty());
    assert_eq!(seg.seg_len(), 1);
    assert_eq!(h.len(), 40);
    let (src, dst) = syn_addrs();
    assert!(verify_checksum(src, dst, &LINUX_SYN));
    assert!(!verify_checksum(
        src,
        Ipv4Addr::new(93, 184, 216, 35).into(),
        &LINUX_SYN
    ));
    assert!(!verify_checksum(src, dst, &LINUX_SYN[..39]));
}

#[test]
fn linux_syn_is_reemitted_byte_for_byte() {
    let h = Segment::parse(&LINUX_SYN).unwrap().header;
    let (src, dst) = syn_addrs();
    let mut out = [0u8; 64];
    let n = emit_segment(&h, &[], src, dst, &mut out).unwrap();
    assert_eq!(&out[..n], &LINUX_SYN[..]);
}

#[test]
fn data_ack_with_sack_has_linux_layout() {
    let mut sack = SackBlocks::new();
    assert!(sack.push(Seq(0x2000), Seq(0x3000)));
    let h = Header {
        src_port: 80,
        dst_port: 54321,
        seq: Seq(0x1000),
        ack: Seq(0x1a2b_3c4e),
        flags: Flags::ACK,
        window: 501,
        urgent: 0,
        options: TcpOptions {
            timestamps: Some(Timestamps { val: 7, ecr: 9 }),
            sack,
            ..TcpOptions::default()
        },
    };
    let mut out = [0u8; 60];
    assert_eq!(h.emit(&mut out), Ok(44));
    let expected_opts = [
        1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, // NOP NOP Timestamps
        1, 1, 5, 10, 0, 0, 0x20, 0, 0, 0, 0x30, 0, // NOP NOP SACK one block
    ];
    assert_eq!(out[12], 11 << 4);
    assert_eq!(out[13], 0x10);
    assert_eq!(&out[16..18], &[0, 0], "checksum left zero by Header::emit");
    assert_eq!(&out[20..44], &expected_opts[..]);
    assert_eq!(Segment::parse(&out[..44]).unwrap().header, h);
}

#[test]
fn syn_without_timestamps_uses_nop_padding() {
    let opts = TcpOptions {
        mss: Some(536),
        sack_permitted: true,
        window_scale: Some(2),
        ..TcpOptions::default()
    };
    let mut out = [0u8; 40];
    assert_eq!(emit_options(&opts, &mut out), Ok(12));
    assert_eq!(&out[..12], &[2, 4, 2, 24, 1, 1, 4, 2, 1, 3, 3, 2]);
    let ts_only = TcpOptions {
        timestamps: Some(Timestamps { val: 1, ecr: 2 }),
        ..TcpOptions::default()
    };
    assert_eq!(emit_options(&ts_only, &mut out), Ok(12));
    assert_eq!(&out[..4], &[1, 1, 8, 10]);
}

#[test]
fn sack_blocks_kept_are_the_first_that_fit() {
    let mut sack = SackBlocks::new();
    for i in 0..4u32 {
        assert!(sack.push(Seq(i * 100), Seq(i * 100 + 50)));
    }
    assert!(!sack.push(Seq(1), Seq(2)), "a fifth block is refused");
    assert_eq!(sack.len(), 4);

    let mut opts = TcpOptions {
        sack,
        ..TcpOptions::default()
    };
    assert_eq!((opts.sack_blocks_emitted(), opts.len()), (4, 36));
    opts.timestamps = Some(Timestamps { val: 1, ecr: 1 });
    assert_eq!((opts.sack_blocks_emitted(), opts.len()), (3, 40));
    opts.mss = Some(1460);
    opts.window_scale = Some(7);
    opts.sack_permitted = true;
    assert_eq!((opts.sack_blocks_emitted(), opts.len()), (2, 40));

    let h = Header {
        flags: Flags::ACK,
        options: TcpOptions {
            timestamps: Some(Timestamps { val: 1, ecr: 1 }),
            sack,
            ..TcpOptions::default()
        },
        ..Header::default()
    };
    let mut out = [0u8; 60];
    let n = h.emit(&mut out).unwrap();
    assert_eq!(n, MAX_HEADER_LEN);
    let parsed = Segment::parse(&out[..n]).unwrap().header.options.sack;
    assert_eq!(parsed.as_slice(), &sack.as_slice()[..3]);
}

#[test]
fn flags_print_their_names() {
    assert_eq!(format!("{:?}", Flags::SYN | Flags::ACK), "SYN|ACK");
    let mut f = Flags::FIN;
    f |= Flags::PSH | Flags::ACK;
    assert_eq!(format!("{f:?}"), "FIN|PSH|ACK");
    assert_eq!(format!("{:?}", Flags::default()), "(none)");
    assert_eq!(
        format!("{:?}", Flags(0xff)),
        "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR"
    );
    assert!(f.contains(Flags::ACK | Flags::FIN));
    assert!(!f.contains(Flags::SYN | Flags::ACK));
    assert_eq!(f.bits(), 0x19);
}

#[test]
fn seg_len_counts_syn_and_fin() {
    let mut bytes = [0u8; 25];
    bytes[12] = 5 << 4;
    bytes[13] = (Flags::SYN | Flags::FIN | Flags::ACK).bits();
    let seg = Segment::parse(&bytes).unwrap();
    assert_eq!(seg.payload.len(), 5);
    assert_eq!(seg.seg_len(), 7);
    bytes[13] = Flags::ACK.bits();
    assert_eq!(Segment::parse(&bytes).unwrap().seg_len(), 5);
}

fn with_options(opts: &[u8]) -> Vec<u8> {
    let padded = opts.len().div_ceil(4) * 4;
    let mut b = vec![0u8; HEADER_LEN + padded];
    b[12] = (((HEADER_LEN + padded) / 4) as u8) << 4;
    b[HEADER_LEN..HEADER_LEN + opts.len()].copy_from_slice(opts);
    b
}

fn parse_opts(opts: &[u8]) -> Result<TcpOptions, WireError> {
    Segment::parse(&with_options(opts)).map(|s| s.header.options)
}

#[test]
fn header_length_errors() {
    assert_eq!(Segment::parse(&[0u8; 19]), Err(WireError::Truncated));
    let mut b = [0u8; 20];
    b[12] = 4 << 4;
    assert_eq!(Segment::parse(&b), Err(WireError::BadDataOffset(4)));
    b[12] = 6 << 4;
    assert_eq!(Segment::parse(&b), Err(WireError::Truncated));
    b[12] = 5 << 4 | 0x0f; // reserved bits and AE set: ignored
    assert!(Segment::parse(&b).is_ok());
}

#[test]
fn malformed_options_are_errors() {
    let bad = |kind, len| Err(WireError::BadOption { kind, len });
    assert_eq!(parse_opts(&[2, 3, 5]), bad(2, 3));
    assert_eq!(parse_opts(&[3, 4, 1, 1]), bad(3, 4));
    assert_eq!(parse_opts(&[4, 3, 0]), bad(4, 3));
    assert_eq!(parse_opts(&[8, 9, 0, 0, 0, 0, 0, 0, 0]), bad(8, 9));
    assert_eq!(
        parse_opts(&[5, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        bad(5, 12)
    );
    assert_eq!(
        parse_opts(&[5, 2]),
        bad(5, 2),
        "a SACK option needs a block"
    );
    assert_eq!(parse_opts(&[99, 0, 0, 0]), bad(99, 0));
    assert_eq!(parse_opts(&[99, 1, 0, 0]), bad(99, 1));
    assert_eq!(parse_opts(&[99, 6, 0, 0]), bad(99, 6), "runs past the area");
    assert_eq!(
        parse_opts(&[1, 1, 1, 99]),
        bad(99, 0),
        "length byte missing"
    );
}

#[test]
fn tolerated_options() {
    // Unknown kinds skipped by their length; EOL ends the list (garbage after it ignored).
    let o = parse_opts(&[30, 4, 0xff, 0xff, 2, 4, 1, 0, 0, 5, 1]).unwrap();
    assert_eq!(o.mss, Some(256));
    // Window shift above 14 is 14 (RFC 7323 2.3).
    assert_eq!(parse_opts(&[3, 3, 200]).unwrap().window_scale, Some(14));
    // A repeated option: the last one wins.
    let o = parse_opts(&[2, 4, 0, 100, 2, 4, 0, 200]).unwrap();
    assert_eq!(o.mss, Some(200));
    let o = parse_opts(&[
        5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, //
        5, 10, 0, 0, 0, 9, 0, 0, 0, 10,
    ])
    .unwrap();
    assert_eq!(o.sack.as_slice(), &[(Seq(9), Seq(10))]);
    assert_eq!(parse_opts(&[]).unwrap(), TcpOptions::default());
}

#[test]
fn short_buffers_are_refused() {
    let h = Segment::parse(&LINUX_SYN).unwrap().header;
    let mut out = [0u8; 39];
    assert_eq!(h.emit(&mut out), Err(WireError::BufferTooSmall));
    let (src, dst) = syn_addrs();
    let mut out = [0u8; 42];
    assert_eq!(
        emit_segment(&h, &[b"abc"], src, dst, &mut out),
        Err(WireError::BufferTooSmall)
    );
    let mut out = [0u8; 43];
    assert_eq!(emit_segment(&h, &[b"abc"], src, dst, &mut out), Ok(43));
}

#[test]
fn payload_slices_are_concatenated() {
    let h = Header {
        flags: Flags::ACK | Flags::PSH,
        ..Header::default()
    };
    let (src, dst) = syn_addrs();
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    let n = emit_segment(&h, &[b"hello ", b"", b"world"], src, dst, &mut a).unwrap();
    let m = emit_segment(&h, &[b"hello world"], src, dst, &mut b).unwrap();
    assert_eq!(a[..n], b[..m]);
    let seg = Segment::parse(&a[..n]).unwrap();
    assert_eq!(seg.payload, b"hello world");
    assert!(verify_checksum(src, dst, &a[..n]));
}

#[test]
fn errors_read_clearly() {
    assert!(
        WireError::BadDataOffset(3)
            .to_string()
            .contains("data offset 3")
    );
    let s = WireError::BadOption { kind: 2, len: 3 }.to_string();
    assert!(s.contains("kind 2") && s.contains("length 3"), "{s}");
    let e: &dyn std::error::Error = &WireError::Truncated;
    assert!(e.to_string().contains("truncated"));
}

fn options() -> impl Strategy<Value = TcpOptions> {
    (
        any::<Option<u16>>(),
        any::<Option<u8>>(),
        any::<bool>(),
        any::<Option<(u32, u32)>>(),
        proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
    )
        .prop_map(|(mss, window_scale, sack_permitted, ts, blocks)| {
            let mut sack = SackBlocks::new();
            for (s, e) in blocks {
                sack.push(Seq(s), Seq(e));
            }
            TcpOptions {
                mss,
                window_scale,
                sack_permitted,
                timestamps: ts.map(|(val, ecr)| Timestamps { val, ecr }),
                sack,
            }
        })
}

fn headers() -> impl Strategy<Value = Header> {
    (
        any::<(u16, u16, u32, u32)>(),
        any::<(u8, u16, u16)>(),
        options(),
    )
        .prop_map(
            |((src_port, dst_port, seq, ack), (flags, window, urgent), options)| Header {
                src_port,
                dst_port,
                seq: Seq(seq),
                ack: Seq(ack),
                flags: Flags(flags),
                window,
                urgent,
                options,
            },
        )
}

fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        any::<(u32, u32)>().prop_map(|(a, b)| (Ipv4Addr::from(a).into(), Ipv4Addr::from(b).into())),
        any::<(u128, u128)>()
            .prop_map(|(a, b)| (Ipv6Addr::from(a).into(), Ipv6Addr::from(b).into())),
    ]
}

proptest! {
    #[test]
    fn emit_then_parse_gives_the_header_back(h in headers(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut out = [0u8; MAX_HEADER_LEN + 64];
        let n = h.emit(&mut out).unwrap();
        prop_assert_eq!(n, h.len());
        prop_assert!(n <= MAX_HEADER_LEN && n % 4 == 0);
        out[n..n + payload.len()].copy_from_slice(&payload);
        let seg = Segment::parse(&out[..n + payload.len()]).unwrap();
        let mut expected = h;
        expected.options.window_scale = h.options.window_scale.map(|s| s.min(MAX_WINDOW_SCALE));
        expected.options.sack = h.options.sack.truncated(h.options.sack_blocks_emitted());
        prop_assert_eq!(seg.header, expected);
        prop_assert_eq!(seg.payload, &payload[..]);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        if let Ok(seg) = Segment::parse(&bytes) {
            prop_assert!(bytes.ends_with(seg.payload));
            prop_assert!(bytes.len() - seg.payload.len() >= HEADER_LEN);
        }
    }

    #[test]
    fn any_option_area_parses_or_errs(area in proptest::collection::vec(any::<u8>(), 0..=40), words in 5u8..=15) {
        let mut bytes = vec![0u8; usize::from(words) * 4];
        bytes[12] = words << 4;
        let room = bytes.len() - HEADER_LEN;
        let n = area.len().min(room);
        bytes[HEADER_LEN..HEADER_LEN + n].copy_from_slice(&area[..n]);
        if let Ok(seg) = Segment::parse(&bytes) {
            let o = seg.header.options;
            prop_assert!(o.window_scale.is_none_or(|s| s <= MAX_WINDOW_SCALE));
            prop_assert!(o.sack.len() <= MAX_SACK_BLOCKS);
            prop_assert!(seg.payload.is_empty());
        }
    }

    #[test]
    fn emitted_segments_verify_and_any_bit_flip_fails(
        h in headers(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        (src, dst) in addr_pair(),
        split in any::<usize>(),
    ) {
        let (p1, p2) = payload.split_at(split % (payload.len() + 1));
        let mut out = [0u8; MAX_HEADER_LEN + 200];
        let n = emit_segment(&h, &[p1, p2], src, dst, &mut out).unwrap();
        prop_assert_eq!(n, h.len() + payload.len());
        prop_assert!(verify_checksum(src, dst, &out[..n]));
        for bit in 0..n * 8 {
            out[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(!verify_checksum(src, dst, &out[..n]), "bit {} flipped", bit);
            out[bit / 8] ^= 1 << (bit % 8);
        }
    }
}
