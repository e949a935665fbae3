//! The plugin ABI both ways through the C API: a plugin written in C to libioth's ABI loads
//! (found through IOTH_PLUGIN_PATH, licence checked) and serves sockets; our Rust kernel
//! plugin, exported with that ABI, loads and serves sockets under another name.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{assert_checks, cc, compile, run, run_compiler, work_dir};
use ioth_tests::fixtures::build_c_plugin;
use ioth_tests::peers::unique_name;

fn plugin_dir() -> PathBuf {
    let dir = work_dir().join(unique_name("plugins"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_plugin_stack(dir: &PathBuf, args: &[&str]) -> Output {
    let exe = compile("plugin_stack.c", &[]);
    let mut cmd = Command::new(exe);
    cmd.args(args).env("IOTH_PLUGIN_PATH", dir);
    run(cmd, "plugin_stack")
}

const SERVES: &[&str] = &[
    "newstack_plugin",
    "plugin_object_mapped",
    "udp_sendto_self",
    "udp_recvfrom_self",
    "delstack_busy",
    "tcp_accept",
    "tcp_recv",
    "delstack",
];

/// A C plugin without a licence, found in IOTH_PLUGIN_PATH by `ioth_newstack("NAME")`,
/// serves UDP and TCP.
#[test]
fn c_plugin_serves_sockets_through_the_c_api() {
    let dir = plugin_dir();
    let name = unique_name("cplug");
    build_c_plugin(&dir, &name, None);
    let so = format!("ioth_{name}.so");
    let out = run_plugin_stack(&dir, &[&name, "-", "serves", &so]);
    assert_checks(&out, SERVES, "plugin_stack (C plugin)");
}

/// A GPL-3.0-only C plugin is refused (EPERM) to a program that declared no licence and
/// loads for one that declared GPL-3.0-only with ioth_set_license.
#[test]
fn c_plugin_licence_is_checked_against_ioth_set_license() {
    let dir = plugin_dir();
    let name = unique_name("gplplug");
    build_c_plugin(&dir, &name, Some("GPL-3.0-only"));
    let out = run_plugin_stack(&dir, &[&name, "-", "EPERM"]);
    assert_checks(&out, &["newstack_refused"], "plugin_stack (no licence)");
    let out = run_plugin_stack(&dir, &[&name, "MIT", "EPERM"]);
    assert_checks(&out, &["newstack_refused"], "plugin_stack (MIT program)");
    let so = format!("ioth_{name}.so");
    let out = run_plugin_stack(
        &dir,
        &[
            &name,
            "SPDX-License-Identifier: GPL-3.0-only",
            "serves",
            &so,
        ],
    );
    assert_checks(&out, SERVES, "plugin_stack (GPL-3.0-only program)");
}

/// A plugin file without `ioth_NAME_newstack` gives ENOENT, as libioth does.
#[test]
fn plugin_without_newstack_is_enoent() {
    let dir = plugin_dir();
    let name = unique_name("emptyplug");
    let src = dir.join("empty.c");
    std::fs::write(&src, "int ioth_unrelated_symbol = 1;\n").unwrap();
    let mut cmd = cc();
    cmd.args(["-shared", "-fPIC", "-o"])
        .arg(dir.join(format!("ioth_{name}.so")))
        .arg(&src);
    run_compiler(cmd);
    let out = run_plugin_stack(&dir, &[&name, "-", "ENOENT"]);
    assert_checks(&out, &["newstack_refused"], "plugin_stack (no newstack)");
}

/// Our Rust kernel plugin (libioth_kernel.so, libioth's ABI exported by ioth::export_plugin!)
/// loads through the C API and serves sockets. A forwarding shim gives it a name that is not
/// built into libioth, so the loader really goes through the plugin.
#[test]
fn rust_plugin_serves_sockets_through_the_c_api() {
    let dir = plugin_dir();
    let name = unique_name("rkern");
    let kernel_so = common::built_dir().join("libioth_kernel.so");
    let src = dir.join(format!("{name}.c"));
    let shim = std::fs::read_to_string(common::c_source("rust_plugin_shim.c")).unwrap();
    std::fs::write(&src, shim.replace("NAME", &name)).unwrap();
    let mut cmd = cc();
    cmd.args(["-shared", "-fPIC", "-Wall", "-Werror", "-o"])
        .arg(dir.join(format!("ioth_{name}.so")))
        .arg(&src)
        .arg(format!("-DKERNEL_PLUGIN=\"{}\"", kernel_so.display()))
        .arg("-ldl");
    run_compiler(cmd);
    let out = run_plugin_stack(&dir, &[&name, "-", "serves", "libioth_kernel.so"]);
    assert_checks(&out, SERVES, "plugin_stack (Rust plugin)");
}
