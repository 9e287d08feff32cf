//! The session's runs (Results view) and their CSV export.

use std::path::Path;

use crate::TuiError;
use crate::preview::Preview;
use crate::science::{science_items, score};

/// What kind of run a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// A Simulate preview.
    Preview,
    /// A Pong training session.
    Train,
}

impl RunKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            RunKind::Preview => "preview",
            RunKind::Train => "train",
        }
    }
}

/// One run of the session with its metrics (`None` where undefined or not applicable).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// 1-based number within the session.
    pub id: usize,
    /// Kind.
    pub kind: RunKind,
    /// Config, or the training set-up (agent / substrate / paddle).
    pub config: String,
    /// Seed.
    pub seed: u64,
    /// Neurons.
    pub n_neurons: usize,
    /// Synapses.
    pub n_synapses: usize,
    /// Simulated seconds.
    pub simulated_s: f64,
    /// Wall seconds.
    pub wall_s: f64,
    /// Mean rate per neuron (Hz).
    pub mean_rate_hz: Option<f64>,
    /// Network bursts.
    pub n_bursts: Option<usize>,
    /// Bursts per minute.
    pub bursts_per_min: Option<f64>,
    /// Branching ratio (MR).
    pub branching_ratio: Option<f64>,
    /// Avalanche size exponent.
    pub avalanche_exponent: Option<f64>,
    /// Science items matching / judged, e.g. `(2, 3)`.
    pub science_score: Option<(usize, usize)>,
    /// Training steps.
    pub train_steps: Option<u64>,
    /// Hits.
    pub hits: Option<u64>,
    /// Misses.
    pub misses: Option<u64>,
    /// Hit rate over the last events.
    pub recent_hit_rate: Option<f64>,
}

impl RunRecord {
    /// A record of a finished preview.
    pub fn from_preview(id: usize, p: &Preview) -> Self {
        let s = &p.summary;
        Self {
            id,
            kind: RunKind::Preview,
            config: p.config_name.clone(),
            seed: p.params.seed,
            n_neurons: p.n_neurons,
            n_synapses: p.n_synapses,
            simulated_s: p.trains.duration_s(),
            wall_s: p.build_s + p.sim_s + p.analysis_s,
            mean_rate_hz: s.mean_rate_hz,
            n_bursts: Some(s.n_bursts),
            bursts_per_min: s.bursts_per_min,
            branching_ratio: s.branching_ratio,
            avalanche_exponent: s.avalanche_size_exponent,
            science_score: Some(score(&science_items(s))),
            train_steps: None,
            hits: None,
            misses: None,
            recent_hit_rate: None,
        }
    }

    /// An empty record of a training session (filled in while it runs).
    pub fn train(id: usize, setup: String, seed: u64) -> Self {
        Self {
            id,
            kind: RunKind::Train,
            config: setup,
            seed,
            n_neurons: 0,
            n_synapses: 0,
            simulated_s: 0.0,
            wall_s: 0.0,
            mean_rate_hz: None,
            n_bursts: None,
            bursts_per_min: None,
            branching_ratio: None,
            avalanche_exponent: None,
            science_score: None,
            train_steps: Some(0),
            hits: Some(0),
            misses: Some(0),
            recent_hit_rate: None,
        }
    }
}

/// CSV header of [`to_csv`].
pub const CSV_HEADER: &str = "id,kind,config,seed,n_neurons,n_synapses,simulated_s,wall_s,mean_rate_hz,n_bursts,bursts_per_min,branching_ratio,avalanche_exponent,science_matches,science_judged,train_steps,hits,misses,recent_hit_rate";

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn optf(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map(|x| format!("{x:.6}"))
        .unwrap_or_default()
}

/// Quotes a CSV field when it holds a comma, quote or newline (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The records as CSV (header + one line per run; empty fields where undefined).
pub fn to_csv(records: &[RunRecord]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in records {
        let line = [
            r.id.to_string(),
            r.kind.name().into(),
            field(&r.config),
            r.seed.to_string(),
            r.n_neurons.to_string(),
            r.n_synapses.to_string(),
            format!("{:.6}", r.simulated_s),
            format!("{:.6}", r.wall_s),
            optf(r.mean_rate_hz),
            opt(r.n_bursts),
            optf(r.bursts_per_min),
            optf(r.branching_ratio),
            optf(r.avalanche_exponent),
            opt(r.science_score.map(|s| s.0)),
            opt(r.science_score.map(|s| s.1)),
            opt(r.train_steps),
            opt(r.hits),
            opt(r.misses),
            optf(r.recent_hit_rate),
        ]
        .join(",");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Writes [`to_csv`] to `path` atomically.
pub fn export_csv(path: &Path, records: &[RunRecord]) -> Result<(), TuiError> {
    crate::error::write_atomic(path, to_csv(records).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_leaves_undefined_empty() {
        let mut r = RunRecord::train(2, "pursuit, ff".into(), 7);
        r.hits = Some(5);
        r.recent_hit_rate = Some(0.5);
        let csv = to_csv(&[r]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "2,train,\"pursuit, ff\",7,0,0,0.000000,0.000000,,,,,,,,0,5,0,0.500000"
        );
        assert_eq!(
            lines[0].split(',').count(),
            19,
            "header and rows must have the same width"
        );
    }
}
