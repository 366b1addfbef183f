//! The board where running engines' reports are read: a flow's statistics, a
//! channel's health. The runtime attaches the receiving end of each engine's
//! `watch` channel when it starts the engine and detaches it when the engine
//! stops; anyone (DescribeFlow, DescribeChannel, `onair flows status`, later
//! the metrics store) reads the latest value without waiting for the engine
//! and without blocking it. A value read is a copy of the latest report.

use std::collections::HashMap;
use std::sync::RwLock;

use tokio::sync::watch;
use transport::FlowStats;

/// The latest reports of every running engine, by ARN (flows) or id (channels).
#[derive(Default)]
pub struct Reports {
    flows: Board<FlowStats>,
    channels: Board<ChannelReport>,
}

impl Reports {
    /// Posts a running flow's statistics channel.
    pub fn attach_flow(&self, flow_arn: &str, stats: watch::Receiver<FlowStats>) {
        self.flows.attach(flow_arn, stats);
    }

    /// The flow's engine stopped.
    pub fn detach_flow(&self, flow_arn: &str) {
        self.flows.detach(flow_arn);
    }

    /// The latest statistics of a running flow.
    pub fn flow(&self, flow_arn: &str) -> Option<FlowStats> {
        self.flows.latest(flow_arn)
    }

    /// Posts a running channel's health channel.
    pub fn attach_channel(&self, channel_id: &str, health: watch::Receiver<ChannelReport>) {
        self.channels.attach(channel_id, health);
    }

    /// The channel's engine stopped.
    pub fn detach_channel(&self, channel_id: &str) {
        self.channels.detach(channel_id);
    }

    /// The latest health of a running channel.
    pub fn channel(&self, channel_id: &str) -> Option<ChannelReport> {
        self.channels.latest(channel_id)
    }

    /// A receiver of a running channel's health, to follow it.
    pub fn watch_channel(&self, channel_id: &str) -> Option<watch::Receiver<ChannelReport>> {
        self.channels.watch(channel_id)
    }
}

struct Board<T> {
    entries: RwLock<HashMap<String, watch::Receiver<T>>>,
}

impl<T> Default for Board<T> {
    fn default() -> Self {
        Board {
            entries: RwLock::default(),
        }
    }
}

impl<T: Clone> Board<T> {
    fn attach(&self, id: &str, rx: watch::Receiver<T>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.insert(id.to_owned(), rx);
    }

    fn detach(&self, id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(id);
    }

    fn watch(&self, id: &str) -> Option<watch::Receiver<T>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(id).cloned()
    }

    fn latest(&self, id: &str) -> Option<T> {
        self.watch(id).map(|rx| rx.borrow().clone())
    }
}

/// A running channel's health, as its engine reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelReport {
    /// The input attachment fed now.
    pub active_input: String,
    /// The engine is filling an input loss (`inputLossBehavior`).
    pub input_loss: bool,
    /// Per input attachment (primary, then secondary).
    pub inputs: Vec<InputReport>,
    /// Datagrams the engine dropped because it was behind (all restarts).
    pub dropped_datagrams: u64,
    /// Times the engine died and was restarted.
    pub engine_restarts: u64,
    /// What the engine has done (counting from its start: they begin again
    /// at 0 when the engine is restarted, which [`Self::engine_restarts`] tells).
    pub counters: ChannelCounters,
}

/// Running totals of a channel engine, from which the metrics store takes
/// per-second rates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelCounters {
    /// Pictures decoded from the input.
    pub decoded_frames: u64,
    /// Pictures made up while the input was lost or a switch was held.
    pub fill_frames: u64,
    /// Input pictures not encoded: access units skipped waiting for an IDR,
    /// and pictures the decoder flagged corrupt.
    pub dropped_frames: u64,
    /// Bytes taken from the inputs.
    pub input_bytes: u64,
    /// Muxed bytes handed to the outputs.
    pub output_bytes: u64,
    /// Nanoseconds the engine thread spent working rather than waiting.
    pub busy_nanos: u64,
    /// HLS PUTs answered 4xx / 5xx.
    pub http_4xx: u64,
    pub http_5xx: u64,
    /// Outputs of the channel's output groups.
    pub outputs: u32,
    /// The fastest video rendition's frame rate (numerator, denominator).
    pub frame_rate: (u32, u32),
    /// When these totals were read (milliseconds since the Unix epoch): rates
    /// are differences over this clock, not over whenever a reader looked.
    pub sampled_ms: u64,
}

/// One input attachment of a running channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputReport {
    /// The attachment's name.
    pub name: String,
    /// Where the input stands now.
    pub state: InputState,
    /// Why, when the input is not connected (the flow is not running, the
    /// port is held by another program …).
    pub reason: Option<String>,
    /// Times the input went away after delivering.
    pub losses: u64,
    /// Datagrams dropped because their sender is outside the input's
    /// security groups (push inputs; since the engine started).
    pub refused: u64,
    /// Black video (watched only with a black failover condition).
    pub black: bool,
    /// Silent audio (watched only with a silence failover condition).
    pub silent: bool,
}

/// Where an input of a running channel stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputState {
    /// Waiting for its source: a flow that is not running yet, a port that
    /// cannot be bound yet. The channel follows it and picks it up.
    #[default]
    Waiting,
    /// Attached to its source and receiving.
    Connected,
    /// Attached to its source, but nothing arrived for a second.
    Silent,
}

impl InputState {
    /// The word DescribeChannel shows.
    pub fn as_str(self) -> &'static str {
        match self {
            InputState::Waiting => "WAITING",
            InputState::Connected => "CONNECTED",
            InputState::Silent => "NO_DATA",
        }
    }
}
