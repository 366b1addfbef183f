//! TS packet parser and TR 101 290 analyzer on arbitrary bytes.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use media::tr101290::Analyzer;
use media::ts::{write_packet, TsPacket, PACKET_SIZE};

fuzz_target!(|data: &[u8]| {
    // Whole input and every 188-byte slice as one packet; a parsed packet writes back.
    let _ = TsPacket::parse(data);
    for chunk in data.chunks(PACKET_SIZE) {
        if let Ok(packet) = TsPacket::parse(chunk) {
            let mut out = [0u8; PACKET_SIZE];
            write_packet(
                &packet.header,
                packet.adaptation,
                packet.payload.unwrap_or(&[]),
                &mut out,
            )
            .ok();
        }
    }

    // The analyzer as a byte stream: first byte picks the datagram size, time advances.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let size = usize::from(split).max(1) * 8;
    let mut analyzer = Analyzer::new();
    for (i, datagram) in rest.chunks(size).enumerate() {
        let now = Duration::from_millis(i as u64 * 37);
        analyzer.feed(now, datagram);
        analyzer.handle_timeout(now + Duration::from_millis(700));
    }
    let _ = analyzer.stats();
});
