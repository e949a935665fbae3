//! Runs the programs the crate documentation shows (`tests/doc/*.rs`, included there as
//! `no_run` doctests). They run here rather than as doctests: in a `cargo test --workspace`
//! run the doctests come after the test binaries, by when the plugin fixtures of
//! `ioth-tests` have rebuilt this cdylib package's rlib (whose file name has no hash) with
//! another feature set, and a doctest linking it gets two builds of `ioth` ("duplicate
//! #[distributed_slice] with name LINKED_BACKENDS"). A test binary is linked before any test
//! runs, so it always has one.

mod hub_echo {
    include!("doc/hub_echo.rs");

    pub(super) fn run() -> std::io::Result<()> {
        main()
    }
}

mod configure {
    include!("doc/configure.rs");

    pub(super) fn run() -> Result<(), Box<dyn std::error::Error>> {
        main()
    }
}

#[test]
fn hub_echo_example_runs() {
    hub_echo::run().expect("the crate docs' TCP echo");
}

#[test]
fn configure_example_runs() {
    configure::run().expect("SmoltcpBackend's configuration example");
}
