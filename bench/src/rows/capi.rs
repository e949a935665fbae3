//! `capi_sendto`: 64-byte datagrams per second through the C API (`ioth_sendto` in
//! `libioth.so.0`, called by a C program built here against `ioth.h`) against the Rust API
//! (`ioth::net::UdpSocket::send_to`), each between two smoltcp stacks on an in-process hub.
//!
//! Not literally "the same stack": `libioth.so.0` carries its own copy of `ioth` (its own
//! descriptor table) and reaches smoltcp through the plugin `ioth_smoltcp.so`, so a stack made
//! in this process cannot be driven through it. Both sides run the same scenario on the same
//! backend code; the difference is the C boundary, libioth's descriptor lookup and the plugin
//! ABI.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::Ctx;
use crate::fixture::unique;
use crate::peers::{ChildGuard, TempDir, expect_line, have};
use crate::report::{Better, Row, Samples, num};

const SOURCE: &str = include_str!("../../c/capi_sendto.c");

/// The workspace root (this crate's parent directory, as built).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Builds `libioth.a` and the smoltcp plugin in the profile directory this program runs
/// from, and links `libioth.so.0` from the archive (ioth-clink, cached in
/// `PROFILE/ioth-clink/`); returns (the profile directory, the directory of libioth.so.0).
fn build_libraries() -> io::Result<(PathBuf, PathBuf)> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .ok_or_else(|| io::Error::other("no directory for the executable"))?
        .to_path_buf();
    let target = profile_dir
        .parent()
        .ok_or_else(|| io::Error::other("no target directory"))?;
    let profile = profile_dir
        .file_name()
        .and_then(|p| p.to_str())
        .unwrap_or("release")
        .to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "--lib",
        "-p",
        "ioth-capi",
        "-p",
        "ioth-smoltcp",
    ]);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    cmd.arg("--target-dir").arg(target).current_dir(workspace());
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "building libioth.a failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    for lib in ["libioth.a", "libioth_smoltcp.so"] {
        if !profile_dir.join(lib).is_file() {
            return Err(io::Error::other(format!("{lib} was not built")));
        }
    }
    let linked = ioth_clink::link_cached(
        &profile_dir.join("libioth.a"),
        &profile_dir.join("ioth-clink"),
    )
    .map_err(io::Error::other)?;
    Ok((profile_dir, linked))
}

/// Compiles the C program; returns (program, plugin dir).
fn prepare(dir: &TempDir) -> io::Result<(PathBuf, PathBuf)> {
    let (built, libdir) = build_libraries()?;
    let plugins = dir.0.join("plugins");
    std::fs::create_dir(&plugins)?;
    std::os::unix::fs::symlink(
        built.join("libioth_smoltcp.so"),
        plugins.join("ioth_smoltcp-r.so"),
    )?;
    let src = dir.0.join("capi_sendto.c");
    std::fs::write(&src, SOURCE)?;
    let exe = dir.0.join("capi_sendto");
    let include = workspace().join("ioth-core/include");
    let out = Command::new("cc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg(format!("-I{}", include.display()))
        .arg(format!("-L{}", libdir.display()))
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .args(["-lioth", "-lpthread"])
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "cc failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok((exe, plugins))
}

/// One run of the C program: (sendto/s, received/s).
fn c_run(exe: &Path, plugins: &Path, secs: f64) -> io::Result<(f64, f64)> {
    let mut cmd = Command::new(exe);
    cmd.arg(secs.to_string())
        .arg(format!("hub://@{}", unique("capi")))
        .env("IOTH_PLUGIN_PATH", plugins);
    let mut child = ChildGuard::spawn(cmd, "capi_sendto")?;
    let mut lines = child.lines()?;
    let parse = |v: String| -> io::Result<f64> {
        v.parse()
            .map_err(|_| io::Error::other(format!("bad figure {v:?}")))
    };
    let sent = parse(expect_line(&mut lines, "sendto_pps ")?)?;
    let got = parse(expect_line(&mut lines, "recv_pps ")?)?;
    child.finish(Duration::from_secs(10))?;
    Ok((sent, got))
}

pub(crate) fn run(ctx: &Ctx) -> Vec<Row> {
    const NAME: &str = "capi_sendto";
    const UNIT: &str = "datagrams/s";
    if !have("cc") {
        return vec![Row::skipped(NAME, UNIT, "no C compiler (cc)")];
    }
    let dir = match TempDir::new("capi") {
        Ok(d) => d,
        Err(e) => return vec![Row::skipped(NAME, UNIT, format!("temp dir: {e}"))],
    };
    let (exe, plugins) = match prepare(&dir) {
        Ok(v) => v,
        Err(e) => return vec![Row::skipped(NAME, UNIT, e.to_string())],
    };
    let (mut c, mut rust, mut c_rx, mut rust_rx) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    let mut errors = Vec::new();
    for _ in 0..ctx.repeats {
        match c_run(&exe, &plugins, ctx.secs) {
            Ok((s, r)) => {
                c.0.push(s);
                c_rx.0.push(r);
            }
            Err(e) => errors.push(format!("C: {e}")),
        }
        match super::udp::our_pair(9)
            .and_then(|(a, b, to, _pair)| super::udp::one_way(a, b, to, ctx.secs))
        {
            Ok((r, s)) => {
                rust.0.push(s);
                rust_rx.0.push(r);
            }
            Err(e) => errors.push(format!("Rust: {e}")),
        }
    }
    let mut note = format!(
        "sendto calls completed per second, 64-byte datagrams, smoltcp stacks on hub://@; ours = C API (C program → libioth.so → plugin ioth_smoltcp.so), reference = Rust API (linked backend); received/s: C {}, Rust {}",
        num(c_rx.median()),
        num(rust_rx.median())
    );
    if !errors.is_empty() {
        note.push_str(&format!("; errors: {}", errors.join(", ")));
    }
    vec![Row::new(NAME, UNIT, Better::Higher, c, rust, note)]
}
