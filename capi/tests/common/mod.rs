//! Shared by the C tests: links libioth.so.0 and its siblings once per build (and builds the
//! kernel plugin),
//! compiles the C programs of `tests/c/` against `ioth-core/include/ioth.h` with the system C
//! compiler, and runs them.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

pub mod abi;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ioth_tests::fixtures::{build_dir, build_libraries, c_libraries};
use ioth_tests::peers::unique_name;

/// How long a C program may run before the test gives up on it (a liveness bound: programs
/// finish in milliseconds; this only turns a hang into a failure).
pub const PROGRAM_PATIENCE: Duration = Duration::from_secs(60);

/// The directory holding the freshly linked C libraries (`libioth.so.0`, `libiothconf.so.0`,
/// `libiothaddr.so.0`, `libiothdns.so.0` and their `.so` links; see
/// `ioth_tests::fixtures::c_libraries`).
pub fn lib_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = c_libraries();
        for f in [
            "libioth.so",
            "libioth.so.0",
            "libiothconf.so.0",
            "libiothaddr.so.0",
            "libiothdns.so.0",
        ] {
            assert!(
                dir.join(f).exists(),
                "{f} was not linked in {}",
                dir.display()
            );
        }
        dir
    })
    .clone()
}

/// The cargo build directory holding `libioth.a` and the kernel plugin `libioth_kernel.so`,
/// freshly built.
pub fn built_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = build_libraries(&["ioth-capi", "ioth-kernel"]);
        for f in ["libioth.a", "libioth_kernel.so"] {
            assert!(
                dir.join(f).is_file(),
                "{f} was not built in {}",
                dir.display()
            );
        }
        dir
    })
    .clone()
}

/// `ioth-core/include`, where `ioth.h` lives.
pub fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("ioth-core")
        .join("include")
}

/// `tests/c/NAME`.
pub fn c_source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("c")
        .join(name)
}

/// A directory of this test process for compiled programs and scratch files (under the
/// target directory).
pub fn work_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = build_dir()
            .join("capi-c-tests")
            .join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
    .clone()
}

/// The system C compiler (`$CC`, else `cc`).
pub fn cc() -> Command {
    Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
}

/// Runs a compiler command, panicking with its diagnostics on failure.
pub fn run_compiler(mut cmd: Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cmd:?} (install gcc): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `tests/c/SOURCE` against ioth.h and the fresh libioth.so.0 (found at run time by
/// rpath) with strict warnings, linked as the original's programs are (`-lioth`, and the
/// siblings a program uses: `-liothconf`, `-liothdns`, `-liothaddr`, kept only when needed);
/// returns the executable.
pub fn compile(source: &str, extra: &[&str]) -> PathBuf {
    let lib = lib_dir();
    let exe = work_dir().join(unique_name(source.trim_end_matches(".c")));
    let mut cmd = cc();
    cmd.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(include_dir())
        .arg(c_source(source))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lioth")
        .args([
            "-Wl,--as-needed",
            "-liothconf",
            "-liothdns",
            "-liothaddr",
            "-Wl,--no-as-needed",
        ])
        .arg("-lpthread")
        .args(extra);
    run_compiler(cmd);
    exe
}

/// Waits for `child` within [`PROGRAM_PATIENCE`]; kills and reaps it and returns None if it
/// hangs.
pub fn wait_or_kill(child: &mut Child) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > PROGRAM_PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` within [`PROGRAM_PATIENCE`], killing it and failing if it hangs.
pub fn wait_patiently(child: &mut Child, what: &str) -> ExitStatus {
    wait_or_kill(child)
        .unwrap_or_else(|| panic!("{what} did not finish within {PROGRAM_PATIENCE:?}"))
}

/// Runs a program to completion and returns its output.
pub fn run(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} ({cmd:?}): {e}"));
    // Drain the pipes while waiting, so a chatty program cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = wait_or_kill(&mut child);
    let stdout = t_out.join().unwrap();
    let stderr = t_err.join().unwrap();
    let Some(status) = status else {
        panic!(
            "{what} did not finish within {PROGRAM_PATIENCE:?}; it printed:\n{}\n--- stderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Asserts that a check program (tests/c/check.h) passed every check and ran each of
/// `expected` (so a check that silently disappeared fails the test).
pub fn assert_checks(out: &Output, expected: &[&str], what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        failed.is_empty() && out.status.success(),
        "{what} failed ({}):\n{}\n--- full output:\n{stdout}\n--- stderr:\n{stderr}",
        out.status,
        failed.join("\n")
    );
    for name in expected {
        assert!(
            stdout.lines().any(|l| l == format!("ok {name}")),
            "{what} did not run check {name:?}:\n{stdout}"
        );
    }
    assert!(
        stdout.lines().any(|l| l == "failures 0"),
        "{what} did not finish its checks:\n{stdout}\n--- stderr:\n{stderr}"
    );
}
