//! diffusion-neuron's device script as a server (reference `cl1.md` §1.1).
//!
//! State machine on the device tick (default 1 kHz), one datagram read per tick while idle:
//! IDLE → (valid 520-byte packet: build one stim plan, a 200 µs −amp / 200 µs +amp pulse in a
//! 1-pulse burst at `freq` on every live channel with amp > 0 and freq > 0; run it) → ARTIFACT
//! (10 ticks, spikes discarded) → COLLECTING (50 ticks, every spike counts on its channel) →
//! SENDING (next tick: dead channels zeroed, one 264-byte reply to the sender's address and port,
//! or to `reply_host:spike_port`) → IDLE. One reply per packet, ≈ 61 ticks after pickup.
//!
//! Differences from the reference script, on purpose:
//! - NaN/∞ values and designs outside the hardware envelope (amp > 3 µA, freq > 200 Hz) would
//!   make the SDK raise inside the script; here the channel is skipped and counted, and the
//!   packet is still answered.
//! - Datagrams shorter than 520 bytes are ignored (as the script does) and counted; longer ones
//!   are truncated to 520 bytes and served (as the OS does to `recvfrom(520)`), or refused with
//!   `strict`.
//! - A 1-pulse burst occupies its channel only for the pulse, not for a whole period 1/f as the
//!   vendor simulator's scheduler appears to (reference §2.12, inferred): with that rule the
//!   trainer's 4 Hz neutral feedback, re-sent every ~62 ms, would queue without bound. Opt in
//!   with [`crate::BurstOccupancy::FullPeriod`] on the device.
//!
//! Kept as the device does it: values outside the client's protocol range (4–40 Hz,
//! 1.0–2.5 µA) but inside the hardware envelope are delivered (counted; refused with `strict`);
//! dead channels are skipped and reported as 0; there is no sequence number, so a client that
//! times out and retries may read a late reply as the answer to its next request.

use super::{
    CommonConfig, Datagram, PairVerdict, Pickup, Receivers, RunClock, RxInfo, ServerError,
    ServerSummary, Stats, StatusLine, StopReason, classify_pair, io_err, record_reply, resolve,
    summarize,
};
use crate::channels::{CHANNEL_COUNT, ChannelSet};
use crate::design::{BurstDesign, StimDesign};
use crate::device::{Clock, Device, LoopOptions};
use crate::plan::StimPlan;
use crate::wire::now_us;
use crate::wire::video::{self, VideoSpikes, VideoStim};
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Phase duration of the video device script's pulse, µs.
pub const PHASE_US: u32 = 200;

/// Video-protocol settings (flags of the device script `cl1_neural_interface.py`).
#[derive(Debug, Clone, PartialEq)]
pub struct VideoConfig {
    /// Bind address, runtime limit, status cadence, strictness.
    pub common: CommonConfig,
    /// Port the device listens on (default 12345).
    pub stim_port: u16,
    /// Port replies go to when `reply_host` is set (default 12346).
    pub spike_port: u16,
    /// Send every reply to `reply_host:spike_port` instead of the sender.
    pub reply_host: Option<String>,
    /// Device ticks per second (default 1000, at most 25 000).
    pub tick_rate_hz: u32,
    /// Ticks during which spikes are discarded after the stim (default 10).
    pub artifact_ticks: u32,
    /// Ticks during which spikes are counted (default 50).
    pub collect_ticks: u32,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            stim_port: 12345,
            spike_port: 12346,
            reply_host: None,
            tick_rate_hz: 1000,
            artifact_ticks: 10,
            collect_ticks: 50,
        }
    }
}

/// A bound video-protocol server.
#[derive(Debug)]
pub struct VideoServer {
    cfg: VideoConfig,
    sock: UdpSocket,
    reply_to: Option<SocketAddr>,
    /// Wall-clock instant of the loop's first tick boundary, set when `run` starts (the
    /// benchmark's client uses it to remove the pickup wait from its round trips).
    tick_grid: Arc<OnceLock<Instant>>,
}

struct Job {
    reply_to: SocketAddr,
    pickup: Pickup,
}

enum State {
    Idle,
    Artifact {
        left: u32,
        job: Job,
    },
    Collect {
        left: u32,
        job: Job,
        counts: [u32; CHANNEL_COUNT],
    },
    Send {
        job: Job,
        counts: [u32; CHANNEL_COUNT],
    },
}

impl VideoServer {
    /// Binds `host:stim_port` (port 0 picks a free port).
    pub fn bind(cfg: VideoConfig) -> Result<Self, ServerError> {
        if cfg.tick_rate_hz == 0 || cfg.tick_rate_hz > crate::device::MAX_TICKS_PER_SECOND {
            return Err(ServerError::Config(format!(
                "tick rate {} Hz is outside 1..=25000",
                cfg.tick_rate_hz
            )));
        }
        let addr = resolve(&cfg.common.host, cfg.stim_port)?;
        let sock = UdpSocket::bind(addr).map_err(io_err(format!("binding {addr}")))?;
        // Early, so the kernel's deferred switch-on is done before the first datagram.
        super::rx::enable_kernel_timestamps(&sock);
        let reply_to = match &cfg.reply_host {
            Some(h) => Some(resolve(h, cfg.spike_port)?),
            None => None,
        };
        Ok(Self {
            cfg,
            sock,
            reply_to,
            tick_grid: Arc::default(),
        })
    }

    /// The bound stim address.
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.sock
            .local_addr()
            .map_err(io_err("reading the bound address"))
    }

    /// Filled with the wall-clock instant of the device loop's first tick boundary once `run`
    /// has started (wall-clock mode); boundaries follow every `1 / tick_rate_hz`.
    pub(crate) fn tick_grid(&self) -> Arc<OnceLock<Instant>> {
        self.tick_grid.clone()
    }

    /// Serves until `stop` is raised or the runtime limit passes. Status lines go to
    /// `on_status`.
    pub fn run(
        self,
        dev: &mut Device,
        stop: &AtomicBool,
        on_status: &mut dyn FnMut(&StatusLine),
    ) -> Result<ServerSummary, ServerError> {
        let recv_sock = self
            .sock
            .try_clone()
            .map_err(io_err("cloning the stim socket"))?;
        let busy_poll = self.cfg.common.busy_poll;
        let mut receivers = Receivers::spawn(vec![recv_sock], busy_poll)?;
        let mut rx_info = RxInfo {
            kernel_timestamps: receivers.kernel_timestamps(),
            busy_poll,
            kernel_dropped: 0,
        };
        let send_sock = &self.sock;
        let accelerated = dev.clock() == Clock::Accelerated;
        let tps = self.cfg.tick_rate_hz;
        let mut clock = RunClock::new(&self.cfg.common)?;
        let mut stats = Stats::default();
        let mut queue: VecDeque<Datagram> = VecDeque::new();
        let mut state = State::Idle;
        let mut lp = dev.loop_with(LoopOptions {
            ignore_jitter: true,
            busy_wait: busy_poll,
            ..LoopOptions::new(tps)
        })?;
        let fpt = lp.frames_per_tick();
        let first_ts = lp.next_tick_timestamp();
        if let Some(first) = lp.device().frame_instant(first_ts) {
            let _ = self.tick_grid.set(first);
        }
        // Overruns: ticks asked for more than half a tick late.
        let tolerance = fpt / 2;
        // First tick boundary at which the device can take the next datagram (FIFO); a datagram
        // that arrived before the loop started waits for its first tick.
        let mut ready_ts = lp.next_tick_timestamp();
        let stop_reason = loop {
            if let Some(r) = clock.should_stop(stop) {
                break r;
            }
            clock.maybe_status("video", &stats, on_status);
            receivers.drain(|_, d| queue.push_back(d));
            if accelerated && matches!(state, State::Idle) && queue.is_empty() {
                // Simulated time only advances per packet.
                receivers.wait(clock.idle_wait(), |_, d| queue.push_back(d));
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
            let counted = tick
                .analysis
                .spikes
                .iter()
                .filter(|s| !video::is_dead(s.channel as usize))
                .count();
            stats.spikes += counted as u64;
            receivers.drain(|_, d| queue.push_back(d));
            let now_ts = tick.iteration_timestamp;
            state = match state {
                State::Idle => match queue.pop_front() {
                    Some(d) => {
                        stats.packets_in += 1;
                        let pickup = Pickup {
                            arrived: d.arrived,
                            kernel_stamped: d.kernel_stamped,
                            tick_ts: now_ts,
                            ready_ts,
                        };
                        // One read per tick: the next datagram waits at least a tick.
                        ready_ts = now_ts + fpt;
                        match self.pickup(&d, pickup, lp.device(), &mut stats)? {
                            Some(job) if self.cfg.artifact_ticks > 0 => State::Artifact {
                                left: self.cfg.artifact_ticks,
                                job,
                            },
                            Some(job) => self.collect_or_send(job),
                            None => State::Idle,
                        }
                    }
                    None => State::Idle,
                },
                State::Artifact { left, job } => {
                    if left > 1 {
                        State::Artifact {
                            left: left - 1,
                            job,
                        }
                    } else {
                        self.collect_or_send(job)
                    }
                }
                State::Collect {
                    left,
                    job,
                    mut counts,
                } => {
                    for s in &tick.analysis.spikes {
                        counts[s.channel as usize] += 1;
                    }
                    if left > 1 {
                        State::Collect {
                            left: left - 1,
                            job,
                            counts,
                        }
                    } else {
                        State::Send { job, counts }
                    }
                }
                State::Send { job, counts } => {
                    let mut reply = VideoSpikes {
                        timestamp_us: now_us(),
                        counts: [0.0; CHANNEL_COUNT],
                    };
                    for (ch, c) in counts.iter().enumerate() {
                        if !video::is_dead(ch) {
                            reply.counts[ch] = *c as f32;
                        }
                    }
                    match send_sock.send_to(&reply.encode(), job.reply_to) {
                        Ok(_) => stats.replies_out += 1,
                        Err(_) => stats.send_errors += 1,
                    }
                    let sent = Instant::now();
                    record_reply(
                        &mut stats,
                        lp.device(),
                        fpt,
                        job.pickup,
                        now_ts,
                        tick_at,
                        sent,
                    );
                    // The script reads the next datagram on the following tick.
                    ready_ts = now_ts + fpt;
                    State::Idle
                }
            };
        };
        // Anything still queued was received but never read by the device loop.
        rx_info.kernel_dropped = receivers.kernel_dropped();
        drop(receivers);
        Ok(summarize(
            "video",
            dev,
            tps,
            stop_reason,
            &clock,
            &stats,
            rx_info,
            None,
        ))
    }

    fn collect_or_send(&self, job: Job) -> State {
        if self.cfg.collect_ticks > 0 {
            State::Collect {
                left: self.cfg.collect_ticks,
                job,
                counts: [0; CHANNEL_COUNT],
            }
        } else {
            State::Send {
                job,
                counts: [0; CHANNEL_COUNT],
            }
        }
    }

    /// Reads one datagram as the device script does; `Some` when a reply is owed.
    fn pickup(
        &self,
        d: &Datagram,
        pickup: Pickup,
        dev: &mut Device,
        stats: &mut Stats,
    ) -> Result<Option<Job>, ServerError> {
        if d.bytes.len() < video::STIM_LEN {
            stats.reject("short");
            return Ok(None);
        }
        if d.bytes.len() > video::STIM_LEN {
            if self.cfg.common.strict {
                stats.reject("oversize");
                return Ok(None);
            }
            stats.oversize_truncated += 1;
        }
        let Ok(stim) = VideoStim::decode(&d.bytes[..video::STIM_LEN]) else {
            stats.reject("short");
            return Ok(None);
        };
        let range = (
            (video::MIN_FREQ_HZ, video::MAX_FREQ_HZ),
            (video::MIN_AMP_UA, video::MAX_AMP_UA),
        );
        let mut plan = StimPlan::new();
        for ch in 0..CHANNEL_COUNT {
            let (f, a) = (stim.freq_hz[ch], stim.amp_ua[ch]);
            if video::is_dead(ch) {
                if a > 0.0 && f > 0.0 {
                    stats.skip("dead_channel");
                }
                continue;
            }
            match classify_pair(f, a, range, self.cfg.common.strict, stats) {
                PairVerdict::Silent => continue,
                PairVerdict::Skip(r) => {
                    stats.skip(r);
                    continue;
                }
                PairVerdict::Deliver => {}
            }
            let (Ok(design), Ok(burst)) = (
                StimDesign::cathodic_first(PHASE_US, a),
                BurstDesign::new(1, f),
            ) else {
                stats.skip("outside_envelope");
                continue;
            };
            let set = ChannelSet::single(ch)?;
            if plan.stim(set, design, burst).is_err() {
                stats.skip("outside_envelope");
            }
        }
        if let Err(e) = plan.run(dev, None) {
            match e {
                crate::device::Cl1Error::ChannelQueueFull { .. } => stats.skip("queue_full"),
                other => return Err(other.into()),
            }
        }
        Ok(Some(Job {
            reply_to: self.reply_to.unwrap_or(d.from),
            pickup,
        }))
    }
}
