//! Reusable stimulation plans (vendor `create_stim_plan()` / `StimPlan`, reference `cl1.md` §3.3).
//!
//! Operations are checked against the envelope when added; [`StimPlan::run`] applies them
//! atomically (all or nothing), and may be called again and again (a plan freezes after its first
//! run, as the vendor's does, so reusable feedback plans are built once).

use crate::backend::Pulse;
use crate::channels::{CHANNEL_COUNT, ChannelSet};
use crate::design::{BurstDesign, EnvelopeError, MIN_LEAD_TIME_US, StimDesign, TIMING_STEP_US};
use crate::device::{BurstOccupancy, Cl1Error, Device, FRAME_DURATION_US};
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Stim {
        channels: ChannelSet,
        design: StimDesign,
        burst: BurstDesign,
        lead_us: u32,
    },
    Interrupt(ChannelSet),
    Sync(ChannelSet),
}

/// A list of stim / interrupt / sync operations run together.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StimPlan {
    ops: Vec<Op>,
    frozen: bool,
}

fn check_stimulable(channels: ChannelSet) -> Result<(), EnvelopeError> {
    match channels.non_stimulable().iter().next() {
        Some(c) => Err(EnvelopeError::NotStimulable {
            channel: c as usize,
        }),
        None => Ok(()),
    }
}

impl StimPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, op: Op) -> Result<(), Cl1Error> {
        if self.frozen {
            return Err(Cl1Error::PlanFrozen);
        }
        self.ops.push(op);
        Ok(())
    }

    /// Adds a stim with the default 80 µs lead time.
    pub fn stim(
        &mut self,
        channels: ChannelSet,
        design: StimDesign,
        burst: BurstDesign,
    ) -> Result<(), Cl1Error> {
        self.stim_with_lead(channels, design, burst, MIN_LEAD_TIME_US)
    }

    /// Adds a stim: every channel must be stimulable, the burst must fit the pulse, and the lead
    /// time must be ≥ 80 µs in 20 µs steps.
    pub fn stim_with_lead(
        &mut self,
        channels: ChannelSet,
        design: StimDesign,
        burst: BurstDesign,
        lead_time_us: u32,
    ) -> Result<(), Cl1Error> {
        check_stimulable(channels)?;
        burst.check_fits(&design)?;
        if lead_time_us < MIN_LEAD_TIME_US || !lead_time_us.is_multiple_of(TIMING_STEP_US) {
            return Err(EnvelopeError::LeadTime {
                lead_us: lead_time_us,
            }
            .into());
        }
        self.push(Op::Stim {
            channels,
            design,
            burst,
            lead_us: lead_time_us,
        })
    }

    /// Adds an interrupt of `channels`.
    pub fn interrupt(&mut self, channels: ChannelSet) -> Result<(), Cl1Error> {
        self.push(Op::Interrupt(channels))
    }

    /// Adds an interrupt followed by a stim on the same channels.
    pub fn interrupt_then_stim(
        &mut self,
        channels: ChannelSet,
        design: StimDesign,
        burst: BurstDesign,
    ) -> Result<(), Cl1Error> {
        check_stimulable(channels)?;
        burst.check_fits(&design)?;
        self.push(Op::Interrupt(channels))?;
        self.push(Op::Stim {
            channels,
            design,
            burst,
            lead_us: MIN_LEAD_TIME_US,
        })
    }

    /// Adds a sync of `channels`.
    pub fn sync(&mut self, channels: ChannelSet) -> Result<(), Cl1Error> {
        self.push(Op::Sync(channels))
    }

    /// Union of the channels this plan interrupts (vendor `channels_to_interrupt`).
    pub fn channels_to_interrupt(&self) -> ChannelSet {
        self.ops
            .iter()
            .fold(ChannelSet::empty(), |acc, op| match op {
                Op::Interrupt(c) => acc | *c,
                _ => acc,
            })
    }

    /// Operations in the plan.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True for a plan without operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// True after the first run.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Applies the plan to `dev` at `at_timestamp` (frames; `None` or a past timestamp means
    /// now). Stims start at that time plus their lead time, or later if their channels are busy;
    /// interrupts cancel pulses starting at or after it. All or nothing: on error (a full channel
    /// queue) the device is left unchanged.
    pub fn run(&mut self, dev: &mut Device, at_timestamp: Option<u64>) -> Result<(), Cl1Error> {
        self.frozen = true;
        let now_us = dev.timestamp() * FRAME_DURATION_US;
        let base_us =
            at_timestamp.map_or(now_us, |f| f.saturating_mul(FRAME_DURATION_US).max(now_us));
        let touched = self
            .ops
            .iter()
            .fold(ChannelSet::empty(), |acc, op| match op {
                Op::Stim { channels, .. } | Op::Interrupt(channels) | Op::Sync(channels) => {
                    acc | *channels
                }
            });
        let snapshot: Vec<(u8, VecDeque<Pulse>, u64)> = touched
            .iter()
            .map(|c| {
                (
                    c,
                    dev.queues[c as usize].clone(),
                    dev.busy_until_us[c as usize],
                )
            })
            .collect();
        let mut interrupted = 0u64;
        for op in &self.ops {
            if let Err(e) = apply(dev, op, base_us, &mut interrupted) {
                for (c, q, busy) in snapshot {
                    dev.queues[c as usize] = q;
                    dev.busy_until_us[c as usize] = busy;
                }
                return Err(e);
            }
        }
        dev.note_interrupted(interrupted);
        Ok(())
    }
}

fn apply(dev: &mut Device, op: &Op, base_us: u64, interrupted: &mut u64) -> Result<(), Cl1Error> {
    match op {
        Op::Interrupt(channels) => {
            for c in channels.iter() {
                let q = &mut dev.queues[c as usize];
                let keep = q.partition_point(|p| p.start_us < base_us);
                *interrupted += (q.len() - keep) as u64;
                q.truncate(keep);
                dev.busy_until_us[c as usize] = q.back().map_or(0, |p| p.end_us());
            }
        }
        Op::Sync(channels) => {
            let m = channels
                .iter()
                .map(|c| dev.busy_until_us[c as usize])
                .max()
                .unwrap_or(0);
            for c in channels.iter() {
                dev.busy_until_us[c as usize] = m;
            }
        }
        Op::Stim {
            channels,
            design,
            burst,
            lead_us,
        } => {
            let limit = dev.options().max_queued_pulses_per_channel;
            let count = burst.count() as u64;
            for c in channels.iter() {
                let queued = dev.queues[c as usize].len();
                if queued as u64 + count > limit as u64 {
                    return Err(Cl1Error::ChannelQueueFull {
                        channel: c,
                        queued,
                        adding: count,
                        limit,
                    });
                }
            }
            let step = TIMING_STEP_US as u64;
            let earliest = base_us.saturating_add(*lead_us as u64);
            let busy = channels
                .iter()
                .map(|c| dev.busy_until_us[c as usize])
                .max()
                .unwrap_or(0);
            let start = earliest.max(busy).div_ceil(step).saturating_mul(step);
            let interval = u64::from(burst.interval_us());
            // Saturating: a burst rate has no lower bound, so intervals can be astronomically long.
            let occupancy = match dev.options().burst_occupancy {
                _ if count == 0 => 0,
                BurstOccupancy::PulsesOnly => (count - 1)
                    .saturating_mul(interval)
                    .saturating_add(design.duration_us() as u64),
                BurstOccupancy::FullPeriod => count.saturating_mul(interval),
            };
            for c in channels.iter() {
                debug_assert!((c as usize) < CHANNEL_COUNT);
                let q = &mut dev.queues[c as usize];
                for k in 0..count {
                    q.push_back(Pulse {
                        channel: c,
                        start_us: start.saturating_add(k.saturating_mul(interval)),
                        design: *design,
                    });
                }
                if count > 0 {
                    dev.busy_until_us[c as usize] = start.saturating_add(occupancy);
                }
            }
        }
    }
    Ok(())
}
