//! # ioth-service: what the IoTh service programs share
//!
//! iothnamed, the OTIP tools, namedhcp and iothradvd are each a library (the service runs as
//! threads of the caller's process) and a thin binary. This crate holds what their binaries
//! and libraries have in common, so that they behave alike:
//!
//! - [`rcfile`]: the originals' rc files (`key value` lines whose keys are long options),
//!   merged under the command line, with errors naming the file and line;
//! - [`pidfile`], [`daemon`], [`logging`] (env_logger or syslog), [`signals`];
//! - [`stack`]: a stack from iothconf configuration lines, strict about failures;
//! - [`clock`]: the time services reason in (OTIP windows, TTLs, lease and RA timers), which
//!   tests replace by a clock they move.

pub mod clock;
pub mod daemon;
pub mod logging;
pub mod pidfile;
pub mod rcfile;
pub mod signals;
pub mod stack;

/// Makes sure the kernel and smoltcp backends are linked into the program, so that
/// `stack=kernel` and `stack=smoltcp` in a configuration find their implementation: write
/// `ioth_service::link_backends!();` in every service's `main` (a backend nobody names could
/// be dropped by the linker). The calling crate depends on `ioth-kernel` and `ioth-smoltcp`.
///
/// A macro, not a function of this crate, so that this crate and the service libraries never
/// name the backends: a library that does cannot be loaded by its doc tests once the plugin
/// fixtures have rebuilt the backends' (unhashed, cdylib-package) rlibs with other features.
#[macro_export]
macro_rules! link_backends {
    () => {
        ::std::hint::black_box((
            ::ioth_kernel::NAME,
            ::ioth_smoltcp::driver_threads as fn() -> usize,
        ))
    };
}
