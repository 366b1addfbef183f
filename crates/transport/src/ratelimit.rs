//! `maxBitrate`: a token bucket over a source's bytes.

use std::time::Duration;

/// Burst allowance: encoders send frames in bursts (an I-frame may leave in a
/// few milliseconds), so a second's worth of the rate is allowed at once.
const BURST: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct TokenBucket {
    bytes_per_sec: f64,
    capacity: f64,
    tokens: f64,
    last: Option<Duration>,
}

impl TokenBucket {
    pub fn new(bits_per_sec: u64) -> Self {
        let bytes_per_sec = bits_per_sec as f64 / 8.0;
        let capacity = (bytes_per_sec * BURST.as_secs_f64()).max(64.0 * 1024.0);
        Self {
            bytes_per_sec,
            capacity,
            tokens: capacity,
            last: None,
        }
    }

    /// Whether `len` bytes arriving at `now` are within the rate.
    pub fn admit(&mut self, now: Duration, len: usize) -> bool {
        if let Some(last) = self.last {
            let dt = now.saturating_sub(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.bytes_per_sec).min(self.capacity);
        }
        self.last = Some(now);
        if self.tokens >= len as f64 {
            self.tokens -= len as f64;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn admits_the_rate_and_drops_the_excess() {
        // 10 Mb/s limit, 20 Mb/s offered for 10 s in 1316-byte datagrams.
        let mut b = TokenBucket::new(10_000_000);
        let per_sec = 20_000_000 / 8 / 1316;
        let mut admitted = 0u64;
        for i in 0..per_sec * 10 {
            let now = Duration::from_secs_f64(i as f64 / per_sec as f64);
            if b.admit(now, 1316) {
                admitted += 1316 * 8;
            }
        }
        // 10 s at 10 Mb/s plus one second of burst.
        let expected = 110_000_000u64;
        assert!(
            admitted.abs_diff(expected) < expected / 50,
            "admitted {admitted} bits"
        );
    }
}
