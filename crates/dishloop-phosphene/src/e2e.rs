//! End-to-end optimisation through the simulator (seed §04; de Ruyter van Steveninck et al. 2022):
//! encoder (image → stimulation map) → per-electrode amplitudes → simulator (`frames` frames) → render →
//! decoder (render → image), trained jointly on reconstruction MSE with gradients through the
//! simulator's and renderer's hand-written adjoints.
//!
//! - Images are glyphs (digits and letters, [`crate::glyphs`]) on a 32 × 32 canvas covering the 16° view.
//! - The encoder outputs a 32 × 32 map in [0, 1]; each electrode reads the cell nearest its phosphene
//!   centre (centre sampling) and is driven at `map × 128 µA`. The constrained variant quantises the map to
//!   10 levels (0, 14.2, …, 128 µA) with a straight-through estimator.
//! - The render (256 × 256) is sum-pooled 8 × 8 to 32 × 32 for the decoder.
//! - Baselines use the same decoder architecture and training budget with a fixed encoder: the Sobel edge
//!   magnitude of the image (normalised to its maximum) and the image itself ("direct").
//! - The detection threshold is a step; in the backward pass it is skipped (straight-through) so that
//!   sub-threshold electrodes still learn; likewise the rheobase ReLU passes a small surrogate slope
//!   ([`RELU_SURROGATE_SLOPE`]) backwards, otherwise an encoder that drives everything below rheobase
//!   early in training never recovers (observed: mean amplitude collapsed to 21 µA). The paper's loss weights (1e-5 reconstruction, 0.99999
//!   regularisation at phosphene centres) are not reproduced: the loss here is reconstruction MSE only.

use crate::PhospheneError;
use crate::decoder::{INPUT_PX, Pipeline};
use crate::glyphs::{GlyphPose, rasterize};
use crate::nn::{Adam, Cache, Layer, Net, mse};
use crate::render::sum_pool_backward;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

/// Largest amplitude, A (the paper's constrained range tops out at 128 µA).
pub const MAX_AMPLITUDE_A: f64 = 128e-6;
/// Discrete levels of the constrained variant.
pub const N_LEVELS: usize = 10;
/// Gradient slope passed below rheobase in training (a surrogate for the ReLU's zero gradient, so that an
/// encoder that has turned electrodes off can turn them back on; the forward pass is exact).
pub const RELU_SURROGATE_SLOPE: f64 = 0.1;
/// Scale applied to the pooled render before the decoder.
pub const RENDER_SCALE: f32 = 0.25;

/// Which encoder feeds the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EncoderKind {
    /// Trained CNN, continuous amplitudes.
    Learned,
    /// Trained CNN, 10 discrete levels 0–128 µA (straight-through).
    LearnedQuantised,
    /// Fixed Sobel edge magnitude.
    Sobel,
    /// Fixed: the image itself.
    Direct,
}

/// Settings of one run.
#[derive(Clone, Debug, Serialize)]
pub struct E2eConfig {
    /// Encoder.
    pub encoder: EncoderKind,
    /// Training images.
    pub n_train: usize,
    /// Held-out images.
    pub n_test: usize,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch.
    pub batch: usize,
    /// Adam learning rate (both nets).
    pub lr: f32,
    /// Frames of stimulation.
    pub frames: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for E2eConfig {
    fn default() -> Self {
        Self {
            encoder: EncoderKind::Learned,
            n_train: 1500,
            n_test: 300,
            epochs: 5,
            batch: 16,
            lr: 2e-3,
            frames: 5,
            seed: 1,
        }
    }
}

/// Outcome of one run.
#[derive(Clone, Debug, Serialize)]
pub struct E2eReport {
    /// Settings.
    pub config: E2eConfig,
    /// Mean training MSE per epoch.
    pub train_mse: Vec<f64>,
    /// Held-out MSE after each epoch.
    pub test_mse: Vec<f64>,
    /// Final held-out MSE.
    pub final_test_mse: f64,
    /// Mean amplitude over electrodes on the held-out set, µA.
    pub mean_amplitude_ua: f64,
    /// Wall time, s.
    pub wall_s: f64,
}

/// Sobel edge magnitude of a `w × h` image, normalised to max 1 (zero image stays zero).
pub fn sobel(img: &[f32], w: usize, h: usize) -> Vec<f32> {
    let at = |x: isize, y: isize| -> f32 {
        if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
            0.0
        } else {
            img[y as usize * w + x as usize]
        }
    };
    let mut out = vec![0.0f32; w * h];
    for y in 0..h as isize {
        for x in 0..w as isize {
            let gx = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x, y - 1)
                - at(x + 1, y - 1);
            out[y as usize * w + x as usize] = (gx * gx + gy * gy).sqrt();
        }
    }
    let m = out.iter().fold(0.0f32, |a, b| a.max(*b));
    if m > 0.0 {
        for v in &mut out {
            *v /= m;
        }
    }
    out
}

/// Encoder CNN: conv 3×3 (8) → ReLU → conv 3×3 (8) → ReLU → conv 3×3 (1) → sigmoid.
pub fn encoder_net(seed: u64) -> Net {
    Net::new(
        (1, INPUT_PX, INPUT_PX),
        vec![
            Layer::Conv {
                cin: 1,
                cout: 8,
                k: 3,
            },
            Layer::Relu,
            Layer::Conv {
                cin: 8,
                cout: 8,
                k: 3,
            },
            Layer::Relu,
            Layer::Conv {
                cin: 8,
                cout: 1,
                k: 3,
            },
            Layer::Sigmoid,
        ],
        seed,
    )
}

/// Decoder CNN: conv 3×3 (8) → ReLU → max-pool → conv 3×3 (16) → ReLU → up-sample → conv 3×3 (8) → ReLU →
/// conv 3×3 (1) → sigmoid.
pub fn decoder_net(seed: u64) -> Net {
    Net::new(
        (1, INPUT_PX, INPUT_PX),
        vec![
            Layer::Conv {
                cin: 1,
                cout: 8,
                k: 3,
            },
            Layer::Relu,
            Layer::MaxPool2,
            Layer::Conv {
                cin: 8,
                cout: 16,
                k: 3,
            },
            Layer::Relu,
            Layer::Upsample2,
            Layer::Conv {
                cin: 16,
                cout: 8,
                k: 3,
            },
            Layer::Relu,
            Layer::Conv {
                cin: 8,
                cout: 1,
                k: 3,
            },
            Layer::Sigmoid,
        ],
        seed,
    )
}

/// Glyph images (digits and letters, random pose) on the 32 × 32 canvas.
pub fn make_images(n: usize, stream_seed: u64) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                stream_seed.wrapping_mul(7_919).wrapping_add(i as u64),
            );
            let g = rand::RngExt::random_range(&mut rng, 0..crate::glyphs::CHARSET.len());
            rasterize(g, INPUT_PX, INPUT_PX, &GlyphPose::random(&mut rng, 0.08))
        })
        .collect()
}

fn quantise(m: f32) -> f32 {
    let k = (N_LEVELS - 1) as f32;
    (m.clamp(0.0, 1.0) * k).round() / k
}

/// The encoder/decoder pair and the simulator between them.
#[derive(Clone, Debug)]
pub struct EndToEnd {
    /// Simulator pipeline.
    pub pipe: Pipeline,
    /// Encoder (unused for fixed encoders).
    pub encoder: Net,
    /// Decoder.
    pub decoder: Net,
    /// Encoder kind.
    pub kind: EncoderKind,
    centres: Vec<usize>,
}

/// Everything one sample's forward pass produced.
pub struct Forward {
    /// Stimulation map (after quantisation) in [0, 1].
    pub map: Vec<f32>,
    /// Amplitudes, A.
    pub amplitude_a: Vec<f64>,
    /// Full-resolution render of the last frame.
    pub render: Vec<f32>,
    /// Reconstruction.
    pub recon: Vec<f32>,
    enc_cache: Option<Cache>,
    dec_cache: Cache,
    records: Vec<crate::sim::FrameRecord>,
    intensity: Vec<f64>,
    sigma: Vec<f64>,
}

impl EndToEnd {
    /// A fresh model on the default implant.
    pub fn new(kind: EncoderKind, frames: usize, seed: u64) -> Result<Self, PhospheneError> {
        let pipe = Pipeline::default_implant(seed, frames)?;
        let centres = pipe
            .renderer
            .with_resolution(INPUT_PX, INPUT_PX)
            .centre_indices();
        Ok(Self {
            pipe,
            encoder: encoder_net(seed ^ 0xe),
            decoder: decoder_net(seed ^ 0xd),
            kind,
            centres,
        })
    }

    /// Forward pass of one image (32 × 32).
    pub fn forward(
        &self,
        sim: &mut crate::sim::Simulator,
        img: &[f32],
    ) -> Result<Forward, PhospheneError> {
        let (raw_map, enc_cache) = match self.kind {
            EncoderKind::Learned | EncoderKind::LearnedQuantised => {
                let (m, c) = self.encoder.forward(img);
                (m, Some(c))
            }
            EncoderKind::Sobel => (sobel(img, INPUT_PX, INPUT_PX), None),
            EncoderKind::Direct => (img.to_vec(), None),
        };
        let map: Vec<f32> = if self.kind == EncoderKind::LearnedQuantised {
            raw_map.iter().map(|&m| quantise(m)).collect()
        } else {
            raw_map
        };
        let amplitude_a: Vec<f64> = self
            .centres
            .iter()
            .map(|&k| map[k] as f64 * MAX_AMPLITUDE_A)
            .collect();
        sim.reset();
        let mut records = Vec::with_capacity(self.pipe.frames);
        for _ in 0..self.pipe.frames {
            if let Some(r) = sim.step_with(&amplitude_a, None, None, true)? {
                records.push(r);
            }
        }
        let intensity = sim.intensity();
        let sigma = sim.sigma_deg().to_vec();
        let render = self.pipe.renderer.render(&intensity, &sigma);
        let input: Vec<f32> = self
            .pipe
            .pool_input(&render)
            .iter()
            .map(|v| v * RENDER_SCALE)
            .collect();
        let (recon, dec_cache) = self.decoder.forward(&input);
        Ok(Forward {
            map,
            amplitude_a,
            render,
            recon,
            enc_cache,
            dec_cache,
            records,
            intensity,
            sigma,
        })
    }

    /// Backward pass of one sample: accumulates parameter gradients, returns nothing.
    fn backward(
        &self,
        sim: &crate::sim::Simulator,
        f: &Forward,
        grad_recon: &[f32],
        g_enc: &mut [f32],
        g_dec: &mut [f32],
    ) {
        let g_in = self.decoder.backward(&f.dec_cache, grad_recon, g_dec);
        let Some(cache) = f.enc_cache.as_ref() else {
            return;
        };
        let (w, h) = (
            self.pipe.renderer.width_px(),
            self.pipe.renderer.height_px(),
        );
        let g_pooled: Vec<f32> = g_in.iter().map(|g| g * RENDER_SCALE).collect();
        let g_img = sum_pool_backward(&g_pooled, w, h, self.pipe.pool);
        let (g_int, g_sig) = self.pipe.renderer.backward(&f.intensity, &f.sigma, &g_img);
        let n = sim.n();
        let frames = f.records.len();
        let mut gi = vec![vec![0.0; n]; frames];
        let mut gs = vec![vec![0.0; n]; frames];
        gi[frames - 1] = g_int;
        gs[frames - 1] = g_sig;
        let g_amp = sim.backward_with(&f.records, &gi, &gs, true, RELU_SURROGATE_SLOPE);
        let mut g_map = vec![0.0f32; INPUT_PX * INPUT_PX];
        for (k, &c) in self.centres.iter().enumerate() {
            let total: f64 = g_amp.iter().map(|g| g[k]).sum();
            // amplitude = map × 128 µA; the quantiser passes gradients straight through.
            g_map[c] += (total * MAX_AMPLITUDE_A) as f32;
        }
        self.encoder.backward(cache, &g_map, g_enc);
    }

    /// Mean reconstruction MSE over images (and mean amplitude in µA).
    pub fn evaluate(&self, images: &[Vec<f32>]) -> Result<(f64, f64), PhospheneError> {
        let res: Result<Vec<(f64, f64)>, PhospheneError> = images
            .par_iter()
            .map_init(
                || self.pipe.sim.clone(),
                |sim, img| {
                    let f = self.forward(sim, img)?;
                    let amp =
                        f.amplitude_a.iter().sum::<f64>() / f.amplitude_a.len().max(1) as f64 * 1e6;
                    Ok((mse(&f.recon, img).0, amp))
                },
            )
            .collect();
        let v = res?;
        let n = v.len().max(1) as f64;
        Ok((
            v.iter().map(|x| x.0).sum::<f64>() / n,
            v.iter().map(|x| x.1).sum::<f64>() / n,
        ))
    }

    /// Mean loss and parameter gradients (encoder, decoder) over a batch.
    pub fn batch_gradient(
        &self,
        images: &[&[f32]],
    ) -> Result<(f64, Vec<f32>, Vec<f32>), PhospheneError> {
        let (ne, nd) = (self.encoder.n_params(), self.decoder.n_params());
        let parts: Result<Vec<(f64, Vec<f32>, Vec<f32>)>, PhospheneError> = images
            .par_iter()
            .map_init(
                || self.pipe.sim.clone(),
                |sim, img| {
                    let f = self.forward(sim, img)?;
                    let (l, g) = mse(&f.recon, img);
                    let (mut ge, mut gd) = (vec![0.0f32; ne], vec![0.0f32; nd]);
                    self.backward(sim, &f, &g, &mut ge, &mut gd);
                    Ok((l, ge, gd))
                },
            )
            .collect();
        let (mut loss, mut ge, mut gd) = (0.0, vec![0.0f32; ne], vec![0.0f32; nd]);
        for (l, a, b) in parts? {
            loss += l;
            ge.iter_mut().zip(&a).for_each(|(x, y)| *x += y);
            gd.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        }
        let inv = 1.0 / images.len().max(1) as f32;
        ge.iter_mut().chain(gd.iter_mut()).for_each(|x| *x *= inv);
        Ok((loss / images.len().max(1) as f64, ge, gd))
    }
}

/// Trains one configuration and evaluates it on held-out images after every epoch.
pub fn train(cfg: &E2eConfig) -> Result<(E2eReport, EndToEnd, Vec<Vec<f32>>), PhospheneError> {
    let t0 = std::time::Instant::now();
    let mut model = EndToEnd::new(cfg.encoder, cfg.frames, cfg.seed)?;
    let train = make_images(cfg.n_train, cfg.seed.wrapping_mul(3).wrapping_add(101));
    let test = make_images(
        cfg.n_test,
        cfg.seed.wrapping_mul(3).wrapping_add(202) ^ 0xabcdef,
    );
    let mut opt_e = Adam::new(model.encoder.n_params(), cfg.lr);
    let mut opt_d = Adam::new(model.decoder.n_params(), cfg.lr);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ 0x51);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let (mut train_mse, mut test_mse) = (Vec::new(), Vec::new());
    let learned = matches!(
        cfg.encoder,
        EncoderKind::Learned | EncoderKind::LearnedQuantised
    );
    for _ in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let (mut sum, mut nb) = (0.0, 0);
        for chunk in order.chunks(cfg.batch.max(1)) {
            let xs: Vec<&[f32]> = chunk.iter().map(|&i| &train[i][..]).collect();
            let (l, ge, gd) = model.batch_gradient(&xs)?;
            if learned {
                opt_e.step(&mut model.encoder.params, &ge);
            }
            opt_d.step(&mut model.decoder.params, &gd);
            sum += l;
            nb += 1;
        }
        train_mse.push(sum / nb.max(1) as f64);
        test_mse.push(model.evaluate(&test)?.0);
    }
    let (final_test_mse, mean_amplitude_ua) = model.evaluate(&test)?;
    Ok((
        E2eReport {
            config: cfg.clone(),
            train_mse,
            test_mse,
            final_test_mse,
            mean_amplitude_ua,
            wall_s: t0.elapsed().as_secs_f64(),
        },
        model,
        test,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_to_end_gradient_matches_finite_differences() {
        // d loss / d (one encoder weight) through decoder, pooling, renderer, 3 frames of simulator and the
        // centre sampler, against central differences (no quantisation, straight-through threshold off
        // by construction: thresholds are off here so the mask is constant).
        let mut m = EndToEnd::new(EncoderKind::Learned, 3, 7).expect("model");
        let mut p = m.pipe.sim.params().clone();
        p.threshold.use_threshold = false;
        m.pipe.sim = crate::sim::Simulator::new(p, m.pipe.sim.layout().clone(), 1).expect("sim");
        let img = make_images(1, 3).remove(0);
        let loss = |m: &EndToEnd| -> f64 {
            let mut sim = m.pipe.sim.clone();
            let f = m.forward(&mut sim, &img).expect("fwd");
            mse(&f.recon, &img).0
        };
        let (_, ge, _) = m.batch_gradient(&[&img]).expect("grad");
        let (mut checked, mut agree) = (0, 0);
        for pi in [0usize, 5, 40, 77, 300, 600, 650] {
            let h = 2e-3f32;
            let mut a = m.clone();
            a.encoder.params[pi] += h;
            let mut b = m.clone();
            b.encoder.params[pi] -= h;
            let fd = (loss(&a) - loss(&b)) / (2.0 * h as f64);
            if fd.abs() < 1e-7 && ge[pi].abs() < 1e-7 {
                continue;
            }
            checked += 1;
            eprintln!("param {pi}: fd {fd:e} vs {:e}", ge[pi]);
            if (fd - ge[pi] as f64).abs() < 0.05 * fd.abs().max(ge[pi].abs() as f64) + 1e-7 {
                agree += 1;
            }
        }
        // Each stage is checked exactly in its own module; through ~1300 ReLU (rheobase) and pooling kinks
        // a finite difference can straddle a kink, so require most parameters to agree within 5 %.
        assert!(
            checked >= 6 && agree + 2 >= checked,
            "{agree} of {checked} agree"
        );
    }

    #[test]
    fn sobel_of_a_step_edge() {
        let mut img = vec![0.0f32; 16];
        for y in 0..4 {
            img[y * 4 + 2] = 1.0;
            img[y * 4 + 3] = 1.0;
        }
        let s = sobel(&img, 4, 4);
        assert!(s[4 + 1] > 0.9 && s[4 + 2] > 0.9, "{s:?}");
        assert_eq!(s[4], 0.0);
        assert_eq!(quantise(0.5), 5.0 / 9.0);
        assert_eq!(quantise(1.2), 1.0);
    }
}
