#!/usr/bin/env python3
"""A diffusion-neuron-style trainer client for `dishloop serve-cl1 --protocol video`.

Standard library only (socket, struct). Speaks the 64-channel CL1 protocol exactly as the public
trainer does (reference: shared/reference/cl1.md section 1.1):

  STIM  trainer -> CL1, 520 bytes: <Q ts_us, 64 x f32 frequency Hz, 64 x f32 amplitude uA
  SPIKE CL1 -> trainer, 264 bytes: <Q ts_us, 64 x f32 spike count

Dead channels {0, 4, 7, 56, 63} get 4.0 Hz / 0.0 uA. Live channels with non-zero amplitude must
be within 4..40 Hz and 1.0..2.5 uA (the trainer validates before sending). After sending, the
trainer sleeps 10 ms and waits up to 5 s for the reply, retrying up to 3 times.

Usage:
  dishloop serve-cl1 --protocol video --ablation random &
  python3 examples/video_client.py --packets 20
"""

import argparse
import json
import random
import socket
import struct
import sys
import time

CHANNELS = 64
DEAD = (0, 4, 7, 56, 63)
ACTIVE = [c for c in range(CHANNELS) if c not in DEAD]
ENCODER = ACTIVE[0:42]
POS_FEEDBACK = ACTIVE[42:50]
NEG_FEEDBACK = ACTIVE[50:58]
MIN_FREQ, MAX_FREQ, MIN_AMP, MAX_AMP = 4.0, 40.0, 1.0, 2.5
STIM_FMT = "<Q64f64f"
SPIKE_FMT = "<Q64f"
STIM_LEN = struct.calcsize(STIM_FMT)
SPIKE_LEN = struct.calcsize(SPIKE_FMT)
assert STIM_LEN == 520 and SPIKE_LEN == 264


def build_stim(rng, n_encoder):
    """Trainer-style arrays: encoder values on a random subset, neutral feedback on 16 channels."""
    freq = [MIN_FREQ] * CHANNELS
    amp = [0.0] * CHANNELS
    chosen = sorted(rng.sample(ENCODER, n_encoder))
    for ch in chosen:
        freq[ch] = rng.uniform(MIN_FREQ, MAX_FREQ)
        amp[ch] = rng.uniform(MIN_AMP, MAX_AMP)
    for ch in POS_FEEDBACK + NEG_FEEDBACK:
        freq[ch], amp[ch] = MIN_FREQ, MIN_AMP  # neutral feedback: a real 4 Hz, 1.0 uA pulse
    return freq, amp, chosen + POS_FEEDBACK + NEG_FEEDBACK


def validate(freq, amp):
    for ch in range(CHANNELS):
        if ch in DEAD or amp[ch] == 0.0:
            continue
        if not (MIN_FREQ <= freq[ch] <= MAX_FREQ):
            raise ValueError("channel %d frequency %r outside [4, 40] Hz" % (ch, freq[ch]))
        if not (MIN_AMP <= amp[ch] <= MAX_AMP):
            raise ValueError("channel %d amplitude %r outside [1.0, 2.5] uA" % (ch, amp[ch]))


def pack_stim(freq, amp):
    return struct.pack(STIM_FMT, int(time.time() * 1e6), *freq, *amp)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="CL1 (server) address")
    ap.add_argument("--port", type=int, default=12345, help="CL1 stim port")
    ap.add_argument("--bind-port", type=int, default=0, help="local port (the trainer uses 12346)")
    ap.add_argument("--packets", type=int, default=10)
    ap.add_argument("--encoder-channels", type=int, default=21, help="encoder channels stimulated per packet")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply")
    ap.add_argument("--retries", type=int, default=3, help="attempts per packet")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON summary as the last line only")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", args.bind_port))
    sock.settimeout(args.timeout)

    sent = replies = bad = timeouts = skipped = 0
    latencies = []
    stim_sum = stim_n = other_sum = other_n = 0.0
    for i in range(args.packets):
        freq, amp, stimulated = build_stim(rng, args.encoder_channels)
        validate(freq, amp)
        reply = None
        for _attempt in range(args.retries):
            t0 = time.perf_counter()
            sock.sendto(pack_stim(freq, amp), (args.host, args.port))
            sent += 1
            time.sleep(0.010)  # the trainer's redundant client-side artifact wait
            try:
                while True:
                    data, _addr = sock.recvfrom(2048)
                    if len(data) == SPIKE_LEN:
                        break
                    bad += 1
            except socket.timeout:
                timeouts += 1
                continue
            latencies.append((time.perf_counter() - t0) * 1e3)
            reply = struct.unpack(SPIKE_FMT, data)
            break
        if reply is None:
            skipped += 1
            continue
        replies += 1
        counts = reply[1:]
        if any(counts[d] != 0.0 for d in DEAD) or any(c < 0 or c != int(c) for c in counts):
            bad += 1
        for ch in ACTIVE:
            if ch in stimulated:
                stim_sum += counts[ch]
                stim_n += 1
            else:
                other_sum += counts[ch]
                other_n += 1
        if not args.json:
            print("packet %d: %.1f ms, %d spikes" % (i, latencies[-1], int(sum(counts))))

    latencies.sort()
    summary = {
        "sent": sent,
        "replies": replies,
        "bad_replies": bad,
        "timeouts": timeouts,
        "skipped_steps": skipped,
        "latency_p50_ms": latencies[len(latencies) // 2] if latencies else None,
        "latency_max_ms": latencies[-1] if latencies else None,
        "mean_count_stimulated": stim_sum / stim_n if stim_n else None,
        "mean_count_unstimulated": other_sum / other_n if other_n else None,
    }
    print(json.dumps(summary))
    return 0 if replies == args.packets and bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
