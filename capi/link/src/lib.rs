//! # Linking libioth.so.0 and its siblings from capi's `libioth.a`
//!
//! `ioth-capi` builds one static archive, `libioth.a`: the C API, our stacks, the DNS toolkit
//! and Rust's standard library. A cdylib made by rustc from it would export every
//! `#[no_mangle]` of every crate (the plugin entries of the linked backends, linkme's section
//! bounds, Rust's allocator shims) and carry no soname. This crate links the shared objects a
//! drop-in for VirtualSquare's libioth must install, with the system tools:
//!
//! - `libioth.so.0` (file `libioth.so.0.1.0`): exactly the original's symbols, unversioned
//!   ([`ORIGINAL_SYMBOLS`]), our additions under the version node [`EXTENSION_VERSION`]
//!   ([`EXTENSION_SYMBOLS`]), and the bridges the sibling libraries call, renamed
//!   `ioth_rs_private_*` under [`PRIVATE_VERSION`]. Nothing else is global.
//! - `libiothconf.so.0`, `libiothaddr.so.0`, `libiothdns.so.0` ([`SIBLINGS`]): forwarders
//!   whose only `DT_NEEDED` is `libioth.so.0`; each exported function is a tail jump to its
//!   bridge, so it works for any signature (variadic ones too).
//!
//! The recipe ([`link`]): `ld -r --whole-archive libioth.a` into one object; `objcopy`
//! renames the bridges and makes every other global local; `cc -shared
//! -Wl,-soname,libioth.so.0 --version-script --gc-sections` links the library. (The variadic
//! `ioth_newstackl` is C, `capi/src/newstackl.c`, compiled into `libioth.a` by capi's build
//! script.) linkme's `__start_`/`__stop_` bounds stay defined (the
//! distributed registries still work) and are made local by the version script.
//!
//! `cargo xtask install` and the test fixtures use it; [`link_cached`] keeps one linked set
//! per archive, so that many tests do not relink.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The symbols VirtualSquare's `libioth.so.0` exports (`nm -D --defined-only`, without its
/// internal `checklicense`); ours exports them unversioned, as it does.
pub const ORIGINAL_SYMBOLS: &[&str] = &[
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

/// The version node of ioth-rs's additions to libioth.
pub const EXTENSION_VERSION: &str = "IOTH_RS_0.1";

/// ioth-rs's additions, exported by `libioth.so.0` under [`EXTENSION_VERSION`]: the per-thread
/// default stack, and exported copies of the configuration helpers that `ioth.h` defines
/// inline (for programs built against an older ioth-rs header).
pub const EXTENSION_SYMBOLS: &[&str] = &[
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

/// The version node of the bridges the sibling libraries call (not for programs).
pub const PRIVATE_VERSION: &str = "IOTH_RS_PRIVATE";

/// The prefix a sibling's function gets inside `libioth.so.0`.
pub const PRIVATE_PREFIX: &str = "ioth_rs_private_";

/// The version of the library files (`libNAME.so.0.1.0`); the soname keeps the major.
pub const FILE_VERSION: &str = "0.1.0";

/// The soname major version.
pub const SONAME_MAJOR: &str = "0";

/// The system libraries Rust's standard library needs (`rustc --print native-static-libs`):
/// linked into `libioth.so.0`, and what a program linked statically against `libioth.a`
/// needs besides it (`ioth.pc`'s `Libs.private`).
pub const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// A library that forwards to libioth.
#[derive(Debug, Clone, Copy)]
pub struct Sibling {
    /// The library's name: `libNAME.so.0`, `NAME.pc`.
    pub name: &'static str,
    /// Its header.
    pub header: &'static str,
    /// What it is, for its pkg-config file.
    pub description: &'static str,
    /// The functions it exports.
    pub symbols: &'static [&'static str],
}

/// The sibling libraries of the original, each exporting its original symbols.
pub const SIBLINGS: &[Sibling] = &[
    Sibling {
        name: "iothconf",
        header: "iothconf.h",
        description: "Internet of Threads: stack configuration strings (iothconf-compatible)",
        symbols: &["ioth_newstackc", "ioth_config", "ioth_resolvconf"],
    },
    Sibling {
        name: "iothaddr",
        header: "iothaddr.h",
        description: "Internet of Threads: hash-based IPv6 and MAC addresses (iothaddr-compatible)",
        symbols: &[
            "iothaddr_hash",
            "iothaddr_hashmac",
            "iothaddr_eui64",
            "iothaddr_hasheui64",
        ],
    },
    Sibling {
        name: "iothdns",
        header: "iothdns.h",
        description: "DNS for the Internet of Threads (libiothdns-compatible)",
        symbols: IOTHDNS_SYMBOLS,
    },
];

/// libiothdns's functions (`iothdns.h`).
pub const IOTHDNS_SYMBOLS: &[&str] = &[
    "iothdns_add_nameserver",
    "iothdns_fini",
    "iothdns_free",
    "iothdns_freeaddrinfo",
    "iothdns_gai_strerror",
    "iothdns_get_a",
    "iothdns_get_aaaa",
    "iothdns_get_data",
    "iothdns_get_header",
    "iothdns_get_int16",
    "iothdns_get_int32",
    "iothdns_get_int8",
    "iothdns_get_name",
    "iothdns_get_rr",
    "iothdns_get_string",
    "iothdns_getaddrinfo",
    "iothdns_getbuf",
    "iothdns_getnameinfo",
    "iothdns_getpath",
    "iothdns_init",
    "iothdns_init_strcfg",
    "iothdns_lookup_a",
    "iothdns_lookup_aaaa",
    "iothdns_lookup_aaaa_compat",
    "iothdns_lookup_cb",
    "iothdns_lookup_cb_tcp",
    "iothdns_put_a",
    "iothdns_put_aaaa",
    "iothdns_put_data",
    "iothdns_put_header",
    "iothdns_put_int16",
    "iothdns_put_int32",
    "iothdns_put_int8",
    "iothdns_put_name",
    "iothdns_put_name_uncompressed",
    "iothdns_put_rr",
    "iothdns_put_string",
    "iothdns_retrieve_header",
    "iothdns_rewrite_header",
    "iothdns_setpath",
    "iothdns_tcp_process_request",
    "iothdns_udp_process_request",
    "iothdns_update",
    "iothdns_update_strcfg",
];

/// The system tools the link uses: `$CC` (else `cc`), `$LD` (else `ld`), `$OBJCOPY` (else
/// `objcopy`), `$READELF` (else `readelf`).
#[derive(Debug, Clone)]
pub struct Tools {
    /// C compiler driver, also the final linker.
    pub cc: String,
    /// The linker, for the relocatable link.
    pub ld: String,
    /// objcopy.
    pub objcopy: String,
    /// readelf.
    pub readelf: String,
}

impl Tools {
    /// The tools named by the environment, else the usual names.
    pub fn from_env() -> Tools {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        Tools {
            cc: var("CC", "cc"),
            ld: var("LD", "ld"),
            objcopy: var("OBJCOPY", "objcopy"),
            readelf: var("READELF", "readelf"),
        }
    }
}

/// The file name of library `name`'s shared object: `libNAME.so.0.1.0`.
pub fn file_name(name: &str) -> String {
    format!("lib{name}.so.{FILE_VERSION}")
}

/// The soname of library `name`: `libNAME.so.0`.
pub fn soname(name: &str) -> String {
    format!("lib{name}.so.{SONAME_MAJOR}")
}

/// Every library this crate links: `ioth`, then the siblings.
pub fn library_names() -> Vec<&'static str> {
    std::iter::once("ioth")
        .chain(SIBLINGS.iter().map(|s| s.name))
        .collect()
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Makes `dir/link` a symbolic link to `target` (a name in the same directory), replacing
/// what was there.
pub fn symlink(dir: &Path, link: &str, target: &str) -> Result<(), String> {
    let path = dir.join(link);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("removing {}: {e}", path.display())),
    }
    std::os::unix::fs::symlink(target, &path)
        .map_err(|e| format!("linking {} -> {target}: {e}", path.display()))
}

/// The global (and weak) symbols `object` defines, from `readelf -sW` (GNU nm may load a
/// linker plugin that fails on Rust objects). In a dynamic symbol table the names carry
/// their version (`name@@NODE`, `name@NODE`).
pub fn defined_globals(tools: &Tools, object: &Path) -> Result<Vec<String>, String> {
    let out = run(Command::new(&tools.readelf).arg("-sW").arg(object))?;
    Ok(parse_defined_globals(&out))
}

/// The defined global and weak symbols of `readelf -sW` output (every table listed).
pub fn parse_defined_globals(readelf: &str) -> Vec<String> {
    readelf
        .lines()
        .filter_map(|l| {
            // Num: Value Size Type Bind Vis Ndx Name
            let f: Vec<&str> = l.split_whitespace().collect();
            let (bind, ndx, name) = (*f.get(4)?, *f.get(6)?, *f.get(7)?);
            ((bind == "GLOBAL" || bind == "WEAK") && ndx != "UND").then(|| name.to_owned())
        })
        .collect()
}

/// The version script of libioth.so.0. The original's symbols are in no node, so they stay
/// unversioned, as in the original; hence no `local: *`, and the symbols the final link itself
/// defines (linkme's section bounds, the end-of-data markers) are named as local.
fn version_script() -> String {
    let mut s = String::from("/* libioth.so.0 (ioth-rs): generated by ioth-clink */\n");
    let _ = writeln!(s, "{EXTENSION_VERSION} {{\n  global:");
    for sym in EXTENSION_SYMBOLS {
        let _ = writeln!(s, "    {sym};");
    }
    s.push_str(
        "  local:\n    __start_*;\n    __stop_*;\n    _edata;\n    _end;\n    __bss_start;\n    _init;\n    _fini;\n};\n",
    );
    let _ = writeln!(
        s,
        "{PRIVATE_VERSION} {{\n  global:\n    {PRIVATE_PREFIX}*;\n}} {EXTENSION_VERSION};"
    );
    s
}

/// The C source of a sibling: one tail jump per function to its bridge in libioth.so.0
/// (x86-64 and AArch64).
fn forwarder_source(sibling: &Sibling) -> String {
    let mut s = format!(
        "/* lib{name}.so.0 (ioth-rs), generated by ioth-clink: each function jumps to its\n \
         * implementation in libioth.so.0, {PRIVATE_PREFIX}NAME, with the caller's arguments\n \
         * untouched (any signature, variadic too). */\n",
        name = sibling.name
    );
    for (arch, body) in [
        // endbr64 is a no-op without CET and marks a valid indirect-branch target with it.
        ("__x86_64__", "\\tendbr64\\n\\tjmp {target}@PLT\\n"),
        ("__aarch64__", "\\tb {target}\\n"),
    ] {
        let directive = if s.contains("#if ") { "#elif" } else { "#if" };
        let _ = writeln!(s, "{directive} defined({arch})");
        for sym in sibling.symbols {
            let target = format!("{PRIVATE_PREFIX}{sym}");
            let code = body.replace("{target}", &target);
            let _ = writeln!(
                s,
                "__asm__(\".text\\n\\t.globl {sym}\\n\\t.type {sym}, %function\\n\\t.p2align 4\\n{sym}:\\n{code}\\t.size {sym}, .-{sym}\\n\");"
            );
        }
    }
    s.push_str(
        "#else\n#error \"ioth-clink: forwarders are written for x86-64 and AArch64\"\n#endif\n",
    );
    s
}

/// Links every library from `archive` (capi's `libioth.a`) into `out`: `libNAME.so.0.1.0`
/// with the `libNAME.so.0` and `libNAME.so` links, for `ioth` and each of [`SIBLINGS`].
/// Intermediate files go to `out/.work`, removed on success.
pub fn link(archive: &Path, out: &Path, tools: &Tools) -> Result<(), String> {
    let work = out.join(".work");
    std::fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let archive = archive
        .canonicalize()
        .map_err(|e| format!("{}: {e}", archive.display()))?;

    // 1. One relocatable object holding every member of the archive.
    let all = work.join("all.o");
    run(Command::new(&tools.ld)
        .args(["-r", "--whole-archive"])
        .arg(&archive)
        .arg("-o")
        .arg(&all))?;
    let defined = defined_globals(tools, &all)?;
    let mut missing = Vec::new();
    let bridged: Vec<&str> = SIBLINGS
        .iter()
        .flat_map(|s| s.symbols.iter().copied())
        .collect();
    for sym in ORIGINAL_SYMBOLS
        .iter()
        .chain(EXTENSION_SYMBOLS)
        .chain(&bridged)
    {
        if !defined.iter().any(|d| d == sym) {
            missing.push(*sym);
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "{} does not define {}",
            archive.display(),
            missing.join(", ")
        ));
    }

    // 2. Rename the bridges, keep only the wanted globals.
    let renames: String = bridged
        .iter()
        .map(|s| format!("{s} {PRIVATE_PREFIX}{s}\n"))
        .collect();
    let keep: String = ORIGINAL_SYMBOLS
        .iter()
        .chain(EXTENSION_SYMBOLS)
        .map(|s| format!("{s}\n"))
        .chain(bridged.iter().map(|s| format!("{PRIVATE_PREFIX}{s}\n")))
        .collect();
    write(&work.join("renames.txt"), &renames)?;
    write(&work.join("keep.txt"), &keep)?;
    run(Command::new(&tools.objcopy)
        .arg(format!(
            "--redefine-syms={}",
            work.join("renames.txt").display()
        ))
        .arg(format!(
            "--keep-global-symbols={}",
            work.join("keep.txt").display()
        ))
        .arg(&all))?;

    // 3. The link.
    write(&work.join("libioth.map"), &version_script())?;
    let so = out.join(file_name("ioth"));
    let tmp = work.join(file_name("ioth"));
    run(Command::new(&tools.cc)
        .args(["-shared", "-o"])
        .arg(&tmp)
        .arg(&all)
        .arg(format!("-Wl,-soname,{}", soname("ioth")))
        .arg(format!(
            "-Wl,--version-script={}",
            work.join("libioth.map").display()
        ))
        .args([
            "-Wl,--gc-sections",
            "-Wl,--no-undefined",
            "-Wl,-z,noexecstack",
        ])
        .args(NATIVE_LIBS))?;
    std::fs::rename(&tmp, &so).map_err(|e| format!("moving {}: {e}", so.display()))?;
    symlink(out, &soname("ioth"), &file_name("ioth"))?;
    symlink(out, "libioth.so", &soname("ioth"))?;
    // The relocatable object is the size of the archive: drop it as soon as possible.
    let _ = std::fs::remove_file(&all);

    // 4. The siblings: forwarders needing libioth.so.0 only, found beside them ($ORIGIN).
    for sibling in SIBLINGS {
        let src = work.join(format!("{}.c", sibling.name));
        write(&src, &forwarder_source(sibling))?;
        let script = work.join(format!("{}.map", sibling.name));
        let globals: String = sibling.symbols.iter().map(|s| format!("{s}; ")).collect();
        write(&script, &format!("{{ global: {globals}local: *; }};\n"))?;
        let file = file_name(sibling.name);
        let tmp = work.join(&file);
        run(Command::new(&tools.cc)
            .args(["-shared", "-fPIC", "-nostdlib", "-o"])
            .arg(&tmp)
            .arg(&src)
            .arg(format!("-Wl,-soname,{}", soname(sibling.name)))
            .arg(format!("-Wl,--version-script={}", script.display()))
            .args([
                "-Wl,--no-undefined",
                "-Wl,--no-as-needed",
                "-Wl,-z,noexecstack",
            ])
            .arg("-Wl,-rpath,$ORIGIN")
            .arg(&so))?;
        std::fs::rename(&tmp, out.join(&file)).map_err(|e| format!("moving {file}: {e}"))?;
        symlink(out, &soname(sibling.name), &file)?;
        symlink(
            out,
            &format!("lib{}.so", sibling.name),
            &soname(sibling.name),
        )?;
    }
    std::fs::remove_dir_all(&work).map_err(|e| format!("removing {}: {e}", work.display()))?;
    Ok(())
}

/// FNV-1a, a stable hash for cache keys.
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The cache key of a link of `archive`: its size and modification time, the tools, and this
/// recipe (this file's text).
pub fn build_key(archive: &Path, tools: &Tools) -> Result<String, String> {
    let meta = std::fs::metadata(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut h = 0xcbf2_9ce4_8422_2325;
    h = fnv(include_str!("lib.rs").as_bytes(), h);
    h = fnv(
        format!(
            "{}|{mtime}|{}|{}|{}|{}|{}",
            meta.len(),
            archive.display(),
            tools.cc,
            tools.ld,
            tools.objcopy,
            tools.readelf
        )
        .as_bytes(),
        h,
    );
    Ok(format!("{h:016x}"))
}

/// [`link`] into `cache/KEY` (see [`build_key`]) unless that is already linked; returns that
/// directory. Older keys' directories in `cache` are removed, so the cache holds one set.
/// Safe to call from concurrent processes: each links into a private directory that is then
/// renamed into place.
pub fn link_cached(archive: &Path, cache: &Path) -> Result<PathBuf, String> {
    let tools = Tools::from_env();
    let key = build_key(archive, &tools)?;
    let dir = cache.join(&key);
    let complete = |d: &Path| d.join(".complete").is_file();
    if complete(&dir) {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache).map_err(|e| format!("creating {}: {e}", cache.display()))?;
    let tmp = cache.join(format!(".tmp-{key}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    if let Err(e) = link(archive, &tmp, &tools) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    write(&tmp.join(".complete"), &key)?;
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process linked it first (or a stale incomplete one is there).
        if complete(&dir) {
            let _ = std::fs::remove_dir_all(&tmp);
        } else {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&tmp, &dir)
                .map_err(|e| format!("moving {} into place: {e}", dir.display()))?;
        }
    }
    // Older sets: removed (a test process still using one keeps its mapped files).
    if let Ok(entries) = std::fs::read_dir(cache) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name != key && !name.starts_with(".tmp-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_script_exports_extensions_and_bridges_only_by_name() {
        let s = version_script();
        assert!(s.contains("IOTH_RS_0.1 {"), "{s}");
        assert!(s.contains("ioth_set_thread_defstack;"), "{s}");
        assert!(s.contains("__start_*;"), "{s}");
        assert!(
            s.contains("IOTH_RS_PRIVATE {\n  global:\n    ioth_rs_private_*;"),
            "{s}"
        );
        assert!(
            !s.contains("local: *"),
            "the original's symbols stay unversioned: {s}"
        );
        for sym in ORIGINAL_SYMBOLS {
            assert!(!s.contains(&format!(" {sym};")), "{sym} is unversioned");
        }
    }

    #[test]
    fn forwarders_jump_to_their_bridges() {
        let s = forwarder_source(&SIBLINGS[1]);
        assert!(s.contains("jmp ioth_rs_private_iothaddr_hash@PLT"), "{s}");
        assert!(s.contains("b ioth_rs_private_iothaddr_hasheui64\\n"), "{s}");
        assert!(s.contains("#elif defined(__aarch64__)"), "{s}");
        assert_eq!(soname("iothaddr"), "libiothaddr.so.0");
        assert_eq!(file_name("ioth"), "libioth.so.0.1.0");
    }
}
