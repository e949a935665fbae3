//! Running an example binary from an integration test of the examples crate.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The built example `name` (`target/<profile>/examples/NAME`, next to the test's own binary).
pub fn program(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join("examples")
        .join(name)
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
