//! The virtual CL1's UDP servers, built on the [`crate::Device`] API the way the client programs'
//! device-side scripts are built on the vendor's `cl` API.
//!
//! - [`video::VideoServer`]: diffusion-neuron's 64-channel protocol (reference `cl1.md` §1.1).
//! - [`doom::DoomServer`]: doom-neuron's 8-group protocol with feedback and events (§1.2).
//!
//! Each listening socket has a receiver thread that hands datagrams, stamped with the time they
//! reached the host (kernel `SO_TIMESTAMPNS` on Linux), to the device loop through a bounded
//! queue; with [`CommonConfig::busy_poll`] the loop instead spins to each tick boundary and reads
//! the non-blocking sockets itself. The loop takes at most one datagram per socket per tick, as
//! the device scripts' non-blocking reads do, so packets that arrive while a reply is pending
//! wait (FIFO) exactly as they would in the kernel buffer.
//!
//! **Reported latency** ([`ServerSummary::latency_p50_ms`]): from the datagram's arrival at the
//! host to its reply having been handed to the kernel (`sendto` returned), minus the protocol's
//! own windows: the wait for the first tick boundary at or after the arrival (the device reads
//! its sockets once per tick), the wait behind earlier packets (FIFO) or for the loop's first
//! tick (a datagram sent before the server started), and the protocol's ticks
//! from pickup to reply. What remains is what the server adds: late wake-ups (of the receiver
//! thread, which can make a packet miss its pickup tick, and of the loop at the reply's tick),
//! simulation that overran its tick, and the loop's own work. With `--accelerated` the windows
//! take no wall time and the latency is arrival → send.
//!
//! [`stop_on_signals`] turns SIGINT/SIGTERM into the stop flag the servers poll (at least every
//! [`crate::device::STOP_POLL`]), so `serve-cl1` ends cleanly and prints its summary.

pub mod bl1_stats;
pub mod doom;
mod rx;
pub mod video;

pub(crate) use rx::Receivers;

use crate::device::{Clock, Device};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Errors that stop a server (bad input never does: it is counted and dropped).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Socket setup or I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The device failed (backend error or a loop misconfiguration).
    #[error(transparent)]
    Device(#[from] crate::device::Cl1Error),
}

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

impl From<crate::channels::ChannelOutOfRange> for ServerError {
    fn from(e: crate::channels::ChannelOutOfRange) -> Self {
        ServerError::Device(e.into())
    }
}

/// Resolves `host:port` to one socket address.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, ServerError> {
    (host, port)
        .to_socket_addrs()
        .map_err(io_err(format!("resolving {host}:{port}")))?
        .next()
        .ok_or_else(|| ServerError::Config(format!("{host}:{port} resolves to no address")))
}

/// Settings shared by both protocols.
#[derive(Debug, Clone, PartialEq)]
pub struct CommonConfig {
    /// Address to bind the listening sockets to (default 127.0.0.1).
    pub host: String,
    /// End the run cleanly after this many wall-clock seconds.
    pub max_runtime_s: Option<f64>,
    /// Seconds between status lines (0: none).
    pub status_every_s: f64,
    /// Also refuse what the real device would accept: datagrams longer than the packet
    /// (the OS would truncate them) and values outside the client programs' protocol ranges.
    pub strict: bool,
    /// Spin instead of sleeping: the loop busy-waits for each tick boundary
    /// (`std::hint::spin_loop`) and then reads its non-blocking sockets itself, so no OS wake-up
    /// delays a reply. Costs one core at 100 % for the whole run (wall-clock mode; an idle
    /// accelerated server spins too); meant for a dedicated core.
    pub busy_poll: bool,
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            max_runtime_s: None,
            status_every_s: 10.0,
            strict: false,
            busy_poll: false,
        }
    }
}

/// A received datagram.
#[derive(Debug, Clone)]
pub(crate) struct Datagram {
    pub bytes: Vec<u8>,
    pub from: SocketAddr,
    /// When the datagram reached the host (kernel timestamp) or, failing that, when `recv`
    /// returned it.
    pub arrived: Instant,
    /// `arrived` is a kernel timestamp.
    pub kernel_stamped: bool,
    /// The socket's cumulative count of datagrams the kernel dropped for a full buffer, as
    /// reported with this one (Linux `SO_RXQ_OVFL`).
    pub kernel_drops: Option<u32>,
}

/// Latency samples, ms (the first million are kept).
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples(Vec<f64>);

impl Samples {
    const CAP: usize = 1 << 20;
    pub fn push(&mut self, ms: f64) {
        if self.0.len() < Self::CAP {
            self.0.push(ms);
        }
    }
    /// Percentiles (nearest rank) of the samples, `None` if empty.
    pub fn percentiles(&self, ps: &[f64]) -> Option<Vec<f64>> {
        if self.0.is_empty() {
            return None;
        }
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        Some(
            ps.iter()
                .map(|p| {
                    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
                    v[rank.clamp(1, v.len()) - 1]
                })
                .collect(),
        )
    }
}

/// Counters and timing shared by both servers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    pub packets_in: u64,
    pub replies_out: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    pub oversize_truncated: u64,
    pub skipped: BTreeMap<&'static str, u64>,
    pub out_of_protocol_range: u64,
    pub ticks: u64,
    pub overruns: u64,
    pub max_late_frames: u64,
    pub spikes: u64,
    pub sim_frames: u64,
    pub latency_ms: Samples,
    pub arrival_to_reply_ms: Samples,
    pub kernel_stamped: u64,
    pub overhead_ms: Samples,
    pub processing_ms: Samples,
    pub send_errors: u64,
}

impl Stats {
    pub fn reject(&mut self, reason: &'static str) {
        *self.rejected.entry(reason).or_default() += 1;
    }
    pub fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// One status line's numbers (printed every `status_every_s`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    /// Protocol name.
    pub protocol: &'static str,
    /// Wall seconds since start.
    pub wall_s: f64,
    /// Simulated seconds since start.
    pub sim_s: f64,
    /// Datagrams received so far.
    pub packets_in: u64,
    /// Replies sent so far.
    pub replies_out: u64,
    /// Datagrams rejected so far, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Channel stimulations skipped so far, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Ticks requested late so far.
    pub tick_overruns: u64,
    /// Mean spike rate per recording channel since the previous status line, Hz.
    pub mean_rate_hz: f64,
    /// Median reply latency so far, ms.
    pub latency_p50_ms: Option<f64>,
}

impl std::fmt::Display for StatusLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[serve-cl1 {}] t={:.1}s sim={:.1}s in={} out={} rejected={}",
            self.protocol,
            self.wall_s,
            self.sim_s,
            self.packets_in,
            self.replies_out,
            self.rejected.values().sum::<u64>()
        )?;
        if !self.rejected.is_empty() {
            write!(f, " {:?}", self.rejected)?;
        }
        if !self.skipped.is_empty() {
            write!(f, " skipped={:?}", self.skipped)?;
        }
        write!(
            f,
            " overruns={} rate={:.2}Hz/ch",
            self.tick_overruns, self.mean_rate_hz
        )?;
        if let Some(l) = self.latency_p50_ms {
            write!(f, " latency_p50={l:.2}ms")?;
        }
        Ok(())
    }
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `--max-runtime-s` elapsed.
    MaxRuntime,
    /// The stop flag was raised (Ctrl-C, a test).
    Stopped,
    /// doom: a `training_complete` event arrived.
    TrainingComplete,
}

/// Doom-only counters in the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DoomSummary {
    /// Stim packets answered by a later stim before their reply left (re-arm).
    pub replies_dropped_by_rearm: u64,
    /// Feedback bursts started.
    pub feedback_stims: u64,
    /// Feedback interrupts applied.
    pub feedback_interrupts: u64,
    /// Event packets by `event_type` (unknown types as "other").
    pub events: BTreeMap<String, u64>,
    /// The last `episode_end` event's data.
    pub last_episode: Option<serde_json::Value>,
    /// BL-1 statistics packets sent (`stats_port`).
    pub stats_packets: u64,
}

/// What a run did; `--json` prints this as the last line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerSummary {
    /// "video" or "doom".
    pub protocol: &'static str,
    /// Backend description.
    pub backend: String,
    /// True when simulated time ran as fast as possible.
    pub accelerated: bool,
    /// Device ticks per second.
    pub tick_rate_hz: u32,
    /// Why the run ended.
    pub stop_reason: StopReason,
    /// Wall-clock duration, s.
    pub wall_s: f64,
    /// Simulated duration, s.
    pub sim_s: f64,
    /// Datagrams received on all listening sockets.
    pub packets_in: u64,
    /// Datagrams the kernel dropped because a socket's receive buffer was full (Linux
    /// `SO_RXQ_OVFL`, counted up to the last datagram read; 0 elsewhere).
    pub dropped_by_kernel: u64,
    /// Spike replies sent.
    pub replies_out: u64,
    /// Datagrams dropped without effect.
    pub rejected: u64,
    /// `rejected` by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Datagrams longer than the packet, truncated to it and served (the OS does this to the
    /// device's fixed-size reads); refused instead with `strict`.
    pub oversize_truncated: u64,
    /// Per-channel stimulations not delivered, by reason.
    pub channels_skipped: BTreeMap<String, u64>,
    /// Channel values outside the client programs' protocol range (delivered unless `strict`,
    /// as the device does no range validation).
    pub channels_out_of_protocol_range: u64,
    /// Device ticks run.
    pub ticks: u64,
    /// Ticks requested more than half a tick late.
    pub tick_overruns: u64,
    /// Largest lateness of a tick, ms.
    pub max_late_ms: f64,
    /// Pulses delivered to the backend.
    pub pulses_delivered: u64,
    /// Spikes on recording channels.
    pub spikes: u64,
    /// Mean spike rate per recording channel over simulated time, Hz.
    pub mean_rate_hz: f64,
    /// Median latency the server adds, ms: from a stim datagram's arrival at the host to its
    /// reply having been handed to the kernel, minus the protocol's own windows (the wait for
    /// the next tick read, FIFO wait behind earlier packets, the protocol's ticks to the reply);
    /// accelerated: arrival → send. See the module docs.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub latency_p99_ms: Option<f64>,
    /// Largest of the same, ms.
    pub latency_max_ms: Option<f64>,
    /// Median time from a stim datagram's arrival to its reply leaving, windows included, ms.
    pub arrival_to_reply_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub arrival_to_reply_p99_ms: Option<f64>,
    /// Where arrival times come from: "kernel" (`SO_TIMESTAMPNS`) or "user" (when `recv`
    /// returned).
    pub rx_timestamps: &'static str,
    /// Replies whose stim datagram carried a kernel timestamp.
    pub replies_kernel_stamped: u64,
    /// The loop busy-waited and polled its sockets (`--busy-poll`).
    pub busy_poll: bool,
    /// Median time from the tick boundary at which the reply is due to the reply leaving, ms —
    /// the server's cost beyond the protocol's own windows (wall-clock mode only).
    pub overhead_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub overhead_p99_ms: Option<f64>,
    /// Median of the server's own work for a reply: from the device tick being handed to the
    /// loop to the reply leaving (the overhead minus the OS's wake-up lateness), ms.
    pub processing_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub processing_p99_ms: Option<f64>,
    /// Replies per wall-clock second.
    pub replies_per_s: f64,
    /// Replies that could not be sent (OS error).
    pub send_errors: u64,
    /// doom-only counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doom: Option<DoomSummary>,
}

/// Loop bookkeeping shared by both servers: runtime limit, stop flag, status lines.
pub(crate) struct RunClock {
    pub started: Instant,
    pub max_runtime: Option<Duration>,
    next_status: Option<Instant>,
    status_every: Option<Duration>,
    last_status_spikes: u64,
    last_status_frames: u64,
}

impl RunClock {
    pub fn new(common: &CommonConfig) -> Result<Self, ServerError> {
        let max_runtime = match common.max_runtime_s {
            Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
            Some(s) => return Err(ServerError::Config(format!("max runtime {s} s"))),
            None => None,
        };
        let status_every = (common.status_every_s.is_finite() && common.status_every_s > 0.0)
            .then(|| Duration::from_secs_f64(common.status_every_s));
        let started = Instant::now();
        Ok(Self {
            started,
            max_runtime,
            next_status: status_every.map(|d| started + d),
            status_every,
            last_status_spikes: 0,
            last_status_frames: 0,
        })
    }

    /// `Some(reason)` when the run must end now.
    pub fn should_stop(&self, stop: &AtomicBool) -> Option<StopReason> {
        if stop.load(Ordering::Relaxed) {
            return Some(StopReason::Stopped);
        }
        if self
            .max_runtime
            .is_some_and(|m| self.started.elapsed() >= m)
        {
            return Some(StopReason::MaxRuntime);
        }
        None
    }

    /// How long an idle accelerated loop may block before re-checking.
    pub fn idle_wait(&self) -> Duration {
        let cap = Duration::from_millis(20);
        match self.max_runtime {
            Some(m) => m.saturating_sub(self.started.elapsed()).min(cap),
            None => cap,
        }
    }

    pub fn maybe_status(
        &mut self,
        protocol: &'static str,
        stats: &Stats,
        on_status: &mut dyn FnMut(&StatusLine),
    ) {
        let (Some(next), Some(every)) = (self.next_status, self.status_every) else {
            return;
        };
        if Instant::now() < next {
            return;
        }
        self.next_status = Some(next + every);
        let frames = stats.sim_frames - self.last_status_frames;
        let spikes = stats.spikes - self.last_status_spikes;
        self.last_status_frames = stats.sim_frames;
        self.last_status_spikes = stats.spikes;
        on_status(&StatusLine {
            protocol,
            wall_s: self.started.elapsed().as_secs_f64(),
            sim_s: stats.sim_frames as f64 / crate::device::FRAMES_PER_SECOND as f64,
            packets_in: stats.packets_in,
            replies_out: stats.replies_out,
            rejected: stats
                .rejected
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            skipped: stats
                .skipped
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            tick_overruns: stats.overruns,
            mean_rate_hz: rate_hz(spikes, frames),
            latency_p50_ms: stats.latency_ms.percentiles(&[50.0]).map(|v| v[0]),
        });
    }
}

/// Spikes per recording channel per simulated second.
fn rate_hz(spikes: u64, frames: u64) -> f64 {
    if frames == 0 {
        return 0.0;
    }
    let s = frames as f64 / crate::device::FRAMES_PER_SECOND as f64;
    spikes as f64 / s / crate::channels::STIMULABLE_COUNT as f64
}

/// How a run received its datagrams, for the summary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RxInfo {
    pub kernel_timestamps: bool,
    pub busy_poll: bool,
    /// Datagrams the kernel dropped before the server could read them.
    pub kernel_dropped: u64,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn summarize(
    protocol: &'static str,
    dev: &Device,
    tick_rate_hz: u32,
    stop_reason: StopReason,
    clock: &RunClock,
    stats: &Stats,
    rx: RxInfo,
    doom: Option<DoomSummary>,
) -> ServerSummary {
    let wall_s = clock.started.elapsed().as_secs_f64();
    let lat = stats.latency_ms.percentiles(&[50.0, 99.0, 100.0]);
    let total = stats.arrival_to_reply_ms.percentiles(&[50.0, 99.0]);
    let over = stats.overhead_ms.percentiles(&[50.0, 99.0]);
    let proc_ = stats.processing_ms.percentiles(&[50.0, 99.0]);
    ServerSummary {
        protocol,
        backend: dev.describe_backend(),
        accelerated: dev.clock() == Clock::Accelerated,
        tick_rate_hz,
        stop_reason,
        wall_s,
        sim_s: stats.sim_frames as f64 / crate::device::FRAMES_PER_SECOND as f64,
        packets_in: stats.packets_in,
        dropped_by_kernel: rx.kernel_dropped,
        replies_out: stats.replies_out,
        rejected: stats.rejected_total(),
        rejected_by_reason: stats
            .rejected
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        oversize_truncated: stats.oversize_truncated,
        channels_skipped: stats
            .skipped
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        channels_out_of_protocol_range: stats.out_of_protocol_range,
        ticks: stats.ticks,
        tick_overruns: stats.overruns,
        max_late_ms: stats.max_late_frames as f64 * 0.04,
        pulses_delivered: dev.stats().pulses_delivered,
        spikes: stats.spikes,
        mean_rate_hz: rate_hz(stats.spikes, stats.sim_frames),
        latency_p50_ms: lat.as_ref().map(|v| v[0]),
        latency_p99_ms: lat.as_ref().map(|v| v[1]),
        latency_max_ms: lat.as_ref().map(|v| v[2]),
        arrival_to_reply_p50_ms: total.as_ref().map(|v| v[0]),
        arrival_to_reply_p99_ms: total.as_ref().map(|v| v[1]),
        rx_timestamps: if rx.kernel_timestamps {
            "kernel"
        } else {
            "user"
        },
        replies_kernel_stamped: stats.kernel_stamped,
        busy_poll: rx.busy_poll,
        overhead_p50_ms: over.as_ref().map(|v| v[0]),
        overhead_p99_ms: over.as_ref().map(|v| v[1]),
        processing_p50_ms: proc_.as_ref().map(|v| v[0]),
        processing_p99_ms: proc_.as_ref().map(|v| v[1]),
        replies_per_s: if wall_s > 0.0 {
            stats.replies_out as f64 / wall_s
        } else {
            0.0
        },
        send_errors: stats.send_errors,
        doom,
    }
}

/// When and how a reply's stim datagram was taken, for [`record_reply`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pickup {
    /// Arrival at the host.
    pub arrived: Instant,
    /// `arrived` is a kernel timestamp.
    pub kernel_stamped: bool,
    /// Device frame of the tick boundary at which the loop took the datagram.
    pub tick_ts: u64,
    /// Earliest tick boundary at which the device could have taken it (the protocol's FIFO:
    /// one datagram per socket per tick, none while a reply is pending).
    pub ready_ts: u64,
}

/// Records one reply's timings: `sent` is when `sendto` returned, `send_ts` the device frame of
/// the tick that sent it, `tick_at` when that tick was handed to the loop.
pub(crate) fn record_reply(
    stats: &mut Stats,
    dev: &Device,
    frames_per_tick: u64,
    pickup: Pickup,
    send_ts: u64,
    tick_at: Instant,
    sent: Instant,
) {
    stats.kernel_stamped += u64::from(pickup.kernel_stamped);
    stats.arrival_to_reply_ms.push(ms(sent - pickup.arrived));
    stats.processing_ms.push(ms(sent - tick_at));
    let (Some(picked_at), Some(due)) = (
        dev.frame_instant(pickup.tick_ts),
        dev.frame_instant(send_ts),
    ) else {
        // Accelerated: the windows take no wall time.
        stats.latency_ms.push(ms(sent - pickup.arrived));
        return;
    };
    stats
        .overhead_ms
        .push(ms(sent.saturating_duration_since(due)));
    let ideal_due = ideal_due_instant(
        pickup.arrived,
        picked_at,
        pickup.tick_ts,
        pickup.ready_ts,
        frames_per_tick,
        due,
    );
    stats
        .latency_ms
        .push(ms(sent.saturating_duration_since(ideal_due)));
}

/// When the reply would be due had the datagram been taken at the first tick boundary at or after
/// its arrival (but not before `ready_ts`, nor after the boundary that did take it): that
/// boundary plus the protocol's ticks from pickup to reply. `due` is when the reply was due
/// given the boundary `tick_ts` (at `picked_at`) that did take it.
fn ideal_due_instant(
    arrived: Instant,
    picked_at: Instant,
    tick_ts: u64,
    ready_ts: u64,
    frames_per_tick: u64,
    due: Instant,
) -> Instant {
    let tick = Duration::from_micros(frames_per_tick * crate::device::FRAME_DURATION_US);
    // Whole ticks between the ideal boundary and the one that took it.
    let missed = if arrived >= picked_at || tick.is_zero() {
        0
    } else {
        ((picked_at - arrived).as_nanos() / tick.as_nanos()) as u64
    };
    let ideal_ts = tick_ts
        .saturating_sub(missed * frames_per_tick)
        .max(ready_ts.min(tick_ts));
    let early_frames = tick_ts - ideal_ts;
    due.checked_sub(Duration::from_micros(
        early_frames * crate::device::FRAME_DURATION_US,
    ))
    .unwrap_or(due)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A stop flag raised by SIGINT or SIGTERM, for [`video::VideoServer::run`] /
/// [`doom::DoomServer::run`]. A second signal while the flag is already up exits the process at
/// once (status 128 + signal number), for a server that does not stop.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, ServerError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Order matters: the conditional exit sees the flag as it was before this signal.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, flag.clone())
            .map_err(io_err("installing a signal handler"))?;
        signal_hook::flag::register(sig, flag.clone())
            .map_err(io_err("installing a signal handler"))?;
    }
    Ok(flag)
}

/// A short reason name for a wire error, for the rejection counters.
pub(crate) fn wire_reason(e: &crate::wire::WireError) -> &'static str {
    use crate::wire::WireError as W;
    match e {
        W::Size { .. } | W::TooShort { .. } | W::TooLong { .. } | W::EventLength { .. } => {
            "bad_length"
        }
        W::FeedbackType(_) => "bad_feedback_type",
        W::TooManyChannels(_) | W::ChannelId { .. } => "bad_channel_list",
        W::Flag { .. } => "bad_flag",
        W::Utf8 | W::Json(_) => "bad_json",
        _ => "malformed",
    }
}

/// What happened to one channel's (frequency, amplitude) pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PairVerdict {
    /// Deliver a pulse (values are finite and positive; the envelope is checked by the device).
    Deliver,
    /// Silent: amplitude or frequency ≤ 0 (the device's "amp = 0 means silent").
    Silent,
    /// Not delivered, counted under this reason.
    Skip(&'static str),
}

/// The device scripts' per-channel rule, with NaN/∞ (which crash the reference script inside the
/// SDK) skipped and counted instead; values outside the protocol's client-side range are counted
/// and delivered (the device does no range validation) unless `strict`.
pub(crate) fn classify_pair(
    freq_hz: f32,
    amp_ua: f32,
    range: ((f32, f32), (f32, f32)),
    strict: bool,
    stats: &mut Stats,
) -> PairVerdict {
    if !freq_hz.is_finite() || !amp_ua.is_finite() {
        return PairVerdict::Skip("non_finite");
    }
    if amp_ua <= 0.0 || freq_hz <= 0.0 {
        if amp_ua < 0.0 || freq_hz < 0.0 {
            return PairVerdict::Skip("negative");
        }
        return PairVerdict::Silent;
    }
    let ((fmin, fmax), (amin, amax)) = range;
    if freq_hz < fmin || freq_hz > fmax || amp_ua < amin || amp_ua > amax {
        stats.out_of_protocol_range += 1;
        if strict {
            return PairVerdict::Skip("out_of_protocol_range");
        }
    }
    PairVerdict::Deliver
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 kHz: 25 frames per tick; the reply is due 61 ticks after pickup.
    #[test]
    fn ideal_due_discounts_only_missed_pickup_ticks() {
        let t0 = Instant::now();
        let us = Duration::from_micros;
        let fpt = 25;
        // The boundary at frame 1000 (t0 + 40 ms) took the datagram; reply due 61 ms later.
        let picked_at = t0 + us(40_000);
        let due = picked_at + us(61_000);
        let tick_ts = 1000;
        let ideal = |arrived: Instant, ready_ts: u64| {
            ideal_due_instant(arrived, picked_at, tick_ts, ready_ts, fpt, due)
        };
        // Arrived 0.3 ms before the boundary that took it: nothing missed.
        assert_eq!(ideal(picked_at - us(300), 0), due);
        // Arrived after that boundary (the loop woke late and found it): no credit beyond it.
        assert_eq!(ideal(picked_at + us(200), 0), due);
        // Arrived 2.3 ms before: the boundaries at -2 ms and -1 ms were missed (receiver late).
        assert_eq!(ideal(picked_at - us(2_300), 0), due - us(2_000));
        // Exactly on a boundary counts as taken by it.
        assert_eq!(ideal(picked_at - us(1_000), 0), due - us(1_000));
        // ...unless the device was busy until frame 975 (-1 ms): FIFO wait is protocol.
        assert_eq!(ideal(picked_at - us(2_300), 975), due - us(1_000));
        assert_eq!(ideal(picked_at - us(2_300), 1000), due);
    }
}
