//! `cargo xtask install` end to end: the installed prefix has libioth, ioth.h, ioth.pc and the
//! plugins; `pkg-config` finds it; the classic program builds from a clean directory against
//! the installed header alone; programs run with the prefix on their library path, and the
//! installed libioth searches the prefix's plugin directory. libiothdns: `-liothdns` and
//! `pkg-config iothdns` link a program against libioth, and a binary linked the original's
//! way (needing `libiothdns.so.0`) runs on the installed prefix. Every library is installed
//! as `libNAME.so -> libNAME.so.0 -> libNAME.so.0.1.0` with its `.pc` file and exports the
//! original's symbols; `-lioth -liothconf` and `-liothaddr` programs build from a clean
//! directory through pkg-config and run. Plugins are `ioth_NAME-r.so` with the `_n` link.
//! The service programs are in `bin/` and answer `--help`.
//!
//! The install builds in its own target directory (`<target>/xtask-install`, debug profile)
//! and to a fixed prefix under it, so that `IOTH_LIBDIR` never changes between runs: the
//! first run builds the workspace libraries once (about 45 s on two cores), later runs only
//! rebuild what changed. Building into the test's own target directory instead would change
//! `IOTH_LIBDIR` under the other tests' libioth.so.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_checks, c_source, run};
use ioth_tests::fixtures::{build_c_plugin, build_dir};
use ioth_tests::peers::{require_tool, unique_name};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `cargo xtask install --prefix PREFIX --debug` in its own target directory.
fn install() -> PathBuf {
    let target = build_dir().parent().unwrap().join("xtask-install");
    let prefix = target.join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "--quiet", "-p", "xtask", "--", "install", "--prefix"])
        .arg(&prefix)
        .arg("--debug")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xtask install failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    prefix.canonicalize().unwrap()
}

/// The section headers `readelf -S` lists for `file` (every member's, for an archive).
fn sections_of(file: &Path) -> String {
    let out = Command::new("readelf")
        .arg("-SW")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("readelf {}: {e}", file.display()));
    assert!(out.status.success(), "readelf -S {}", file.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`sections_of`] an installed file, which must exist.
fn sections(file: &Path) -> String {
    assert!(file.is_file(), "{} is installed", file.display());
    sections_of(file)
}

fn pkg_config(prefix: &Path, args: &[&str]) -> String {
    pkg_config_of(prefix, "ioth", args)
}

fn pkg_config_of(prefix: &Path, package: &str, args: &[&str]) -> String {
    let out = Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", prefix.join("lib").join("pkgconfig"))
        .args(args)
        .arg(package)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pkg-config {args:?} {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Compiles `sources` (copied into `dir`) in `dir` with `cc FILES $(pkg-config --cflags --libs
/// ioth)`, as a user would.
fn build_in(dir: &Path, prefix: &Path, sources: &[&str], main: &str, exe: &str) {
    for s in sources {
        std::fs::copy(c_source(s), dir.join(s)).unwrap();
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new("sh")
        .current_dir(dir)
        .env("PKG_CONFIG_PATH", prefix.join("lib").join("pkgconfig"))
        .arg("-c")
        .arg(format!(
            "{cc} -Wall -Werror {main} $(pkg-config --cflags --libs ioth) -o {exe}"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building {main} from a clean directory failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn installed_prefix_builds_and_runs_c_programs() {
    if !require_tool("pkg-config", "the install test") {
        return;
    }
    let prefix = install();
    for f in [
        "lib/libioth.a",
        "lib/pkgconfig/ioth.pc",
        "lib/ioth/ioth_kernel-r.so",
        "lib/ioth/ioth_smoltcp-r.so",
        "include/ioth.h",
        "include/iothconf.h",
        "include/iothaddr.h",
        "include/iothdns.h",
        "bin/iothnamed",
    ] {
        assert!(prefix.join(f).is_file(), "{f} is not installed");
    }
    // Each library as the original installs it: libNAME.so -> libNAME.so.0 -> the file.
    for name in ioth_clink::library_names() {
        let lib = prefix.join("lib");
        let file = format!("lib{name}.so.0.1.0");
        assert!(lib.join(&file).is_file(), "{file} is not installed");
        let link = |l: &str| std::fs::read_link(lib.join(l)).unwrap_or_default();
        assert_eq!(link(&format!("lib{name}.so.0")), Path::new(&file));
        assert_eq!(
            link(&format!("lib{name}.so")),
            Path::new(&format!("lib{name}.so.0"))
        );
        assert!(
            lib.join(format!("pkgconfig/{name}.pc")).is_file(),
            "{name}.pc"
        );
    }
    // Plugins under the original's names: -r (reentrant, main namespace) and its _n link.
    for p in ["kernel", "smoltcp"] {
        let n = prefix.join(format!("lib/ioth/ioth_{p}_n.so"));
        assert_eq!(
            std::fs::read_link(&n).unwrap(),
            Path::new(&format!("ioth_{p}-r.so"))
        );
        assert!(!prefix.join(format!("lib/ioth/ioth_{p}.so")).exists());
    }
    // Installed stripped, the debug information beside, where gdb finds it.
    for f in [
        "lib/libioth.so.0.1.0",
        "lib/ioth/ioth_smoltcp-r.so",
        "bin/iothnamed",
    ] {
        let sections = sections(&prefix.join(f));
        assert!(!sections.contains(".debug_info"), "{f} is stripped");
        assert!(
            sections.contains(".gnu_debuglink"),
            "{f} links its debug file"
        );
        let path = Path::new(f);
        let debug = prefix
            .join(path.parent().unwrap())
            .join(".debug")
            .join(format!(
                "{}.debug",
                path.file_name().unwrap().to_string_lossy()
            ));
        assert!(
            sections_of(&debug).contains(".debug_info"),
            "{} holds {f}'s debug information",
            debug.display()
        );
    }
    assert!(!sections(&prefix.join("lib/libioth.a")).contains(".debug_info"));
    // Every installed service program runs and explains itself.
    for entry in std::fs::read_dir(prefix.join("bin")).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue; // .debug/
        }
        let out = Command::new(&path).arg("--help").output().unwrap();
        assert!(out.status.success(), "{} --help failed", path.display());
    }
    let flags = pkg_config(&prefix, &["--cflags", "--libs"]);
    assert!(
        flags.contains(&format!("-I{}/include", prefix.display())),
        "{flags}"
    );
    assert!(
        flags.contains(&format!("-L{}/lib", prefix.display())),
        "{flags}"
    );
    assert!(flags.contains("-lioth"), "{flags}");
    assert!(
        flags.contains(&format!("-Wl,-rpath,{}/lib", prefix.display())),
        "outside /usr the program finds libioth when it runs: {flags}"
    );
    let static_libs = pkg_config(&prefix, &["--static", "--libs"]);
    for l in ["-lpthread", "-ldl", "-lm"] {
        assert!(static_libs.contains(l), "{static_libs}");
    }

    // The classic program from a directory holding nothing but its source.
    let clean = tempfile::tempdir().unwrap();
    build_in(
        clean.path(),
        &prefix,
        &["classic.c"],
        "classic.c",
        "classic",
    );
    assert!(clean.path().join("classic").is_file());

    // A program run with the prefix on its library path uses the installed library.
    let lib = prefix.join("lib");
    build_in(
        clean.path(),
        &prefix,
        &["errno_checks.c", "check.h"],
        "errno_checks.c -lpthread",
        "errno_checks",
    );
    // Found without LD_LIBRARY_PATH: pkg-config's run-time path.
    let ldd = Command::new("ldd")
        .env_remove("LD_LIBRARY_PATH")
        .arg(clean.path().join("errno_checks"))
        .output()
        .unwrap();
    let deps = String::from_utf8_lossy(&ldd.stdout);
    assert!(
        deps.contains(&format!("libioth.so.0 => {}/libioth.so.0", lib.display())),
        "{deps}"
    );
    let mut cmd = Command::new(clean.path().join("errno_checks"));
    cmd.arg(unique_name("nosuchstack"))
        .env("LD_LIBRARY_PATH", &lib)
        .env_remove("IOTH_PLUGIN_PATH");
    let out = run(cmd, "installed errno_checks");
    assert_checks(
        &out,
        &["delstack_in_use_ebusy", "missing_plugin_enotsup"],
        "installed errno_checks",
    );

    // The installed libioth.a links a program statically, ioth_newstackl (C, compiled into
    // the archive by capi's build script) included.
    cc_in(
        clean.path(),
        &format!(
            "$CC -Wall -Werror errno_checks.c -I{inc} {lib}/libioth.a {libs} -o errno_static",
            inc = prefix.join("include").display(),
            lib = lib.display(),
            libs = ioth_clink::NATIVE_LIBS.join(" ")
        ),
    );
    assert!(
        needed(&clean.path().join("errno_static"))
            .iter()
            .all(|d| !d.starts_with("libioth")),
        "linked statically"
    );
    let mut cmd = Command::new(clean.path().join("errno_static"));
    cmd.arg(unique_name("nosuchstack"))
        .env_remove("IOTH_PLUGIN_PATH");
    let out = run(cmd, "installed errno_checks, static");
    assert_checks(
        &out,
        &["newstackl_passes_every_vnl", "missing_plugin_enotsup"],
        "installed errno_checks, static",
    );

    // The installed libioth finds plugins in PREFIX/lib/ioth (its compiled-in libdir),
    // without IOTH_PLUGIN_PATH and with an empty HOME.
    let name = unique_name("instplug");
    build_c_plugin(&lib.join("ioth"), &name, None);
    build_in(
        clean.path(),
        &prefix,
        &["plugin_stack.c", "check.h"],
        "plugin_stack.c",
        "plugin_stack",
    );
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(clean.path().join("plugin_stack"));
    cmd.args([name.as_str(), "-", "serves"])
        .env("LD_LIBRARY_PATH", &lib)
        .env("HOME", home.path())
        .env_remove("IOTH_PLUGIN_PATH");
    let out = run(cmd, "installed plugin_stack");
    let so = lib.join("ioth").join(format!("ioth_{name}.so"));
    let _ = std::fs::remove_file(&so);
    let _ = std::fs::remove_file(lib.join("ioth").join(format!("{name}.c")));
    assert_checks(
        &out,
        &["newstack_plugin", "tcp_recv", "delstack"],
        "installed plugin_stack",
    );

    libiothdns_links_both_ways(&prefix, clean.path());
    iothdns_resolves_over_a_user_space_stack(&prefix, clean.path());
    installed_symbols_are_the_originals(&prefix);
    siblings_link_the_original_way(&prefix, clean.path());
}

/// The installed libraries export exactly the original's symbols (and ours, versioned), as
/// the symbol test of the linked set checks; here on what the install put in the prefix,
/// stripped.
fn installed_symbols_are_the_originals(prefix: &Path) {
    for name in ioth_clink::library_names() {
        let so = prefix.join("lib").join(format!("lib{name}.so.0"));
        common::abi::assert_exports(&so, name);
        assert_eq!(common::abi::soname(&so), format!("lib{name}.so.0"));
    }
}

/// Programs using iothconf and iothaddr, linked the original's way (`-lioth -liothconf`,
/// `-liothaddr`) through pkg-config from a directory holding only their sources, run on the
/// installed libraries.
fn siblings_link_the_original_way(prefix: &Path, dir: &Path) {
    let pkgconfig = prefix.join("lib").join("pkgconfig");
    for f in ["iothconf_link.c", "iothaddr_vectors.c", "check.h"] {
        std::fs::copy(c_source(f), dir.join(f)).unwrap();
    }
    let flags = pkg_config_of(prefix, "iothconf", &["--libs"]);
    assert!(
        flags.contains("-liothconf") && flags.contains("-lioth"),
        "{flags}"
    );
    cc_in(
        dir,
        &format!(
            "export PKG_CONFIG_PATH={}; $CC -Wall -Werror iothconf_link.c $(pkg-config --cflags --libs iothconf) -o iothconf_link",
            pkgconfig.display()
        ),
    );
    let deps = needed(&dir.join("iothconf_link"));
    assert!(
        deps.iter().any(|d| d == "libiothconf.so.0") && deps.iter().any(|d| d == "libioth.so.0"),
        "{deps:?}"
    );
    let out = run(
        Command::new(dir.join("iothconf_link")),
        "installed iothconf_link",
    );
    assert_checks(
        &out,
        common::abi::IOTHCONF_CHECKS,
        "installed iothconf_link",
    );
    cc_in(
        dir,
        &format!(
            "export PKG_CONFIG_PATH={}; $CC -Wall -Werror iothaddr_vectors.c $(pkg-config --cflags --libs iothaddr) -o iothaddr_vectors",
            pkgconfig.display()
        ),
    );
    let deps = needed(&dir.join("iothaddr_vectors"));
    assert!(deps.iter().any(|d| d == "libiothaddr.so.0"), "{deps:?}");
    let out = run(
        Command::new(dir.join("iothaddr_vectors")),
        "installed iothaddr_vectors",
    );
    assert_checks(
        &out,
        common::abi::IOTHADDR_CHECKS,
        "installed iothaddr_vectors",
    );
}

/// A program written for libiothdns, built with `pkg-config iothdns` against the installed
/// prefix, resolves over a smoltcp stack of its own: its queries cross a vde_switch to a
/// server on another user-space stack (in this test process), never the host's resolver.
fn iothdns_resolves_over_a_user_space_stack(prefix: &Path, dir: &Path) {
    use ioth_tests::dns_responder::{Responder, Script, a, aaaa};
    let Some(sw) = ioth_tests::peers::VdeSwitch::start() else {
        return;
    };
    std::fs::copy(c_source("iothdns_smoltcp.c"), dir.join("iothdns_smoltcp.c")).unwrap();
    let pkgconfig = prefix.join("lib").join("pkgconfig");
    cc_in(
        dir,
        &format!(
            "export PKG_CONFIG_PATH={}; $CC -Wall -Werror iothdns_smoltcp.c $(pkg-config --cflags --libs iothdns iothconf) -o iothdns_smoltcp",
            pkgconfig.display()
        ),
    );
    let server_stack = ioth_tests::fixtures::smoltcp_on(&sw.vnl(), Some([10, 57, 0, 2]));
    let server = Responder::start(
        &server_stack,
        "0.0.0.0:53".parse().unwrap(),
        Script {
            records: vec![
                a("web.corp.test.", 60, [10, 57, 0, 80]),
                aaaa("web.corp.test.", 60, "fd57::80".parse().unwrap()),
            ],
            ..Script::default()
        },
    );
    let mut cmd = Command::new(dir.join("iothdns_smoltcp"));
    cmd.args([sw.vnl().as_str(), "web.corp.test"])
        .env("LD_LIBRARY_PATH", prefix.join("lib"));
    let out = run(cmd, "iothdns_smoltcp");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("lookup_a 1 10.57.0.80"), "{stdout}");
    assert!(stdout.contains("getaddrinfo 10.57.0.80"), "{stdout}");
    assert!(stdout.contains("getaddrinfo fd57::80"), "{stdout}");
    assert!(server.count() >= 2, "{:?}", server.seen());
}

/// The NEEDED entries of an ELF file.
fn needed(file: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_owned()))
        .collect()
}

fn cc_in(dir: &Path, script: &str) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(script.replace("$CC", &cc))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const IOTHDNS_CHECKS: &[&str] = &["put_header", "getbuf", "put_rr_earlier_section_einval"];

fn libiothdns_links_both_ways(prefix: &Path, dir: &Path) {
    let lib = prefix.join("lib");
    let flags = pkg_config_of(prefix, "iothdns", &["--cflags", "--libs"]);
    assert!(
        flags.contains("-liothdns") && flags.contains("-lioth"),
        "{flags}"
    );

    // Linked as the original's programs are (-liothdns): the program needs libiothdns.so.0,
    // which needs libioth.so.0.
    for f in ["iothdns_compose.c", "check.h"] {
        std::fs::copy(c_source(f), dir.join(f)).unwrap();
    }
    cc_in(
        dir,
        &format!(
            "$CC -Wall -Werror iothdns_compose.c -I{inc} -L{lib} -liothdns -o dns_script",
            inc = prefix.join("include").display(),
            lib = lib.display()
        ),
    );
    let deps = needed(&dir.join("dns_script"));
    assert!(deps.iter().any(|d| d == "libiothdns.so.0"), "{deps:?}");
    let mut cmd = Command::new(dir.join("dns_script"));
    cmd.env("LD_LIBRARY_PATH", &lib);
    assert_checks(&run(cmd, "dns_script"), IOTHDNS_CHECKS, "-liothdns program");

    // Linked against a stand-in for the original library (soname libiothdns.so.0, the
    // same symbols, no code): the binary needs libiothdns.so.0, which the install provides.
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib.join("libiothdns.so.0"))
        .output()
        .unwrap();
    let stubs: String = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|s| s.starts_with("iothdns_"))
        .map(|s| format!("void {s}(void) {{}}\n"))
        .collect();
    assert!(stubs.contains("iothdns_put_header"), "{stubs}");
    let original = dir.join("original");
    std::fs::create_dir_all(&original).unwrap();
    std::fs::write(original.join("stub.c"), stubs).unwrap();
    cc_in(
        &original,
        "$CC -shared -fPIC stub.c -Wl,-soname,libiothdns.so.0 -o libiothdns.so",
    );
    cc_in(
        dir,
        &format!(
            "$CC -Wall -Werror iothdns_compose.c -I{inc} -Loriginal -liothdns -o dns_original",
            inc = prefix.join("include").display()
        ),
    );
    let deps = needed(&dir.join("dns_original"));
    assert!(deps.iter().any(|d| d == "libiothdns.so.0"), "{deps:?}");
    assert!(
        !deps.iter().any(|d| d.starts_with("libioth.so")),
        "{deps:?}"
    );
    let mut cmd = Command::new(dir.join("dns_original"));
    cmd.env("LD_LIBRARY_PATH", &lib);
    assert_checks(
        &run(cmd, "dns_original"),
        IOTHDNS_CHECKS,
        "a binary built against libiothdns.so.0",
    );
}
