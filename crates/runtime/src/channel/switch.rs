//! Automatic input failover between a channel's primary and secondary input
//! (`automaticInputFailoverSettings`). Sans-IO: fed "a datagram arrived on
//! this input", "this input is / is no longer black / silent" (from the input
//! watchers, `live::watch`) and the time; it says whether to pass a datagram
//! on.
//!
//! An input is *failing* while it has delivered no datagram for
//! `loss_threshold` (`inputLossSettings`), or a watcher reports a condition
//! on it ([`Condition::Black`] for `videoBlackSettings`,
//! [`Condition::Silent`] for `audioSilenceSettings`; the watcher applies
//! their thresholds). A failing active input is left for the other one if
//! that one is healthy (delivering, no condition). With
//! `PRIMARY_INPUT_PREFERRED` the primary is used again once it has been
//! healthy without a break for `error_clear`; with `EQUAL_INPUT_PREFERENCE`
//! the channel stays on whichever input works.

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

/// A failover condition a watcher reports on an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Black video for `videoBlackThresholdMsec`.
    Black,
    /// Audio silent or absent for `audioSilenceThresholdMsec`.
    Silent,
}

/// The failover state of one channel. See the [module docs](self).
#[derive(Debug)]
pub struct InputSwitch {
    loss_threshold: Duration,
    error_clear: Duration,
    prefer_primary: bool,
    active: Side,
    /// Per side: the last datagram, and since when it has been healthy.
    last: [Option<Instant>; 2],
    since: [Option<Instant>; 2],
    /// Per side: black, silent.
    conditions: [[bool; 2]; 2],
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
            conditions: [[false; 2]; 2],
            started: now,
        }
    }

    /// True if `side` is delivering and no condition is reported on it.
    pub fn healthy(&self, side: Side, now: Instant) -> bool {
        self.alive(side, now)
            && !self
                .conditions
                .get(side.index())
                .is_some_and(|c| c.iter().any(|&on| on))
    }

    /// Call with a watcher's view of `side` (every tick: repeats are
    /// harmless), then [`on_tick`](Self::on_tick) once both sides are set, so
    /// a switch never sees one side updated and the other not.
    pub fn set_condition(&mut self, side: Side, condition: Condition, on: bool) {
        let c = match condition {
            Condition::Black => 0,
            Condition::Silent => 1,
        };
        if let Some(flag) = self
            .conditions
            .get_mut(side.index())
            .and_then(|s| s.get_mut(c))
        {
            *flag = on;
        }
    }

    /// Keeps `since` (healthy without a break) up to date for both sides.
    fn update_health(&mut self, now: Instant) {
        for side in [Side::Primary, Side::Secondary] {
            let healthy = self.healthy(side, now);
            if let Some(s) = self.since.get_mut(side.index()) {
                match (healthy, *s) {
                    (true, None) => *s = Some(now),
                    (false, Some(_)) => *s = None,
                    _ => {}
                }
            }
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
        // A datagram after a gap: the input's healthy time starts again.
        if !self.alive(side, now) {
            if let Some(s) = self.since.get_mut(side.index()) {
                *s = None;
            }
        }
        if let Some(l) = self.last.get_mut(side.index()) {
            *l = Some(now);
        }
        self.on_tick(now);
        side == self.active
    }

    /// Call periodically (every 100 ms or so): leaves a failing input for a
    /// healthy one, and goes back to a preferred primary that has cleared.
    pub fn on_tick(&mut self, now: Instant) {
        self.update_health(now);
        let active = self.active;
        let last = self
            .last
            .get(active.index())
            .copied()
            .flatten()
            .unwrap_or(self.started);
        let lost = now.duration_since(last) > self.loss_threshold;
        let delivered = self.last.get(active.index()).copied().flatten().is_some();
        let failing = lost || (delivered && !self.healthy(active, now));
        if failing && self.healthy(active.other(), now) {
            self.active = active.other();
        }
        let primary_clear = self
            .since
            .first()
            .copied()
            .flatten()
            .is_some_and(|t| now.duration_since(t) >= self.error_clear);
        if self.prefer_primary && self.active == Side::Secondary && primary_clear {
            self.active = Side::Primary;
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

    /// Both inputs deliver every 40 ms from 0 to `end` ms, with a watcher
    /// report applied at each step by `report(t)`; returns the active side
    /// after each step.
    fn drive(
        s: &mut InputSwitch,
        t0: Instant,
        from: u64,
        end: u64,
        mut report: impl FnMut(&mut InputSwitch),
    ) -> Vec<(u64, Side)> {
        let mut seen = Vec::new();
        let mut t = from;
        while t < end {
            s.on_datagram(Side::Primary, ms(t0, t));
            s.on_datagram(Side::Secondary, ms(t0, t + 1));
            report(s);
            s.on_tick(ms(t0, t + 2));
            seen.push((t, s.active()));
            t += 40;
        }
        seen
    }

    #[test]
    fn black_primary_fails_over_and_comes_back_after_error_clear() {
        let t0 = Instant::now();
        let mut s = InputSwitch::new(
            Duration::from_millis(1000),
            Duration::from_millis(2000),
            true,
            t0,
        );
        drive(&mut s, t0, 0, 1000, |_| {});
        assert_eq!(s.active(), Side::Primary);
        // The primary's watcher reports black at 1 s (it has applied
        // videoBlackThresholdMsec): the switch is immediate.
        let seen = drive(&mut s, t0, 1000, 4000, |s| {
            s.set_condition(Side::Primary, Condition::Black, true)
        });
        assert!(seen.iter().all(|(_, side)| *side == Side::Secondary));
        // Picture again from 4 s: back to the primary 2 s later.
        let seen = drive(&mut s, t0, 4000, 7000, |s| {
            s.set_condition(Side::Primary, Condition::Black, false)
        });
        let back = seen
            .iter()
            .find(|(_, side)| *side == Side::Primary)
            .unwrap()
            .0;
        assert!((6000..=6080).contains(&back), "back at {back}");
    }

    #[test]
    fn no_switch_when_both_inputs_fail_and_equal_preference_stays() {
        let t0 = Instant::now();
        let mut s = InputSwitch::new(Duration::from_millis(1000), Duration::ZERO, false, t0);
        // Both silent: the channel stays where it is.
        let seen = drive(&mut s, t0, 0, 2000, |s| {
            s.set_condition(Side::Primary, Condition::Silent, true);
            s.set_condition(Side::Secondary, Condition::Silent, true);
        });
        assert!(seen.iter().all(|(_, side)| *side == Side::Primary));
        // The secondary's audio returns: it takes over, and keeps the channel
        // after the primary's audio returns too (equal preference).
        drive(&mut s, t0, 2000, 3000, |s| {
            s.set_condition(Side::Primary, Condition::Silent, true);
            s.set_condition(Side::Secondary, Condition::Silent, false);
        });
        assert_eq!(s.active(), Side::Secondary);
        drive(&mut s, t0, 3000, 6000, |s| {
            s.set_condition(Side::Primary, Condition::Silent, false);
        });
        assert_eq!(s.active(), Side::Secondary);
        // A black secondary sends it back to the (healthy) primary.
        drive(&mut s, t0, 6000, 6100, |s| {
            s.set_condition(Side::Secondary, Condition::Black, true);
        });
        assert_eq!(s.active(), Side::Primary);
        assert!(s.healthy(Side::Primary, ms(t0, 6100)));
        assert!(!s.healthy(Side::Secondary, ms(t0, 6100)));
    }
}
