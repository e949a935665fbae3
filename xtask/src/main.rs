//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `install --prefix DIR [--debug]`: builds (release unless `--debug`) and installs
//!   - the stack plugins as `DIR/lib/ioth/ioth_<name>-r.so`, the reentrant name the original
//!     libioth's loader opens in the program's own namespace (`dlopen`), with the link
//!     `ioth_<name>_n.so` beside it as the original installs its plugins;
//!   - the C libraries, linked from capi's `libioth.a` by `ioth-clink`: `libioth.so.0`
//!     (file `libioth.so.0.1.0`, links `libioth.so.0` and `libioth.so`), `libiothconf.so.0`,
//!     `libiothaddr.so.0` and `libiothdns.so.0` (forwarders to libioth.so.0, same pattern),
//!     and `libioth.a`, when the workspace builds them;
//!   - the headers of `ioth-core/include/` into `DIR/include/`;
//!   - `DIR/lib/pkgconfig/{ioth,iothconf,iothaddr,iothdns}.pc`, with the C libraries;
//!   - the service programs (iothnamed, hashaddr, otipaddr, otip_rproxy, namedhcp,
//!     iothradvd: those whose crates the workspace has) into `DIR/bin/`.
//!
//!   The libraries are built with `IOTH_LIBDIR=DIR/lib`, so the facade searches
//!   `DIR/lib/ioth/` for plugins. Shared objects and programs are installed stripped, their
//!   debug information split into `.debug/NAME.debug` beside them (found by gdb through
//!   `.gnu_debuglink`); `libioth.a` without debug information. Outside `/usr` and
//!   `/usr/local`, the `.pc` files' `Libs` carry `-Wl,-rpath,DIR/lib`, so that a program
//!   built with `pkg-config --libs ioth` finds libioth when it runs.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Workspace packages whose cdylib is a stack plugin, with the plugin's name.
const PLUGINS: &[(&str, &str)] = &[("ioth-kernel", "kernel"), ("ioth-smoltcp", "smoltcp")];

/// The service programs: package, its directory, and the binaries it installs (a binary the
/// package does not build, such as an optional `namedhcp4`, is skipped).
const SERVICES: &[(&str, &str, &[&str])] = &[
    ("iothnamed", "services/iothnamed", &["iothnamed"]),
    (
        "ioth-otip",
        "services/otip",
        &["hashaddr", "otipaddr", "otip_rproxy"],
    ),
    ("namedhcp", "services/namedhcp", &["namedhcp", "namedhcp4"]),
    ("iothradvd", "services/iothradvd", &["iothradvd"]),
];

/// The package that builds the C library `libioth`, and its directory.
const C_LIBRARY: (&str, &str) = ("ioth-capi", "capi");

const USAGE: &str = "usage: cargo xtask install --prefix DIR [--debug]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("install") => match parse_install(&args[1..]).and_then(|o| install(&o)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask install: {e}");
                ExitCode::FAILURE
            }
        },
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

struct InstallOptions {
    prefix: PathBuf,
    release: bool,
}

fn parse_install(args: &[String]) -> Result<InstallOptions, String> {
    let mut prefix = None;
    let mut release = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--prefix" => prefix = it.next().map(PathBuf::from),
            "--debug" => release = false,
            other => {
                if let Some(p) = other.strip_prefix("--prefix=") {
                    prefix = Some(PathBuf::from(p));
                } else {
                    return Err(format!("unknown argument {other:?}\n{USAGE}"));
                }
            }
        }
    }
    let prefix = prefix.ok_or_else(|| format!("--prefix DIR is required\n{USAGE}"))?;
    std::fs::create_dir_all(&prefix).map_err(|e| format!("creating {}: {e}", prefix.display()))?;
    let prefix = prefix
        .canonicalize()
        .map_err(|e| format!("{}: {e}", prefix.display()))?;
    Ok(InstallOptions { prefix, release })
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn install(o: &InstallOptions) -> Result<(), String> {
    let root = workspace_root();
    let libdir = o.prefix.join("lib");
    let mut packages: Vec<&str> = PLUGINS
        .iter()
        .filter(|(pkg, _)| package_builds_cdylib(&root, pkg))
        .map(|(pkg, _)| *pkg)
        .collect();
    let with_c_library = root.join(C_LIBRARY.1).join("Cargo.toml").is_file();
    if with_c_library {
        packages.push(C_LIBRARY.0);
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.current_dir(&root).args(["build", "--lib"]);
    if o.release {
        build.arg("--release");
    }
    for p in &packages {
        build.args(["-p", p]);
    }
    build.env("IOTH_LIBDIR", &libdir);
    run(&mut build)?;

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join(if o.release { "release" } else { "debug" });

    let plugin_dir = libdir.join("ioth");
    mkdir(&plugin_dir)?;
    for (pkg, name) in PLUGINS {
        if !packages.contains(pkg) {
            continue;
        }
        let file = format!("ioth_{name}-r.so");
        install_stripped(
            &target.join(format!("libioth_{name}.so")),
            &plugin_dir.join(&file),
            Debug::Split,
        )?;
        ioth_clink::symlink(&plugin_dir, &format!("ioth_{name}_n.so"), &file)?;
        // An older install's name, which would shadow nothing but confuse.
        let _ = std::fs::remove_file(plugin_dir.join(format!("ioth_{name}.so")));
    }
    if with_c_library {
        install_c_libraries(&target, &libdir)?;
    }
    let include_src = root.join("ioth-core").join("include");
    if include_src.is_dir() {
        let include = o.prefix.join("include");
        mkdir(&include)?;
        for entry in std::fs::read_dir(&include_src).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.path().extension().is_some_and(|e| e == "h") {
                copy(&entry.path(), &include.join(entry.file_name()))?;
            }
        }
    }
    if !with_c_library {
        println!(
            "installed plugins into {}; this workspace builds no C library yet, so no ioth.pc",
            plugin_dir.display()
        );
        return Ok(());
    }
    let pkgconfig = libdir.join("pkgconfig");
    mkdir(&pkgconfig)?;
    let pc = format!(
        "{head}\nplugindir=${{libdir}}/ioth\n\n\
         Name: ioth\nDescription: Internet of Threads: per-process and per-thread network stacks (libioth-compatible)\n\
         Version: {version}\nLibs: -L${{libdir}}{rpath} -lioth\nLibs.private: {private}\nCflags: -I${{includedir}}\n",
        head = pc_head(o),
        version = env!("CARGO_PKG_VERSION"),
        private = ioth_clink::NATIVE_LIBS.join(" "),
        rpath = rpath(o),
    );
    write(&pkgconfig.join("ioth.pc"), &pc)?;
    for sibling in ioth_clink::SIBLINGS {
        let pc = format!(
            "{head}\n\nName: {name}\nDescription: {description}\n\
             Version: {version}\nRequires: ioth\nLibs: -L${{libdir}}{rpath} -l{name}\nCflags: -I${{includedir}}\n",
            head = pc_head(o),
            name = sibling.name,
            description = sibling.description,
            version = env!("CARGO_PKG_VERSION"),
            rpath = rpath(o),
        );
        write(&pkgconfig.join(format!("{}.pc", sibling.name)), &pc)?;
    }
    install_services(o, &root, &target, &libdir)?;
    println!(
        "installed into {} (plugins in {})",
        o.prefix.display(),
        plugin_dir.display()
    );
    Ok(())
}

/// Builds the service programs the workspace has and copies them into `PREFIX/bin`.
fn install_services(
    o: &InstallOptions,
    root: &Path,
    target: &Path,
    libdir: &Path,
) -> Result<(), String> {
    let present: Vec<&(&str, &str, &[&str])> = SERVICES
        .iter()
        .filter(|(_, dir, _)| root.join(dir).join("Cargo.toml").is_file())
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // The same IOTH_LIBDIR as the libraries', so that nothing is rebuilt for another value.
    build
        .current_dir(root)
        .args(["build", "--bins"])
        .env("IOTH_LIBDIR", libdir);
    if o.release {
        build.arg("--release");
    }
    for (pkg, _, _) in &present {
        build.args(["-p", pkg]);
    }
    run(&mut build)?;
    let bindir = o.prefix.join("bin");
    mkdir(&bindir)?;
    for (_, _, bins) in present {
        for bin in *bins {
            let built = target.join(bin);
            if built.is_file() {
                install_stripped(&built, &bindir.join(bin), Debug::Split)?;
            }
        }
    }
    Ok(())
}

/// The first lines of a `.pc` file of the prefix.
fn pc_head(o: &InstallOptions) -> String {
    format!(
        "prefix={prefix}\nexec_prefix=${{prefix}}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include",
        prefix = o.prefix.display()
    )
}

/// `-Wl,-rpath,${libdir}` outside `/usr` and `/usr/local`, where the dynamic linker would
/// not look.
fn rpath(o: &InstallOptions) -> &'static str {
    if ["/usr", "/usr/local"]
        .iter()
        .any(|p| o.prefix == Path::new(p))
    {
        ""
    } else {
        " -Wl,-rpath,${libdir}"
    }
}

/// Links the C libraries from `target/libioth.a` (with ioth-clink, cached in
/// `target/ioth-clink`) and installs them into `libdir`: each `libNAME.so.0.1.0` stripped,
/// with its `libNAME.so.0` and `libNAME.so` links, and `libioth.a`.
fn install_c_libraries(target: &Path, libdir: &Path) -> Result<(), String> {
    let archive = target.join("libioth.a");
    let linked = ioth_clink::link_cached(&archive, &target.join("ioth-clink"))?;
    for name in ioth_clink::library_names() {
        let file = ioth_clink::file_name(name);
        install_stripped(&linked.join(&file), &libdir.join(&file), Debug::Split)?;
        let soname = ioth_clink::soname(name);
        ioth_clink::symlink(libdir, &soname, &file)?;
        ioth_clink::symlink(libdir, &format!("lib{name}.so"), &soname)?;
    }
    install_stripped(&archive, &libdir.join("libioth.a"), Debug::Drop)
}

/// Whether a package exists and its library is built as a cdylib (a plugin).
fn package_builds_cdylib(root: &Path, pkg: &str) -> bool {
    let dir = match pkg {
        "ioth-kernel" => root.join("stacks/kernel"),
        "ioth-smoltcp" => root.join("stacks/smoltcp"),
        _ => return false,
    };
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|m| m.contains("\"cdylib\""))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("creating {}: {e}", p.display()))
}

/// What [`install_stripped`] does with debug information.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Debug {
    /// Split into `DIR/.debug/NAME.debug`, linked from the stripped file by
    /// `.gnu_debuglink` (where gdb looks for it): shared objects and programs.
    Split,
    /// Dropped: static archives (a program linked with them has its own).
    Drop,
}

/// Installs `from` as `to` without its debug information (see [`Debug`]), with `objcopy`;
/// without `objcopy` the file is installed as built, and a warning says so.
fn install_stripped(from: &Path, to: &Path, debug: Debug) -> Result<(), String> {
    let tmp = to.with_extension("tmp-install");
    std::fs::copy(from, &tmp).map_err(|e| format!("copying {}: {e}", from.display()))?;
    let objcopy = std::env::var("OBJCOPY").unwrap_or_else(|_| "objcopy".into());
    let available = Command::new(&objcopy)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        println!(
            "  warning: no {objcopy}: {} keeps its debug information",
            to.display()
        );
    } else if debug == Debug::Drop {
        run(Command::new(&objcopy).arg("--strip-debug").arg(&tmp))?;
    } else {
        let dir = to.parent().unwrap_or(Path::new(".")).join(".debug");
        mkdir(&dir)?;
        let name = to
            .file_name()
            .ok_or_else(|| format!("{}: no file name", to.display()))?;
        let mut debug_name = name.to_os_string();
        debug_name.push(".debug");
        let debug_file = dir.join(&debug_name);
        run(Command::new(&objcopy)
            .arg("--only-keep-debug")
            .arg(&tmp)
            .arg(&debug_file))?;
        run(Command::new(&objcopy)
            .args(["--strip-debug", "--strip-unneeded"])
            .arg(&tmp))?;
        // The link names the file by its base name; gdb finds it in `.debug/` beside `to`.
        run(Command::new(&objcopy)
            .arg(format!("--add-gnu-debuglink={}", debug_file.display()))
            .arg(&tmp))?;
        println!("  {}", debug_file.display());
    }
    std::fs::rename(&tmp, to).map_err(|e| format!("installing {}: {e}", to.display()))?;
    println!("  {}", to.display());
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    // Write a fresh file (not over the old one in place): a running program may have the old
    // library mapped.
    let tmp = to.with_extension("tmp-install");
    std::fs::copy(from, &tmp).map_err(|e| format!("copying {}: {e}", from.display()))?;
    std::fs::rename(&tmp, to).map_err(|e| format!("installing {}: {e}", to.display()))?;
    println!("  {}", to.display());
    Ok(())
}

fn write(to: &Path, text: &str) -> Result<(), String> {
    std::fs::write(to, text).map_err(|e| format!("writing {}: {e}", to.display()))?;
    println!("  {}", to.display());
    Ok(())
}
