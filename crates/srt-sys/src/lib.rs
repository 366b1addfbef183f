//! SRT through Debian's libsrt 1.5: raw declarations ([`ffi`]) and a small
//! safe wrapper ([`listen`], [`connect`], [`Socket`], [`Epoll`]), blocking
//! unless asked otherwise.
//!
//! With the FFmpeg glue this is the only crate allowed `unsafe` (DESIGN.md);
//! every `unsafe` block says why it holds in a `// SAFETY:` comment.
//!
//! Contract:
//! - libsrt is started once per process on first use (`srt_startup` behind a
//!   `OnceLock`) and never cleaned up: sockets may live until exit.
//! - A [`Socket`] owns one `SRTSOCKET` and closes it on drop. libsrt is
//!   thread-safe, so one thread may `recv` while another `send`s or reads
//!   [`Socket::stats`].
//! - Live mode (`SRTT_LIVE`): one `send` is one message of at most
//!   [`Options::payload_size`] bytes (1316 = 7 TS packets by default); `recv`
//!   needs a buffer at least that large and returns one message.
//! - Errors are `std::io::Error` carrying libsrt's own message.
//!
//! [`Epoll`] waits on many non-blocking sockets ([`Options::nonblocking`])
//! from one thread; `transport::srt` bridges that thread to a flow.
//!
//! ```no_run
//! use srt_sys::{connect, Options};
//! let opts = Options { passphrase: Some("correct horse battery".into()), ..Options::default() };
//! let socket = connect("127.0.0.1:9000".parse()?, &opts)?;
//! socket.send(&[0x47; 1316])?;
//! println!("rtt {} ms", socket.stats(false)?.rtt_ms);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod epoll;
mod error;
pub mod ffi;
mod options;
mod socket;
mod stats;

pub use epoll::{Epoll, Interest, Ready};
pub use options::{KeyLength, Options};
pub use socket::{connect, listen, KeyState, Listener, Socket, SocketState};
pub use stats::Stats;

/// Ends the process with `code` at once, without running `atexit` handlers
/// or C++ static destructors.
///
/// libsrt's global state is a static C++ object: when a process exits the
/// usual way while any thread (a flow's SRT thread, an input's caller, one
/// of libsrt's own) is inside libsrt, its destructor tears that state down
/// under the thread and the process dies with SIGSEGV or a corrupted heap
/// instead of its exit code. A server that has written everything it keeps
/// ends through this instead; the kernel closes its sockets.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes any status and never returns; it touches no
    // memory of this process.
    unsafe { ffi::_exit(code) }
}
