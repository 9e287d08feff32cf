//! Property test: any valid `SpikeTrains` (and sidecar metadata) survives a write/read of the
//! spike file set bit for bit.

use dishloop_analysis::SpikeTrains;
use dishloop_analysis::spikes::{SpikeFileMeta, read_spikes, write_spikes};
use proptest::prelude::*;

fn trains() -> impl Strategy<Value = SpikeTrains> {
    (
        1u32..5000,
        prop::num::f64::POSITIVE.prop_filter("finite", |d| d.is_finite()),
        0u64..1_000_000,
    )
        .prop_flat_map(|(n_neurons, dt_ms, extra_steps)| {
            (
                Just(n_neurons),
                Just(dt_ms),
                Just(extra_steps),
                prop::collection::vec((any::<u32>(), 0..n_neurons), 0..400),
            )
        })
        .prop_map(|(n_neurons, dt_ms, extra, pairs)| {
            let max_step = pairs.iter().map(|p| u64::from(p.0)).max().unwrap_or(0);
            SpikeTrains::from_unsorted(n_neurons, dt_ms, max_step + 1 + extra, pairs)
                .expect("valid by construction")
        })
}

fn meta() -> impl Strategy<Value = SpikeFileMeta> {
    (
        prop::option::of(any::<u32>()),
        prop::collection::btree_map("[a-z_]{1,8}", ".{0,12}", 0..4),
        prop::option::of(any::<f64>().prop_filter("finite", |v| v.is_finite())),
    )
        .prop_map(|(n_exc, strings, number)| {
            let mut metadata = serde_json::Map::new();
            for (k, v) in strings {
                metadata.insert(k, serde_json::Value::String(v));
            }
            if let Some(x) = number {
                metadata.insert("x".into(), serde_json::json!(x));
            }
            SpikeFileMeta { n_exc, metadata }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn spike_files_round_trip_bit_exactly(s in trains(), m in meta()) {
        let dir = std::env::temp_dir().join(format!("dl-prop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("p");
        write_spikes(&stem, &s, &m).unwrap();
        let back = read_spikes(&stem).unwrap();
        prop_assert_eq!(back.trains.dt_ms.to_bits(), s.dt_ms.to_bits());
        prop_assert_eq!(&back.trains, &s);
        prop_assert_eq!(&back.meta, &m);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Parallel parts (bootstrap, random graphs, matrices) give identical results on 1 and 3
/// threads.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    use dishloop_analysis::connectivity::{
        RandomReference, erdos_renyi_gnm, rich_club, small_world,
    };
    use dishloop_analysis::powerlaw::{
        PowerLawOptions, fit_power_law, power_law_gof, sample_power_law, seeded_rng,
    };
    let x = sample_power_law(2.2, 2, 800, &mut seeded_rng(1));
    let opts = PowerLawOptions::default();
    let fit = fit_power_law(&x, &opts).unwrap();
    let g = erdos_renyi_gnm(60, 200, 5);
    let run = || {
        (
            power_law_gof(&x, &fit, &opts, 24, 9),
            small_world(
                &g,
                RandomReference::ErdosRenyi {
                    n_graphs: 8,
                    seed: 3,
                },
            ),
            rich_club(&g, 8, 4),
        )
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(run);
    let three = pool(3).install(run);
    assert_eq!(one, three);
}
