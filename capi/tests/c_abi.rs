//! The binary interface of the linked libraries against the original's (VirtualSquare's
//! libioth, libiothconf, libiothaddr, libiothdns): exported symbols and sonames; a program
//! linked with `-lioth` runs with only `libioth.so.0` on the library path; the variadic
//! `ioth_newstackl` with two and three VNLs; a C plugin written to the original's ABI loads
//! under its reentrant (`-r`) and plain names, from `IOTH_PLUGIN_PATH`, `$HOME/.ioth` and
//! `./.ioth` without `HOME`; our Rust plugin loads under its `_n` name; libiothaddr computes
//! the reference's hash vectors; an iothconf program linked `-lioth -liothconf` runs.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::abi::{IOTHADDR_CHECKS, IOTHCONF_CHECKS, assert_exports, dynamic_entries, soname};
use common::{assert_checks, cc, compile, include_dir, lib_dir, run, run_compiler, work_dir};
use ioth_tests::fixtures::{build_c_plugin, unique_hub};
use ioth_tests::peers::{require_tool, unique_name};

fn scratch(what: &str) -> PathBuf {
    let dir = work_dir().join(unique_name(what));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Each linked library exports exactly the original's symbols (libioth: plus ours, under
/// their version nodes) and has the original's soname.
#[test]
fn linked_libraries_export_the_original_symbols_and_nothing_internal() {
    if !require_tool("readelf", "the symbol list test") {
        return;
    }
    let lib = lib_dir();
    for name in ["ioth", "iothconf", "iothaddr", "iothdns"] {
        let so = lib.join(format!("lib{name}.so.0"));
        assert_exports(&so, name);
        assert_eq!(soname(&so), format!("lib{name}.so.0"), "{}", so.display());
    }
    // The C library of the original needs no Rust symbol of ours: no plugin entry of the
    // linked backends, no linkme bounds.
    let exported = common::abi::exports(&lib.join("libioth.so.0"));
    for bad in ["ioth_kernel_newstack", "ioth_smoltcp_newstack"] {
        assert!(!exported.iter().any(|s| s.starts_with(bad)), "{bad} leaks");
    }
    assert!(
        !exported
            .iter()
            .any(|s| s.starts_with("__start_") || s.starts_with("__stop_"))
    );
}

/// A program linked with `-lioth` (no run-time path) runs with a directory holding nothing
/// but `libioth.so.0` on `LD_LIBRARY_PATH`: it asks for the library by soname; and the
/// variadic `ioth_newstackl` (an undefined symbol of the program, not a header inline) makes
/// stacks with two and three interfaces.
#[test]
fn a_program_finds_libioth_by_soname_and_newstackl_is_variadic() {
    let lib = lib_dir();
    let dir = scratch("soname");
    let exe = dir.join("newstackl_checks");
    let mut cmd = cc();
    cmd.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(include_dir())
        .arg(common::c_source("newstackl_checks.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .arg("-lioth");
    run_compiler(cmd);
    assert_eq!(
        dynamic_entries(&exe, "NEEDED")
            .iter()
            .filter(|n| n.starts_with("libioth"))
            .collect::<Vec<_>>(),
        vec!["libioth.so.0"]
    );
    assert!(
        dynamic_entries(&exe, "RUNPATH").is_empty() && dynamic_entries(&exe, "RPATH").is_empty()
    );
    let undefined = Command::new("readelf")
        .args(["--dyn-syms", "-W"])
        .arg(&exe)
        .output()
        .unwrap();
    let undefined = String::from_utf8_lossy(&undefined.stdout);
    assert!(
        undefined
            .lines()
            .any(|l| l.contains(" UND ") && l.trim_end().ends_with(" ioth_newstackl")),
        "ioth_newstackl is a symbol of libioth.so.0, unversioned:\n{undefined}"
    );
    let only = dir.join("only");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::copy(lib.join("libioth.so.0"), only.join("libioth.so.0")).unwrap();
    let mut run_cmd = Command::new(&exe);
    run_cmd
        .args([
            unique_hub(),
            unique_hub(),
            unique_hub(),
            unique_name("nosuch"),
        ])
        .env("LD_LIBRARY_PATH", &only);
    let out = run(run_cmd, "newstackl_checks");
    assert_checks(
        &out,
        &[
            "newstackl_two_vnls",
            "two_vnls_vde1",
            "two_vnls_no_vde2",
            "newstackl_three_vnls",
            "three_vnls_vde2",
            "three_vnls_no_vde3",
            "newstackl_no_vnl",
            "newstackl_missing_enotsup",
            "macton_colons",
            "macton_refuses_leading_blank",
            "macton_refuses_long_group",
            "macton_refuses_mixed_separators",
            "ntomac_round_trip",
        ],
        "newstackl_checks",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const SERVES: &[&str] = &["newstack_plugin", "tcp_recv", "delstack"];

fn plugin_stack(
    args: &[&str],
    env: &[(&str, &Path)],
    no_home: bool,
    cwd: &Path,
) -> std::process::Output {
    let exe = compile("plugin_stack.c", &[]);
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("IOTH_PLUGIN_PATH");
    if no_home {
        cmd.env_remove("HOME");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, "plugin_stack")
}

/// A plugin written in C to the original's ABI only, installed under the reentrant name
/// `ioth_NAME-r.so` (as the original's own plugins are) or the plain `ioth_NAME.so`, loads
/// from `IOTH_PLUGIN_PATH`, from `$HOME/.ioth`, and from `./.ioth` when `HOME` is unset.
#[test]
fn a_c_plugin_loads_under_the_reentrant_and_the_plain_name() {
    let dir = scratch("rplugins");
    let name = unique_name("rplug");
    let built = build_c_plugin(&dir, &name, None);
    let reentrant = dir.join(format!("ioth_{name}-r.so"));
    std::fs::rename(&built, &reentrant).unwrap();
    let so = format!("ioth_{name}-r.so");
    let out = plugin_stack(
        &[&name, "-", "serves", &so],
        &[("IOTH_PLUGIN_PATH", &dir)],
        false,
        &dir,
    );
    assert_checks(&out, SERVES, "plugin_stack (-r name, IOTH_PLUGIN_PATH)");

    // $HOME/.ioth, IOTH_PLUGIN_PATH unset.
    let home = scratch("home");
    std::fs::create_dir_all(home.join(".ioth")).unwrap();
    std::fs::copy(&reentrant, home.join(".ioth").join(&so)).unwrap();
    let out = plugin_stack(
        &[&name, "-", "serves", &so],
        &[("HOME", &home)],
        false,
        &dir,
    );
    assert_checks(&out, SERVES, "plugin_stack (-r name, $HOME/.ioth)");

    // No HOME: ./.ioth of the working directory, as the original.
    let out = plugin_stack(&[&name, "-", "serves", &so], &[], true, &home);
    assert_checks(&out, SERVES, "plugin_stack (-r name, ./.ioth without HOME)");

    // The plain name.
    let plain = scratch("plain");
    std::fs::copy(&reentrant, plain.join(format!("ioth_{name}.so"))).unwrap();
    let so = format!("ioth_{name}.so");
    let out = plugin_stack(
        &[&name, "-", "serves", &so],
        &[("IOTH_PLUGIN_PATH", &plain)],
        false,
        &plain,
    );
    assert_checks(&out, SERVES, "plugin_stack (plain name)");
}

/// Our Rust kernel plugin, installed as the original installs plugins (`ioth_kernel-r.so`
/// and the link `ioth_kernel_n.so`), loads under the `_n` name: the implementation
/// `kernel_n`, whose entries export_plugin! defines as `ioth_kernel_n_*`.
#[test]
fn the_rust_plugin_loads_under_its_n_name() {
    let dir = scratch("nplugins");
    let kernel = common::built_dir().join("libioth_kernel.so");
    std::fs::copy(&kernel, dir.join("ioth_kernel-r.so")).unwrap();
    std::os::unix::fs::symlink("ioth_kernel-r.so", dir.join("ioth_kernel_n.so")).unwrap();
    let out = plugin_stack(
        &["kernel_n", "-", "serves", "ioth_kernel-r.so"],
        &[("IOTH_PLUGIN_PATH", &dir)],
        false,
        &dir,
    );
    assert_checks(&out, SERVES, "plugin_stack (kernel_n)");
}

/// libiothaddr, from C, gives the reference's vectors (computed with the original's code).
#[test]
fn libiothaddr_computes_the_reference_vectors() {
    let exe = compile("iothaddr_vectors.c", &[]);
    assert!(
        dynamic_entries(&exe, "NEEDED")
            .iter()
            .any(|n| n == "libiothaddr.so.0"),
        "linked with -liothaddr"
    );
    let out = run(Command::new(exe), "iothaddr_vectors");
    assert_checks(&out, IOTHADDR_CHECKS, "iothaddr_vectors");
}

/// An iothconf program linked `-lioth -liothconf` needs both sonames and runs.
#[test]
fn an_iothconf_program_links_against_libiothconf() {
    let exe = compile("iothconf_link.c", &[]);
    let needed = dynamic_entries(&exe, "NEEDED");
    for want in ["libioth.so.0", "libiothconf.so.0"] {
        assert!(needed.iter().any(|n| n == want), "{want} in {needed:?}");
    }
    let out = run(Command::new(exe), "iothconf_link");
    assert_checks(&out, IOTHCONF_CHECKS, "iothconf_link");
}

/// The functions of the library a program refers to (undefined `ioth*` symbols of its
/// dynamic symbol table, with their version when they have one).
fn ioth_references(exe: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .args(["--dyn-syms", "-W"])
        .arg(exe)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|s| s.starts_with("ioth"))
        .map(str::to_owned)
        .collect()
}

/// Programs built against our headers that use the configuration helpers (now inline, as
/// libioth's were), iothconf and the plugin ABI need only the original's symbols,
/// unversioned: such a binary runs on VirtualSquare's libioth too.
#[test]
fn programs_built_with_our_headers_need_only_the_original_symbols() {
    use common::abi::{ORIGINAL_LIBIOTH, ORIGINAL_LIBIOTHCONF};
    for source in [
        "netconf_checks.c",
        "smoltcp_checks.c",
        "classic.c",
        "plugin_stack.c",
    ] {
        let exe = compile(source, &[]);
        let refs = ioth_references(&exe);
        assert!(
            refs.iter().any(|s| s == "ioth_msocket"),
            "{source}: {refs:?}"
        );
        for r in &refs {
            assert!(
                ORIGINAL_LIBIOTH.contains(&r.as_str())
                    || ORIGINAL_LIBIOTHCONF.contains(&r.as_str()),
                "{source} needs {r}, which the original libraries do not export"
            );
        }
    }
}

/// Builds a stand-in for an original library in `dir`: `libNAME.so` with soname
/// `libNAME.so.0` defining `symbols` (empty bodies), to link programs as against the original.
fn stand_in(dir: &Path, name: &str, symbols: &[&str]) {
    stand_in_with(dir, name, symbols, &[]);
}

/// [`stand_in`] with more arguments for the linker.
fn stand_in_with(dir: &Path, name: &str, symbols: &[&str], extra: &[&std::ffi::OsStr]) {
    let src = dir.join(format!("{name}_stub.c"));
    let text: String = symbols
        .iter()
        .map(|s| format!("void {s}(void) {{}}\n"))
        .collect();
    std::fs::write(&src, text).unwrap();
    let mut cmd = cc();
    cmd.args(["-shared", "-fPIC", "-o"])
        .arg(dir.join(format!("lib{name}.so")))
        .arg(&src)
        .arg(format!("-Wl,-soname,lib{name}.so.0"))
        .args(extra);
    run_compiler(cmd);
}

/// Binaries linked against libraries that export only the original's symbols (stand-ins with
/// the original's sonames and symbol lists, no code) run on ours: they ask for the sonames
/// and for unversioned symbols, which ours define. Programs: the variadic constructor and
/// the inline helpers (-lioth), iothconf's (-lioth -liothconf), iothaddr's (-liothaddr).
#[test]
fn binaries_linked_against_the_original_run_on_ours() {
    use common::abi::{ORIGINAL_LIBIOTH, ORIGINAL_LIBIOTHADDR, ORIGINAL_LIBIOTHCONF};
    let dir = scratch("original");
    let original = dir.join("original");
    std::fs::create_dir_all(&original).unwrap();
    stand_in(&original, "ioth", ORIGINAL_LIBIOTH);
    stand_in(&original, "iothconf", ORIGINAL_LIBIOTHCONF);
    stand_in(&original, "iothaddr", ORIGINAL_LIBIOTHADDR);
    let build = |source: &str, libs: &[&str]| {
        let exe = dir.join(source.trim_end_matches(".c"));
        let mut cmd = cc();
        cmd.args(["-std=gnu11", "-Wall", "-Werror", "-I"])
            .arg(include_dir())
            .arg(common::c_source(source))
            .arg("-o")
            .arg(&exe)
            .arg("-L")
            .arg(&original)
            .args(libs);
        run_compiler(cmd);
        exe
    };
    let on_ours = |exe: &Path, args: &[String], what: &str| {
        let mut cmd = Command::new(exe);
        cmd.args(args).env("LD_LIBRARY_PATH", lib_dir());
        run(cmd, what)
    };
    let exe = build("newstackl_checks.c", &["-lioth"]);
    let args = [
        unique_hub(),
        unique_hub(),
        unique_hub(),
        unique_name("nosuch"),
    ];
    let out = on_ours(
        &exe,
        &args,
        "newstackl_checks (linked against the original)",
    );
    assert_checks(
        &out,
        &["newstackl_three_vnls", "three_vnls_vde2"],
        "newstackl_checks",
    );
    let exe = build("iothconf_link.c", &["-lioth", "-liothconf"]);
    let out = on_ours(&exe, &[], "iothconf_link (linked against the original)");
    assert_checks(&out, IOTHCONF_CHECKS, "iothconf_link");
    let exe = build("iothaddr_vectors.c", &["-liothaddr"]);
    let out = on_ours(&exe, &[], "iothaddr_vectors (linked against the original)");
    assert_checks(&out, IOTHADDR_CHECKS, "iothaddr_vectors");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The symbol test itself fails on a library that lost an original symbol or leaks an
/// internal one (stand-ins checked as if they were ours).
#[test]
fn the_symbol_test_catches_a_lost_and_a_leaked_symbol() {
    use common::abi::ORIGINAL_LIBIOTHADDR;
    let dir = scratch("leaks");
    // Like a sibling: no libc, libioth.so.0 needed.
    let ours = lib_dir().join("libioth.so.0");
    let extra = [
        std::ffi::OsStr::new("-nostdlib"),
        std::ffi::OsStr::new("-Wl,--no-as-needed"),
        ours.as_os_str(),
    ];
    let make = |what: &str, symbols: &[&str]| {
        let d = dir.join(what);
        std::fs::create_dir_all(&d).unwrap();
        stand_in_with(&d, "iothaddr", symbols, &extra);
        d.join("libiothaddr.so")
    };
    // The control: exactly the original's symbols passes.
    assert_exports(&make("exact", ORIGINAL_LIBIOTHADDR), "iothaddr");
    let lost = make("lost", &ORIGINAL_LIBIOTHADDR[1..]);
    let mut leaking = ORIGINAL_LIBIOTHADDR.to_vec();
    leaking.push("rust_eh_personality");
    let leaked = make("leaked", &leaking);
    for (so, what) in [(lost, "a lost symbol"), (leaked, "a leaked symbol")] {
        let caught = std::panic::catch_unwind(|| assert_exports(&so, "iothaddr"));
        assert!(caught.is_err(), "the symbol test missed {what}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
