//! Serving a hub on the VDE control protocol: `PATH/ctl` accepts clients exactly as
//! vde_switch 2.3.2 does, one service thread per served hub handles every remote member.
//!
//! Per client: one read of at most 256 bytes must hold a whole version-3 request (anything
//! malformed, truncated or oversized closes that connection alone); the client's data socket
//! must be readable and writable by this process (`access(R_OK|W_OK)`, vde_switch's check)
//! and its owner becomes the port's user; our data socket connects to it, is bound at
//! `PATH/NNN.FD`, gets the hub's mode (as root: owned by that user with mode & 0700, as
//! vde_switch does) and its address is the 110-byte reply. EOF on the control stream frees
//! the port.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{HubCore, Port, ServeConfig, Sink};
use crate::ctl::{CtlRequest, MAX_REQUEST_LEN, PortRequest};
use crate::eth::MAX_FRAME_LEN;
use crate::impair::Impairment;
use crate::sys::{self, Epoll, MMSG_MAX};

const TOKEN_STOP: u64 = 0;
const TOKEN_LISTEN: u64 = 1;

/// A running service thread; dropping it stops the thread and removes the files.
pub(crate) struct Server {
    stop: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

enum Conn {
    /// Accepted, waiting for its request.
    Pending(OwnedFd),
    /// A remote member.
    Active {
        ctl: OwnedFd,
        port: Arc<Port>,
        data_path: PathBuf,
    },
}

struct State {
    core: Arc<HubCore>,
    dir: PathBuf,
    cfg: ServeConfig,
    epoll: Epoll,
    listener: OwnedFd,
    conns: HashMap<u64, Conn>,
    next_id: u64,
}

fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

impl Server {
    /// Creates `dir` (which must not exist) with its `ctl` socket and starts the thread.
    pub(crate) fn start(core: Arc<HubCore>, dir: &Path, cfg: &ServeConfig) -> io::Result<Server> {
        std::fs::create_dir(dir)?;
        let made = (|| -> io::Result<(OwnedFd, Epoll, OwnedFd)> {
            let dirmode = cfg.dirmode.unwrap_or(if cfg.mode == 0o600 {
                0o2700
            } else {
                0o2000 | cfg.mode | (cfg.mode & 0o444) >> 2 | (cfg.mode & 0o222) >> 1
            });
            if let Some(g) = cfg.group {
                std::os::unix::fs::chown(dir, None, Some(g))?;
            }
            set_mode(dir, dirmode)?;
            let ctl_path = dir.join("ctl");
            let listener = sys::unix_socket(libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
            sys::bind_un(&listener, &ctl_path)?;
            if let Some(g) = cfg.group {
                std::os::unix::fs::chown(&ctl_path, None, Some(g))?;
            }
            set_mode(&ctl_path, cfg.mode)?;
            sys::listen(&listener, 128)?;
            let epoll = Epoll::new()?;
            let stop = sys::eventfd()?;
            epoll.add(stop.as_raw_fd(), TOKEN_STOP)?;
            epoll.add(listener.as_raw_fd(), TOKEN_LISTEN)?;
            Ok((listener, epoll, stop))
        })();
        let (listener, epoll, stop) = match made {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(dir.join("ctl"));
                let _ = std::fs::remove_dir(dir);
                return Err(e);
            }
        };
        let mut st = State {
            core,
            dir: dir.to_owned(),
            cfg: cfg.clone(),
            epoll,
            listener,
            conns: HashMap::new(),
            next_id: 1,
        };
        let thread = std::thread::Builder::new()
            .name("vde-hub-serve".into())
            .spawn(move || {
                st.run();
                st.shutdown();
            })
            .inspect_err(|_| {
                let _ = std::fs::remove_file(dir.join("ctl"));
                let _ = std::fs::remove_dir(dir);
            })?;
        log::info!("serving a hub at {}", dir.display());
        Ok(Server {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        sys::eventfd_signal(self.stop.as_raw_fd());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl State {
    fn run(&mut self) {
        let mut ready = Vec::with_capacity(64);
        let mut bufs = vec![0u8; MMSG_MAX * MAX_FRAME_LEN];
        loop {
            if let Err(e) = self.epoll.wait(&mut ready, 64, -1) {
                log::error!("hub service epoll: {e}");
                return;
            }
            for &tok in &ready {
                match tok {
                    TOKEN_STOP => return,
                    TOKEN_LISTEN => self.accept_all(),
                    t if t & 1 == 0 => self.ctl_readable(t >> 1),
                    t => self.data_readable(t >> 1, &mut bufs),
                }
            }
        }
    }

    fn accept_all(&mut self) {
        loop {
            match sys::accept(self.listener.as_raw_fd()) {
                Ok(fd) => {
                    let id = self.next_id;
                    self.next_id += 1;
                    if let Err(e) = self.epoll.add(fd.as_raw_fd(), id << 1) {
                        log::warn!("hub: cannot watch a new control connection: {e}");
                        continue;
                    }
                    self.conns.insert(id, Conn::Pending(fd));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("hub: accept: {e}");
                    return;
                }
            }
        }
    }

    fn ctl_readable(&mut self, id: u64) {
        let mut buf = [0u8; MAX_REQUEST_LEN + 1];
        let fd = match self.conns.get(&id) {
            Some(Conn::Pending(fd)) | Some(Conn::Active { ctl: fd, .. }) => fd.as_raw_fd(),
            None => return,
        };
        let n = match sys::read(fd, &mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return;
            }
            Err(_) => 0,
        };
        match self.conns.get(&id) {
            Some(Conn::Pending(_)) if n > 0 => {
                let Some(Conn::Pending(ctl)) = self.conns.remove(&id) else {
                    return;
                };
                match CtlRequest::parse(&buf[..n]) {
                    Ok(req) => match self.new_port(id, &ctl, &req) {
                        Ok((port, data_path)) => {
                            self.conns.insert(
                                id,
                                Conn::Active {
                                    ctl,
                                    port,
                                    data_path,
                                },
                            );
                        }
                        Err(e) => {
                            log::warn!(
                                "hub {}: refused {:?}: {e}",
                                self.dir.display(),
                                req.description
                            );
                            self.epoll.del(ctl.as_raw_fd());
                        }
                    },
                    Err(e) => {
                        log::warn!("hub {}: {e}; closing that connection", self.dir.display());
                        self.epoll.del(ctl.as_raw_fd());
                    }
                }
            }
            Some(Conn::Active { .. }) if n > 0 => {
                log::debug!(
                    "hub {}: ignoring {n} bytes on an established control stream",
                    self.dir.display()
                );
            }
            _ => self.close(id),
        }
    }

    /// Grants a port to a valid request: checks, data socket, reply.
    fn new_port(
        &mut self,
        id: u64,
        ctl: &OwnedFd,
        req: &CtlRequest,
    ) -> io::Result<(Arc<Port>, PathBuf)> {
        let client = Path::new(OsStr::from_bytes(&req.data_path));
        sys::access_rw(client)?;
        let user = std::fs::metadata(client)?.uid();
        let data = sys::unix_socket(libc::SOCK_DGRAM | libc::SOCK_NONBLOCK)?;
        sys::connect_un(&data, client)?;
        let want = match req.port {
            PortRequest::Any => None,
            PortRequest::Number(n) => Some(n),
            PortRequest::Zero => Some(0),
        };
        let data_raw = data.as_raw_fd();
        let port = self.core.add_port(
            want,
            Sink::Remote(data),
            req.description.clone(),
            &Impairment::default(),
        )?;
        let data_path = self.dir.join(format!("{:03}.{}", port.id, data_raw));
        let granted = (|| -> io::Result<()> {
            let _ = std::fs::remove_file(&data_path);
            let fd = port
                .remote_fd()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
            sys::bind_un(fd, &data_path)?;
            if sys::geteuid() == 0 {
                set_mode(&data_path, self.cfg.mode & 0o700)?;
                std::os::unix::fs::chown(&data_path, Some(user), self.cfg.group)?;
            } else {
                set_mode(&data_path, self.cfg.mode)?;
                if let Some(g) = self.cfg.group {
                    std::os::unix::fs::chown(&data_path, None, Some(g))?;
                }
            }
            let sa = sys::sockaddr_un(data_path.as_os_str().as_bytes())?;
            let reply = sys::sockaddr_un_bytes(&sa);
            if sys::write(ctl.as_raw_fd(), &reply)? != reply.len() {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            self.epoll.add(data_raw, (id << 1) | 1)?;
            Ok(())
        })();
        if let Err(e) = granted {
            self.core.remove_port(&port);
            let _ = std::fs::remove_file(&data_path);
            return Err(e);
        }
        log::info!(
            "hub {}: port {} joined: {}",
            self.dir.display(),
            port.id,
            req.description
        );
        Ok((port, data_path))
    }

    fn data_readable(&mut self, id: u64, bufs: &mut [u8]) {
        let Some(Conn::Active { port, .. }) = self.conns.get(&id) else {
            return;
        };
        let Some(fd) = port.remote_fd().map(|f| f.as_raw_fd()) else {
            return;
        };
        let mut lens = [0usize; MMSG_MAX];
        let mut chunks = bufs.chunks_mut(MAX_FRAME_LEN);
        let mut slots: [&mut [u8]; MMSG_MAX] =
            std::array::from_fn(|_| chunks.next().unwrap_or(&mut []));
        match sys::recvmmsg(fd, &mut slots, &mut lens) {
            Ok(n) => {
                for i in 0..n {
                    self.core.ingress(port, &slots[i][..lens[i]]);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => log::debug!("hub {}: port {} data: {e}", self.dir.display(), port.id),
        }
    }

    fn close(&mut self, id: u64) {
        match self.conns.remove(&id) {
            Some(Conn::Pending(fd)) => self.epoll.del(fd.as_raw_fd()),
            Some(Conn::Active {
                ctl,
                port,
                data_path,
            }) => {
                self.epoll.del(ctl.as_raw_fd());
                if let Some(fd) = port.remote_fd() {
                    self.epoll.del(fd.as_raw_fd());
                }
                self.core.remove_port(&port);
                let _ = std::fs::remove_file(&data_path);
                log::info!("hub {}: port {} left", self.dir.display(), port.id);
            }
            None => {}
        }
    }

    fn shutdown(&mut self) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        let _ = std::fs::remove_file(self.dir.join("ctl"));
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            log::warn!("hub: cannot remove {}: {e}", self.dir.display());
        }
    }
}
