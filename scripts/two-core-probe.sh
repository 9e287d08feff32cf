#!/usr/bin/env bash
# What a 2-core machine allows a thread team, measured three ways (BENCHMARKS.md section 2,
# "What bounds COBA on two threads").
#
# usage: scripts/two-core-probe.sh pingpong        # cache-line round trip between CPU 0 and 1,
#                                                  # 2 million rounds, and stalls > 10 us
#        scripts/two-core-probe.sh together [S]    # single-thread COBA alone on each CPU, then
#                                                  # both at once (S simulated seconds, default 20)
#        scripts/two-core-probe.sh scan [N]        # N runs (default 40) of COBA on 1 and 2
#                                                  # threads: core RTT, times, speed-up, solo share
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p dishloop
BIN=target/release/dishloop
run_s() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['run_s'])"; }

case "${1:-}" in
pingpong)
    dir=target/bench; mkdir -p "$dir"
    cat > "$dir/pingpong.c" <<'C'
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
_Alignas(128) static atomic_long a;
_Alignas(128) static atomic_long b;
static const long N = 2000000;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void pin(int cpu) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu, &s); pthread_setaffinity_np(pthread_self(), sizeof s, &s); }
static void *echo(void *x) {
    (void)x; pin(1);
    for (long i = 1; i <= N; i++) {
        while (atomic_load_explicit(&a, memory_order_acquire) < i) __builtin_ia32_pause();
        atomic_store_explicit(&b, i, memory_order_release);
    }
    return 0;
}
int main(void) {
    pthread_t t; pthread_create(&t, 0, echo, 0); pin(0);
    double t0 = now(), worst = 0; long slow = 0;
    for (long i = 1; i <= N; i++) {
        double q = now();
        atomic_store_explicit(&a, i, memory_order_release);
        while (atomic_load_explicit(&b, memory_order_acquire) < i) __builtin_ia32_pause();
        double d = now() - q; if (d > worst) worst = d; if (d > 10e-6) slow++;
    }
    double t1 = now(); pthread_join(t, 0);
    printf("round trip mean %.1f ns (incl. two clock reads), worst %.1f us, > 10 us: %ld of %ld\n",
           (t1 - t0) / N * 1e9, worst * 1e6, slow, N);
    return 0;
}
C
    cc -O2 -pthread "$dir/pingpong.c" -o "$dir/pingpong"
    "$dir/pingpong"
    ;;
together)
    s="${2:-20}"
    one() { taskset -c "$1" "$BIN" bench --one coba --threads 1 --duration-s "$s" 2>/dev/null | run_s; }
    echo "alone on CPU 0: $(one 0) s, alone on CPU 1: $(one 1) s"
    one 0 > target/bench/.t0 & one 1 > target/bench/.t1; wait
    echo "both at once:   $(cat target/bench/.t0) s and $(cat target/bench/.t1) s"
    ;;
scan)
    n="${2:-40}"
    for _ in $(seq "$n"); do
        "$BIN" bench --cases coba --repeats 3 --duration-s 10 --json 2>/dev/null | tail -1
    done | python3 -c "
import json, sys
rows = []
for line in sys.stdin:
    c = json.loads(line)['cases']
    one = next(x for x in c if x['threads'] == 1); two = next(x for x in c if x['threads'] == 2)
    d = two['dishloop']
    rows.append((d['core_round_trip_ns'], one['dishloop_run_s'], two['dishloop_run_s'], d['solo_fraction']))
for rtt, a, b, solo in sorted(rows):
    print(f'core RTT {rtt:5.0f} ns   1 thread {a:.3f} s   2 threads {b:.3f} s   {a / b:.2f}x   solo {100 * solo:.0f} %')
r = sorted(a / b for _, a, b, _ in rows)
print(f'speed-up median {r[len(r) // 2]:.2f}x, range {r[0]:.2f}-{r[-1]:.2f}x over {len(r)} runs')
"
    ;;
*)
    sed -n '2,11p' "$0"; exit 2 ;;
esac
