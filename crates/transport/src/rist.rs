//! The RIST side of a flow, through librist ([`rist_sys`]).
//!
//! - Sources: one thread per RIST source owns its [`rist_sys::Receiver`]
//!   and reads with a short timeout ([`READ_WAIT`]), handing messages over
//!   in batches ([`Event::Data`]) on a bounded channel; the flow feeds them
//!   to its core like UDP datagrams. When the flow falls behind, batches are
//!   dropped and counted ([`RistLinkStats::overflow`]).
//! - Outputs: the flow's own thread writes to a [`rist_sys::Sender`] per
//!   enabled RIST output. A write only copies into librist's buffer
//!   (librist's threads do the network I/O and the retransmissions), so it
//!   never waits.
//! - librist's own threads report peers and statistics through hooks that
//!   only send on an unbounded channel ([`Event::Peer`], [`Event::Stats`]);
//!   the flow folds them into [`RistLinkStats`] ([`fold`]). A sender whose
//!   address is outside the source's allow list is refused by librist's
//!   admission hook and counted.
//!
//! Stopping joins every reading thread, whose receiver is destroyed on the
//! way out, so a restarted flow can listen on the same ports.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ipnet::IpNet;
use rist_sys::{Hooks, PeerEvent, Profile, Stats};
use tokio::sync::mpsc;

use crate::flow::{FlowCore, Port, Transmit};
use crate::srt::Endpoint;
use crate::{
    FlowStats, OutputConfig, OutputProtocol, RistLinkStats, RistProfile, RistSettings,
    SourceConfig, SourceProtocol,
};

/// Longest wait in one read: how late a stop is noticed.
pub const READ_WAIT: Duration = Duration::from_millis(20);
/// Messages read before they are handed over.
const BATCH: usize = 64;
/// Batches queued towards the flow before new ones are dropped (counted).
pub const QUEUE: usize = 1024;
/// How often librist reports statistics.
pub const STATS_EVERY: Duration = Duration::from_millis(500);
/// At most one log line per endpoint and this period about refused senders
/// (librist asks again each time a refused sender's packets keep coming).
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(5);

/// From the RIST threads (ours and librist's) to the flow.
#[derive(Debug)]
pub enum Event {
    /// Messages a source received, in order, from its admitted sender.
    Data {
        source: usize,
        from: Option<SocketAddr>,
        messages: Vec<Bytes>,
    },
    Peer(Endpoint, PeerEvent),
    /// One librist report (counters of its last interval).
    Stats(Endpoint, Stats),
    /// Messages of a source dropped because the flow's queue was full.
    Overflow {
        source: usize,
        messages: u64,
    },
}

/// The sending ends: media on a bounded channel, the rest on an unbounded
/// one so that a peer change or a report is never lost to a burst of media.
#[derive(Clone)]
pub struct Events {
    data: mpsc::Sender<Event>,
    control: mpsc::UnboundedSender<Event>,
}

/// The flow's receiving ends of [`Events`].
pub struct EventsRx {
    pub data: mpsc::Receiver<Event>,
    pub control: mpsc::UnboundedReceiver<Event>,
}

pub fn channel() -> (Events, EventsRx) {
    let (data, data_rx) = mpsc::channel(QUEUE);
    let (control, control_rx) = mpsc::unbounded_channel();
    (
        Events { data, control },
        EventsRx {
            data: data_rx,
            control: control_rx,
        },
    )
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} (RIST): {source}")]
    Listen {
        addr: SocketAddr,
        source: rist_sys::Error,
    },
    #[error("cannot start a RIST reading thread: {0}")]
    Thread(std::io::Error),
}

fn profile(p: RistProfile) -> Profile {
    match p {
        RistProfile::Simple => Profile::Simple,
        RistProfile::Main => Profile::Main,
    }
}

fn buffer(s: &RistSettings) -> Duration {
    Duration::from_millis(u64::from(s.buffer_ms))
}

/// Hooks that forward to the flow; never block.
fn hooks(endpoint: Endpoint, allow: Vec<IpNet>, events: &Events, peer: PeerSlot) -> Hooks {
    let (on_peer, on_stats) = (events.control.clone(), events.control.clone());
    let ep = endpoint.clone();
    Hooks {
        admit: Box::new(move |from| crate::srt::allowed(&allow, from.ip())),
        on_peer: Box::new(move |e| {
            if let (PeerEvent::Admitted(a), Ok(mut p)) = (e, peer.lock()) {
                *p = Some(a);
            }
            let _ = on_peer.send(Event::Peer(ep.clone(), e));
        }),
        on_stats: Box::new(move |s| {
            let _ = on_stats.send(Event::Stats(endpoint.clone(), s));
        }),
        stats_every: STATS_EVERY,
    }
}

/// The last sender a source admitted, written by librist's thread.
type PeerSlot = Arc<Mutex<Option<SocketAddr>>>;

/// A source's reading thread; dropping it stops and joins the thread.
struct Reader {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_loop(
    source: usize,
    rx: rist_sys::Receiver,
    stop: &AtomicBool,
    events: &Events,
    peer: &PeerSlot,
) {
    let mut last_error: Option<String> = None;
    while !stop.load(Ordering::Relaxed) && !events.control.is_closed() {
        let mut messages = Vec::new();
        match rx.read(READ_WAIT) {
            Ok(Some(m)) => messages.push(Bytes::from(m.payload)),
            Ok(None) => continue,
            Err(e) => {
                let e = e.to_string();
                if last_error.as_ref() != Some(&e) {
                    tracing::warn!("rist source {source}: {e}");
                }
                last_error = Some(e);
                std::thread::sleep(READ_WAIT);
                continue;
            }
        }
        while messages.len() < BATCH {
            match rx.read(Duration::ZERO) {
                Ok(Some(m)) => messages.push(Bytes::from(m.payload)),
                _ => break,
            }
        }
        let n = messages.len() as u64;
        let from = peer.lock().ok().and_then(|p| *p);
        let event = Event::Data {
            source,
            from,
            messages,
        };
        if events.data.try_send(event).is_err() {
            let _ = events.control.send(Event::Overflow {
                source,
                messages: n,
            });
        }
    }
}

/// The flow's RIST side: reading threads, senders and the latest link
/// statistics. Empty (and costless) in a flow without RIST.
pub struct Side {
    events: Events,
    readers: Vec<Reader>,
    /// The outputs as last applied (a transmit names its output by index).
    outputs: Vec<OutputConfig>,
    senders: HashMap<String, (OutputConfig, rist_sys::Sender)>,
    stats: HashMap<Endpoint, RistLinkStats>,
    last_refusal_log: HashMap<Endpoint, Instant>,
}

impl Side {
    /// Listens for every RIST source (a port in use fails the flow's start,
    /// naming it) and opens the senders of the enabled RIST outputs.
    pub fn start(
        sources: &[SourceConfig],
        outputs: &[OutputConfig],
        events: Events,
    ) -> Result<Side, StartError> {
        let mut side = Side {
            events,
            readers: Vec::new(),
            outputs: Vec::new(),
            senders: HashMap::new(),
            stats: HashMap::new(),
            last_refusal_log: HashMap::new(),
        };
        for (i, s) in sources.iter().enumerate() {
            let SourceProtocol::Rist(settings) = s.protocol else {
                continue;
            };
            let slot = PeerSlot::default();
            let endpoint = Endpoint::Source(i);
            let h = hooks(
                endpoint.clone(),
                s.allow.clone(),
                &side.events,
                slot.clone(),
            );
            let rx =
                rist_sys::Receiver::listen(s.bind, profile(settings.profile), buffer(&settings), h)
                    .map_err(|source| StartError::Listen {
                        addr: s.bind,
                        source,
                    })?;
            side.stats.insert(endpoint, RistLinkStats::default());
            let stop = Arc::new(AtomicBool::new(false));
            let (stop2, events) = (stop.clone(), side.events.clone());
            let thread = std::thread::Builder::new()
                .name("onair-flow-rist".into())
                .spawn(move || read_loop(i, rx, &stop2, &events, &slot))
                .map_err(StartError::Thread)?;
            side.readers.push(Reader {
                stop,
                thread: Some(thread),
            });
        }
        side.set_outputs(outputs);
        Ok(side)
    }

    /// Replaces the RIST outputs; an output whose settings are unchanged
    /// keeps its sender (and librist's retransmission buffer).
    pub fn set_outputs(&mut self, outputs: &[OutputConfig]) {
        self.outputs = outputs.to_vec();
        let wanted: Vec<&OutputConfig> = outputs
            .iter()
            .filter(|o| o.enabled && matches!(o.protocol, OutputProtocol::Rist(_)))
            .collect();
        self.senders
            .retain(|_, (cfg, _)| wanted.iter().any(|w| *w == cfg));
        self.stats.retain(|e, _| match e {
            Endpoint::Output(id) => outputs.iter().any(|o| &o.id == id),
            Endpoint::Source(_) => true,
        });
        for o in wanted {
            let OutputProtocol::Rist(settings) = o.protocol else {
                continue;
            };
            if self.senders.contains_key(&o.id) {
                continue;
            }
            let endpoint = Endpoint::Output(o.id.clone());
            let h = hooks(
                endpoint.clone(),
                Vec::new(),
                &self.events,
                PeerSlot::default(),
            );
            match rist_sys::Sender::connect(
                o.destination,
                profile(settings.profile),
                buffer(&settings),
                h,
            ) {
                Ok(sender) => {
                    self.stats.entry(endpoint).or_default();
                    self.senders.insert(o.id.clone(), (o.clone(), sender));
                }
                Err(e) => tracing::error!("rist output {}: {e}", o.id),
            }
        }
    }

    /// Sends `t` if its output is a RIST one (true). Never waits: a message
    /// librist will not take is counted against the output.
    pub fn send(&self, core: &mut FlowCore, t: &Transmit) -> bool {
        let Some(out) = self
            .outputs
            .get(t.output)
            .filter(|o| matches!(o.protocol, OutputProtocol::Rist(_)))
        else {
            return false;
        };
        if let Some((_, sender)) = self.senders.get(&out.id) {
            if sender.send(&t.data).is_err() {
                core.send_failed(t.output);
            }
        }
        true
    }

    pub fn on_event(&mut self, core: &mut FlowCore, now: Duration, event: Event) {
        match event {
            Event::Data {
                source,
                from,
                messages,
            } => {
                // Unknown only before librist's admission hook ran, which it
                // does before delivering from an allow-listed source.
                let from = from.unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
                for m in &messages {
                    core.on_datagram(now, source, Port::Media, from, m);
                }
            }
            Event::Peer(endpoint, e) => {
                let link = self.stats.entry(endpoint.clone()).or_default();
                match e {
                    PeerEvent::Admitted(a) => {
                        link.peer = Some(a);
                        link.connected = true;
                        tracing::info!("rist {endpoint:?}: sender {a} admitted");
                    }
                    PeerEvent::Refused(a) => {
                        link.refused += 1;
                        let now = Instant::now();
                        let last = self.last_refusal_log.entry(endpoint.clone()).or_insert(now);
                        if link.refused > 1 && now.duration_since(*last) < REFUSAL_LOG_EVERY {
                            return;
                        }
                        *last = now;
                        tracing::warn!(
                            "rist {endpoint:?}: refused sender {a}: address not in the allow list ({} refused so far)",
                            link.refused
                        );
                    }
                    PeerEvent::Connected => link.connected = true,
                    PeerEvent::TimedOut => link.connected = false,
                }
            }
            Event::Stats(endpoint, report) => {
                fold(self.stats.entry(endpoint).or_default(), report);
            }
            Event::Overflow { source, messages } => {
                self.stats
                    .entry(Endpoint::Source(source))
                    .or_default()
                    .overflow += messages;
            }
        }
    }

    /// Puts the latest link statistics on the flow's.
    pub fn overlay(&self, stats: &mut FlowStats) {
        for (i, s) in stats.sources.iter_mut().enumerate() {
            if let Some(l) = self.stats.get(&Endpoint::Source(i)) {
                s.rist = Some(l.clone());
            }
        }
        for o in &mut stats.outputs {
            if let Some(l) = self.stats.get(&Endpoint::Output(o.id.clone())) {
                o.rist = Some(l.clone());
            }
        }
    }
}

/// Adds one librist report (counters of its last interval) to a link's
/// totals.
pub fn fold(link: &mut RistLinkStats, report: Stats) {
    match report {
        Stats::Receiver(r) => {
            link.connected = r.peers > 0;
            link.packets = link.packets.saturating_add(r.received);
            link.arq_requests = link.arq_requests.saturating_add(r.missing);
            link.arq_recovered = link.arq_recovered.saturating_add(r.recovered);
            link.lost = link.lost.saturating_add(r.lost);
            link.rtt_ms = f64::from(r.rtt_ms);
        }
        Stats::Sender(s) => {
            link.packets = link.packets.saturating_add(s.sent);
            link.arq_requests = link.arq_requests.saturating_add(s.retransmitted);
            link.rtt_ms = f64::from(s.rtt_ms);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use rist_sys::{ReceiverStats, SenderStats};

    #[test]
    fn reports_add_up_and_rtt_is_the_latest() {
        let mut link = RistLinkStats::default();
        let r = |received, missing, recovered, lost, rtt_ms| {
            Stats::Receiver(ReceiverStats {
                peers: 1,
                received,
                missing,
                recovered,
                lost,
                rtt_ms,
                ..ReceiverStats::default()
            })
        };
        fold(&mut link, r(100, 5, 4, 1, 12));
        fold(&mut link, r(50, 2, 2, 0, 9));
        assert_eq!(
            (
                link.packets,
                link.arq_requests,
                link.arq_recovered,
                link.lost
            ),
            (150, 7, 6, 1)
        );
        assert_eq!(link.rtt_ms, 9.0);
        assert!(link.connected);
        fold(&mut link, Stats::Receiver(ReceiverStats::default()));
        assert!(!link.connected, "no peer left");
    }

    #[test]
    fn sender_reports_count_retransmissions() {
        let mut link = RistLinkStats::default();
        let s = Stats::Sender(SenderStats {
            sent: 10,
            retransmitted: 3,
            bandwidth_bps: 0,
            rtt_ms: 4,
        });
        fold(&mut link, s);
        fold(&mut link, s);
        assert_eq!((link.packets, link.arq_requests), (20, 6));
        assert_eq!(link.rtt_ms, 4.0);
    }

    #[test]
    fn counters_saturate() {
        let mut link = RistLinkStats {
            packets: u64::MAX,
            ..RistLinkStats::default()
        };
        fold(
            &mut link,
            Stats::Receiver(ReceiverStats {
                received: 5,
                ..ReceiverStats::default()
            }),
        );
        assert_eq!(link.packets, u64::MAX);
    }
}
