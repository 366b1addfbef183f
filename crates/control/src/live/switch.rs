//! Automatic input failover between a channel's primary and secondary input
//! (`automaticInputFailoverSettings` with `inputLossSettings`). Sans-IO: fed
//! "a datagram arrived on this input" and the time; it says whether to pass the
//! datagram on.
//!
//! The active input is lost after `loss_threshold` without a datagram; the
//! other one is then fed if it is delivering. With `PRIMARY_INPUT_PREFERRED`
//! the primary is used again once it has delivered continuously (no gap over
//! `loss_threshold`) for `error_clear`; with `EQUAL_INPUT_PREFERENCE` the
//! channel stays on whichever input works.

use std::time::{Duration, Instant};

/// Which input of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Primary,
    Secondary,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Primary => 0,
            Side::Secondary => 1,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Primary => Side::Secondary,
            Side::Secondary => Side::Primary,
        }
    }
}

/// The failover state of one channel. See the [module docs](self).
#[derive(Debug)]
pub struct InputSwitch {
    loss_threshold: Duration,
    error_clear: Duration,
    prefer_primary: bool,
    active: Side,
    /// Per side: the last datagram, and since when it has delivered without a gap.
    last: [Option<Instant>; 2],
    since: [Option<Instant>; 2],
    started: Instant,
}

impl InputSwitch {
    pub fn new(
        loss_threshold: Duration,
        error_clear: Duration,
        prefer_primary: bool,
        now: Instant,
    ) -> Self {
        Self {
            loss_threshold,
            error_clear,
            prefer_primary,
            active: Side::Primary,
            last: [None; 2],
            since: [None; 2],
            started: now,
        }
    }

    /// The input fed now.
    pub fn active(&self) -> Side {
        self.active
    }

    fn alive(&self, side: Side, now: Instant) -> bool {
        let last = self.last.get(side.index()).copied().flatten();
        last.is_some_and(|t| now.duration_since(t) <= self.loss_threshold)
    }

    /// Call when a datagram arrived on `side`; true if it is to be fed.
    pub fn on_datagram(&mut self, side: Side, now: Instant) -> bool {
        let i = side.index();
        if !self.alive(side, now) {
            if let Some(s) = self.since.get_mut(i) {
                *s = Some(now);
            }
        }
        if let Some(l) = self.last.get_mut(i) {
            *l = Some(now);
        }
        self.on_tick(now);
        let back_for = self
            .since
            .first()
            .copied()
            .flatten()
            .map(|t| now.duration_since(t));
        if self.prefer_primary
            && self.active == Side::Secondary
            && side == Side::Primary
            && back_for.is_some_and(|d| d >= self.error_clear)
        {
            self.active = Side::Primary;
        }
        side == self.active
    }

    /// Call periodically (every 100 ms or so): leaves a silent input for a
    /// delivering one.
    pub fn on_tick(&mut self, now: Instant) {
        let last = self
            .last
            .get(self.active.index())
            .copied()
            .flatten()
            .unwrap_or(self.started);
        if now.duration_since(last) > self.loss_threshold && self.alive(self.active.other(), now) {
            self.active = self.active.other();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn fails_over_on_silence_and_back_after_error_clear() {
        let t0 = Instant::now();
        let mut s = InputSwitch::new(
            Duration::from_millis(1000),
            Duration::from_millis(3000),
            true,
            t0,
        );
        // Both deliver every 40 ms for a second; the primary is fed.
        let mut t = 0;
        while t < 1000 {
            assert!(s.on_datagram(Side::Primary, ms(t0, t)));
            assert!(!s.on_datagram(Side::Secondary, ms(t0, t + 1)));
            t += 40;
        }
        // The primary stops at 960 ms; the switch comes after the threshold.
        while t < 5000 {
            let fed = s.on_datagram(Side::Secondary, ms(t0, t));
            assert_eq!(fed, t > 1960, "at {t}");
            t += 40;
        }
        assert_eq!(s.active(), Side::Secondary);
        // The primary returns at 5 s; it is used again 3 s later.
        while t < 8000 {
            assert!(!s.on_datagram(Side::Primary, ms(t0, t)), "at {t}");
            assert!(s.on_datagram(Side::Secondary, ms(t0, t + 1)));
            t += 40;
        }
        assert!(s.on_datagram(Side::Primary, ms(t0, 8000)));
        assert_eq!(s.active(), Side::Primary);
    }

    #[test]
    fn equal_preference_stays_on_the_working_input() {
        let t0 = Instant::now();
        let mut s = InputSwitch::new(Duration::from_millis(500), Duration::ZERO, false, t0);
        // The primary never came; the secondary is taken once the threshold passed.
        assert!(!s.on_datagram(Side::Secondary, ms(t0, 100)));
        assert!(s.on_datagram(Side::Secondary, ms(t0, 600)));
        assert!(!s.on_datagram(Side::Primary, ms(t0, 700)));
        assert!(s.on_datagram(Side::Secondary, ms(t0, 1000)));
        assert!(!s.on_datagram(Side::Primary, ms(t0, 1100)));
        assert_eq!(s.active(), Side::Secondary);
        // Only when the secondary is lost does the primary come back.
        assert!(s.on_datagram(Side::Primary, ms(t0, 5000)));
    }

    #[test]
    fn no_switch_to_a_silent_input() {
        let t0 = Instant::now();
        let mut s = InputSwitch::new(Duration::from_millis(500), Duration::ZERO, true, t0);
        assert!(s.on_datagram(Side::Primary, ms(t0, 10)));
        s.on_tick(ms(t0, 2000));
        assert_eq!(s.active(), Side::Primary);
    }
}
