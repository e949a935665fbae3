//! Plugins found through IOTH_PLUGIN_PATH and $HOME/.ioth, and the licence rule (EPERM).
//!
//! Both depend on process-wide state (the environment, the program's licence), so the test
//! runs its checks in a child process of its own, with the environment set at its start.

use std::process::Command;

use ioth::Stack;
use ioth_tests::fixtures::build_c_plugin;
use ioth_tests::{assert_errno, init_logging};

const CHILD: &str = "IOTH_TEST_PLUGIN_CHILD";

#[test]
fn plugins_are_found_on_the_search_path_and_licences_are_enforced() {
    init_logging();
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let path_dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let home_ioth = home.path().join(".ioth");
    std::fs::create_dir(&home_ioth).unwrap();
    build_c_plugin(path_dir.path(), "cnone", None);
    build_c_plugin(path_dir.path(), "cgpl", Some("GPL-3.0-or-later"));
    build_c_plugin(path_dir.path(), "clgpl", Some("LGPL-2.1-or-later"));
    build_c_plugin(&home_ioth, "chome", None);
    // The same name in both places: IOTH_PLUGIN_PATH comes first.
    build_c_plugin(&home_ioth, "cnone", Some("Proprietary"));
    let empty = tempfile::tempdir().unwrap();

    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "plugins_are_found_on_the_search_path_and_licences_are_enforced",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env(
            "IOTH_PLUGIN_PATH",
            format!(
                "{}::{}:{}",
                empty.path().display(),
                path_dir.path().display(),
                // The workspace's own plugins, ioth_kernel.so and ioth_smoltcp.so.
                ioth_tests::fixtures::plugin_dir().display()
            ),
        )
        .env("HOME", home.path())
        .status()
        .unwrap();
    assert!(status.success(), "the checks in the child process failed");
}

fn child() {
    // Found by name through IOTH_PLUGIN_PATH (the empty entry and the empty dir are skipped).
    let s = Stack::new("cnone", &[]).expect("plugin on IOTH_PLUGIN_PATH");
    let u = s.udp_bind("127.0.0.1:0").unwrap();
    assert_eq!(u.stack().implementation(), "cnone");
    // Found in $HOME/.ioth.
    Stack::new("chome", &[]).expect("plugin in $HOME/.ioth");
    // An LGPL plugin loads whatever the program's licence.
    Stack::new("clgpl", &[]).expect("LGPL plugin");

    // A GPL-3.0-or-later plugin: refused without a program licence, and for GPL-2.0-only.
    assert_errno(
        Stack::new("cgpl", &[]),
        libc::EPERM,
        "GPL plugin, no program licence",
    );
    ioth::set_license(Some("GPL-2.0-only"));
    let err = Stack::new("cgpl", &[]).unwrap_err();
    assert_eq!(ioth::errno_of(&err), libc::EPERM);
    assert!(
        err.to_string().contains("GPL-3.0-or-later"),
        "the message names the licences: {err}"
    );
    ioth::set_license(Some("SPDX-License-Identifier: GPL-3.0-or-later"));
    Stack::new("cgpl", &[]).expect("GPL-3.0-or-later program loads a GPL-3.0-or-later plugin");
    ioth::set_license(None);

    // Our smoltcp stack, found as ioth_smoltcp.so through IOTH_PLUGIN_PATH (the search path,
    // not the copy linked into this program), serves sockets.
    let backend = ioth::plugin::load("smoltcp").expect("ioth_smoltcp.so on IOTH_PLUGIN_PATH");
    let s = Stack::with_backend(backend.as_ref(), &[], "").unwrap();
    let a = s.udp_bind("127.0.0.1:0").unwrap();
    let b = s.udp_bind("127.0.0.1:0").unwrap();
    a.send_to(b"through the plugin", b.local_addr().unwrap())
        .unwrap();
    let mut buf = [0u8; 32];
    let (n, _) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"through the plugin");

    // Options after the comma reach the plugin, VNLs too (this one refuses VNLs with EINVAL).
    assert_errno(
        Stack::new("cnone,opt", &["vde:///nowhere"]),
        libc::EINVAL,
        "plugin refusing a VNL",
    );
}
