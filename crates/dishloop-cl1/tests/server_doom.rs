//! End-to-end tests of the doom-protocol server over loopback UDP.

use dishloop_cl1::backend::{BackendError, CultureBackend, FrameWindow, Pulse, Spike};
use dishloop_cl1::client::DoomClient;
use dishloop_cl1::server::doom::{DoomConfig, DoomServer};
use dishloop_cl1::server::{CommonConfig, ServerSummary, StopReason};
use dishloop_cl1::wire::doom::{CHANNEL_GROUPS, DoomStim, EventPacket, Feedback, FeedbackKind};
use dishloop_cl1::{Ablation, Backend, Clock, Device, DeviceOptions};
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

struct Running {
    client: DoomClient,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<ServerSummary>,
}

impl Running {
    fn finish(self) -> ServerSummary {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("server thread did not panic")
    }
    fn wait(self) -> ServerSummary {
        self.handle.join().expect("server thread did not panic")
    }
}

fn start(backend: Backend, clock: Clock, cfg: DoomConfig) -> Running {
    // The trainer's spike socket must exist first: the server sends to a fixed host:port.
    let trainer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let spike_port = trainer.local_addr().expect("bound").port();
    drop(trainer);
    let server = DoomServer::bind(DoomConfig {
        training_host: "127.0.0.1".into(),
        spike_port,
        stim_port: 0,
        event_port: 0,
        feedback_port: 0,
        common: CommonConfig {
            status_every_s: 0.0,
            max_runtime_s: Some(60.0),
            ..CommonConfig::default()
        },
        ..cfg
    })
    .expect("binds ephemeral ports");
    let addrs = server.local_addrs().expect("bound");
    let client = DoomClient::bind(("127.0.0.1", spike_port), addrs, Duration::from_secs(5))
        .expect("client binds the spike port");
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
    Running {
        client,
        stop,
        handle,
    }
}

fn stim(freq: f32, amp: f32) -> DoomStim {
    DoomStim {
        timestamp_us: 0,
        freq_hz: [freq; 8],
        amp_ua: [amp; 8],
    }
}

/// Every pulse evokes one spike on its channel 60 ms later; the pulses are also reported.
struct Echo {
    pending: Vec<Spike>,
    pulses: mpsc::Sender<Pulse>,
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
            self.pending.push(Spike {
                timestamp: p.frame() + 60 * 25,
                channel: p.channel,
            });
            let _ = self.pulses.send(*p);
        }
        self.pending.sort();
        let split = self.pending.partition_point(|s| s.timestamp < w.stop);
        spikes.extend(self.pending.drain(..split));
        Ok(())
    }
}

#[test]
fn stim_pairs_drive_the_encoding_channels_and_replies_sum_groups() {
    let (tx, rx) = mpsc::channel();
    let srv = start(
        Backend::Culture(Box::new(Echo {
            pending: Vec::new(),
            pulses: tx,
        })),
        Clock::Accelerated,
        DoomConfig::default(),
    );
    let mut s = stim(20.0, 2.0);
    s.amp_ua[3] = 0.0; // silent pair
    for _ in 0..5 {
        srv.client.send_stim(&s).expect("sent");
        let r = srv.client.recv_spikes().expect("reply");
        r.validate().expect("whole counts");
        // 7 encoding channels stimulated → 7 evoked spikes, all in group 0 (encoding).
        assert_eq!(r.counts, [7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
    let sum = srv.finish();
    assert_eq!(sum.replies_out, 5);
    // 10 Hz, 50 ms + 50 ms: 1 artifact tick (counted down on the pickup tick), 1 collect tick,
    // send on the next: 3 ticks per packet.
    assert_eq!(sum.ticks, 15);
    let pulses: Vec<Pulse> = rx.try_iter().collect();
    assert_eq!(pulses.len(), 35);
    let mut chans: Vec<u8> = pulses.iter().map(|p| p.channel).collect();
    chans.sort_unstable();
    chans.dedup();
    assert_eq!(
        chans,
        vec![8, 9, 10, 18, 25, 27, 28],
        "pair i → encoding channel i only"
    );
    // 120 µs cathodic-first, 2 µA.
    let ph = pulses[0].design.phases();
    assert_eq!(
        (ph[0].duration_us, ph[0].current_ua, ph[1].current_ua),
        (120, -2.0, 2.0)
    );
}

#[test]
fn a_new_stim_rearms_and_drops_the_unsent_reply() {
    // Wall clock at 10 Hz: both datagrams are queued long before the next tick, so they are read
    // on consecutive ticks and the second re-arms.
    let srv = start(Backend::Zero, Clock::WallClock, DoomConfig::default());
    srv.client.send_stim(&stim(10.0, 1.0)).expect("sent");
    srv.client.send_stim(&stim(10.0, 1.0)).expect("sent");
    srv.client.recv_spikes().expect("one reply");
    std::thread::sleep(Duration::from_millis(300));
    let sum = srv.finish();
    assert_eq!(sum.packets_in, 2);
    assert_eq!(sum.replies_out, 1);
    assert_eq!(sum.doom.expect("doom counters").replies_dropped_by_rearm, 1);
}

#[test]
fn feedback_bursts_are_cut_by_the_next_stim() {
    let (tx, rx) = mpsc::channel();
    let srv = start(
        Backend::Culture(Box::new(Echo {
            pending: Vec::new(),
            pulses: tx,
        })),
        Clock::Accelerated,
        DoomConfig::default(),
    );
    // Positive reward feedback: [19, 20, 22], 20 Hz, 2.0 µA, 30 pulses (a 1.5 s burst).
    let fb = Feedback::new(0, FeedbackKind::Reward, &[19, 20, 22], 20, 2.0, 30).named("reward");
    srv.client.send_feedback(&fb).expect("sent");
    std::thread::sleep(Duration::from_millis(50));
    srv.client.send_stim(&stim(10.0, 1.0)).expect("sent");
    srv.client.recv_spikes().expect("reply");
    srv.client.send_stim(&stim(10.0, 1.0)).expect("sent");
    srv.client.recv_spikes().expect("reply");
    let sum = srv.finish();
    let fb_pulses = rx
        .try_iter()
        .filter(|p| [19u8, 20, 22].contains(&p.channel))
        .count();
    // The feedback tick plus the first stim tick (interrupted by it): 20 Hz over 100 ms → 2
    // pulses per channel before the interrupt; then nothing.
    assert_eq!(fb_pulses, 3 * 2, "burst interrupted by the stim packet");
    let d = sum.doom.expect("doom counters");
    assert_eq!(d.feedback_stims, 1);
}

#[test]
fn bad_input_is_counted_and_training_complete_ends_the_run() {
    let srv = start(Backend::Zero, Clock::Accelerated, DoomConfig::default());
    let c = &srv.client;
    c.send_raw(0, &[1, 2, 3]).expect("sent"); // short stim
    let mut bad_fb = Feedback::new(0, FeedbackKind::Event, &[35, 36], 20, 2.0, 5)
        .encode()
        .expect("ok");
    bad_fb[8] = 7; // unknown type
    c.send_raw(2, &bad_fb).expect("sent");
    std::thread::sleep(Duration::from_millis(50));
    let mut nan = stim(20.0, 2.0);
    nan.amp_ua[0] = f32::NAN;
    nan.freq_hz[1] = f32::INFINITY;
    nan.amp_ua[2] = 9.0; // within no envelope: > 3 µA
    nan.amp_ua[3] = -1.0;
    c.send_stim(&nan).expect("sent");
    c.recv_spikes()
        .expect("a stim with bad pairs is still answered");
    c.send_raw(1, b"not an event").expect("sent");
    let ep = EventPacket::new(
        1,
        "episode_end",
        serde_json::json!({"episode": 3, "kill_count": 1}),
    );
    c.send_event(&ep).expect("sent");
    // Feedback on a non-stimulable channel is refused by the envelope.
    c.send_feedback(&Feedback::new(
        0,
        FeedbackKind::Reward,
        &[0, 19],
        20,
        2.0,
        3,
    ))
    .expect("sent");
    c.send_stim(&stim(20.0, 2.0)).expect("sent");
    c.recv_spikes().expect("reply");
    // UDP gives no ordering across the three sockets: let the other datagrams be read first.
    std::thread::sleep(Duration::from_millis(200));
    c.send_event(&EventPacket::new(
        2,
        "training_complete",
        serde_json::json!({"total_episodes": 3}),
    ))
    .expect("sent");
    let sum = srv.wait();
    assert_eq!(sum.stop_reason, StopReason::TrainingComplete);
    assert_eq!(sum.rejected_by_reason.get("short"), Some(&1));
    assert_eq!(sum.rejected_by_reason.get("bad_feedback_type"), Some(&1));
    assert_eq!(sum.rejected_by_reason.get("bad_length"), Some(&1));
    assert_eq!(sum.rejected, 3);
    assert_eq!(sum.channels_skipped.get("non_finite"), Some(&2));
    assert_eq!(sum.channels_skipped.get("negative"), Some(&1));
    // Pair 2 (9 µA) and the feedback on channel 0.
    assert_eq!(
        sum.channels_skipped.get("outside_envelope"),
        Some(&2),
        "{sum:#?}"
    );
    assert_eq!(sum.packets_in, 8);
    assert_eq!(sum.replies_out, 2);
    let d = sum.doom.expect("doom counters");
    assert_eq!(d.events.get("episode_end"), Some(&1));
    assert_eq!(d.events.get("training_complete"), Some(&1));
    assert_eq!(d.last_episode.expect("kept")["episode"], 3);
}

#[test]
fn random_ablation_group_means() {
    let srv = start(
        Backend::ablation(Ablation::Random { rate_hz: 5.0 }, 21).expect("ok"),
        Clock::Accelerated,
        DoomConfig::default(),
    );
    let n = 300;
    let mut sums = [0.0f64; 8];
    for _ in 0..n {
        srv.client.send_stim(&stim(20.0, 2.0)).expect("sent");
        let r = srv.client.recv_spikes().expect("reply");
        for (sum, c) in sums.iter_mut().zip(r.counts) {
            *sum += c as f64;
        }
    }
    srv.finish();
    // doom-neuron's random ablation: mean = 5 Hz × max(50 ms, 1 tick = 100 ms) × group size.
    for (g, (sum, group)) in sums.iter().zip(CHANNEL_GROUPS).enumerate() {
        let want = 5.0 * 0.1 * group.len() as f64;
        let mean = sum / n as f64;
        // Poisson: SD of the mean = √(want / n) ≤ √(4 / 300) ≈ 0.115; ±0.45 is ≈ 3.9 SD (and the
        // seeded run is deterministic).
        assert!(
            (mean - want).abs() < 0.45,
            "group {g}: mean {mean}, want {want}"
        );
    }
}

#[test]
fn wall_clock_reply_leaves_two_ticks_after_pickup() {
    let srv = start(
        Backend::Zero,
        Clock::WallClock,
        DoomConfig {
            tick_rate_hz: 100,
            ..DoomConfig::default()
        },
    );
    // 100 Hz: artifact ceil(5) = 5 ticks, collect 5 ticks, send on the next → 11 ticks ≈ 110 ms
    // after pickup (pickup waits ≤ 10 ms for the tick).
    let t0 = std::time::Instant::now();
    srv.client.send_stim(&stim(20.0, 2.0)).expect("sent");
    srv.client.recv_spikes().expect("reply");
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let sum = srv.finish();
    assert!((100.0..200.0).contains(&ms), "{ms} ms");
    assert_eq!(sum.replies_out, 1);
}

/// `stats_port`: one 356-byte BL-1 statistics packet per tick, whose fields follow the ticks'
/// spikes (Echo: each of the 8 encoding pulses gives one spike 60 ms later, in the next 100 ms
/// tick), the last stim's amplitudes, and the burst rule (rate above EMA mean + 1.5 SD).
#[test]
fn stats_port_sends_bl1_stats_every_tick() {
    use dishloop_cl1::wire::bl1::{STATS_LEN, StatsV1};
    let stats_sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    stats_sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let stats_port = stats_sock.local_addr().expect("bound").port();
    let (tx, _rx) = mpsc::channel();
    let srv = start(
        Backend::Culture(Box::new(Echo {
            pending: Vec::new(),
            pulses: tx,
        })),
        Clock::Accelerated,
        DoomConfig {
            stats_port: Some(stats_port),
            ..DoomConfig::default()
        },
    );
    let mut s = stim(10.0, 1.5);
    s.amp_ua[7] = 2.25;
    srv.client.send_stim(&s).expect("sent");
    let reply = srv.client.recv_spikes().expect("reply");
    assert_eq!(reply.counts[0], 8.0);
    // Pickup tick (artifact), collect tick (the 8 echo spikes), send tick; then the loop idles.
    let mut packets = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..3 {
        let (n, _) = stats_sock.recv_from(&mut buf).expect("stats packet");
        assert_eq!(n, STATS_LEN);
        let p = StatsV1::decode(&buf[..n]).expect("decodes");
        p.validate().expect("finite, non-negative");
        packets.push(p);
    }
    let sum = srv.finish();
    assert_eq!(sum.doom.as_ref().map(|d| d.stats_packets), Some(3));
    let ticks: Vec<u32> = packets.iter().map(|p| p.tick).collect();
    assert_eq!(ticks, [0, 1, 2]);
    for p in &packets {
        let mut want = [1.5f32; 8];
        want[7] = 2.25;
        assert_eq!(p.stim_amplitudes_ua, want);
        let sum_el: f32 = p.electrode_spikes.iter().sum();
        assert_eq!(sum_el, p.total_spikes);
    }
    let (quiet, evoked, after) = (&packets[0], &packets[1], &packets[2]);
    assert_eq!(quiet.total_spikes, 0.0);
    assert_eq!(quiet.burst_flag, 0.0);
    assert_eq!(evoked.total_spikes, 8.0);
    for ch in CHANNEL_GROUPS[0] {
        assert_eq!(evoked.electrode_spikes[*ch as usize], 1.0, "channel {ch}");
    }
    // 8 spikes / 59 electrodes / 0.1 s; above mean 0 + 1.5 · SD 0: a burst.
    assert!((evoked.population_rate_hz - 8.0 / 5.9).abs() < 1e-5);
    assert_eq!(evoked.burst_flag, 1.0);
    // Encoding group EMA: α · (8 spikes / 8 channels / 0.1 s) with α = 1 − e^(−0.1).
    let alpha = 1.0 - (-0.1f32).exp();
    assert!((evoked.group_rates_ema[0] - alpha * 10.0).abs() < 1e-4);
    assert_eq!(after.total_spikes, 0.0);
    assert_eq!(after.burst_flag, 0.0);
    assert!(after.fano_synchrony > 0.0);
}

/// Malformed-packet storm on all three doom ports: thousands of random short datagrams
/// interleaved with valid-size stims (random floats: NaN, ∞, negative, huge), some oversize.
/// The server stays up, every datagram is counted, every armed stim is either answered or
/// dropped by a later stim's re-arm, and a final valid stim is answered.
#[test]
fn malformed_packet_storm_on_all_ports() {
    use rand::{RngExt, SeedableRng};
    let backend = Backend::ablation(Ablation::Random { rate_hz: 5.0 }, 7).expect("ok");
    let srv = start(backend, Clock::Accelerated, DoomConfig::default());
    let c = &srv.client;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(4242);
    let (mut sent, mut garbage, mut armed, mut oversize, mut received) = (0u64, 0, 0, 0, 0u64);
    for _round in 0..100 {
        // Short stims (< 72 B), short feedback (< 120 B), events that are not `12 + len` JSON.
        for (port, max_len) in [(0usize, 72usize), (1, 300), (2, 120)] {
            for _ in 0..10 {
                let len = rng.random_range(0..max_len);
                let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                if port == 1 && len >= 12 {
                    // Keep the declared length wrong so the event is malformed for certain.
                    let wrong = (len as u32 - 12).wrapping_add(1 + rng.random_range(0..1000u32));
                    bytes[8..12].copy_from_slice(&wrong.to_le_bytes());
                }
                c.send_raw(port, &bytes).expect("sent");
                garbage += 1;
                sent += 1;
            }
        }
        // Valid-size stims with arbitrary floats; every other round one is oversize.
        for k in 0..3 {
            let len = if k == 2 && rng.random_bool(0.5) {
                oversize += 1;
                rng.random_range(73..400usize)
            } else {
                72
            };
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            c.send_raw(0, &bytes).expect("sent");
            armed += 1;
            sent += 1;
        }
        c.send_stim(&stim(20.0, 2.0)).expect("sent");
        armed += 1;
        sent += 1;
        c.recv_spikes().expect("the server keeps answering");
        received += 1;
    }
    // One more malformed datagram per port after the storm, so that each socket reports its
    // kernel drop count (Linux delivers it with the next datagram read).
    for (port, len) in [(0usize, 5usize), (1, 5), (2, 5)] {
        std::thread::sleep(Duration::from_millis(50));
        c.send_raw(port, &vec![0xAB; len]).expect("sent");
        garbage += 1;
        sent += 1;
    }
    // Collect the replies still in flight (1 s of silence ends them); the silence is also the
    // server's time to read what is left on the event and feedback ports (one per tick).
    let mut srv = srv;
    srv.client.set_timeout(Duration::from_millis(1000));
    while srv.client.recv_spikes().is_ok() {
        received += 1;
    }
    let sum = srv.finish();
    let d = sum.doom.as_ref().expect("doom counters");
    // Every datagram is accounted for: read by the server or dropped by the kernel for a full
    // socket buffer (possible under load where net.core.rmem_max keeps buffers small; the
    // server counts them with SO_RXQ_OVFL). Without drops the books balance exactly.
    let lost = sum.dropped_by_kernel;
    assert_eq!(sum.packets_in + lost, sent, "{sum:#?}");
    assert!(
        sum.rejected <= garbage && sum.rejected + lost >= garbage,
        "{:?} lost {lost}",
        sum.rejected_by_reason
    );
    assert!(sum.oversize_truncated <= oversize && sum.oversize_truncated + lost >= oversize);
    assert_eq!(sum.replies_out, received);
    let answered = sum.replies_out + d.replies_dropped_by_rearm;
    assert!(
        answered <= armed && answered + lost >= armed,
        "{d:?} lost {lost}"
    );
    assert!(lost < sent / 10, "{lost} of {sent} dropped");
    assert_eq!(sum.send_errors, 0);
    let skipped: u64 = sum.channels_skipped.values().sum();
    assert!(skipped > 0, "{:?}", sum.channels_skipped);
}
