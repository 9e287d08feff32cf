//! On-demand raw samples (int16 at 25 kHz) and an LFP estimate, both computed from what was
//! recorded — never in the step loop, so a simulation that nobody reads at 25 kHz does not pay
//! for it.
//!
//! **Raw samples** for a set of electrodes and a window of frames are the sum of
//!
//! * Gaussian noise, σ = 2.54 µV rms (the vendor simulator's √170 units; `cl1.md` §3.6),
//!   counter-based per (seed, electrode, frame): the same frame reads the same value however
//!   the windows are cut;
//! * every spike of every neuron whose amplitude on the electrode
//!   ([`crate::recording::DetectionModel`]) is at least half the noise, drawn with a fixed
//!   extracellular waveform (a 0.12 ms-wide negative trough at the spike time and a slower
//!   positive repolarisation peak of a quarter of its size 0.5 ms later);
//! * the stimulation artefact: while a pulse flows, every electrode sees the point-source
//!   potential `V = I / (4πσr)` (σ = 0.3 S/m, `r` ≥ the 15 µm electrode radius, so the
//!   stimulated electrode itself saturates the int16 range), followed by an exponential
//!   amplifier recovery (10 % of the last phase's potential, τ = 1 ms). The recovery is
//!   illustrative: real artefacts depend on the amplifier and blanking circuit
//!   (Wagenaar & Potter 2002, J Neurosci Methods 120:113).
//!
//! Samples are `round(µV / 0.195)` saturated to int16, the CL1's scale.
//!
//! **LFP** (the kernel method of Teleńczuk, Teleńczuk & Destexhe 2020, J Neurosci Methods
//! 344:108871): every spike adds a unitary field, Gaussian in time, whose amplitude decays
//! exponentially with distance (space constant 250 µm) and whose peak is delayed by
//! `10.4 ms + r / v` (v = 200 µm/ms). Excitatory unitary fields are negative and inhibitory
//! ones positive and larger (inhibitory neurons dominate unitary LFPs; Teleńczuk et al. 2017,
//! Sci Rep 7:40211). The default amplitudes are of the order of a µV per spike: the LFP
//! estimate is qualitative (shape and timing of population events), not calibrated in µV.

use serde::{Deserialize, Serialize};

use crate::MeaError;
use crate::mea::Mea;

/// Parameters of raw-sample synthesis (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawModel {
    /// Frames per second.
    pub frames_per_second: u32,
    /// µV per int16 unit.
    pub uv_per_unit: f32,
    /// Noise, µV rms.
    pub noise_uv: f32,
    /// Medium conductivity, S/m (artefacts).
    pub conductivity_s_per_m: f32,
    /// Electrode radius, µm (closest distance in the artefact law).
    pub electrode_radius_um: f32,
    /// Artefact recovery time constant after a pulse, ms.
    pub artifact_recovery_ms: f32,
    /// Artefact left when a pulse ends, fraction of the last phase's potential.
    pub artifact_residual: f32,
    /// Spikes are drawn on electrodes where their amplitude is at least this many noise SDs.
    pub draw_sd: f32,
}

impl Default for RawModel {
    fn default() -> Self {
        Self {
            frames_per_second: 25_000,
            uv_per_unit: 0.195,
            noise_uv: 13.04 * 0.195,
            conductivity_s_per_m: 0.3,
            electrode_radius_um: 15.0,
            artifact_recovery_ms: 1.0,
            artifact_residual: 0.1,
            draw_sd: 0.5,
        }
    }
}

impl RawModel {
    /// Frame duration, µs.
    pub fn frame_us(&self) -> f64 {
        1e6 / self.frames_per_second as f64
    }

    /// Point-source potential of `current_ua` at `r_um`, µV (r clamped to the electrode
    /// radius).
    pub fn point_source_uv(&self, current_ua: f32, r_um: f32) -> f32 {
        let r = r_um.max(self.electrode_radius_um);
        // I [µA]·1e-6 / (4π σ [S/m] · r [µm]·1e-6) V = I / (4πσr) V = 1e6·I/(4πσr) µV.
        1e6 * current_ua / (4.0 * std::f32::consts::PI * self.conductivity_s_per_m * r)
    }
}

/// Extracellular spike waveform, relative to its trough, at `dt_us` after the trough.
pub fn spike_waveform(dt_us: f64) -> f32 {
    let a = dt_us / 120.0;
    let b = (dt_us - 500.0) / 300.0;
    (-(-0.5 * a * a).exp() + 0.25 * (-0.5 * b * b).exp()) as f32
}

/// Waveform support before / after the trough, µs.
const WAVE_PRE_US: f64 = 500.0;
const WAVE_POST_US: f64 = 2000.0;

/// Parameters of the kernel LFP (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LfpModel {
    /// Space constant of the unitary field, µm.
    pub space_constant_um: f32,
    /// Peak of an excitatory unitary field at the soma, µV.
    pub exc_amplitude_uv: f32,
    /// Peak of an inhibitory unitary field at the soma, µV.
    pub inh_amplitude_uv: f32,
    /// Delay of the unitary field at the soma, ms.
    pub delay_ms: f32,
    /// Propagation velocity of the delay, µm/ms.
    pub velocity_um_per_ms: f32,
    /// Gaussian width (SD) of the unitary field, ms.
    pub width_ms: f32,
    /// Sampling interval of the LFP, ms.
    pub sample_ms: f32,
}

impl Default for LfpModel {
    fn default() -> Self {
        Self {
            space_constant_um: 250.0,
            exc_amplitude_uv: -0.7,
            inh_amplitude_uv: 3.4,
            delay_ms: 10.4,
            velocity_um_per_ms: 200.0,
            width_ms: 4.2,
            sample_ms: 1.0,
        }
    }
}

/// A normal deviate from a 64-bit counter hash (Box–Muller on its two halves).
fn normal_from_bits(b: u64) -> f32 {
    let u1 = ((b >> 40) as f64 + 0.5) / (1u64 << 24) as f64;
    let u2 = ((b & 0xFF_FFFF) as f64) / (1u64 << 24) as f64;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

impl Mea {
    fn check_window(&self, electrodes: &[u32], start_us: f64, end_us: f64) -> Result<(), MeaError> {
        for &e in electrodes {
            if e as usize >= self.layout().len() {
                return Err(MeaError::NoSuchElectrode(e));
            }
        }
        let first_us = self.recording().first_step() as f64 * self.recording().dt_us();
        let now_us = self.now_us() as f64;
        if start_us < first_us || end_us > now_us + 1e-6 {
            return Err(MeaError::NotRecorded {
                start_us,
                end_us,
                first_us,
                now_us,
            });
        }
        Ok(())
    }

    /// Raw int16 samples of `electrodes` for `n_frames` frames from `start_frame` (frames of
    /// [`RawModel::frames_per_second`], counted from step 0), frame-major:
    /// `out[f·electrodes.len() + j]`. Electrodes that do not record read 0. The window must
    /// lie in the recorded span. Computed on demand (module docs).
    pub fn raw_samples(
        &self,
        electrodes: &[u32],
        start_frame: u64,
        n_frames: usize,
    ) -> Result<Vec<i16>, MeaError> {
        let mut out = vec![0i16; n_frames * electrodes.len()];
        self.raw_samples_into(electrodes, start_frame, n_frames, &mut out)?;
        Ok(out)
    }

    /// [`Mea::raw_samples`] into a caller's buffer of `n_frames · electrodes.len()` samples.
    pub fn raw_samples_into(
        &self,
        electrodes: &[u32],
        start_frame: u64,
        n_frames: usize,
        out: &mut [i16],
    ) -> Result<(), MeaError> {
        let cfg = *self.config();
        let rm = cfg.raw;
        let m = electrodes.len();
        if out.len() != n_frames * m {
            return Err(MeaError::BufferSize {
                expected: n_frames * m,
                got: out.len(),
            });
        }
        let fus = rm.frame_us();
        let w0 = start_frame as f64 * fus;
        let w1 = (start_frame + n_frames as u64) as f64 * fus;
        self.check_window(electrodes, w0, w1)?;
        let layout = self.layout();
        let mut acc = vec![0f32; n_frames * m];
        // Noise.
        let noise_key = dishloop_core::rng::stream_key(cfg.seed, 0x0_15E);
        for (j, &e) in electrodes.iter().enumerate() {
            if !layout.is_recording(e as usize) {
                continue;
            }
            let key = dishloop_core::rng::stream_key(noise_key, e as u64);
            for f in 0..n_frames {
                let b = dishloop_core::rng::bits(key, start_frame + f as u64);
                acc[f * m + j] = rm.noise_uv * normal_from_bits(b);
            }
        }
        // Spikes.
        let rec = self.recording();
        let dt_us = rec.dt_us();
        let from_step = ((w0 - WAVE_POST_US) / dt_us).floor().max(0.0) as u64;
        let to_step = ((w1 + WAVE_PRE_US) / dt_us).ceil().max(0.0) as u64 + 1;
        let det = cfg.detection;
        let draw_uv = rm.draw_sd * rm.noise_uv;
        let el: Vec<(usize, f32, f32)> = electrodes
            .iter()
            .enumerate()
            .filter(|(_, e)| layout.is_recording(**e as usize))
            .map(|(j, &e)| {
                let p = layout.electrodes[e as usize];
                (j, p.x_um, p.y_um)
            })
            .collect();
        let (steps, neurons): (&[u32], &[u32]) = if cfg.keep_raster {
            let r = rec.neuron_range(from_step, to_step);
            (&rec.steps[r.clone()], &rec.neurons[r])
        } else {
            // Without the raster, draw the detected spikes only (once per neuron and step).
            let r = rec.electrode_range(from_step, to_step);
            (&rec.e_steps[r.clone()], &rec.e_neurons[r])
        };
        let mut last: Option<(u32, u32)> = None;
        for (&s, &n) in steps.iter().zip(neurons) {
            if last == Some((s, n)) {
                continue;
            }
            last = Some((s, n));
            let t = rec.spike_time_us(s, n);
            if t + WAVE_POST_US < w0 || t - WAVE_PRE_US >= w1 {
                continue;
            }
            let p = self.positions[n as usize];
            let g = self.neuron_gain(n as usize);
            for &(j, x, y) in &el {
                let d = ((p[0] - x).powi(2) + (p[1] - y).powi(2)).sqrt();
                let a = det.amplitude_uv(d, g);
                if a < draw_uv {
                    continue;
                }
                let f0 = (((t - WAVE_PRE_US) / fus).ceil().max(start_frame as f64)) as u64;
                let f1 = (((t + WAVE_POST_US) / fus).floor() as u64 + 1)
                    .min(start_frame + n_frames as u64);
                for f in f0..f1 {
                    let k = (f - start_frame) as usize;
                    acc[k * m + j] += a * spike_waveform(f as f64 * fus - t);
                }
            }
        }
        // Stimulation artefacts.
        let tau_us = (rm.artifact_recovery_ms * 1000.0).max(1.0) as f64;
        for p in &rec.pulses {
            let ps = p.start_us as f64;
            let pe = p.end_us() as f64;
            if pe + 8.0 * tau_us < w0 || ps >= w1 {
                continue;
            }
            let src = layout.electrodes[p.electrode as usize];
            let last_i = p.design.phases().last().map_or(0.0, |ph| ph.current_ua);
            for (j, &e) in electrodes.iter().enumerate() {
                if !layout.is_recording(e as usize) && e != p.electrode {
                    continue;
                }
                let q = layout.electrodes[e as usize];
                let r = ((q.x_um - src.x_um).powi(2) + (q.y_um - src.y_um).powi(2)).sqrt();
                let per_ua = rm.point_source_uv(1.0, r);
                let f0 = ((ps.max(w0) / fus).floor() as u64).max(start_frame);
                let f1 = (((pe + 8.0 * tau_us).min(w1) / fus).ceil() as u64)
                    .min(start_frame + n_frames as u64);
                for f in f0..f1 {
                    let t = f as f64 * fus;
                    let v = if t < ps {
                        0.0
                    } else if t < pe {
                        per_ua * p.design.current_at_us((t - ps) as u32)
                    } else {
                        per_ua * last_i * rm.artifact_residual * (-(t - pe) / tau_us).exp() as f32
                    };
                    acc[(f - start_frame) as usize * m + j] += v;
                }
            }
        }
        let inv = 1.0 / rm.uv_per_unit;
        for (o, a) in out.iter_mut().zip(acc) {
            *o = (a * inv).round().clamp(i16::MIN as f32, i16::MAX as f32) as i16;
        }
        Ok(())
    }

    /// Kernel LFP estimate (module docs) on `electrodes` from `from_ms` to `to_ms`, one row per
    /// electrode sampled every [`LfpModel::sample_ms`], µV. Needs the raster
    /// ([`crate::MeaConfig::keep_raster`]).
    pub fn lfp(
        &self,
        electrodes: &[u32],
        from_ms: f64,
        to_ms: f64,
    ) -> Result<Vec<Vec<f32>>, MeaError> {
        let cfg = *self.config();
        if !cfg.keep_raster {
            return Err(MeaError::NeedsRaster);
        }
        self.check_window(electrodes, from_ms * 1000.0, to_ms * 1000.0)?;
        let lm = cfg.lfp;
        let sm = lm.sample_ms.max(0.01) as f64;
        let n_samples = ((to_ms - from_ms) / sm).floor().max(0.0) as usize;
        let mut out = vec![vec![0f32; n_samples]; electrodes.len()];
        let layout = self.layout();
        let lambda = lm.space_constant_um.max(1.0);
        let r_max = lambda * (100f32).ln(); // 1 % of the soma amplitude
        let w = lm.width_ms.max(0.01) as f64;
        let reach = 3.0 * w;
        let max_delay = lm.delay_ms as f64 + (r_max / lm.velocity_um_per_ms.max(1.0)) as f64;
        let rec = self.recording();
        let dt_ms = rec.dt_us() / 1000.0;
        let from_step = ((from_ms - max_delay - reach) / dt_ms).floor().max(0.0) as u64;
        let to_step = ((to_ms - lm.delay_ms as f64 + reach) / dt_ms)
            .ceil()
            .max(0.0) as u64;
        let range = rec.neuron_range(from_step, to_step);
        let pos: Vec<[f32; 2]> = electrodes
            .iter()
            .map(|&e| {
                let p = layout.electrodes[e as usize];
                [p.x_um, p.y_um]
            })
            .collect();
        for i in range {
            let (s, n) = (rec.steps[i], rec.neurons[i]);
            let t = rec.spike_time_us(s, n) / 1000.0;
            let a0 = if (n as usize) < self.n_exc() {
                lm.exc_amplitude_uv
            } else {
                lm.inh_amplitude_uv
            };
            let p = self.positions[n as usize];
            for (j, c) in pos.iter().enumerate() {
                let r = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt();
                if r > r_max {
                    continue;
                }
                let amp = a0 * (-r / lambda).exp();
                let peak = t + lm.delay_ms as f64 + (r / lm.velocity_um_per_ms.max(1.0)) as f64;
                let k0 = ((peak - reach - from_ms) / sm).ceil().max(0.0) as usize;
                let k1 = (((peak + reach - from_ms) / sm).floor() + 1.0).max(0.0) as usize;
                let k1 = k1.min(n_samples);
                if k0 >= k1 {
                    continue;
                }
                for (k, o) in out[j][k0..k1].iter_mut().enumerate() {
                    let x = (from_ms + (k0 + k) as f64 * sm - peak) / w;
                    *o += amp * (-0.5 * x * x).exp() as f32;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waveform_and_point_source() {
        assert!((spike_waveform(0.0) + 0.94).abs() < 0.01);
        assert!(spike_waveform(500.0) > 0.2);
        assert!(spike_waveform(2000.0).abs() < 1e-3);
        let m = RawModel::default();
        // 1 µA at 200 µm in 0.3 S/m: 1e6 / (4π·0.3·200) = 1326 µV.
        assert!((m.point_source_uv(1.0, 200.0) - 1326.3).abs() < 0.5);
        // Clamped at the electrode radius.
        assert_eq!(m.point_source_uv(1.0, 1.0), m.point_source_uv(1.0, 15.0));
        // Normal deviates from hashes: mean 0, SD 1.
        let n = 200_000u64;
        let xs: Vec<f64> = (0..n)
            .map(|i| normal_from_bits(dishloop_core::rng::bits(7, i)) as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!(mean.abs() < 0.01 && (sd - 1.0).abs() < 0.01, "{mean} {sd}");
    }
}
