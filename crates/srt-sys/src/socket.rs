//! Blocking, RAII SRT sockets.

use std::ffi::{c_int, c_void};
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use socket2::SockAddr;

use crate::epoll::{Epoll, Interest};
use crate::error::{last_error, rejected};
use crate::ffi;
use crate::options::{millis, Options};
use crate::stats::Stats;

/// Pending handshakes a listener queues before `accept`.
const BACKLOG: c_int = 16;

/// Starts libsrt once per process.
pub(crate) fn startup() -> io::Result<()> {
    static STARTED: OnceLock<c_int> = OnceLock::new();
    // libsrt logs warnings (each refused handshake, say) on stderr; its
    // users log what matters themselves.
    // SAFETY: srt_startup and srt_setloglevel take plain integers;
    // OnceLock runs them once.
    let rc = *STARTED.get_or_init(|| unsafe {
        ffi::srt_setloglevel(ffi::LOG_ERR);
        ffi::srt_startup()
    });
    if rc < 0 {
        return Err(io::Error::other("srt_startup failed"));
    }
    Ok(())
}

/// Where a socket is in its life (`SRT_SOCKSTATUS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketState {
    Init,
    Opened,
    Listening,
    Connecting,
    Connected,
    Broken,
    Closing,
    Closed,
    NonExistent,
}

/// Where the encryption key exchange of a connection ended (`SRT_KM_STATE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Neither side encrypts.
    Unsecured,
    /// The exchange is under way.
    Securing,
    /// Both sides hold the same key.
    Secured,
    /// The peer encrypts and this side has no passphrase.
    NoSecret,
    /// The passphrases differ.
    BadSecret,
}

impl KeyState {
    fn from_raw(raw: c_int) -> Self {
        match raw {
            ffi::SRT_KM_S_SECURING => KeyState::Securing,
            ffi::SRT_KM_S_SECURED => KeyState::Secured,
            ffi::SRT_KM_S_NOSECRET => KeyState::NoSecret,
            ffi::SRT_KM_S_BADSECRET => KeyState::BadSecret,
            _ => KeyState::Unsecured,
        }
    }
}

/// One SRT socket, closed on drop.
#[derive(Debug)]
pub struct Socket {
    raw: ffi::SRTSOCKET,
}

/// A listening SRT socket.
#[derive(Debug)]
pub struct Listener {
    socket: Socket,
}

impl Socket {
    fn new() -> io::Result<Socket> {
        startup()?;
        // SAFETY: no arguments; returns a handle or SRT_INVALID_SOCK.
        let raw = unsafe { ffi::srt_create_socket() };
        if raw == ffi::SRT_INVALID_SOCK {
            return Err(last_error("srt_create_socket"));
        }
        Ok(Socket { raw })
    }

    /// The libsrt handle (for epoll and logs); still owned by `self`.
    pub fn raw(&self) -> ffi::SRTSOCKET {
        self.raw
    }

    fn set_int(&self, opt: ffi::SRT_SOCKOPT, value: c_int, what: &str) -> io::Result<()> {
        // SAFETY: optval points to one live c_int and optlen is its size.
        let rc = unsafe {
            ffi::srt_setsockflag(
                self.raw,
                opt,
                (&value as *const c_int).cast::<c_void>(),
                size_of::<c_int>() as c_int,
            )
        };
        self.check(rc, what)
    }

    fn set_str(&self, opt: ffi::SRT_SOCKOPT, value: &str, what: &str) -> io::Result<()> {
        let len = c_int::try_from(value.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "option too long"))?;
        // SAFETY: optval points to `len` readable bytes; libsrt copies them
        // (string options need no NUL terminator).
        let rc =
            unsafe { ffi::srt_setsockflag(self.raw, opt, value.as_ptr().cast::<c_void>(), len) };
        self.check(rc, what)
    }

    fn check(&self, rc: c_int, what: &str) -> io::Result<()> {
        if rc == ffi::SRT_ERROR {
            Err(last_error(what))
        } else {
            Ok(())
        }
    }

    /// Applies `options`; `SRTO_TRANSTYPE` first, as it resets the others.
    fn configure(&self, options: &Options) -> io::Result<()> {
        options.validate()?;
        self.set_int(ffi::SRTO_TRANSTYPE, ffi::SRTT_LIVE, "SRTO_TRANSTYPE")?;
        self.set_int(ffi::SRTO_MESSAGEAPI, 1, "SRTO_MESSAGEAPI")?;
        let blocking = c_int::from(!options.nonblocking);
        self.set_int(ffi::SRTO_RCVSYN, blocking, "SRTO_RCVSYN")?;
        self.set_int(ffi::SRTO_SNDSYN, blocking, "SRTO_SNDSYN")?;
        self.set_int(
            ffi::SRTO_ENFORCEDENCRYPTION,
            c_int::from(options.enforce_encryption),
            "SRTO_ENFORCEDENCRYPTION",
        )?;
        let latency = millis(options.latency, "latency")?;
        self.set_int(ffi::SRTO_LATENCY, latency, "SRTO_LATENCY")?;
        self.set_int(
            ffi::SRTO_PAYLOADSIZE,
            c_int::from(options.payload_size),
            "SRTO_PAYLOADSIZE",
        )?;
        let conn = millis(options.connect_timeout, "connect timeout")?;
        self.set_int(ffi::SRTO_CONNTIMEO, conn, "SRTO_CONNTIMEO")?;
        let rcv = match options.recv_timeout {
            Some(t) => millis(t, "receive timeout")?,
            None => -1,
        };
        self.set_int(ffi::SRTO_RCVTIMEO, rcv, "SRTO_RCVTIMEO")?;
        if let Some(p) = &options.passphrase {
            self.set_str(ffi::SRTO_PASSPHRASE, p, "SRTO_PASSPHRASE")?;
            self.set_int(
                ffi::SRTO_PBKEYLEN,
                c_int::from(options.key_length.bytes()),
                "SRTO_PBKEYLEN",
            )?;
        }
        if let Some(id) = &options.stream_id {
            self.set_str(ffi::SRTO_STREAMID, id, "SRTO_STREAMID")?;
        }
        Ok(())
    }

    /// Receives one message into `buf` (which should hold
    /// [`Options::payload_size`] bytes). Blocks until a message is due for
    /// delivery; `TimedOut` after [`Options::recv_timeout`]; `Ok(0)` never
    /// carries data.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
        let mut ctrl = msgctrl();
        // SAFETY: buf is valid for `len` (<= buf.len()) writable bytes and
        // ctrl is an initialised SRT_MSGCTRL; both outlive the call.
        let n = unsafe { ffi::srt_recvmsg2(self.raw, buf.as_mut_ptr().cast(), len, &mut ctrl) };
        usize::try_from(n).map_err(|_| last_error("srt_recvmsg2"))
    }

    /// True if a message is due for delivery now (`SRTO_EVENT` has
    /// `SRT_EPOLL_IN`): a non-blocking [`Socket::recv`] would return it.
    /// Cheaper than a `recv` that finds nothing, which libsrt reports by
    /// throwing and catching a C++ exception inside.
    pub fn has_message(&self) -> bool {
        self.get_int(ffi::SRTO_EVENT, "SRTO_EVENT")
            .is_ok_and(|events| events & ffi::SRT_EPOLL_IN != 0)
    }

    /// Sends `buf` as one message (at most [`Options::payload_size`] bytes).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let len = c_int::try_from(buf.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too long"))?;
        let mut ctrl = msgctrl();
        // SAFETY: buf is valid for `len` readable bytes and ctrl is an
        // initialised SRT_MSGCTRL; both outlive the call.
        let n = unsafe { ffi::srt_sendmsg2(self.raw, buf.as_ptr().cast(), len, &mut ctrl) };
        usize::try_from(n).map_err(|_| last_error("srt_sendmsg2"))
    }

    /// Connection statistics; `clear` resets the interval counters.
    pub fn stats(&self, clear: bool) -> io::Result<Stats> {
        let mut perf = ffi::SRT_TRACEBSTATS::default();
        // SAFETY: perf is a live SRT_TRACEBSTATS laid out as srt.h 1.5.1
        // declares it (size asserted at compile time in ffi.rs).
        let rc = unsafe { ffi::srt_bistats(self.raw, &mut perf, c_int::from(clear), 1) };
        self.check(rc, "srt_bistats")?;
        Ok(Stats::from(&perf))
    }

    /// Why the peer refused this socket's connection, in libsrt's words.
    pub fn reject_reason(&self) -> String {
        // SAFETY: plain integer handle; an unknown socket yields a code.
        let reason = unsafe { ffi::srt_getrejectreason(self.raw) };
        // SAFETY: srt_rejectreason_str returns a static NUL-terminated
        // string for any id.
        unsafe { crate::error::cstr_lossy(ffi::srt_rejectreason_str(reason)) }
    }

    /// Current state of the socket.
    pub fn state(&self) -> SocketState {
        // SAFETY: plain integer handle; unknown handles report NONEXIST.
        match unsafe { ffi::srt_getsockstate(self.raw) } {
            ffi::SRTS_INIT => SocketState::Init,
            ffi::SRTS_OPENED => SocketState::Opened,
            ffi::SRTS_LISTENING => SocketState::Listening,
            ffi::SRTS_CONNECTING => SocketState::Connecting,
            ffi::SRTS_CONNECTED => SocketState::Connected,
            ffi::SRTS_BROKEN => SocketState::Broken,
            ffi::SRTS_CLOSING => SocketState::Closing,
            ffi::SRTS_CLOSED => SocketState::Closed,
            _ => SocketState::NonExistent,
        }
    }

    /// How the key exchange ended, on the receiving and on the sending
    /// direction (`SRTO_RCVKMSTATE`, `SRTO_SNDKMSTATE`).
    pub fn key_state(&self) -> io::Result<(KeyState, KeyState)> {
        let rcv = self.get_int(ffi::SRTO_RCVKMSTATE, "SRTO_RCVKMSTATE")?;
        let snd = self.get_int(ffi::SRTO_SNDKMSTATE, "SRTO_SNDKMSTATE")?;
        Ok((KeyState::from_raw(rcv), KeyState::from_raw(snd)))
    }

    /// Why this connected socket's key exchange does not fit this side, if
    /// it does not: with `have_passphrase`, both directions must be secured;
    /// without, neither may be. For sockets made with
    /// [`Options::enforce_encryption`] off, which libsrt connects whatever
    /// the passphrases, so that the application can refuse, count and log.
    pub fn key_mismatch(&self, have_passphrase: bool) -> Option<String> {
        let states = match self.key_state() {
            Ok(s) => s,
            Err(e) => return Some(format!("key state unknown: {e}")),
        };
        let ok = if have_passphrase {
            states == (KeyState::Secured, KeyState::Secured)
        } else {
            states == (KeyState::Unsecured, KeyState::Unsecured)
        };
        if ok {
            return None;
        }
        Some(match states {
            (KeyState::BadSecret, _) | (_, KeyState::BadSecret) => "wrong passphrase".into(),
            // "No secret" is whichever side lacks one.
            _ if have_passphrase => "the peer sent no passphrase".into(),
            (KeyState::NoSecret, _) | (_, KeyState::NoSecret) => {
                "the peer encrypts and this side has no passphrase".into()
            }
            (rcv, snd) => format!("unexpected key state {rcv:?}/{snd:?}"),
        })
    }

    fn get_int(&self, opt: ffi::SRT_SOCKOPT, what: &str) -> io::Result<c_int> {
        let mut value: c_int = 0;
        let mut len = size_of::<c_int>() as c_int;
        // SAFETY: optval points to one writable c_int and optlen holds its
        // size; libsrt writes at most that many bytes.
        let rc = unsafe {
            ffi::srt_getsockflag(
                self.raw,
                opt,
                (&mut value as *mut c_int).cast::<c_void>(),
                &mut len,
            )
        };
        self.check(rc, what)?;
        Ok(value)
    }

    /// The stream id the caller sent (on an accepted socket) or set.
    pub fn stream_id(&self) -> io::Result<String> {
        let mut buf = [0u8; 513];
        let mut len = c_int::try_from(buf.len()).unwrap_or(0);
        // SAFETY: buf is writable for `len` bytes; libsrt writes at most
        // `len` bytes and stores the length it wrote in `len`.
        let rc = unsafe {
            ffi::srt_getsockflag(
                self.raw,
                ffi::SRTO_STREAMID,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        };
        self.check(rc, "SRTO_STREAMID")?;
        let len = usize::try_from(len).unwrap_or(0);
        let id = buf.get(..len).unwrap_or_default();
        let id = id.split(|&b| b == 0).next().unwrap_or_default();
        Ok(String::from_utf8_lossy(id).into_owned())
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        // SAFETY: try_init hands a zeroed sockaddr_storage and its length;
        // libsrt writes at most `len` bytes and the length it wrote.
        let ((), addr) = unsafe {
            SockAddr::try_init(|storage, socklen| {
                let mut len = c_int::try_from(*socklen).unwrap_or(0);
                let rc = ffi::srt_getsockname(self.raw, storage.cast(), &mut len);
                self.check(rc, "srt_getsockname")?;
                *socklen = u32::try_from(len).unwrap_or(0);
                Ok(())
            })
        }?;
        addr.as_socket()
            .ok_or_else(|| io::Error::other("srt_getsockname: not an IP address"))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: `raw` is owned by this Socket and closed exactly once.
        unsafe { ffi::srt_close(self.raw) };
    }
}

fn msgctrl() -> ffi::SRT_MSGCTRL {
    let mut ctrl = MaybeUninit::<ffi::SRT_MSGCTRL>::uninit();
    // SAFETY: srt_msgctrl_init writes every field of the struct it is given.
    unsafe {
        ffi::srt_msgctrl_init(ctrl.as_mut_ptr());
        ctrl.assume_init()
    }
}

/// Binds a live-mode listener on `addr` (port 0 picks a free port); sockets it
/// accepts inherit `options`.
pub fn listen(addr: SocketAddr, options: &Options) -> io::Result<Listener> {
    let socket = Socket::new()?;
    socket.configure(options)?;
    let sa = SockAddr::from(addr);
    let len = c_int::try_from(sa.len()).unwrap_or(0);
    // SAFETY: sa holds a valid sockaddr of `len` bytes for the call.
    let rc = unsafe { ffi::srt_bind(socket.raw, sa.as_ptr().cast(), len) };
    socket.check(rc, "srt_bind")?;
    // SAFETY: plain integer arguments on a bound socket.
    let rc = unsafe { ffi::srt_listen(socket.raw, BACKLOG) };
    socket.check(rc, "srt_listen")?;
    Ok(Listener { socket })
}

impl Listener {
    /// Blocks until a caller completes the handshake (a caller with a wrong
    /// passphrase is refused inside libsrt and never shows up here, unless
    /// [`Options::enforce_encryption`] is off). Non-blocking listeners return
    /// `WouldBlock` when no caller waits.
    pub fn accept(&self) -> io::Result<(Socket, SocketAddr)> {
        let mut raw = ffi::SRT_INVALID_SOCK;
        // SAFETY: try_init hands a zeroed sockaddr_storage and its length;
        // libsrt writes at most `len` bytes of the peer address.
        let ((), addr) = unsafe {
            SockAddr::try_init(|storage, socklen| {
                let mut len = c_int::try_from(*socklen).unwrap_or(0);
                raw = ffi::srt_accept(self.socket.raw, storage.cast(), &mut len);
                if raw == ffi::SRT_INVALID_SOCK {
                    return Err(last_error("srt_accept"));
                }
                *socklen = u32::try_from(len).unwrap_or(0);
                Ok(())
            })
        }?;
        let socket = Socket { raw };
        let peer = addr
            .as_socket()
            .ok_or_else(|| io::Error::other("srt_accept: not an IP address"))?;
        Ok((socket, peer))
    }

    /// [`Listener::accept`], waiting at most `timeout` for a caller
    /// (`TimedOut` when none came). libsrt 1.5.1's blocking `srt_accept`
    /// ignores `SRTO_RCVTIMEO` and waits until a caller comes or the listener
    /// closes, so a thread that must notice a stop (or a process that exits:
    /// libsrt's exit-time cleanup waits for such a waiter forever) waits on
    /// an epoll instead, with a timeout.
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<(Socket, SocketAddr)> {
        let epoll = Epoll::new()?;
        epoll.add(&self.socket, Interest::READ)?;
        let mut ready = Vec::with_capacity(1);
        epoll.wait(&mut ready, timeout)?;
        epoll.remove(&self.socket);
        if ready.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "srt_accept: no caller within the timeout",
            ));
        }
        self.accept()
    }

    /// The bound address (with the port chosen when binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The listening socket itself (for [`crate::Epoll`]).
    pub fn socket(&self) -> &Socket {
        &self.socket
    }
}

/// Connects a live-mode caller to `addr`, blocking for the handshake (at most
/// [`Options::connect_timeout`]). A refused connection is `ConnectionRefused`
/// with libsrt's reject reason, e.g. a passphrase mismatch. A non-blocking
/// socket returns at once, `Connecting`; [`crate::Epoll`] reports it writable
/// once connected, or in error when refused ([`Socket::reject_reason`]).
pub fn connect(addr: SocketAddr, options: &Options) -> io::Result<Socket> {
    let socket = Socket::new()?;
    socket.configure(options)?;
    let sa = SockAddr::from(addr);
    let len = c_int::try_from(sa.len()).unwrap_or(0);
    // SAFETY: sa holds a valid sockaddr of `len` bytes for the call.
    let rc = unsafe { ffi::srt_connect(socket.raw, sa.as_ptr().cast(), len) };
    if rc == ffi::SRT_ERROR {
        return Err(rejected(socket.raw, "srt_connect"));
    }
    Ok(socket)
}
