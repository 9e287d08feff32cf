//! End-to-end tests of the video-protocol server over loopback UDP.

use dishloop_cl1::backend::{BackendError, CultureBackend, FrameWindow, Pulse, Spike};
use dishloop_cl1::client::VideoClient;
use dishloop_cl1::server::video::{VideoConfig, VideoServer};
use dishloop_cl1::server::{CommonConfig, ServerSummary};
use dishloop_cl1::wire::video::{DEAD_CHANNELS, VideoSpikes, VideoStim};
use dishloop_cl1::{Ablation, Backend, Clock, Device, DeviceOptions};
use rand::{RngExt, SeedableRng};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<ServerSummary>,
}

impl Running {
    fn finish(self) -> ServerSummary {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("server thread did not panic")
    }
}

fn start(backend: Backend, clock: Clock, cfg: VideoConfig) -> Running {
    let server = VideoServer::bind(VideoConfig {
        stim_port: 0,
        common: CommonConfig {
            status_every_s: 0.0,
            max_runtime_s: Some(60.0),
            ..cfg.common.clone()
        },
        ..cfg
    })
    .expect("binds an ephemeral port");
    let addr = server.local_addr().expect("bound");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut dev = Device::open(
            backend,
            DeviceOptions {
                clock,
                ..DeviceOptions::default()
            },
        );
        server
            .run(&mut dev, &stop2, &mut |_| {})
            .expect("server runs cleanly")
    });
    Running { addr, stop, handle }
}

fn client(addr: SocketAddr) -> VideoClient {
    VideoClient::bind("127.0.0.1:0", addr, Duration::from_secs(5)).expect("client binds")
}

fn check_reply(r: &VideoSpikes) {
    r.validate()
        .expect("whole, non-negative counts, dead channels 0");
    for &d in &DEAD_CHANNELS {
        assert_eq!(r.counts[d], 0.0);
    }
}

#[test]
fn one_reply_per_packet_with_random_ablation() {
    let backend = Backend::ablation(Ablation::Random { rate_hz: 20.0 }, 11).expect("ok");
    let srv = start(backend, Clock::Accelerated, VideoConfig::default());
    let c = client(srv.addr);
    let mut total = 0.0f64;
    for i in 0..200 {
        let mut s = VideoStim::silent(i);
        s.amp_ua[1..4].fill(2.0);
        s.freq_hz[1..4].fill(20.0);
        let (r, _) = c.exchange(&s).expect("reply within 5 s");
        check_reply(&r);
        total += r.counts.iter().map(|&x| x as f64).sum::<f64>();
    }
    let sum = srv.finish();
    assert_eq!(sum.packets_in, 200);
    assert_eq!(sum.replies_out, 200);
    assert_eq!(sum.rejected, 0);
    // 61 ticks per packet + 1 idle tick for the pickup → 62 ms of simulated time per packet.
    assert_eq!(sum.ticks, 200 * 62);
    assert_eq!(sum.pulses_delivered, 200 * 3);
    // 59 channels × 20 Hz × 50 ms = 59 expected spikes per reply; over 200 replies the mean has
    // SD √(59/200) ≈ 0.54, so ±3 is > 5 SD.
    let mean = total / 200.0;
    assert!((mean - 59.0).abs() < 3.0, "mean count {mean}");
}

/// A responsive stand-in culture: every pulse evokes one spike on its channel 5 ms later (inside
/// the 10 ms artifact window, must be discarded), one 20 ms later (counted) and one 70 ms later
/// (after the 50 ms collect window, must not be counted).
struct Echo {
    pending: Vec<Spike>,
}

impl CultureBackend for Echo {
    fn describe(&self) -> String {
        "echo".into()
    }
    fn advance(
        &mut self,
        w: FrameWindow,
        pulses: &[Pulse],
        spikes: &mut Vec<Spike>,
    ) -> Result<(), BackendError> {
        for p in pulses {
            for delay_ms in [5u64, 20, 70] {
                self.pending.push(Spike {
                    timestamp: p.frame() + delay_ms * 25,
                    channel: p.channel,
                });
            }
        }
        self.pending.sort();
        let split = self.pending.partition_point(|s| s.timestamp < w.stop);
        spikes.extend(self.pending.drain(..split));
        Ok(())
    }
}

#[test]
fn windows_count_only_the_collect_window_on_stimulated_channels() {
    let srv = start(
        Backend::Culture(Box::new(Echo {
            pending: Vec::new(),
        })),
        Clock::Accelerated,
        VideoConfig::default(),
    );
    let c = client(srv.addr);
    let stimulated = [1usize, 9, 33, 62];
    for i in 0..20 {
        let mut s = VideoStim::silent(i);
        for &ch in &stimulated {
            s.amp_ua[ch] = 1.5;
            s.freq_hz[ch] = 10.0;
        }
        // Dead channels with non-zero values are skipped and reported 0.
        s.amp_ua[4] = 2.0;
        s.freq_hz[4] = 10.0;
        let (r, _) = c.exchange(&s).expect("reply");
        check_reply(&r);
        for ch in 0..64 {
            let want = if stimulated.contains(&ch) { 1.0 } else { 0.0 };
            assert_eq!(r.counts[ch], want, "packet {i} channel {ch}");
        }
    }
    let sum = srv.finish();
    assert_eq!(sum.replies_out, 20);
    assert_eq!(sum.channels_skipped.get("dead_channel"), Some(&20));
}

#[test]
fn wall_clock_latency_covers_the_windows() {
    let srv = start(Backend::Zero, Clock::WallClock, VideoConfig::default());
    let c = client(srv.addr);
    // Let the device loop start: a datagram that arrives before its first tick waits for it,
    // which the server counts as startup, not as latency.
    std::thread::sleep(Duration::from_millis(200));
    let mut lat = Vec::new();
    for i in 0..8 {
        let (_, rtt) = c.exchange(&VideoStim::silent(i)).expect("reply");
        lat.push(rtt.as_secs_f64() * 1e3);
    }
    let sum = srv.finish();
    // Pickup at the next 1 ms tick, then 10 + 50 + 1 ticks: never under 61 ms; generous upper
    // bound for a loaded 2-core CI machine.
    for l in &lat {
        assert!((61.0..150.0).contains(l), "latency {l} ms");
    }
    assert_eq!(sum.replies_out, 8);
    let total = sum.arrival_to_reply_p50_ms.expect("replies were sent");
    assert!((61.0..150.0).contains(&total), "{total}");
    // Beyond the windows = reply sent − (first tick boundary at or after the arrival, or the
    // earlier one that took it, + 61 ticks): at least arrival→reply − 62 ms for every sample
    // (hence every order statistic), and never negative. (It can exceed arrival→reply − 61 ms
    // when a lagging loop takes a datagram at a boundary before its arrival and catches up.)
    for (beyond, total) in [
        (sum.latency_p50_ms, sum.arrival_to_reply_p50_ms),
        (sum.latency_p99_ms, sum.arrival_to_reply_p99_ms),
    ] {
        let (b, t) = (beyond.expect("p"), total.expect("p"));
        assert!(b >= 0.0 && b >= t - 62.0 - 1e-6, "{b} vs {t}");
        assert!(b < 500.0, "{b}");
    }
    assert!(sum.overhead_p50_ms.is_some());
    if cfg!(target_os = "linux") {
        assert_eq!(sum.rx_timestamps, "kernel");
        assert_eq!(sum.replies_kernel_stamped, 8);
    }
    assert!(!sum.busy_poll);
}

#[test]
fn busy_poll_serves_with_the_same_windows() {
    let srv = start(
        Backend::Zero,
        Clock::WallClock,
        VideoConfig {
            common: CommonConfig {
                status_every_s: 0.0,
                busy_poll: true,
                ..CommonConfig::default()
            },
            ..VideoConfig::default()
        },
    );
    let c = client(srv.addr);
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..4 {
        let (r, rtt) = c.exchange(&VideoStim::silent(i)).expect("reply");
        check_reply(&r);
        // A spinning loop sharing a busy CI core can fall behind and catch up (ticks back to
        // back), so the lower bound is looser than the 61 ms of the windows.
        let ms = rtt.as_secs_f64() * 1e3;
        assert!((30.0..150.0).contains(&ms), "latency {ms} ms");
    }
    let sum = srv.finish();
    assert!(sum.busy_poll);
    assert_eq!(sum.replies_out, 4);
    let b = sum.latency_p99_ms.expect("replies");
    let t = sum.arrival_to_reply_p99_ms.expect("replies");
    assert!(b >= 0.0 && b >= t - 62.0 - 1e-6 && b < 500.0, "{b} vs {t}");
}

#[test]
fn reply_host_redirects_replies() {
    let sink = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sink.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let port = sink.local_addr().expect("bound").port();
    let srv = start(
        Backend::Zero,
        Clock::Accelerated,
        VideoConfig {
            reply_host: Some("127.0.0.1".into()),
            spike_port: port,
            ..VideoConfig::default()
        },
    );
    let c = client(srv.addr);
    c.send(&VideoStim::silent(1)).expect("sent");
    let mut buf = [0u8; 600];
    let (n, _) = sink.recv_from(&mut buf).expect("reply at the fixed host");
    assert_eq!(n, 264);
    srv.finish();
}

/// Thousands of random datagrams interleaved with valid ones: every valid-size packet answered,
/// the server still up, counters equal to what was sent.
#[test]
fn malformed_packet_storm() {
    storm(false);
}

/// The same storm with the loop polling its non-blocking socket itself (no receiver thread).
#[test]
fn malformed_packet_storm_busy_poll() {
    storm(true);
}

fn storm(busy_poll: bool) {
    let backend = Backend::ablation(Ablation::Random { rate_hz: 5.0 }, 5).expect("ok");
    let srv = start(
        backend,
        Clock::Accelerated,
        VideoConfig {
            common: CommonConfig {
                busy_poll,
                ..CommonConfig::default()
            },
            ..VideoConfig::default()
        },
    );
    let c = client(srv.addr);
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(99);
    let (mut short, mut answered, mut oversize, mut sent) = (0u64, 0u64, 0u64, 0u64);
    for round in 0..150u64 {
        for _ in 0..20 {
            let len = rng.random_range(0..520usize);
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            c.send_raw(&bytes).expect("sent");
            short += 1;
            sent += 1;
        }
        // Random 520-byte payloads (NaN, ∞, negative, huge values) are valid-size packets.
        let mut expect = 0;
        for k in 0..3 {
            let len = if k == 2 && round % 2 == 0 {
                rng.random_range(521..1500usize)
            } else {
                520
            };
            if len > 520 {
                oversize += 1;
            }
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            c.send_raw(&bytes).expect("sent");
            expect += 1;
            sent += 1;
        }
        let mut valid = VideoStim::silent(round);
        valid.amp_ua[10] = 2.5;
        c.send(&valid).expect("sent");
        expect += 1;
        sent += 1;
        for _ in 0..expect {
            let r = c.recv().expect("every valid-size packet is answered");
            check_reply(&r);
            answered += 1;
        }
    }
    let sum = srv.finish();
    assert_eq!(sum.packets_in, sent);
    assert_eq!(sum.replies_out, answered);
    assert_eq!(sum.rejected, short);
    assert_eq!(sum.rejected_by_reason.get("short"), Some(&short));
    assert_eq!(sum.oversize_truncated, oversize);
    assert_eq!(sum.send_errors, 0);
    // Random floats: most are non-finite-free but out of range or negative; some NaN.
    let skipped: u64 = sum.channels_skipped.values().sum();
    assert!(skipped > 0, "{:?}", sum.channels_skipped);
}

#[test]
fn python_stdlib_client_speaks_the_protocol() {
    let python = ["python3", "python"].into_iter().find(|p| {
        std::process::Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(python) = python else {
        eprintln!("python3 not found; skipping");
        return;
    };
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/video_client.py");
    let srv = start(
        Backend::ablation(Ablation::Random { rate_hz: 5.0 }, 1).expect("ok"),
        Clock::Accelerated,
        VideoConfig::default(),
    );
    let out = std::process::Command::new(python)
        .arg(&script)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &srv.addr.port().to_string(),
            "--packets",
            "12",
            "--json",
        ])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("output");
    let v: serde_json::Value = serde_json::from_str(last).expect("JSON on the last line");
    assert_eq!(v["sent"], 12);
    assert_eq!(v["replies"], 12);
    assert_eq!(v["bad_replies"], 0);
    let sum = srv.finish();
    assert_eq!(sum.replies_out, 12);
}

#[test]
fn out_of_protocol_range_is_delivered_unless_strict() {
    let mut s = VideoStim::silent(0);
    s.amp_ua[1] = 2.8; // above the client's 2.5 µA, inside the 3 µA envelope
    s.freq_hz[1] = 10.0;
    s.amp_ua[2] = 2.0;
    s.freq_hz[2] = 60.0; // above the client's 40 Hz, inside the 200 Hz burst limit
    let mut long = s.encode().to_vec();
    long.extend_from_slice(&[0u8; 80]);

    let lenient = start(Backend::Zero, Clock::Accelerated, VideoConfig::default());
    let c = client(lenient.addr);
    c.exchange(&s).expect("reply");
    c.send_raw(&long).expect("sent");
    c.recv()
        .expect("oversize datagrams are truncated to 520 bytes and served");
    let sum = lenient.finish();
    assert_eq!(sum.pulses_delivered, 4);
    assert_eq!(sum.channels_out_of_protocol_range, 4);
    assert_eq!(sum.oversize_truncated, 1);

    let strict = start(
        Backend::Zero,
        Clock::Accelerated,
        VideoConfig {
            common: CommonConfig {
                strict: true,
                ..CommonConfig::default()
            },
            ..VideoConfig::default()
        },
    );
    let c = client(strict.addr);
    c.send_raw(&long).expect("sent");
    c.exchange(&s).expect("the valid packet is still answered");
    let sum = strict.finish();
    assert_eq!(sum.replies_out, 1, "the oversize datagram got no reply");
    assert_eq!(sum.rejected_by_reason.get("oversize"), Some(&1));
    assert_eq!(sum.pulses_delivered, 0);
    assert_eq!(sum.channels_skipped.get("out_of_protocol_range"), Some(&2));
}
