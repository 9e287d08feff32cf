//! doom-neuron's device script as a server (reference `cl1.md` §1.2, `bl1.md` §8).
//!
//! Every tick (default 10 Hz) reads at most one datagram from each of the stim (72 B), event
//! (≤ 4096 B) and feedback (120 B) sockets, in that order:
//! - **stim**: interrupt all 59 stimulable channels, then for each pair *i* with freq > 0 and
//!   amp > 0 stimulate **encoding channel *i*** (8, 9, 10, 17, 18, 25, 27, 28 — not the whole
//!   group) with a 120 µs −amp / 120 µs +amp pulse in a 1-pulse burst at `int(freq)` Hz; then arm
//!   a reply with `artifact_ticks = ceil(artifact_wait_s·Hz)` and
//!   `collect_ticks = max(1, ceil(collect_window_s·Hz))`. A new stim re-arms (an unsent reply is
//!   dropped and counted).
//! - **event**: `episode_end` is counted (its data kept), `training_complete` ends the run after
//!   this tick.
//! - **feedback**: type 0 interrupts the listed channels; otherwise, with channels, freq > 0 and
//!   amp > 0, one stim on the channel set with the same 120/120 µs design in a burst of `pulses`
//!   at `frequency` Hz. Because each stim packet interrupts all 59 channels, a feedback burst is
//!   cut off at the next stim tick — kept, as in the device code.
//! - Then, same tick, a pending reply counts down its artifact ticks, else adds this tick's
//!   spikes per channel group, else is sent (40 bytes to `training_host:spike_port`) and cleared.
//!
//! This follows the current device script (one reply per stim packet after the artifact and
//! collect windows), not the pre-2026-03-24 one that sent a spike packet every tick (which BL-1's
//! bridge emulates).
//!
//! Differences from the reference script, on purpose: NaN/∞ and out-of-envelope values (which
//! raise inside the SDK) are skipped and counted; feedback packets with a type outside {0,1,2}, a
//! channel id ≥ 64 (the script's `ChannelSet` would raise) or an unpredictable byte outside {0,1}
//! are rejected whole; a feedback burst touching a non-stimulable channel is refused (the vendor
//! simulator silently drops corners; real hardware is unknown); event datagrams must be exactly
//! 12 + N bytes of a JSON object. The `--spike-ablation random` script sleeps and replies with
//! Poisson counts; here the same counts come from the random backend through the same tick
//! machinery, so the mean is rate × collect ticks / tick rate × group size, equal to the
//! script's rate × max(collect window, 1 tick) × group size whenever the window is a whole
//! number of ticks (and at 10 Hz with the default 50 ms window).

use super::bl1_stats::StatsTracker;
use super::{
    CommonConfig, Datagram, DoomSummary, PairVerdict, Pickup, Receivers, RunClock, RxInfo,
    ServerError, ServerSummary, Stats, StatusLine, StopReason, classify_pair, io_err, record_reply,
    resolve, summarize, wire_reason,
};
use crate::channels::ChannelSet;
use crate::design::{BurstDesign, StimDesign};
use crate::device::{Cl1Error, Clock, Device, LoopOptions};
use crate::plan::StimPlan;
use crate::wire::doom::{
    self, DoomSpikes, DoomStim, EVENT_MAX_LEN, EventPacket, FEEDBACK_LEN, Feedback, FeedbackKind,
    GROUPS, STIM_LEN,
};
use crate::wire::now_us;
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Phase duration of the doom device script's pulse, µs (the trainer's config says 160 µs; the
/// device uses 120 µs).
pub const PHASE_US: u32 = 120;

/// Doom-protocol settings (flags of doom-neuron's `cl1_neural_interface.py`).
#[derive(Debug, Clone, PartialEq)]
pub struct DoomConfig {
    /// Bind address, runtime limit, status cadence, strictness.
    pub common: CommonConfig,
    /// Host the spike replies go to (required by the script).
    pub training_host: String,
    /// Stim port the device listens on (default 12345).
    pub stim_port: u16,
    /// Port on the training host that receives spikes (default 12346).
    pub spike_port: u16,
    /// Event port the device listens on (default 12347).
    pub event_port: u16,
    /// Feedback port the device listens on (default 12348).
    pub feedback_port: u16,
    /// Device ticks per second (script default 10).
    pub tick_rate_hz: u32,
    /// Artifact wait, ms (default 50).
    pub artifact_wait_ms: f64,
    /// Collect window, ms (default 50).
    pub collect_window_ms: f64,
    /// Also send BL-1's 356-byte statistics packet ([`crate::wire::bl1::StatsV1`]) to
    /// `training_host:stats_port` once per tick (BL-1 uses 12351; off by default, as upstream
    /// doom-neuron does not read it).
    pub stats_port: Option<u16>,
}

impl Default for DoomConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            training_host: "127.0.0.1".into(),
            stim_port: doom::STIM_PORT,
            spike_port: doom::SPIKE_PORT,
            event_port: doom::EVENT_PORT,
            feedback_port: doom::FEEDBACK_PORT,
            tick_rate_hz: 10,
            artifact_wait_ms: 50.0,
            collect_window_ms: 50.0,
            stats_port: None,
        }
    }
}

impl DoomConfig {
    /// `ceil(artifact_wait_s · Hz)`, computed in the script's order of operations.
    pub fn artifact_ticks(&self) -> u32 {
        ((self.artifact_wait_ms / 1000.0) * self.tick_rate_hz as f64)
            .ceil()
            .max(0.0) as u32
    }

    /// `max(1, ceil(collect_window_s · Hz))`.
    pub fn collect_ticks(&self) -> u32 {
        (((self.collect_window_ms / 1000.0) * self.tick_rate_hz as f64).ceil() as u32).max(1)
    }
}

/// A bound doom-protocol server.
#[derive(Debug)]
pub struct DoomServer {
    cfg: DoomConfig,
    stim: UdpSocket,
    event: UdpSocket,
    feedback: UdpSocket,
    send: UdpSocket,
    training: SocketAddr,
    stats_to: Option<SocketAddr>,
}

/// Local addresses of a bound [`DoomServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoomAddrs {
    /// Stim socket.
    pub stim: SocketAddr,
    /// Event socket.
    pub event: SocketAddr,
    /// Feedback socket.
    pub feedback: SocketAddr,
}

struct Pending {
    artifact_left: u32,
    collect_left: u32,
    counts: [u32; GROUPS],
    pickup: Pickup,
}

const STIM: usize = 0;
const EVENT: usize = 1;
const FEEDBACK: usize = 2;

impl DoomServer {
    /// Binds the three listening sockets (port 0 picks free ports) and an unbound send socket.
    pub fn bind(cfg: DoomConfig) -> Result<Self, ServerError> {
        if cfg.tick_rate_hz == 0 || cfg.tick_rate_hz > crate::device::MAX_TICKS_PER_SECOND {
            return Err(ServerError::Config(format!(
                "tick rate {} Hz is outside 1..=25000",
                cfg.tick_rate_hz
            )));
        }
        for (name, v) in [
            ("artifact wait", cfg.artifact_wait_ms),
            ("collect window", cfg.collect_window_ms),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ServerError::Config(format!("{name} {v} ms")));
            }
        }
        let bind = |port: u16| -> Result<UdpSocket, ServerError> {
            let addr = resolve(&cfg.common.host, port)?;
            let s = UdpSocket::bind(addr).map_err(io_err(format!("binding {addr}")))?;
            // Early, so the kernel's deferred switch-on is done before the first datagram.
            super::rx::enable_kernel_timestamps(&s);
            Ok(s)
        };
        let stim = bind(cfg.stim_port)?;
        let event = bind(cfg.event_port)?;
        let feedback = bind(cfg.feedback_port)?;
        let training = resolve(&cfg.training_host, cfg.spike_port)?;
        let stats_to = match cfg.stats_port {
            Some(p) => Some(resolve(&cfg.training_host, p)?),
            None => None,
        };
        let any: SocketAddr = if training.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let send = UdpSocket::bind(any).map_err(io_err("binding the send socket"))?;
        Ok(Self {
            cfg,
            stim,
            event,
            feedback,
            send,
            training,
            stats_to,
        })
    }

    /// The bound listening addresses.
    pub fn local_addrs(&self) -> Result<DoomAddrs, ServerError> {
        let a = |s: &UdpSocket| s.local_addr().map_err(io_err("reading a bound address"));
        Ok(DoomAddrs {
            stim: a(&self.stim)?,
            event: a(&self.event)?,
            feedback: a(&self.feedback)?,
        })
    }

    /// Serves until `training_complete`, `stop`, or the runtime limit.
    pub fn run(
        self,
        dev: &mut Device,
        stop: &AtomicBool,
        on_status: &mut dyn FnMut(&StatusLine),
    ) -> Result<ServerSummary, ServerError> {
        let clone = |s: &UdpSocket| s.try_clone().map_err(io_err("cloning a socket"));
        let busy_poll = self.cfg.common.busy_poll;
        let mut receivers = Receivers::spawn(
            vec![
                clone(&self.stim)?,
                clone(&self.event)?,
                clone(&self.feedback)?,
            ],
            busy_poll,
        )?;
        let mut rx_info = RxInfo {
            kernel_timestamps: receivers.kernel_timestamps(),
            busy_poll,
            kernel_dropped: 0,
        };
        let accelerated = dev.clock() == Clock::Accelerated;
        let tps = self.cfg.tick_rate_hz;
        let (artifact_ticks, collect_ticks) = (self.cfg.artifact_ticks(), self.cfg.collect_ticks());
        let mut clock = RunClock::new(&self.cfg.common)?;
        let mut stats = Stats::default();
        let mut doom = DoomSummary::default();
        let mut queues: [VecDeque<Datagram>; 3] = Default::default();
        let mut pending: Option<Pending> = None;
        let mut lp = dev.loop_with(LoopOptions {
            ignore_jitter: true,
            busy_wait: busy_poll,
            ..LoopOptions::new(tps)
        })?;
        let fpt = lp.frames_per_tick();
        let tolerance = fpt / 2;
        // First tick boundary at which the next stim datagram can be read (one per tick).
        // (A datagram that arrived before the loop started waits for its first tick.)
        let mut stim_ready_ts = lp.next_tick_timestamp();
        let mut tracker = self.stats_to.map(|_| StatsTracker::new(tps));
        let recording = ChannelSet::stimulable();
        let stop_reason = loop {
            if let Some(r) = clock.should_stop(stop) {
                break r;
            }
            clock.maybe_status("doom", &stats, on_status);
            receivers.drain(|i, d| queues[i].push_back(d));
            if accelerated && pending.is_none() && queues.iter().all(|q| q.is_empty()) {
                receivers.wait(clock.idle_wait(), |i, d| queues[i].push_back(d));
                continue;
            }
            let Some(tick) = lp.next_tick_interruptible(stop)? else {
                break StopReason::Stopped;
            };
            let tick_at = Instant::now();
            stats.ticks += 1;
            stats.sim_frames += lp.frames_per_tick();
            if tick.late_frames > tolerance {
                stats.overruns += 1;
            }
            stats.max_late_frames = stats.max_late_frames.max(tick.late_frames);
            stats.spikes += tick
                .analysis
                .spikes
                .iter()
                .filter(|s| recording.contains(s.channel as usize))
                .count() as u64;
            receivers.drain(|i, d| queues[i].push_back(d));
            let now_ts = tick.iteration_timestamp;
            let mut finished = false;
            if let Some(d) = queues[STIM].pop_front() {
                stats.packets_in += 1;
                let pickup = Pickup {
                    arrived: d.arrived,
                    kernel_stamped: d.kernel_stamped,
                    tick_ts: now_ts,
                    ready_ts: stim_ready_ts,
                };
                stim_ready_ts = now_ts + fpt;
                if let Some(amp_ua) = self.handle_stim(&d, lp.device(), &mut stats)? {
                    if let Some(t) = tracker.as_mut() {
                        t.note_stim(&amp_ua);
                    }
                    if pending.is_some() {
                        doom.replies_dropped_by_rearm += 1;
                    }
                    pending = Some(Pending {
                        artifact_left: artifact_ticks,
                        collect_left: collect_ticks,
                        counts: [0; GROUPS],
                        pickup,
                    });
                }
            }
            if let Some(d) = queues[EVENT].pop_front() {
                stats.packets_in += 1;
                finished = handle_event(&d, &mut stats, &mut doom);
            }
            if let Some(d) = queues[FEEDBACK].pop_front() {
                stats.packets_in += 1;
                self.handle_feedback(&d, lp.device(), &mut stats, &mut doom)?;
            }
            let mut send_now = false;
            if let Some(p) = pending.as_mut() {
                if p.artifact_left > 0 {
                    p.artifact_left -= 1;
                } else if p.collect_left > 0 {
                    for s in &tick.analysis.spikes {
                        if let Some(g) = doom::group_of(s.channel) {
                            p.counts[g] += 1;
                        }
                    }
                    p.collect_left -= 1;
                } else {
                    send_now = true;
                }
            }
            if send_now && let Some(p) = pending.take() {
                let reply = DoomSpikes {
                    timestamp_us: now_us(),
                    counts: p.counts.map(|c| c as f32),
                };
                match self.send.send_to(&reply.encode(), self.training) {
                    Ok(_) => stats.replies_out += 1,
                    Err(_) => stats.send_errors += 1,
                }
                let sent = Instant::now();
                record_reply(
                    &mut stats,
                    lp.device(),
                    fpt,
                    p.pickup,
                    now_ts,
                    tick_at,
                    sent,
                );
            }
            if let (Some(t), Some(to)) = (tracker.as_mut(), self.stats_to) {
                let packet = t.tick(tick.analysis.spikes.iter().map(|s| s.channel), now_us());
                match self.send.send_to(&packet.encode(), to) {
                    Ok(_) => doom.stats_packets += 1,
                    Err(_) => stats.send_errors += 1,
                }
            }
            if finished {
                break StopReason::TrainingComplete;
            }
        };
        rx_info.kernel_dropped = receivers.kernel_dropped();
        drop(receivers);
        Ok(summarize(
            "doom",
            dev,
            tps,
            stop_reason,
            &clock,
            &stats,
            rx_info,
            Some(doom),
        ))
    }

    /// Applies a stim datagram; the packet's amplitudes when a reply is armed.
    fn handle_stim(
        &self,
        d: &Datagram,
        dev: &mut Device,
        stats: &mut Stats,
    ) -> Result<Option<[f32; GROUPS]>, ServerError> {
        let Some(bytes) = fixed_size(d, STIM_LEN, self.cfg.common.strict, stats) else {
            return Ok(None);
        };
        let Ok(stim) = DoomStim::decode(bytes) else {
            stats.reject("short");
            return Ok(None);
        };
        let range = (
            (doom::MIN_FREQ_HZ, doom::MAX_FREQ_HZ),
            (doom::MIN_AMP_UA, doom::MAX_AMP_UA),
        );
        let mut plan = StimPlan::new();
        plan.interrupt(ChannelSet::stimulable())?;
        for (i, &ch) in doom::ENCODING_CHANNELS.iter().enumerate() {
            let (f, a) = (stim.freq_hz[i], stim.amp_ua[i]);
            match classify_pair(f, a, range, self.cfg.common.strict, stats) {
                PairVerdict::Silent => continue,
                PairVerdict::Skip(r) => {
                    stats.skip(r);
                    continue;
                }
                PairVerdict::Deliver => {}
            }
            // The script passes int(freq): 0 < freq < 1 becomes a 0 Hz burst, which the SDK refuses.
            let (Ok(design), Ok(burst)) = (
                StimDesign::cathodic_first(PHASE_US, a),
                BurstDesign::new(1, f.trunc()),
            ) else {
                stats.skip("outside_envelope");
                continue;
            };
            if plan.stim(ChannelSet::from(ch), design, burst).is_err() {
                stats.skip("outside_envelope");
            }
        }
        run_plan(&mut plan, dev, stats)?;
        Ok(Some(stim.amp_ua))
    }

    fn handle_feedback(
        &self,
        d: &Datagram,
        dev: &mut Device,
        stats: &mut Stats,
        doom: &mut DoomSummary,
    ) -> Result<(), ServerError> {
        let Some(bytes) = fixed_size(d, FEEDBACK_LEN, self.cfg.common.strict, stats) else {
            return Ok(());
        };
        let fb = match Feedback::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                stats.reject(wire_reason(&e));
                return Ok(());
            }
        };
        let channels = ChannelSet::try_from(&fb.channels[..])?;
        if fb.kind == FeedbackKind::Interrupt {
            dev.interrupt(channels)?;
            doom.feedback_interrupts += 1;
            return Ok(());
        }
        if channels.is_empty() {
            return Ok(());
        }
        let range = (
            (doom::MIN_FREQ_HZ, doom::MAX_FREQ_HZ),
            (doom::MIN_AMP_UA, doom::MAX_AMP_UA),
        );
        match classify_pair(
            fb.frequency_hz as f32,
            fb.amplitude_ua,
            range,
            self.cfg.common.strict,
            stats,
        ) {
            PairVerdict::Silent => return Ok(()),
            PairVerdict::Skip(r) => {
                stats.skip(r);
                return Ok(());
            }
            PairVerdict::Deliver => {}
        }
        let (Ok(design), Ok(burst)) = (
            StimDesign::cathodic_first(PHASE_US, fb.amplitude_ua),
            BurstDesign::new(fb.pulses, fb.frequency_hz as f32),
        ) else {
            stats.skip("outside_envelope");
            return Ok(());
        };
        let mut plan = StimPlan::new();
        if plan.stim(channels, design, burst).is_err() {
            stats.skip("outside_envelope");
            return Ok(());
        }
        if run_plan(&mut plan, dev, stats)? {
            doom.feedback_stims += 1;
        }
        Ok(())
    }
}

/// Runs a plan; a full channel queue is counted, not fatal. `true` when applied.
fn run_plan(plan: &mut StimPlan, dev: &mut Device, stats: &mut Stats) -> Result<bool, ServerError> {
    match plan.run(dev, None) {
        Ok(()) => Ok(true),
        Err(Cl1Error::ChannelQueueFull { .. }) => {
            stats.skip("queue_full");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// The script's fixed-size `recvfrom(n)`: shorter datagrams are ignored, longer ones truncated by
/// the OS (refused with `strict`).
fn fixed_size<'a>(
    d: &'a Datagram,
    len: usize,
    strict: bool,
    stats: &mut Stats,
) -> Option<&'a [u8]> {
    if d.bytes.len() < len {
        stats.reject("short");
        return None;
    }
    if d.bytes.len() > len {
        if strict {
            stats.reject("oversize");
            return None;
        }
        stats.oversize_truncated += 1;
    }
    Some(&d.bytes[..len])
}

/// Handles an event datagram; `true` on `training_complete`.
fn handle_event(d: &Datagram, stats: &mut Stats, doom: &mut DoomSummary) -> bool {
    // The script reads at most 4096 bytes.
    let bytes = &d.bytes[..d.bytes.len().min(EVENT_MAX_LEN)];
    let body = match EventPacket::decode(bytes).and_then(|p| p.body()) {
        Ok(b) => b,
        Err(e) => {
            stats.reject(wire_reason(&e));
            return false;
        }
    };
    let key = match body.event_type.as_str() {
        "episode_end" | "training_complete" => body.event_type.clone(),
        _ => "other".to_owned(),
    };
    *doom.events.entry(key).or_default() += 1;
    match body.event_type.as_str() {
        "episode_end" => {
            doom.last_episode = Some(body.data);
            false
        }
        "training_complete" => true,
        _ => false,
    }
}
