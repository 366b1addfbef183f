//! Raw declarations for the subset of `<librist/librist.h>` (librist 0.2.7)
//! onair uses, written by hand from the headers (no bindgen). Names follow
//! the C headers so they can be grepped against them.
//!
//! Peer configuration goes through `rist_parse_address2` (a URL that
//! onair builds from numbers only), so `struct rist_peer_config` stays
//! opaque here; the structs that are read or written field by field
//! (`rist_data_block`, `rist_stats` and its two members) have their layout
//! checked at compile time against sizes and offsets measured with a C
//! probe (`offsetof` on x86_64 Debian, see the `const` block below).

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

/// `struct rist_ctx`: a sender or receiver context.
#[repr(C)]
pub struct rist_ctx {
    _private: [u8; 0],
}

/// `struct rist_peer`.
#[repr(C)]
pub struct rist_peer {
    _private: [u8; 0],
}

/// `struct rist_peer_config`, only ever handled by pointer.
#[repr(C)]
pub struct rist_peer_config {
    _private: [u8; 0],
}

/// `struct rist_logging_settings`, only ever handled by pointer.
#[repr(C)]
pub struct rist_logging_settings {
    _private: [u8; 0],
}

/// `struct rist_ref` (a data block's reference count), opaque.
#[repr(C)]
pub struct rist_ref {
    _private: [u8; 0],
}

/// `enum rist_profile`.
pub type rist_profile = c_int;
pub const RIST_PROFILE_SIMPLE: rist_profile = 0;
pub const RIST_PROFILE_MAIN: rist_profile = 1;

/// `enum rist_log_level`.
pub type rist_log_level = c_int;
pub const RIST_LOG_DISABLE: rist_log_level = -1;
pub const RIST_LOG_ERROR: rist_log_level = 3;
pub const RIST_LOG_WARN: rist_log_level = 4;
pub const RIST_LOG_NOTICE: rist_log_level = 5;
pub const RIST_LOG_INFO: rist_log_level = 6;

/// `enum rist_data_block_receiver_flags`.
pub const RIST_DATA_FLAGS_DISCONTINUITY: u32 = 1;

/// `enum rist_connection_status`.
pub type rist_connection_status = c_int;
pub const RIST_CONNECTION_ESTABLISHED: rist_connection_status = 0;
pub const RIST_CONNECTION_TIMED_OUT: rist_connection_status = 1;
pub const RIST_CLIENT_CONNECTED: rist_connection_status = 2;
pub const RIST_CLIENT_TIMED_OUT: rist_connection_status = 3;

/// `enum rist_stats_type`.
pub type rist_stats_type = c_int;
pub const RIST_STATS_SENDER_PEER: rist_stats_type = 0;
pub const RIST_STATS_RECEIVER_FLOW: rist_stats_type = 1;

/// `struct rist_data_block`: one message, sent or received.
#[repr(C)]
pub struct rist_data_block {
    pub payload: *const c_void,
    pub payload_len: usize,
    pub ts_ntp: u64,
    pub virt_src_port: u16,
    pub virt_dst_port: u16,
    pub peer: *mut rist_peer,
    pub flow_id: u32,
    pub seq: u64,
    pub flags: u32,
    pub r#ref: *mut rist_ref,
}

/// `struct rist_stats_sender_peer`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct rist_stats_sender_peer {
    pub cname: [c_char; 128],
    pub peer_id: u32,
    pub bandwidth: usize,
    pub retry_bandwidth: usize,
    pub sent: u64,
    pub received: u64,
    pub retransmitted: u64,
    pub quality: f64,
    pub rtt: u32,
}

/// `struct rist_stats_receiver_flow`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct rist_stats_receiver_flow {
    pub peer_count: u32,
    pub cname: [c_char; 256],
    pub flow_id: u32,
    pub status: c_int,
    pub bandwidth: usize,
    pub retry_bandwidth: usize,
    pub sent: u64,
    pub received: u64,
    pub missing: u32,
    pub reordered: u32,
    pub recovered: u32,
    pub recovered_one_retry: u32,
    pub lost: u32,
    pub quality: f64,
    pub min_inter_packet_spacing: u64,
    pub cur_inter_packet_spacing: u64,
    pub max_inter_packet_spacing: u64,
    pub rtt: u32,
}

/// The union inside `struct rist_stats`; `stats_type` says which member.
#[repr(C)]
#[derive(Clone, Copy)]
pub union rist_stats_union {
    pub sender_peer: rist_stats_sender_peer,
    pub receiver_flow: rist_stats_receiver_flow,
}

/// `struct rist_stats`: what the statistics callback receives.
#[repr(C)]
pub struct rist_stats {
    pub json_size: u32,
    pub stats_json: *mut c_char,
    pub version: u16,
    pub stats_type: rist_stats_type,
    pub stats: rist_stats_union,
}

// Measured with a C probe against librist 0.2.7's headers on x86_64
// (gcc, `offsetof` / `sizeof`); a different layout fails the build.
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<rist_data_block>() == 72);
    assert!(offset_of!(rist_data_block, payload_len) == 8);
    assert!(offset_of!(rist_data_block, virt_src_port) == 24);
    assert!(offset_of!(rist_data_block, peer) == 32);
    assert!(offset_of!(rist_data_block, seq) == 48);
    assert!(offset_of!(rist_data_block, flags) == 56);
    assert!(offset_of!(rist_data_block, r#ref) == 64);
    assert!(size_of::<rist_stats>() == 392);
    assert!(offset_of!(rist_stats, stats_json) == 8);
    assert!(offset_of!(rist_stats, stats_type) == 20);
    assert!(offset_of!(rist_stats, stats) == 24);
    assert!(size_of::<rist_stats_sender_peer>() == 192);
    assert!(offset_of!(rist_stats_sender_peer, peer_id) == 128);
    assert!(offset_of!(rist_stats_sender_peer, sent) == 152);
    assert!(offset_of!(rist_stats_sender_peer, retransmitted) == 168);
    assert!(offset_of!(rist_stats_sender_peer, quality) == 176);
    assert!(offset_of!(rist_stats_sender_peer, rtt) == 184);
    assert!(size_of::<rist_stats_receiver_flow>() == 368);
    assert!(offset_of!(rist_stats_receiver_flow, flow_id) == 260);
    assert!(offset_of!(rist_stats_receiver_flow, bandwidth) == 272);
    assert!(offset_of!(rist_stats_receiver_flow, received) == 296);
    assert!(offset_of!(rist_stats_receiver_flow, missing) == 304);
    assert!(offset_of!(rist_stats_receiver_flow, recovered) == 312);
    assert!(offset_of!(rist_stats_receiver_flow, lost) == 320);
    assert!(offset_of!(rist_stats_receiver_flow, quality) == 328);
    assert!(offset_of!(rist_stats_receiver_flow, rtt) == 360);
};

pub type log_cb_t =
    unsafe extern "C" fn(arg: *mut c_void, level: rist_log_level, msg: *const c_char) -> c_int;
pub type stats_cb_t =
    unsafe extern "C" fn(arg: *mut c_void, stats_container: *const rist_stats) -> c_int;
pub type connection_status_callback_t =
    unsafe extern "C" fn(arg: *mut c_void, peer: *mut rist_peer, status: rist_connection_status);
pub type rist_auth_handler_connect_cb = unsafe extern "C" fn(
    arg: *mut c_void,
    conn_ip: *const c_char,
    conn_port: u16,
    local_ip: *const c_char,
    local_port: u16,
    peer: *mut rist_peer,
) -> c_int;
pub type rist_auth_handler_disconnect_cb =
    unsafe extern "C" fn(arg: *mut c_void, peer: *mut rist_peer) -> c_int;

#[link(name = "rist")]
extern "C" {
    pub fn librist_version() -> *const c_char;

    pub fn rist_logging_set(
        logging_settings: *mut *mut rist_logging_settings,
        log_level: rist_log_level,
        log_cb: Option<log_cb_t>,
        cb_arg: *mut c_void,
        address: *mut c_char,
        logfp: *mut c_void,
    ) -> c_int;

    pub fn rist_receiver_create(
        ctx: *mut *mut rist_ctx,
        profile: rist_profile,
        logging_settings: *mut rist_logging_settings,
    ) -> c_int;
    pub fn rist_sender_create(
        ctx: *mut *mut rist_ctx,
        profile: rist_profile,
        flow_id: u32,
        logging_settings: *mut rist_logging_settings,
    ) -> c_int;
    pub fn rist_flow_id_create() -> u32;

    pub fn rist_parse_address2(
        url: *const c_char,
        peer_config: *mut *mut rist_peer_config,
    ) -> c_int;
    pub fn rist_peer_config_free2(peer_config: *mut *mut rist_peer_config) -> c_int;
    pub fn rist_peer_create(
        ctx: *mut rist_ctx,
        peer: *mut *mut rist_peer,
        config: *const rist_peer_config,
    ) -> c_int;

    pub fn rist_auth_handler_set(
        ctx: *mut rist_ctx,
        connect_cb: Option<rist_auth_handler_connect_cb>,
        disconnect_cb: Option<rist_auth_handler_disconnect_cb>,
        arg: *mut c_void,
    ) -> c_int;
    pub fn rist_connection_status_callback_set(
        ctx: *mut rist_ctx,
        cb: Option<connection_status_callback_t>,
        arg: *mut c_void,
    ) -> c_int;
    pub fn rist_stats_callback_set(
        ctx: *mut rist_ctx,
        statsinterval: c_int,
        stats_cb: Option<stats_cb_t>,
        arg: *mut c_void,
    ) -> c_int;
    pub fn rist_stats_free(stats_container: *const rist_stats) -> c_int;

    pub fn rist_start(ctx: *mut rist_ctx) -> c_int;
    pub fn rist_destroy(ctx: *mut rist_ctx) -> c_int;

    pub fn rist_receiver_data_read2(
        ctx: *mut rist_ctx,
        data_block: *mut *mut rist_data_block,
        timeout: c_int,
    ) -> c_int;
    pub fn rist_receiver_data_block_free2(block: *mut *mut rist_data_block);
    pub fn rist_sender_data_write(ctx: *mut rist_ctx, data_block: *const rist_data_block) -> c_int;
}
