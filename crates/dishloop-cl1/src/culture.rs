//! The culture backend: a `dishloop-culture` network under a `dishloop-mea` CL1 MEA, driven in
//! device frames through [`dishloop_mea::CultureOnMea`] — the [`CultureBackend`] the crate docs
//! specify, so the servers talk to neurons that really respond to stimulation.

use crate::backend::{BackendError, CultureBackend, FrameWindow, Pulse, Spike};
use crate::channels::CHANNEL_COUNT;
use dishloop_mea::{CultureOnMea, FrameSpike, Layout, Mea, MeaConfig};

/// A simulated culture on the CL1's 8×8 MEA.
pub struct MeaCulture {
    inner: CultureOnMea,
    description: String,
    pulses: Vec<dishloop_mea::Pulse>,
    spikes: Vec<FrameSpike>,
}

impl std::fmt::Debug for MeaCulture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

fn err(e: impl std::fmt::Display) -> BackendError {
    BackendError(e.to_string())
}

impl MeaCulture {
    /// Builds `config` (an embedded name such as `wagenaar_calibrated`, or a YAML path) with
    /// `seed`, under a CL1 MEA centred on the substrate. `max_neurons` shrinks the culture to at
    /// most that many neurons keeping the density (the substrate shrinks by √ of the ratio).
    pub fn build(
        config: &str,
        seed: u64,
        max_neurons: Option<usize>,
    ) -> Result<Self, BackendError> {
        let mut cfg = dishloop_culture::load_config(config).map_err(err)?;
        if let Some(cap) = max_neurons {
            if cap == 0 {
                return Err(BackendError("max_neurons must be at least 1".into()));
            }
            cfg.cap_neurons(cap).map_err(err)?;
        }
        let net = dishloop_culture::Culture::network(&cfg, seed).map_err(err)?;
        let layout = Layout::cl1([0.0, 0.0]).centered_on_substrate(cfg.culture.substrate_um);
        let mea = Mea::new(layout, &net, MeaConfig::default()).map_err(err)?;
        let description = format!(
            "culture {config} (seed {seed}, {} neurons, {} synapses) on the CL1 MEA",
            net.n(),
            net.n_synapses()
        );
        Ok(Self::from_culture_on_mea(
            CultureOnMea::new(net, mea),
            description,
        ))
    }

    /// Wraps an already built culture and MEA.
    pub fn from_culture_on_mea(inner: CultureOnMea, description: String) -> Self {
        Self {
            inner,
            description,
            pulses: Vec::new(),
            spikes: Vec::new(),
        }
    }

    /// The culture and MEA.
    pub fn inner(&self) -> &CultureOnMea {
        &self.inner
    }
}

impl CultureBackend for MeaCulture {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn advance(
        &mut self,
        window: FrameWindow,
        pulses: &[Pulse],
        spikes: &mut Vec<Spike>,
    ) -> Result<(), BackendError> {
        self.pulses.clear();
        for p in pulses {
            let phases: Vec<dishloop_mea::Phase> = p
                .design
                .phases()
                .iter()
                .map(|ph| dishloop_mea::Phase {
                    duration_us: ph.duration_us,
                    current_ua: ph.current_ua,
                })
                .collect();
            // Both crates check the same CL1 envelope, so this cannot fail for a device pulse.
            let design = dishloop_mea::StimDesign::new(&phases).map_err(err)?;
            self.pulses.push(dishloop_mea::Pulse {
                electrode: p.channel as u32,
                start_us: p.start_us,
                design,
            });
        }
        self.spikes.clear();
        self.inner
            .advance_frames(window.start, window.stop, &self.pulses, &mut self.spikes)
            .map_err(err)?;
        spikes.extend(
            self.spikes
                .iter()
                .filter(|s| (s.electrode as usize) < CHANNEL_COUNT)
                .map(|s| Spike {
                    timestamp: s.frame,
                    channel: s.electrode as u8,
                }),
        );
        Ok(())
    }

    fn raw_samples(&mut self, window: FrameWindow, out: &mut [i16]) -> Result<bool, BackendError> {
        self.inner
            .raw_frames(window.start, window.stop, CHANNEL_COUNT, out)
            .map_err(err)?;
        Ok(true)
    }
}
