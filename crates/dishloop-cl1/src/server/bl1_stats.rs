//! BL-1's per-tick "neural statistics" packet ([`StatsV1`], 356 bytes, reference `bl1.md` §8),
//! built from a doom server's ticks (`serve-cl1 --protocol doom --stats-port PORT`).
//!
//! The reference fixes the layout and one rule: the burst flag is 1 when the population rate is
//! above its EMA mean + 1.5 SD. It does not give the EMA's time constant nor the Fano measure's
//! definition, so these are **our choices**, documented here:
//! - every EMA (group rates, population-rate mean and variance) has a time constant of
//!   [`EMA_TAU_S`] = 1 s of device time, i.e. a per-tick weight `α = 1 − exp(−tick / τ)`
//!   (0.095 at 10 Hz); the variance is the exponentially weighted one
//!   (`d = x − m; m += α d; v = (1 − α)(v + α d²)`), seeded with the first tick (v = 0);
//! - the burst test compares this tick's rate with the mean and SD **before** this tick is
//!   folded in, so a burst cannot hide itself;
//! - Fano synchrony is the EMA variance over the EMA mean of the per-tick population spike
//!   count (1 for independent Poisson firing, ≫ 1 when the electrodes fire together), 0 while
//!   the mean is 0;
//! - rates are Hz per recording electrode: the population rate over the 59 stimulable
//!   (recording) channels, each group's rate over the group's channels; electrode spikes and
//!   the total count cover the recording channels (the 5 reference channels report 0);
//! - stim amplitudes are the last accepted stim packet's 8 values (non-finite ones as 0).

use crate::channels::{CHANNEL_COUNT, ChannelSet};
use crate::wire::bl1::{STATS_ELECTRODES, StatsV1};
use crate::wire::doom::{CHANNEL_GROUPS, GROUPS};

/// Time constant of the statistics' EMAs, s of device time (our choice; see the module docs).
pub const EMA_TAU_S: f64 = 1.0;
/// Burst threshold in SDs above the EMA mean (reference `bl1.md` §8).
pub const BURST_SD: f64 = 1.5;

/// Running state of the statistics packet.
#[derive(Debug, Clone)]
pub struct StatsTracker {
    tick_s: f64,
    alpha: f64,
    recording: ChannelSet,
    recording_count: usize,
    tick: u32,
    group_ema_hz: [f64; GROUPS],
    count_mean: f64,
    count_var: f64,
    seeded: bool,
    stim_amplitudes_ua: [f32; GROUPS],
}

impl StatsTracker {
    /// A tracker for a loop at `tick_rate_hz` (> 0).
    pub fn new(tick_rate_hz: u32) -> Self {
        let tick_s = 1.0 / f64::from(tick_rate_hz.max(1));
        let recording = ChannelSet::stimulable();
        Self {
            tick_s,
            alpha: 1.0 - (-tick_s / EMA_TAU_S).exp(),
            recording_count: recording.iter().count(),
            recording,
            tick: 0,
            group_ema_hz: [0.0; GROUPS],
            count_mean: 0.0,
            count_var: 0.0,
            seeded: false,
            stim_amplitudes_ua: [0.0; GROUPS],
        }
    }

    /// Remembers an accepted stim packet's amplitudes.
    pub fn note_stim(&mut self, amp_ua: &[f32; GROUPS]) {
        self.stim_amplitudes_ua = amp_ua.map(|a| if a.is_finite() { a } else { 0.0 });
    }

    /// Folds one tick's spike channels in and returns its packet.
    pub fn tick(&mut self, spike_channels: impl IntoIterator<Item = u8>, ts_us: u64) -> StatsV1 {
        let mut electrode = [0f32; STATS_ELECTRODES];
        for ch in spike_channels {
            let c = ch as usize;
            if c < CHANNEL_COUNT.min(STATS_ELECTRODES) && self.recording.contains(c) {
                electrode[c] += 1.0;
            }
        }
        let total: f64 = electrode.iter().map(|&x| f64::from(x)).sum();
        let per_electrode_hz = |count: f64, n: usize| count / (n.max(1) as f64 * self.tick_s);
        let population_rate_hz = per_electrode_hz(total, self.recording_count);
        let a = self.alpha;
        // Burst test against the statistics before this tick.
        let burst = self.seeded && total > self.count_mean + BURST_SD * self.count_var.sqrt();
        if self.seeded {
            let d = total - self.count_mean;
            self.count_mean += a * d;
            self.count_var = (1.0 - a) * (self.count_var + a * d * d);
        } else {
            self.count_mean = total;
            self.count_var = 0.0;
        }
        for (g, chans) in CHANNEL_GROUPS.iter().enumerate() {
            let n: f64 = chans
                .iter()
                .map(|&c| f64::from(electrode[c as usize]))
                .sum();
            let hz = per_electrode_hz(n, chans.len());
            self.group_ema_hz[g] = if self.seeded {
                self.group_ema_hz[g] + a * (hz - self.group_ema_hz[g])
            } else {
                hz
            };
        }
        self.seeded = true;
        let fano = if self.count_mean > 0.0 {
            self.count_var / self.count_mean
        } else {
            0.0
        };
        let packet = StatsV1 {
            timestamp_us: ts_us,
            tick: self.tick,
            electrode_spikes: electrode,
            group_rates_ema: self.group_ema_hz.map(|x| x as f32),
            population_rate_hz: population_rate_hz as f32,
            burst_flag: if burst { 1.0 } else { 0.0 },
            fano_synchrony: fano as f32,
            stim_amplitudes_ua: self.stim_amplitudes_ua,
            total_spikes: total as f32,
        };
        self.tick = self.tick.wrapping_add(1);
        packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_ema_and_burst_flag_follow_the_definitions() {
        let mut t = StatsTracker::new(10);
        // α = 1 − e^(−0.1) at 10 Hz with τ = 1 s.
        assert!((t.alpha - 0.095_162_58).abs() < 1e-7);
        // Steady 2 spikes per tick on channel 8 (encoding group, 8 channels; 59 recording).
        let mut last = None;
        for _ in 0..50 {
            let p = t.tick([8u8, 8], 0);
            assert_eq!(p.burst_flag, 0.0);
            last = Some(p);
        }
        let p = last.expect("ticks ran");
        assert_eq!(p.tick, 49);
        assert_eq!(p.electrode_spikes[8], 2.0);
        assert_eq!(p.total_spikes, 2.0);
        // 2 spikes / 59 electrodes / 0.1 s.
        assert!((p.population_rate_hz - 2.0 / 5.9).abs() < 1e-6);
        // 2 spikes / 8 channels / 0.1 s = 2.5 Hz, constant since the seed.
        assert!((p.group_rates_ema[0] - 2.5).abs() < 1e-6);
        assert_eq!(p.group_rates_ema[1], 0.0);
        assert_eq!(p.fano_synchrony, 0.0);
        // A jump to 20 spikes: above mean 2 + 1.5 · 0 → burst; the EMA moves by α of the step.
        let chans: Vec<u8> = [8u8, 41].iter().cycle().take(20).copied().collect();
        let b = t.tick(chans, 0);
        assert_eq!(b.burst_flag, 1.0);
        let a = 0.095_162_58f32;
        assert!((b.group_rates_ema[1] - a * 10.0 / 3.0 / 0.1).abs() < 1e-4);
        // Variance after the step: (1 − α)·α·18², over the mean 2 + 18α.
        let var = (1.0 - a) * a * 18.0 * 18.0;
        assert!((b.fano_synchrony - var / (2.0 + 18.0 * a)).abs() < 1e-3);
        // Reference channels (not stimulable) and out-of-range ids are not counted.
        let r = t.tick([0u8, 7, 56, 63, 200], 0);
        assert_eq!(r.total_spikes, 0.0);
    }
}
