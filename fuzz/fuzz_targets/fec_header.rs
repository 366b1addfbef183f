//! 2022-1 FEC header and packet parsers, and the decoder fed an arbitrary
//! mix of media and FEC datagrams (first byte of each chunk picks the port).
#![no_main]

use libfuzzer_sys::fuzz_target;
use transport::fec::{FecDecoder, FecHeader, FecPacket};

fuzz_target!(|data: &[u8]| {
    let _ = FecHeader::parse(data);
    let _ = FecPacket::parse(data);
    let mut dec = FecDecoder::new();
    for chunk in data.split(|b| *b == 0xA5) {
        let Some((&kind, rest)) = chunk.split_first() else {
            continue;
        };
        let rebuilt = if kind & 1 == 0 {
            dec.on_media(rest)
        } else {
            dec.on_fec(rest)
        };
        for r in rebuilt {
            // Whatever the decoder rebuilds is valid RTP.
            assert!(transport::rtp::RtpPacket::parse(&r).is_ok());
        }
    }
});
