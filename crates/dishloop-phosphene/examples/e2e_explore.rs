use dishloop_phosphene::e2e::*;
fn main() {
    for kind in [EncoderKind::Learned, EncoderKind::LearnedQuantised] {
        let cfg = E2eConfig { encoder: kind, n_train: 600, n_test: 200, epochs: 5, ..E2eConfig::default() };
        let (r, _, _) = train(&cfg).unwrap();
        println!("{kind:?}: train {:?} test {:?} amp {:.1} ({:.1}s)", r.train_mse, r.test_mse, r.mean_amplitude_ua, r.wall_s);
    }
}
