//! Brain files: a trained Pong agent in a small, versioned, human-readable YAML file.
//!
//! ```yaml
//! format: dishloop-pong-brain
//! version: 1
//! config: { agent: pursuit, paddle: direct, seed: 1, culture: {...}, readout: {...}, ... }
//! learner: { kind: readout, readout: { w: [...], b: 0.5, ... }, baseline: {...} }
//! stats: { steps_trained: 8000, hits: 150, misses: 80, hit_rate_last_1000: 0.72 }
//! ```
//!
//! The substrate (culture placement, wiring, noise streams) is rebuilt from the culture config
//! and seed; only learned state is stored. Files are written atomically (temporary file in the
//! same directory, fsync, rename), and a file that is not a brain, is truncated or corrupt, or
//! has another format version is refused with a message naming the problem.

use std::io::Write;
use std::path::Path;

use dishloop_learn::{BinnedBaseline, GaussianReadout};
use serde::{Deserialize, Serialize};

use super::{Agent, PongConfig, PongError, PongSession};

/// The `format` tag of a brain file.
pub const FORMAT: &str = "dishloop-pong-brain";
/// The version written and the only one read.
pub const VERSION: u32 = 1;

/// Learned state of an agent.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LearnerState {
    /// Baselines and the reflex agent learn nothing.
    None,
    /// Pursuit / reservoir readout.
    Readout {
        /// The readout (weights, bias, schedules, update count).
        readout: GaussianReadout,
        /// The reward baseline per ball band.
        baseline: BinnedBaseline,
    },
    /// R-STDP plastic projection.
    Rstdp {
        /// Plastic weights, in projection order (packed: ~10⁵ of them).
        weights: PackedWeights,
        /// Number of plastic synapses (checked against the rebuilt substrate).
        n_plastic: usize,
        /// Reinforcements applied.
        updates: u64,
        /// The reward baseline per ball band.
        baseline: BinnedBaseline,
    },
}

/// Performance when saved.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BrainStats {
    /// Frames trained in total.
    pub steps_trained: u64,
    /// Hits in training (this and earlier sessions).
    pub hits: u64,
    /// Misses in training.
    pub misses: u64,
    /// Hit rate over the last 1000 frames when saved.
    pub hit_rate_last_1000: f64,
}

/// A brain file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brain {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The full run configuration (agent, culture config, seed, hyper-parameters).
    pub config: PongConfig,
    /// Learned state.
    pub learner: LearnerState,
    /// Performance when saved.
    pub stats: BrainStats,
}

impl Brain {
    /// Parses and checks a brain from YAML text; `path` is only used in messages.
    pub fn from_yaml(text: &str, path: &str) -> Result<Self, PongError> {
        let err = |message: String| PongError::Brain {
            path: path.into(),
            message,
        };
        if text.trim().is_empty() {
            return Err(err("the file is empty".into()));
        }
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .map_err(|e| err(format!("not valid YAML (corrupt or truncated?): {e}")))?;
        let format = value.get("format").and_then(|v| v.as_str());
        if format != Some(FORMAT) {
            return Err(err(format!(
                "not a dishloop Pong brain (format is {}, expected `{FORMAT}`)",
                format.map_or("missing".into(), |f| format!("`{f}`"))
            )));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == VERSION as u64 => {}
            Some(v) => {
                return Err(err(format!(
                    "format version {v} is not supported (this dishloop reads version {VERSION})"
                )));
            }
            None => return Err(err("the format version is missing".into())),
        }
        let brain: Brain = serde_yaml_ng::from_value(value)
            .map_err(|e| err(format!("incomplete or corrupt brain (truncated?): {e}")))?;
        brain
            .config
            .validate()
            .map_err(|e| err(format!("invalid config: {e}")))?;
        match &brain.learner {
            LearnerState::Readout { readout, .. } => {
                readout
                    .validate()
                    .map_err(|e| err(format!("invalid readout: {e}")))?;
            }
            LearnerState::Rstdp {
                weights, n_plastic, ..
            } => {
                let w = weights
                    .unpack()
                    .map_err(|e| err(format!("plastic weights: {e}")))?;
                if w.len() != *n_plastic {
                    return Err(err(format!(
                        "truncated plastic weights: {} of {n_plastic}",
                        w.len()
                    )));
                }
            }
            LearnerState::None => {}
        }
        Ok(brain)
    }

    /// Reads a brain file.
    pub fn read(path: &Path) -> Result<Self, PongError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PongError::Brain {
            path: p.clone(),
            message: format!("cannot read: {e}"),
        })?;
        Self::from_yaml(&text, &p)
    }

    /// Writes the brain atomically: a temporary file next to `path`, fsync, rename.
    pub fn write(&self, path: &Path) -> Result<(), PongError> {
        let p = path.display().to_string();
        let err = |message: String| PongError::Brain {
            path: p.clone(),
            message,
        };
        let text =
            serde_yaml_ng::to_string(self).map_err(|e| err(format!("cannot serialise: {e}")))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "brain".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, path)?;
            // Persist the rename itself.
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(format!("cannot write: {e}")));
        }
        Ok(())
    }
}

impl PongSession {
    /// The agent's learned state and configuration as a [`Brain`].
    pub fn brain(&self) -> Brain {
        let learner = match &self.agent {
            Agent::Readout { readout, baseline } => LearnerState::Readout {
                readout: readout.clone(),
                baseline: baseline.clone(),
            },
            Agent::Rstdp { learner, baseline } => LearnerState::Rstdp {
                weights: PackedWeights::pack(
                    &learner.weights,
                    learner.cfg.w_min,
                    learner.cfg.w_max,
                ),
                n_plastic: learner.proj.len(),
                updates: learner.updates,
                baseline: baseline.clone(),
            },
            _ => LearnerState::None,
        };
        let (h0, m0) = self.prior_counts;
        Brain {
            format: FORMAT.into(),
            version: VERSION,
            config: self.cfg.clone(),
            learner,
            stats: BrainStats {
                steps_trained: self.trained_steps_before + self.trained_steps,
                hits: h0
                    + self
                        .log
                        .events
                        .iter()
                        .filter(|e| e.training && e.event == super::GameEvent::Hit)
                        .count() as u64,
                misses: m0
                    + self
                        .log
                        .events
                        .iter()
                        .filter(|e| e.training && e.event == super::GameEvent::Miss)
                        .count() as u64,
                hit_rate_last_1000: self.recent_hit_rate(),
            },
        }
    }

    /// Saves the agent to `path` (atomically).
    pub fn save_brain(&self, path: &Path) -> Result<(), PongError> {
        self.brain().write(path)
    }

    /// Rebuilds a session from a brain file: same config, culture and seed, learned state
    /// restored. The game continues on a fresh random stream (not a replay of training).
    pub fn load_brain(path: &Path) -> Result<Self, PongError> {
        let brain = Brain::read(path)?;
        Self::from_brain(brain, &path.display().to_string())
    }

    /// As [`Self::load_brain`] from a parsed brain.
    pub fn from_brain(brain: Brain, origin: &str) -> Result<Self, PongError> {
        let err = |message: String| PongError::Brain {
            path: origin.into(),
            message,
        };
        let mut s = PongSession::new(brain.config.clone())?;
        match (&mut s.agent, brain.learner) {
            (
                Agent::Readout { readout, baseline },
                LearnerState::Readout {
                    readout: r,
                    baseline: b,
                },
            ) => {
                if r.w.len() != readout.w.len() {
                    return Err(err(format!(
                        "readout has {} weights, the agent needs {}",
                        r.w.len(),
                        readout.w.len()
                    )));
                }
                if b.bins() != baseline.bins() {
                    return Err(err(format!(
                        "baseline has {} bins, the agent needs {}",
                        b.bins(),
                        baseline.bins()
                    )));
                }
                *readout = r;
                *baseline = b;
            }
            (
                Agent::Rstdp { learner, baseline },
                LearnerState::Rstdp {
                    weights,
                    n_plastic,
                    updates,
                    baseline: b,
                },
            ) => {
                if n_plastic != learner.proj.len() {
                    return Err(err(format!(
                        "{n_plastic} plastic synapses saved, the rebuilt substrate has {}",
                        learner.proj.len()
                    )));
                }
                if b.bins() != baseline.bins() {
                    return Err(err(format!(
                        "baseline has {} bins, the agent needs {}",
                        b.bins(),
                        baseline.bins()
                    )));
                }
                let w = weights
                    .unpack()
                    .map_err(|e| err(format!("plastic weights: {e}")))?;
                if w.len() != learner.proj.len() {
                    return Err(err(format!(
                        "{} plastic weights for {} plastic synapses",
                        w.len(),
                        learner.proj.len()
                    )));
                }
                learner.weights = w;
                learner.updates = updates;
                *baseline = b;
            }
            (Agent::Static | Agent::Random | Agent::Reflex, LearnerState::None) => {}
            _ => {
                return Err(err(format!(
                    "learner state does not match agent `{}`",
                    brain.config.agent
                )));
            }
        }
        s.trained_steps_before = brain.stats.steps_trained;
        s.prior_counts = (brain.stats.hits, brain.stats.misses);
        s.game = super::PongGame::new(
            s.cfg.game.clone(),
            s.cfg.seed,
            0xBA11 ^ brain.stats.steps_trained.wrapping_mul(0x9E37),
        );
        s.rng = dishloop_core::rng::SplitMix::new(s.cfg.seed, 0xE7E7 ^ brain.stats.steps_trained);
        s.sync_weights();
        s.apply_training_mode();
        Ok(s)
    }
}

/// Many weights in a few bytes each: 16-bit levels over `[lo, hi]`, little endian, base64
/// (RFC 4648). Quantisation error ≤ (hi − lo)/131070, far below what the agent notices.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PackedWeights {
    /// Always `u16le-base64`.
    pub encoding: String,
    /// Value of level 0.
    pub lo: f32,
    /// Value of level 65535.
    pub hi: f32,
    /// Number of weights.
    pub n: usize,
    /// The levels.
    pub data: String,
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl PackedWeights {
    /// Packs `w` (values are clamped to `[lo, hi]`).
    pub fn pack(w: &[f32], lo: f32, hi: f32) -> Self {
        let span = (hi - lo).max(f32::MIN_POSITIVE);
        let mut bytes = Vec::with_capacity(2 * w.len());
        for &x in w {
            let q = (((x - lo) / span).clamp(0.0, 1.0) * 65535.0).round() as u16;
            bytes.extend_from_slice(&q.to_le_bytes());
        }
        let mut data = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for c in bytes.chunks(3) {
            let v = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for k in 0..4 {
                if k <= c.len() {
                    data.push(B64[(v >> (18 - 6 * k) & 63) as usize] as char);
                } else {
                    data.push('=');
                }
            }
        }
        Self {
            encoding: "u16le-base64".into(),
            lo,
            hi,
            n: w.len(),
            data,
        }
    }

    /// Unpacks, checking the encoding, the characters and the length.
    pub fn unpack(&self) -> Result<Vec<f32>, String> {
        if self.encoding != "u16le-base64" {
            return Err(format!(
                "unknown encoding `{}` (expected u16le-base64)",
                self.encoding
            ));
        }
        if !(self.lo.is_finite() && self.hi.is_finite() && self.lo <= self.hi) {
            return Err(format!("bad range [{}, {}]", self.lo, self.hi));
        }
        let text: Vec<u8> = self
            .data
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if !text.len().is_multiple_of(4) {
            return Err(format!(
                "{} base64 characters is not a multiple of 4 (truncated?)",
                text.len()
            ));
        }
        let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
        for c in text.chunks(4) {
            let mut v = 0u32;
            let mut pad = 0;
            for &b in c {
                let d = match b {
                    b'A'..=b'Z' => b - b'A',
                    b'a'..=b'z' => b - b'a' + 26,
                    b'0'..=b'9' => b - b'0' + 52,
                    b'+' => 62,
                    b'/' => 63,
                    b'=' => {
                        pad += 1;
                        0
                    }
                    _ => return Err(format!("invalid base64 character `{}`", b as char)),
                };
                v = v << 6 | d as u32;
            }
            let take = 3 - pad.min(2);
            bytes.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8][..take]);
        }
        if bytes.len() != 2 * self.n {
            return Err(format!(
                "{} bytes for {} weights (truncated?)",
                bytes.len(),
                self.n
            ));
        }
        let span = self.hi - self.lo;
        Ok(bytes
            .chunks(2)
            .map(|c| self.lo + span * u16::from_le_bytes([c[0], c[1]]) as f32 / 65535.0)
            .collect())
    }
}

/// Checks that a config round-trips (used by tests).
#[doc(hidden)]
pub fn config_roundtrip(cfg: &PongConfig) -> bool {
    serde_yaml_ng::to_string(cfg)
        .ok()
        .and_then(|t| serde_yaml_ng::from_str::<PongConfig>(&t).ok())
        .is_some_and(|c| &c == cfg)
}
