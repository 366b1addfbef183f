//! Tests of the session: scripted publishers, decisions, acknowledgements, errors.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use crate::handshake::PACKET_SIZE;

/// A scripted publisher: writes chunks as ffmpeg does and reads the answers.
struct Client {
    writer: ChunkWriter,
    reader: ChunkReader,
    received: Vec<u8>,
}

impl Client {
    fn new() -> Self {
        Self {
            writer: ChunkWriter::new(),
            reader: ChunkReader::new(),
            received: Vec::new(),
        }
    }

    fn command(&mut self, stream_id: u32, values: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        self.writer
            .write(
                &Message {
                    csid: 3,
                    timestamp: 0,
                    type_id: kind::COMMAND_AMF0,
                    stream_id,
                    payload: amf0::encode_all(values),
                },
                &mut out,
            )
            .unwrap();
        out
    }

    fn media(&mut self, type_id: u8, timestamp: u32, payload: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        self.writer
            .write(
                &Message {
                    csid: if type_id == kind::VIDEO { 6 } else { 4 },
                    timestamp,
                    type_id,
                    stream_id: 1,
                    payload,
                },
                &mut out,
            )
            .unwrap();
        out
    }

    /// Messages the server sent since the last call, applying its chunk size.
    fn messages(&mut self, session: &mut Session) -> Vec<Message> {
        while let Some(bytes) = session.poll_transmit() {
            self.received.extend_from_slice(&bytes);
        }
        let mut out = Vec::new();
        loop {
            let (used, msg) = self.reader.read(&self.received).unwrap();
            if used == 0 {
                break;
            }
            self.received.drain(..used);
            if let Some(m) = msg {
                if m.type_id == kind::SET_CHUNK_SIZE {
                    let size = message::read_u32(&m.payload).unwrap();
                    self.reader.set_chunk_size(size).unwrap();
                }
                out.push(m);
            }
        }
        out
    }
}

fn events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn command_name(m: &Message) -> (String, Vec<Value>) {
    let values = amf0::decode_all(&m.payload).unwrap();
    (values[0].as_str().unwrap().to_owned(), values)
}

fn handshake(session: &mut Session) {
    let mut c0c1 = vec![3u8];
    c0c1.extend((0..PACKET_SIZE).map(|i| (i * 7) as u8));
    session.handle_input(&c0c1).unwrap();
    let s = session.poll_transmit().unwrap();
    assert_eq!(s.len(), 1 + 2 * PACKET_SIZE);
    session.handle_input(&s[1..1 + PACKET_SIZE]).unwrap();
}

fn connect(client: &mut Client, app: &str) -> Vec<u8> {
    client.command(
        0,
        &[
            "connect".into(),
            1.0.into(),
            Value::Object(vec![
                ("app".into(), Value::string(app)),
                ("type".into(), Value::string("nonprivate")),
                (
                    "tcUrl".into(),
                    Value::string(format!("rtmp://127.0.0.1/{app}")),
                ),
            ]),
        ],
    )
}

/// Runs handshake, connect, createStream and publish with the given decisions.
fn publish(session: &mut Session, client: &mut Client, key: &str) {
    handshake(session);
    session.handle_input(&connect(client, "live")).unwrap();
    assert_eq!(
        events(session),
        vec![Event::Connect {
            app: "live".into(),
            tc_url: "rtmp://127.0.0.1/live".into()
        }]
    );
    assert!(client.messages(session).is_empty(), "nothing before accept");
    session.accept(true).unwrap();
    let answers = client.messages(session);
    let types: Vec<u8> = answers.iter().map(|m| m.type_id).collect();
    assert_eq!(types, vec![5, 6, 1, 20]);
    let (name, values) = command_name(&answers[3]);
    assert_eq!(name, "_result");
    assert_eq!(values[1], Value::Number(1.0));
    assert_eq!(
        values[3].get("code").and_then(Value::as_str),
        Some("NetConnection.Connect.Success")
    );
    let mut input = client.command(
        0,
        &["releaseStream".into(), 2.0.into(), Value::Null, key.into()],
    );
    input.extend(client.command(
        0,
        &["FCPublish".into(), 3.0.into(), Value::Null, key.into()],
    ));
    input.extend(client.command(0, &["createStream".into(), 4.0.into(), Value::Null]));
    session.handle_input(&input).unwrap();
    let answers = client.messages(session);
    let names: Vec<String> = answers.iter().map(|m| command_name(m).0).collect();
    assert_eq!(names, vec!["_result", "onFCPublish", "_result"]);
    assert_eq!(command_name(&answers[2]).1[3], Value::Number(1.0));
    let input = client.command(
        1,
        &[
            "publish".into(),
            5.0.into(),
            Value::Null,
            key.into(),
            "live".into(),
        ],
    );
    session.handle_input(&input).unwrap();
    assert_eq!(
        events(session),
        vec![Event::Publish {
            app: "live".into(),
            stream_key: key.into()
        }]
    );
}

fn avc_record() -> Vec<u8> {
    let mut body = vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 4];
    body.extend_from_slice(&[0x67, 0x64, 0, 0x1F]);
    body.extend_from_slice(&[1, 0, 3, 0x68, 0xEE, 0x3C]);
    body
}

#[test]
fn publish_flow() {
    let mut session = Session::new();
    let mut client = Client::new();
    publish(&mut session, &mut client, "key");
    session.accept(true).unwrap();
    assert!(session.is_publishing());
    let answers = client.messages(&mut session);
    assert_eq!(answers[0].type_id, kind::USER_CONTROL);
    assert_eq!(
        message::read_user_control(&answers[0].payload),
        Some((user_control::STREAM_BEGIN, 1))
    );
    let (name, values) = command_name(&answers[1]);
    assert_eq!(name, "onStatus");
    assert_eq!(answers[1].stream_id, 1);
    assert_eq!(
        values[3].get("code").and_then(Value::as_str),
        Some("NetStream.Publish.Start")
    );

    // Metadata, configs, a key frame, an audio frame.
    let mut data = amf0::encode_all(&[
        "@setDataFrame".into(),
        "onMetaData".into(),
        Value::EcmaArray(vec![("width".into(), Value::Number(640.0))]),
    ]);
    let mut input = Vec::new();
    let mut out = Vec::new();
    client
        .writer
        .write(
            &Message {
                csid: 4,
                timestamp: 0,
                type_id: kind::DATA_AMF0,
                stream_id: 1,
                payload: std::mem::take(&mut data),
            },
            &mut out,
        )
        .unwrap();
    input.extend(out);
    input.extend(client.media(kind::VIDEO, 0, avc_record()));
    input.extend(client.media(kind::AUDIO, 0, vec![0xAF, 0, 0x12, 0x10]));
    let mut frame = vec![0x17, 1, 0, 0, 40, 0, 0, 1, 0x2C, 0x65];
    frame.extend_from_slice(&[0x88; 299]);
    input.extend(client.media(kind::VIDEO, 0, frame));
    input.extend(client.media(kind::AUDIO, 21, vec![0xAF, 1, 0x21, 0x10]));
    // Fed one byte at a time.
    for b in &input {
        session.handle_input(std::slice::from_ref(b)).unwrap();
    }
    let got = events(&mut session);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[0],
        Event::Metadata(vec![("width".into(), Value::Number(640.0))])
    );
    let Event::Video(video) = &got[1] else {
        panic!("{:?}", got[1]);
    };
    assert!(video.keyframe);
    assert_eq!(video.composition_ms, 40);
    assert_eq!(media::h264::nal_types(&video.data), vec![9, 7, 8, 5]);
    let Event::Audio(audio) = &got[2] else {
        panic!("{:?}", got[2]);
    };
    assert_eq!(audio.timestamp_ms, 21);
    assert_eq!(audio.data.len(), 9);

    // End of stream.
    let mut input = client.command(
        0,
        &["FCUnpublish".into(), 6.0.into(), Value::Null, "key".into()],
    );
    input.extend(client.command(
        0,
        &["deleteStream".into(), 7.0.into(), Value::Null, 1.0.into()],
    ));
    session.handle_input(&input).unwrap();
    assert_eq!(events(&mut session), vec![Event::Unpublish]);
    assert!(!session.is_publishing());
    let stats = session.stats();
    assert_eq!((stats.video_frames, stats.audio_frames), (1, 1));
}

#[test]
fn refused_publish_and_connect() {
    let mut session = Session::new();
    let mut client = Client::new();
    publish(&mut session, &mut client, "wrong");
    session.accept(false).unwrap();
    let answers = client.messages(&mut session);
    let (name, values) = command_name(&answers[0]);
    assert_eq!(name, "onStatus");
    assert_eq!(
        values[3].get("level").and_then(Value::as_str),
        Some("error")
    );
    assert_eq!(
        events(&mut session),
        vec![Event::Closed {
            reason: CloseReason::PublishRefused
        }]
    );
    assert!(session.is_closed());
    session.handle_input(&[1, 2, 3]).unwrap();

    let mut session = Session::new();
    let mut client = Client::new();
    handshake(&mut session);
    session.handle_input(&connect(&mut client, "nope")).unwrap();
    events(&mut session);
    session.accept(false).unwrap();
    let answers = client.messages(&mut session);
    assert_eq!(command_name(&answers[0]).0, "_error");
    assert_eq!(
        events(&mut session),
        vec![Event::Closed {
            reason: CloseReason::ConnectRefused
        }]
    );
}

#[test]
fn pings_and_acks() {
    let mut session = Session::new();
    let mut client = Client::new();
    publish(&mut session, &mut client, "key");
    session.accept(true).unwrap();
    client.messages(&mut session);
    let mut out = Vec::new();
    client
        .writer
        .write(&message::window_ack_size(1000), &mut out)
        .unwrap();
    client
        .writer
        .write(
            &message::user_control(user_control::PING_REQUEST, 1234),
            &mut out,
        )
        .unwrap();
    session.handle_input(&out).unwrap();
    let answers = client.messages(&mut session);
    assert_eq!(
        message::read_user_control(&answers[0].payload),
        Some((user_control::PING_RESPONSE, 1234))
    );
    // 3 KB of audio: at least two acknowledgements of a 1000-byte window.
    session
        .handle_input(&client.media(kind::AUDIO, 0, vec![0xAF, 0, 0x12, 0x10]))
        .unwrap();
    for i in 0..10 {
        let input = client.media(
            kind::AUDIO,
            i * 23,
            [0xAF, 1, 0x21, 0x10, 0, 0, 0, 0].repeat(40),
        );
        session.handle_input(&input).unwrap();
    }
    let acks: Vec<u32> = client
        .messages(&mut session)
        .iter()
        .filter(|m| m.type_id == kind::ACKNOWLEDGEMENT)
        .map(|m| message::read_u32(&m.payload).unwrap())
        .collect();
    assert!(acks.len() >= 2, "{acks:?}");
    assert!(acks.windows(2).all(|w| w[1] > w[0]));
    let unacked = session.stats().bytes_in - u64::from(*acks.last().unwrap());
    assert!(unacked < 1000, "{unacked}");
}

#[test]
fn protocol_errors() {
    let mut session = Session::new();
    assert_eq!(session.handle_input(&[6; 1537]), Err(Error::Version(6)));
    let mut session = Session::new();
    let mut client = Client::new();
    handshake(&mut session);
    let input = client.command(0, &["publish".into(), 1.0.into()]);
    assert!(session.handle_input(&input).is_err());
    // An error closes the session: later input is ignored.
    assert!(session.is_closed());
    assert_eq!(session.handle_input(&input), Ok(()));
    assert!(session.poll_transmit().is_none());
    let mut session = Session::new();
    handshake(&mut session);
    // A chunk announcing a 16 MiB message waits for it.
    assert_eq!(
        session.handle_input(&[3, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0]),
        Ok(())
    );
    let mut session = Session::new();
    handshake(&mut session);
    // A lower message limit.
    let mut limited = Session::new();
    limited.set_max_message_len(1000);
    handshake(&mut limited);
    assert_eq!(
        limited.handle_input(&[3, 0, 0, 0, 0, 0x03, 0xE9, 20, 0, 0, 0, 0]),
        Err(Error::MessageTooLong(1001))
    );
    let mut limited = Session::new();
    limited.set_max_message_len(1000);
    assert_eq!(limited.handle_input(&[0; 70_000]), Err(Error::Overflow));
    // Media before publish is counted and dropped, not fatal.
    let mut client = Client::new();
    session.handle_input(&connect(&mut client, "live")).unwrap();
    session.accept(true).unwrap();
    session
        .handle_input(&client.media(kind::VIDEO, 0, avc_record()))
        .unwrap();
    assert_eq!(session.stats().dropped, 1);
}

/// The whole client side of an OBS-style publish (C0C1, C2, Set Chunk Size 4096,
/// FMLE connect fields, the FCPublish sequence, media larger than a chunk), as one
/// byte string.
fn obs_stream() -> Vec<u8> {
    let mut bytes = vec![3u8];
    bytes.extend((0..PACKET_SIZE).map(|i| (i * 13) as u8));
    // C2: librtmp echoes S1; the server does not check it.
    bytes.extend([0u8; PACKET_SIZE]);
    let mut client = Client::new();
    client
        .writer
        .write(&message::set_chunk_size(4096), &mut bytes)
        .unwrap();
    client.writer.set_chunk_size(4096).unwrap();
    bytes.extend(client.command(
        0,
        &[
            "connect".into(),
            1.0.into(),
            Value::Object(vec![
                ("app".into(), Value::string("live")),
                ("type".into(), Value::string("nonprivate")),
                (
                    "flashVer".into(),
                    Value::string("FMLE/3.0 (compatible; FMSc/1.0)"),
                ),
                ("swfUrl".into(), Value::string("rtmp://example.net/live")),
                ("tcUrl".into(), Value::string("rtmp://example.net/live")),
            ]),
        ],
    ));
    for (i, name) in ["releaseStream", "FCPublish"].iter().enumerate() {
        bytes.extend(client.command(
            0,
            &[
                (*name).into(),
                (2.0 + i as f64).into(),
                Value::Null,
                "obs".into(),
            ],
        ));
    }
    bytes.extend(client.command(0, &["createStream".into(), 4.0.into(), Value::Null]));
    bytes.extend(client.command(
        1,
        &[
            "publish".into(),
            5.0.into(),
            Value::Null,
            "obs".into(),
            "live".into(),
        ],
    ));
    bytes.extend(client.media(kind::VIDEO, 0, avc_record()));
    bytes.extend(client.media(kind::AUDIO, 0, vec![0xAF, 0, 0x11, 0x90]));
    for n in 0..6u32 {
        let mut frame = vec![if n % 3 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        frame.extend_from_slice(&10_000u32.to_be_bytes());
        frame.push(if n % 3 == 0 { 0x65 } else { 0x41 });
        frame.extend(std::iter::repeat_n(n as u8 + 1, 9_999));
        bytes.extend(client.media(kind::VIDEO, n * 33, frame));
        bytes.extend(client.media(kind::AUDIO, n * 21, vec![0xAF, 1, 0x21, 0x10, n as u8]));
    }
    bytes
}

/// Feeds `bytes` in pieces of `step`, accepting every request; returns the events.
fn run(bytes: &[u8], step: usize) -> Vec<Event> {
    let mut session = Session::new();
    let mut seen = Vec::new();
    for piece in bytes.chunks(step) {
        session.handle_input(piece).unwrap();
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::Connect { .. } | Event::Publish { .. }) {
                session.accept(true).unwrap();
            }
            seen.push(event);
        }
    }
    seen
}

#[test]
fn obs_style_publish_in_one_read() {
    let events = run(&obs_stream(), usize::MAX);
    assert_eq!(events.len(), 2 + 6 + 6, "{events:?}");
    assert_eq!(
        events[1],
        Event::Publish {
            app: "live".into(),
            stream_key: "obs".into()
        }
    );
    let keyframes = events
        .iter()
        .filter(|e| matches!(e, Event::Video(v) if v.keyframe))
        .count();
    assert_eq!(keyframes, 2);
    let Some(Event::Audio(audio)) = events.get(3) else {
        panic!("{:?}", events.get(3));
    };
    // AAC-LC 48 kHz stereo (0x11 0x90).
    assert_eq!((audio.sample_rate, audio.channels), (48_000, 2));
}

proptest::proptest! {
    #[test]
    fn events_do_not_depend_on_read_sizes(step in 1usize..5000) {
        let bytes = obs_stream();
        proptest::prop_assert_eq!(run(&bytes, step), run(&bytes, usize::MAX));
    }
}
