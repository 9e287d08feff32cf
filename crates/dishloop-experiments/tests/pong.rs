//! Pong: the learning signal on CI-sized runs (multi-seed), baselines, ablations, held-out
//! evaluation, determinism and brain files.

use dishloop_experiments::Experiment;
use dishloop_experiments::pong::brain::{Brain, FORMAT};
use dishloop_experiments::pong::{
    Ablation, AgentKind, FeedbackMode, GameEvent, PaddleMode, PongConfig, PongSession,
};

fn session(agent: AgentKind, seed: u64, set: &[&str]) -> PongSession {
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    let cfg = PongConfig::new(agent, None, seed)
        .unwrap()
        .with_overrides(&set)
        .unwrap();
    PongSession::new(cfg).unwrap()
}

/// Hit rate of events in frames [lo, hi).
fn rate(s: &PongSession, lo: u64, hi: u64) -> f64 {
    s.log().hit_rate_in(lo, hi)
}

/// Held-out hit rate over `frames` with the agent frozen and exploration off.
fn held_out(s: &mut PongSession, frames: u64) -> f64 {
    s.set_training(false);
    let before = s.log().events.len();
    s.run(frames);
    let ev = &s.log().events[before..];
    let hits = ev.iter().filter(|e| e.event == GameEvent::Hit).count();
    hits as f64 / ev.len() as f64
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Static paddle over many balls: the chance level every learner must beat.
fn static_rate() -> f64 {
    let mut s = session(AgentKind::Static, 11, &[]);
    s.run(40_000);
    s.log().hit_rate()
}

#[test]
fn baselines_sit_at_chance() {
    // A centred paddle of height 0.2 returns 19.4 % of balls launched from the centre (see
    // game.rs); a paddle at a fresh random height every frame ~20 %. Measured 17.5 % and
    // 19.7 % (40 000 frames, ~1000 balls).
    let st = static_rate();
    assert!((0.16..0.25).contains(&st), "static {st}");
    let mut r = session(AgentKind::Random, 11, &[]);
    r.run(40_000);
    let rr = r.log().hit_rate();
    assert!((0.15..0.25).contains(&rr), "random {rr}");
}

#[test]
fn pursuit_learns_on_every_seed() {
    // 3000 frames on the default 512-neuron bank. Measured (seeds 1-3): first 1000 frames
    // 0.40-0.65, frames 2000-3000 0.96-1.0, held-out 1.0.
    let st = static_rate();
    let (mut first, mut last, mut eval) = (vec![], vec![], vec![]);
    for seed in 1..=3 {
        let mut s = session(AgentKind::Pursuit, seed, &[]);
        s.run(3000);
        let (f, l) = (rate(&s, 0, 1000), rate(&s, 2000, 3000));
        assert!(l > f, "seed {seed}: last {l} <= first {f}");
        assert!(l > st + 0.25, "seed {seed}: last {l} vs static {st}");
        first.push(f);
        last.push(l);
        eval.push(held_out(&mut s, 1500));
    }
    assert!(mean(&last) - mean(&first) > 0.25, "{first:?} -> {last:?}");
    assert!(mean(&eval) > 0.8, "held-out {eval:?}");
}

#[test]
fn reservoir_learns_with_fixed_recurrent_weights() {
    let st = static_rate();
    let mut last = vec![];
    for seed in 1..=2 {
        let mut s = session(AgentKind::Reservoir, seed, &[]);
        let w0: Vec<f32> = s.network().unwrap().csr().weights().to_vec();
        assert!(
            w0.len() > 10_000,
            "a recurrent culture: {} synapses",
            w0.len()
        );
        s.run(3000);
        let (f, l) = (rate(&s, 0, 1000), rate(&s, 2000, 3000));
        assert!(l > f && l > st + 0.3, "seed {seed}: {f} -> {l}");
        last.push(l);
        // The recurrent weights were never touched.
        assert_eq!(s.network().unwrap().csr().weights(), &w0[..]);
    }
    assert!(mean(&last) > 0.6, "{last:?}");
}

#[test]
fn rstdp_learning_curve_rises_on_every_seed() {
    // CI-sized: 400 neurons (the default is 800), 5000 frames. Each seed: the held-out hit
    // rate of the trained projection beats the same agent untrained; across seeds the
    // training curve rises. Measured (seeds 1-3): held-out untrained 0.07-0.21, trained
    // 0.54-0.75; training hit rate first 1000 frames 0.32 mean, frames 3000-5000 0.54.
    let st = static_rate();
    let (mut first, mut last) = (vec![], vec![]);
    for seed in 1..=3 {
        let cfg = PongConfig::new(AgentKind::Rstdp, Some(400), seed).unwrap();
        let mut untrained = PongSession::new(cfg.clone()).unwrap();
        let u = held_out(&mut untrained, 1500);
        let mut s = PongSession::new(cfg).unwrap();
        s.run(5000);
        first.push(rate(&s, 0, 1000));
        last.push(rate(&s, 3000, 5000));
        let t = held_out(&mut s, 1500);
        assert!(t > u + 0.15, "seed {seed}: untrained {u} -> trained {t}");
        assert!(t > st + 0.2, "seed {seed}: trained {t} vs static {st}");
    }
    assert!(mean(&last) > mean(&first) + 0.1, "{first:?} -> {last:?}");
}

#[test]
fn ablations_do_not_learn() {
    // Shuffled reward keeps the reward distribution but breaks its link to the action;
    // a frozen readout never moves from the centre.
    let st = static_rate();
    let mut shuffled = vec![];
    for seed in 1..=2 {
        let mut s = session(AgentKind::Pursuit, seed, &["ablation=shuffled_reward"]);
        s.run(3000);
        shuffled.push(rate(&s, 1500, 3000));
    }
    assert!(
        mean(&shuffled) < st + 0.15,
        "shuffled {shuffled:?} vs static {st}"
    );
    let mut frozen = session(AgentKind::Pursuit, 1, &["ablation=frozen"]);
    frozen.run(2000);
    assert!(!frozen.training());
    let r = frozen.readout().unwrap();
    assert!(r.w.iter().all(|&w| w == 0.0) && r.b == 0.5);
    assert!(frozen.log().hit_rate() < st + 0.12);
}

#[test]
fn smooth_paddle_learns() {
    let st = static_rate();
    let mut s = session(AgentKind::Pursuit, 2, &["paddle=smooth"]);
    assert_eq!(s.config().paddle, PaddleMode::Smooth);
    s.run(3000);
    let l = rate(&s, 2000, 3000);
    assert!(l > st + 0.3, "smooth last {l}");
}

#[test]
fn reflex_tracks_the_ball_side_without_learning() {
    // BL-1's comparator (up half vs down half of the sensory bands) with its 4-40 Hz
    // frequency code: measured 31.6 % (seed 1, 3000 frames).
    let mut s = session(AgentKind::Reflex, 1, &[]);
    s.run(3000);
    assert!(s.readout().is_none() && s.rstdp().is_none());
    let r = s.log().hit_rate();
    assert!((0.2..0.45).contains(&r), "reflex {r}");
}

#[test]
fn same_seed_same_game_and_phases_equal_step() {
    let mut a = session(AgentKind::Pursuit, 5, &[]);
    let mut b = session(AgentKind::Pursuit, 5, &[]);
    for _ in 0..300 {
        // Debug text: NaN (no event yet) compares unequal to itself.
        assert_eq!(format!("{:?}", a.step()), format!("{:?}", b.step()));
    }
    // The Experiment phases, called one by one, are exactly one step.
    let mut c = session(AgentKind::Pursuit, 5, &[]);
    c.run(300);
    let o = c.observe();
    c.encode(&o);
    c.stimulate();
    let act = c.decode(&o);
    let out = c.act(&o, &act);
    c.feedback(&o, &act, &out);
    let info = a.step();
    assert_eq!(c.game().ball, a.game().ball);
    assert_eq!(c.game().paddle, info.paddle);
    assert_eq!(c.readout().unwrap().w, a.readout().unwrap().w);
}

#[test]
fn feedback_policies_stimulate_after_events_only_when_asked() {
    // Frames right after an event: FEP and open loop add current to the sensory bands, so
    // the culture fires more than under silent feedback (same seed, same first event).
    let spikes_after_first_event = |fb: &str| {
        let mut s = session(AgentKind::Reflex, 3, &[&format!("feedback={fb}")]);
        loop {
            let i = s.step();
            if i.event.is_some() {
                return s.step().spikes;
            }
        }
    };
    let (silent, fep, open) = (
        spikes_after_first_event("silent"),
        spikes_after_first_event("fep"),
        spikes_after_first_event("open_loop"),
    );
    assert!(fep > silent + 50, "fep {fep} silent {silent}");
    assert!(open > silent + 50, "open loop {open} silent {silent}");
    let cfg = session(AgentKind::Reflex, 3, &["feedback=open_loop"]);
    assert_eq!(cfg.config().feedback, FeedbackMode::OpenLoop);
}

#[test]
fn overrides_name_unknown_fields_and_bad_values() {
    let cfg = PongConfig::new(AgentKind::Pursuit, None, 1).unwrap();
    let e = cfg
        .clone()
        .with_overrides(&["readout.etaa=0.1".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no field `etaa`"), "{e}");
    let e = cfg
        .clone()
        .with_overrides(&["n_bands=1".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("n_bands"), "{e}");
    let e = cfg
        .with_overrides(&["frame_steps".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("path=value"), "{e}");
    // Too few neurons for 16 bands is refused with advice, not a panic.
    let small = PongConfig::new(AgentKind::Rstdp, Some(40), 1).unwrap();
    let e = PongSession::new(small).err().unwrap().to_string();
    assert!(e.contains("--neurons"), "{e}");
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dishloop-pong-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn brain_round_trip_keeps_the_hit_rate() {
    let mut s = session(AgentKind::Pursuit, 4, &[]);
    s.run(3000);
    let path = tmp("pursuit.yaml");
    s.save_brain(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&format!("format: {FORMAT}\nversion: 1\n")),
        "{}",
        &text[..60]
    );
    assert!(text.len() < 40_000, "small: {} bytes", text.len());
    // No temporary file is left next to it.
    let siblings = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    let saved_eval = held_out(&mut s, 2000);
    let mut l = PongSession::load_brain(&path).unwrap();
    assert_eq!(l.steps_trained_before(), 3000);
    assert_eq!(l.readout().unwrap().w, s.readout().unwrap().w);
    let loaded_eval = held_out(&mut l, 2000);
    assert!(
        (loaded_eval - saved_eval).abs() < 0.1 && loaded_eval > 0.8,
        "saved {saved_eval} loaded {loaded_eval}"
    );
    // Saving again overwrites atomically.
    l.save_brain(&path).unwrap();
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        siblings
    );
    let b = Brain::read(&path).unwrap();
    assert_eq!(b.stats.steps_trained, 3000);
}

#[test]
fn rstdp_brain_round_trip_restores_the_plastic_weights() {
    let cfg = PongConfig::new(AgentKind::Rstdp, Some(400), 2).unwrap();
    let mut s = PongSession::new(cfg).unwrap();
    s.run(600);
    let path = tmp("rstdp.yaml");
    s.save_brain(&path).unwrap();
    let l = PongSession::load_brain(&path).unwrap();
    let (a, b) = (&s.rstdp().unwrap().weights, &l.rstdp().unwrap().weights);
    assert_eq!(a.len(), b.len());
    let span = s.config().rstdp.rule.w_max - s.config().rstdp.rule.w_min;
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(worst <= span / 65535.0, "quantisation error {worst}");
    // The weights are in the rebuilt network too.
    let net = l.network().unwrap().csr().weights();
    let proj = &l.rstdp().unwrap().proj;
    assert_eq!(net[proj.csr_index[7] as usize], b[7]);
}

#[test]
fn bad_brain_files_are_refused_with_a_reason() {
    let mut s = session(AgentKind::Pursuit, 6, &[]);
    s.run(200);
    let good = s.brain();
    let text = serde_yaml_ng::to_string(&good).unwrap();
    let check = |t: &str, want: &str| {
        let e = Brain::from_yaml(t, "x.yaml").unwrap_err().to_string();
        assert!(e.contains(want), "expected `{want}` in: {e}");
        assert!(e.contains("x.yaml"), "{e}");
    };
    check("", "empty");
    check(&text[..text.len() / 2], "truncated");
    check(
        "format: dishloop-pong-brain\nversion: 1\nconfig: [1, 2",
        "not valid YAML",
    );
    check(
        &text.replacen("version: 1", "version: 2", 1),
        "version 2 is not supported",
    );
    check(&text.replacen("version: 1\n", "", 1), "version is missing");
    check(
        &text.replacen(FORMAT, "some-other-thing", 1),
        "not a dishloop Pong brain",
    );
    check("just some text", "not a dishloop Pong brain");
    // A readout whose weight count does not match its inputs.
    let mut bad = good.clone();
    if let dishloop_experiments::pong::brain::LearnerState::Readout { readout, .. } =
        &mut bad.learner
    {
        readout.w.pop();
    }
    check(&serde_yaml_ng::to_string(&bad).unwrap(), "invalid readout");
    // The brain of another agent kind.
    let mut wrong = good.clone();
    wrong.config.agent = AgentKind::Rstdp;
    wrong.config.culture.culture.n_neurons = 400;
    let e = PongSession::from_brain(wrong, "y.yaml")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("does not match"), "{e}");
    // A missing file.
    let e = PongSession::load_brain(&tmp("nope.yaml"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("cannot read"), "{e}");
}

#[test]
fn frozen_evaluation_freezes_and_resumes() {
    let mut s = session(AgentKind::Pursuit, 7, &[]);
    s.run(500);
    s.set_training(false);
    let w = s.readout().unwrap().w.clone();
    let info = s.step();
    assert!(!info.training && info.sigma == 0.0);
    s.run(200);
    assert_eq!(s.readout().unwrap().w, w);
    s.set_training(true);
    s.run(50);
    assert_ne!(s.readout().unwrap().w, w);
    let _ = Ablation::None;
}
