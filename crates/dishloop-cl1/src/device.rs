//! The device: a `cl.Neurons`-shaped handle over a [`Backend`] (reference `cl1.md` §3.2–§3.5).
//!
//! Time is the device's frame counter at 25 kHz (one frame = 40 µs). With [`Clock::WallClock`] the
//! frame counter follows the wall clock from [`Device::open`] and loops sleep to their tick
//! boundaries; with [`Clock::Accelerated`] simulated time only advances when a loop or a read asks
//! for frames, as fast as the backend computes them.

use crate::backend::{Backend, BackendError, FrameWindow, Pulse, RawSynth, Spike};
use crate::channels::{CHANNEL_COUNT, ChannelOutOfRange, ChannelSet};
use crate::design::{BurstDesign, EnvelopeError, StimDesign};
use crate::plan::StimPlan;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Frames per second (vendor `get_frames_per_second()`).
pub const FRAMES_PER_SECOND: u64 = 25_000;
/// Frame duration, µs (vendor `get_frame_duration_us()`).
pub const FRAME_DURATION_US: u64 = 40;
/// µV per raw sample unit (vendor `uV_per_sample_unit`).
pub const UV_PER_SAMPLE_UNIT: f32 = 0.195;
/// Highest loop rate (vendor: ticks_per_second ≤ 25 000).
pub const MAX_TICKS_PER_SECOND: u32 = 25_000;
/// Longest a [`Loop::next_tick_interruptible`] wait goes without re-checking its stop flag.
pub const STOP_POLL: Duration = Duration::from_millis(50);
/// How much unread detection output the device keeps for a loop, frames (≈ 5 s, the vendor's
/// live read buffer).
pub const ANALYSIS_BUFFER_FRAMES: u64 = 5 * FRAMES_PER_SECOND;

/// How device time relates to the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Frames follow the wall clock; loops sleep to tick boundaries and report overruns.
    WallClock,
    /// Frames advance only on demand, as fast as the backend runs (training runs).
    Accelerated,
}

/// How long a burst keeps its channels busy for later stims (which queue behind it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurstOccupancy {
    /// Until the last pulse ends: `(count − 1)·interval + pulse duration`. Default.
    PulsesOnly,
    /// A whole period per pulse, `count·interval` — what the vendor simulator's scheduler
    /// appears to do (reference `cl1.md` §2.12, inferred), so a 1-pulse 4 Hz burst blocks its
    /// channel for 250 ms. Not the default: the real hardware's behaviour is unknown, and with it
    /// diffusion-neuron's 4 Hz neutral feedback (re-sent every ~62 ms) queues without bound.
    FullPeriod,
}

/// Options for [`Device::open`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceOptions {
    /// Wall-clock or accelerated time.
    pub clock: Clock,
    /// Raw frames to keep for [`Device::read`] of past frames (0: synthesise raw only on request).
    pub raw_history_frames: usize,
    /// Pulses that may wait in one channel's queue before stims are refused.
    pub max_queued_pulses_per_channel: usize,
    /// Burst occupancy model.
    pub burst_occupancy: BurstOccupancy,
    /// Seed of the synthetic raw signal.
    pub raw_seed: u64,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        Self {
            clock: Clock::WallClock,
            raw_history_frames: 0,
            max_queued_pulses_per_channel: 4096,
            burst_occupancy: BurstOccupancy::PulsesOnly,
            raw_seed: 0,
        }
    }
}

/// Errors of the device API (vendor `cl.error` equivalents noted per variant).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Cl1Error {
    /// A design, burst, channel or lead time outside the hardware envelope
    /// (vendor `UnsafeOperationError` / `ValueError`).
    #[error("unsafe stimulation refused: {0}")]
    Envelope(#[from] EnvelopeError),
    /// A channel id ≥ 64.
    #[error(transparent)]
    Channel(#[from] ChannelOutOfRange),
    /// Too many pulses waiting on one channel (vendor `ChannelQueueFull`).
    #[error("channel {channel} queue full: {queued} pulses queued + {adding} new > limit {limit}")]
    ChannelQueueFull {
        /// The channel.
        channel: u8,
        /// Pulses already queued.
        queued: usize,
        /// Pulses the operation would add.
        adding: u64,
        /// The limit.
        limit: usize,
    },
    /// The loop body ran past the tick (vendor `TimeoutError` from a jitter check).
    #[error(
        "loop overrun at iteration {iteration}: next tick requested {late_frames} frames \
         ({:.3} ms) after its data was complete (tolerance {tolerance_frames} frames)",
        *late_frames as f64 * 0.04
    )]
    LoopOverrun {
        /// Iteration that was late.
        iteration: u64,
        /// Lateness, frames.
        late_frames: u64,
        /// Allowed lateness, frames.
        tolerance_frames: u64,
    },
    /// ticks_per_second outside 1..=25 000.
    #[error("ticks_per_second {0} is outside 1..={MAX_TICKS_PER_SECOND}")]
    TickRate(u32),
    /// Past frames requested that are no longer (or were never) kept.
    #[error("frames from {from} requested, oldest kept frame is {oldest:?}")]
    History {
        /// Requested first frame.
        from: u64,
        /// Oldest kept frame, if any.
        oldest: Option<u64>,
    },
    /// A plan was changed after its first run (vendor: plans freeze on first run).
    #[error("stim plan is frozen after its first run")]
    PlanFrozen,
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// A delivered pulse as reported in a tick (vendor `Stim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StimEvent {
    /// Frame in which the pulse started.
    pub timestamp: u64,
    /// Channel.
    pub channel: u8,
}

/// Detection output for a span of frames (vendor `DetectionResult`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DetectionResult {
    /// First frame covered.
    pub start_timestamp: u64,
    /// One past the last frame covered.
    pub stop_timestamp: u64,
    /// Spikes detected, ascending timestamps.
    pub spikes: Vec<Spike>,
    /// Pulses delivered, ascending timestamps.
    pub stims: Vec<StimEvent>,
}

impl DetectionResult {
    /// Spikes per channel.
    pub fn spike_counts(&self) -> [u32; CHANNEL_COUNT] {
        let mut c = [0u32; CHANNEL_COUNT];
        for s in &self.spikes {
            c[s.channel as usize] += 1;
        }
        c
    }
}

/// One loop iteration (vendor `LoopTick`).
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// 0-based iteration.
    pub iteration: u64,
    /// = `analysis.stop_timestamp`.
    pub iteration_timestamp: u64,
    /// Timestamp at which the next tick's data is complete.
    pub iteration_next_timestamp: u64,
    /// Spikes and stims of the previous tick's frames.
    pub analysis: DetectionResult,
    /// Raw frames of the same span, `frames_per_tick × 64` int16 frame-major, when asked for.
    pub frames: Option<Vec<i16>>,
    /// How late the loop asked for this tick, frames (0 when on time; accelerated: always 0).
    pub late_frames: u64,
}

/// Counters kept by the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceStats {
    /// Frames simulated.
    pub frames_simulated: u64,
    /// Pulses handed to the backend.
    pub pulses_delivered: u64,
    /// Pulses cancelled by interrupts.
    pub pulses_interrupted: u64,
    /// Spikes the backend reported.
    pub spikes_detected: u64,
    /// Spikes dropped because the backend reported them outside the window or channel range.
    pub spikes_dropped: u64,
}

/// An open (simulated) CL1 (vendor `cl.Neurons`).
pub struct Device {
    backend: Backend,
    opts: DeviceOptions,
    origin: Instant,
    now_frame: u64,
    pub(crate) queues: Vec<VecDeque<Pulse>>,
    pub(crate) busy_until_us: [u64; CHANNEL_COUNT],
    spike_buf: VecDeque<Spike>,
    stim_buf: VecDeque<StimEvent>,
    raw: VecDeque<i16>,
    raw_first_frame: u64,
    raw_capacity_frames: usize,
    synth: RawSynth,
    scratch_pulses: Vec<Pulse>,
    scratch_spikes: Vec<Spike>,
    stats: DeviceStats,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("backend", &self.backend.describe())
            .field("clock", &self.opts.clock)
            .field("now_frame", &self.now_frame)
            .finish()
    }
}

/// Opens a device over `backend` (vendor `cl.open()`; there is no control to take).
pub fn open(backend: Backend, opts: DeviceOptions) -> Device {
    Device::open(backend, opts)
}

impl Device {
    /// Opens a device over `backend`. Frame 0 is now.
    pub fn open(backend: Backend, opts: DeviceOptions) -> Self {
        Self {
            backend,
            opts,
            origin: Instant::now(),
            now_frame: 0,
            queues: (0..CHANNEL_COUNT).map(|_| VecDeque::new()).collect(),
            busy_until_us: [0; CHANNEL_COUNT],
            spike_buf: VecDeque::new(),
            stim_buf: VecDeque::new(),
            raw: VecDeque::new(),
            raw_first_frame: 0,
            raw_capacity_frames: opts.raw_history_frames,
            synth: RawSynth::new(opts.raw_seed),
            scratch_pulses: Vec::new(),
            scratch_spikes: Vec::new(),
            stats: DeviceStats::default(),
        }
    }

    /// Always true: this is a simulated device (vendor `cl.is_simulator()`).
    pub fn is_simulator(&self) -> bool {
        true
    }

    /// 64 (vendor `get_channel_count()`).
    pub fn channel_count(&self) -> usize {
        CHANNEL_COUNT
    }

    /// 25 000 (vendor `get_frames_per_second()`).
    pub fn frames_per_second(&self) -> u64 {
        FRAMES_PER_SECOND
    }

    /// 40 (vendor `get_frame_duration_us()`).
    pub fn frame_duration_us(&self) -> u64 {
        FRAME_DURATION_US
    }

    /// The clock mode.
    pub fn clock(&self) -> Clock {
        self.opts.clock
    }

    /// The options the device was opened with.
    pub fn options(&self) -> &DeviceOptions {
        &self.opts
    }

    /// One line describing the backend.
    pub fn describe_backend(&self) -> String {
        self.backend.describe()
    }

    /// Counters.
    pub fn stats(&self) -> DeviceStats {
        self.stats
    }

    /// The current device frame (vendor `timestamp()`): wall-clock frames since open (or the
    /// simulated frame, if simulation is ahead); accelerated: the simulated frame.
    pub fn timestamp(&self) -> u64 {
        match self.opts.clock {
            Clock::WallClock => self.now_frame.max(self.wall_frame()),
            Clock::Accelerated => self.now_frame,
        }
    }

    /// Frames simulated so far (≤ [`Device::timestamp`] in wall-clock mode).
    pub fn simulated_frame(&self) -> u64 {
        self.now_frame
    }

    /// Wall-clock instant of `frame` (wall-clock mode only).
    pub fn frame_instant(&self, frame: u64) -> Option<Instant> {
        match self.opts.clock {
            Clock::WallClock => {
                Some(self.origin + Duration::from_micros(frame * FRAME_DURATION_US))
            }
            Clock::Accelerated => None,
        }
    }

    fn wall_frame(&self) -> u64 {
        (self.origin.elapsed().as_micros() / FRAME_DURATION_US as u128) as u64
    }

    /// Pulses waiting (not yet delivered) on `channel`.
    pub fn queued_pulses(&self, channel: u8) -> usize {
        self.queues.get(channel as usize).map_or(0, |q| q.len())
    }

    /// Stimulates `channels` with `design` in `burst`, lead time 80 µs (vendor `stim`). All
    /// channels start together once every one of them is free; checks the envelope first.
    pub fn stim(
        &mut self,
        channels: ChannelSet,
        design: StimDesign,
        burst: BurstDesign,
    ) -> Result<(), Cl1Error> {
        let mut p = StimPlan::new();
        p.stim(channels, design, burst)?;
        p.run(self, None)
    }

    /// [`Device::stim`] with an explicit lead time (≥ 80 µs, multiple of 20 µs).
    pub fn stim_with_lead(
        &mut self,
        channels: ChannelSet,
        design: StimDesign,
        burst: BurstDesign,
        lead_time_us: u32,
    ) -> Result<(), Cl1Error> {
        let mut p = StimPlan::new();
        p.stim_with_lead(channels, design, burst, lead_time_us)?;
        p.run(self, None)
    }

    /// Cancels running and queued pulses on `channels` (vendor `interrupt`). Pulses whose onset is
    /// already in the past (device time) are kept.
    pub fn interrupt(&mut self, channels: ChannelSet) -> Result<(), Cl1Error> {
        let mut p = StimPlan::new();
        p.interrupt(channels)?;
        p.run(self, None)
    }

    /// Interrupt then stim, as one operation (vendor `interrupt_then_stim`).
    pub fn interrupt_then_stim(
        &mut self,
        channels: ChannelSet,
        design: StimDesign,
        burst: BurstDesign,
    ) -> Result<(), Cl1Error> {
        let mut p = StimPlan::new();
        p.interrupt_then_stim(channels, design, burst)?;
        p.run(self, None)
    }

    /// Makes the next operations on `channels` start together after all pending ones finish
    /// (vendor `sync`).
    pub fn sync(&mut self, channels: ChannelSet) -> Result<(), Cl1Error> {
        let mut p = StimPlan::new();
        p.sync(channels)?;
        p.run(self, None)
    }

    /// A new, empty, reusable stim plan (vendor `create_stim_plan`).
    pub fn create_stim_plan(&self) -> StimPlan {
        StimPlan::new()
    }

    /// A closed loop at `ticks_per_second` (vendor `loop`; `loop` is a Rust keyword).
    #[doc(alias = "loop")]
    pub fn loop_(&mut self, ticks_per_second: u32) -> Result<Loop<'_>, Cl1Error> {
        self.loop_with(LoopOptions::new(ticks_per_second))
    }

    /// A closed loop with every vendor option.
    pub fn loop_with(&mut self, opts: LoopOptions) -> Result<Loop<'_>, Cl1Error> {
        if opts.ticks_per_second == 0 || opts.ticks_per_second > MAX_TICKS_PER_SECOND {
            return Err(Cl1Error::TickRate(opts.ticks_per_second));
        }
        let fpt = FRAMES_PER_SECOND / opts.ticks_per_second as u64;
        if opts.with_frames {
            self.ensure_raw_capacity(2 * fpt as usize);
        }
        // Catch the simulation up to "now" and drop what nobody will read.
        let start = self.timestamp();
        self.advance_to(start)?;
        self.discard_analysis_before(start);
        let stop_at_frame = opts
            .stop_after_seconds
            .map(|s| start + (s.max(0.0) * FRAMES_PER_SECOND as f64).round() as u64);
        Ok(Loop {
            dev: self,
            fpt,
            next_stop: start + fpt,
            iteration: 0,
            opts,
            stopped: false,
            overruns: 0,
            max_late_frames: 0,
            stop_at_frame,
        })
    }

    /// `frame_count` raw frames (int16, frame-major, 64 per frame) starting at `from_timestamp`
    /// (default: now), blocking in wall-clock mode until future frames exist (vendor `read`).
    /// Past frames need [`DeviceOptions::raw_history_frames`].
    pub fn read(
        &mut self,
        frame_count: usize,
        from_timestamp: Option<u64>,
    ) -> Result<Vec<i16>, Cl1Error> {
        let from = from_timestamp.unwrap_or_else(|| self.timestamp());
        let end = from + frame_count as u64;
        if end > self.now_frame {
            // Future frames: make sure they are kept as they are produced.
            if from >= self.now_frame {
                self.ensure_raw_capacity(frame_count + (from - self.now_frame) as usize);
            }
            self.advance_to(end)?;
            self.sleep_until_frame(end);
        }
        self.raw_slice(from, end)
    }

    /// Blocks (wall-clock mode) until device time reaches `frame`; no-op when accelerated.
    pub fn sleep_until_frame(&self, frame: u64) {
        if let Some(deadline) = self.frame_instant(frame) {
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
        }
    }

    fn ensure_raw_capacity(&mut self, frames: usize) {
        if frames > self.raw_capacity_frames {
            if self.raw_capacity_frames == 0 {
                // Nothing was kept so far: history starts at the simulated frame.
                self.raw.clear();
                self.raw_first_frame = self.now_frame;
            }
            self.raw_capacity_frames = frames;
        }
    }

    fn raw_slice(&self, from: u64, end: u64) -> Result<Vec<i16>, Cl1Error> {
        let kept = (self.raw.len() / CHANNEL_COUNT) as u64;
        if self.raw_capacity_frames == 0
            || from < self.raw_first_frame
            || end > self.raw_first_frame + kept
        {
            return Err(Cl1Error::History {
                from,
                oldest: (kept > 0).then_some(self.raw_first_frame),
            });
        }
        let a = (from - self.raw_first_frame) as usize * CHANNEL_COUNT;
        let b = (end - self.raw_first_frame) as usize * CHANNEL_COUNT;
        Ok(self.raw.range(a..b).copied().collect())
    }

    /// Simulates up to `stop` (exclusive), delivering due pulses. Detection output is buffered for
    /// loops; raw frames are kept when asked for.
    pub(crate) fn advance_to(&mut self, stop: u64) -> Result<(), Cl1Error> {
        if stop <= self.now_frame {
            return Ok(());
        }
        let window = FrameWindow {
            start: self.now_frame,
            stop,
        };
        let stop_us = window.stop_us();
        let mut pulses = std::mem::take(&mut self.scratch_pulses);
        pulses.clear();
        for q in &mut self.queues {
            while q.front().is_some_and(|p| p.start_us < stop_us) {
                if let Some(p) = q.pop_front() {
                    pulses.push(p);
                }
            }
        }
        // Pulses left over from a deferred past are delivered at the window start at the latest.
        for p in &mut pulses {
            if p.start_us < window.start_us() {
                p.start_us = window.start_us();
            }
        }
        pulses.sort_by_key(|p| (p.start_us, p.channel));
        let mut spikes = std::mem::take(&mut self.scratch_spikes);
        spikes.clear();
        let res = self.backend.advance(window, &pulses, &mut spikes);
        if let Err(e) = res {
            self.scratch_pulses = pulses;
            self.scratch_spikes = spikes;
            return Err(e.into());
        }
        let before = spikes.len();
        spikes.retain(|s| {
            s.timestamp >= window.start
                && s.timestamp < window.stop
                && (s.channel as usize) < CHANNEL_COUNT
        });
        self.stats.spikes_dropped += (before - spikes.len()) as u64;
        if !spikes.is_sorted() {
            spikes.sort_unstable();
        }
        self.stats.frames_simulated += window.len();
        self.stats.pulses_delivered += pulses.len() as u64;
        self.stats.spikes_detected += spikes.len() as u64;
        if self.raw_capacity_frames > 0 {
            let n = window.len() as usize * CHANNEL_COUNT;
            let mut out = vec![0i16; n];
            if !self.backend.raw_samples(window, &mut out)? {
                self.synth.fill(window, &spikes, &pulses, &mut out);
            }
            self.raw.extend(out);
            let max = self.raw_capacity_frames * CHANNEL_COUNT;
            while self.raw.len() > max {
                let drop = (self.raw.len() - max).div_ceil(CHANNEL_COUNT) * CHANNEL_COUNT;
                self.raw.drain(..drop);
                self.raw_first_frame += (drop / CHANNEL_COUNT) as u64;
            }
        }
        self.stim_buf.extend(pulses.iter().map(|p| StimEvent {
            timestamp: p.frame(),
            channel: p.channel,
        }));
        self.spike_buf.extend(spikes.iter().copied());
        self.now_frame = stop;
        // Bound the unread buffers (~5 s).
        let oldest = stop.saturating_sub(ANALYSIS_BUFFER_FRAMES);
        self.discard_analysis_before(oldest);
        self.scratch_pulses = pulses;
        self.scratch_spikes = spikes;
        Ok(())
    }

    fn discard_analysis_before(&mut self, frame: u64) {
        while self.spike_buf.front().is_some_and(|s| s.timestamp < frame) {
            self.spike_buf.pop_front();
        }
        while self.stim_buf.front().is_some_and(|s| s.timestamp < frame) {
            self.stim_buf.pop_front();
        }
    }

    fn take_analysis(&mut self, start: u64, stop: u64) -> DetectionResult {
        self.discard_analysis_before(start);
        let mut r = DetectionResult {
            start_timestamp: start,
            stop_timestamp: stop,
            spikes: Vec::new(),
            stims: Vec::new(),
        };
        while let Some(s) = self
            .spike_buf
            .front()
            .copied()
            .filter(|s| s.timestamp < stop)
        {
            r.spikes.push(s);
            self.spike_buf.pop_front();
        }
        while let Some(s) = self
            .stim_buf
            .front()
            .copied()
            .filter(|s| s.timestamp < stop)
        {
            r.stims.push(s);
            self.stim_buf.pop_front();
        }
        r
    }

    pub(crate) fn note_interrupted(&mut self, n: u64) {
        self.stats.pulses_interrupted += n;
    }
}

/// Options of [`Device::loop_with`] (vendor `loop(...)` keyword arguments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopOptions {
    /// Ticks per second, 1..=25 000; frames per tick = 25 000 / tps (integer division).
    pub ticks_per_second: u32,
    /// Stop after this many ticks.
    pub stop_after_ticks: Option<u64>,
    /// Stop after this much device time, s.
    pub stop_after_seconds: Option<f64>,
    /// Do not fail when the body overruns a tick; count it and catch up.
    pub ignore_jitter: bool,
    /// Lateness allowed before a tick counts as an overrun, frames.
    pub jitter_tolerance_frames: u64,
    /// Attach raw frames to every tick.
    pub with_frames: bool,
    /// Wall-clock mode: wait for each tick boundary by spinning (`std::hint::spin_loop`) instead
    /// of sleeping, which removes the OS wake-up latency at the cost of one busy core (not a
    /// vendor option; `serve-cl1 --busy-poll`).
    pub busy_wait: bool,
}

impl LoopOptions {
    /// Defaults for `tps` ticks per second: no stop, strict jitter, no raw frames.
    pub fn new(ticks_per_second: u32) -> Self {
        Self {
            ticks_per_second,
            stop_after_ticks: None,
            stop_after_seconds: None,
            ignore_jitter: false,
            jitter_tolerance_frames: 0,
            with_frames: false,
            busy_wait: false,
        }
    }
}

/// A running loop (vendor `Loop`). Get ticks with [`Loop::next_tick`]; reach the device in the
/// body through [`Loop::device`].
pub struct Loop<'d> {
    dev: &'d mut Device,
    fpt: u64,
    next_stop: u64,
    iteration: u64,
    opts: LoopOptions,
    stopped: bool,
    overruns: u64,
    max_late_frames: u64,
    stop_at_frame: Option<u64>,
}

impl Loop<'_> {
    /// The device, for stim/interrupt calls in the loop body.
    pub fn device(&mut self) -> &mut Device {
        self.dev
    }

    /// Frames per tick.
    pub fn frames_per_tick(&self) -> u64 {
        self.fpt
    }

    /// Ticks handed out so far.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// Ticks that were requested late (beyond the jitter tolerance).
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Largest lateness seen, frames.
    pub fn max_late_frames(&self) -> u64 {
        self.max_late_frames
    }

    /// Ends the loop: the next [`Loop::next_tick`] returns `None` (vendor `tick.loop.stop()`).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Frame at which the next tick's data is complete.
    pub fn next_tick_timestamp(&self) -> u64 {
        self.next_stop
    }

    /// Simulates the next tick's frames, waits (wall-clock mode) until they are "acquired", and
    /// returns the tick; `None` once stopped. In wall-clock mode a tick requested after its data
    /// was complete by more than the tolerance counts as an overrun, and without
    /// `ignore_jitter` is an error.
    pub fn next_tick(&mut self) -> Result<Option<Tick>, Cl1Error> {
        self.next_tick_inner(None)
    }

    /// [`Loop::next_tick`] whose wall-clock wait for the tick boundary re-checks `stop` at least
    /// every [`STOP_POLL`]; returns `None` (and stops the loop) once `stop` is raised, so a
    /// server at a slow tick rate still ends promptly on Ctrl-C.
    pub fn next_tick_interruptible(&mut self, stop: &AtomicBool) -> Result<Option<Tick>, Cl1Error> {
        self.next_tick_inner(Some(stop))
    }

    fn next_tick_inner(
        &mut self,
        stop_flag: Option<&AtomicBool>,
    ) -> Result<Option<Tick>, Cl1Error> {
        if self.stopped
            || self
                .opts
                .stop_after_ticks
                .is_some_and(|n| self.iteration >= n)
            || self.stop_at_frame.is_some_and(|f| self.next_stop > f)
        {
            self.stopped = true;
            return Ok(None);
        }
        let stop = self.next_stop;
        let start = stop - self.fpt;
        let mut late_frames = 0;
        if let Some(deadline) = self.dev.frame_instant(stop) {
            let now = Instant::now();
            if now > deadline {
                late_frames = ((now - deadline).as_micros() / FRAME_DURATION_US as u128) as u64;
            }
        }
        self.dev.advance_to(stop)?;
        if late_frames > self.opts.jitter_tolerance_frames {
            self.overruns += 1;
            self.max_late_frames = self.max_late_frames.max(late_frames);
            if !self.opts.ignore_jitter {
                self.stopped = true;
                return Err(Cl1Error::LoopOverrun {
                    iteration: self.iteration,
                    late_frames,
                    tolerance_frames: self.opts.jitter_tolerance_frames,
                });
            }
        }
        if !self.wait_for_frame(stop, stop_flag) {
            self.stopped = true;
            return Ok(None);
        }
        let analysis = self.dev.take_analysis(start, stop);
        let frames = if self.opts.with_frames {
            Some(self.dev.raw_slice(start, stop)?)
        } else {
            None
        };
        let tick = Tick {
            iteration: self.iteration,
            iteration_timestamp: stop,
            iteration_next_timestamp: stop + self.fpt,
            analysis,
            frames,
            late_frames,
        };
        self.iteration += 1;
        self.next_stop += self.fpt;
        Ok(Some(tick))
    }

    /// Waits (wall clock) until `frame` is due, sleeping or spinning per
    /// [`LoopOptions::busy_wait`]; `false` if `stop_flag` was raised first.
    fn wait_for_frame(&self, frame: u64, stop_flag: Option<&AtomicBool>) -> bool {
        let Some(deadline) = self.dev.frame_instant(frame) else {
            return true;
        };
        let raised = || stop_flag.is_some_and(|f| f.load(Ordering::Relaxed));
        let mut next_check = Instant::now();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            if now >= next_check {
                if raised() {
                    return false;
                }
                next_check = now + STOP_POLL;
            }
            if self.opts.busy_wait {
                std::hint::spin_loop();
            } else {
                std::thread::sleep((deadline - now).min(STOP_POLL));
            }
        }
    }

    /// Runs `body` on every tick until it returns [`std::ops::ControlFlow::Break`] or the loop
    /// stops (vendor `loop.run(callback)`).
    pub fn run<F>(&mut self, mut body: F) -> Result<(), Cl1Error>
    where
        F: FnMut(&Tick, &mut Device) -> Result<std::ops::ControlFlow<()>, Cl1Error>,
    {
        while let Some(tick) = self.next_tick()? {
            if body(&tick, self.dev)?.is_break() {
                self.stopped = true;
                break;
            }
        }
        Ok(())
    }
}
