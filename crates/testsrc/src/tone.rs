//! The identifying tone: a sine at a whole number of hertz, at −18 dBFS (the EBU R 68
//! alignment level), phase-continuous across frames.
//!
//! The phase is kept as an integer, `n × f mod rate`, so that it never drifts however long
//! the generator runs: sample `n` is exactly `sin(2π f n / rate)`.

/// Level of the tone in dB below full scale.
pub const LEVEL_DBFS: f64 = -18.0;

/// A sine generator. Call [`fill`](Self::fill) with each block of samples in turn.
#[derive(Clone, Debug)]
pub struct Tone {
    hz: u64,
    rate: u64,
    /// `n × hz mod rate` for the next sample `n`.
    phase: u64,
    amplitude: f64,
}

impl Tone {
    /// A tone of `hz` at `rate` samples per second (`hz` is clamped below the Nyquist
    /// frequency; a rate of 0 makes silence).
    pub fn new(hz: u32, rate: u32) -> Self {
        let rate = u64::from(rate);
        Self {
            hz: u64::from(hz).min(rate / 2),
            rate,
            phase: 0,
            amplitude: 10f64.powf(LEVEL_DBFS / 20.0),
        }
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [f32]) {
        if self.rate == 0 {
            out.fill(0.0);
            return;
        }
        let step = std::f64::consts::TAU / self.rate as f64;
        for sample in out {
            *sample = (self.amplitude * (step * self.phase as f64).sin()) as f32;
            self.phase = self
                .phase
                .saturating_add(self.hz)
                .checked_rem(self.rate)
                .unwrap_or(0);
        }
    }

    /// Advances by `samples` without writing them (the tone runs on under silence, so
    /// that it comes back where it would have been).
    pub fn skip(&mut self, samples: u64) {
        let turn = samples
            .checked_rem(self.rate)
            .unwrap_or(0)
            .saturating_mul(self.hz);
        self.phase = self
            .phase
            .saturating_add(turn)
            .checked_rem(self.rate)
            .unwrap_or(0);
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// Frequency from zero crossings, as the e2e test measures it on decoded audio.
    fn crossings_hz(samples: &[f32], rate: f64) -> f64 {
        let n = samples
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        n as f64 / 2.0 / (samples.len() as f64 / rate)
    }

    #[test]
    fn a_sine_of_the_frequency_at_minus_18_dbfs_across_blocks() {
        let mut tone = Tone::new(1000, 48_000);
        let mut all = Vec::new();
        for _ in 0..30 {
            let mut block = vec![0.0; 1600];
            tone.fill(&mut block);
            all.extend(block);
        }
        let hz = crossings_hz(&all, 48_000.0);
        assert!((hz - 1000.0).abs() < 1.0, "{hz}");
        let peak = all.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((f64::from(peak) - 0.1259).abs() < 0.001, "{peak}");
        // Exactly periodic: 48 samples per cycle, whatever the block boundaries.
        assert_eq!(all[5], all[5 + 48 * 700]);
    }

    #[test]
    fn skipping_lands_where_filling_would() {
        let mut a = Tone::new(440, 48_000);
        let mut b = a.clone();
        let mut sink = vec![0.0; 12_345];
        a.fill(&mut sink);
        b.skip(12_345);
        let (mut x, mut y) = (vec![0.0; 10], vec![0.0; 10]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        // Out-of-range settings make no panic.
        Tone::new(u32::MAX, 48_000).fill(&mut x);
        Tone::new(1000, 0).fill(&mut x);
        assert!(x.iter().all(|s| *s == 0.0));
    }
}
