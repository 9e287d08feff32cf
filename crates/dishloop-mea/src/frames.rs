//! A culture on an MEA driven in 25 kHz device frames — what a CL1-style device backend calls.
//!
//! The device hands over contiguous windows of frames (1 frame = 40 µs) and the pulses starting
//! in each; [`CultureOnMea::advance_frames`] delivers the pulses, simulates every step that
//! *starts* inside the window (a 0.5 ms step is 12.5 frames, so the simulation may run up to
//! one step ahead of the window), and returns the electrode spikes whose frame falls in the
//! window; spikes of the run-ahead part wait for the next window. Frame timestamps come from
//! the sub-step spike times ([`crate::Recording::spike_time_us`]). A pulse whose step has
//! already been simulated acts in the next step (at most 0.5 ms late). Raw frames are rendered
//! only when asked for ([`CultureOnMea::raw_frames`]).

use dishloop_core::Network;

use crate::MeaError;
use crate::mea::Mea;
use crate::schedule::Pulse;

/// An electrode spike with its device frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameSpike {
    /// Frame of the spike (25 kHz, from step 0).
    pub frame: u64,
    /// Electrode (channel).
    pub electrode: u32,
}

/// A network and the MEA under it, advanced in device frames.
pub struct CultureOnMea {
    /// The network.
    pub net: Network,
    /// The MEA.
    pub mea: Mea,
    /// Events older than this many steps behind the simulation are forgotten (memory bound).
    pub retain_steps: u64,
    frame_us: f64,
    frames_done: u64,
    /// Simulation frame of device frame 0.
    origin_frame: u64,
    carry: Vec<FrameSpike>,
}

impl std::fmt::Debug for CultureOnMea {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CultureOnMea")
            .field("neurons", &self.net.n())
            .field("mea", &self.mea)
            .field("frames_done", &self.frames_done)
            .finish()
    }
}

impl CultureOnMea {
    /// Couples `net` and `mea` (built on the same network); keeps 10 s of events by default.
    /// Device frame 0 is the network's current time; a network that was run before (warm-up)
    /// is first stepped to the next time that is a whole number of frames (at most one step).
    pub fn new(mut net: Network, mut mea: Mea) -> Self {
        let frame_us = mea.config().raw.frame_us();
        let retain_steps = (10_000.0 / mea.dt_ms() as f64) as u64;
        let dt_us = mea.dt_ms() as f64 * 1000.0;
        let mut guard = 0;
        while ((net.step_index() as f64 * dt_us) / frame_us).fract().abs() > 1e-9 && guard < 1000 {
            mea.step(&mut net);
            guard += 1;
        }
        let origin_frame = (net.step_index() as f64 * dt_us / frame_us).round() as u64;
        Self {
            net,
            mea,
            retain_steps,
            frame_us,
            frames_done: 0,
            origin_frame,
            carry: Vec::new(),
        }
    }

    /// Simulation frame (25 kHz frames since step 0) of device frame 0.
    pub fn origin_frame(&self) -> u64 {
        self.origin_frame
    }

    /// Frames per step (12.5 at 0.5 ms).
    pub fn frames_per_step(&self) -> f64 {
        self.mea.dt_ms() as f64 * 1000.0 / self.frame_us
    }

    /// Simulates the window `[start_frame, stop_frame)` of device frames (see module docs),
    /// delivering `pulses` (onsets in device µs, i.e. since device frame 0; all must start
    /// inside the window, on stimulable electrodes) and appending electrode spikes in ascending
    /// (frame, electrode) order to `out`.
    pub fn advance_frames(
        &mut self,
        start_frame: u64,
        stop_frame: u64,
        pulses: &[Pulse],
        out: &mut Vec<FrameSpike>,
    ) -> Result<(), MeaError> {
        if start_frame != self.frames_done || stop_frame < start_frame {
            return Err(MeaError::Window {
                expected_start: self.frames_done,
                start: start_frame,
                stop: stop_frame,
            });
        }
        let origin_us = (self.origin_frame as f64 * self.frame_us).round() as u64;
        for p in pulses {
            self.mea.deliver(Pulse {
                start_us: p.start_us + origin_us,
                ..*p
            })?;
        }
        let dt_us = self.mea.dt_ms() as f64 * 1000.0;
        let stop_us = (stop_frame + self.origin_frame) as f64 * self.frame_us;
        let first = out.len();
        let carry = std::mem::take(&mut self.carry);
        for c in carry {
            if c.frame < stop_frame {
                out.push(c);
            } else {
                self.carry.push(c);
            }
        }
        while (self.net.step_index() as f64) * dt_us < stop_us - 1e-9 {
            let k = self.net.step_index();
            self.mea.step(&mut self.net);
            let rec = self.mea.recording();
            for i in rec.electrode_range(k, k + 1) {
                let t = rec.spike_time_us(rec.e_steps[i], rec.e_neurons[i]);
                let sim_frame = (t / self.frame_us) as u64;
                let s = FrameSpike {
                    frame: sim_frame.saturating_sub(self.origin_frame).max(start_frame),
                    electrode: rec.e_electrodes[i],
                };
                if s.frame < stop_frame {
                    out.push(s);
                } else {
                    self.carry.push(s);
                }
            }
        }
        out[first..].sort_unstable();
        self.frames_done = stop_frame;
        let k = self.net.step_index();
        if k > 2 * self.retain_steps
            && k - self.mea.recording().first_step() > 2 * self.retain_steps
        {
            self.mea
                .recording_mut()
                .forget_before(k - self.retain_steps);
        }
        Ok(())
    }

    /// Raw int16 frames for `[start_frame, stop_frame)` on electrodes `0..n_channels`
    /// (frame-major, `out.len() == (stop − start)·n_channels`), rendered on demand from what was
    /// recorded. The window must have been simulated ([`CultureOnMea::advance_frames`]).
    pub fn raw_frames(
        &self,
        start_frame: u64,
        stop_frame: u64,
        n_channels: usize,
        out: &mut [i16],
    ) -> Result<(), MeaError> {
        let electrodes: Vec<u32> = (0..n_channels as u32).collect();
        let n = stop_frame.saturating_sub(start_frame) as usize;
        self.mea
            .raw_samples_into(&electrodes, start_frame + self.origin_frame, n, out)
    }

    /// Frames handed out so far.
    pub fn frames_done(&self) -> u64 {
        self.frames_done
    }
}
