//! The RTMP server session on arbitrary bytes after a valid handshake: first byte's
//! bits choose whether a valid connect / createStream / publish is sent first (so that
//! the media paths are reached) and whether requests are accepted; the rest is cut into
//! reads by the mode byte's high bits. No panic, no output after close, no media
//! unless publishing was accepted, and the TS adapter takes whatever comes out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp::amf0::{self, Value};
use rtmp::chunk::{ChunkWriter, Message};
use rtmp::message::kind;
use rtmp::ts::TsAdapter;
use rtmp::{Event, Session};

fn command(writer: &mut ChunkWriter, stream_id: u32, values: &[Value], out: &mut Vec<u8>) {
    let message = Message {
        csid: 3,
        timestamp: 0,
        type_id: kind::COMMAND_AMF0,
        stream_id,
        payload: amf0::encode_all(values),
    };
    writer.write(&message, out).unwrap();
}

/// Feeds `bytes`, answering requests with `accept`; false once the session is done.
fn feed(session: &mut Session, adapter: &mut TsAdapter, bytes: &[u8], accept: bool) -> bool {
    if session.handle_input(bytes).is_err() {
        assert!(session.is_closed(), "an error closes the session");
        while session.poll_transmit().is_some() {}
        return false;
    }
    let mut ts = Vec::new();
    while let Some(event) = session.poll_event() {
        match &event {
            Event::Connect { .. } | Event::Publish { .. } => {
                if session.accept(accept).is_err() {
                    assert!(session.is_closed(), "an error closes the session");
                    while session.poll_transmit().is_some() {}
                    return false;
                }
            }
            Event::Video(_) | Event::Audio(_) => {
                assert!(accept, "media without an accepted publish");
                adapter.push(&event, &mut ts).unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(ts.len() % 188, 0);
    while session.poll_transmit().is_some() {}
    !session.is_closed()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mut session = Session::new();
    let mut adapter = TsAdapter::new();
    let mut c0c1 = vec![3u8];
    c0c1.extend((0..1536).map(|i| (i % 251) as u8));
    session.handle_input(&c0c1).unwrap();
    let s0s1s2 = session.poll_transmit().unwrap();
    session.handle_input(&s0s1s2[1..1537]).unwrap();
    let accept = mode & 2 == 0;
    if mode & 1 == 1 {
        let mut writer = ChunkWriter::new();
        let mut out = Vec::new();
        let connect = Value::Object(vec![
            ("app".into(), Value::string("live")),
            ("tcUrl".into(), Value::string("rtmp://127.0.0.1/live")),
        ]);
        command(
            &mut writer,
            0,
            &["connect".into(), 1.0.into(), connect],
            &mut out,
        );
        command(
            &mut writer,
            0,
            &["createStream".into(), 2.0.into(), Value::Null],
            &mut out,
        );
        command(
            &mut writer,
            1,
            &[
                "publish".into(),
                3.0.into(),
                Value::Null,
                "key".into(),
                "live".into(),
            ],
            &mut out,
        );
        if !feed(&mut session, &mut adapter, &out, accept) {
            return;
        }
        assert_eq!(session.is_publishing(), accept);
    }
    // The rest in reads whose sizes come from the high bits of the mode byte.
    let step = usize::from(mode >> 3) * 37 + 1;
    for piece in data.chunks(step) {
        if !feed(&mut session, &mut adapter, piece, accept) {
            break;
        }
    }
    assert!(session.stats().bytes_in >= 1537);
    if session.is_closed() {
        // A closed session ignores input and says nothing more.
        session.handle_input(data).unwrap();
        assert!(session.poll_transmit().is_none());
    }
});
