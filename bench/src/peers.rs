//! Real peers made and removed by the benchmark itself: network namespaces, child processes
//! (vde_switch, vde_plug, our own helper mode), temporary directories. Every one is a guard
//! whose Drop undoes it, so a failed row leaves nothing behind.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::fixture::{unique, wait_until};

/// Whether `tool` is an executable on PATH.
pub(crate) fn have(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            let f = d.join(tool);
            std::fs::metadata(&f).is_ok_and(|m| m.is_file())
        })
    })
}

/// Whether this process runs as root (namespaces and TAPs need it).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Why the real-peer rows cannot run here, if they cannot.
pub(crate) fn missing(tools: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("needs root (network namespaces, TAP devices)".into());
    }
    let gone: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if !gone.is_empty() {
        return Some(format!(
            "missing tools: {} (Debian: vde-switch, vdeplug, iproute2)",
            gone.join(", ")
        ));
    }
    None
}

fn run_quiet(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A temporary directory, removed with everything in it.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> io::Result<TempDir> {
        let p = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed and reaped on drop.
pub(crate) struct ChildGuard {
    pub child: Child,
    what: String,
}

impl ChildGuard {
    /// Starts `cmd` with stdin piped (held open for the child's life) and stdout piped.
    pub(crate) fn spawn(mut cmd: Command, what: &str) -> io::Result<ChildGuard> {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::other(format!("cannot start {what}: {e}")))?;
        Ok(ChildGuard {
            child,
            what: what.into(),
        })
    }

    /// The child's stdout as lines (taken once).
    pub(crate) fn lines(&mut self) -> io::Result<io::Lines<BufReader<ChildStdout>>> {
        let out = self
            .child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other(format!("{}: stdout already taken", self.what)))?;
        Ok(BufReader::new(out).lines())
    }

    /// Closes the child's stdin (helpers that watch it take that as "stop").
    pub(crate) fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Waits for the child to exit on its own within `limit`, else kills it.
    pub(crate) fn finish(&mut self, limit: Duration) -> io::Result<()> {
        let done = wait_until(limit, || matches!(self.child.try_wait(), Ok(Some(_))));
        if !done {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Err(io::Error::other(format!("{} did not finish", self.what)));
        }
        Ok(())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads lines until one starts with `prefix`; returns the rest of it.
pub(crate) fn expect_line(
    lines: &mut io::Lines<BufReader<ChildStdout>>,
    prefix: &str,
) -> io::Result<String> {
    for l in lines.by_ref() {
        let l = l?;
        if let Some(rest) = l.strip_prefix(prefix) {
            return Ok(rest.trim().to_owned());
        }
    }
    Err(io::Error::other(format!(
        "peer ended without printing {prefix:?}"
    )))
}

/// A network namespace made by the benchmark (`ip netns add`), with `lo` up; deleted on drop.
pub(crate) struct Netns {
    pub name: String,
}

impl Netns {
    pub(crate) fn new() -> io::Result<Netns> {
        let name = unique("ns");
        run_quiet(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns { name };
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Runs a command inside the namespace and waits for it.
    pub(crate) fn exec(&self, argv: &[&str]) -> io::Result<()> {
        run_quiet(
            Command::new("ip")
                .args(["netns", "exec", &self.name])
                .args(argv),
        )
    }

    /// A command that will run inside the namespace.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run_quiet(Command::new("ip").args(["netns", "del", &self.name]));
    }
}

/// A real `vde_switch -x` (hub mode) in a temporary directory.
pub(crate) struct VdeSwitch {
    pub dir: PathBuf,
    _child: ChildGuard,
}

impl VdeSwitch {
    /// Starts the switch at `dir` (which must not exist) and waits for its ctl socket.
    pub(crate) fn start(dir: &Path) -> io::Result<VdeSwitch> {
        let mut cmd = Command::new("vde_switch");
        cmd.args(["-x", "-s"]).arg(dir);
        let child = ChildGuard::spawn(cmd, "vde_switch")?;
        if !wait_until(Duration::from_secs(5), || dir.join("ctl").exists()) {
            return Err(io::Error::other("vde_switch did not create its ctl socket"));
        }
        Ok(VdeSwitch {
            dir: dir.to_owned(),
            _child: child,
        })
    }

    /// The VNL of this switch.
    pub(crate) fn vnl(&self) -> String {
        format!("vde://{}", self.dir.display())
    }
}

/// A kernel interface on a switch: `vde_plug VNL tap://TAP` inside a namespace, the TAP up
/// with an address. The plug process goes on drop (and the TAP with it).
pub(crate) struct TapPlug {
    _plug: ChildGuard,
}

impl TapPlug {
    pub(crate) fn start(ns: &Netns, vnl: &str, tap: &str, cidr: &str) -> io::Result<TapPlug> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.name, "vde_plug", vnl])
            .arg(format!("tap://{tap}"));
        let plug = ChildGuard::spawn(cmd, "vde_plug")?;
        let ok = wait_until(Duration::from_secs(5), || {
            ns.exec(&["ip", "link", "show", tap]).is_ok()
        });
        if !ok {
            return Err(io::Error::other(format!("vde_plug did not create {tap}")));
        }
        ns.exec(&["ip", "link", "set", tap, "mtu", "1500", "up"])?;
        ns.exec(&["ip", "addr", "add", cidr, "dev", tap])?;
        Ok(TapPlug { _plug: plug })
    }
}

/// This program, for re-executing itself as a helper.
pub(crate) fn self_exe() -> io::Result<PathBuf> {
    std::env::current_exe()
}
