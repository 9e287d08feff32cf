//! Per-electrode FIFO stimulation queues, interrupts, synchronisation and reusable plans
//! (the semantics of the vendor `cl` API, reference `cl1.md` §3.3, for any layout).
//!
//! * A stim on several electrodes is **synchronised**: all of them start together, as soon as
//!   every one of them is free and at least the lead time from now.
//! * Each electrode has a **FIFO queue**: a new stim starts when the electrode's previous
//!   pulses (the end of its last burst) are over.
//! * [`StimQueue::interrupt`] cancels queued pulses that have not started.
//! * [`StimQueue::sync`] makes the next operations on a set of electrodes start together,
//!   after every pending pulse on any of them.
//! * A [`StimPlan`] is built once, checked, frozen on its first run and may be run again and
//!   again (feedback patterns); a run is all-or-nothing.

use std::collections::VecDeque;

use crate::MeaError;
use crate::design::{BurstDesign, EnvelopeError, MIN_LEAD_TIME_US, StimDesign, check_lead_time};
use crate::layout::Layout;

/// One pulse on one electrode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pulse {
    /// Electrode index in the layout.
    pub electrode: u32,
    /// Onset, µs since the start of the simulation (step 0).
    pub start_us: u64,
    /// Shape.
    pub design: StimDesign,
}

impl Pulse {
    /// End of the pulse, µs.
    pub fn end_us(&self) -> u64 {
        self.start_us + self.design.duration_us() as u64
    }
}

/// Default limit on pulses waiting in one electrode's queue.
pub const DEFAULT_MAX_QUEUED: usize = 4096;

/// Per-electrode FIFO queues of pulses (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct StimQueue {
    queues: Vec<VecDeque<Pulse>>,
    busy_until_us: Vec<u64>,
    max_queued: usize,
    n_queued: usize,
}

fn check_stimulable(layout: &Layout, electrodes: &[u32]) -> Result<(), EnvelopeError> {
    match electrodes
        .iter()
        .find(|&&e| !layout.is_stimulable(e as usize))
    {
        Some(&e) => Err(EnvelopeError::NotStimulable {
            channel: e as usize,
        }),
        None => Ok(()),
    }
}

impl StimQueue {
    /// Empty queues for `n_electrodes` electrodes, at most `max_queued` pulses each.
    pub fn new(n_electrodes: usize, max_queued: usize) -> Self {
        Self {
            queues: vec![VecDeque::new(); n_electrodes],
            busy_until_us: vec![0; n_electrodes],
            max_queued,
            n_queued: 0,
        }
    }

    /// Queues `burst` pulses of `design` on every electrode in `electrodes`, starting together
    /// at the earliest time ≥ `now_us + lead_us` when all of them are free. Checks
    /// stimulability, the burst/pulse fit, the lead time and the queue limit first; returns the
    /// start time, µs.
    pub fn stim(
        &mut self,
        layout: &Layout,
        electrodes: &[u32],
        design: StimDesign,
        burst: BurstDesign,
        lead_us: u32,
        now_us: u64,
    ) -> Result<u64, MeaError> {
        check_stimulable(layout, electrodes)?;
        burst.check_fits(&design)?;
        check_lead_time(lead_us)?;
        for &e in electrodes {
            let e = e as usize;
            if e >= self.queues.len() {
                return Err(EnvelopeError::NotStimulable { channel: e }.into());
            }
            let queued = self.queues[e].len();
            if queued + burst.count() as usize > self.max_queued {
                return Err(MeaError::QueueFull {
                    electrode: e as u32,
                    queued,
                    adding: burst.count() as usize,
                    limit: self.max_queued,
                });
            }
        }
        let mut start = now_us + lead_us as u64;
        for &e in electrodes {
            start = start.max(self.busy_until_us[e as usize]);
        }
        // Onsets on the 20 µs grid.
        start = start.div_ceil(20) * 20;
        let interval = burst.interval_us() as u64;
        let count = burst.count() as u64;
        if count == 0 {
            return Ok(start);
        }
        let end = start + (count - 1) * interval + design.duration_us() as u64;
        for &e in electrodes {
            let q = &mut self.queues[e as usize];
            for k in 0..count {
                q.push_back(Pulse {
                    electrode: e,
                    start_us: start + k * interval,
                    design,
                });
            }
            self.busy_until_us[e as usize] = end;
        }
        self.n_queued += (count as usize) * electrodes.len();
        Ok(start)
    }

    /// Cancels queued pulses on `electrodes` that start at or after `now_us` and frees the
    /// electrodes; returns how many pulses were cancelled.
    pub fn interrupt(&mut self, electrodes: &[u32], now_us: u64) -> usize {
        let mut n = 0;
        for &e in electrodes {
            let Some(q) = self.queues.get_mut(e as usize) else {
                continue;
            };
            let before = q.len();
            q.retain(|p| p.start_us < now_us);
            n += before - q.len();
            let b = &mut self.busy_until_us[e as usize];
            *b = q.back().map_or(now_us.min(*b), Pulse::end_us);
        }
        self.n_queued -= n;
        n
    }

    /// Makes the next operations on `electrodes` start together, after all their pending pulses.
    pub fn sync(&mut self, electrodes: &[u32]) {
        let t = electrodes
            .iter()
            .filter_map(|&e| self.busy_until_us.get(e as usize))
            .copied()
            .max()
            .unwrap_or(0);
        for &e in electrodes {
            if let Some(b) = self.busy_until_us.get_mut(e as usize) {
                *b = t;
            }
        }
    }

    /// Pulses waiting on `electrode`.
    pub fn queued(&self, electrode: u32) -> usize {
        self.queues.get(electrode as usize).map_or(0, VecDeque::len)
    }

    /// Pulses waiting on all electrodes.
    pub fn total_queued(&self) -> usize {
        self.n_queued
    }

    /// When `electrode` is free, µs.
    pub fn busy_until_us(&self, electrode: u32) -> u64 {
        self.busy_until_us
            .get(electrode as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Moves every pulse starting before `before_us` into `out` (per electrode in FIFO order).
    pub fn pop_due(&mut self, before_us: u64, out: &mut Vec<Pulse>) {
        if self.n_queued == 0 {
            return;
        }
        for q in &mut self.queues {
            while q.front().is_some_and(|p| p.start_us < before_us) {
                if let Some(p) = q.pop_front() {
                    out.push(p);
                    self.n_queued -= 1;
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Stim {
        electrodes: Vec<u32>,
        design: StimDesign,
        burst: BurstDesign,
        lead_us: u32,
    },
    Interrupt(Vec<u32>),
    Sync(Vec<u32>),
}

/// A reusable list of stim / interrupt / sync operations (module docs).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StimPlan {
    ops: Vec<Op>,
    frozen: bool,
}

impl StimPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, op: Op) -> Result<(), MeaError> {
        if self.frozen {
            return Err(MeaError::PlanFrozen);
        }
        self.ops.push(op);
        Ok(())
    }

    /// Adds a stim with the minimum lead time (80 µs).
    pub fn stim(
        &mut self,
        electrodes: &[u32],
        design: StimDesign,
        burst: BurstDesign,
    ) -> Result<(), MeaError> {
        self.stim_with_lead(electrodes, design, burst, MIN_LEAD_TIME_US)
    }

    /// Adds a stim with a lead time; the burst must fit the pulse and the lead time must be
    /// valid (stimulability is checked against the layout when the plan runs).
    pub fn stim_with_lead(
        &mut self,
        electrodes: &[u32],
        design: StimDesign,
        burst: BurstDesign,
        lead_us: u32,
    ) -> Result<(), MeaError> {
        burst.check_fits(&design)?;
        check_lead_time(lead_us)?;
        self.push(Op::Stim {
            electrodes: electrodes.to_vec(),
            design,
            burst,
            lead_us,
        })
    }

    /// Adds an interrupt.
    pub fn interrupt(&mut self, electrodes: &[u32]) -> Result<(), MeaError> {
        self.push(Op::Interrupt(electrodes.to_vec()))
    }

    /// Adds an interrupt followed by a stim on the same electrodes.
    pub fn interrupt_then_stim(
        &mut self,
        electrodes: &[u32],
        design: StimDesign,
        burst: BurstDesign,
    ) -> Result<(), MeaError> {
        burst.check_fits(&design)?;
        self.interrupt(electrodes)?;
        self.stim(electrodes, design, burst)
    }

    /// Adds a sync.
    pub fn sync(&mut self, electrodes: &[u32]) -> Result<(), MeaError> {
        self.push(Op::Sync(electrodes.to_vec()))
    }

    /// Electrodes this plan interrupts, ascending and distinct.
    pub fn electrodes_to_interrupt(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Interrupt(e) => Some(e.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Whether the plan has run (and can no longer change).
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Runs every operation at `now_us`, all or nothing: on any error the queue is unchanged.
    pub fn run(
        &mut self,
        queue: &mut StimQueue,
        layout: &Layout,
        now_us: u64,
    ) -> Result<(), MeaError> {
        let mut q = queue.clone();
        for op in &self.ops {
            match op {
                Op::Stim {
                    electrodes,
                    design,
                    burst,
                    lead_us,
                } => {
                    q.stim(layout, electrodes, *design, *burst, *lead_us, now_us)?;
                }
                Op::Interrupt(e) => {
                    q.interrupt(e, now_us);
                }
                Op::Sync(e) => q.sync(e),
            }
        }
        *queue = q;
        self.frozen = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Layout, StimQueue, StimDesign) {
        let l = Layout::cl1([1500.0, 1500.0]);
        let q = StimQueue::new(l.len(), 16);
        (l, q, StimDesign::cathodic_first(200, 1.0).expect("ok"))
    }

    #[test]
    fn fifo_synchronised_bursts() {
        let (l, mut q, d) = setup();
        // 3 pulses at 100 Hz on channel 9: 10 ms apart, starting after the 80 µs lead.
        let s = q
            .stim(
                &l,
                &[9],
                d,
                BurstDesign::new(3, 100.0).expect("ok"),
                80,
                1000,
            )
            .expect("ok");
        assert_eq!(s, 1080);
        assert_eq!(q.queued(9), 3);
        assert_eq!(q.busy_until_us(9), 1080 + 20_000 + 400);
        // A stim on 9 and 10 waits for 9 to be free; both start together.
        let s2 = q
            .stim(&l, &[9, 10], d, BurstDesign::single(), 80, 1000)
            .expect("ok");
        assert_eq!(s2, 21_480);
        let mut out = Vec::new();
        q.pop_due(30_000, &mut out);
        let on10: Vec<u64> = out
            .iter()
            .filter(|p| p.electrode == 10)
            .map(|p| p.start_us)
            .collect();
        let on9: Vec<u64> = out
            .iter()
            .filter(|p| p.electrode == 9)
            .map(|p| p.start_us)
            .collect();
        assert_eq!(on9, vec![1080, 11_080, 21_080, 21_480]);
        assert_eq!(on10, vec![21_480]);
        assert_eq!(q.total_queued(), 0);
    }

    #[test]
    fn refusals_interrupt_sync_and_limits() {
        let (l, mut q, d) = setup();
        for ch in [0u32, 4, 7, 56, 63, 64] {
            let e = q
                .stim(&l, &[1, ch], d, BurstDesign::single(), 80, 0)
                .expect_err("refused");
            assert!(e.to_string().contains(&format!("channel {ch}")), "{e}");
        }
        assert_eq!(q.total_queued(), 0, "refusals queue nothing");
        let e = q
            .stim(&l, &[1], d, BurstDesign::new(17, 10.0).expect("ok"), 80, 0)
            .expect_err("queue limit 16");
        assert!(matches!(e, MeaError::QueueFull { .. }), "{e}");
        q.stim(&l, &[1], d, BurstDesign::new(10, 10.0).expect("ok"), 80, 0)
            .expect("ok");
        assert_eq!(q.interrupt(&[1], 250_000), 7); // pulses at 0.08, 100.08, 200.08 ms stay
        assert_eq!(q.busy_until_us(1), 200_080 + 400);
        q.stim(&l, &[2], d, BurstDesign::single(), 80, 0)
            .expect("ok");
        q.sync(&[1, 2]);
        assert_eq!(q.busy_until_us(2), 200_480);
        assert!(q.stim(&l, &[1], d, BurstDesign::single(), 70, 0).is_err());
    }

    #[test]
    fn plans_are_atomic_and_reusable() {
        let (l, mut q, d) = setup();
        let mut plan = StimPlan::new();
        plan.stim(&[1, 2], d, BurstDesign::single()).expect("ok");
        plan.stim(&[4], d, BurstDesign::single())
            .expect("checked at run");
        let err = plan
            .run(&mut q, &l, 0)
            .expect_err("channel 4 is the reference");
        assert!(err.to_string().contains("channel 4"), "{err}");
        assert_eq!(q.total_queued(), 0, "nothing applied");
        let mut ok = StimPlan::new();
        ok.interrupt_then_stim(&[3, 5], d, BurstDesign::new(2, 50.0).expect("ok"))
            .expect("ok");
        ok.run(&mut q, &l, 0).expect("ok");
        ok.run(&mut q, &l, 100_000).expect("re-runs");
        assert_eq!(q.queued(3), 4);
        assert!(ok.is_frozen());
        assert!(matches!(ok.sync(&[3]), Err(MeaError::PlanFrozen)));
        assert_eq!(ok.electrodes_to_interrupt(), vec![3, 5]);
    }
}
