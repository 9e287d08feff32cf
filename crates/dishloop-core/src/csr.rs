//! Connectivity: compressed sparse rows, one row per *presynaptic* neuron, each row split into
//! segments of equal axonal delay.
//!
//! Memory per synapse is 8 bytes (u32 target + f32 weight); delays cost 6 bytes per
//! (row, distinct delay) segment and each row 4 bytes (DESIGN.md "hot loop"). A stored target
//! is `post + n·class` (class 0 excitatory: AMPA/NMDA; 1 inhibitory: GABA_A/GABA_B), which is
//! directly the synapse's offset in a slot of the network's delay ring (`[class][neuron]`), so
//! delivery adds it to the slot's base and nothing else. The class can follow the presynaptic
//! cell (Dale's law) or, for BL-1's legacy wiring, the postsynaptic cell, at no extra memory.

use crate::error::CoreError;

/// Networks hold fewer than 2³¹ neurons, so that a stored target `post + n·class` fits in a
/// u32 (see the module documentation).
pub const INH_BIT: u32 = 1 << 31;
/// Largest neuron index plus one (2³¹ − 1).
pub const TARGET_MASK: u32 = INH_BIT - 1;

/// Postsynaptic neuron of a stored target `t = post + n·class` in a network of `n` neurons.
#[inline(always)]
pub(crate) fn decode_post(t: u32, n: u32) -> u32 {
    if t >= n { t - n } else { t }
}

/// One synapse as given to the builder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Synapse {
    /// Presynaptic neuron.
    pub pre: u32,
    /// Postsynaptic neuron.
    pub post: u32,
    /// Weight (conductance jump per unit capacitance, 1/ms), ≥ 0.
    pub weight: f32,
    /// Axonal delay in steps, ≥ 1.
    pub delay_steps: u16,
    /// Whether the synapse acts on the inhibitory receptors.
    pub inhibitory: bool,
}

/// Delay-segmented CSR matrix.
///
/// Aligned to 128 bytes so that it sits alone in its cache lines: the team's threads read
/// these headers on every spike they deliver, while the network around it changes every step.
#[derive(Clone, Debug, Default)]
#[repr(align(128))]
pub struct Csr {
    n: usize,
    /// Segment range of row r: `row_seg[r]..row_seg[r+1]`.
    row_seg: Vec<u32>,
    /// Synapse range of segment s: `seg_start[s]..seg_start[s+1]`.
    seg_start: Vec<u32>,
    /// Delay (steps) of segment s.
    seg_delay: Vec<u16>,
    /// Stored targets (index | class bit), sorted by target within a segment (delivery
    /// relies on it to find a thread's target range by binary search).
    pub(crate) targets: Vec<u32>,
    /// Weights, parallel to `targets`.
    pub(crate) weights: Vec<f32>,
    max_delay: u16,
}

impl Csr {
    /// Builds from per-row synapse lists: `rows[pre]` lists `(post, weight, delay_steps,
    /// inhibitory)`. Rows are sorted by (delay, target) here.
    pub fn from_rows(n: usize, rows: Vec<Vec<(u32, f32, u16, bool)>>) -> Result<Self, CoreError> {
        if rows.len() != n {
            return Err(CoreError::Size(format!(
                "{} rows for {} neurons",
                rows.len(),
                n
            )));
        }
        let nnz: usize = rows.iter().map(Vec::len).sum();
        let mut rows = rows.into_iter();
        Self::from_row_fn(n, nnz, |_, row| {
            if let Some(r) = rows.next() {
                *row = r;
            }
        })
    }

    /// Builds row by row: `fill(pre, &mut row)` appends row `pre`'s synapses (`row` comes in
    /// empty). Only one row exists outside the matrix at a time, so building needs about the
    /// matrix's own memory (8 bytes per synapse), not the 12+ of a `Vec` per row.
    /// `nnz_hint` sizes the arrays up front (0 if unknown).
    pub fn from_row_fn(
        n: usize,
        nnz_hint: usize,
        mut fill: impl FnMut(usize, &mut Vec<(u32, f32, u16, bool)>),
    ) -> Result<Self, CoreError> {
        if n >= TARGET_MASK as usize {
            return Err(CoreError::Limit(format!(
                "{n} neurons exceed the 2^31 index space"
            )));
        }
        let mut csr = Csr {
            n,
            row_seg: Vec::with_capacity(n + 1),
            seg_start: Vec::new(),
            seg_delay: Vec::new(),
            targets: Vec::with_capacity(nnz_hint),
            weights: Vec::with_capacity(nnz_hint),
            max_delay: 0,
        };
        csr.row_seg.push(0);
        let mut row = Vec::new();
        for pre in 0..n {
            row.clear();
            fill(pre, &mut row);
            // Sorted by delay, then target: `StepCtx::deliver` relies on targets being
            // ascending within a segment.
            row.sort_unstable_by_key(|&(t, _, d, _)| (d, t));
            let mut last_delay = u16::MAX;
            for &(t, w, d, inh) in &row {
                if t as usize >= n {
                    return Err(CoreError::Size(format!("target {t} >= {n} neurons")));
                }
                if d == 0 {
                    return Err(CoreError::range("synapse.delay_steps", 0, ">= 1"));
                }
                if !(w.is_finite() && w >= 0.0) {
                    return Err(CoreError::range("synapse.weight", w, "finite and >= 0"));
                }
                if d != last_delay {
                    csr.seg_start.push(csr.targets.len() as u32);
                    csr.seg_delay.push(d);
                    last_delay = d;
                    csr.max_delay = csr.max_delay.max(d);
                }
                csr.targets.push(t + if inh { n as u32 } else { 0 });
                csr.weights.push(w);
            }
            if csr.targets.len() >= u32::MAX as usize {
                return Err(CoreError::Limit(format!(
                    "{} synapses exceed the u32 offset space",
                    csr.targets.len()
                )));
            }
            csr.row_seg.push(csr.seg_delay.len() as u32);
        }
        csr.seg_start.push(csr.targets.len() as u32);
        csr.seg_start.shrink_to_fit();
        csr.seg_delay.shrink_to_fit();
        Ok(csr)
    }

    /// Builds from a flat synapse list (any order).
    pub fn from_synapses(n: usize, syn: &[Synapse]) -> Result<Self, CoreError> {
        let mut rows = vec![Vec::new(); n];
        for s in syn {
            let r = rows
                .get_mut(s.pre as usize)
                .ok_or_else(|| CoreError::Size(format!("pre {} >= {} neurons", s.pre, n)))?;
            r.push((s.post, s.weight, s.delay_steps, s.inhibitory));
        }
        Self::from_rows(n, rows)
    }

    /// Number of rows (neurons).
    pub fn n(&self) -> usize {
        self.n
    }
    /// Number of synapses.
    pub fn nnz(&self) -> usize {
        self.targets.len()
    }
    /// Longest delay in steps.
    pub fn max_delay(&self) -> u16 {
        self.max_delay
    }
    /// Segments of row `pre` as `(delay_steps, synapse index range)`.
    #[inline]
    pub fn row_segments(
        &self,
        pre: usize,
    ) -> impl Iterator<Item = (u16, std::ops::Range<usize>)> + '_ {
        let (a, b) = (self.row_seg[pre] as usize, self.row_seg[pre + 1] as usize);
        (a..b).map(move |s| {
            (
                self.seg_delay[s],
                self.seg_start[s] as usize..self.seg_start[s + 1] as usize,
            )
        })
    }
    /// Segment indices of row `pre` (for [`Csr::segment`]).
    #[inline(always)]
    pub(crate) fn row_segment_ids(&self, pre: usize) -> std::ops::Range<usize> {
        self.row_seg[pre] as usize..self.row_seg[pre + 1] as usize
    }
    /// Delay and synapse index range of segment `s`.
    #[inline(always)]
    pub(crate) fn segment(&self, s: usize) -> (u16, std::ops::Range<usize>) {
        (
            self.seg_delay[s],
            self.seg_start[s] as usize..self.seg_start[s + 1] as usize,
        )
    }
    /// Number of (row, delay) segments.
    pub(crate) fn n_segments(&self) -> usize {
        self.seg_delay.len()
    }
    /// Hints the CPU to start loading the first two cache lines of targets and weights from
    /// synapse `s` on. No effect on results; a no-op off x86-64.
    #[inline(always)]
    pub fn prefetch_from(&self, s: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let (t, w) = (self.targets.as_ptr(), self.weights.as_ptr());
            // SAFETY: prefetching is a hint and cannot fault.
            unsafe {
                use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
                for k in [0, 16] {
                    _mm_prefetch::<_MM_HINT_T0>(t.wrapping_add(s + k) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(w.wrapping_add(s + k) as *const i8);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = s;
    }

    /// Synapse index range of row `pre`.
    #[inline]
    pub fn row_range(&self, pre: usize) -> std::ops::Range<usize> {
        let (a, b) = (self.row_seg[pre] as usize, self.row_seg[pre + 1] as usize);
        self.seg_start[a] as usize..self.seg_start[b] as usize
    }
    /// Postsynaptic neuron of synapse `s`.
    #[inline]
    pub fn target(&self, s: usize) -> u32 {
        self.post_of(self.targets[s])
    }
    /// Whether synapse `s` is inhibitory.
    #[inline]
    pub fn is_inhibitory(&self, s: usize) -> bool {
        self.targets[s] as usize >= self.n
    }
    /// Postsynaptic neuron of a stored target (`post + n·class`).
    #[inline(always)]
    pub(crate) fn post_of(&self, t: u32) -> u32 {
        decode_post(t, self.n as u32)
    }
    /// Weights (mutable, e.g. for pharmacology or plasticity).
    pub fn weights_mut(&mut self) -> &mut [f32] {
        &mut self.weights
    }
    /// Weights.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
    /// All synapses back as a list (for rewiring and tests).
    pub fn to_synapses(&self) -> Vec<Synapse> {
        let mut out = Vec::with_capacity(self.nnz());
        for pre in 0..self.n {
            for (d, r) in self.row_segments(pre) {
                for s in r {
                    out.push(Synapse {
                        pre: pre as u32,
                        post: self.target(s),
                        weight: self.weights[s],
                        delay_steps: d,
                        inhibitory: self.is_inhibitory(s),
                    });
                }
            }
        }
        out
    }
    /// Bytes held by the matrix, and the part that scales per synapse.
    pub fn memory_bytes(&self) -> (usize, usize) {
        let per_syn = self.targets.len() * 4 + self.weights.len() * 4;
        let rest = self.row_seg.len() * 4 + self.seg_start.len() * 4 + self.seg_delay.len() * 2;
        (per_syn + rest, per_syn)
    }
    /// Incoming index: for each postsynaptic neuron, the synapse indices that target it
    /// (CSC view, 4 bytes per synapse; built only when plasticity needs it).
    pub fn incoming(&self) -> (Vec<u32>, Vec<u32>) {
        let mut count = vec![0u32; self.n + 1];
        for &t in &self.targets {
            count[self.post_of(t) as usize + 1] += 1;
        }
        for i in 0..self.n {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut idx = vec![0u32; self.targets.len()];
        for (s, &t) in self.targets.iter().enumerate() {
            let k = self.post_of(t) as usize;
            idx[fill[k] as usize] = s as u32;
            fill[k] += 1;
        }
        (count, idx)
    }
    /// Presynaptic neuron of every synapse (4 bytes per synapse; built on demand).
    pub fn sources(&self) -> Vec<u32> {
        let mut src = vec![0u32; self.nnz()];
        for pre in 0..self.n {
            for s in self.row_range(pre) {
                src[s] = pre as u32;
            }
        }
        src
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_segmented_by_delay_and_round_trip() {
        let syn = vec![
            Synapse {
                pre: 0,
                post: 2,
                weight: 0.5,
                delay_steps: 3,
                inhibitory: false,
            },
            Synapse {
                pre: 0,
                post: 1,
                weight: 0.25,
                delay_steps: 1,
                inhibitory: false,
            },
            Synapse {
                pre: 0,
                post: 3,
                weight: 0.125,
                delay_steps: 3,
                inhibitory: true,
            },
            Synapse {
                pre: 2,
                post: 0,
                weight: 1.0,
                delay_steps: 2,
                inhibitory: false,
            },
        ];
        let csr = Csr::from_synapses(4, &syn).unwrap();
        assert_eq!(csr.nnz(), 4);
        let segs: Vec<_> = csr.row_segments(0).collect();
        assert_eq!(segs, vec![(1, 0..1), (3, 1..3)]);
        assert_eq!(csr.row_segments(1).count(), 0);
        assert_eq!(csr.max_delay(), 3);
        assert!(csr.is_inhibitory(2) && !csr.is_inhibitory(1));
        let mut back = csr.to_synapses();
        let mut want = syn.clone();
        let key = |s: &Synapse| (s.pre, s.delay_steps, s.post);
        back.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(back, want);
        let (ptr, idx) = csr.incoming();
        assert_eq!(&ptr[..], &[0, 1, 2, 3, 4]);
        assert_eq!(csr.target(idx[ptr[3] as usize] as usize), 3);
        assert_eq!(csr.memory_bytes().1, 4 * 8);
    }

    #[test]
    fn bad_synapses_are_refused() {
        let bad = [Synapse {
            pre: 0,
            post: 9,
            weight: 1.0,
            delay_steps: 1,
            inhibitory: false,
        }];
        assert!(matches!(
            Csr::from_synapses(2, &bad),
            Err(CoreError::Size(_))
        ));
        let bad = [Synapse {
            pre: 0,
            post: 1,
            weight: f32::NAN,
            delay_steps: 1,
            inhibitory: false,
        }];
        assert!(matches!(
            Csr::from_synapses(2, &bad),
            Err(CoreError::OutOfRange { .. })
        ));
        let bad = [Synapse {
            pre: 0,
            post: 1,
            weight: 1.0,
            delay_steps: 0,
            inhibitory: false,
        }];
        assert!(Csr::from_synapses(2, &bad).is_err());
    }
}
