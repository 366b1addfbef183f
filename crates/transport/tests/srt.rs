//! A running flow with an SRT listener source and an SRT listener output,
//! driven by `srt_sys` callers on 127.0.0.1: messages arrive intact on a
//! UDP output and at an SRT receiver, and a wrong passphrase is refused,
//! counted, and does not disturb the connected encoder.

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

/// Paced: the flow reads its SRT source itself in 5 ms rounds, and every
/// message still comes out, in order, across a reconnection.
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
            OutputConfig {
                id: "udp".into(),
                protocol: OutputProtocol::Udp,
                destination: udp_out.local_addr().unwrap(),
                enabled: true,
                srt: None,
                allow: Vec::new(),
            },
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
    let encoder = caller(src_port, PASS).unwrap();
    for n in 0..200 {
        encoder.send(&message(n)).unwrap();
        if n % 20 == 19 {
            thread::sleep(Duration::from_millis(5));
        }
    }
    let mut buf = [0u8; 2048];
    for n in 0..200 {
        let len = udp_out.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], &message(n)[..], "UDP datagram {n}");
    }
    for n in 0..200 {
        let len = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], &message(n)[..], "SRT message {n}");
    }

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
    rt.block_on(flow.stop());
}
