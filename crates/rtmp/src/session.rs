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
        // Any error closes the session (process() does it too).
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
mod tests;
