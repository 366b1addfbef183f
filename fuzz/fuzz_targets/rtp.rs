//! RTP parser on arbitrary datagrams: never panics, and a parsed payload
//! always lies inside the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use transport::rtp::RtpPacket;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = RtpPacket::parse(data) {
        assert!(p.payload.len() + transport::rtp::HEADER_LEN <= data.len());
    }
});
