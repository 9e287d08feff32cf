//! The 8×8 MEA heat map of the Simulate view, recorded by `dishloop-mea`: the CL1 layout
//! (8×8 at 200 µm, vendor channel numbering, 4 grounded corners and 1 reference electrode)
//! centred on the culture, with its spike-detection model (a neuron is seen by an electrode
//! when its spike amplitude exceeds 5× the noise, ≈ 95 µm; see `dishloop_mea::recording`).

use dishloop_core::Network;
use dishloop_mea::{Layout, Mea, MeaConfig};

use crate::TuiError;

/// Rows and columns of the grid.
pub const MEA_SIDE: usize = 8;

/// Per-electrode rates on the 8×8 grid, row-major, row 0 at the top.
#[derive(Debug, Clone, PartialEq)]
pub struct MeaMap {
    /// Detected spikes per second per electrode (multi-unit rate, Hz); NaN where the
    /// electrode does not record (grounded or reference).
    pub rate_hz: [f64; MEA_SIDE * MEA_SIDE],
    /// Neurons each electrode detects.
    pub neurons: [u32; MEA_SIDE * MEA_SIDE],
}

impl MeaMap {
    /// The largest electrode rate (0 for an empty map).
    pub fn max_rate_hz(&self) -> f64 {
        self.rate_hz
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max)
    }
}

/// A CL1 MEA centred on a `[w, h]` substrate under `net` (recording only, no raster kept).
pub fn cl1_under(net: &Network, substrate_um: [f64; 2]) -> Result<Mea, TuiError> {
    let layout = Layout::cl1(Layout::substrate_center(substrate_um));
    let cfg = MeaConfig {
        keep_raster: false,
        ..Default::default()
    };
    Mea::new(layout, net, cfg).map_err(|e| TuiError::Train(format!("MEA: {e}")))
}

/// The heat map of what `mea` recorded so far.
pub fn mea_map(mea: &Mea) -> MeaMap {
    let layout = mea.layout();
    let rates = mea.electrode_rates_hz();
    let detected: Vec<f64> = mea
        .detected_neurons()
        .iter()
        .map(|v| v.len() as f64)
        .collect();
    let mut out = MeaMap {
        rate_hz: [f64::NAN; MEA_SIDE * MEA_SIDE],
        neurons: [0; MEA_SIDE * MEA_SIDE],
    };
    if let (Some((r, rows, cols)), Some((n, _, _))) =
        (layout.grid_values(&rates), layout.grid_values(&detected))
        && rows * cols == MEA_SIDE * MEA_SIDE
    {
        out.rate_hz.copy_from_slice(&r);
        for (o, v) in out.neurons.iter_mut().zip(n) {
            *o = if v.is_finite() { v as u32 } else { 0 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dishloop_core::{Csr, IzhType, NetworkSpec, PopulationBuilder};

    #[test]
    fn a_neuron_under_an_electrode_shows_on_its_cell_only() {
        // Two RS cells driven to fire: one 10 µm from the electrode at grid row 2, column 5,
        // one far from every electrode. Substrate 1600 µm: electrodes at 100 … 1500 µm.
        let sub = [1600.0, 1600.0];
        let (x, y) = (100.0 + 5.0 * 200.0, 100.0 + 2.0 * 200.0);
        let mut pop = PopulationBuilder::new();
        pop.push_izhikevich(IzhType::RS.params());
        pop.push_izhikevich(IzhType::RS.params());
        let mut spec =
            NetworkSpec::new(0.5, pop, 2, Csr::from_rows(2, vec![vec![]; 2]).unwrap(), 1);
        spec.positions_um = Some(vec![[x + 10.0, y], [x + 100.0, y + 100.0]]);
        let mut net = Network::new(spec).unwrap();
        net.i_ext_mut().fill(10.0); // ~20 Hz (CORE_API)
        let mut mea = cl1_under(&net, sub).unwrap();
        let mut n0 = 0;
        mea.run(&mut net, 2000, |_, s| {
            n0 += s.iter().filter(|&&i| i == 0).count()
        });
        let m = mea_map(&mea);
        let cell = 2 * MEA_SIDE + 5;
        assert!(n0 > 5, "{n0}");
        assert_eq!(m.neurons[cell], 1);
        assert_eq!(
            m.neurons.iter().sum::<u32>(),
            1,
            "the far neuron is seen nowhere"
        );
        // 1 s recorded: the rate is the neuron's spike count.
        assert!(
            (m.rate_hz[cell] - n0 as f64).abs() < 1e-9,
            "{} vs {n0}",
            m.rate_hz[cell]
        );
        assert_eq!(m.max_rate_hz(), m.rate_hz[cell]);
        // The grounded corners do not record.
        assert!(m.rate_hz[0].is_nan() && m.rate_hz[63].is_nan());
    }
}
