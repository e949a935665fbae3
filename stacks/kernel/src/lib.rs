//! The host kernel's TCP/IP stack as an ioth backend, and the libioth plugin `ioth_kernel.so`.
//!
//! The backend itself lives in `ioth` ([`ioth::kernel`]), because a socket opened with no
//! default stack falls back to the kernel: a program that depends on `ioth` alone already
//! finds `"kernel"` by name. This crate re-exports it for programs that name it, and its
//! `cdylib` is the plugin `ioth_kernel.so` (libioth's ABI), which C programs and the original
//! libioth load by name.

pub use ioth::kernel::{KernelBackend, NAME};

ioth::export_plugin!("kernel", KernelBackend, "LGPL-2.1-or-later");
