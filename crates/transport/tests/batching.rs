//! A UDP flow with [`Batching::Every`]: datagrams gathered into rounds still
//! all come out, in order, and the rounds hold several datagrams each (fewer
//! rounds than datagrams is the point of the setting).

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use transport::{Batching, FlowConfig, OutputConfig, OutputProtocol, SourceConfig, SourceProtocol};

/// 7 TS packets on PID 0x100 numbered by `n`, with running counters.
fn datagram(n: u32) -> Vec<u8> {
    let mut d = Vec::with_capacity(1316);
    for k in 0..7u32 {
        let cc = ((n * 7 + k) % 16) as u8;
        d.extend_from_slice(&[0x47, 0x01, 0x00, 0x10 | cc]);
        d.extend_from_slice(&n.to_be_bytes());
        d.extend(std::iter::repeat_n(0x5C, 180));
    }
    d
}

#[test]
fn a_paced_udp_flow_forwards_everything_in_order() {
    const COUNT: u32 = 600;
    let out = UdpSocket::bind("127.0.0.1:0").unwrap();
    out.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = FlowConfig {
        sources: vec![SourceConfig {
            name: "enc".into(),
            protocol: SourceProtocol::Udp,
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            max_bitrate: None,
            srt: None,
        }],
        outputs: vec![OutputConfig {
            id: "out".into(),
            protocol: OutputProtocol::Udp,
            destination: out.local_addr().unwrap(),
            enabled: true,
            srt: None,
            allow: Vec::new(),
        }],
        failover: None,
        batching: Batching::Every(Duration::from_millis(4)),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let flow = rt.block_on(transport::start_flow(cfg)).unwrap();

    // About 2000 datagrams a second (20 Mb/s), each sent on its own.
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    let pacer = thread::spawn(move || {
        for n in 0..COUNT {
            let due = start + Duration::from_micros(500) * n;
            thread::sleep(due.saturating_duration_since(Instant::now()));
            sender.send_to(&datagram(n), to).unwrap();
        }
    });
    let mut buf = [0u8; 65536];
    let mut bursts = 0;
    let mut last_arrival: Option<Instant> = None;
    for n in 0..COUNT {
        let len = out.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], &datagram(n)[..], "datagram {n}");
        // A gap of over 250 µs between two arrivals starts a burst.
        let now = Instant::now();
        if last_arrival.is_none_or(|t| now - t > Duration::from_micros(250)) {
            bursts += 1;
        }
        last_arrival = Some(now);
    }
    pacer.join().unwrap();
    // Unpaced, nearly every datagram would come on its own (they are sent
    // 500 µs apart); in 4 ms rounds about eight come together. Half of
    // that leaves room for a loaded machine.
    assert!(
        bursts < COUNT / 2,
        "{bursts} bursts for {COUNT} datagrams: the flow did not gather them"
    );
    // The statistics are published four times a second.
    let until = Instant::now() + Duration::from_secs(5);
    while flow.stats().outputs[0].packets < u64::from(COUNT) && Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
    }
    let stats = flow.stats();
    assert_eq!(stats.sources[0].packets, u64::from(COUNT), "{stats:?}");
    assert_eq!(stats.outputs[0].packets, u64::from(COUNT), "{stats:?}");
    assert_eq!(stats.flow_ts.packets, u64::from(COUNT) * 7, "{stats:?}");
    assert_eq!(stats.flow_ts.continuity_errors, 0, "{stats:?}");
    rt.block_on(flow.stop());
}
