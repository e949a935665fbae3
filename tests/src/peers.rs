//! Real peers for tests: tools that must be installed, network namespaces the test makes and
//! removes, and child processes that are always reaped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether the environment says this is CI, where a missing tool is a failure.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether `tool` is on the PATH. When it is not, says so loudly; under `CI=true` panics.
pub fn require_tool(tool: &str, why: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(tool))));
    if !found {
        let msg = format!("MISSING TOOL: {tool} is not installed; {why} cannot run");
        assert!(!under_ci(), "{msg} (CI=true makes this a failure)");
        eprintln!("\n!!!!!!!! {msg}: SKIPPED !!!!!!!!\n");
    }
    found
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether this process may create network namespaces (root, or CAP_SYS_ADMIN). When it may
/// not, says so loudly; under `CI=true` panics.
pub fn require_netns(why: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !require_tool("ip", why) {
        let msg = format!("NO PRIVILEGE: creating network namespaces needs root; {why} cannot run");
        assert!(!under_ci(), "{msg} (CI=true makes this a failure)");
        eprintln!("\n!!!!!!!! {msg}: SKIPPED !!!!!!!!\n");
        return false;
    }
    true
}

/// A unique short name for a namespace, interface or path of this process.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command, panicking with its output if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace made by the test (`ip netns add`), with `lo` up; deleted on drop.
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a namespace with a unique name.
    pub fn new() -> NetNs {
        let name = unique_name("ioth");
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = NetNs { name };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the namespace and returns its output; panics if it fails.
    pub fn exec(&self, argv: &[&str]) -> String {
        run(Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv))
    }

    /// A command that will run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Default for NetNs {
    fn default() -> Self {
        NetNs::new()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A child process that is killed and reaped when dropped.
pub struct Peer {
    child: Option<Child>,
    what: String,
}

impl Peer {
    /// Starts `cmd` as a child (stdin null unless the caller set it).
    pub fn spawn(mut cmd: Command, what: &str) -> Peer {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({cmd:?}): {e}"));
        Peer {
            child: Some(child),
            what: what.to_owned(),
        }
    }

    /// The child process.
    pub fn child(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("the child is reaped only by wait or drop")
    }

    /// Waits for the child to exit by itself and returns its exit status.
    pub fn wait(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("not yet reaped");
        child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.what))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
