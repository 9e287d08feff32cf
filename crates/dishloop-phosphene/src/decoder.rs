//! A small CNN that reads digits back from phosphene renders (seed §03).
//!
//! Data: each sample is a 5 × 7 glyph (digits 0–9 from [`crate::glyphs`]) drawn with random shift,
//! scale, rotation, shear and stroke width on a 256 × 256 canvas covering the 16° view; the canvas is
//! sampled into amplitudes by receptive fields with the rescale rule (pixel 1 → 100 µA), stimulated for
//! `frames` frames at 35 fps on the default implant (32 × 32 grid per hemisphere, jitter, dropout, fixed
//! per-electrode thresholds), and the last frame is rendered at 256 × 256 and sum-pooled 8 × 8 to the
//! 32 × 32 network input. Train and held-out samples come from disjoint random streams.

use crate::PhospheneError;
use crate::cortex::default_layout;
use crate::glyphs::{GlyphPose, rasterize};
use crate::nn::{Adam, Layer, Net, argmax, softmax_cross_entropy};
use crate::params::Params;
use crate::render::{Renderer, sum_pool};
use crate::sim::Simulator;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

/// Side of the network input.
pub const INPUT_PX: usize = 32;

/// The phosphene vision pipeline shared by the decoder and end-to-end experiments.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// Simulator (batch 1; cloned per worker).
    pub sim: Simulator,
    /// Renderer at the simulator resolution.
    pub renderer: Renderer,
    /// Frames of constant stimulation per sample.
    pub frames: usize,
    /// Pooling factor from the render to the network input.
    pub pool: usize,
}

impl Pipeline {
    /// The default implant at 256 × 256, seeded by `seed` (layout and thresholds).
    pub fn default_implant(seed: u64, frames: usize) -> Result<Self, PhospheneError> {
        let mut p = Params::default();
        p.run.seed = seed;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let layout = default_layout(&p.cortex, p.run.view_angle_deg, p.run.origin_deg, &mut rng);
        let sim = Simulator::new(p, layout, 1)?;
        let renderer = Renderer::for_simulator(&sim)?;
        let pool = sim.params().run.resolution_x_px / INPUT_PX;
        Ok(Self {
            sim,
            renderer,
            frames,
            pool,
        })
    }

    /// Stimulates `amplitude_a` (per electrode) for `frames` frames from rest and returns the final
    /// render (full resolution).
    pub fn percept(
        &self,
        sim: &mut Simulator,
        amplitude_a: &[f64],
    ) -> Result<Vec<f32>, PhospheneError> {
        sim.reset();
        for _ in 0..self.frames {
            sim.step(amplitude_a)?;
        }
        Ok(self.renderer.render(&sim.intensity(), sim.sigma_deg()))
    }

    /// Pools a full-resolution render to the network input.
    pub fn pool_input(&self, render: &[f32]) -> Vec<f32> {
        let w = self.renderer.width_px();
        sum_pool(render, w, self.renderer.height_px(), self.pool)
    }
}

/// A labelled set of network inputs.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// 32 × 32 pooled renders.
    pub inputs: Vec<Vec<f32>>,
    /// Class labels.
    pub labels: Vec<usize>,
    /// The glyph canvases (256 × 256) of the first few samples, for figures.
    pub examples: Vec<(Vec<f32>, Vec<f32>)>,
}

/// Renders `n` samples of `n_classes` glyph classes; sample `i` uses its own RNG stream
/// (`stream_seed`, i), so the result does not depend on thread scheduling.
pub fn make_dataset(
    pipe: &Pipeline,
    n: usize,
    n_classes: usize,
    stream_seed: u64,
) -> Result<Dataset, PhospheneError> {
    let w = pipe.renderer.width_px();
    let h = pipe.renderer.height_px();
    let res: Result<Vec<(Vec<f32>, usize, Vec<f32>, Vec<f32>)>, PhospheneError> = (0..n)
        .into_par_iter()
        .map_init(
            || pipe.sim.clone(),
            |sim, i| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                    stream_seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
                );
                let label = i % n_classes;
                let pose = GlyphPose::random(&mut rng, 0.08);
                let canvas = rasterize(label, w, h, &pose);
                let amps =
                    pipe.renderer
                        .sample(&canvas, sim.params(), sim.magnification(), true)?;
                let render = pipe.percept(sim, &amps)?;
                let input = pipe.pool_input(&render);
                let keep = i < 8;
                Ok((
                    input,
                    label,
                    if keep { canvas } else { vec![] },
                    if keep { render } else { vec![] },
                ))
            },
        )
        .collect();
    let mut d = Dataset::default();
    for (inp, l, c, r) in res? {
        if !c.is_empty() {
            d.examples.push((c, r));
        }
        d.inputs.push(inp);
        d.labels.push(l);
    }
    Ok(d)
}

/// The classifier: conv 3×3 (8) → ReLU → max-pool → conv 3×3 (16) → ReLU → max-pool → dense (10).
pub fn classifier(n_classes: usize, seed: u64) -> Net {
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
            Layer::MaxPool2,
            Layer::Dense {
                nin: 16 * 8 * 8,
                nout: n_classes,
            },
        ],
        seed,
    )
}

/// Training settings.
#[derive(Clone, Debug, Serialize)]
pub struct TrainConfig {
    /// Training samples.
    pub n_train: usize,
    /// Held-out samples.
    pub n_test: usize,
    /// Classes (digits 0..n).
    pub n_classes: usize,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f32,
    /// Frames of stimulation per sample.
    pub frames: usize,
    /// Seed (implant, data streams, weights, shuffling).
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            n_train: 4000,
            n_test: 1000,
            n_classes: 10,
            epochs: 8,
            batch: 32,
            lr: 2e-3,
            frames: 5,
            seed: 1,
        }
    }
}

/// Result of a decoder run.
#[derive(Clone, Debug, Serialize)]
pub struct DecoderReport {
    /// Settings.
    pub config: TrainConfig,
    /// Mean training loss per epoch.
    pub train_loss: Vec<f64>,
    /// Held-out accuracy after each epoch.
    pub test_accuracy: Vec<f64>,
    /// Final held-out accuracy.
    pub final_test_accuracy: f64,
    /// Phosphenes in the implant.
    pub n_phosphenes: usize,
    /// Wall time, s.
    pub wall_s: f64,
}

/// Accuracy of `net` on a dataset.
pub fn accuracy(net: &Net, d: &Dataset) -> f64 {
    let correct: usize = d
        .inputs
        .par_iter()
        .zip(&d.labels)
        .filter(|(x, l)| argmax(&net.predict(x)) == **l)
        .count();
    correct as f64 / d.inputs.len().max(1) as f64
}

/// Builds the data, trains the classifier with Adam, evaluates on the held-out set after every epoch.
pub fn train_decoder(cfg: &TrainConfig) -> Result<(DecoderReport, Net, Dataset), PhospheneError> {
    let t0 = std::time::Instant::now();
    let pipe = Pipeline::default_implant(cfg.seed, cfg.frames)?;
    let train = make_dataset(
        &pipe,
        cfg.n_train,
        cfg.n_classes,
        cfg.seed.wrapping_mul(2).wrapping_add(11),
    )?;
    let test = make_dataset(
        &pipe,
        cfg.n_test,
        cfg.n_classes,
        cfg.seed.wrapping_mul(2).wrapping_add(12) ^ 0xdead_beef,
    )?;
    let mut net = classifier(cfg.n_classes, cfg.seed);
    let mut opt = Adam::new(net.n_params(), cfg.lr);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ 0x5eed);
    let mut order: Vec<usize> = (0..train.inputs.len()).collect();
    let (mut train_loss, mut test_accuracy) = (Vec::new(), Vec::new());
    for _ in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let (mut sum, mut nb) = (0.0, 0);
        for chunk in order.chunks(cfg.batch.max(1)) {
            let xs: Vec<&[f32]> = chunk.iter().map(|&i| &train.inputs[i][..]).collect();
            let (l, g) = net.batch_gradient(&xs, |k, out| {
                softmax_cross_entropy(out, train.labels[chunk[k]])
            });
            opt.step(&mut net.params, &g);
            sum += l;
            nb += 1;
        }
        train_loss.push(sum / nb.max(1) as f64);
        test_accuracy.push(accuracy(&net, &test));
    }
    let final_test_accuracy = test_accuracy.last().copied().unwrap_or(0.0);
    Ok((
        DecoderReport {
            config: cfg.clone(),
            train_loss,
            test_accuracy,
            final_test_accuracy,
            n_phosphenes: pipe.sim.n(),
            wall_s: t0.elapsed().as_secs_f64(),
        },
        net,
        test,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_reaches_held_out_accuracy_on_ci_run() {
        // CI-sized run: 1000 training renders, 400 held out, 3 epochs; chance is 10 %.
        let cfg = TrainConfig {
            n_train: 1000,
            n_test: 400,
            epochs: 3,
            ..TrainConfig::default()
        };
        let (rep, _, _) = train_decoder(&cfg).expect("train");
        eprintln!(
            "decoder CI run: {:?} ({:.1} s)",
            rep.test_accuracy, rep.wall_s
        );
        assert!(
            rep.final_test_accuracy >= 0.80,
            "held-out accuracy {}",
            rep.final_test_accuracy
        );
        assert!(rep.train_loss.last() < rep.train_loss.first());
    }
}
