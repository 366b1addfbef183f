//! libsrt's own readiness poller (`srt_epoll_*`): one thread waits on any
//! number of non-blocking SRT sockets and learns which can be read, written,
//! or have failed.
//!
//! SRT sockets are not file descriptors (libsrt runs its UDP I/O on threads
//! of its own), so tokio cannot poll them; a thread blocked in
//! [`Epoll::wait`] is the bridge.
//!
//! ```no_run
//! use std::time::Duration;
//! use srt_sys::{listen, Epoll, Interest, Options};
//! let opts = Options { nonblocking: true, ..Options::default() };
//! let listener = listen("127.0.0.1:9000".parse()?, &opts)?;
//! let epoll = Epoll::new()?;
//! epoll.add(listener.socket(), Interest::READ)?;
//! let mut ready = Vec::new();
//! epoll.wait(&mut ready, Duration::from_millis(100))?;
//! for r in &ready {
//!     if r.socket == listener.socket().raw() && r.readable {
//!         let (_socket, peer) = listener.accept()?;
//!         println!("caller {peer}");
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::c_int;
use std::io;
use std::time::Duration;

use crate::error::last_error;
use crate::ffi;
use crate::socket::Socket;

/// The most events one [`Epoll::wait`] reports.
const MAX_EVENTS: usize = 64;

/// Which readiness to watch for; errors are always reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(c_int);

impl Interest {
    /// A message can be received, or (on a listener) a caller accepted.
    pub const READ: Interest = Interest(ffi::SRT_EPOLL_IN | ffi::SRT_EPOLL_ERR);
    /// A message can be sent, or a non-blocking connect has completed.
    pub const WRITE: Interest = Interest(ffi::SRT_EPOLL_OUT | ffi::SRT_EPOLL_ERR);
    /// Only failures (a broken or refused connection).
    pub const ERROR: Interest = Interest(ffi::SRT_EPOLL_ERR);
}

/// One socket [`Epoll::wait`] found ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The libsrt handle ([`Socket::raw`]).
    pub socket: ffi::SRTSOCKET,
    pub readable: bool,
    pub writable: bool,
    /// Broken, closed by the peer, or its connection refused.
    pub error: bool,
}

/// An `srt_epoll` container, released on drop. Sockets are registered by
/// handle: remove a socket (or drop it, which libsrt also notices) before
/// its handle can be reused.
#[derive(Debug)]
pub struct Epoll {
    eid: c_int,
}

impl Epoll {
    /// A new, empty poller. Waiting with no socket registered just sleeps.
    pub fn new() -> io::Result<Epoll> {
        crate::socket::startup()?;
        // SAFETY: no arguments; returns an id or SRT_ERROR.
        let eid = unsafe { ffi::srt_epoll_create() };
        if eid < 0 {
            return Err(last_error("srt_epoll_create"));
        }
        let epoll = Epoll { eid };
        // SAFETY: plain integers on the id just created.
        let rc = unsafe { ffi::srt_epoll_set(eid, ffi::SRT_EPOLL_ENABLE_EMPTY) };
        if rc < 0 {
            return Err(last_error("srt_epoll_set"));
        }
        Ok(epoll)
    }

    /// Watches `socket` for `interest` (again: replaces the interest).
    pub fn add(&self, socket: &Socket, interest: Interest) -> io::Result<()> {
        let events = interest.0;
        // SAFETY: `events` is one live c_int read during the call.
        let rc = unsafe { ffi::srt_epoll_add_usock(self.eid, socket.raw(), &events) };
        if rc < 0 {
            return Err(last_error("srt_epoll_add_usock"));
        }
        Ok(())
    }

    /// Stops watching `socket`; an unknown socket is not an error.
    pub fn remove(&self, socket: &Socket) {
        // SAFETY: plain integers; libsrt ignores sockets it does not hold.
        unsafe { ffi::srt_epoll_remove_usock(self.eid, socket.raw()) };
    }

    /// Waits up to `timeout` for a registered socket to become ready and
    /// replaces the contents of `ready` with what is (empty on timeout).
    pub fn wait(&self, ready: &mut Vec<Ready>, timeout: Duration) -> io::Result<()> {
        ready.clear();
        let mut events = [ffi::SRT_EPOLL_EVENT { fd: 0, events: 0 }; MAX_EVENTS];
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        // SAFETY: `events` is writable for MAX_EVENTS entries, the size
        // passed; libsrt writes at most that many.
        let n =
            unsafe { ffi::srt_epoll_uwait(self.eid, events.as_mut_ptr(), MAX_EVENTS as c_int, ms) };
        let Ok(n) = usize::try_from(n) else {
            let err = last_error("srt_epoll_uwait");
            // A timeout is reported as an error by some libsrt versions.
            if err.kind() == io::ErrorKind::TimedOut {
                return Ok(());
            }
            return Err(err);
        };
        ready.extend(events.iter().take(n).map(|e| Ready {
            socket: e.fd,
            readable: e.events & ffi::SRT_EPOLL_IN != 0,
            writable: e.events & ffi::SRT_EPOLL_OUT != 0,
            error: e.events & ffi::SRT_EPOLL_ERR != 0,
        }));
        Ok(())
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: `eid` is owned by this Epoll and released exactly once.
        unsafe { ffi::srt_epoll_release(self.eid) };
    }
}
