//! Raw declarations for the subset of `<srt/srt.h>` (libsrt 1.5.1) onair uses,
//! written by hand from the header (no bindgen). Names follow the C header so
//! they can be grepped against it.

#![allow(non_camel_case_types, non_snake_case)]

use std::ffi::{c_char, c_int, c_void};

/// `SRTSOCKET`: a libsrt handle, not a file descriptor.
pub type SRTSOCKET = i32;

/// `SRT_INVALID_SOCK`.
pub const SRT_INVALID_SOCK: SRTSOCKET = -1;
/// `SRT_ERROR`.
pub const SRT_ERROR: c_int = -1;

/// Opaque `struct sockaddr`; callers cast from `socket2::SockAddr`.
#[repr(C)]
pub struct sockaddr {
    _private: [u8; 0],
}

/// `SRT_SOCKSTATUS`, as returned by `srt_getsockstate`.
pub type SRT_SOCKSTATUS = c_int;
pub const SRTS_INIT: SRT_SOCKSTATUS = 1;
pub const SRTS_OPENED: SRT_SOCKSTATUS = 2;
pub const SRTS_LISTENING: SRT_SOCKSTATUS = 3;
pub const SRTS_CONNECTING: SRT_SOCKSTATUS = 4;
pub const SRTS_CONNECTED: SRT_SOCKSTATUS = 5;
pub const SRTS_BROKEN: SRT_SOCKSTATUS = 6;
pub const SRTS_CLOSING: SRT_SOCKSTATUS = 7;
pub const SRTS_CLOSED: SRT_SOCKSTATUS = 8;
pub const SRTS_NONEXIST: SRT_SOCKSTATUS = 9;

/// `SRT_SOCKOPT` (only the options onair sets or reads).
pub type SRT_SOCKOPT = c_int;
pub const SRTO_SNDSYN: SRT_SOCKOPT = 1;
pub const SRTO_RCVSYN: SRT_SOCKOPT = 2;
pub const SRTO_SNDTIMEO: SRT_SOCKOPT = 13;
pub const SRTO_RCVTIMEO: SRT_SOCKOPT = 14;
pub const SRTO_EVENT: SRT_SOCKOPT = 18;
pub const SRTO_LATENCY: SRT_SOCKOPT = 23;
pub const SRTO_PASSPHRASE: SRT_SOCKOPT = 26;
pub const SRTO_PBKEYLEN: SRT_SOCKOPT = 27;
pub const SRTO_CONNTIMEO: SRT_SOCKOPT = 36;
pub const SRTO_RCVLATENCY: SRT_SOCKOPT = 43;
pub const SRTO_PEERLATENCY: SRT_SOCKOPT = 44;
pub const SRTO_STREAMID: SRT_SOCKOPT = 46;
pub const SRTO_MESSAGEAPI: SRT_SOCKOPT = 48;
pub const SRTO_PAYLOADSIZE: SRT_SOCKOPT = 49;
pub const SRTO_TRANSTYPE: SRT_SOCKOPT = 50;
pub const SRTO_KMSTATE: SRT_SOCKOPT = 28;
pub const SRTO_SNDKMSTATE: SRT_SOCKOPT = 40;
pub const SRTO_RCVKMSTATE: SRT_SOCKOPT = 41;
pub const SRTO_ENFORCEDENCRYPTION: SRT_SOCKOPT = 53;

/// `SRT_KM_STATE`: where the encryption key exchange of a connection ended.
pub type SRT_KM_STATE = c_int;
pub const SRT_KM_S_UNSECURED: SRT_KM_STATE = 0;
pub const SRT_KM_S_SECURING: SRT_KM_STATE = 1;
pub const SRT_KM_S_SECURED: SRT_KM_STATE = 2;
pub const SRT_KM_S_NOSECRET: SRT_KM_STATE = 3;
pub const SRT_KM_S_BADSECRET: SRT_KM_STATE = 4;

/// syslog's `LOG_ERR`, for `srt_setloglevel`.
pub const LOG_ERR: c_int = 3;

/// `SRT_EPOLL_OPT` event bits.
pub const SRT_EPOLL_IN: c_int = 0x1;
pub const SRT_EPOLL_OUT: c_int = 0x4;
pub const SRT_EPOLL_ERR: c_int = 0x8;
/// `SRT_EPOLL_FLAGS`: waiting on an empty set sleeps instead of failing.
pub const SRT_EPOLL_ENABLE_EMPTY: i32 = 1;

/// `SRT_EPOLL_EVENT`: one ready socket from `srt_epoll_uwait`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SRT_EPOLL_EVENT {
    pub fd: SRTSOCKET,
    pub events: c_int,
}

/// `SRT_TRANSTYPE`.
pub type SRT_TRANSTYPE = c_int;
pub const SRTT_LIVE: SRT_TRANSTYPE = 0;
pub const SRTT_FILE: SRT_TRANSTYPE = 1;

/// `SRT_LIVE_DEF_PLSIZE`: 7 TS packets, the default live payload.
pub const SRT_LIVE_DEF_PLSIZE: c_int = 1316;
/// `SRT_LIVE_MAX_PLSIZE`: MTU 1500 - UDP header 28 - SRT header 16.
pub const SRT_LIVE_MAX_PLSIZE: c_int = 1456;

/// `SRT_ECONNREJ` (`MJ_SETUP * 1000 + MN_REJECTED`).
pub const SRT_ECONNREJ: c_int = 1002;
/// `SRT_ENOSERVER` (connection setup timed out).
pub const SRT_ENOSERVER: c_int = 1001;
/// `SRT_ECONNLOST`.
pub const SRT_ECONNLOST: c_int = 2001;
/// `SRT_ENOCONN`.
pub const SRT_ENOCONN: c_int = 2002;
/// `SRT_EINVPARAM` (`MJ_NOTSUP * 1000 + MN_INVAL`).
pub const SRT_EINVPARAM: c_int = 5003;
/// `SRT_EINVSOCK` (`MN_SIDINVAL`).
pub const SRT_EINVSOCK: c_int = 5004;
/// `SRT_EBINDCONFLICT`: the port is bound with incompatible options.
pub const SRT_EBINDCONFLICT: c_int = 5015;
/// `SRT_EASYNCSND`.
pub const SRT_EASYNCSND: c_int = 6001;
/// `SRT_EASYNCRCV`.
pub const SRT_EASYNCRCV: c_int = 6002;
/// `SRT_ETIMEOUT`.
pub const SRT_ETIMEOUT: c_int = 6003;

/// Opaque `SRT_SOCKGROUPDATA` (bonding; unused, always null).
#[repr(C)]
pub struct SRT_SOCKGROUPDATA {
    _private: [u8; 0],
}

/// `SRT_MSGCTRL`; 48 bytes on x86_64 (`sizeof`, measured with cc against 1.5.1).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SRT_MSGCTRL {
    pub flags: c_int,
    pub msgttl: c_int,
    pub inorder: c_int,
    pub boundary: c_int,
    pub srctime: i64,
    pub pktseq: i32,
    pub msgno: i32,
    pub grpdata: *mut SRT_SOCKGROUPDATA,
    pub grpdata_size: usize,
}

/// `struct CBytePerfMon` / `SRT_TRACEBSTATS`, field for field as in
/// srt.h 1.5.1 (C `int` is `c_int`, `int64_t` `i64`, `uint64_t` `u64`).
/// `sizeof(SRT_TRACEBSTATS)` measured with cc on x86_64 Debian: **496**
/// (alignment 8; `msRTT` at offset 328, `pktSentUniqueTotal` at 432).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SRT_TRACEBSTATS {
    // global measurements
    pub msTimeStamp: i64,
    pub pktSentTotal: i64,
    pub pktRecvTotal: i64,
    pub pktSndLossTotal: c_int,
    pub pktRcvLossTotal: c_int,
    pub pktRetransTotal: c_int,
    pub pktSentACKTotal: c_int,
    pub pktRecvACKTotal: c_int,
    pub pktSentNAKTotal: c_int,
    pub pktRecvNAKTotal: c_int,
    pub usSndDurationTotal: i64,
    pub pktSndDropTotal: c_int,
    pub pktRcvDropTotal: c_int,
    pub pktRcvUndecryptTotal: c_int,
    pub byteSentTotal: u64,
    pub byteRecvTotal: u64,
    pub byteRcvLossTotal: u64,
    pub byteRetransTotal: u64,
    pub byteSndDropTotal: u64,
    pub byteRcvDropTotal: u64,
    pub byteRcvUndecryptTotal: u64,
    // local measurements
    pub pktSent: i64,
    pub pktRecv: i64,
    pub pktSndLoss: c_int,
    pub pktRcvLoss: c_int,
    pub pktRetrans: c_int,
    pub pktRcvRetrans: c_int,
    pub pktSentACK: c_int,
    pub pktRecvACK: c_int,
    pub pktSentNAK: c_int,
    pub pktRecvNAK: c_int,
    pub mbpsSendRate: f64,
    pub mbpsRecvRate: f64,
    pub usSndDuration: i64,
    pub pktReorderDistance: c_int,
    pub pktRcvAvgBelatedTime: f64,
    pub pktRcvBelated: i64,
    pub pktSndDrop: c_int,
    pub pktRcvDrop: c_int,
    pub pktRcvUndecrypt: c_int,
    pub byteSent: u64,
    pub byteRecv: u64,
    pub byteRcvLoss: u64,
    pub byteRetrans: u64,
    pub byteSndDrop: u64,
    pub byteRcvDrop: u64,
    pub byteRcvUndecrypt: u64,
    // instant measurements
    pub usPktSndPeriod: f64,
    pub pktFlowWindow: c_int,
    pub pktCongestionWindow: c_int,
    pub pktFlightSize: c_int,
    pub msRTT: f64,
    pub mbpsBandwidth: f64,
    pub byteAvailSndBuf: c_int,
    pub byteAvailRcvBuf: c_int,
    pub mbpsMaxBW: f64,
    pub byteMSS: c_int,
    pub pktSndBuf: c_int,
    pub byteSndBuf: c_int,
    pub msSndBuf: c_int,
    pub msSndTsbPdDelay: c_int,
    pub pktRcvBuf: c_int,
    pub byteRcvBuf: c_int,
    pub msRcvBuf: c_int,
    pub msRcvTsbPdDelay: c_int,
    pub pktSndFilterExtraTotal: c_int,
    pub pktRcvFilterExtraTotal: c_int,
    pub pktRcvFilterSupplyTotal: c_int,
    pub pktRcvFilterLossTotal: c_int,
    pub pktSndFilterExtra: c_int,
    pub pktRcvFilterExtra: c_int,
    pub pktRcvFilterSupply: c_int,
    pub pktRcvFilterLoss: c_int,
    pub pktReorderTolerance: c_int,
    // new in 1.5.0
    pub pktSentUniqueTotal: i64,
    pub pktRecvUniqueTotal: i64,
    pub byteSentUniqueTotal: u64,
    pub byteRecvUniqueTotal: u64,
    pub pktSentUnique: i64,
    pub pktRecvUnique: i64,
    pub byteSentUnique: u64,
    pub byteRecvUnique: u64,
}

// Layout checks against the numbers measured with cc (x86_64, libsrt 1.5.1).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::size_of::<SRT_TRACEBSTATS>() == 496);
    assert!(std::mem::align_of::<SRT_TRACEBSTATS>() == 8);
    assert!(std::mem::offset_of!(SRT_TRACEBSTATS, pktSndDropTotal) == 64);
    assert!(std::mem::offset_of!(SRT_TRACEBSTATS, mbpsRecvRate) == 192);
    assert!(std::mem::offset_of!(SRT_TRACEBSTATS, msRTT) == 328);
    assert!(std::mem::offset_of!(SRT_TRACEBSTATS, pktReorderTolerance) == 428);
    assert!(std::mem::offset_of!(SRT_TRACEBSTATS, pktSentUniqueTotal) == 432);
    assert!(std::mem::offset_of!(SRT_TRACEBSTATS, byteRecvUnique) == 488);
    assert!(std::mem::size_of::<SRT_MSGCTRL>() == 48);
    assert!(std::mem::size_of::<SRT_EPOLL_EVENT>() == 8);
};

extern "C" {
    /// libc's: ends the process without running exit handlers.
    pub fn _exit(status: c_int) -> !;
}

#[link(name = "srt")]
extern "C" {
    pub fn srt_startup() -> c_int;
    pub fn srt_cleanup() -> c_int;
    pub fn srt_create_socket() -> SRTSOCKET;
    pub fn srt_bind(u: SRTSOCKET, name: *const sockaddr, namelen: c_int) -> c_int;
    pub fn srt_listen(u: SRTSOCKET, backlog: c_int) -> c_int;
    pub fn srt_accept(u: SRTSOCKET, addr: *mut sockaddr, addrlen: *mut c_int) -> SRTSOCKET;
    pub fn srt_connect(u: SRTSOCKET, name: *const sockaddr, namelen: c_int) -> c_int;
    pub fn srt_close(u: SRTSOCKET) -> c_int;
    pub fn srt_getsockname(u: SRTSOCKET, name: *mut sockaddr, namelen: *mut c_int) -> c_int;
    pub fn srt_getsockflag(
        u: SRTSOCKET,
        opt: SRT_SOCKOPT,
        optval: *mut c_void,
        optlen: *mut c_int,
    ) -> c_int;
    pub fn srt_setsockflag(
        u: SRTSOCKET,
        opt: SRT_SOCKOPT,
        optval: *const c_void,
        optlen: c_int,
    ) -> c_int;
    pub fn srt_msgctrl_init(mctrl: *mut SRT_MSGCTRL);
    pub fn srt_sendmsg2(
        u: SRTSOCKET,
        buf: *const c_char,
        len: c_int,
        mctrl: *mut SRT_MSGCTRL,
    ) -> c_int;
    pub fn srt_recvmsg2(
        u: SRTSOCKET,
        buf: *mut c_char,
        len: c_int,
        mctrl: *mut SRT_MSGCTRL,
    ) -> c_int;
    pub fn srt_getlasterror_str() -> *const c_char;
    pub fn srt_getlasterror(errno_loc: *mut c_int) -> c_int;
    pub fn srt_clearlasterror();
    pub fn srt_bstats(u: SRTSOCKET, perf: *mut SRT_TRACEBSTATS, clear: c_int) -> c_int;
    pub fn srt_bistats(
        u: SRTSOCKET,
        perf: *mut SRT_TRACEBSTATS,
        clear: c_int,
        instantaneous: c_int,
    ) -> c_int;
    pub fn srt_getsockstate(u: SRTSOCKET) -> SRT_SOCKSTATUS;
    pub fn srt_setloglevel(ll: c_int);
    pub fn srt_epoll_create() -> c_int;
    pub fn srt_epoll_add_usock(eid: c_int, u: SRTSOCKET, events: *const c_int) -> c_int;
    pub fn srt_epoll_remove_usock(eid: c_int, u: SRTSOCKET) -> c_int;
    pub fn srt_epoll_uwait(
        eid: c_int,
        fds_set: *mut SRT_EPOLL_EVENT,
        fds_size: c_int,
        ms_timeout: i64,
    ) -> c_int;
    pub fn srt_epoll_set(eid: c_int, flags: i32) -> i32;
    pub fn srt_epoll_release(eid: c_int) -> c_int;
    pub fn srt_getrejectreason(sock: SRTSOCKET) -> c_int;
    pub fn srt_rejectreason_str(id: c_int) -> *const c_char;
}
