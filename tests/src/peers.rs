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
    /// Creates a namespace with a unique name (and first removes namespaces that earlier test
    /// processes made and could not remove because they were killed).
    pub fn new() -> NetNs {
        reap_stale_namespaces();
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

/// Deletes namespaces named by [`unique_name`]`("ioth")` whose creating process is gone.
fn reap_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("ioth")
            .and_then(|r| r.split_once('x'))
            .and_then(|(p, n)| n.parse::<u64>().ok().and(p.parse::<u32>().ok()))
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip")
                .args(["netns", "del", &name])
                .stderr(Stdio::null())
                .status();
        }
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

/// A real `vde_switch` (hub mode, `-x`) in a temporary directory, stopped on drop.
pub struct VdeSwitch {
    dir: tempfile::TempDir,
    _peer: Peer,
}

impl VdeSwitch {
    /// Starts `vde_switch -x -s DIR/sw` and waits for its control socket. `None` (after a loud
    /// message) when vde_switch is not installed and CI is not set.
    pub fn start() -> Option<VdeSwitch> {
        if !require_tool("vde_switch", "a test with a real vde_switch") {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let peer = Self::spawn_at(&dir.path().join("sw"));
        Some(VdeSwitch { dir, _peer: peer })
    }

    fn spawn_at(sw: &Path) -> Peer {
        let mut cmd = Command::new("vde_switch");
        // In the foreground it reads commands on stdin and exits at EOF: hold a pipe open.
        cmd.args(["-x", "-s"])
            .arg(sw)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let peer = Peer::spawn(cmd, "vde_switch");
        // Its control socket answers (a killed predecessor's file may already be there).
        let ctl = sw.join("ctl");
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(&ctl).is_ok() {
                return peer;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!(
            "vde_switch's control socket {} does not answer",
            ctl.display()
        );
    }

    /// Starts a new switch at the same path (after [`VdeSwitch::kill`]).
    pub fn restart(&mut self) {
        self._peer = Self::spawn_at(&self.dir.path().join("sw"));
    }

    /// The switch's VNL, `vde:///DIR/sw`.
    pub fn vnl(&self) -> String {
        format!("vde://{}", self.dir.path().join("sw").display())
    }

    /// The temporary directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the switch with SIGKILL (as a crash would) and reaps it; its files stay.
    pub fn kill(&mut self) {
        let child = self._peer.child();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Waits (bounded) until `path` exists.
pub fn wait_for(path: &Path, what: &str) {
    for _ in 0..500 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{what} ({}) did not appear", path.display());
}

/// The kernel on a TAP (`tap0`) in a namespace of its own, joined to a VDE network by
/// `vde_plug`, with the addresses given. Everything is removed on drop.
pub struct KernelOnTap {
    _plug: Peer,
    ns: NetNs,
}

impl KernelOnTap {
    /// Joins a new namespace's `tap0` to `vnl` and configures it (`10.x.y.z/24`, `fc00::x/64`
    /// style addresses with their prefix). `None` when tools or privileges are missing (and
    /// CI is not set).
    pub fn join(vnl: &str, addrs: &[&str]) -> Option<KernelOnTap> {
        if !require_netns("a test with the kernel on a TAP")
            || !require_tool("vde_plug", "a TAP test")
        {
            return None;
        }
        let ns = NetNs::new();
        let mut cmd = ns.command("vde_plug");
        cmd.arg(vnl)
            .arg("tap://tap0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let plug = Peer::spawn(cmd, "vde_plug");
        for i in 0.. {
            let out = Command::new("ip")
                .args(["netns", "exec", ns.name(), "ip", "link", "show", "tap0"])
                .output()
                .expect("ip");
            if out.status.success() {
                break;
            }
            assert!(i < 500, "vde_plug did not create tap0");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        ns.exec(&["ip", "link", "set", "tap0", "up"]);
        for a in addrs {
            let mut argv = vec!["ip"];
            if a.contains(':') {
                argv.push("-6");
            }
            argv.extend(["addr", "add", a, "dev", "tap0"]);
            if a.contains(':') {
                argv.push("nodad");
            }
            ns.exec(&argv);
        }
        Some(KernelOnTap { _plug: plug, ns })
    }

    /// The namespace.
    pub fn ns(&self) -> &NetNs {
        &self.ns
    }
}

/// dnsmasq in `kernel`'s namespace serving its `tap0` only, in the foreground (a child reaped
/// on drop), with no configuration file: `args` say what it serves (`--port=0` turns DNS off).
/// Leases, pid file and log (`dnsmasq.log`, DHCP and queries as asked) live in `dir`.
pub fn dnsmasq_on_tap(kernel: &KernelOnTap, dir: &Path, args: &[&str]) -> Peer {
    let log = std::fs::File::create(dir.join("dnsmasq.log")).expect("dnsmasq log file");
    let mut cmd = kernel.ns().command("dnsmasq");
    cmd.args([
        "--no-daemon",
        "--conf-file=/dev/null",
        "--interface=tap0",
        "--bind-interfaces",
        "--user=root",
        "--group=root",
        "--log-facility=-",
    ])
    .args(args)
    .arg(format!("--dhcp-leasefile={}", dir.join("leases").display()))
    .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(log);
    Peer::spawn(cmd, "dnsmasq")
}
