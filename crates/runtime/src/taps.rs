//! Where channels find running flows: every running flow's in-process tap,
//! by flow ARN, and a generation counter that moves whenever a flow engine
//! starts or stops. A channel input follows its flow through this registry:
//! it subscribes to the tap it finds, and when the generation moves (the flow
//! stopped, started again, or was restarted with new sources) it looks again.
//! So a channel never holds on to a flow instance, only to a flow ARN.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::{broadcast, watch};

/// A running flow's tap: subscribe to receive every datagram it puts on air.
#[derive(Clone, Debug)]
pub struct Tap {
    /// Distinguishes one engine of a flow from the next.
    pub instance: u64,
    sender: broadcast::WeakSender<Bytes>,
}

impl Tap {
    /// A receiver of the flow's datagrams; `None` once the engine is gone.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Bytes>> {
        self.sender.upgrade().map(|s| s.subscribe())
    }
}

/// The taps of every running flow.
pub struct Taps {
    taps: Mutex<HashMap<String, Tap>>,
    generation: watch::Sender<u64>,
}

impl Default for Taps {
    fn default() -> Self {
        Taps {
            taps: Mutex::default(),
            generation: watch::channel(0).0,
        }
    }
}

impl Taps {
    /// A flow engine started (or restarted): channels following it move to
    /// this tap.
    pub fn publish(&self, flow_arn: &str, sender: broadcast::WeakSender<Bytes>) {
        let mut taps = self.taps.lock().unwrap_or_else(|e| e.into_inner());
        let instance = *self.generation.borrow() + 1;
        taps.insert(flow_arn.to_owned(), Tap { instance, sender });
        self.generation.send_replace(instance);
    }

    /// A flow engine stopped.
    pub fn withdraw(&self, flow_arn: &str) {
        let mut taps = self.taps.lock().unwrap_or_else(|e| e.into_inner());
        if taps.remove(flow_arn).is_some() {
            self.generation.send_modify(|g| *g += 1);
        }
    }

    /// The tap of a running flow.
    pub fn get(&self, flow_arn: &str) -> Option<Tap> {
        let taps = self.taps.lock().unwrap_or_else(|e| e.into_inner());
        taps.get(flow_arn).cloned()
    }

    /// Changes whenever any flow engine starts or stops.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_follower_sees_a_flow_come_go_and_come_back() {
        let taps = Taps::default();
        let mut changes = taps.changes();
        assert!(taps.get("f").is_none());

        let (first, _) = broadcast::channel(4);
        taps.publish("f", first.downgrade());
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        let tap = taps.get("f").unwrap();
        let mut rx = tap.subscribe().unwrap();
        first.send(Bytes::from_static(b"a")).unwrap();
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"a"));

        taps.withdraw("f");
        drop(first);
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        assert!(taps.get("f").is_none());
        assert!(rx.recv().await.is_err(), "the old engine's tap is closed");
        assert!(tap.subscribe().is_none());

        let (second, _) = broadcast::channel(4);
        taps.publish("f", second.downgrade());
        assert!(changes.has_changed().unwrap());
        let again = taps.get("f").unwrap();
        assert_ne!(again.instance, tap.instance);
        let mut rx = again.subscribe().unwrap();
        second.send(Bytes::from_static(b"b")).unwrap();
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"b"));
    }
}
