//! Running flows with SRT endpoints, driven by `srt_sys` callers on
//! 127.0.0.1:
//!
//! - an SRT listener source and an SRT listener output (the flow runs on its
//!   SRT thread): messages arrive intact on a UDP output and at an SRT
//!   receiver, a wrong passphrase is refused, counted, and does not disturb
//!   the connected encoder, outputs change while it runs, and stopping frees
//!   the ports;
//! - a UDP source that gets an SRT output while running (the SRT thread is
//!   bridged to the flow's thread).

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use transport::{
    Batching, FlowConfig, FlowStats, KeyLength, OutputConfig, OutputProtocol, SourceConfig,
    SourceProtocol, SrtSettings,
};

const PASS: &str = "correct-horse-battery";

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn settings(passphrase: &str) -> SrtSettings {
    SrtSettings {
        latency: Duration::from_millis(120),
        passphrase: Some(passphrase.into()),
        key_length: KeyLength::Aes256,
        stream_id: None,
    }
}

fn caller(port: u16, passphrase: &str) -> std::io::Result<srt_sys::Socket> {
    let opts = srt_sys::Options {
        passphrase: Some(passphrase.into()),
        key_length: KeyLength::Aes256,
        recv_timeout: Some(Duration::from_secs(5)),
        connect_timeout: Duration::from_secs(2),
        ..srt_sys::Options::default()
    };
    srt_sys::connect(SocketAddr::from(([127, 0, 0, 1], port)), &opts)
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

/// Sends messages `0..count` through `send`, pausing 5 ms every 20.
fn send_paced(count: u32, mut send: impl FnMut(&[u8])) {
    for n in 0..count {
        send(&message(n));
        if n % 20 == 19 {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Receives messages `0..count` through `recv` (which fills the buffer and
/// returns the length) and checks each, in order.
fn expect_in_order(count: u32, what: &str, mut recv: impl FnMut(&mut [u8]) -> usize) {
    let mut buf = [0u8; 2048];
    for n in 0..count {
        let len = recv(&mut buf);
        assert_eq!(&buf[..len], &message(n)[..], "{what} {n}");
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn srt_in_udp_and_srt_out_with_a_passphrase() {
    srt_in_udp_and_srt_out(Batching::Auto);
}

/// Paced: the flow's thread sleeps 5 ms after each round that read
/// something, and every message still comes out, in order, across a
/// reconnection.
#[test]
fn srt_in_udp_and_srt_out_in_rounds() {
    srt_in_udp_and_srt_out(Batching::Every(Duration::from_millis(5)));
}

fn srt_in_udp_and_srt_out(batching: Batching) {
    let (src_port, out_port) = (free_port(), free_port());
    let udp_out = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_out
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let udp_output = OutputConfig {
        id: "udp".into(),
        protocol: OutputProtocol::Udp,
        destination: udp_out.local_addr().unwrap(),
        enabled: true,
        srt: None,
        allow: Vec::new(),
    };
    let cfg = FlowConfig {
        sources: vec![SourceConfig {
            name: "enc".into(),
            protocol: SourceProtocol::SrtListener,
            bind: SocketAddr::from(([127, 0, 0, 1], src_port)),
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            max_bitrate: None,
            srt: Some(settings(PASS)),
        }],
        outputs: vec![
            udp_output.clone(),
            OutputConfig {
                id: "srt".into(),
                protocol: OutputProtocol::SrtListener,
                destination: SocketAddr::from(([127, 0, 0, 1], out_port)),
                enabled: true,
                srt: Some(settings(PASS)),
                allow: Vec::new(),
            },
        ],
        failover: None,
        batching,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let flow = rt.block_on(transport::start_flow(cfg)).unwrap();
    let stats = flow.watch_stats();
    let now = || -> FlowStats { stats.borrow().clone() };

    let receiver = caller(out_port, PASS).unwrap();
    wait_for("the SRT receiver", || {
        now().outputs[1].srt.as_ref().is_some_and(|s| s.connected)
    });
    // In-process consumers (a channel's MediaConnect input) see it all too.
    let mut tap = flow.subscribe();
    let encoder = caller(src_port, PASS).unwrap();
    send_paced(200, |m| {
        encoder.send(m).unwrap();
    });
    expect_in_order(200, "UDP datagram", |b| udp_out.recv(b).unwrap());
    // The flow hands a round to the tap after sending it: the last round
    // may still be on its way.
    let sent: Vec<u8> = (0..200).flat_map(message).collect();
    let mut tapped = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while tapped.len() < sent.len() && Instant::now() < until {
        match tap.try_recv() {
            Ok(payload) => tapped.extend_from_slice(&payload),
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
    assert_eq!(tapped.len(), sent.len(), "bytes on the tap");
    assert!(tapped == sent, "the tap's bytes differ from what was sent");
    expect_in_order(200, "SRT message", |b| receiver.recv(b).unwrap());
    let mut buf = [0u8; 2048];

    // A wrong passphrase: refused, counted; the encoder stays on.
    assert!(caller(src_port, "not-the-passphrase").is_err());
    wait_for("the refusal to be counted", || {
        now().sources[0]
            .srt
            .as_ref()
            .is_some_and(|s| s.refused >= 1)
    });
    encoder.send(&message(200)).unwrap();
    let len = udp_out.recv(&mut buf).unwrap();
    assert_eq!(&buf[..len], &message(200)[..]);
    let st = now();
    let src = st.sources[0].srt.clone().unwrap();
    assert!(src.connected && src.connections == 1, "{src:?}");
    assert_eq!(st.sources[0].malformed, 0);

    // The encoder leaves: the disconnection is seen.
    drop(encoder);
    wait_for("the disconnection", || {
        now().sources[0]
            .srt
            .as_ref()
            .is_some_and(|s| !s.connected && s.disconnections == 1)
    });

    // A new encoder is read from where the old one was.
    let encoder = caller(src_port, PASS).unwrap();
    wait_for("the second connection", || {
        now().sources[0]
            .srt
            .as_ref()
            .is_some_and(|s| s.connected && s.connections == 2)
    });
    for n in 300..310 {
        encoder.send(&message(n)).unwrap();
    }
    for n in 300..310 {
        let len = udp_out.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..len],
            &message(n)[..],
            "UDP datagram {n} after the reconnection"
        );
    }

    // The SRT output goes: its receiver is dropped, the UDP one goes on.
    rt.block_on(flow.set_outputs(vec![udp_output]));
    assert_eq!(now().outputs.len(), 1);
    let mut gone = false;
    for _ in 0..50 {
        match receiver.recv(&mut buf) {
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {
                gone = true;
                break;
            }
            _ => thread::sleep(Duration::from_millis(20)),
        }
    }
    assert!(gone, "the SRT receiver was not disconnected");
    encoder.send(&message(400)).unwrap();
    let len = udp_out.recv(&mut buf).unwrap();
    assert_eq!(&buf[..len], &message(400)[..]);

    // Stopping closes the source's listener: a restart can take the port.
    rt.block_on(flow.stop());
    let again = srt_sys::listen(
        SocketAddr::from(([127, 0, 0, 1], src_port)),
        &srt_sys::Options::default(),
    );
    assert!(again.is_ok(), "the source port is still taken");
}

/// A UDP source whose flow gets its first SRT output while running: the
/// SRT thread starts then, bridged to the flow's thread, and the receiver
/// gets every datagram in order.
#[test]
fn udp_in_srt_output_added_while_running() {
    let out_port = free_port();
    let ingest = UdpSocket::bind("127.0.0.1:0").unwrap();
    let src_addr = ingest.local_addr().unwrap();
    drop(ingest);
    let cfg = FlowConfig {
        sources: vec![SourceConfig {
            name: "udp".into(),
            protocol: SourceProtocol::Udp,
            bind: src_addr,
            allow: Vec::new(),
            max_bitrate: None,
            srt: None,
        }],
        outputs: Vec::new(),
        failover: None,
        batching: Batching::Auto,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let flow = rt.block_on(transport::start_flow(cfg)).unwrap();
    let stats = flow.watch_stats();
    let srt_output = OutputConfig {
        id: "srt".into(),
        protocol: OutputProtocol::SrtListener,
        destination: SocketAddr::from(([127, 0, 0, 1], out_port)),
        enabled: true,
        srt: None,
        allow: Vec::new(),
    };
    rt.block_on(flow.set_outputs(vec![srt_output]));
    let opts = srt_sys::Options {
        recv_timeout: Some(Duration::from_secs(5)),
        connect_timeout: Duration::from_secs(2),
        ..srt_sys::Options::default()
    };
    let receiver = srt_sys::connect(SocketAddr::from(([127, 0, 0, 1], out_port)), &opts).unwrap();
    wait_for("the SRT receiver", || {
        stats.borrow().outputs[0]
            .srt
            .as_ref()
            .is_some_and(|s| s.connected)
    });
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    send_paced(100, |m| {
        sender.send_to(m, src_addr).unwrap();
    });
    expect_in_order(100, "SRT message", |b| receiver.recv(b).unwrap());
    rt.block_on(flow.stop());
    let again = srt_sys::listen(
        SocketAddr::from(([127, 0, 0, 1], out_port)),
        &srt_sys::Options::default(),
    );
    assert!(again.is_ok(), "the output's port is still taken");
}
