//! Connects that end, on both TCP engines of the smoltcp stack, as Linux's do: a blocking
//! connect to an on-link address whose neighbour never answers fails with EHOSTUNREACH when
//! neighbour resolution gives up (three probes a second apart), and one whose SYNs go
//! unanswered (a neighbour that drops them) fails with ETIMEDOUT once `tcp_syn_retries`
//! retransmissions with backoff went unanswered.

use std::time::{Duration, Instant};

use ioth::Stack;
use ioth::net::TcpStream;
use ioth_tests::fixtures::unique_hub;

/// The smoltcp stack's TCP engines, as their `tcp=` option.
const ENGINES: [&str; 2] = ["ioth", "smoltcp"];

fn stack(engine: &str, extra: &str, hub: &str, ip: &str) -> Stack {
    let _ = ioth_smoltcp::NAME;
    let (stack, report) = Stack::from_config(&format!(
        "stack=\"smoltcp,tcp={engine}{extra}\",vnl={hub},eth,ip={ip}"
    ))
    .unwrap_or_else(|e| panic!("tcp={engine} stack {ip}: {e}"));
    assert!(report.failed.is_empty(), "{ip}: {:?}", report.failed);
    stack
}

#[test]
fn a_connect_to_a_silent_on_link_address_ends_with_ehostunreach() {
    ioth_tests::init_logging();
    std::thread::scope(|s| {
        for (i, engine) in ENGINES.into_iter().enumerate() {
            s.spawn(move || {
                let hub = unique_hub();
                let a = stack(engine, "", &hub, &format!("10.84.{i}.1/24"));
                let start = Instant::now();
                let e = TcpStream::connect_on(&a, format!("10.84.{i}.99:80"))
                    .expect_err("nobody has the address");
                let waited = start.elapsed();
                assert_eq!(
                    e.raw_os_error(),
                    Some(libc::EHOSTUNREACH),
                    "tcp={engine}: {e}"
                );
                assert!(
                    waited >= Duration::from_millis(2500) && waited < Duration::from_secs(8),
                    "tcp={engine}: EHOSTUNREACH after about 3 s, got {waited:?}"
                );
            });
        }
    });
}

#[test]
fn unanswered_syns_end_with_etimedout_after_tcp_syn_retries() {
    ioth_tests::init_logging();
    std::thread::scope(|s| {
        for (i, engine) in ENGINES.into_iter().enumerate() {
            s.spawn(move || {
                let hub = unique_hub();
                // The gateway answers ARP but forwards nothing: the SYNs to the host behind
                // it leave (the neighbour is resolved) and are never answered.
                let _gw = stack(engine, "", &hub, &format!("10.85.{i}.254/24"));
                let a = Stack::from_config(&format!(
                    "stack=\"smoltcp,tcp={engine},tcp_syn_retries=1\",vnl={hub},eth,\
                     ip=10.85.{i}.1/24,gw=10.85.{i}.254"
                ))
                .unwrap_or_else(|e| panic!("tcp={engine}: {e}"))
                .0;
                let start = Instant::now();
                let e = TcpStream::connect_on(&a, "192.0.2.7:80").expect_err("no answer");
                let waited = start.elapsed();
                assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "tcp={engine}: {e}");
                // One retry: the SYN at 0 s and 1 s, given up at 3 s (Linux's backoff).
                assert!(
                    waited >= Duration::from_millis(2500) && waited < Duration::from_secs(10),
                    "tcp={engine}: ETIMEDOUT after about 3 s, got {waited:?}"
                );
            });
        }
    });
}
