//! A running flow with a RIST source and a RIST output (both profiles),
//! driven by `rist_sys` peers on 127.0.0.1: every message arrives intact on
//! a UDP output and at a RIST receiver, librist's statistics reach the
//! flow's, and a stopped flow frees its ports for a restart.

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use rist_sys::{Hooks, PeerEvent, Profile};
use transport::{
    Batching, FlowConfig, FlowStats, OutputConfig, OutputProtocol, RistProfile, RistSettings,
    SourceConfig, SourceProtocol,
};

/// An even port whose next port is free too.
fn free_pair() -> u16 {
    for _ in 0..200 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port.is_multiple_of(2)
            && port < u16::MAX
            && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
        {
            return port;
        }
    }
    panic!("no free even port pair");
}

/// 7 TS packets on PID 0x100 numbered by `n`.
fn message(n: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(1316);
    for k in 0..7u32 {
        let cc = ((n * 7 + k) % 16) as u8;
        m.extend_from_slice(&[0x47, 0x01, 0x00, 0x10 | cc]);
        m.extend_from_slice(&n.to_be_bytes());
        m.extend(std::iter::repeat_n(0xAB, 180));
    }
    m
}

fn index(m: &[u8]) -> u32 {
    u32::from_be_bytes(m[4..8].try_into().unwrap())
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn flow(profile: RistProfile, src_port: u16, out_port: u16, udp: SocketAddr) -> FlowConfig {
    let settings = RistSettings {
        profile,
        buffer_ms: 300,
    };
    FlowConfig {
        sources: vec![SourceConfig {
            name: "enc".into(),
            protocol: SourceProtocol::Rist(settings),
            bind: SocketAddr::from(([127, 0, 0, 1], src_port)),
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            max_bitrate: None,
            srt: None,
        }],
        outputs: vec![
            OutputConfig {
                id: "udp".into(),
                protocol: OutputProtocol::Udp,
                destination: udp,
                enabled: true,
                srt: None,
                allow: Vec::new(),
            },
            OutputConfig {
                id: "rist".into(),
                protocol: OutputProtocol::Rist(settings),
                destination: SocketAddr::from(([127, 0, 0, 1], out_port)),
                enabled: true,
                srt: None,
                allow: Vec::new(),
            },
        ],
        failover: None,
        batching: Batching::Auto,
    }
}

fn connected_sender(port: u16, profile: Profile) -> rist_sys::Sender {
    let (tx, rx) = std::sync::mpsc::channel();
    let hooks = Hooks {
        on_peer: Box::new(move |e| {
            let _ = tx.send(e);
        }),
        ..Hooks::default()
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let sender =
        rist_sys::Sender::connect(addr, profile, Duration::from_millis(300), hooks).unwrap();
    // What is sent before the handshake may be lost.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(PeerEvent::Connected) => return sender,
            Ok(_) => {}
            Err(e) => panic!("the RIST sender never connected: {e}"),
        }
    }
}

fn run(profile: RistProfile, p: Profile) {
    let (src_port, out_port) = (free_pair(), free_pair());
    let udp_out = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_out
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let receiver = rist_sys::Receiver::listen(
        SocketAddr::from(([127, 0, 0, 1], out_port)),
        p,
        Duration::from_millis(300),
        Hooks::default(),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = flow(profile, src_port, out_port, udp_out.local_addr().unwrap());
    let flow = rt.block_on(transport::start_flow(cfg.clone())).unwrap();
    let stats = flow.watch_stats();
    let now = || -> FlowStats { stats.borrow().clone() };

    let encoder = connected_sender(src_port, p);
    for n in 0..300 {
        encoder.send(&message(n)).unwrap();
        if n % 20 == 19 {
            thread::sleep(Duration::from_millis(5));
        }
    }
    // librist may drop the first message of a new flow; none after it.
    let mut buf = [0u8; 2048];
    let len = udp_out.recv(&mut buf).unwrap();
    let first = index(&buf[..len]);
    assert!(first <= 1, "{profile:?}: UDP started at {first}");
    for n in first + 1..300 {
        let len = udp_out.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..len],
            &message(n)[..],
            "{profile:?}: UDP datagram {n}"
        );
    }
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while got.last() != Some(&299) && Instant::now() < until {
        if let Some(m) = receiver.read(Duration::from_millis(50)).unwrap() {
            assert_eq!(m.payload, message(index(&m.payload)), "{profile:?}");
            got.push(index(&m.payload));
        }
    }
    assert!(got.len() >= 297, "{profile:?}: {} RIST messages", got.len());
    assert!(
        got.windows(2).all(|w| w[1] == w[0] + 1),
        "{profile:?}: {got:?}"
    );

    wait_for("librist's statistics", || {
        let st = now();
        // librist counts from the flow's second message.
        st.sources[0]
            .rist
            .as_ref()
            .is_some_and(|l| l.packets >= 297)
            && st.outputs[1]
                .rist
                .as_ref()
                .is_some_and(|l| l.packets >= 299)
    });
    let st = now();
    let link = st.sources[0].rist.clone().unwrap();
    assert_eq!(
        link.peer.map(|a| a.ip()),
        Some([127, 0, 0, 1].into()),
        "{link:?}"
    );
    assert_eq!(
        (link.lost, link.refused, link.overflow),
        (0, 0, 0),
        "{link:?}"
    );
    assert_eq!(st.sources[0].malformed, 0);

    // Stopped, the ports are free at once: the same flow starts again.
    rt.block_on(flow.stop());
    let again = rt.block_on(transport::start_flow(cfg)).unwrap();
    rt.block_on(again.stop());
}

#[test]
fn rist_simple_profile_in_udp_and_rist_out() {
    run(RistProfile::Simple, Profile::Simple);
}

#[test]
fn rist_main_profile_in_udp_and_rist_out() {
    run(RistProfile::Main, Profile::Main);
}

#[test]
fn a_port_in_use_names_it() {
    let port = free_pair();
    let _held = UdpSocket::bind(("127.0.0.1", port + 1)).unwrap();
    let udp = SocketAddr::from(([127, 0, 0, 1], 9));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = flow(RistProfile::Simple, port, free_pair(), udp);
    let err = match rt.block_on(transport::start_flow(cfg)) {
        Ok(_) => panic!("a held RTCP port must fail the start"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&format!("{}", port + 1)), "{err}");
    assert!(err.contains("RIST"), "{err}");
}
