//! Stack plugins: shared objects with libioth's plugin ABI, loaded with libloading.
//!
//! A plugin for the implementation `NAME` is the file `ioth_NAME-r.so` (libioth's reentrant
//! name, under which `cargo xtask install` puts ours) or `ioth_NAME.so`, the `-r` one first
//! in each directory, searched in order in:
//! 1. each directory of `IOTH_PLUGIN_PATH` (colon-separated; an ioth-rs extension),
//! 2. `$HOME/.ioth/` (`./.ioth/` when `HOME` is unset, as the original does),
//! 3. the install libdir's `ioth/` folder ([`LIBDIR`]`/ioth`).
//!
//! That is the original loader's order after `IOTH_PLUGIN_PATH`. The original installs
//! `ioth_NAME_n.so` as a link to `ioth_NAME-r.so`: it is the implementation `NAME_n`, whose
//! entries are `ioth_NAME_n_*` (exported too by [`crate::export_plugin!`]).
//!
//! It exports `ioth_NAME_newstack` (required), optionally `ioth_NAME_delstack`, one
//! `ioth_NAME_<call>` per socket call and `ioth_NAME_license` (see [`abi`]), so a plugin
//! written for the C libioth loads unchanged; a Rust backend is exported with that ABI by
//! [`crate::export_plugin!`].
//!
//! Unlike libioth, which gives each stack of a non-reentrant plugin its own link-map namespace
//! (`dlmopen`), every plugin is loaded once per process (`dlopen`) and never unloaded: Rust
//! shared objects cannot safely be unloaded or duplicated (thread-local destructors), and every
//! stack of this project keeps its state per instance.

pub mod abi;
pub mod export;
mod loaded;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::backend::Backend;
use crate::error::errno_with;
pub use loaded::PluginBackend;

/// The install libdir compiled in (`IOTH_LIBDIR` at build time, else `/usr/local/lib`);
/// plugins are searched in its `ioth/` folder.
pub const LIBDIR: &str = match option_env!("IOTH_LIBDIR") {
    Some(dir) => dir,
    None => "/usr/local/lib",
};

/// The directories searched for plugins, in order.
///
/// ```
/// let dirs = ioth::plugin::search_path();
/// let libdir = std::path::Path::new(ioth::plugin::LIBDIR).join("ioth");
/// assert_eq!(dirs.last(), Some(&libdir)); // after IOTH_PLUGIN_PATH and ~/.ioth
/// ```
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(path) = std::env::var_os("IOTH_PLUGIN_PATH") {
        dirs.extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
    }
    // With no HOME, the original looks in ./.ioth (relative to the working directory).
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    dirs.push(home.join(".ioth"));
    dirs.push(Path::new(LIBDIR).join("ioth"));
    dirs
}

/// Loads the plugin for implementation `name` from the [`search_path`].
pub fn load(name: &str) -> io::Result<Arc<dyn Backend>> {
    load_from(name, &search_path())
}

/// Loads the plugin for implementation `name` from the first of `dirs` that has it.
///
/// `ENOTSUP` when no directory has it (the message lists the files tried), `EINVAL` for a name
/// that is not a plain word, `EPERM` when the program's licence forbids the plugin (see
/// [`crate::set_license`]), `ENOENT` when the file lacks `ioth_NAME_newstack`.
///
/// ```
/// use ioth::{errno_of, plugin};
/// let dir = std::env::temp_dir().join("ioth-doc-no-plugins-here"); // need not exist
/// let err = plugin::load_from("nosuch", &[dir.clone()]).err().expect("no such plugin");
/// assert_eq!(errno_of(&err), libc::ENOTSUP);
/// let tried = dir.join("ioth_nosuch.so");
/// assert!(err.to_string().contains(&*tried.to_string_lossy()), "{err}");
///
/// let err = plugin::load_from("../evil", &[dir]).err().expect("not a plain word");
/// assert_eq!(errno_of(&err), libc::EINVAL);
/// ```
pub fn load_from(name: &str, dirs: &[PathBuf]) -> io::Result<Arc<dyn Backend>> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(errno_with(
            libc::EINVAL,
            format!("stack implementation name {name:?} is not a plain word"),
        ));
    }
    let mut tried = Vec::new();
    for dir in dirs {
        for file in [format!("ioth_{name}-r.so"), format!("ioth_{name}.so")] {
            let path = dir.join(file);
            if path.is_file() {
                return load_file(name, &path);
            }
            tried.push(path.display().to_string());
        }
    }
    Err(errno_with(
        libc::ENOTSUP,
        format!(
            "no stack implementation {name:?}: not linked into the program, and no plugin at {}",
            tried.join(", ")
        ),
    ))
}

/// Loads the plugin file at `path` as implementation `name`; a file is opened once per process.
pub fn load_file(name: &str, path: &Path) -> io::Result<Arc<dyn Backend>> {
    /// Plugins opened so far, by implementation name and file.
    type Loaded = HashMap<(String, PathBuf), Arc<PluginBackend>>;
    static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);
    let path = path.canonicalize()?;
    let key = (name.to_owned(), path.clone());
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let map = loaded.get_or_insert_with(HashMap::new);
    let plugin = match map.get(&key) {
        Some(p) => p.clone(),
        None => {
            let p = Arc::new(PluginBackend::open(name, &path)?);
            map.insert(key, p.clone());
            p
        }
    };
    drop(loaded);
    let program = crate::license::license();
    if !crate::license::allows(program.as_deref(), plugin.license()) {
        return Err(errno_with(
            libc::EPERM,
            format!(
                "plugin {} is licensed {:?}, which a program licensed {:?} may not load",
                path.display(),
                plugin.license().unwrap_or(""),
                program.as_deref().unwrap_or("(undeclared)")
            ),
        ));
    }
    Ok(plugin)
}
