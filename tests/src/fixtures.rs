//! Fixtures: a pair of stacks that can reach each other, for each backend.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ioth::Stack;

/// Two stacks that reach each other, and the addresses the suite uses.
pub trait Fixture {
    /// The backend under test, for messages.
    fn name(&self) -> String;
    /// The stack servers run on.
    fn server(&self) -> Stack;
    /// The stack clients run on (may be the server's).
    fn client(&self) -> Stack;
    /// An address of the server stack, reachable from the client stack.
    fn server_ip(&self) -> IpAddr;
    /// An address of the client stack.
    fn client_ip(&self) -> IpAddr;
    /// An address that no interface of either stack has (never sent to).
    fn foreign_ip(&self) -> IpAddr {
        // TEST-NET-1 (RFC 5737): bound to, never reached.
        IpAddr::from([192, 0, 2, 1])
    }
    /// A second IPv4 address of the server stack, on the interface of `server_ip`.
    fn second_server_ip(&self) -> IpAddr;
    /// An IPv6 address of the server stack, reachable from the client stack.
    fn server_ip6(&self) -> IpAddr;
    /// An IPv6 address of the client stack.
    fn client_ip6(&self) -> IpAddr;
}

/// Both sides on one stack over its loopback: the kernel, or any stack with `lo`.
pub struct Loopback {
    stack: Stack,
}

impl Loopback {
    /// A loopback fixture on `stack`.
    pub fn new(stack: Stack) -> Loopback {
        Loopback { stack }
    }
}

impl Fixture for Loopback {
    fn name(&self) -> String {
        format!("{} over loopback", self.stack.implementation())
    }
    fn server(&self) -> Stack {
        self.stack.clone()
    }
    fn client(&self) -> Stack {
        self.stack.clone()
    }
    fn server_ip(&self) -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }
    fn client_ip(&self) -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }
    fn second_server_ip(&self) -> IpAddr {
        // The kernel's lo holds 127.0.0.0/8; a user-space stack's lo gets it configured.
        IpAddr::from([127, 0, 0, 2])
    }
    fn server_ip6(&self) -> IpAddr {
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
    }
    fn client_ip6(&self) -> IpAddr {
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
    }
}

/// The kernel backend linked into the test program.
pub fn kernel_linked() -> Loopback {
    // Naming the crate keeps it linked, so the facade finds "kernel" in its registry.
    let _ = ioth_kernel::NAME;
    Loopback::new(Stack::new("kernel", &[]).expect("kernel stack"))
}

/// The target directory this test binary was built in (`target/debug`).
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/<test binary>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The workspace packages whose `cdylib` is a stack plugin.
pub const PLUGIN_PACKAGES: &[&str] = &["ioth-kernel", "ioth-smoltcp"];

/// Builds the shared objects (cdylib/staticlib) of `packages`, with the profile and target
/// directory of this test binary, and returns that directory. `cargo test` builds only the
/// rlib of a dependency, so without this a test would load a stale or missing `.so`.
pub fn build_libraries(packages: &[&str]) -> PathBuf {
    let build = build_dir();
    let mut args = vec!["--lib"];
    for p in packages {
        args.extend(["-p", p]);
    }
    let mut cmd = cargo_build_like_this_test(&args);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "building {packages:?} failed: {cmd:?}");
    build
}

/// `cargo build --quiet ARGS` into the target directory and profile this test binary was
/// built with (so that what it builds sits beside the test's own artefacts), from the
/// workspace.
pub fn cargo_build_like_this_test(args: &[&str]) -> Command {
    let build = build_dir();
    let profile = build
        .file_name()
        .and_then(|p| p.to_str())
        .unwrap_or("debug");
    let target_dir = build.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet"]).args(args);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    cmd.arg("--target-dir").arg(target_dir);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// The C libraries linked from capi's freshly built `libioth.a` by `ioth-clink`:
/// `libioth.so.0` (with `libioth.so`), `libiothconf.so.0`, `libiothaddr.so.0`,
/// `libiothdns.so.0`, in `<target>/<profile>/ioth-clink/<build key>/`. The link is cached
/// per build key (the archive's size and time, the tools, the recipe), so the many C test
/// programs of all test processes share one link; the directory of an older key is removed
/// when a new one is linked. Builds `ioth-capi` first.
pub fn c_libraries() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let build = build_libraries(&["ioth-capi"]);
        let archive = build.join("libioth.a");
        ioth_clink::link_cached(&archive, &build.join("ioth-clink"))
            .unwrap_or_else(|e| panic!("linking the C libraries from {}: {e}", archive.display()))
    })
    .clone()
}

/// A directory holding `ioth_<name>.so` links to the workspace's plugin builds
/// (`libioth_<name>.so`), as an install would name them. Builds them first.
pub fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let build = build_libraries(PLUGIN_PACKAGES);
        let dir = build.join("ioth-plugins");
        std::fs::create_dir_all(&dir).expect("plugin dir");
        for p in PLUGIN_PACKAGES {
            let name = p.trim_start_matches("ioth-");
            let so = build.join(format!("libioth_{name}.so"));
            assert!(so.is_file(), "{} was not built", so.display());
            let link = dir.join(format!("ioth_{name}.so"));
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&so, &link)
                .unwrap_or_else(|e| panic!("linking {}: {e}", link.display()));
        }
        dir
    })
    .clone()
}

/// The kernel backend loaded from its plugin `ioth_kernel.so`, built by this workspace.
pub fn kernel_plugin() -> Loopback {
    let dir = plugin_dir();
    let backend =
        ioth::plugin::load_from("kernel", std::slice::from_ref(&dir)).unwrap_or_else(|e| {
            panic!(
                "loading ioth_kernel.so from {}: {e} (is libioth_kernel.so built in {}?)",
                dir.display(),
                build_dir().display()
            )
        });
    Loopback::new(Stack::with_backend(backend.as_ref(), &[], "").expect("plugin kernel stack"))
}

/// The source of a plugin written in C to libioth's ABI, which maps every call to libc (as
/// libioth's own kernel plugin does) and declares the licence given at build time.
pub const C_PLUGIN_SOURCE: &str = include_str!("../c/ioth_ctest.c");

/// Builds the C plugin `ioth_<name>.so` into `dir` with the system C compiler, declaring
/// `license` (or none). Panics with the compiler's output on failure.
pub fn build_c_plugin(dir: &Path, name: &str, license: Option<&str>) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, C_PLUGIN_SOURCE.replace("ctest", name)).expect("write plugin source");
    let out = dir.join(format!("ioth_{name}.so"));
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cc.args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&src);
    if let Some(l) = license {
        cc.arg(format!("-DPLUGIN_LICENSE=\"SPDX-License-Identifier: {l}\""));
    }
    let output = cc.output().unwrap_or_else(|e| {
        panic!("cannot run the C compiler (install gcc): {e}");
    });
    assert!(
        output.status.success(),
        "building the C plugin failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The C plugin (no licence) built once per test process, loaded as a backend.
pub fn c_plugin() -> Loopback {
    // Built once per test process, into the build directory (not /tmp: nothing removes it).
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = build_dir().join(format!("ioth-cplugin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("C plugin dir");
        build_c_plugin(&dir, "ctest", None);
        dir
    });
    let backend =
        ioth::plugin::load_from("ctest", std::slice::from_ref(dir)).expect("load C plugin");
    Loopback::new(Stack::with_backend(backend.as_ref(), &[], "").expect("C plugin stack"))
}

/// Two stacks of one backend on an embedded hub, configured through rtnetlink on each stack:
/// `vde0` up with 10.77.0.1/24 (server) and 10.77.0.2/24 (client).
pub struct HubPair {
    server: Stack,
    client: Stack,
}

/// A unique in-process hub VNL.
pub fn unique_hub() -> String {
    format!("hub://@{}", crate::peers::unique_name("hub"))
}

/// A smoltcp stack (linked into the program) on `vnl` with `vde0` up and, if given,
/// `ip/24` on it.
pub fn smoltcp_on(vnl: &str, ip: Option<[u8; 4]>) -> Stack {
    smoltcp_on_with("", vnl, ip)
}

/// [`smoltcp_on`] with a stack made with `options` (e.g. `"tcp=smoltcp"`: smoltcp's TCP).
pub fn smoltcp_on_with(options: &str, vnl: &str, ip: Option<[u8; 4]>) -> Stack {
    let _ = ioth_smoltcp::NAME;
    let stack = Stack::new(&smoltcp_implementation(options), &[vnl]).expect("smoltcp stack");
    let idx = stack.if_nametoindex("vde0").expect("vde0 exists");
    stack.link_set_up(idx, true).expect("link up");
    if let Some(ip) = ip {
        stack
            .ipaddr_add(IpAddr::from(ip), 24, idx)
            .expect("address added");
    }
    stack
}

/// Configures `vde0` of `stack` up with `addr/24`.
pub fn configure_vde0(stack: &Stack, addr: [u8; 4]) {
    let idx = stack.if_nametoindex("vde0").expect("vde0 exists");
    stack.link_set_up(idx, true).expect("link up");
    stack
        .ipaddr_add(IpAddr::from(addr), 24, idx)
        .expect("address added");
}

/// Adds `addr/prefix` to interface `vde0` of `stack`.
fn add_to_vde0(stack: &Stack, addr: IpAddr, prefix: u8) {
    let idx = stack.if_nametoindex("vde0").expect("vde0 exists");
    stack.ipaddr_add(addr, prefix, idx).expect("address added");
}

impl HubPair {
    /// Two stacks made by `make(vnl)` on a fresh hub: `vde0` of the server holds
    /// 10.77.0.1/24, 10.77.0.3/24 and fd00:77::1/64, the client's 10.77.0.2/24 and
    /// fd00:77::2/64.
    pub fn new(make: impl Fn(&str) -> Stack) -> HubPair {
        let hub = unique_hub();
        let server = make(&hub);
        let client = make(&hub);
        configure_vde0(&server, [10, 77, 0, 1]);
        configure_vde0(&client, [10, 77, 0, 2]);
        add_to_vde0(&server, IpAddr::from([10, 77, 0, 3]), 24);
        add_to_vde0(&server, "fd00:77::1".parse().expect("literal"), 64);
        add_to_vde0(&client, "fd00:77::2".parse().expect("literal"), 64);
        HubPair { server, client }
    }
}

impl Fixture for HubPair {
    fn name(&self) -> String {
        format!("two {} stacks on a hub", self.server.implementation())
    }
    fn server(&self) -> Stack {
        self.server.clone()
    }
    fn client(&self) -> Stack {
        self.client.clone()
    }
    fn server_ip(&self) -> IpAddr {
        IpAddr::from([10, 77, 0, 1])
    }
    fn client_ip(&self) -> IpAddr {
        IpAddr::from([10, 77, 0, 2])
    }
    fn second_server_ip(&self) -> IpAddr {
        IpAddr::from([10, 77, 0, 3])
    }
    fn server_ip6(&self) -> IpAddr {
        "fd00:77::1".parse().expect("literal")
    }
    fn client_ip6(&self) -> IpAddr {
        "fd00:77::2".parse().expect("literal")
    }
}

/// Two smoltcp stacks (linked into the program) on an embedded hub.
pub fn smoltcp_pair() -> HubPair {
    smoltcp_pair_with("")
}

/// Two smoltcp stacks made with `options` (e.g. `"tcp=ioth"`: our TCP engine) on an
/// embedded hub.
pub fn smoltcp_pair_with(options: &str) -> HubPair {
    let _ = ioth_smoltcp::NAME;
    let implementation = smoltcp_implementation(options);
    HubPair::new(|hub| Stack::new(&implementation, &[hub]).expect("smoltcp stack"))
}

/// `smoltcp` with `options` after a comma, as `Stack::new` takes them.
fn smoltcp_implementation(options: &str) -> String {
    if options.is_empty() {
        "smoltcp".to_owned()
    } else {
        format!("smoltcp,{options}")
    }
}

/// One smoltcp stack talking to itself over `lo`, which also holds 127.0.0.2/8 (as the
/// kernel's lo answers all of 127.0.0.0/8).
pub fn smoltcp_loopback() -> Loopback {
    smoltcp_loopback_with("")
}

/// [`smoltcp_loopback`] with a stack made with `options` (e.g. `"tcp=ioth"`).
pub fn smoltcp_loopback_with(options: &str) -> Loopback {
    let _ = ioth_smoltcp::NAME;
    let stack = Stack::new(&smoltcp_implementation(options), &[]).expect("smoltcp stack");
    stack
        .ipaddr_add(IpAddr::from([127, 0, 0, 2]), 8, 1)
        .expect("127.0.0.2 added to lo");
    Loopback::new(stack)
}

/// Two smoltcp stacks loaded from the plugin `ioth_smoltcp.so` on an embedded hub.
pub fn smoltcp_plugin_pair() -> HubPair {
    let dir = plugin_dir();
    let backend = ioth::plugin::load_from("smoltcp", std::slice::from_ref(&dir))
        .unwrap_or_else(|e| panic!("loading ioth_smoltcp.so from {}: {e}", dir.display()));
    HubPair::new(|hub| {
        Stack::with_backend(backend.as_ref(), &[hub], "").expect("plugin smoltcp stack")
    })
}
