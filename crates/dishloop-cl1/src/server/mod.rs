//! The virtual CL1's UDP servers, built on the [`crate::Device`] API the way the client programs'
//! device-side scripts are built on the vendor's `cl` API.
//!
//! - [`video::VideoServer`]: diffusion-neuron's 64-channel protocol (reference `cl1.md` §1.1).
//! - [`doom::DoomServer`]: doom-neuron's 8-group protocol with feedback and events (§1.2).
//!
//! Each listening socket has a receiver thread that timestamps datagrams on arrival and hands
//! them to the device loop through a bounded queue; the loop takes at most one datagram per
//! socket per tick, as the device scripts' non-blocking reads do, so packets that arrive while a
//! reply is pending wait (FIFO) exactly as they would in the kernel buffer.

pub mod doom;
pub mod video;

use crate::device::{Clock, Device};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
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
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            max_runtime_s: None,
            status_every_s: 10.0,
            strict: false,
        }
    }
}

/// A received datagram.
#[derive(Debug, Clone)]
pub(crate) struct Datagram {
    pub bytes: Vec<u8>,
    pub from: SocketAddr,
    pub arrived: Instant,
}

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;
/// Datagrams buffered between a receiver thread and the loop (beyond this the kernel buffers, then
/// drops, as it would for the real device).
const QUEUE_DATAGRAMS: usize = 65_536;

/// Receiver threads feeding one channel, tagged by socket index.
pub(crate) struct Receivers {
    pub rx: mpsc::Receiver<(usize, Datagram)>,
    shutdown: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl Receivers {
    pub fn spawn(sockets: Vec<UdpSocket>) -> Result<Self, ServerError> {
        let (tx, rx) = mpsc::sync_channel(QUEUE_DATAGRAMS);
        let shutdown = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for (idx, sock) in sockets.into_iter().enumerate() {
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .map_err(io_err("setting a socket read timeout"))?;
            let tx = tx.clone();
            let stop = shutdown.clone();
            let h = std::thread::Builder::new()
                .name(format!("cl1-rx-{idx}"))
                .spawn(move || receive_loop(idx, sock, tx, stop))
                .map_err(io_err("spawning a receiver thread"))?;
            handles.push(h);
        }
        Ok(Self {
            rx,
            shutdown,
            handles,
        })
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Relaxed);
        // Unblock senders waiting on a full queue, then join.
        while self.rx.try_recv().is_ok() {}
        for h in self.handles.drain(..) {
            while !h.is_finished() {
                while self.rx.try_recv().is_ok() {}
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = h.join();
        }
    }
}

fn receive_loop(
    idx: usize,
    sock: UdpSocket,
    tx: mpsc::SyncSender<(usize, Datagram)>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let d = Datagram {
                    bytes: buf[..n].to_vec(),
                    from,
                    arrived: Instant::now(),
                };
                if tx.send((idx, d)).is_err() {
                    return;
                }
            }
            // Timeouts, and ICMP "connection refused/reset" after replying to a closed port.
            Err(_) => continue,
        }
    }
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
    /// Median time from a stim datagram's arrival to its reply leaving, ms.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile of the same, ms.
    pub latency_p99_ms: Option<f64>,
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

pub(crate) fn summarize(
    protocol: &'static str,
    dev: &Device,
    tick_rate_hz: u32,
    stop_reason: StopReason,
    clock: &RunClock,
    stats: &Stats,
    doom: Option<DoomSummary>,
) -> ServerSummary {
    let wall_s = clock.started.elapsed().as_secs_f64();
    let lat = stats.latency_ms.percentiles(&[50.0, 99.0]);
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
