//! The binary interface of the linked libraries, checked against the original's: the symbol
//! lists below are VirtualSquare's (`nm -D --defined-only` of the libraries built from their
//! sources, as written down in the project's reference notes), kept here independently of
//! what ioth-clink links, so that a symbol that disappears or leaks fails a test.

use std::path::Path;
use std::process::Command;

/// libioth.so.0 of the original (its internal `checklicense` aside).
pub const ORIGINAL_LIBIOTH: &[&str] = &[
    "ioth_accept",
    "ioth_bind",
    "ioth_close",
    "ioth_connect",
    "ioth_delstack",
    "ioth_fcntl",
    "ioth_freeifaddrs",
    "ioth_get_defstack",
    "ioth_getifaddrs",
    "ioth_getpeername",
    "ioth_getsockname",
    "ioth_getsockopt",
    "ioth_ioctl",
    "ioth_listen",
    "ioth_msocket",
    "ioth_newstack",
    "ioth_newstackl",
    "ioth_newstackv",
    "ioth_read",
    "ioth_readv",
    "ioth_recv",
    "ioth_recvfrom",
    "ioth_recvmsg",
    "ioth_send",
    "ioth_sendmsg",
    "ioth_sendto",
    "ioth_set_defstack",
    "ioth_set_license",
    "ioth_setsockopt",
    "ioth_shutdown",
    "ioth_socket",
    "ioth_write",
    "ioth_writev",
];

/// What our libioth.so.0 adds, under the version node `IOTH_RS_0.1`: what `ioth.h` documents
/// as ioth-rs's (the per-thread default stack) and exported copies of the helpers the header
/// defines inline.
pub const OURS_LIBIOTH: &[&str] = &[
    "ioth_set_thread_defstack",
    "ioth_get_thread_defstack",
    "ioth_if_nametoindex",
    "ioth_linksetupdown",
    "ioth_linksetaddr",
    "ioth_linkgetaddr",
    "ioth_linksetmtu",
    "ioth_ipaddr_add",
    "ioth_ipaddr_del",
    "ioth_iproute_add",
    "ioth_iproute_del",
    "ioth_iplink_add",
    "ioth_iplink_del",
    "ioth_nldialog",
];

/// The original libiothconf.so.0's calls for programs (its `iothconf_*`/`ioth_confdata_*`
/// internals are not part of the interface).
pub const ORIGINAL_LIBIOTHCONF: &[&str] = &["ioth_newstackc", "ioth_config", "ioth_resolvconf"];

/// The original libiothaddr.so.0.
pub const ORIGINAL_LIBIOTHADDR: &[&str] = &[
    "iothaddr_hash",
    "iothaddr_hashmac",
    "iothaddr_eui64",
    "iothaddr_hasheui64",
];

/// The checks `iothaddr_vectors.c` must run: every vector of the reference.
pub const IOTHADDR_CHECKS: &[&str] = &[
    "hash_vector_1",
    "hash_vector_7",
    "hash_vector_9",
    "hash_vector_12",
    "hash_vector_14",
    "hash_empty_password_is_none",
    "hashmac_vector_15",
    "hashmac_vector_19",
    "hasheui64_vector_20",
    "eui64_of_hashmac",
    "eui64_xors_into_base",
    "hash_null_name_unchanged",
];

/// The checks `iothconf_link.c` must run.
pub const IOTHCONF_CHECKS: &[&str] = &[
    "newstackc_smoltcp",
    "config_static",
    "config_bad_einval",
    "config_dns",
    "resolvconf_nameserver",
    "delstack",
];

fn readelf(args: &[&str], file: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("readelf {}: {e}", file.display()));
    assert!(out.status.success(), "readelf {args:?} {}", file.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The symbols `so` exports (defined, global or weak, in its dynamic symbol table), with
/// their version (`name@@NODE`) when they have one; version nodes themselves included.
pub fn exports(so: &Path) -> Vec<String> {
    let mut v = ioth_clink::parse_defined_globals(&readelf(&["--dyn-syms", "-W"], so));
    v.sort();
    v.dedup();
    v
}

/// The soname of `so`.
pub fn soname(so: &Path) -> String {
    dynamic_entries(so, "SONAME").pop().unwrap_or_default()
}

/// The values of the dynamic entries of `tag` (`NEEDED`, `SONAME`) of `file`.
pub fn dynamic_entries(file: &Path, tag: &str) -> Vec<String> {
    readelf(&["-d"], file)
        .lines()
        .filter(|l| l.contains(&format!("({tag})")))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_owned()))
        .collect()
}

/// The functions `iothdns.h` declares (`iothdns_NAME(`), which libiothdns may export.
fn iothdns_header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(super::include_dir().join("iothdns.h")).unwrap();
    let mut names = Vec::new();
    for (i, _) in header.match_indices("iothdns_") {
        let rest = &header[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('(') {
            names.push(rest[..end].to_owned());
        }
    }
    names
}

/// Asserts that library `name` (`ioth`, `iothconf`, `iothaddr`, `iothdns`) at `so` exports
/// what the original does and nothing internal:
/// - libioth.so.0: each original symbol, unversioned; ours under `IOTH_RS_0.1`; the bridges
///   of the siblings as `ioth_rs_private_*` under `IOTH_RS_PRIVATE` (one per function of a
///   sibling); the two version nodes; nothing else (no linkme section bounds, no plugin
///   entries, no Rust runtime symbols);
/// - a sibling: exactly the original's functions (libiothdns: functions of `iothdns.h`),
///   unversioned, and no `DT_NEEDED` but libioth.so.0.
pub fn assert_exports(so: &Path, name: &str) {
    let exported = exports(so);
    let mut expected: Vec<String> = Vec::new();
    match name {
        "ioth" => {
            expected.extend(ORIGINAL_LIBIOTH.iter().map(|s| s.to_string()));
            expected.extend(OURS_LIBIOTH.iter().map(|s| format!("{s}@@IOTH_RS_0.1")));
            expected.push("IOTH_RS_0.1".into());
            expected.push("IOTH_RS_PRIVATE".into());
            let siblings = ORIGINAL_LIBIOTHCONF
                .iter()
                .chain(ORIGINAL_LIBIOTHADDR)
                .map(|s| s.to_string())
                .chain(iothdns_sibling_symbols(&exported));
            expected.extend(siblings.map(|s| format!("ioth_rs_private_{s}@@IOTH_RS_PRIVATE")));
        }
        "iothconf" => expected.extend(ORIGINAL_LIBIOTHCONF.iter().map(|s| s.to_string())),
        "iothaddr" => expected.extend(ORIGINAL_LIBIOTHADDR.iter().map(|s| s.to_string())),
        "iothdns" => {
            let declared = iothdns_header_functions();
            for s in &exported {
                assert!(
                    declared.contains(s),
                    "{} exports {s}, which iothdns.h does not declare",
                    so.display()
                );
            }
            for must in [
                "iothdns_init",
                "iothdns_lookup_a",
                "iothdns_put_header",
                "iothdns_getaddrinfo",
            ] {
                assert!(
                    exported.iter().any(|s| s == must),
                    "{} lacks {must}",
                    so.display()
                );
            }
            expected.extend(exported.iter().cloned());
        }
        other => panic!("no library {other}"),
    }
    expected.sort();
    expected.dedup();
    let missing: Vec<&String> = expected.iter().filter(|s| !exported.contains(s)).collect();
    let leaked: Vec<&String> = exported.iter().filter(|s| !expected.contains(s)).collect();
    assert!(
        missing.is_empty() && leaked.is_empty(),
        "lib{name} ({}): missing or wrongly versioned {missing:?}; exported but not part of the \
         interface {leaked:?}",
        so.display()
    );
    if name != "ioth" {
        assert_eq!(
            dynamic_entries(so, "NEEDED"),
            vec!["libioth.so.0".to_owned()],
            "{} needs libioth.so.0 only",
            so.display()
        );
    }
}

/// The iothdns functions libioth.so.0 bridges (from its own exports): every one must be a
/// function of `iothdns.h`.
fn iothdns_sibling_symbols(exported: &[String]) -> Vec<String> {
    let declared = iothdns_header_functions();
    exported
        .iter()
        .filter_map(|s| s.strip_prefix("ioth_rs_private_"))
        .filter_map(|s| s.strip_suffix("@@IOTH_RS_PRIVATE"))
        .filter(|s| s.starts_with("iothdns_"))
        .inspect(|s| assert!(declared.iter().any(|d| d == s), "bridge of undeclared {s}"))
        .map(str::to_owned)
        .collect()
}
