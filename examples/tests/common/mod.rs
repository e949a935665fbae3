//! Running an example binary from an integration test of the examples crate.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The built example `name` (`target/<profile>/examples/NAME`, next to the test's own binary).
/// `cargo test -p ioth-examples` builds every example first; a test run alone
/// (`--test NAME`) does not, so a missing one is built here, once per test binary.
pub fn program(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        BUILT.get_or_init(build_examples);
    }
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// `cargo build --examples` of this package, beside this test binary.
fn build_examples() {
    let mut cmd =
        ioth_tests::fixtures::cargo_build_like_this_test(&["--examples", "-p", "ioth-examples"]);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "building the examples failed: {cmd:?}");
}

/// Runs example `name` with `args` and no input: its exit code, stdout and stderr.
pub fn run(name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(program(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
