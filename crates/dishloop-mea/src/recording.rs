//! Spike detection on electrodes and the record of a session.
//!
//! **Detection model.** A spike of a neuron at in-plane distance `d` from an electrode appears
//! on it with peak amplitude `A(d) = g·A₀ / (1 + (r/r₀)²)`, `r = √(d² + h²)`: a near-field
//! plateau and the `1/r²` fall-off of a current dipole at intermediate distances (Pettersen &
//! Einevoll 2008, Biophys J 94:784). `A₀` = 300 µV, `r₀` = 20 µm, `h` = 10 µm; `g` is a fixed
//! per-neuron gain in `[1 − j, 1 + j]`, `j` = 0.3 (cells differ in size and orientation). An
//! electrode detects the neuron when `A(d)` exceeds `k·σ` with noise σ = 2.54 µV rms (the
//! vendor simulator's noise, √170 units × 0.195 µV; reference `cl1.md` §3.6) and the usual
//! threshold `k` = 5 (e.g. Wagenaar, Pine & Potter 2006 used 4.5–5× RMS noise). With these
//! numbers the detection radius is ≈ 95 µm for an average cell (70–110 µm over the gain
//! range), close to BL-1's fixed 100 µm and to the ~100 µm range over which single units are
//! seen in vivo (Henze et al. 2000, J Neurophysiol 84:390). The same amplitudes draw the
//! spikes in the raw signal ([`crate::raw`]), so what is detected and what is drawn agree.
//!
//! A neuron seen by several electrodes is reported on each (HD-MEAs see a cell on many).
//! Spikes keep the neuron that fired them (ground truth for spike sorting).
//!
//! **Timing.** The simulator resolves time in steps (0.5 ms); a spike in step `k` gets a
//! fixed sub-step time `(k + u)·dt` with `u ∈ [0, 1)` hashed from (seed, neuron, step), so
//! 25 kHz frame timestamps are spread over the step instead of piling up on its first frame.

use serde::{Deserialize, Serialize};

use crate::schedule::Pulse;

/// Parameters of spike detection (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionModel {
    /// Peak spike amplitude at the electrode (r → 0), µV.
    pub peak_uv: f32,
    /// Near-field radius of the amplitude law, µm.
    pub near_field_um: f32,
    /// Height of the soma above the electrode plane, µm.
    pub height_um: f32,
    /// Per-neuron amplitude gain spread (gain in `[1 − j, 1 + j]`).
    pub gain_jitter: f32,
    /// Noise, µV rms.
    pub noise_uv: f32,
    /// Detection threshold in multiples of the noise.
    pub threshold_sd: f32,
}

impl Default for DetectionModel {
    fn default() -> Self {
        Self {
            peak_uv: 300.0,
            near_field_um: 20.0,
            height_um: 10.0,
            gain_jitter: 0.3,
            noise_uv: 13.04 * 0.195,
            threshold_sd: 5.0,
        }
    }
}

impl DetectionModel {
    /// Peak amplitude of a neuron with gain `gain` at in-plane distance `d_um`, µV.
    pub fn amplitude_uv(&self, d_um: f32, gain: f32) -> f32 {
        let r2 = d_um * d_um + self.height_um * self.height_um;
        gain * self.peak_uv / (1.0 + r2 / (self.near_field_um * self.near_field_um))
    }

    /// Detection threshold, µV.
    pub fn threshold_uv(&self) -> f32 {
        self.threshold_sd * self.noise_uv
    }

    /// In-plane distance at which a neuron with `gain` falls to the detection threshold, µm.
    pub fn detection_radius_um(&self, gain: f32) -> f32 {
        let ratio = gain * self.peak_uv / self.threshold_uv().max(1e-9) - 1.0;
        let r2 = ratio.max(0.0) * self.near_field_um * self.near_field_um;
        (r2 - self.height_um * self.height_um).max(0.0).sqrt()
    }
}

/// Everything the MEA saw in a session, kept from [`Recording::first_step`] on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recording {
    pub(crate) seed_key: u64,
    pub(crate) dt_us: f64,
    pub(crate) first_step: u64,
    /// Step of each neuron spike (every neuron; empty when the raster is not kept).
    pub steps: Vec<u32>,
    /// Neuron of each spike.
    pub neurons: Vec<u32>,
    /// Step of each electrode spike.
    pub e_steps: Vec<u32>,
    /// Electrode of each electrode spike.
    pub e_electrodes: Vec<u32>,
    /// Neuron that caused each electrode spike.
    pub e_neurons: Vec<u32>,
    /// Electrode spikes per electrode since the start (never trimmed).
    pub counts: Vec<u64>,
    /// Pulses delivered, in delivery order.
    pub pulses: Vec<Pulse>,
}

impl Recording {
    /// Step duration, µs.
    pub fn dt_us(&self) -> f64 {
        self.dt_us
    }

    /// First step still held (earlier events were forgotten).
    pub fn first_step(&self) -> u64 {
        self.first_step
    }

    /// Sub-step time of a spike of `neuron` in `step`, µs since step 0 (module docs).
    pub fn spike_time_us(&self, step: u32, neuron: u32) -> f64 {
        let key = self.seed_key;
        let b = dishloop_core::rng::bits(key, ((step as u64) << 32) | neuron as u64);
        (step as f64 + dishloop_core::rng::unit_f64(b)) * self.dt_us
    }

    /// Electrode spikes per electrode over steps `[from, to)`.
    pub fn electrode_counts(&self, from_step: u64, to_step: u64) -> Vec<u32> {
        let mut c = vec![0u32; self.counts.len()];
        let a = self.e_steps.partition_point(|&s| (s as u64) < from_step);
        let b = self.e_steps.partition_point(|&s| (s as u64) < to_step);
        for &e in &self.e_electrodes[a..b] {
            c[e as usize] += 1;
        }
        c
    }

    /// Index range of neuron spikes in steps `[from, to)`.
    pub fn neuron_range(&self, from_step: u64, to_step: u64) -> std::ops::Range<usize> {
        let a = self.steps.partition_point(|&s| (s as u64) < from_step);
        let b = self.steps.partition_point(|&s| (s as u64) < to_step);
        a..b
    }

    /// Index range of electrode spikes in steps `[from, to)`.
    pub fn electrode_range(&self, from_step: u64, to_step: u64) -> std::ops::Range<usize> {
        let a = self.e_steps.partition_point(|&s| (s as u64) < from_step);
        let b = self.e_steps.partition_point(|&s| (s as u64) < to_step);
        a..b
    }

    /// Electrode spikes as sorted, de-duplicated `(step, electrode)` pairs: two cells firing
    /// on one electrode in the same 0.5 ms step count once, as a threshold detector with a
    /// refractory period would see them. Suitable for spike-train analysis per electrode.
    pub fn electrode_pairs(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self
            .e_steps
            .iter()
            .zip(&self.e_electrodes)
            .map(|(&s, &e)| (s, e))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Forgets events before `step` (long sessions keep memory bounded); counts stay.
    pub fn forget_before(&mut self, step: u64) {
        if step <= self.first_step {
            return;
        }
        let a = self.steps.partition_point(|&s| (s as u64) < step);
        self.steps.drain(..a);
        self.neurons.drain(..a);
        let b = self.e_steps.partition_point(|&s| (s as u64) < step);
        self.e_steps.drain(..b);
        self.e_electrodes.drain(..b);
        self.e_neurons.drain(..b);
        let t_us = step as f64 * self.dt_us;
        // Pulses are kept while their artefact may still reach the retained window (10 ms).
        self.pulses.retain(|p| p.end_us() as f64 + 10_000.0 >= t_us);
        self.first_step = step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_radius_is_about_100_um() {
        let m = DetectionModel::default();
        let r = m.detection_radius_um(1.0);
        assert!((90.0..100.0).contains(&r), "{r}");
        // At the radius the amplitude equals the threshold (12.7 µV).
        assert!((m.amplitude_uv(r, 1.0) - m.threshold_uv()).abs() < 0.01);
        assert!((m.threshold_uv() - 12.714).abs() < 0.01);
        let lo = m.detection_radius_um(0.7);
        let hi = m.detection_radius_um(1.3);
        assert!(lo > 70.0 && hi < 115.0, "{lo} {hi}");
        // 1/r² far field: 4x less amplitude at twice the distance.
        let ratio = m.amplitude_uv(200.0, 1.0) / m.amplitude_uv(400.0, 1.0);
        assert!((ratio - 4.0).abs() < 0.05, "{ratio}");
    }
}
