//! The wiring is a pure function of (config, seed): these tests pin the exact network (every
//! synapse's pre, post, class, weight bits and delay, in CSR order) of a few small cultures, so
//! that any change to how `connect` builds the matrix (chunking, parallelism, memory layout)
//! must reproduce it bit for bit.
//!
//! The configs are spelled out in full here (every field that reaches placement or wiring), so
//! that edits to the embedded configs or to `CultureSection`'s defaults do not move the pins.

use dishloop_culture::{Culture, CultureConfig, load_config};

/// FNV-1a (64 bit) over the CSR in row/segment order: per synapse (pre, post, inhibitory,
/// weight bits, delay), then (n, nnz, max_delay).
fn csr_hash(cult: &Culture) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(PRIME);
        }
    };
    let csr = &cult.spec.csr;
    let w = csr.weights();
    for pre in 0..csr.n() {
        for (d, range) in csr.row_segments(pre) {
            for s in range {
                eat(&(pre as u32).to_le_bytes());
                eat(&csr.target(s).to_le_bytes());
                eat(&[csr.is_inhibitory(s) as u8]);
                eat(&w[s].to_bits().to_le_bytes());
                eat(&d.to_le_bytes());
            }
        }
    }
    eat(&(csr.n() as u64).to_le_bytes());
    eat(&(csr.nnz() as u64).to_le_bytes());
    eat(&csr.max_delay().to_le_bytes());
    h
}

/// A full culture section; `extra` overrides/extends the wiring-relevant fields.
fn config(n: usize, side_um: f64, wiring_fields: &str) -> CultureConfig {
    let yaml = format!(
        "culture:\n  n_neurons: {n}\n  ei_ratio: 0.8\n  substrate_um: [{side_um}, {side_um}]\n  \
         neuron_types: {{RS: 0.8, IB: 0.1, CH: 0.1, FS: 0.8, LTS: 0.2}}\n  \
         model: izhikevich\n{wiring_fields}simulation:\n  dt_ms: 0.5\n  duration_ms: 1000\n"
    );
    CultureConfig::from_yaml(&yaml).expect("test config is valid")
}

const DALE: &str = "  p_max: 0.21\n  lambda_um: 200\n  cutoff_lambdas: 5\n  g_exc: 0.05\n  \
                    g_inh: 0.20\n  weight_jitter: 0.1\n  axon_velocity_um_per_ms: 300\n  \
                    wiring: dale\n";
const LEGACY: &str = "  p_max: 0.21\n  lambda_um: 200\n  cutoff_lambdas: 15\n  g_exc: 0.12\n  \
                      g_inh: 0.36\n  weight_jitter: 0.1\n  axon_velocity_um_per_ms: 100000\n  \
                      wiring: legacy_bl1\n";
/// p_max = 1 with a short λ: the cell at distance 0 has p_cell = 1 (no geometric skipping),
/// and slow axons (1 µm/ms) give delays of up to ~240 steps.
const DENSE: &str = "  p_max: 1.0\n  lambda_um: 40\n  cutoff_lambdas: 3\n  g_exc: 0.07\n  \
                     g_inh: 0.11\n  weight_jitter: 0.5\n  axon_velocity_um_per_ms: 1\n  \
                     wiring: dale\n";
const EMPTY: &str = "  p_max: 0.0\n  lambda_um: 200\n  cutoff_lambdas: 5\n  g_exc: 0.05\n  \
                     g_inh: 0.20\n  weight_jitter: 0.1\n  axon_velocity_um_per_ms: 300\n  \
                     wiring: dale\n";

// The pinned (nnz, hash) pairs below were produced by the previous implementation of
// `wiring::connect` (a `Vec` of per-neuron rows collected in parallel, then `Csr::from_rows`)
// at commit 4c7d64a.

#[test]
fn dale_culture_is_bit_identical_to_the_pinned_network() {
    let cult = Culture::build(&config(6000, 1800.0, DALE), 7).unwrap();
    assert_eq!(
        (cult.n_synapses(), csr_hash(&cult)),
        (430_515, 3_587_736_301_638_212_513)
    );
}

#[test]
fn legacy_culture_is_bit_identical_to_the_pinned_network() {
    let cult = Culture::build(&config(3000, 1400.0, LEGACY), 11).unwrap();
    assert_eq!(
        (cult.n_synapses(), csr_hash(&cult)),
        (165_034, 8_048_304_626_583_431_638)
    );
}

#[test]
fn dense_culture_is_bit_identical_to_the_pinned_network() {
    let cult = Culture::build(&config(2500, 600.0, DENSE), 3).unwrap();
    assert_eq!(
        (cult.n_synapses(), csr_hash(&cult)),
        (124_267, 7_582_717_277_811_787_428)
    );
}

#[test]
fn empty_wiring_gives_an_empty_matrix() {
    let cult = Culture::build(&config(1000, 1000.0, EMPTY), 1).unwrap();
    assert_eq!(cult.n_synapses(), 0);
    assert_eq!(cult.spec.csr.n(), 1000);
    assert_eq!(csr_hash(&cult), 770_554_689_088_752_828);
}

#[test]
fn wiring_does_not_depend_on_the_thread_count() {
    let cfg = config(6000, 1800.0, DALE);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| csr_hash(&Culture::build(&cfg, 7).unwrap()));
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(|| csr_hash(&Culture::build(&cfg, 7).unwrap()));
    assert_eq!(one, three);
}

/// The embedded full-size cultures (`default`: 100 000 neurons, ~48 M synapses). Ignored:
/// seconds of wiring, and the pins follow the embedded configs (`default` as of commit
/// 4c7d64a, `wagenaar_calibrated` as recalibrated with lognormal weights; an edit to a config
/// legitimately changes them). Run with
/// `cargo test -p dishloop-culture --test wiring_identity -- --ignored`.
#[test]
#[ignore]
fn embedded_full_size_cultures_are_bit_identical_to_the_pinned_networks() {
    for (name, want) in [
        ("default", (47_856_501, 11_821_956_309_873_456_039)),
        ("wagenaar_calibrated", (118_027, 11_547_704_406_148_942_791)),
    ] {
        let cult = Culture::build(&load_config(name).unwrap(), 1).unwrap();
        assert_eq!((cult.n_synapses(), csr_hash(&cult)), want, "{name}");
    }
}
