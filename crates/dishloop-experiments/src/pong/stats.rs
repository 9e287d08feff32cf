//! Hit/miss bookkeeping: overall and windowed hit rates, rallies, learning curves.

use serde::{Deserialize, Serialize};

use super::game::GameEvent;

/// One scored ball.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Game step (frame) at which the ball reached the right wall.
    pub step: u64,
    /// Hit or miss.
    pub event: GameEvent,
    /// Rally length after this event (consecutive hits; 0 after a miss).
    pub rally: u32,
    /// Height at which the ball crossed the paddle line.
    pub ball_y: f64,
    /// Paddle centre at that moment.
    pub paddle_y: f64,
    /// Whether the agent was learning (training) or frozen (evaluation).
    pub training: bool,
}

/// Every event of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HitLog {
    /// The events, in order.
    pub events: Vec<EventRecord>,
    /// Hits so far.
    pub hits: u64,
    /// Misses so far.
    pub misses: u64,
    /// Current rally (consecutive hits).
    pub rally: u32,
    /// Longest rally.
    pub max_rally: u32,
    /// Completed rallies (ended by a miss): count and total hits in them.
    pub rallies_done: u64,
    /// Hits in completed rallies.
    pub rally_hits_done: u64,
}

impl HitLog {
    /// Records an event.
    pub fn push(
        &mut self,
        step: u64,
        event: GameEvent,
        ball_y: f64,
        paddle_y: f64,
        training: bool,
    ) {
        match event {
            GameEvent::Hit => {
                self.hits += 1;
                self.rally += 1;
                self.max_rally = self.max_rally.max(self.rally);
            }
            GameEvent::Miss => {
                self.misses += 1;
                self.rallies_done += 1;
                self.rally_hits_done += self.rally as u64;
                self.rally = 0;
            }
        }
        self.events.push(EventRecord {
            step,
            event,
            rally: self.rally,
            ball_y,
            paddle_y,
            training,
        });
    }

    /// Hits / events over everything (NaN with no events).
    pub fn hit_rate(&self) -> f64 {
        ratio(self.hits, self.hits + self.misses)
    }

    /// Mean rally length: hits per rally, counting the running rally as one (BL-1's "mean
    /// rally length"; NaN with no events).
    pub fn mean_rally(&self) -> f64 {
        let rallies = self.rallies_done + (self.rally > 0) as u64;
        if rallies == 0 {
            f64::NAN
        } else {
            (self.rally_hits_done + self.rally as u64) as f64 / rallies as f64
        }
    }

    /// Mean hits per rally and the longest rally among the events before frame `end`
    /// (rallies end at a miss; a running rally counts).
    pub fn rally_stats_before(&self, end: u64) -> (f64, u32) {
        let (mut rallies, mut hits, mut run, mut max) = (0u64, 0u64, 0u32, 0u32);
        for e in self.events.iter().take_while(|e| e.step < end) {
            match e.event {
                GameEvent::Hit => {
                    run += 1;
                    hits += 1;
                    max = max.max(run);
                }
                GameEvent::Miss => {
                    rallies += 1;
                    run = 0;
                }
            }
        }
        rallies += (run > 0) as u64;
        (
            if rallies == 0 {
                f64::NAN
            } else {
                hits as f64 / rallies as f64
            },
            max,
        )
    }

    /// Hit rate of the events with `lo <= step < hi` (NaN if none).
    pub fn hit_rate_in(&self, lo: u64, hi: u64) -> f64 {
        let a = self.events.partition_point(|e| e.step < lo);
        let b = self.events.partition_point(|e| e.step < hi);
        let s = &self.events[a..b];
        ratio(
            s.iter().filter(|e| e.event == GameEvent::Hit).count() as u64,
            s.len() as u64,
        )
    }

    /// Hit rate of the last `n` events (NaN if none).
    pub fn hit_rate_last_events(&self, n: usize) -> f64 {
        let s = &self.events[self.events.len().saturating_sub(n)..];
        ratio(
            s.iter().filter(|e| e.event == GameEvent::Hit).count() as u64,
            s.len() as u64,
        )
    }

    /// Learning curve: `(bin centre step, hit rate)` per `bin` steps over `[0, steps)`; bins
    /// without events are left out.
    pub fn curve(&self, steps: u64, bin: u64) -> Vec<(f64, f64)> {
        let bin = bin.max(1);
        (0..steps.div_ceil(bin))
            .map(|k| (k * bin, ((k + 1) * bin).min(steps)))
            .map(|(lo, hi)| (0.5 * (lo + hi) as f64, self.hit_rate_in(lo, hi)))
            .filter(|(_, r)| r.is_finite())
            .collect()
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_rallies_and_windows() {
        let mut l = HitLog::default();
        // steps 10 H, 20 H, 30 M, 40 H, 1500 M
        for (s, e) in [
            (10, GameEvent::Hit),
            (20, GameEvent::Hit),
            (30, GameEvent::Miss),
            (40, GameEvent::Hit),
            (1500, GameEvent::Miss),
        ] {
            l.push(s, e, 0.5, 0.5, true);
        }
        assert_eq!((l.hits, l.misses, l.max_rally), (3, 2, 2));
        assert!((l.hit_rate() - 0.6).abs() < 1e-12);
        assert!((l.mean_rally() - 1.5).abs() < 1e-12); // rallies [2, 1]
        assert_eq!(l.rally_stats_before(35), (2.0, 2)); // one rally of 2
        assert_eq!(l.rally_stats_before(u64::MAX), (1.5, 2));
        assert!((l.hit_rate_in(0, 1000) - 0.75).abs() < 1e-12);
        assert_eq!(l.hit_rate_in(1000, 2000), 0.0);
        assert!(l.hit_rate_in(2000, 3000).is_nan());
        assert!((l.hit_rate_last_events(2) - 0.5).abs() < 1e-12);
        let c = l.curve(2000, 1000);
        assert_eq!(c, vec![(500.0, 0.75), (1500.0, 0.0)]);
    }
}
