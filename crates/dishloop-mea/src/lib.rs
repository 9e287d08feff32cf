//! # dishloop-mea
//!
//! A virtual multi-electrode array under a simulated culture.
//!
//! * **Layouts** ([`layout`]): the CL1's 8×8 MEA (200 µm pitch, vendor channel numbering, 59
//!   usable channels) and the MaxOne HD-MEA (26 400 electrodes at 17.5 µm, sparse routing of at
//!   most 1 024 recording and 32 stimulation electrodes). A layout is data (serde), so adding one
//!   never touches the simulator. Layouts are centred on the culture.
//! * **Stimulation designs** ([`design`]): mono/bi/triphasic current pulses and bursts, checked
//!   against the CL1 hardware envelope (|I| ≤ 3 µA, phases ≥ 20 µs in 20 µs steps, ≤ 3 nC per
//!   phase, bursts ≤ 200 Hz, stimulable channels only). A design outside it is refused with an
//!   error naming the limit; nothing is clipped.
//! * **Queues and plans** ([`schedule`]): per-electrode FIFO queues, synchronised multi-electrode
//!   stims, interrupt, sync, reusable all-or-nothing plans.
//! * **Stimulation physics** ([`stimulation`]): point-source field, current–distance relation
//!   `I_th = K r²`, sub-step pulses delivered as effective charge per 0.5 ms step (so
//!   charge-balanced biphasic pulses still excite), calibrated so that a 1–3 µA, 200 µs pulse
//!   fires the nearest neurons within a few ms.
//! * **Recording** ([`recording`]): spikes per electrode from neurons whose spike amplitude
//!   exceeds 5× the noise (≈ 95 µm), with sub-step timestamps; on-demand raw int16 samples at
//!   25 kHz with waveforms, noise and stimulation artefacts, and a kernel LFP ([`raw`]).
//! * **Device frames** ([`frames`]): a culture and its MEA advanced in 25 kHz frame windows with
//!   pulses in and frame-stamped spikes out — the shape a CL1 device backend needs.
//!
//! A CL1-style device backend wraps a [`CultureOnMea`]: per device window it converts its pulses
//! to [`Pulse`]s (channel → `electrode`, onset in device µs), calls
//! [`CultureOnMea::advance_frames`] and forwards the [`FrameSpike`]s; raw frames come from
//! [`CultureOnMea::raw_frames`]. Examples: `mea_cost` (the cost benchmark, see `BENCHMARKS.md`)
//! and `probe` (electrode-level statistics of a culture variant).
//!
//! Nothing at 25 kHz happens in the step loop: per step the MEA adds stimulation current to the
//! few coupled neurons (only while a pulse acts) and looks up the electrodes of each spiking
//! neuron. See `BENCHMARKS.md` for the measured cost.
//!
//! ```
//! use dishloop_core::{Csr, IzhType, Network, NetworkSpec, PopulationBuilder};
//! use dishloop_mea::{BurstDesign, Layout, Mea, MeaConfig, StimDesign};
//! // 9 resting neurons on a line through CL1 channel 27 (column 3, row 3).
//! let layout = Layout::cl1([1500.0, 1500.0]);
//! let c = layout.electrodes[27];
//! let pos: Vec<[f32; 2]> = (0..9).map(|i| [c.x_um + 40.0 * i as f32, c.y_um + 5.0]).collect();
//! let mut pop = PopulationBuilder::new();
//! for _ in 0..9 { pop.push_izhikevich(IzhType::RS.params()); }
//! let mut spec = NetworkSpec::new(0.5, pop, 9, Csr::from_rows(9, vec![vec![]; 9]).unwrap(), 1);
//! spec.positions_um = Some(pos);
//! let mut net = Network::new(spec).unwrap();
//! let mut mea = Mea::new(layout, &net, MeaConfig::default()).unwrap();
//! mea.stim(&[27], StimDesign::cathodic_first(200, 3.0).unwrap(), BurstDesign::single()).unwrap();
//! let mut fired = vec![false; 9];
//! mea.run(&mut net, 20, |_, s| s.iter().for_each(|&i| fired[i as usize] = true));
//! assert!(fired[0]);   // 5 µm from the electrode
//! assert!(!fired[8]);  // 320 µm away
//! assert!(mea.recording().counts[27] >= 1); // and channel 27 saw it
//! // Out of the envelope: refused, naming the limit.
//! let err = StimDesign::cathodic_first(200, 4.0).unwrap_err();
//! assert!(err.to_string().contains("3 µA"));
//! ```
#![warn(missing_docs)]

pub mod design;
pub mod frames;
pub mod layout;
mod mea;
pub mod raw;
pub mod recording;
pub mod schedule;
pub mod stimulation;

pub use design::{BurstDesign, EnvelopeError, Phase, StimDesign};
pub use frames::{CultureOnMea, FrameSpike};
pub use layout::{Electrode, Grid, GridOrder, Layout, LayoutError, Selection};
pub use mea::{Mea, MeaConfig};
pub use raw::{LfpModel, RawModel};
pub use recording::{DetectionModel, Recording};
pub use schedule::{Pulse, StimPlan, StimQueue};
pub use stimulation::StimModel;

/// Errors of the MEA.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeaError {
    /// A design, burst, channel or lead time outside the hardware envelope.
    #[error("unsafe stimulation refused: {0}")]
    Envelope(#[from] EnvelopeError),
    /// A bad layout or selection.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The network has no neuron positions.
    #[error("the network has no neuron positions (build it from a culture)")]
    NoPositions,
    /// The step is not a whole number of µs.
    #[error("dt_ms = {0} is not a whole number of µs ≥ 1")]
    Step(f32),
    /// Too many pulses waiting on one electrode.
    #[error("electrode {electrode} queue full: {queued} queued + {adding} new > limit {limit}")]
    QueueFull {
        /// The electrode.
        electrode: u32,
        /// Pulses already queued.
        queued: usize,
        /// Pulses the operation would add.
        adding: usize,
        /// The limit.
        limit: usize,
    },
    /// A plan was changed after its first run.
    #[error("stim plan is frozen after its first run")]
    PlanFrozen,
    /// A stim requested too far in the future.
    #[error("stim at {0} µs is too far ahead")]
    TooFarAhead(u64),
    /// An electrode index beyond the layout.
    #[error("electrode {0} does not exist")]
    NoSuchElectrode(u32),
    /// A window outside the recorded span.
    #[error("window {start_us}–{end_us} µs is not recorded (held: {first_us}–{now_us} µs)")]
    NotRecorded {
        /// Window start, µs.
        start_us: f64,
        /// Window end, µs.
        end_us: f64,
        /// First µs still held.
        first_us: f64,
        /// Simulated up to, µs.
        now_us: f64,
    },
    /// An output buffer of the wrong size.
    #[error("output buffer holds {got} samples, {expected} needed")]
    BufferSize {
        /// Needed.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// The LFP needs every neuron's spikes.
    #[error("the LFP needs the raster (MeaConfig::keep_raster)")]
    NeedsRaster,
    /// Frame windows must be contiguous.
    #[error("frame window {start}..{stop}: expected to start at {expected_start}")]
    Window {
        /// Where the window should start.
        expected_start: u64,
        /// Its start.
        start: u64,
        /// Its end.
        stop: u64,
    },
}
