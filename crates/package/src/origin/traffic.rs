//! What goes in and out of the origin, counted for the `AWS/MediaPackage`
//! metrics: ingest requests and bytes per packaging channel, egress
//! requests, bytes and response time per origin endpoint and status class.
//!
//! Counters only grow; the metrics observer takes per-second differences.
//! A request looks its endpoint's counters up under a read lock and adds to
//! atomics, so viewers never wait for each other here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// Status classes, as `StatusCodeRange` names them.
pub const STATUS_RANGES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// Egress counters of one endpoint.
#[derive(Debug, Default)]
pub struct Egress {
    requests: [AtomicU64; 4],
    bytes: [AtomicU64; 4],
    micros: AtomicU64,
}

/// A copy of an endpoint's egress counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EgressTotals {
    /// Requests by status class (2xx, 3xx, 4xx, 5xx).
    pub requests: [u64; 4],
    /// Body bytes sent by status class.
    pub bytes: [u64; 4],
    /// Time spent answering, all requests, in microseconds.
    pub micros: u64,
}

/// Ingress counters of one packaging channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngressTotals {
    pub requests: u64,
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct Ingress {
    requests: AtomicU64,
    bytes: AtomicU64,
}

/// See the [module docs](self).
#[derive(Debug, Default)]
pub struct Traffic {
    /// Channel → endpoint → counters: looked up with `&str`s, so counting a
    /// request allocates nothing once its endpoint has been seen.
    egress: RwLock<HashMap<String, HashMap<String, Arc<Egress>>>>,
    ingress: RwLock<HashMap<String, Arc<Ingress>>>,
}

fn class(status: u16) -> usize {
    match status {
        0..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        _ => 3,
    }
}

impl Traffic {
    /// One answered request of `endpoint_id` (under `channel_id`).
    pub fn egress(
        &self,
        channel_id: &str,
        endpoint_id: &str,
        status: u16,
        bytes: u64,
        took: Duration,
    ) {
        let known = self
            .egress
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(channel_id)
            .and_then(|endpoints| endpoints.get(endpoint_id))
            .cloned();
        let counters = match known {
            Some(c) => c,
            None => self
                .egress
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(channel_id.to_owned())
                .or_default()
                .entry(endpoint_id.to_owned())
                .or_default()
                .clone(),
        };
        let c = class(status);
        if let (Some(r), Some(b)) = (counters.requests.get(c), counters.bytes.get(c)) {
            r.fetch_add(1, Ordering::Relaxed);
            b.fetch_add(bytes, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        counters.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// One ingest request (a PUT, or a chunk handed over in-process).
    pub fn ingress(&self, channel_id: &str, bytes: u64) {
        let known = self
            .ingress
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(channel_id)
            .cloned();
        let counters = match known {
            Some(c) => c,
            None => self
                .ingress
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(channel_id.to_owned())
                .or_default()
                .clone(),
        };
        counters.requests.fetch_add(1, Ordering::Relaxed);
        counters.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Every endpoint's egress totals, by (channel, endpoint).
    pub fn egress_totals(&self) -> HashMap<(String, String), EgressTotals> {
        let load = |a: &[AtomicU64; 4]| {
            let mut out = [0u64; 4];
            for (o, v) in out.iter_mut().zip(a) {
                *o = v.load(Ordering::Relaxed);
            }
            out
        };
        self.egress
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .flat_map(|(channel, endpoints)| {
                endpoints.iter().map(move |(endpoint, c)| {
                    (
                        (channel.clone(), endpoint.clone()),
                        EgressTotals {
                            requests: load(&c.requests),
                            bytes: load(&c.bytes),
                            micros: c.micros.load(Ordering::Relaxed),
                        },
                    )
                })
            })
            .collect()
    }

    /// Every channel's ingress totals.
    pub fn ingress_totals(&self) -> HashMap<String, IngressTotals> {
        self.ingress
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    IngressTotals {
                        requests: c.requests.load(Ordering::Relaxed),
                        bytes: c.bytes.load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }

    /// Forget channels and endpoints that no longer exist.
    pub fn retain(&self, channels: &[&str]) {
        self.egress
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|c, _| channels.contains(&c.as_str()));
        self.ingress
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|c, _| channels.contains(&c.as_str()));
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_status_class() {
        let t = Traffic::default();
        t.egress("ch", "ep", 200, 1000, Duration::from_micros(30));
        t.egress("ch", "ep", 206, 10, Duration::from_micros(10));
        t.egress("ch", "ep", 304, 0, Duration::from_micros(5));
        t.egress("ch", "ep", 404, 0, Duration::from_micros(5));
        t.ingress("ch", 188);
        let e = t.egress_totals()[&("ch".to_owned(), "ep".to_owned())];
        assert_eq!(e.requests, [2, 1, 1, 0]);
        assert_eq!(e.bytes, [1010, 0, 0, 0]);
        assert_eq!(e.micros, 50);
        assert_eq!(
            t.ingress_totals()["ch"],
            IngressTotals {
                requests: 1,
                bytes: 188
            }
        );
        t.retain(&[]);
        assert!(t.egress_totals().is_empty());
    }
}
