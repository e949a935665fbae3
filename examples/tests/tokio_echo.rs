//! `tokio_echo` as a user runs it: its help, a bad command line, and the demo, whose clients
//! each get their bytes back intact over two user-space stacks on an in-process hub.

mod common;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let program = common::program("tokio_echo");
    assert!(
        program.exists(),
        "{} is missing: `cargo test -p ioth-examples` builds the examples, or build them \
         first (cargo build -p ioth-examples --examples)",
        program.display()
    );
    common::run("tokio_echo", args)
}

#[test]
fn help_and_a_bad_command_line() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("Usage: tokio_echo") && out.contains("--clients <N>"),
        "{out}"
    );
    let (code, _, err) = run(&["--bytes", "lots"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("lots") && !err.contains("panicked"), "{err}");
    let (code, _, err) = run(&["--clients", "0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--clients 0"), "{err}");
}

#[test]
fn the_demo_echoes_every_client_intact() {
    let (code, out, err) = run(&["--clients", "6", "--bytes", "300000"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("tokio_echo: server 10.0.0.1:7 on hub://@ioth-tokio-echo"),
        "{out}"
    );
    for n in 0..6 {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("tokio_echo: client {n} "))
                    && l.ends_with("got its 300000 bytes back intact")),
            "client {n} missing: {out}"
        );
    }
    assert!(
        out.contains("6 clients, 1800000 bytes echoed over TCP (1800000 by the server)"),
        "{out}"
    );
    assert!(out.contains("UDP \"ping\" answered by 10.0.0.1:7"), "{out}");
    assert!(!err.contains("panicked"), "{err}");
}
