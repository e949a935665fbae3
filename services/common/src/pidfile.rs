//! A pid file created exclusively, as the originals do (`-p FILE`), and removed when the
//! service ends.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A pid file this process created. Dropping it removes the file.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Creates `path` holding this process's pid and a newline. Fails with `EEXIST` (the
    /// message naming the file) when it exists already: another instance may be running, and
    /// a stale file is for the operator to remove.
    pub fn create(path: &Path) -> io::Result<PidFile> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("pid file {}: {e}", path.display())))?;
        writeln!(file, "{}", std::process::id())
            .map_err(|e| io::Error::new(e.kind(), format!("pid file {}: {e}", path.display())))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            log::warn!("cannot remove pid file {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_pid_refuses_a_second_and_goes_away() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.pid");
        let pid = PidFile::create(&path).expect("first");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("{}\n", std::process::id()));
        let err = PidFile::create(&path).expect_err("second");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(err.to_string().contains("x.pid"), "{err}");
        drop(pid);
        assert!(!path.exists());
    }
}
