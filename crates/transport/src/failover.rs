//! FAILOVER mode: one source is on air at a time. The preferred (primary)
//! source is used while it delivers; when it has delivered nothing for
//! `LOSS_AFTER`, the other source takes over; once the primary has delivered
//! without a break for `RESTORE_AFTER`, it is switched back. Switches happen
//! between datagrams, so no TS packet is ever cut.

use std::time::Duration;

/// Silence on the active source that makes the selector switch.
pub const LOSS_AFTER: Duration = Duration::from_millis(500);
/// Continuous delivery the primary needs before it is used again.
pub const RESTORE_AFTER: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, Debug, Default)]
struct Path {
    last: Option<Duration>,
    /// Start of the current run of delivery without a LOSS_AFTER break.
    healthy_since: Option<Duration>,
}

#[derive(Debug)]
pub struct Selector {
    paths: Vec<Path>,
    primary: Option<usize>,
    active: usize,
    switches: u64,
}

impl Selector {
    /// `paths` sources; `primary` the preferred one (None: no preference,
    /// stay on whichever works).
    pub fn new(paths: usize, primary: Option<usize>) -> Self {
        Self {
            paths: vec![Path::default(); paths.max(1)],
            primary,
            active: primary.unwrap_or(0),
            switches: 0,
        }
    }

    pub fn active(&self) -> usize {
        self.active
    }

    pub fn switches(&self) -> u64 {
        self.switches
    }

    fn alive(&self, i: usize, now: Duration) -> bool {
        self.paths
            .get(i)
            .and_then(|p| p.last)
            .is_some_and(|t| now.saturating_sub(t) < LOSS_AFTER)
    }

    /// Records a datagram from `path`; returns whether it goes on air.
    pub fn on_packet(&mut self, now: Duration, path: usize) -> bool {
        if let Some(p) = self.paths.get_mut(path) {
            let broken = p.last.is_none_or(|t| now.saturating_sub(t) >= LOSS_AFTER);
            if broken {
                p.healthy_since = Some(now);
            }
            p.last = Some(now);
        }
        self.evaluate(now);
        path == self.active
    }

    /// Re-evaluates the choice (also called from timers).
    pub fn evaluate(&mut self, now: Duration) {
        let want = match self.primary {
            Some(p)
                if self.alive(p, now)
                    && self
                        .paths
                        .get(p)
                        .and_then(|x| x.healthy_since)
                        .is_some_and(|s| {
                            now.saturating_sub(s) >= RESTORE_AFTER || self.active == p
                        }) =>
            {
                Some(p)
            }
            _ if self.alive(self.active, now) => Some(self.active),
            _ => (0..self.paths.len()).find(|&i| self.alive(i, now)),
        };
        if let Some(w) = want {
            if w != self.active {
                self.active = w;
                self.switches += 1;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn switches_on_loss_and_back_after_the_primary_is_stable() {
        let mut s = Selector::new(2, Some(0));
        let mut on_air = Vec::new();
        for t in (0..20_000).step_by(10) {
            let now = ms(t);
            let primary_up = !(5_000..8_000).contains(&t);
            if primary_up && s.on_packet(now, 0) {
                on_air.push((t, 0));
            }
            if s.on_packet(now, 1) {
                on_air.push((t, 1));
            }
        }
        let at = |t: u64| on_air.iter().find(|x| x.0 == t).map(|x| x.1);
        assert_eq!(at(4_990), Some(0));
        assert_eq!(
            at(5_400),
            Some(0).filter(|_| false),
            "nothing from the dead primary"
        );
        assert_eq!(
            at(5_510),
            Some(1),
            "backup takes over 500 ms after the primary stops"
        );
        assert_eq!(at(8_500), Some(1), "primary back but not yet stable");
        assert_eq!(
            at(11_010),
            Some(0),
            "primary used again after 3 s of delivery"
        );
        assert_eq!(s.switches(), 2);
        // Exactly one source on air at every instant with traffic.
        let mut times: Vec<u64> = on_air.iter().map(|x| x.0).collect();
        times.dedup();
        assert_eq!(times.len(), on_air.len());
    }

    #[test]
    fn without_priority_it_stays_where_it_is() {
        let mut s = Selector::new(2, None);
        for t in (0..2_000).step_by(10) {
            s.on_packet(ms(t), 0);
            s.on_packet(ms(t), 1);
        }
        assert_eq!(s.active(), 0);
        for t in (2_000..3_000).step_by(10) {
            s.on_packet(ms(t), 1);
        }
        assert_eq!(s.active(), 1);
        for t in (3_000..10_000).step_by(10) {
            s.on_packet(ms(t), 0);
            s.on_packet(ms(t), 1);
        }
        assert_eq!(s.active(), 1);
    }
}
