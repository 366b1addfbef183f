//! When to try a delivery again: SNS's HTTP/S delivery policy in spirit —
//! a few immediate retries, then a backoff that doubles up to a ceiling,
//! the whole bounded in time — and which answers are worth another try.
//!
//! The policy is a plain value asked with the number of failures so far and
//! the time since the first attempt; it owns no clock, so the schedule is
//! tested without waiting.

use std::time::Duration;

/// How a delivery is retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries made at once after the first failures.
    pub immediate: u32,
    /// The first backoff delay, doubled after each further failure…
    pub min_delay: Duration,
    /// …up to this one.
    pub max_delay: Duration,
    /// No retry starts later than this after the first attempt.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    /// 2 immediate retries, then 1 s, 2 s, 4 s, 8 s, 16 s, 20 s…, none
    /// starting later than 60 s after the first attempt: 9 attempts at most
    /// when the endpoint fails fast.
    fn default() -> Self {
        RetryPolicy {
            immediate: 2,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `failures` failed ones (≥ 1),
    /// `elapsed` after the first started; `None` when the policy is spent.
    pub fn next_delay(&self, failures: u32, elapsed: Duration) -> Option<Duration> {
        let delay = if failures <= self.immediate {
            Duration::ZERO
        } else {
            // failures > immediate here: the first backoff doubles 0 times.
            let doublings = failures
                .saturating_sub(self.immediate)
                .saturating_sub(1)
                .min(16);
            self.min_delay
                .saturating_mul(1 << doublings)
                .min(self.max_delay)
        };
        (elapsed.saturating_add(delay) <= self.budget).then_some(delay)
    }
}

/// What an attempt's answer means.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the endpoint has it.
    Delivered,
    /// The endpoint refused it for good (a 4xx other than 408 and 429):
    /// sending the same request again would not change that.
    Refused,
    /// Worth another try: 408, 429, 5xx, any other status.
    Retry,
}

/// The outcome of an HTTP status.
pub fn outcome(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 => Outcome::Retry,
        400..=499 => Outcome::Refused,
        _ => Outcome::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schedule of a delivery whose attempts each take `attempt`.
    fn schedule(policy: &RetryPolicy, attempt: Duration) -> Vec<Duration> {
        let mut elapsed = Duration::ZERO;
        let mut delays = Vec::new();
        let mut failures = 0;
        loop {
            elapsed += attempt;
            failures += 1;
            match policy.next_delay(failures, elapsed) {
                Some(d) => {
                    delays.push(d);
                    elapsed += d;
                }
                None => return delays,
            }
        }
    }

    #[test]
    fn immediate_retries_then_doubling_backoff_within_a_minute() {
        let s = |n| Duration::from_secs(n);
        let p = RetryPolicy::default();
        assert_eq!(
            schedule(&p, Duration::ZERO),
            vec![s(0), s(0), s(1), s(2), s(4), s(8), s(16), s(20)]
        );
        // Slow failures (a 15 s timeout each) use the budget sooner.
        assert_eq!(schedule(&p, s(15)), vec![s(0), s(0), s(1)]);
        let total: Duration = schedule(&p, Duration::from_millis(10)).iter().sum();
        assert!(total <= p.budget);
    }

    #[test]
    fn the_backoff_never_overflows() {
        let p = RetryPolicy {
            budget: Duration::MAX,
            ..RetryPolicy::default()
        };
        assert_eq!(p.next_delay(u32::MAX, Duration::ZERO), Some(p.max_delay));
        assert_eq!(p.next_delay(1, Duration::MAX), Some(Duration::ZERO));
    }

    #[test]
    fn outcomes_of_statuses() {
        assert_eq!(outcome(200), Outcome::Delivered);
        assert_eq!(outcome(204), Outcome::Delivered);
        assert_eq!(outcome(301), Outcome::Retry);
        assert_eq!(outcome(404), Outcome::Refused);
        assert_eq!(outcome(429), Outcome::Retry);
        assert_eq!(outcome(408), Outcome::Retry);
        assert_eq!(outcome(503), Outcome::Retry);
    }
}
