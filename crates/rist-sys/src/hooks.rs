//! What librist's threads call back: statistics, peer admission and
//! connection changes, forwarded to the closures of a [`Hooks`].

use std::ffi::{c_char, c_int, c_void, CStr};
use std::net::{IpAddr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crate::ffi;
use crate::stats::Stats;

/// A change in a context's peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// A sender reached this receiver and was admitted.
    Admitted(SocketAddr),
    /// A sender reached this receiver and [`Hooks::admit`] refused it.
    Refused(SocketAddr),
    /// The peer answers (a sender's receiver, or a receiver's sender).
    Connected,
    /// The peer stopped answering.
    TimedOut,
}

type Admit = Box<dyn Fn(SocketAddr) -> bool + Send + Sync>;
type OnPeer = Box<dyn Fn(PeerEvent) + Send + Sync>;
type OnStats = Box<dyn Fn(Stats) + Send + Sync>;

/// Closures librist's own threads call. They must return quickly and
/// never block (a panic is caught and ignored).
pub struct Hooks {
    /// Whether a sender from this address may deliver (receivers).
    pub admit: Admit,
    pub on_peer: OnPeer,
    pub on_stats: OnStats,
    /// How often `on_stats` is called.
    pub stats_every: Duration,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            admit: Box::new(|_| true),
            on_peer: Box::new(|_| {}),
            on_stats: Box::new(|_| {}),
            stats_every: Duration::from_secs(1),
        }
    }
}

/// Runs a hook, keeping a panic from unwinding into C.
fn guarded<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// # Safety
/// `arg` must point to a live `Hooks` (the context's, see `Ctx`).
unsafe fn hooks<'a>(arg: *mut c_void) -> Option<&'a Hooks> {
    // SAFETY: per this function's contract.
    unsafe { arg.cast::<Hooks>().as_ref() }
}

pub(crate) unsafe extern "C" fn on_stats(arg: *mut c_void, s: *const ffi::rist_stats) -> c_int {
    if s.is_null() {
        return 0;
    }
    // SAFETY: librist passes a valid container, ours until rist_stats_free.
    let stats = Stats::from_raw(unsafe { &*s });
    // SAFETY: freed once, after the last read above.
    unsafe { ffi::rist_stats_free(s) };
    // SAFETY: `arg` is the context's hooks (set in `Ctx::new`).
    if let (Some(h), Some(stats)) = (unsafe { hooks(arg) }, stats) {
        guarded((), || (h.on_stats)(stats));
    }
    0
}

pub(crate) unsafe extern "C" fn on_status(
    arg: *mut c_void,
    _peer: *mut ffi::rist_peer,
    status: ffi::rist_connection_status,
) {
    let event = match status {
        ffi::RIST_CONNECTION_ESTABLISHED | ffi::RIST_CLIENT_CONNECTED => PeerEvent::Connected,
        ffi::RIST_CONNECTION_TIMED_OUT | ffi::RIST_CLIENT_TIMED_OUT => PeerEvent::TimedOut,
        _ => return,
    };
    // SAFETY: `arg` is the context's hooks (set in `Ctx::new`).
    if let Some(h) = unsafe { hooks(arg) } {
        guarded((), || (h.on_peer)(event));
    }
}

pub(crate) unsafe extern "C" fn on_connect(
    arg: *mut c_void,
    conn_ip: *const c_char,
    conn_port: u16,
    _local_ip: *const c_char,
    _local_port: u16,
    _peer: *mut ffi::rist_peer,
) -> c_int {
    // SAFETY: `arg` is the context's hooks (set in `Ctx::new`).
    let Some(h) = (unsafe { hooks(arg) }) else {
        return 0;
    };
    if conn_ip.is_null() {
        return -1;
    }
    // SAFETY: librist passes a NUL-terminated address string.
    let ip = unsafe { CStr::from_ptr(conn_ip) }.to_string_lossy();
    // An address we cannot read cannot be checked against an allow list.
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return -1;
    };
    let from = SocketAddr::new(ip, conn_port);
    let ok = guarded(false, || (h.admit)(from));
    let event = if ok {
        PeerEvent::Admitted(from)
    } else {
        PeerEvent::Refused(from)
    };
    guarded((), || (h.on_peer)(event));
    if ok {
        0
    } else {
        -1
    }
}

pub(crate) unsafe extern "C" fn on_disconnect(
    _arg: *mut c_void,
    _peer: *mut ffi::rist_peer,
) -> c_int {
    0
}
