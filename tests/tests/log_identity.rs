//! Every line the smoltcp stack logs about a stack starts with that stack's identity: its
//! name (`name=`, `fqdn=`, `Stack::set_name`) or `stack#N`, so the lines of two stacks in
//! one process can be told apart.

use std::sync::Mutex;

use ioth::Stack;
use ioth_tests::fixtures::unique_hub;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Collect;

impl log::Log for Collect {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("ioth_smoltcp") {
            let line = record.args().to_string();
            LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }
    fn flush(&self) {}
}

fn lines_with(needle: &str) -> Vec<String> {
    LINES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|l| l.contains(needle))
        .cloned()
        .collect()
}

#[test]
fn log_lines_name_the_stack_they_are_about() {
    let _ = ioth_smoltcp::NAME;
    log::set_logger(&Collect).expect("the only logger of this test");
    log::set_max_level(log::LevelFilter::Trace);
    let hub = unique_hub();
    let named = Stack::new("smoltcp,name=node-x.example,announce=1", &[&hub]).expect("stack");
    named
        .configure("eth,ip=10.70.0.1/24")
        .expect("configure the named stack");
    let unnamed = Stack::new("smoltcp,announce=1", &[&hub]).expect("stack");
    unnamed
        .configure("eth,ip=10.70.0.2/24")
        .expect("configure the other stack");
    let anon = unnamed.name();
    assert!(anon.starts_with("stack#"), "{anon}");
    unnamed.set_name("renamed.example");
    unnamed
        .configure("ip=10.70.0.3/24")
        .expect("add an address");

    let announced = |addr: &str| lines_with(&format!("announcing {addr} "));
    for (addr, ident) in [
        ("10.70.0.1", "node-x.example"),
        ("10.70.0.2", anon.as_str()),
        ("10.70.0.3", "renamed.example"),
    ] {
        let lines = announced(addr);
        assert!(!lines.is_empty(), "a line announces {addr}");
        for l in &lines {
            assert!(
                l.starts_with(&format!("{ident}: vde0: ")),
                "the line about {addr} names {ident}: {l:?}"
            );
        }
    }
}
