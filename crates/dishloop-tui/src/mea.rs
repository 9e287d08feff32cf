//! The 8×8 MEA heat map of the Simulate view.
//!
//! Stand-in until `dishloop-mea` exposes per-electrode detection: a CL1-like 8×8 grid at
//! 200 µm pitch centred on the substrate (BL-1 reference §5: CL1 8×8 at 200 µm, centred,
//! detection radius 100 µm); an electrode records every spike of every neuron within
//! 100 µm of its site (perfect multi-unit detection, no noise). Swap [`mea_map`] for the
//! MEA crate's detector when it lands; the rest of the cockpit only reads [`MeaMap`].

use dishloop_analysis::SpikeTrains;

/// Rows and columns of the grid.
pub const MEA_SIDE: usize = 8;
/// Electrode pitch (µm), CL1.
pub const MEA_PITCH_UM: f64 = 200.0;
/// Detection radius (µm), BL-1's default.
pub const DETECTION_RADIUS_UM: f64 = 100.0;

/// Per-electrode rates on the 8×8 grid, row-major, row 0 at the smallest y.
#[derive(Debug, Clone, PartialEq)]
pub struct MeaMap {
    /// Detected spikes per second per electrode (multi-unit rate, Hz).
    pub rate_hz: [f64; MEA_SIDE * MEA_SIDE],
    /// Neurons within the detection radius of each electrode.
    pub neurons: [u32; MEA_SIDE * MEA_SIDE],
}

impl MeaMap {
    /// The largest electrode rate (0 for an empty map).
    pub fn max_rate_hz(&self) -> f64 {
        self.rate_hz.iter().copied().fold(0.0, f64::max)
    }
}

/// Electrode sites (µm), row-major, centred on a `[w, h]` substrate whose neurons lie in
/// `[0, w] × [0, h]`.
pub fn electrode_sites(substrate_um: [f64; 2]) -> [[f64; 2]; MEA_SIDE * MEA_SIDE] {
    let c = [substrate_um[0] / 2.0, substrate_um[1] / 2.0];
    let half = (MEA_SIDE as f64 - 1.0) / 2.0;
    std::array::from_fn(|i| {
        let (r, col) = (i / MEA_SIDE, i % MEA_SIDE);
        [
            c[0] + (col as f64 - half) * MEA_PITCH_UM,
            c[1] + (r as f64 - half) * MEA_PITCH_UM,
        ]
    })
}

/// Electrode rates from neuron positions and spikes (see the module docs).
pub fn mea_map(positions_um: &[[f32; 2]], substrate_um: [f64; 2], trains: &SpikeTrains) -> MeaMap {
    let sites = electrode_sites(substrate_um);
    let r2 = DETECTION_RADIUS_UM * DETECTION_RADIUS_UM;
    // Electrodes are 200 µm apart with a 100 µm radius, so a neuron is seen by at most one
    // electrode (a neuron exactly between two counts for the first).
    let owner: Vec<Option<usize>> = positions_um
        .iter()
        .map(|p| {
            sites.iter().position(|s| {
                let (dx, dy) = (p[0] as f64 - s[0], p[1] as f64 - s[1]);
                dx * dx + dy * dy <= r2
            })
        })
        .collect();
    let mut neurons = [0u32; MEA_SIDE * MEA_SIDE];
    for e in owner.iter().flatten() {
        neurons[*e] += 1;
    }
    let mut counts = [0u64; MEA_SIDE * MEA_SIDE];
    for &nrn in &trains.neurons {
        if let Some(Some(e)) = owner.get(nrn as usize) {
            counts[*e] += 1;
        }
    }
    let t_s = trains.duration_s();
    let rate_hz = std::array::from_fn(|i| {
        if t_s > 0.0 {
            counts[i] as f64 / t_s
        } else {
            0.0
        }
    });
    MeaMap { rate_hz, neurons }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_centred_at_pitch() {
        let s = electrode_sites([2000.0, 1000.0]);
        assert_eq!(s[0], [1000.0 - 700.0, 500.0 - 700.0]);
        assert_eq!(s[63], [1000.0 + 700.0, 500.0 + 700.0]);
        assert_eq!(s[1][0] - s[0][0], 200.0);
        assert_eq!(s[8][1] - s[0][1], 200.0);
    }

    #[test]
    fn spikes_count_on_the_nearest_electrode_only_within_radius() {
        let sites = electrode_sites([1600.0, 1600.0]);
        let near = [sites[9][0] as f32 + 50.0, sites[9][1] as f32];
        let far = [sites[9][0] as f32 + 100.0, sites[9][1] as f32 + 100.0]; // 141 µm from 4 sites
        // neuron 0 near electrode 9 spikes 4 times, neuron 1 (out of range) 10 times; 2 s.
        let mut pairs: Vec<(u32, u32)> = (0..4).map(|k| (k * 10, 0)).collect();
        pairs.extend((0..10).map(|k| (k * 10 + 1, 1)));
        let t = SpikeTrains::from_unsorted(2, 0.5, 4000, pairs).unwrap();
        let m = mea_map(&[near, far], [1600.0, 1600.0], &t);
        assert_eq!(m.neurons[9], 1);
        assert_eq!(m.neurons.iter().sum::<u32>(), 1);
        assert_eq!(m.rate_hz[9], 2.0);
        assert_eq!(m.max_rate_hz(), 2.0);
    }
}
