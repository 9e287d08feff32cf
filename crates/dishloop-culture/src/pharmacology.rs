//! Drug presets as parameter changes of a running culture.
//!
//! | drug | mechanism | change here | expected effect |
//! |---|---|---|---|
//! | TTX | blocks voltage-gated Na⁺ channels (Narahashi et al. 1964, J Gen Physiol 47:965) | no action potentials | silence |
//! | CNQX | AMPA/kainate antagonist (Honoré et al. 1988, Science 241:701) | AMPA gain 0 | bursts abolished or strongly reduced |
//! | APV | NMDA antagonist (Davies et al. 1981) | NMDA gain 0 | shorter, fewer bursts |
//! | bicuculline | GABA_A antagonist (Curtis et al. 1970, Nature 226:1222) | GABA_A gain 0 | more, larger bursts |
//! | carbamazepine | use-dependent Na⁺ channel blocker (anticonvulsant) | AMPA and NMDA gain × 0.7 (BL-1 §3) | lower rates, fewer bursts |
//!
//! Wash-out restores the gains of the untreated culture.

use dishloop_core::Network;
use serde::{Deserialize, Serialize};

/// A drug preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drug {
    /// Tetrodotoxin.
    Ttx,
    /// 6-cyano-7-nitroquinoxaline-2,3-dione.
    Cnqx,
    /// (2R)-amino-5-phosphonovaleric acid.
    Apv,
    /// Bicuculline.
    Bicuculline,
    /// Carbamazepine.
    Carbamazepine,
}

impl Drug {
    /// All presets.
    pub const ALL: [Drug; 5] = [
        Drug::Ttx,
        Drug::Cnqx,
        Drug::Apv,
        Drug::Bicuculline,
        Drug::Carbamazepine,
    ];

    /// Parses a name (case-insensitive).
    pub fn parse(s: &str) -> Option<Drug> {
        Drug::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s))
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Drug::Ttx => "ttx",
            Drug::Cnqx => "cnqx",
            Drug::Apv => "apv",
            Drug::Bicuculline => "bicuculline",
            Drug::Carbamazepine => "carbamazepine",
        }
    }

    /// The published direction of the effect, in words.
    pub fn expected_effect(self) -> &'static str {
        match self {
            Drug::Ttx => "silence: no action potentials",
            Drug::Cnqx => "network bursts abolished or strongly reduced",
            Drug::Apv => "fewer and shorter bursts",
            Drug::Bicuculline => "more and larger (longer, more spikes) bursts",
            Drug::Carbamazepine => "lower firing and burst rates",
        }
    }

    /// Applies the drug on top of the network's current state.
    pub fn apply(self, net: &mut Network) {
        let mut g = net.receptor_gains();
        match self {
            Drug::Ttx => net.set_spikes_blocked(true),
            Drug::Cnqx => g[0] = 0.0,
            Drug::Apv => g[1] = 0.0,
            Drug::Bicuculline => g[2] = 0.0,
            Drug::Carbamazepine => {
                g[0] *= 0.7;
                g[1] *= 0.7;
            }
        }
        // Gains stay finite and non-negative by construction.
        let _ = net.set_receptor_gains(g);
    }

    /// Washes every drug out.
    pub fn wash_out(net: &mut Network) {
        net.set_spikes_blocked(false);
        let _ = net.set_receptor_gains([1.0; 4]);
    }
}
