//! Interop with the reference tool: `srt-live-transmit` (Debian srt-tools)
//! relays UDP into an SRT listener and our caller reads it. Loopback only,
//! every wait bounded. Skipped (with a note) when the tool is not installed.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use srt_sys::{connect, Options, Socket};

const SIZE: usize = 1316;

struct Tool(Child);

impl Drop for Tool {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn connect_retrying(port: u16, options: &Options) -> Socket {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match connect(format!("127.0.0.1:{port}").parse().unwrap(), options) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("connect to srt-live-transmit: {e}"),
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn relay_through_srt_live_transmit(passphrase: Option<&str>) {
    let udp_port = free_udp_port();
    let srt_port = free_udp_port();
    let mut target = format!("srt://127.0.0.1:{srt_port}?mode=listener");
    if let Some(p) = passphrase {
        target.push_str(&format!("&passphrase={p}"));
    }
    let child = match Command::new("srt-live-transmit")
        .arg(format!("udp://127.0.0.1:{udp_port}"))
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => Tool(c),
        Err(e) => {
            eprintln!("skipped: srt-live-transmit not runnable ({e}); install srt-tools");
            return;
        }
    };
    let options = Options {
        passphrase: passphrase.map(str::to_owned),
        recv_timeout: Some(Duration::from_secs(3)),
        connect_timeout: Duration::from_secs(1),
        ..Options::default()
    };
    let socket = connect_retrying(srt_port, &options);

    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut seq: u32 = 0;
            while !stop.load(Ordering::Relaxed) && seq < 100_000 {
                let mut m = [0x47u8; SIZE];
                m[1..5].copy_from_slice(&seq.to_be_bytes());
                udp.send_to(&m, ("127.0.0.1", udp_port)).unwrap();
                seq += 1;
                thread::sleep(Duration::from_millis(1));
            }
        })
    };

    let mut buf = [0u8; 1456];
    let mut last: Option<u32> = None;
    for _ in 0..200 {
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(n, SIZE);
        assert!(buf[..n].iter().skip(5).all(|&b| b == 0x47));
        let seq = u32::from_be_bytes(buf[1..5].try_into().unwrap());
        if let Some(prev) = last {
            assert!(seq > prev, "out of order: {prev} then {seq}");
        }
        last = Some(seq);
    }
    let stats = socket.stats(false).unwrap();
    assert!(stats.packets_received >= 200, "{stats:?}");
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    drop(child);
}

#[test]
fn reads_from_srt_live_transmit() {
    relay_through_srt_live_transmit(None);
}

#[test]
fn reads_encrypted_from_srt_live_transmit() {
    relay_through_srt_live_transmit(Some("interop-passphrase"));
}
