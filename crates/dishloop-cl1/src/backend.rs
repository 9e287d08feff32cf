//! What produces the spikes behind a [`crate::Device`]: the ablation sources that need no culture
//! (zeros; Poisson spikes), and the slot for a simulated culture on an MEA.
//!
//! See the crate docs ("Integrating the culture") for the exact contract of [`CultureBackend`].

use crate::channels::{CHANNEL_COUNT, GROUNDED_CHANNELS, REFERENCE_CHANNEL, is_stimulable};
use crate::design::StimDesign;
use crate::device::{FRAME_DURATION_US, FRAMES_PER_SECOND};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A half-open span of 25 kHz device frames, `[start, stop)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameWindow {
    /// First frame.
    pub start: u64,
    /// One past the last frame.
    pub stop: u64,
}

impl FrameWindow {
    /// Frames in the window.
    pub fn len(&self) -> u64 {
        self.stop.saturating_sub(self.start)
    }

    /// True when the window holds no frame.
    pub fn is_empty(&self) -> bool {
        self.stop <= self.start
    }

    /// Window start in µs since device start.
    pub fn start_us(&self) -> u64 {
        self.start * FRAME_DURATION_US
    }

    /// Window end in µs since device start.
    pub fn stop_us(&self) -> u64 {
        self.stop * FRAME_DURATION_US
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.len() as f64 / FRAMES_PER_SECOND as f64
    }
}

/// One stimulation pulse the device delivers. Only pulses that passed every envelope check exist:
/// `channel` is stimulable and `design` is a validated [`StimDesign`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pulse {
    /// Channel (stimulable, 0..=63 minus {0, 4, 7, 56, 63}).
    pub channel: u8,
    /// Pulse onset in µs since device start (a multiple of 20 µs).
    pub start_us: u64,
    /// Pulse shape.
    pub design: StimDesign,
}

impl Pulse {
    /// Frame in which the pulse starts.
    pub fn frame(&self) -> u64 {
        self.start_us / FRAME_DURATION_US
    }

    /// Pulse end, µs since device start.
    pub fn end_us(&self) -> u64 {
        self.start_us
            .saturating_add(self.design.duration_us() as u64)
    }
}

/// A detected spike (vendor `Spike`, without the 75-sample waveform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spike {
    /// Frame of detection.
    pub timestamp: u64,
    /// Channel.
    pub channel: u8,
}

/// A culture backend failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("culture backend: {0}")]
pub struct BackendError(pub String);

/// The interface a simulated culture on an MEA fills in to sit behind a [`crate::Device`].
///
/// The device calls [`CultureBackend::advance`] with contiguous windows (each `start` equals the
/// previous `stop`, the first starts at frame 0) of any length from 1 frame up (1 frame = 40 µs;
/// a 1 kHz loop asks for 25 frames, a 10 Hz loop for 2 500). See the crate docs for the full
/// contract.
pub trait CultureBackend: Send {
    /// One line naming the culture (config, seed, size), for status output.
    fn describe(&self) -> String;

    /// Simulates `window`, delivering `pulses` and pushing every spike detected on an electrode.
    ///
    /// - `pulses` are sorted by `start_us` and all start inside the window
    ///   (`window.start_us() <= start_us < window.stop_us()`); a pulse may end after the window,
    ///   in which case the rest of its current is delivered in the next call.
    /// - Pushed spikes must have `window.start <= timestamp < window.stop`, `channel < 64`, and
    ///   be in ascending timestamp order; the device drops anything else.
    fn advance(
        &mut self,
        window: FrameWindow,
        pulses: &[Pulse],
        spikes: &mut Vec<Spike>,
    ) -> Result<(), BackendError>;

    /// Optionally fills raw int16 samples for `window` (frame-major, 64 per frame, 0.195 µV per
    /// unit). Called after [`CultureBackend::advance`] for the same window, only when raw frames
    /// were asked for. Return `Ok(false)` (the default) to let the device synthesise samples from
    /// the spikes and pulses instead.
    fn raw_samples(&mut self, window: FrameWindow, out: &mut [i16]) -> Result<bool, BackendError> {
        let _ = (window, out);
        Ok(false)
    }
}

/// The CL1-side ablation modes of doom-neuron (`--spike-ablation`), reference `cl1.md` §1.2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ablation {
    /// No spikes at all.
    Zero,
    /// Independent Poisson spike trains at `rate_hz` on every recording channel, ignoring
    /// stimulation (doom-neuron's default is 5 Hz per channel).
    Random {
        /// Mean rate per channel, Hz.
        rate_hz: f64,
    },
}

/// An invalid ablation rate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("ablation rate {0} Hz must be finite and ≥ 0")]
pub struct RateError(pub f64);

/// Where a device's spikes come from.
pub enum Backend {
    /// Ablation: no spikes.
    Zero,
    /// Ablation: Poisson spikes that ignore stimulation.
    Random(RandomSpikes),
    /// A simulated culture on an MEA (filled in by the culture/MEA integration).
    Culture(Box<dyn CultureBackend>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Backend {
    /// The backend for an ablation mode; `seed` makes [`Ablation::Random`] reproducible.
    pub fn ablation(ablation: Ablation, seed: u64) -> Result<Self, RateError> {
        match ablation {
            Ablation::Zero => Ok(Self::Zero),
            Ablation::Random { rate_hz } => Ok(Self::Random(RandomSpikes::new(rate_hz, seed)?)),
        }
    }

    /// One line describing the backend.
    pub fn describe(&self) -> String {
        match self {
            Self::Zero => "ablation zero (no spikes)".to_owned(),
            Self::Random(r) => format!(
                "ablation random (Poisson {} Hz/channel, seed {})",
                r.rate_hz, r.seed
            ),
            Self::Culture(c) => c.describe(),
        }
    }

    pub(crate) fn advance(
        &mut self,
        window: FrameWindow,
        pulses: &[Pulse],
        spikes: &mut Vec<Spike>,
    ) -> Result<(), BackendError> {
        match self {
            Self::Zero => Ok(()),
            Self::Random(r) => {
                r.advance(window, spikes);
                Ok(())
            }
            Self::Culture(c) => c.advance(window, pulses, spikes),
        }
    }

    pub(crate) fn raw_samples(
        &mut self,
        window: FrameWindow,
        out: &mut [i16],
    ) -> Result<bool, BackendError> {
        match self {
            Self::Culture(c) => c.raw_samples(window, out),
            _ => Ok(false),
        }
    }
}

/// Channels the ablation sources (and the synthetic raw signal) record from: the 59 stimulable
/// channels (grounded corners and the reference electrode carry no spikes).
pub fn is_recording_channel(channel: u8) -> bool {
    is_stimulable(channel)
}

/// Poisson spike trains, one independent seeded stream per channel, generated from exponential
/// inter-spike intervals in continuous time — so the spikes do not depend on how the device cuts
/// time into windows (tick rate).
#[derive(Debug, Clone)]
pub struct RandomSpikes {
    rate_hz: f64,
    seed: u64,
    rngs: Vec<Xoshiro256PlusPlus>,
    /// Next spike time per channel, in (fractional) frames; infinite when the rate is 0.
    next_frame: Vec<f64>,
}

impl RandomSpikes {
    /// Poisson trains at `rate_hz` per recording channel.
    pub fn new(rate_hz: f64, seed: u64) -> Result<Self, RateError> {
        if !(rate_hz.is_finite() && rate_hz >= 0.0) {
            return Err(RateError(rate_hz));
        }
        let mut rngs = Vec::with_capacity(CHANNEL_COUNT);
        let mut next_frame = Vec::with_capacity(CHANNEL_COUNT);
        for ch in 0..CHANNEL_COUNT as u64 {
            // Per-channel streams from a SplitMix-style mix of (seed, channel).
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                seed ^ ch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let first = if rate_hz > 0.0 && is_recording_channel(ch as u8) {
                exp_frames(&mut rng, rate_hz)
            } else {
                f64::INFINITY
            };
            rngs.push(rng);
            next_frame.push(first);
        }
        Ok(Self {
            rate_hz,
            seed,
            rngs,
            next_frame,
        })
    }

    /// Mean rate per channel, Hz.
    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// Pushes the spikes falling in `window`, sorted by (timestamp, channel).
    pub fn advance(&mut self, window: FrameWindow, spikes: &mut Vec<Spike>) {
        let first = spikes.len();
        let stop = window.stop as f64;
        for ch in 0..CHANNEL_COUNT {
            while self.next_frame[ch] < stop {
                let t = self.next_frame[ch].floor() as u64;
                if t >= window.start {
                    spikes.push(Spike {
                        timestamp: t,
                        channel: ch as u8,
                    });
                }
                self.next_frame[ch] += exp_frames(&mut self.rngs[ch], self.rate_hz);
            }
        }
        spikes[first..].sort_unstable();
    }
}

/// An exponential inter-spike interval at `rate_hz`, in frames.
fn exp_frames(rng: &mut Xoshiro256PlusPlus, rate_hz: f64) -> f64 {
    // u ∈ [0, 1) → 1 − u ∈ (0, 1], so the log is finite.
    let u: f64 = rng.random();
    -(1.0 - u).ln() / rate_hz * FRAMES_PER_SECOND as f64
}

/// Standard deviation of the synthetic noise, sample units. The vendor simulator's random source
/// draws Poisson(170) samples minus the mean (reference `cl1.md` §3.6), i.e. σ = √170 ≈ 13 units
/// (≈ 2.5 µV at 0.195 µV/unit).
pub const SYNTH_NOISE_SD_UNITS: f32 = 13.04;
/// Trough of a synthetic spike waveform, sample units (−120 units ≈ −23 µV; illustrative, ≈ 9σ
/// so every synthetic spike crosses a usual −5σ detection threshold).
pub const SYNTH_SPIKE_TROUGH_UNITS: f32 = -120.0;
/// Synthetic stimulation artefact, sample units per µA (illustrative; saturates at ±3 µA).
pub const SYNTH_ARTIFACT_UNITS_PER_UA: f32 = 10_000.0;

/// Synthesises raw int16 frames from spikes and pulses when the backend has no raw signal:
/// Gaussian noise (σ = [`SYNTH_NOISE_SD_UNITS`], halved on the reference channel, zero on the
/// grounded corners, as the vendor simulator does), a fixed spike waveform at every spike, and a
/// saturating artefact during every pulse.
#[derive(Debug, Clone)]
pub(crate) struct RawSynth {
    rng: Xoshiro256PlusPlus,
    /// Spikes whose waveform tail reaches into later windows.
    carry: Vec<Spike>,
    /// Pulses whose current reaches into later windows.
    carry_pulses: Vec<Pulse>,
}

/// Waveform samples after the detection frame (the vendor's spike snippets run 49 samples past it).
const WAVE_LEN: usize = 50;

fn spike_wave(k: usize) -> f32 {
    // Trough at k = 0, recovery overshoot around 0.5 ms (k ≈ 12), back to 0 by 2 ms.
    let t = k as f32;
    SYNTH_SPIKE_TROUGH_UNITS
        * ((-t * t / 4.0).exp() - 0.25 * (-(t - 12.0) * (t - 12.0) / 30.0).exp())
}

impl RawSynth {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xA5A5_5A5A_0F0F_F0F0),
            carry: Vec::new(),
            carry_pulses: Vec::new(),
        }
    }

    pub(crate) fn fill(
        &mut self,
        window: FrameWindow,
        spikes: &[Spike],
        pulses: &[Pulse],
        out: &mut [i16],
    ) {
        let n = window.len() as usize;
        let mut acc = vec![0f32; n * CHANNEL_COUNT];
        for f in 0..n {
            for ch in 0..CHANNEL_COUNT {
                let c = ch as u8;
                let sd = if GROUNDED_CHANNELS.contains(&c) {
                    0.0
                } else if c == REFERENCE_CHANNEL {
                    SYNTH_NOISE_SD_UNITS * 0.5
                } else {
                    SYNTH_NOISE_SD_UNITS
                };
                if sd > 0.0 {
                    acc[f * CHANNEL_COUNT + ch] = sd * self.gauss();
                }
            }
        }
        let all_spikes: Vec<Spike> = self.carry.iter().chain(spikes.iter()).copied().collect();
        self.carry.clear();
        for s in all_spikes {
            for k in 0..WAVE_LEN {
                let t = s.timestamp + k as u64;
                if t >= window.stop {
                    self.carry.push(s);
                    break;
                }
                if t >= window.start {
                    acc[(t - window.start) as usize * CHANNEL_COUNT + s.channel as usize] +=
                        spike_wave(k);
                }
            }
        }
        let all_pulses: Vec<Pulse> = self
            .carry_pulses
            .iter()
            .chain(pulses.iter())
            .copied()
            .collect();
        self.carry_pulses.clear();
        for p in all_pulses {
            if p.end_us() > window.stop_us() {
                self.carry_pulses.push(p);
            }
            let first = p.frame().max(window.start);
            let last = p.end_us().div_ceil(FRAME_DURATION_US).min(window.stop);
            for f in first..last {
                let t_us = (f * FRAME_DURATION_US).saturating_sub(p.start_us) as u32;
                let i = p.design.current_at_us(t_us);
                acc[(f - window.start) as usize * CHANNEL_COUNT + p.channel as usize] +=
                    i * SYNTH_ARTIFACT_UNITS_PER_UA;
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = a.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16;
        }
    }

    fn gauss(&mut self) -> f32 {
        // Box–Muller; one draw per call keeps the code short (cost is irrelevant: raw frames are
        // only synthesised on request).
        let u1: f64 = self.rng.random();
        let u2: f64 = self.rng.random();
        ((-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_rate_matches_and_ignores_tick_size() {
        // 5 Hz × 59 channels × 100 s = 29 500 expected spikes; Poisson SD ≈ 172, so ±3 % is > 5 SD.
        let mut a = RandomSpikes::new(5.0, 7).expect("valid rate");
        let mut spikes = Vec::new();
        a.advance(
            FrameWindow {
                start: 0,
                stop: 2_500_000,
            },
            &mut spikes,
        );
        let n = spikes.len() as f64;
        assert!((n - 29_500.0).abs() < 0.03 * 29_500.0, "{n}");
        assert!(spikes.iter().all(|s| is_recording_channel(s.channel)));
        assert!(spikes.windows(2).all(|w| w[0] <= w[1]));
        // Same seed, cut into 1 kHz ticks: identical spikes.
        let mut b = RandomSpikes::new(5.0, 7).expect("valid rate");
        let mut by_tick = Vec::new();
        for i in 0..100_000u64 {
            b.advance(
                FrameWindow {
                    start: 25 * i,
                    stop: 25 * (i + 1),
                },
                &mut by_tick,
            );
        }
        assert_eq!(spikes, by_tick);
        assert!(RandomSpikes::new(f64::NAN, 0).is_err());
        assert!(RandomSpikes::new(-1.0, 0).is_err());
    }

    #[test]
    fn synth_noise_and_spikes() {
        let mut s = RawSynth::new(1);
        let w = FrameWindow {
            start: 0,
            stop: 25_000,
        };
        let mut out = vec![0i16; 25_000 * 64];
        s.fill(w, &[], &[], &mut out);
        let sd = |ch: usize| {
            let v: Vec<f64> = (0..25_000).map(|f| out[f * 64 + ch] as f64).collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
        };
        assert!((sd(10) - 13.04).abs() < 0.5, "{}", sd(10));
        assert!((sd(4) - 6.52).abs() < 0.3, "{}", sd(4));
        assert_eq!(sd(0), 0.0);
        let mut out2 = vec![0i16; 100 * 64];
        let spike = Spike {
            timestamp: 98,
            channel: 9,
        };
        s.fill(
            FrameWindow {
                start: 0,
                stop: 100,
            },
            &[spike],
            &[],
            &mut out2,
        );
        assert!(out2[98 * 64 + 9] < -60, "{}", out2[98 * 64 + 9]);
        // The tail continues in the next window.
        assert_eq!(s.carry.len(), 1);
    }
}
