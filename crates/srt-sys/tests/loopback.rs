//! A listener and a caller on 127.0.0.1 exchanging live-mode messages, and
//! (in `interop`) our caller reading from `srt-live-transmit`.

#[path = "loopback/interop.rs"]
mod interop;

use std::io;
use std::thread;
use std::time::Duration;

use srt_sys::{connect, listen, Options, SocketState};

const MESSAGES: u32 = 1000;
const SIZE: usize = 1316;

fn options(passphrase: Option<&str>) -> Options {
    Options {
        passphrase: passphrase.map(str::to_owned),
        recv_timeout: Some(Duration::from_secs(5)),
        connect_timeout: Duration::from_secs(2),
        ..Options::default()
    }
}

fn message(i: u32) -> Vec<u8> {
    let mut m = vec![0x47u8; SIZE];
    m[1..5].copy_from_slice(&i.to_be_bytes());
    m
}

fn exchange(listener_pass: Option<&str>, caller_pass: Option<&str>) {
    let listener = listen("127.0.0.1:0".parse().unwrap(), &options(listener_pass)).unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = thread::spawn(move || {
        let (socket, _peer) = listener.accept().unwrap();
        assert_eq!(socket.stream_id().unwrap(), "live/test");
        let mut buf = [0u8; 1456];
        for i in 0..MESSAGES {
            let n = socket.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &message(i)[..], "message {i}");
        }
        let stats = socket.stats(false).unwrap();
        // Kept open until the caller has read its own stats.
        (socket, stats)
    });
    let caller_opts = Options {
        stream_id: Some("live/test".into()),
        ..options(caller_pass)
    };
    let caller = connect(addr, &caller_opts).unwrap();
    assert_eq!(caller.state(), SocketState::Connected);
    for i in 0..MESSAGES {
        assert_eq!(caller.send(&message(i)).unwrap(), SIZE);
        if i % 100 == 99 {
            thread::sleep(Duration::from_millis(2));
        }
    }
    let (_accepted, rx) = receiver.join().unwrap();
    let tx = caller.stats(false).unwrap();
    assert!(tx.packets_sent >= u64::from(MESSAGES), "{tx:?}");
    assert!(rx.packets_received >= u64::from(MESSAGES), "{rx:?}");
    assert!(
        rx.bytes_received >= u64::from(MESSAGES) * SIZE as u64,
        "{rx:?}"
    );
    assert_eq!(rx.packets_dropped, 0, "{rx:?}");
    assert_eq!(rx.packets_undecrypted, 0, "{rx:?}");
    assert_eq!(rx.latency_ms, 120, "{rx:?}");
}

#[test]
fn live_exchange_plain() {
    exchange(None, None);
}

#[test]
fn live_exchange_encrypted() {
    exchange(Some("correct horse battery"), Some("correct horse battery"));
}

#[test]
fn wrong_passphrase_is_refused() {
    let listener = listen(
        "127.0.0.1:0".parse().unwrap(),
        &options(Some("correct horse battery")),
    )
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let err = connect(addr, &options(Some("wrong horse battery"))).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    let err = connect(addr, &options(None)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    eprintln!("refused: {err}");
}

#[test]
fn invalid_options_are_rejected_before_libsrt() {
    let err = connect("127.0.0.1:9".parse().unwrap(), &options(Some("short"))).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

/// A non-blocking listener driven by `Epoll`: a caller with the right
/// passphrase is accepted and its messages read; with
/// `enforce_encryption` off a caller with a wrong one is accepted too, and
/// `key_state` says why it must be closed.
#[test]
fn epoll_listener_sees_bad_passphrases() {
    use srt_sys::{Epoll, Interest, KeyState};
    use std::time::Instant;
    let pass = "correct horse battery";
    let opts = Options {
        nonblocking: true,
        enforce_encryption: false,
        ..options(Some(pass))
    };
    let listener = listen("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    let addr = listener.local_addr().unwrap();
    let epoll = Epoll::new().unwrap();
    epoll.add(listener.socket(), Interest::READ).unwrap();
    let bad = thread::spawn(move || connect(addr, &options(Some("wrong horse battery"))));
    let good = thread::spawn(move || {
        let caller = connect(addr, &options(Some(pass))).unwrap();
        for i in 0..10 {
            caller.send(&message(i)).unwrap();
        }
        thread::sleep(Duration::from_millis(500));
    });
    let mut ready = Vec::new();
    let mut states = Vec::new();
    let mut received = 0;
    let mut accepted = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while received < 10 && Instant::now() < until {
        epoll.wait(&mut ready, Duration::from_millis(100)).unwrap();
        for r in &ready {
            if r.socket == listener.socket().raw() {
                let (s, _) = listener.accept().unwrap();
                let (rcv, _snd) = s.key_state().unwrap();
                states.push(rcv);
                if rcv == KeyState::Secured {
                    epoll.add(&s, Interest::READ).unwrap();
                    accepted.push(s);
                }
            } else if let Some(s) = accepted.iter().find(|s| s.raw() == r.socket) {
                let mut buf = [0u8; 1456];
                while let Ok(n) = s.recv(&mut buf) {
                    assert_eq!(n, SIZE);
                    received += 1;
                }
            }
        }
    }
    assert_eq!(received, 10);
    assert!(states.contains(&KeyState::BadSecret), "{states:?}");
    assert!(bad.join().unwrap().is_err());
    good.join().unwrap();
}

/// The caller's key length wins: a listener set to AES-256 takes an
/// AES-128 caller with the same passphrase (HSv5: the initiator decides).
#[test]
fn listener_follows_the_callers_key_length() {
    use srt_sys::KeyLength;
    let pass = "correct horse battery";
    let listener = listen(
        "127.0.0.1:0".parse().unwrap(),
        &Options {
            key_length: KeyLength::Aes256,
            ..options(Some(pass))
        },
    )
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1456];
        let n = socket.recv(&mut buf).unwrap();
        (n, socket.key_state().unwrap())
    });
    let caller = connect(
        addr,
        &Options {
            key_length: KeyLength::Aes128,
            ..options(Some(pass))
        },
    )
    .unwrap();
    caller.send(&message(0)).unwrap();
    let (n, states) = receiver.join().unwrap();
    assert_eq!(n, SIZE);
    assert_eq!(
        states,
        (srt_sys::KeyState::Secured, srt_sys::KeyState::Secured)
    );
}

#[test]
fn accept_timeout_returns_without_a_caller_and_accepts_one_that_comes() {
    let listener = listen("127.0.0.1:0".parse().unwrap(), &options(None)).unwrap();
    let addr = listener.local_addr().unwrap();
    let err = listener
        .accept_timeout(Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    let caller = thread::spawn(move || connect(addr, &options(None)).unwrap());
    let accepted = loop {
        match listener.accept_timeout(Duration::from_millis(100)) {
            Ok((socket, _peer)) => break socket,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
            Err(e) => panic!("accept failed: {e}"),
        }
    };
    let caller = caller.join().unwrap();
    assert_eq!(accepted.state(), SocketState::Connected);
    assert_eq!(caller.state(), SocketState::Connected);
}

/// `has_message` says whether a message is due, in step with what a
/// non-blocking `recv` finds: nothing before the latency has passed, then
/// exactly the messages sent.
#[test]
fn has_message_tells_a_due_message() {
    let latency = Duration::from_millis(120);
    let listener = listen(
        "127.0.0.1:0".parse().unwrap(),
        &Options {
            latency,
            nonblocking: true,
            ..options(None)
        },
    )
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let caller = connect(addr, &options(None)).unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    let socket = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(std::time::Instant::now() < until, "no caller accepted");
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    assert!(!socket.has_message());
    for i in 0..3 {
        caller.send(&message(i)).unwrap();
    }
    // Held back for the latency (TSBPD): not due yet.
    thread::sleep(Duration::from_millis(20));
    assert!(!socket.has_message());
    let mut buf = [0u8; 1456];
    let e = socket.recv(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !socket.has_message() {
        assert!(std::time::Instant::now() < until, "no message became due");
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(latency); // all three are due now
    for i in 0..3 {
        assert!(socket.has_message(), "message {i}");
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], &message(i)[..]);
    }
    assert!(!socket.has_message());
}

/// `key_mismatch` names what went wrong on a listener that lets every
/// handshake finish, from its own side.
#[test]
fn key_mismatch_names_the_problem() {
    let lax = |passphrase: Option<&str>| Options {
        enforce_encryption: false,
        ..options(passphrase)
    };
    let cases = [
        (
            Some("correct horse battery"),
            Some("correct horse battery"),
            None,
        ),
        (
            Some("correct horse battery"),
            Some("wrong horse battery!"),
            Some("wrong passphrase"),
        ),
        (
            Some("correct horse battery"),
            None,
            Some("the peer sent no passphrase"),
        ),
        (
            None,
            Some("correct horse battery"),
            Some("the peer encrypts and this side has no passphrase"),
        ),
        (None, None, None),
    ];
    for (ours, theirs, want) in cases {
        let listener = listen("127.0.0.1:0".parse().unwrap(), &lax(ours)).unwrap();
        let addr = listener.local_addr().unwrap();
        let opts = lax(theirs);
        let caller = thread::spawn(move || {
            let s = connect(addr, &opts);
            thread::sleep(Duration::from_millis(300));
            s.is_ok()
        });
        let (accepted, _) = listener.accept_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            accepted.key_mismatch(ours.is_some()).as_deref(),
            want,
            "listener {ours:?}, caller {theirs:?}"
        );
        assert!(caller.join().unwrap(), "the caller connects either way");
    }
}
