//! Simulator parameters, with the defaults of dynaphos' `config/params.yaml` (v0.1.3, commit f3e1022),
//! as recorded in `shared/reference/cpg_car_phosphene.md` §3.4. Every constant below is cited there.

use serde::{Deserialize, Serialize};

/// How an image is turned into per-electrode amplitudes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SamplingMethod {
    /// Each electrode takes the maximum pixel within `RF_size / M(r)` degrees of its phosphene (dynaphos default).
    ReceptiveFields,
    /// Each electrode takes the pixel nearest its phosphene centre.
    Centre,
}

/// Visuotopic (visual field ↔ cortex) model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CortexModel {
    /// `w = k ln(1 + z/a)`.
    Monopole,
    /// `w = k ln(b(z + a) / (a(z + b)))` (dynaphos default).
    Dipole,
    /// Polar angle compressed by α, then dipole.
    WedgeDipole,
}

/// How phosphene size follows the stimulation amplitude.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SizeModel {
    /// Tehovnik 2007 current spread: `D = sqrt(I / K)` mm (dynaphos default).
    Sqrt,
    /// Bosking 2017: `D = 0.5 · MD · sigmoid(slope · (I − I_half))`.
    ///
    /// **Unit quirk (faithful to dynaphos):** `slope` and `I_half` are in µA but dynaphos passes the
    /// amplitude in amperes, so the sigmoid argument is ≈ `0.08 · (−40)` for every realistic current and σ
    /// is effectively constant. Set [`SizeParams::sigmoid_amplitude_in_ua`] to `true` to convert the
    /// amplitude to µA first (the evidently intended behaviour).
    Sigmoid,
}

/// `run:` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunParams {
    /// Render width in pixels (256).
    pub resolution_x_px: usize,
    /// Render height in pixels (256).
    pub resolution_y_px: usize,
    /// Side of the square field of view in degrees (16).
    pub view_angle_deg: f64,
    /// Centre of the field of view in degrees ((0, 0)).
    pub origin_deg: (f64, f64),
    /// Smallest eccentricity used by probabilistic placement (0.001°).
    pub min_angle_deg: f64,
    /// Frames per second (35).
    pub fps: f64,
    /// Seed (42).
    pub seed: u64,
}

/// `sampling:` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// Receptive fields (default) or centre sampling.
    pub method: SamplingMethod,
    /// Receptive field radius on cortex in mm (0.5).
    pub rf_size_mm: f64,
    /// Multiplier from a [0, 1] pixel to amperes with `rescale` (1e-4: a pixel of 1 is 100 µA).
    pub stimulus_scale_a: f64,
}

/// `cortex_model:` block (Polimeni 2006 constants).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CortexParams {
    /// Mapping model (dipole).
    pub model: CortexModel,
    /// k = 17.3 mm.
    pub k: f64,
    /// a = 0.75°.
    pub a: f64,
    /// b = 120°.
    pub b: f64,
    /// Wedge compression α = 0.95.
    pub alpha: f64,
    /// Fraction of electrodes dropped (0.2).
    pub dropout_rate: f64,
    /// Standard deviation of the Gaussian jitter on cortex in mm (0.4).
    pub noise_scale_mm: f64,
}

/// `temporal:` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemporalParams {
    /// κ, the trace increment per unit effective current (13.95528162).
    pub trace_increase_rate: f64,
    /// Fraction of activation left after one second (1.2340980408667956e-4 = e⁻⁹, so γ = 9 /s).
    pub activation_decay_per_second: f64,
    /// Fraction of the trace left after one second (0.99949191, δ = 5.082e-4 /s).
    pub trace_decay_per_second: f64,
}

/// `size:` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeParams {
    /// Size model (sqrt).
    pub model: SizeModel,
    /// Maximum diameter for the sigmoid model, mm (0.7).
    pub md_mm: f64,
    /// Half-maximum current of the sigmoid model, µA (40).
    pub i_half_ua: f64,
    /// Slope of the sigmoid model, per µA (0.08).
    pub slope_per_ua: f64,
    /// Current spread K of the sqrt model, A/mm² (675e-6).
    pub current_spread_a_per_mm2: f64,
    /// σ = radius_to_sigma · D / M (0.5).
    pub radius_to_sigma: f64,
    /// Convert amperes to µA before the sigmoid size model (off = dynaphos' unit quirk).
    pub sigmoid_amplitude_in_ua: bool,
}

/// `brightness:` block (fitted to Fernández 2021, Fig. 6A/B).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrightnessParams {
    /// Activation at half brightness (1.057631326853325e-7).
    pub cps_half: f64,
    /// Sigmoid slope λ (19152642.500946816).
    pub slope: f64,
}

/// `threshold:` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdParams {
    /// Draw phosphenes only above a per-electrode activation threshold (true).
    pub use_threshold: bool,
    /// Rheobase I₀ in amperes (23.9e-6).
    pub rheobase_a: f64,
    /// Mean activation threshold (9.141886000943878e-8).
    pub activation_threshold: f64,
    /// Standard deviation of the activation threshold (6.715877869833961e-8).
    pub activation_threshold_sd: f64,
}

/// `stimulus:` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StimulusParams {
    /// ρ, relative stimulus duration (1).
    pub relative_duration: f64,
    /// Pulse width in seconds (170e-6).
    pub pulse_width_s: f64,
    /// Pulse frequency in Hz (300).
    pub frequency_hz: f64,
}

/// `gabor:` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaborParams {
    /// Elliptic (Gabor-like) phosphenes (off).
    pub enabled: bool,
    /// Aspect ratio γ of the ellipse (1.5).
    pub gamma: f64,
}

/// All parameters of the simulator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Run settings.
    pub run: RunParams,
    /// Image → amplitude sampling.
    pub sampling: SamplingParams,
    /// Visuotopic model.
    pub cortex: CortexParams,
    /// Activation and trace dynamics.
    pub temporal: TemporalParams,
    /// Phosphene size.
    pub size: SizeParams,
    /// Brightness sigmoid.
    pub brightness: BrightnessParams,
    /// Rheobase and detection thresholds.
    pub threshold: ThresholdParams,
    /// Default pulse train.
    pub stimulus: StimulusParams,
    /// Gabor shape.
    pub gabor: GaborParams,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            run: RunParams {
                resolution_x_px: 256,
                resolution_y_px: 256,
                view_angle_deg: 16.0,
                origin_deg: (0.0, 0.0),
                min_angle_deg: 0.001,
                fps: 35.0,
                seed: 42,
            },
            sampling: SamplingParams {
                method: SamplingMethod::ReceptiveFields,
                rf_size_mm: 0.5,
                stimulus_scale_a: 1e-4,
            },
            cortex: CortexParams {
                model: CortexModel::Dipole,
                k: 17.3,
                a: 0.75,
                b: 120.0,
                alpha: 0.95,
                dropout_rate: 0.2,
                noise_scale_mm: 0.4,
            },
            temporal: TemporalParams {
                trace_increase_rate: 13.95528162,
                activation_decay_per_second: 1.2340980408667956e-4,
                trace_decay_per_second: 0.99949191,
            },
            size: SizeParams {
                model: SizeModel::Sqrt,
                md_mm: 0.7,
                i_half_ua: 40.0,
                slope_per_ua: 0.08,
                current_spread_a_per_mm2: 675e-6,
                radius_to_sigma: 0.5,
                sigmoid_amplitude_in_ua: false,
            },
            brightness: BrightnessParams {
                cps_half: 1.057631326853325e-7,
                slope: 19152642.500946816,
            },
            threshold: ThresholdParams {
                use_threshold: true,
                rheobase_a: 23.9e-6,
                activation_threshold: 9.141886000943878e-8,
                activation_threshold_sd: 6.715877869833961e-8,
            },
            stimulus: StimulusParams {
                relative_duration: 1.0,
                pulse_width_s: 170e-6,
                frequency_hz: 300.0,
            },
            gabor: GaborParams {
                enabled: false,
                gamma: 1.5,
            },
        }
    }
}

impl Params {
    /// Activation decay rate γ = −ln(activation_decay_per_second), per second (9.0 by default).
    pub fn activation_decay_rate_per_s(&self) -> f64 {
        -self.temporal.activation_decay_per_second.ln()
    }

    /// Trace decay rate δ = −ln(trace_decay_per_second), per second (5.082e-4 by default).
    pub fn trace_decay_rate_per_s(&self) -> f64 {
        -self.temporal.trace_decay_per_second.ln()
    }

    /// Sub-steps of the activation update per frame, ⌈γ / fps⌉ (1 at 35 fps).
    pub fn activation_substeps(&self) -> usize {
        ((self.activation_decay_rate_per_s() / self.run.fps).ceil() as usize).max(1)
    }

    /// Sub-steps of the trace update per frame, ⌈δ / fps⌉ (1 at 35 fps).
    pub fn trace_substeps(&self) -> usize {
        ((self.trace_decay_rate_per_s() / self.run.fps).ceil() as usize).max(1)
    }

    /// Validates the parameters a user can set.
    pub fn validate(&self) -> Result<(), crate::PhospheneError> {
        let bad = |what: &str| Err(crate::PhospheneError::InvalidParameter(what.to_string()));
        if self.run.resolution_x_px < 2 || self.run.resolution_y_px < 2 {
            return bad("resolution must be at least 2x2 pixels");
        }
        if !(self.run.view_angle_deg > 0.0) {
            return bad("view_angle_deg must be positive");
        }
        if !(self.run.fps > 0.0) {
            return bad("fps must be positive");
        }
        if !(0.0..1.0).contains(&self.cortex.dropout_rate) {
            return bad("dropout_rate must lie in [0, 1)");
        }
        if !(self.temporal.activation_decay_per_second > 0.0
            && self.temporal.activation_decay_per_second <= 1.0)
        {
            return bad("activation_decay_per_second must lie in (0, 1]");
        }
        if !(self.temporal.trace_decay_per_second > 0.0
            && self.temporal.trace_decay_per_second <= 1.0)
        {
            return bad("trace_decay_per_second must lie in (0, 1]");
        }
        if !(self.size.current_spread_a_per_mm2 > 0.0) {
            return bad("current_spread must be positive");
        }
        Ok(())
    }
}
