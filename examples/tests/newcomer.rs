//! A newcomer's crate, written from the README's "Use it from your crate" section alone: its
//! `toml` block becomes the crate's dependencies (with `../ioth-rs` pointing at this
//! checkout), its `rust` block `src/main.rs`; the crate must build and print what the README
//! says. A section that no longer works as written fails here.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The checkout's root (this crate is `examples/`).
fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the checkout's root")
        .to_path_buf()
}

/// The fenced blocks of `lang` in the README section headed `heading`.
fn blocks(readme: &str, heading: &str, lang: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has a section {heading:?}"));
    let body = &readme[start + heading.len() + 2..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(tag)) if tag == lang || tag.starts_with(&format!("{lang},")) => {
                current = Some(String::new())
            }
            (None, Some(_)) => current = Some(String::from("\0skip")),
            (Some(text), Some("")) => {
                if !text.starts_with("\0skip") {
                    out.push(std::mem::take(text));
                }
                current = None;
            }
            (Some(text), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[test]
fn a_crate_written_from_the_readme_builds_and_runs() {
    let root = checkout();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let heading = "## Use it from your crate";
    let toml = blocks(&readme, heading, "toml");
    let rust = blocks(&readme, heading, "rust");
    assert_eq!(
        (toml.len(), rust.len()),
        (1, 1),
        "one toml and one rust block"
    );
    let deps = toml[0].replace("../ioth-rs/", &format!("{}/", root.display()));
    assert_ne!(
        deps, toml[0],
        "the dependencies name the checkout as ../ioth-rs"
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let krate = dir.path().join("newcomer");
    std::fs::create_dir_all(krate.join("src")).expect("src/");
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"newcomer\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [workspace]\n\n{deps}"
        ),
    )
    .expect("Cargo.toml");
    std::fs::write(krate.join("src/main.rs"), &rust[0]).expect("main.rs");
    // The README's first example, as written: its connect to a silent address must end
    // (EHOSTUNREACH after about 3 s), so the program returns.
    let first = blocks(&readme, "## What it is", "rust");
    std::fs::create_dir_all(krate.join("src/bin")).expect("src/bin/");
    std::fs::write(krate.join("src/bin/what_it_is.rs"), &first[0]).expect("what_it_is.rs");
    // The workspace's versions, so that the build needs nothing it has not fetched.
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).expect("Cargo.lock");

    // Kept between runs beside this test's own target directory: only the first run builds
    // the dependencies.
    let exe = std::env::current_exe().expect("test executable");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the target directory")
        .join("newcomer");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "--offline", "--quiet", "--bin", "newcomer"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", &target)
        // A second build of the whole dependency graph: without debug information and
        // incremental state it takes a fraction of the disk (CI machines have little).
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's crate builds and runs: {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("server: echoed 4 bytes to 10.1.0.2:") && stdout.contains("client: ciao"),
        "prints the two lines: {stdout}"
    );

    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["run", "--offline", "--quiet", "--bin", "what_it_is"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", &target)
        // A second build of the whole dependency graph: without debug information and
        // incremental state it takes a fraction of the disk (CI machines have little).
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "the README's first example runs as written and ends: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
