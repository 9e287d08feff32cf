//! Annealing schedules: a value that moves from `start` to `end` over `steps` updates and then
//! stays at `end`.

use serde::{Deserialize, Serialize};

/// Shape of a [`Schedule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Straight line from start to end.
    #[default]
    Linear,
    /// Geometric interpolation (constant ratio per step); start and end must be > 0.
    Exponential,
    /// `start · (1 + t/steps)^(−1)` floored at `end`: the Robbins–Monro-style `1/t` decay.
    Inverse,
}

/// A value annealed over steps (exploration noise, learning rates).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Value at step 0.
    pub start: f64,
    /// Value from step `steps` on.
    pub end: f64,
    /// Length of the ramp in steps (0: always `end`).
    pub steps: u64,
    /// Shape of the ramp.
    #[serde(default)]
    pub kind: ScheduleKind,
}

impl Schedule {
    /// A constant value.
    pub fn constant(v: f64) -> Self {
        Self {
            start: v,
            end: v,
            steps: 0,
            kind: ScheduleKind::Linear,
        }
    }

    /// A linear ramp.
    pub fn linear(start: f64, end: f64, steps: u64) -> Self {
        Self {
            start,
            end,
            steps,
            kind: ScheduleKind::Linear,
        }
    }

    /// A geometric ramp.
    pub fn exponential(start: f64, end: f64, steps: u64) -> Self {
        Self {
            start,
            end,
            steps,
            kind: ScheduleKind::Exponential,
        }
    }

    /// The value at step `t`.
    pub fn at(&self, t: u64) -> f64 {
        match self.kind {
            ScheduleKind::Inverse => {
                if self.steps == 0 {
                    return self.end;
                }
                let v = self.start / (1.0 + t as f64 / self.steps as f64);
                if self.start >= self.end {
                    v.max(self.end)
                } else {
                    v.min(self.end)
                }
            }
            _ if self.steps == 0 || t >= self.steps => self.end,
            ScheduleKind::Linear => {
                let f = t as f64 / self.steps as f64;
                self.start + (self.end - self.start) * f
            }
            ScheduleKind::Exponential => {
                let f = t as f64 / self.steps as f64;
                if self.start > 0.0 && self.end > 0.0 {
                    self.start * (self.end / self.start).powf(f)
                } else {
                    self.start + (self.end - self.start) * f
                }
            }
        }
    }

    /// Checks that both ends are finite and ≥ 0.
    pub fn validate(&self, name: &'static str) -> Result<(), crate::LearnError> {
        crate::check(name, self.start, self.start >= 0.0, "finite, >= 0")?;
        crate::check(name, self.end, self.end >= 0.0, "finite, >= 0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ramp_hits_its_ends_and_midpoint() {
        let s = Schedule::linear(0.3, 0.05, 3000);
        assert_eq!(s.at(0), 0.3);
        assert!((s.at(1500) - 0.175).abs() < 1e-12);
        assert_eq!(s.at(3000), 0.05);
        assert_eq!(s.at(10_000), 0.05);
    }

    #[test]
    fn exponential_ramp_is_geometric() {
        let s = Schedule::exponential(0.4, 0.1, 100);
        assert!((s.at(50) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn inverse_decay_halves_at_steps_and_floors() {
        let s = Schedule {
            start: 0.2,
            end: 0.01,
            steps: 1000,
            kind: ScheduleKind::Inverse,
        };
        assert!((s.at(1000) - 0.1).abs() < 1e-12);
        assert_eq!(s.at(1_000_000), 0.01);
    }
}
