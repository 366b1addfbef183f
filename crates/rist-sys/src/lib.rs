//! RIST through Debian's librist 0.2.7: raw declarations ([`ffi`]) and a
//! small safe wrapper, a [`Receiver`] listening on an address and a
//! [`Sender`] sending to one, in the simple (VSF TR-06-1) or main
//! (TR-06-2) profile.
//!
//! With the FFmpeg glue and srt-sys this is the only crate allowed `unsafe`
//! (DESIGN.md); every `unsafe` block says why it holds in a `// SAFETY:`
//! comment.
//!
//! Contract:
//! - librist runs its own threads (network I/O, retransmission, the
//!   callbacks in [`Hooks`]); a context is destroyed, and its threads
//!   joined, before the hooks it calls are freed.
//! - A [`Receiver`] is read from one thread with a timeout
//!   ([`Receiver::read`]); a [`Sender`] copies each message into librist's
//!   buffer ([`Sender::send`]) and never waits for the network.
//! - Peers are configured through a `rist://` URL built here from a socket
//!   address and numbers only, never from user text.
//! - Errors carry librist's own reason: the error lines librist logs on the
//!   calling thread while a call fails.
//!
//! ```no_run
//! use std::time::Duration;
//! use rist_sys::{Hooks, Profile, Receiver, Sender};
//! let rx = Receiver::listen("127.0.0.1:6000".parse()?, Profile::Simple, Duration::from_millis(500), Hooks::default())?;
//! let tx = Sender::connect("127.0.0.1:6000".parse()?, Profile::Simple, Duration::from_millis(500), Hooks::default())?;
//! tx.send(&[0x47; 1316])?;
//! if let Some(m) = rx.read(Duration::from_millis(100))? {
//!     println!("{} bytes", m.payload.len());
//! }
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

pub mod ffi;
mod hooks;
mod log;
mod stats;

use std::ffi::{c_int, CString};
use std::net::SocketAddr;
use std::ptr;
use std::time::Duration;

pub use hooks::{Hooks, PeerEvent};
pub use stats::{ReceiverStats, SenderStats, Stats};

/// The RIST profile of a context. Both ends must use the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// VSF TR-06-1: RTP on an even port, RTCP on the next one.
    #[default]
    Simple,
    /// VSF TR-06-2: GRE tunnelling over one UDP port.
    Main,
}

impl Profile {
    fn raw(self) -> ffi::rist_profile {
        match self {
            Profile::Simple => ffi::RIST_PROFILE_SIMPLE,
            Profile::Main => ffi::RIST_PROFILE_MAIN,
        }
    }
}

/// A librist call failed; `reason` is what librist logged about it.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct Error {
    pub what: &'static str,
    pub reason: String,
}

fn fail(what: &'static str) -> Error {
    Error {
        what,
        reason: log::take_error().unwrap_or_else(|| "librist gave no reason".to_owned()),
    }
}

/// librist's version string, e.g. "0.2.7".
pub fn version() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string (or null).
    let p = unsafe { ffi::librist_version() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated, static for the process.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// One message a receiver delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub payload: Vec<u8>,
    /// Messages before this one were lost for good.
    pub discontinuity: bool,
}

/// A context and the hooks its threads call; destroyed in that order.
struct Ctx {
    raw: *mut ffi::rist_ctx,
    hooks: *mut Hooks,
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: `raw` came from rist_*_create and is destroyed once;
        // rist_destroy joins librist's threads, so no callback runs after it.
        unsafe { ffi::rist_destroy(self.raw) };
        // SAFETY: `hooks` came from Box::into_raw in `Ctx::new` and no
        // thread can reach it any more.
        drop(unsafe { Box::from_raw(self.hooks) });
    }
}

// SAFETY: librist contexts are made to be driven from another thread than
// their own workers (reads, writes and destroy lock internally); the hooks
// are Send + Sync.
unsafe impl Send for Ctx {}

/// Fails, naming the port, if a port a receiver needs is taken. librist
/// 0.2.7 crashes inside `rist_peer_create` when its bind fails, so the ports
/// are tried here first (a program taking one in between is not covered).
fn ports_free(addr: SocketAddr, profile: Profile) -> Result<(), Error> {
    let mut ports = vec![addr.port()];
    if profile == Profile::Simple {
        // RTCP on the next port (TR-06-1 §5.2).
        ports.push(addr.port().checked_add(1).ok_or(Error {
            what: "cannot listen for RIST",
            reason: "the simple profile needs port+1 for RTCP".to_owned(),
        })?);
    }
    for port in ports {
        let a = SocketAddr::new(addr.ip(), port);
        if let Err(e) = std::net::UdpSocket::bind(a) {
            return Err(Error {
                what: "cannot listen for RIST",
                reason: format!("{a}: {e}"),
            });
        }
    }
    Ok(())
}

/// `rist://…?buffer=…` for `addr`; `@` makes the peer listen.
fn url(addr: SocketAddr, listen: bool, buffer: Duration) -> Result<CString, Error> {
    let at = if listen { "@" } else { "" };
    let ms = buffer.as_millis().clamp(1, 30_000);
    CString::new(format!("rist://{at}{addr}?buffer={ms}")).map_err(|_| Error {
        what: "rist url",
        reason: "contains a NUL byte".to_owned(),
    })
}

impl Ctx {
    /// Creates a receiver or sender context with one peer and starts it.
    fn new(
        receiver: bool,
        profile: Profile,
        addr: SocketAddr,
        buffer: Duration,
        hooks: Hooks,
    ) -> Result<Ctx, Error> {
        let logging = log::settings();
        log::take_error();
        let mut raw = ptr::null_mut();
        // SAFETY: `raw` is a valid out pointer; `logging` is the process-wide
        // settings object, never freed.
        let rc = unsafe {
            if receiver {
                ffi::rist_receiver_create(&mut raw, profile.raw(), logging)
            } else {
                let flow_id = ffi::rist_flow_id_create();
                ffi::rist_sender_create(&mut raw, profile.raw(), flow_id, logging)
            }
        };
        if rc != 0 || raw.is_null() {
            return Err(fail("cannot create a RIST context"));
        }
        let every = hooks.stats_every;
        let ctx = Ctx {
            raw,
            hooks: Box::into_raw(Box::new(hooks)),
        };
        // From here on dropping `ctx` cleans up.
        if receiver {
            ports_free(addr, profile)?;
        }
        ctx.add_peer(&url(addr, receiver, buffer)?)?;
        let arg = ctx.hooks.cast::<std::ffi::c_void>();
        let interval = c_int::try_from(every.as_millis())
            .unwrap_or(c_int::MAX)
            .max(1);
        // SAFETY: `arg` points to the boxed hooks, which outlive the context
        // (see `Drop`); the callbacks only read it.
        let rc = unsafe {
            ffi::rist_stats_callback_set(ctx.raw, interval, Some(hooks::on_stats), arg)
                | ffi::rist_connection_status_callback_set(ctx.raw, Some(hooks::on_status), arg)
                | ffi::rist_auth_handler_set(
                    ctx.raw,
                    Some(hooks::on_connect),
                    Some(hooks::on_disconnect),
                    arg,
                )
        };
        if rc != 0 {
            return Err(fail("cannot set the RIST callbacks"));
        }
        // SAFETY: a configured context, started once.
        if unsafe { ffi::rist_start(ctx.raw) } != 0 {
            return Err(fail("cannot start RIST"));
        }
        Ok(ctx)
    }

    fn add_peer(&self, url: &CString) -> Result<(), Error> {
        let mut config = ptr::null_mut();
        // SAFETY: `url` is NUL-terminated; `config` is a valid out pointer,
        // allocated by librist and freed below.
        if unsafe { ffi::rist_parse_address2(url.as_ptr(), &mut config) } != 0 || config.is_null() {
            return Err(fail("cannot parse the RIST peer address"));
        }
        let mut peer = ptr::null_mut();
        // SAFETY: a live context and the config just parsed; librist copies
        // what it needs from the config.
        let rc = unsafe { ffi::rist_peer_create(self.raw, &mut peer, config) };
        let err = (rc != 0).then(|| fail("cannot open the RIST peer"));
        // SAFETY: allocated by rist_parse_address2 above, freed once.
        unsafe { ffi::rist_peer_config_free2(&mut config) };
        err.map_or(Ok(()), Err)
    }
}

/// Listens on `bind` for RIST senders (the simple profile also takes
/// RTCP on the next port).
pub struct Receiver {
    ctx: Ctx,
}

impl Receiver {
    /// `buffer`: the recovery buffer (how long a lost packet may be asked
    /// for again), 1 ms to 30 s.
    pub fn listen(
        bind: SocketAddr,
        profile: Profile,
        buffer: Duration,
        hooks: Hooks,
    ) -> Result<Self, Error> {
        Ok(Receiver {
            ctx: Ctx::new(true, profile, bind, buffer, hooks)?,
        })
    }

    /// The next message, waiting at most `timeout`; `None` if none came.
    pub fn read(&self, timeout: Duration) -> Result<Option<Message>, Error> {
        let ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
        let mut block: *mut ffi::rist_data_block = ptr::null_mut();
        // SAFETY: a live receiver context and a valid out pointer.
        let rc = unsafe { ffi::rist_receiver_data_read2(self.ctx.raw, &mut block, ms) };
        if rc < 0 {
            return Err(fail("cannot read from RIST"));
        }
        if block.is_null() {
            return Ok(None);
        }
        // SAFETY: librist handed us this block until we free it; its payload
        // is `payload_len` readable bytes (or null when empty).
        let message = unsafe {
            let b = &*block;
            let payload = if b.payload.is_null() || b.payload_len == 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(b.payload.cast::<u8>(), b.payload_len).to_vec()
            };
            Message {
                payload,
                discontinuity: b.flags & ffi::RIST_DATA_FLAGS_DISCONTINUITY != 0,
            }
        };
        // SAFETY: the block read above, freed once.
        unsafe { ffi::rist_receiver_data_block_free2(&mut block) };
        Ok(Some(message))
    }
}

/// Sends RIST to a receiver listening at `destination`.
pub struct Sender {
    ctx: Ctx,
}

impl Sender {
    pub fn connect(
        destination: SocketAddr,
        profile: Profile,
        buffer: Duration,
        hooks: Hooks,
    ) -> Result<Self, Error> {
        Ok(Sender {
            ctx: Ctx::new(false, profile, destination, buffer, hooks)?,
        })
    }

    /// Queues one message (librist copies it); never waits.
    pub fn send(&self, payload: &[u8]) -> Result<(), Error> {
        let block = ffi::rist_data_block {
            payload: payload.as_ptr().cast(),
            payload_len: payload.len(),
            ts_ntp: 0,
            virt_src_port: 0,
            virt_dst_port: 0,
            peer: ptr::null_mut(),
            flow_id: 0,
            seq: 0,
            flags: 0,
            r#ref: ptr::null_mut(),
        };
        // SAFETY: a live sender context; `block` and the payload it points
        // to are valid for the call, and librist copies the payload.
        if unsafe { ffi::rist_sender_data_write(self.ctx.raw, &block) } < 0 {
            return Err(fail("cannot queue a RIST message"));
        }
        Ok(())
    }
}
