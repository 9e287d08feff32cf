//! `dishloop serve-cl1` ends cleanly on SIGINT / SIGTERM: the real binary is started on an
//! ephemeral port, served a few packets, sent the signal with `kill`, and must exit 0 with the
//! exit summary as the last stdout line (`--json`).

#![cfg(unix)]

use dishloop_cl1::wire::video::{SPIKE_LEN, VideoStim};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starts the binary and returns it with the first address printed on its "listening" line.
fn start(args: &[&str]) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dishloop"))
        .arg("serve-cl1")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting dishloop");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("no startup line from serve-cl1");
            }
        };
        // "serve-cl1 video: listening on 127.0.0.1:PORT (...)" / "serve-cl1 doom: stim ADDR ..."
        let word = line
            .split_whitespace()
            .find_map(|w| w.parse::<SocketAddr>().ok());
        if let Some(a) = word {
            break a;
        }
    };
    (child, addr, rx)
}

/// Sends `signal` and waits for the exit; returns (stdout, seconds from signal to exit).
fn signal_and_wait(mut child: Child, signal: &str) -> (String, f64) {
    let pid = child.id().to_string();
    let sent = Instant::now();
    let st = Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("running kill");
    assert!(st.success());
    let deadline = sent + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve-cl1 did not exit within 5 s of {signal}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = sent.elapsed().as_secs_f64();
    assert!(status.success(), "exit status {status:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
        .expect("reading stdout");
    (out, took)
}

fn last_json(out: &str) -> serde_json::Value {
    let last = out.lines().last().expect("some stdout");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"))
}

#[test]
fn sigint_ends_video_server_with_json_summary() {
    let (child, addr, _err) = start(&[
        "--protocol",
        "video",
        "--ablation",
        "zero",
        "--stim-port",
        "0",
        "--status-every-s",
        "0",
        "--json",
    ]);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    sock.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let mut buf = [0u8; 1024];
    for i in 0..3 {
        sock.send_to(&VideoStim::silent(i).encode(), addr)
            .expect("send");
        let (n, _) = sock.recv_from(&mut buf).expect("reply");
        assert_eq!(n, SPIKE_LEN);
    }
    // One malformed datagram, counted as rejected.
    sock.send_to(&[1, 2, 3], addr).expect("send");
    std::thread::sleep(Duration::from_millis(50));
    let (out, took) = signal_and_wait(child, "-INT");
    let s = last_json(&out);
    assert_eq!(s["stop_reason"], "stopped", "{s}");
    assert_eq!(s["protocol"], "video");
    assert_eq!(s["packets_in"], 4, "{s}");
    assert_eq!(s["replies_out"], 3, "{s}");
    assert_eq!(s["rejected"], 1, "{s}");
    let p50 = s["latency_p50_ms"].as_f64().expect("latency_p50_ms");
    let p99 = s["latency_p99_ms"].as_f64().expect("latency_p99_ms");
    assert!((0.0..1000.0).contains(&p50) && p50 <= p99, "{p50} {p99}");
    let total = s["arrival_to_reply_p50_ms"]
        .as_f64()
        .expect("arrival_to_reply");
    assert!(total >= 30.0, "{total}");
    assert!(took < 2.0, "took {took} s to stop");
}

#[test]
fn sigterm_interrupts_a_slow_doom_tick() {
    // At 1 Hz a tick waits up to 1 s; the wait re-checks the stop flag every 50 ms.
    let (child, _addr, _err) = start(&[
        "--protocol",
        "doom",
        "--training-host",
        "127.0.0.1",
        "--ablation",
        "zero",
        "--tick-rate",
        "1",
        "--stim-port",
        "0",
        "--event-port",
        "0",
        "--feedback-port",
        "0",
        "--spike-port",
        "9",
        "--status-every-s",
        "0",
        "--json",
    ]);
    std::thread::sleep(Duration::from_millis(1300));
    let (out, took) = signal_and_wait(child, "-TERM");
    let s = last_json(&out);
    assert_eq!(s["stop_reason"], "stopped", "{s}");
    assert_eq!(s["protocol"], "doom");
    assert_eq!(s["packets_in"], 0);
    assert!(s["latency_p99_ms"].is_null(), "no replies, no latency: {s}");
    assert!(took < 0.7, "took {took} s to stop (a whole 1 s tick?)");
}
