//! The whole flow engine fed arbitrary datagrams on every port of two MERGE
//! sources (rtp-fec merged by sequence number, or SRT merged by content: the
//! first byte chooses), with time advancing: never panics, and whatever
//! reaches an output is whole MPEG-TS packets.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use transport::flow::{FlowCore, Port};
use transport::{
    FailoverConfig, FailoverMode, FlowConfig, OutputConfig, OutputProtocol, SourceConfig,
    SourceProtocol,
};

fn source(name: &str, port: u16, protocol: SourceProtocol) -> SourceConfig {
    SourceConfig {
        name: name.into(),
        protocol,
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        allow: Vec::new(),
        max_bitrate: Some(10_000_000),
        srt: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let protocol = match data.first() {
        Some(b) if b & 1 == 1 => SourceProtocol::SrtListener,
        _ => SourceProtocol::RtpFec,
    };
    let cfg = FlowConfig {
        sources: vec![source("a", 5000, protocol), source("b", 5010, protocol)],
        outputs: vec![OutputConfig {
            id: "out".into(),
            protocol: OutputProtocol::Udp,
            destination: SocketAddr::from(([127, 0, 0, 1], 6000)),
            enabled: true,
            srt: None,
            allow: Vec::new(),
        }],
        failover: Some(FailoverConfig {
            mode: FailoverMode::Merge {
                recovery_window: Duration::from_millis(200),
            },
        }),
    };
    let mut core = FlowCore::new(cfg, 1);
    let from = SocketAddr::from(([127, 0, 0, 1], 1234));
    let mut now = Duration::ZERO;
    for chunk in data.split(|b| *b == 0xA5) {
        let Some((&sel, rest)) = chunk.split_first() else {
            continue;
        };
        now += Duration::from_millis(u64::from(sel >> 4));
        let port = match sel & 3 {
            0 | 3 => Port::Media,
            1 => Port::FecColumn,
            _ => Port::FecRow,
        };
        core.on_datagram(now, usize::from((sel >> 2) & 1), port, from, rest);
        core.on_timeout(now);
        for t in core.drain_transmits() {
            assert!(t.data.len() % 188 == 0 && t.data.first() == Some(&0x47));
        }
    }
    core.tick(now + Duration::from_secs(1));
    let _ = core.stats(now);
});
