//! The whole flow engine fed arbitrary datagrams on every port of two MERGE
//! sources, with time advancing: never panics, and whatever reaches an
//! output is whole MPEG-TS packets.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use transport::flow::{FlowCore, Port};
use transport::{
    FailoverConfig, FailoverMode, FlowConfig, OutputConfig, OutputProtocol, SourceConfig,
    SourceProtocol,
};

fn source(name: &str, port: u16) -> SourceConfig {
    SourceConfig {
        name: name.into(),
        protocol: SourceProtocol::RtpFec,
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        allow: Vec::new(),
        max_bitrate: Some(10_000_000),
        srt: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = FlowConfig {
        sources: vec![source("a", 5000), source("b", 5010)],
        outputs: vec![OutputConfig {
            id: "out".into(),
            protocol: OutputProtocol::Udp,
            destination: SocketAddr::from(([127, 0, 0, 1], 6000)),
            enabled: true,
            srt: None,
        }],
        failover: Some(FailoverConfig {
            mode: FailoverMode::Merge { recovery_window: Duration::from_millis(200) },
        }),
    };
    let mut core = FlowCore::new(cfg, 1);
    let from = SocketAddr::from(([127, 0, 0, 1], 1234));
    let mut now = Duration::ZERO;
    for chunk in data.split(|b| *b == 0xA5) {
        let Some((&sel, rest)) = chunk.split_first() else { continue };
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
