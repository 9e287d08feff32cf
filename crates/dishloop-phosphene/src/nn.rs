//! A small CNN library with manual back-propagation and Adam (see the crate docs for why not candle).
//!
//! A [`Net`] is a sequence of [`Layer`]s over one sample of shape (channels, height, width); all
//! parameters live in one flat `Vec<f32>` so the optimiser is one loop. Batches are processed sample by
//! sample in parallel with rayon and the per-sample gradients summed. Every layer's backward pass is
//! checked against finite differences in the tests.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// One layer.
#[derive(Clone, Debug)]
pub enum Layer {
    /// 'same'-padded stride-1 convolution with an odd square kernel.
    Conv {
        /// Input channels.
        cin: usize,
        /// Output channels.
        cout: usize,
        /// Kernel side.
        k: usize,
    },
    /// Fully connected layer on the flattened input.
    Dense {
        /// Input size.
        nin: usize,
        /// Output size.
        nout: usize,
    },
    /// max(0, x).
    Relu,
    /// Logistic output.
    Sigmoid,
    /// 2 × 2 max pooling (stride 2).
    MaxPool2,
    /// 2 × 2 nearest-neighbour up-sampling.
    Upsample2,
}

/// Shape of one sample: (channels, height, width).
pub type Shape = (usize, usize, usize);

/// A sequential network.
#[derive(Clone, Debug)]
pub struct Net {
    layers: Vec<Layer>,
    shapes: Vec<Shape>,
    offsets: Vec<usize>,
    /// All parameters, flat.
    pub params: Vec<f32>,
}

/// Per-sample forward cache: the input of every layer, plus pooling arg-maxes.
#[derive(Clone, Debug, Default)]
pub struct Cache {
    inputs: Vec<Vec<f32>>,
    argmax: Vec<Vec<u32>>,
}

impl Net {
    /// Builds a net for inputs of `input` shape, He-initialised from `seed`.
    pub fn new(input: Shape, layers: Vec<Layer>, seed: u64) -> Self {
        let mut shapes = vec![input];
        let mut offsets = Vec::new();
        let mut n_params = 0;
        for l in &layers {
            let (c, h, w) = *shapes.last().expect("non-empty");
            offsets.push(n_params);
            let out = match *l {
                Layer::Conv { cin, cout, k } => {
                    assert_eq!(cin, c, "conv input channels");
                    n_params += cout * cin * k * k + cout;
                    (cout, h, w)
                }
                Layer::Dense { nin, nout } => {
                    assert_eq!(nin, c * h * w, "dense input size");
                    n_params += nout * nin + nout;
                    (nout, 1, 1)
                }
                Layer::Relu | Layer::Sigmoid => (c, h, w),
                Layer::MaxPool2 => (c, h / 2, w / 2),
                Layer::Upsample2 => (c, h * 2, w * 2),
            };
            shapes.push(out);
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut params = vec![0.0f32; n_params];
        for (l, &off) in layers.iter().zip(&offsets) {
            let (fan_in, nw) = match *l {
                Layer::Conv { cin, cout, k } => (cin * k * k, cout * cin * k * k),
                Layer::Dense { nin, nout } => (nin, nin * nout),
                _ => continue,
            };
            let std = (2.0 / fan_in as f64).sqrt();
            for p in &mut params[off..off + nw] {
                let z: f64 = StandardNormal.sample(&mut rng);
                *p = (std * z) as f32;
            }
        }
        Self {
            layers,
            shapes,
            offsets,
            params,
        }
    }

    /// Output shape of one sample.
    pub fn output_shape(&self) -> Shape {
        *self.shapes.last().expect("non-empty")
    }
    /// Input shape of one sample.
    pub fn input_shape(&self) -> Shape {
        self.shapes[0]
    }
    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }
    /// Layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    /// The weights of layer `idx` (conv kernels cout×cin×k×k or dense nout×nin), for figures.
    pub fn layer_weights(&self, idx: usize) -> &[f32] {
        let off = self.offsets[idx];
        let n = match self.layers[idx] {
            Layer::Conv { cin, cout, k } => cout * cin * k * k,
            Layer::Dense { nin, nout } => nin * nout,
            _ => 0,
        };
        &self.params[off..off + n]
    }

    /// Forward pass of one sample; returns the output.
    pub fn predict(&self, x: &[f32]) -> Vec<f32> {
        self.forward(x).0
    }

    /// Forward pass of one sample; returns the output and the cache for [`Net::backward`].
    pub fn forward(&self, x: &[f32]) -> (Vec<f32>, Cache) {
        let mut cache = Cache::default();
        let mut cur = x.to_vec();
        for (li, l) in self.layers.iter().enumerate() {
            let (c, h, w) = self.shapes[li];
            let p = &self.params[self.offsets[li]..];
            let out = match *l {
                Layer::Conv { cin, cout, k } => conv_forward(&cur, p, cin, cout, k, h, w),
                Layer::Dense { nin, nout } => {
                    let mut o = p[nout * nin..nout * nin + nout].to_vec();
                    for (j, oj) in o.iter_mut().enumerate() {
                        let row = &p[j * nin..(j + 1) * nin];
                        *oj += row.iter().zip(&cur).map(|(a, b)| a * b).sum::<f32>();
                    }
                    o
                }
                Layer::Relu => cur.iter().map(|v| v.max(0.0)).collect(),
                Layer::Sigmoid => cur.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
                Layer::MaxPool2 => {
                    let (oh, ow) = (h / 2, w / 2);
                    let mut o = vec![0.0f32; c * oh * ow];
                    let mut am = vec![0u32; c * oh * ow];
                    for ch in 0..c {
                        for y in 0..oh {
                            for xx in 0..ow {
                                let mut best = f32::NEG_INFINITY;
                                let mut bi = 0;
                                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                                    let idx = ch * h * w + (2 * y + dy) * w + 2 * xx + dx;
                                    if cur[idx] > best {
                                        best = cur[idx];
                                        bi = idx;
                                    }
                                }
                                o[ch * oh * ow + y * ow + xx] = best;
                                am[ch * oh * ow + y * ow + xx] = bi as u32;
                            }
                        }
                    }
                    cache.argmax.push(am);
                    o
                }
                Layer::Upsample2 => {
                    let (oh, ow) = (2 * h, 2 * w);
                    let mut o = vec![0.0f32; c * oh * ow];
                    for ch in 0..c {
                        for y in 0..oh {
                            for xx in 0..ow {
                                o[ch * oh * ow + y * ow + xx] =
                                    cur[ch * h * w + (y / 2) * w + xx / 2];
                            }
                        }
                    }
                    o
                }
            };
            cache.inputs.push(std::mem::replace(&mut cur, out));
        }
        (cur, cache)
    }

    /// Backward pass of one sample: accumulates ∂L/∂params into `grads` and returns ∂L/∂input.
    pub fn backward(&self, cache: &Cache, grad_out: &[f32], grads: &mut [f32]) -> Vec<f32> {
        let mut g = grad_out.to_vec();
        let mut pool_idx = cache.argmax.len();
        for li in (0..self.layers.len()).rev() {
            let (c, h, w) = self.shapes[li];
            let x = &cache.inputs[li];
            let off = self.offsets[li];
            g = match self.layers[li] {
                Layer::Conv { cin, cout, k } => conv_backward(
                    x,
                    &self.params[off..],
                    &g,
                    &mut grads[off..],
                    cin,
                    cout,
                    k,
                    h,
                    w,
                ),
                Layer::Dense { nin, nout } => {
                    let p = &self.params[off..];
                    let gp = &mut grads[off..];
                    let mut gx = vec![0.0f32; nin];
                    for j in 0..nout {
                        let gj = g[j];
                        gp[nout * nin + j] += gj;
                        if gj == 0.0 {
                            continue;
                        }
                        for i in 0..nin {
                            gp[j * nin + i] += gj * x[i];
                            gx[i] += gj * p[j * nin + i];
                        }
                    }
                    gx
                }
                Layer::Relu => x
                    .iter()
                    .zip(&g)
                    .map(|(xv, gv)| if *xv > 0.0 { *gv } else { 0.0 })
                    .collect(),
                Layer::Sigmoid => x
                    .iter()
                    .zip(&g)
                    .map(|(xv, gv)| {
                        let s = 1.0 / (1.0 + (-xv).exp());
                        gv * s * (1.0 - s)
                    })
                    .collect(),
                Layer::MaxPool2 => {
                    pool_idx -= 1;
                    let mut gx = vec![0.0f32; c * h * w];
                    for (o, &src) in cache.argmax[pool_idx].iter().enumerate() {
                        gx[src as usize] += g[o];
                    }
                    gx
                }
                Layer::Upsample2 => {
                    let (oh, ow) = (2 * h, 2 * w);
                    let mut gx = vec![0.0f32; c * h * w];
                    for ch in 0..c {
                        for y in 0..oh {
                            for xx in 0..ow {
                                gx[ch * h * w + (y / 2) * w + xx / 2] +=
                                    g[ch * oh * ow + y * ow + xx];
                            }
                        }
                    }
                    gx
                }
            };
        }
        g
    }

    /// One parallel pass over a batch: `loss_fn(sample_index, output) -> (loss, ∂loss/∂output)`. Returns
    /// (mean loss, mean gradient over the batch).
    pub fn batch_gradient<F>(&self, inputs: &[&[f32]], loss_fn: F) -> (f64, Vec<f32>)
    where
        F: Fn(usize, &[f32]) -> (f64, Vec<f32>) + Sync,
    {
        let np = self.n_params();
        let (loss, mut grads) = inputs
            .par_iter()
            .enumerate()
            .fold(
                || (0.0f64, vec![0.0f32; np]),
                |(mut l, mut g), (i, x)| {
                    let (out, cache) = self.forward(x);
                    let (li, go) = loss_fn(i, &out);
                    l += li;
                    self.backward(&cache, &go, &mut g);
                    (l, g)
                },
            )
            .reduce(
                || (0.0f64, vec![0.0f32; np]),
                |(la, mut ga), (lb, gb)| {
                    for (a, b) in ga.iter_mut().zip(&gb) {
                        *a += b;
                    }
                    (la + lb, ga)
                },
            );
        let inv = 1.0 / inputs.len().max(1) as f32;
        for g in &mut grads {
            *g *= inv;
        }
        (loss / inputs.len().max(1) as f64, grads)
    }
}

fn conv_forward(
    x: &[f32],
    p: &[f32],
    cin: usize,
    cout: usize,
    k: usize,
    h: usize,
    w: usize,
) -> Vec<f32> {
    let pad = k / 2;
    let bias = &p[cout * cin * k * k..];
    let mut out = vec![0.0f32; cout * h * w];
    for o in 0..cout {
        let oc = &mut out[o * h * w..(o + 1) * h * w];
        oc.fill(bias[o]);
        for i in 0..cin {
            let xc = &x[i * h * w..(i + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let wv = p[((o * cin + i) * k + ky) * k + kx];
                    let y0 = pad.saturating_sub(ky);
                    let y1 = (h + pad).saturating_sub(ky).min(h);
                    let x0 = pad.saturating_sub(kx);
                    let x1 = (w + pad).saturating_sub(kx).min(w);
                    for y in y0..y1 {
                        let sy = y + ky - pad;
                        let orow = &mut oc[y * w + x0..y * w + x1];
                        let irow = &xc[sy * w + x0 + kx - pad..sy * w + x1 + kx - pad];
                        for (a, b) in orow.iter_mut().zip(irow) {
                            *a += wv * b;
                        }
                    }
                }
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn conv_backward(
    x: &[f32],
    p: &[f32],
    g: &[f32],
    gp: &mut [f32],
    cin: usize,
    cout: usize,
    k: usize,
    h: usize,
    w: usize,
) -> Vec<f32> {
    let pad = k / 2;
    let mut gx = vec![0.0f32; cin * h * w];
    for o in 0..cout {
        let go = &g[o * h * w..(o + 1) * h * w];
        gp[cout * cin * k * k + o] += go.iter().sum::<f32>();
        for i in 0..cin {
            let xc = &x[i * h * w..(i + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let widx = ((o * cin + i) * k + ky) * k + kx;
                    let wv = p[widx];
                    let y0 = pad.saturating_sub(ky);
                    let y1 = (h + pad).saturating_sub(ky).min(h);
                    let x0 = pad.saturating_sub(kx);
                    let x1 = (w + pad).saturating_sub(kx).min(w);
                    let mut acc = 0.0f32;
                    for y in y0..y1 {
                        let sy = y + ky - pad;
                        let grow = &go[y * w + x0..y * w + x1];
                        let lo = sy * w + x0 + kx - pad;
                        let irow = &xc[lo..lo + (x1 - x0)];
                        acc += grow.iter().zip(irow).map(|(a, b)| a * b).sum::<f32>();
                        let gxrow = &mut gx[i * h * w + lo..i * h * w + lo + (x1 - x0)];
                        for (a, b) in gxrow.iter_mut().zip(grow) {
                            *a += wv * b;
                        }
                    }
                    gp[widx] += acc;
                }
            }
        }
    }
    gx
}

/// Adam (Kingma & Ba 2015) on a flat parameter vector.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// β₁.
    pub beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// ε.
    pub eps: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    /// Adam with the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(n: usize, lr: f32) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }
    /// One update of `params` along `-grads`.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        self.t += 1;
        let b1t = 1.0 - self.beta1.powi(self.t);
        let b2t = 1.0 - self.beta2.powi(self.t);
        for i in 0..params.len() {
            let g = grads[i];
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * g;
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * g * g;
            params[i] -= self.lr * (self.m[i] / b1t) / ((self.v[i] / b2t).sqrt() + self.eps);
        }
    }
}

/// Softmax cross-entropy of `logits` against class `label`: (loss, ∂loss/∂logits).
pub fn softmax_cross_entropy(logits: &[f32], label: usize) -> (f64, Vec<f32>) {
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
    let e: Vec<f64> = logits.iter().map(|v| ((v - m) as f64).exp()).collect();
    let s: f64 = e.iter().sum();
    let loss = -(e[label] / s).ln();
    let g = e
        .iter()
        .enumerate()
        .map(|(i, v)| (v / s - if i == label { 1.0 } else { 0.0 }) as f32)
        .collect();
    (loss, g)
}

/// Mean squared error: (loss, ∂loss/∂pred).
pub fn mse(pred: &[f32], target: &[f32]) -> (f64, Vec<f32>) {
    let n = pred.len().max(1) as f64;
    let loss = pred
        .iter()
        .zip(target)
        .map(|(p, t)| ((p - t) as f64).powi(2))
        .sum::<f64>()
        / n;
    let g = pred
        .iter()
        .zip(target)
        .map(|(p, t)| (2.0 * (*p as f64 - *t as f64) / n) as f32)
        .collect();
    (loss, g)
}

/// Index of the largest value.
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for i in 1..v.len() {
        if v[i] > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd_check(net: &Net, x: &[f32]) {
        let out_n = {
            let (c, h, w) = net.output_shape();
            c * h * w
        };
        let wts: Vec<f32> = (0..out_n)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
            .collect();
        let loss = |n: &Net, x: &[f32]| -> f64 {
            n.predict(x)
                .iter()
                .zip(&wts)
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum()
        };
        let (_, cache) = net.forward(x);
        let mut grads = vec![0.0f32; net.n_params()];
        let gx = net.backward(&cache, &wts, &mut grads);
        let h = 1e-2f32;
        for pi in (0..net.n_params()).step_by((net.n_params() / 40).max(1)) {
            let mut a = net.clone();
            a.params[pi] += h;
            let mut b = net.clone();
            b.params[pi] -= h;
            let fd = (loss(&a, x) - loss(&b, x)) / (2.0 * h as f64);
            assert!(
                (fd - grads[pi] as f64).abs() < 2e-2 * fd.abs().max(0.3),
                "param {pi}: fd {fd} vs {}",
                grads[pi]
            );
        }
        for xi in (0..x.len()).step_by((x.len() / 20).max(1)) {
            let mut xp = x.to_vec();
            xp[xi] += h;
            let mut xm = x.to_vec();
            xm[xi] -= h;
            let fd = (loss(net, &xp) - loss(net, &xm)) / (2.0 * h as f64);
            assert!(
                (fd - gx[xi] as f64).abs() < 2e-2 * fd.abs().max(0.3),
                "input {xi}: fd {fd} vs {}",
                gx[xi]
            );
        }
    }

    #[test]
    fn layers_match_finite_differences() {
        // Smooth nets (sigmoid instead of relu, no pooling ties) so central differences are exact enough.
        let net = Net::new(
            (2, 8, 8),
            vec![
                Layer::Conv {
                    cin: 2,
                    cout: 3,
                    k: 3,
                },
                Layer::Sigmoid,
                Layer::Upsample2,
                Layer::Conv {
                    cin: 3,
                    cout: 2,
                    k: 5,
                },
                Layer::Sigmoid,
                Layer::Dense {
                    nin: 2 * 16 * 16,
                    nout: 4,
                },
            ],
            1,
        );
        let x: Vec<f32> = (0..128)
            .map(|i| ((i * 31 % 17) as f32) / 17.0 - 0.5)
            .collect();
        fd_check(&net, &x);
        let net = Net::new(
            (1, 6, 6),
            vec![
                Layer::Conv {
                    cin: 1,
                    cout: 2,
                    k: 3,
                },
                Layer::MaxPool2,
                Layer::Relu,
            ],
            2,
        );
        let x: Vec<f32> = (0..36).map(|i| (i as f32 * 0.37).sin()).collect();
        fd_check(&net, &x);
    }

    #[test]
    fn adam_fits_xor_like_problem() {
        let net0 = Net::new(
            (2, 1, 1),
            vec![
                Layer::Dense { nin: 2, nout: 16 },
                Layer::Relu,
                Layer::Dense { nin: 16, nout: 2 },
            ],
            5,
        );
        let mut net = net0.clone();
        let xs: Vec<[f32; 2]> = vec![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
        let ys = [0usize, 1, 1, 0];
        let mut opt = Adam::new(net.n_params(), 0.03);
        for _ in 0..400 {
            let inputs: Vec<&[f32]> = xs.iter().map(|x| &x[..]).collect();
            let (_, g) = net.batch_gradient(&inputs, |i, out| softmax_cross_entropy(out, ys[i]));
            opt.step(&mut net.params, &g);
        }
        for (x, y) in xs.iter().zip(ys) {
            assert_eq!(argmax(&net.predict(x)), y);
        }
    }
}
