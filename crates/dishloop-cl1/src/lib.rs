//! # dishloop-cl1 — a virtual Cortical Labs CL1
//!
//! Programs written for the CL1 talk to it over UDP; this crate makes dishloop a drop-in stand-in
//! for the device (reference: `shared/reference/cl1.md`).
//!
//! * [`wire`]: exact byte layouts of every packet of the two public client programs
//!   (diffusion-neuron's 64-channel video protocol; doom-neuron's stim / spike / feedback /
//!   event packets), BL-1's statistics packet, our own versioned action packet, and the vendor's
//!   spike-firehose example. Strict decoding with typed errors, encoding, hand-written golden
//!   bytes, property tests.
//! * A Rust device API shaped like the vendor's `cl` API (§3 of the reference): [`Device`]
//!   (`cl.open()` / `Neurons`), [`ChannelSet`], [`StimDesign`], [`BurstDesign`],
//!   [`Device::stim`], [`Device::interrupt`], [`Device::interrupt_then_stim`], [`Device::sync`],
//!   reusable [`StimPlan`]s, [`Device::loop_`] yielding [`Tick`]s with the previous tick's spikes
//!   and stims (and raw frames on request), [`Device::read`], timestamps in 25 kHz frames, and
//!   [`Cl1Error`]s for overruns and unsafe designs. The hardware envelope (|I| ≤ 3 µA, phases
//!   ≥ 20 µs in 20 µs steps, ≤ 3 nC per phase, bursts ≤ 200 Hz, the 59 stimulable channels) is
//!   checked in the API: outside it a call is refused with an error naming the limit, never
//!   clipped, so nothing outside it ever reaches a backend.
//! * [`server`]: the UDP servers of `dishloop serve-cl1`, built on that API the way the client
//!   programs' device-side scripts are built on the vendor's; [`client`]: the matching trainer
//!   sides; [`bench`](mod@bench): latency and accelerated-rate benchmarks. The servers stamp
//!   datagrams with the kernel's receive time and report the latency they add beyond the
//!   protocol's windows; [`server::stop_on_signals`] ends them cleanly on Ctrl-C / SIGTERM;
//!   [`server::CommonConfig::busy_poll`] spins instead of sleeping (a dedicated core); the doom
//!   server can also send BL-1's statistics packet ([`server::bl1_stats`]).
//!
//! ```
//! use dishloop_cl1::{Ablation, Backend, BurstDesign, ChannelSet, Clock, Device, DeviceOptions, StimDesign};
//! let backend = Backend::ablation(Ablation::Random { rate_hz: 5.0 }, 42).unwrap();
//! let mut dev = Device::open(backend, DeviceOptions { clock: Clock::Accelerated, ..Default::default() });
//! let pulse = StimDesign::cathodic_first(200, 2.0).unwrap(); // 200 µs at −2 µA, then +2 µA
//! let mut lp = dev.loop_(1000).unwrap();                      // 1 kHz: 25 frames per tick
//! let mut stims = 0;
//! for _ in 0..100 {
//!     let tick = lp.next_tick().unwrap().unwrap();            // previous tick's spikes/stims
//!     stims += tick.analysis.stims.len();
//!     if tick.iteration % 20 == 0 {
//!         let ch = ChannelSet::new([8u8, 9, 10]).unwrap();
//!         lp.device().stim(ch, pulse, BurstDesign::single()).unwrap();
//!     }
//! }
//! assert_eq!(stims, 5 * 3);
//! // Outside the envelope: refused, never clipped.
//! assert!(StimDesign::cathodic_first(200, 3.5).is_err());
//! assert!(lp.device().stim(ChannelSet::new([4u8]).unwrap(), pulse, BurstDesign::single()).is_err());
//! ```
//!
//! ## Backends
//!
//! A [`Device`] runs over a [`Backend`]: [`Backend::Zero`] and [`Backend::Random`] (the CL1-side
//! ablations of doom-neuron: no spikes; Poisson spikes at a fixed rate on the 59 recording
//! channels, seeded, independent of tick size) need no culture. [`Backend::Culture`] holds a
//! `Box<dyn` [`CultureBackend`]`>`: a simulated culture on an MEA. [`culture::MeaCulture`] is
//! that backend for a `dishloop-culture` network (any config, seeded) under the `dishloop-mea`
//! CL1 MEA, whose neurons really respond to stimulation (a pulse of 2.5 µA evokes ≈ 16 spikes per
//! stimulated channel within ~15 ms in `wagenaar_calibrated`; `examples/evoked_psth.rs`).
//!
//! ## Integrating the culture (what a [`CultureBackend`] must provide)
//!
//! One method does the work:
//!
//! ```text
//! fn advance(&mut self, window: FrameWindow, pulses: &[Pulse], spikes: &mut Vec<Spike>)
//!     -> Result<(), BackendError>;
//! ```
//!
//! * **Time.** `window = [start, stop)` in 25 kHz device frames (1 frame = 40 µs). Calls are
//!   contiguous — the first starts at frame 0, each next `start` is the previous `stop` — and of
//!   any length ≥ 1 frame (25 frames per tick at 1 kHz, 2 500 at 10 Hz, 1 at 25 kHz). The culture
//!   must simulate exactly this span of biological time; with a 0.5 ms step (12.5 frames) it may
//!   run ahead by up to one step, holding the spikes of the run-ahead part for the next call.
//! * **Stimulation in.** `pulses` are the pulses whose onset lies in the window, sorted by
//!   `start_us` (µs since device start, a multiple of 20 µs), each on a stimulable `channel`
//!   (CL1 numbering: channel = 8·column + row, column-major, 200 µm pitch) with an
//!   envelope-checked [`StimDesign`] (phases of `duration_us` at `current_ua`, cathodic
//!   negative). The backend injects the current of each phase into the neurons coupled to that
//!   electrode at the right simulation steps — i.e. "inject stimulation for the next N steps on
//!   these channels" — carrying any part of a pulse that extends past `stop` into the next call.
//! * **Spikes out.** Push every spike detected on an electrode as [`Spike`] `{ timestamp (frame),
//!   channel }` with `start <= timestamp < stop`, in ascending timestamp order (channel ≥ 64 or
//!   out-of-window spikes are dropped and counted in [`DeviceStats::spikes_dropped`]). Counts per
//!   channel for a window are then what the device's loop, and the servers' count windows, see.
//! * **Optional raw frames.** [`CultureBackend::raw_samples`] may fill int16 samples (0.195 µV
//!   per unit, 64 per frame, frame-major) for the same window when raw frames were asked for;
//!   returning `Ok(false)` lets the device synthesise them (noise, spike waveforms, artefacts).
//! * **describe()** names the culture for status lines.
//!
//! The device keeps the per-channel queues, bursts, interrupts and sync itself (as the CL1 does),
//! so a backend never sees a queued or cancelled pulse. [`culture::MeaCulture`] implements this
//! contract over `dishloop_mea::CultureOnMea::advance_frames` (pulses in, frame-stamped electrode
//! spikes out), mapping [`Pulse`] to the MEA's pulse (`electrode = channel`, same `start_us` and
//! phases); another simulator (or a replayed recording) only needs its own `advance`.
#![warn(missing_docs)]

pub mod backend;
pub mod bench;
pub mod channels;
pub mod client;
pub mod culture;
pub mod design;
pub mod device;
pub mod plan;
pub mod server;
pub mod wire;

pub use backend::{Ablation, Backend, BackendError, CultureBackend, FrameWindow, Pulse, Spike};
pub use channels::ChannelSet;
pub use design::{BurstDesign, EnvelopeError, Phase, StimDesign};
pub use device::{
    BurstOccupancy, Cl1Error, Clock, DetectionResult, Device, DeviceOptions, DeviceStats, Loop,
    LoopOptions, StimEvent, Tick, open,
};
pub use plan::StimPlan;
