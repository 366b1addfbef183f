//! The server side of one RTMP connection, publish only (§7.2.1.1 connect, §7.2.1.3
//! createStream, §7.2.2.6 publish, and the FMLE additions releaseStream / FCPublish /
//! FCUnpublish that ffmpeg and OBS send).
//!
//! Driving contract:
//! - call [`Session::handle_input`] with every byte read from the socket, in order;
//! - after it, write everything [`Session::poll_transmit`] returns, and drain
//!   [`Session::poll_event`];
//! - answer [`Event::Connect`] and [`Event::Publish`] with [`Session::accept`]; until
//!   then the session reads nothing further (it holds at most [`MAX_BUFFERED`] bytes,
//!   less after [`Session::set_max_message_len`]);
//! - after [`Event::Closed`] (or an `Err` from `handle_input` or `accept`), write what
//!   `poll_transmit` still returns and close the socket.
//!
//! The sequence a publisher runs, and what the session answers:
//!
//! ```text
//! C0 C1 → S0 S1 S2, C2
//! connect(app, tcUrl)         → Event::Connect; on accept: Window Ack Size, Set Peer
//!                               Bandwidth, Set Chunk Size 4096, _result(Connect.Success)
//! releaseStream, FCPublish    → _result, onFCPublish
//! createStream                → _result(stream id 1)
//! publish(key, "live")        → Event::Publish; on accept: StreamBegin, onStatus
//!                               NetStream.Publish.Start
//! @setDataFrame onMetaData    → Event::Metadata
//! audio / video               → Event::Audio / Event::Video
//! FCUnpublish, deleteStream   → Event::Unpublish
//! ```
//!
//! Acknowledgements: the session sends one each time the bytes received since the last
//! one reach the window (the peer's Window Acknowledgement Size, 2.5 MB until it sends
//! one), and answers ping requests.

use std::collections::VecDeque;

use crate::amf0::{self, Value};
use crate::chunk::{ChunkReader, ChunkWriter, Message, MAX_MESSAGE_LEN};
use crate::flv::{AudioFrame, FlvDecoder, Media, VideoFrame};
use crate::handshake::{Handshake, State as HandshakeState};
use crate::message::{self, kind, user_control};
use crate::Error;

/// Most bytes of input the session holds unprocessed: one whole chunk of the longest
/// message plus headers, or what arrives while a decision is pending.
pub const MAX_BUFFERED: usize = MAX_MESSAGE_LEN as usize + BUFFER_SLACK;
/// Room for chunk headers and small messages beyond the longest message.
const BUFFER_SLACK: usize = 1 << 16;
/// Chunk size the server writes with after connect.
pub const SERVER_CHUNK_SIZE: u32 = 4096;
/// Window Acknowledgement Size and peer bandwidth the server announces.
pub const WINDOW: u32 = 2_500_000;
/// Chunk stream of command responses.
const COMMAND_CSID: u32 = 3;
/// Chunk stream of stream status messages.
const STATUS_CSID: u32 = 5;
/// Message stream id handed out by createStream.
const STREAM_ID: u32 = 1;

/// What the session reports to its driver.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The client asked to connect to `app`. Answer with [`Session::accept`].
    Connect {
        /// Application name (the first path segment of the URL).
        app: String,
        /// The URL the client connected to, as it says.
        tc_url: String,
    },
    /// The client asked to publish `stream_key` in `app`. Answer with
    /// [`Session::accept`].
    Publish {
        /// Application name given at connect.
        app: String,
        /// Stream name (the OBS "stream key"), as sent.
        stream_key: String,
    },
    /// onMetaData properties (width, height, framerate, codec ids, encoder …).
    Metadata(Vec<(String, Value)>),
    /// An H.264 access unit.
    Video(VideoFrame),
    /// An AAC frame in ADTS.
    Audio(AudioFrame),
    /// The publisher stopped publishing (FCUnpublish, closeStream or deleteStream).
    Unpublish,
    /// The session is over: flush `poll_transmit`, then close the connection.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a session closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The driver refused the connect request.
    ConnectRefused,
    /// The driver refused the publish request.
    PublishRefused,
    /// The client asked to play, which this server does not do.
    PlayRefused,
}

/// Counters of one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes handed to `handle_input`.
    pub bytes_in: u64,
    /// Bytes handed out by `poll_transmit`.
    pub bytes_out: u64,
    /// Messages reassembled.
    pub messages: u64,
    /// Video access units passed on.
    pub video_frames: u64,
    /// Audio frames passed on.
    pub audio_frames: u64,
    /// Media messages dropped: before publish, before their codec configuration,
    /// malformed, or of a codec other than H.264 / AAC.
    pub dropped: u64,
    /// Acknowledgements sent.
    pub acks: u64,
}

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Handshake,
    /// Handshake done, waiting for connect.
    AwaitConnect,
    /// Connect reported, waiting for the driver.
    ConnectPending {
        txid: f64,
    },
    Connected,
    /// Publish reported, waiting for the driver.
    PublishPending {
        txid: f64,
        stream_id: u32,
    },
    Publishing {
        stream_id: u32,
    },
    Closed,
}

/// One RTMP connection. See the [module docs](self).
#[derive(Debug)]
pub struct Session {
    phase: Phase,
    handshake: Handshake,
    reader: ChunkReader,
    writer: ChunkWriter,
    flv: FlvDecoder,
    input: Vec<u8>,
    transmit: Vec<u8>,
    events: VecDeque<Event>,
    app: String,
    stream_key: String,
    ack_window: u32,
    unacked: u64,
    stats: Stats,
    streams_created: u32,
    max_buffered: usize,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

fn transaction_id(values: &[Value]) -> f64 {
    values.get(1).and_then(Value::as_number).unwrap_or(0.0)
}

fn status(level: &str, code: &str, description: &str) -> Value {
    Value::Object(vec![
        ("level".into(), Value::string(level)),
        ("code".into(), Value::string(code)),
        ("description".into(), Value::string(description)),
    ])
}

impl Session {
    /// A session waiting for the client's C0 and C1.
    pub fn new() -> Self {
        Self {
            phase: Phase::Handshake,
            handshake: Handshake::new(),
            reader: ChunkReader::new(),
            writer: ChunkWriter::new(),
            flv: FlvDecoder::new(),
            input: Vec::new(),
            transmit: Vec::new(),
            events: VecDeque::new(),
            app: String::new(),
            stream_key: String::new(),
            ack_window: WINDOW,
            unacked: 0,
            stats: Stats::default(),
            streams_created: 0,
            max_buffered: MAX_BUFFERED,
        }
    }

    /// Lowers the longest message the peer may send (default and ceiling
    /// [`MAX_MESSAGE_LEN`], 16 MiB), and with it the input the session holds, which
    /// bounds the memory one connection can make the server hold to about three times
    /// this (see [`crate::chunk`]'s bounds). A key frame must fit.
    pub fn set_max_message_len(&mut self, len: u32) {
        self.reader.set_max_message_len(len);
        let len = usize::try_from(len.min(MAX_MESSAGE_LEN)).unwrap_or(usize::MAX);
        self.max_buffered = len.saturating_add(BUFFER_SLACK);
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The app of the accepted connect (empty before).
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The stream key being published (empty before publish).
    pub fn stream_key(&self) -> &str {
        &self.stream_key
    }

    /// Whether media is flowing (publish accepted and not ended).
    pub fn is_publishing(&self) -> bool {
        matches!(self.phase, Phase::Publishing { .. })
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Bytes to write to the peer, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.transmit.is_empty() {
            return None;
        }
        let out = std::mem::take(&mut self.transmit);
        self.stats.bytes_out = self
            .stats
            .bytes_out
            .saturating_add(u64::try_from(out.len()).unwrap_or(u64::MAX));
        Some(out)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Takes bytes read from the socket. An error is fatal: the session is closed
    /// (no [`Event::Closed`] follows); flush `poll_transmit` and close the socket.
    /// Input after the session closed is ignored.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.phase == Phase::Closed {
            return Ok(());
        }
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.stats.bytes_in = self.stats.bytes_in.saturating_add(len);
        if self.input.len().saturating_add(data.len()) > self.max_buffered {
            self.fail();
            return Err(Error::Overflow);
        }
        self.input.extend_from_slice(data);
        let mut result = Ok(());
        if self.phase != Phase::Handshake {
            result = self.count_for_ack(len);
        }
        // process() closes the session itself on an error.
        result
            .and_then(|()| self.process())
            .inspect_err(|_| self.fail())
    }

    /// Answers the pending [`Event::Connect`] or [`Event::Publish`]: `true` lets the
    /// client go on, `false` sends it an error status and closes the session (an
    /// [`Event::Closed`] follows). Without a pending request this does nothing. Input
    /// held while waiting is processed now, hence the `Result`.
    pub fn accept(&mut self, ok: bool) -> Result<(), Error> {
        let result = self.decide(ok);
        if result.is_err() {
            self.fail();
        }
        result
    }

    /// After a fatal error: no more input is taken.
    fn fail(&mut self) {
        self.phase = Phase::Closed;
        self.input = Vec::new();
    }

    fn decide(&mut self, ok: bool) -> Result<(), Error> {
        match self.phase.clone() {
            Phase::ConnectPending { txid } => {
                if ok {
                    self.send(message::window_ack_size(WINDOW))?;
                    self.send(message::set_peer_bandwidth(WINDOW))?;
                    self.send(message::set_chunk_size(SERVER_CHUNK_SIZE))?;
                    self.writer.set_chunk_size(SERVER_CHUNK_SIZE)?;
                    let properties = Value::Object(vec![
                        ("fmsVer".into(), Value::string("FMS/3,0,1,123")),
                        ("capabilities".into(), Value::Number(31.0)),
                    ]);
                    let mut info = status(
                        "status",
                        "NetConnection.Connect.Success",
                        "Connection succeeded.",
                    );
                    if let Value::Object(props) = &mut info {
                        props.push(("objectEncoding".into(), Value::Number(0.0)));
                    }
                    self.command(0, &["_result".into(), txid.into(), properties, info])?;
                    self.phase = Phase::Connected;
                } else {
                    let info = status(
                        "error",
                        "NetConnection.Connect.Rejected",
                        "Connection rejected.",
                    );
                    self.command(0, &["_error".into(), txid.into(), Value::Null, info])?;
                    self.close(CloseReason::ConnectRefused);
                }
            }
            Phase::PublishPending { txid: _, stream_id } => {
                if ok {
                    self.send(message::user_control(user_control::STREAM_BEGIN, stream_id))?;
                    let description = format!("{} is now published.", self.stream_key);
                    let info = status("status", "NetStream.Publish.Start", &description);
                    self.status(stream_id, info)?;
                    self.phase = Phase::Publishing { stream_id };
                } else {
                    let info = status("error", "NetStream.Publish.BadName", "Publishing refused.");
                    self.status(stream_id, info)?;
                    self.close(CloseReason::PublishRefused);
                }
            }
            _ => return Ok(()),
        }
        self.process()
    }

    fn close(&mut self, reason: CloseReason) {
        self.phase = Phase::Closed;
        self.input = Vec::new();
        self.events.push_back(Event::Closed { reason });
    }

    fn count_for_ack(&mut self, len: u64) -> Result<(), Error> {
        self.unacked = self.unacked.saturating_add(len);
        if self.ack_window != 0 && self.unacked >= u64::from(self.ack_window) {
            self.unacked = 0;
            // The sequence number is the total received, wrapping at 2^32 (§5.4.3).
            let total = (self.stats.bytes_in & 0xFFFF_FFFF) as u32;
            self.send(message::acknowledgement(total))?;
            self.stats.acks = self.stats.acks.saturating_add(1);
        }
        Ok(())
    }

    fn send(&mut self, message: Message) -> Result<(), Error> {
        self.writer.write(&message, &mut self.transmit)
    }

    fn command(&mut self, stream_id: u32, values: &[Value]) -> Result<(), Error> {
        self.send(Message {
            csid: COMMAND_CSID,
            timestamp: 0,
            type_id: kind::COMMAND_AMF0,
            stream_id,
            payload: amf0::encode_all(values),
        })
    }

    fn status(&mut self, stream_id: u32, info: Value) -> Result<(), Error> {
        self.send(Message {
            csid: STATUS_CSID,
            timestamp: 0,
            type_id: kind::COMMAND_AMF0,
            stream_id,
            payload: amf0::encode_all(&["onStatus".into(), 0.0.into(), Value::Null, info]),
        })
    }

    fn waiting(&self) -> bool {
        matches!(
            self.phase,
            Phase::ConnectPending { .. } | Phase::PublishPending { .. } | Phase::Closed
        )
    }

    /// Runs the handshake and the chunk reader over the held input until it runs out,
    /// a decision is pending, or the session closes.
    fn process(&mut self) -> Result<(), Error> {
        let mut pos = 0usize;
        let result = loop {
            if self.waiting() {
                break Ok(());
            }
            let rest = self.input.get(pos..).unwrap_or_default();
            if self.phase == Phase::Handshake {
                match self.handshake.read(rest, &mut self.transmit) {
                    Ok(0) => break Ok(()),
                    Ok(used) => {
                        pos = pos.saturating_add(used);
                        if self.handshake.state() == HandshakeState::Done {
                            self.phase = Phase::AwaitConnect;
                            let after = self.input.len().saturating_sub(pos);
                            let after = u64::try_from(after).unwrap_or(u64::MAX);
                            if let Err(e) = self.count_for_ack(after) {
                                break Err(e);
                            }
                        }
                        continue;
                    }
                    Err(e) => break Err(e),
                }
            }
            match self.reader.read(rest) {
                Ok((0, _)) => break Ok(()),
                Ok((used, message)) => {
                    pos = pos.saturating_add(used);
                    if let Some(message) = message {
                        self.stats.messages = self.stats.messages.saturating_add(1);
                        if let Err(e) = self.on_message(message) {
                            break Err(e);
                        }
                    }
                }
                Err(e) => break Err(e),
            }
        };
        if result.is_err() {
            // Fatal: the session takes no more input.
            self.fail();
        }
        if self.phase == Phase::Closed {
            self.input = Vec::new();
        } else {
            self.input.drain(..pos.min(self.input.len()));
        }
        result
    }

    fn on_message(&mut self, message: Message) -> Result<(), Error> {
        match message.type_id {
            kind::SET_CHUNK_SIZE => {
                let size = message::read_u32(&message.payload).ok_or(Error::Short)?;
                self.reader.set_chunk_size(size & 0x7FFF_FFFF)?;
            }
            kind::ABORT => {
                let csid = message::read_u32(&message.payload).ok_or(Error::Short)?;
                self.reader.abort(csid);
            }
            kind::WINDOW_ACK_SIZE => {
                self.ack_window = message::read_u32(&message.payload).ok_or(Error::Short)?;
            }
            kind::USER_CONTROL => {
                if let Some((user_control::PING_REQUEST, stamp)) =
                    message::read_user_control(&message.payload)
                {
                    self.send(message::user_control(user_control::PING_RESPONSE, stamp))?;
                }
            }
            kind::COMMAND_AMF0 => self.on_command(&message.payload, message.stream_id)?,
            kind::COMMAND_AMF3 => {
                // An AMF3 command message starts with a format byte, then AMF0 values.
                let body = message.payload.get(1..).unwrap_or_default();
                self.on_command(body, message.stream_id)?;
            }
            kind::DATA_AMF0 => self.on_data(&message.payload),
            kind::DATA_AMF3 => self.on_data(message.payload.get(1..).unwrap_or_default()),
            kind::AUDIO | kind::VIDEO => {
                self.on_media(message.type_id, message.timestamp, &message.payload);
            }
            kind::AGGREGATE => self.on_aggregate(message.timestamp, &message.payload),
            // Acknowledgement, Set Peer Bandwidth, shared objects: nothing to do.
            _ => {}
        }
        Ok(())
    }

    fn on_command(&mut self, body: &[u8], stream_id: u32) -> Result<(), Error> {
        let values = amf0::decode_all(body)?;
        let Some(name) = values.first().and_then(Value::as_str) else {
            return Err(Error::Protocol("command without a name"));
        };
        let txid = transaction_id(&values);
        match name {
            "connect" => {
                if self.phase != Phase::AwaitConnect {
                    return Err(Error::Protocol("connect twice"));
                }
                let object = values.get(2);
                let text = |key: &str| {
                    object
                        .and_then(|o| o.get(key))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let app = text("app");
                // ffmpeg may send "app/" or "app?query": the app is the path segment.
                let app = app.split(['/', '?']).next().unwrap_or_default().to_owned();
                self.app.clone_from(&app);
                self.events.push_back(Event::Connect {
                    app,
                    tc_url: text("tcUrl"),
                });
                self.phase = Phase::ConnectPending { txid };
            }
            "releaseStream" | "FCPublish" | "createStream" | "publish" | "FCUnpublish"
            | "deleteStream" | "closeStream"
                if self.phase == Phase::AwaitConnect =>
            {
                return Err(Error::Protocol("command before connect"));
            }
            "releaseStream" if txid != 0.0 => {
                self.command(0, &["_result".into(), txid.into(), Value::Null])?;
            }
            "FCPublish" => {
                let name = values.get(3).and_then(Value::as_str).unwrap_or_default();
                let info = Value::Object(vec![
                    ("code".into(), Value::string("NetStream.Publish.Start")),
                    ("description".into(), Value::string(name)),
                ]);
                self.command(0, &["onFCPublish".into(), 0.0.into(), Value::Null, info])?;
            }
            "createStream" => {
                self.streams_created = self.streams_created.saturating_add(1);
                if self.streams_created > 8 {
                    return Err(Error::Protocol("too many createStream"));
                }
                self.command(
                    0,
                    &[
                        "_result".into(),
                        txid.into(),
                        Value::Null,
                        f64::from(STREAM_ID).into(),
                    ],
                )?;
            }
            "publish" => {
                if self.phase != Phase::Connected {
                    return Err(Error::Protocol("publish while publishing"));
                }
                let key = values.get(3).and_then(Value::as_str).unwrap_or_default();
                self.stream_key = key.to_owned();
                self.events.push_back(Event::Publish {
                    app: self.app.clone(),
                    stream_key: key.to_owned(),
                });
                let stream_id = if stream_id == 0 { STREAM_ID } else { stream_id };
                self.phase = Phase::PublishPending { txid, stream_id };
            }
            "FCUnpublish" | "closeStream" | "deleteStream" => {
                // No answer: publishers close right after these, and an answer arriving
                // after their close only makes their kernel reset the connection.
                if let Phase::Publishing { .. } = self.phase {
                    self.phase = Phase::Connected;
                    self.events.push_back(Event::Unpublish);
                }
            }
            "play" | "play2" => {
                let info = status("error", "NetStream.Play.Failed", "Playing is refused.");
                self.status(if stream_id == 0 { STREAM_ID } else { stream_id }, info)?;
                self.close(CloseReason::PlayRefused);
            }
            // _checkbw, getStreamLength, onBWDone answers, _result of our calls …
            _ => {}
        }
        Ok(())
    }

    fn on_data(&mut self, body: &[u8]) {
        // ["@setDataFrame", "onMetaData", {…}] or ["onMetaData", {…}]; anything else,
        // or a body that does not decode, is ignored (it is advisory).
        let Ok(values) = amf0::decode_all(body) else {
            return;
        };
        let mut iter = values.into_iter();
        let mut named = false;
        for value in iter.by_ref() {
            if value.as_str() == Some("onMetaData") {
                named = true;
                break;
            }
        }
        if !named {
            return;
        }
        if let Some(Value::Object(props) | Value::EcmaArray(props)) = iter.next() {
            self.events.push_back(Event::Metadata(props));
        }
    }

    fn on_media(&mut self, type_id: u8, timestamp: u32, body: &[u8]) {
        if !self.is_publishing() {
            self.stats.dropped = self.stats.dropped.saturating_add(1);
            return;
        }
        let media = if type_id == kind::VIDEO {
            self.flv.video(timestamp, body)
        } else {
            self.flv.audio(timestamp, body)
        };
        match media {
            Ok(Media::Video(frame)) => {
                self.stats.video_frames = self.stats.video_frames.saturating_add(1);
                self.events.push_back(Event::Video(frame));
            }
            Ok(Media::Audio(frame)) => {
                self.stats.audio_frames = self.stats.audio_frames.saturating_add(1);
                self.events.push_back(Event::Audio(frame));
            }
            Ok(Media::Config | Media::EndOfSequence) => {}
            Ok(Media::Skipped | Media::Unsupported(_)) | Err(_) => {
                self.stats.dropped = self.stats.dropped.saturating_add(1);
            }
        }
    }

    /// An aggregate message (§7.1.6): FLV tags (11-byte header, body, 4-byte back
    /// pointer), timestamps relative to the first tag's, based at the message's.
    fn on_aggregate(&mut self, timestamp: u32, mut body: &[u8]) {
        let mut first: Option<u32> = None;
        while let Some((header, rest)) = body.split_first_chunk::<11>() {
            let [tag_type, s0, s1, s2, t0, t1, t2, t3, _, _, _] = *header;
            let size = usize::from(s0) << 16 | usize::from(s1) << 8 | usize::from(s2);
            let stamp = u32::from_be_bytes([t3, t0, t1, t2]);
            let Some(tag) = rest.get(..size) else {
                break;
            };
            let base = *first.get_or_insert(stamp);
            let at = timestamp.wrapping_add(stamp.wrapping_sub(base));
            if tag_type == kind::AUDIO || tag_type == kind::VIDEO {
                self.on_media(tag_type, at, tag);
            }
            body = rest.get(size.saturating_add(4)..).unwrap_or_default();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
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
}
