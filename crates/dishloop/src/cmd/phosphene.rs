//! `dishloop phosphene`: the dynaphos-equivalent phosphene simulator and its closed loops.
//!
//! `render` (renders of glyphs through the default implant, PNG + GIF), `pid` (PID / pure-I / P-only /
//! open-loop / learned RNN on step, ramp and sine targets with the drawn-intensity and mean-pixel
//! readouts, adaptation-off ablation, and per-channel PID on a grid), `train-decoder` (digit CNN on
//! phosphene renders), `end-to-end` (learned encoders + decoder through the simulator vs Sobel and direct,
//! optionally at an equal per-image charge budget), `fernandez` (the reference protocol table), `bench`
//! (render throughput vs the paper's 28.7 fps).

use anyhow::Context;
use dishloop_phosphene::controller::train_controller;
use dishloop_phosphene::decoder::{Pipeline, TrainConfig, make_dataset, train_decoder};
use dishloop_phosphene::e2e::{E2eConfig, EncoderInit, EncoderKind, HeldOut};
use dishloop_phosphene::figures::{
    PALETTE, Series, write_gif, write_gray_png, write_gray_row_png, write_line_chart,
};
use dishloop_phosphene::glyphs::{GlyphPose, rasterize};
use dishloop_phosphene::params::Params;
use dishloop_phosphene::pid::{
    self, Controller, MeanPixelReadout, OpenLoop, Pid, PidGains, Readout, Target,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Which phosphene job to run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Job {
    /// Render glyphs through the default implant (PNG, GIF).
    #[default]
    Render,
    /// Brightness control: PID variants, open loop, learned RNN; per-channel PID on a grid.
    Pid,
    /// Train the digit decoder CNN on phosphene renders.
    TrainDecoder,
    /// End-to-end encoder/decoder through the simulator vs a Sobel encoder.
    EndToEnd,
    /// Peak activation and brightness under the Fernández protocol, 10..100 µA.
    Fernandez,
    /// Render benchmark (10 000 phosphenes at 256² by default).
    Bench,
}

/// Flags of `dishloop phosphene`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// What to run.
    #[arg(value_enum, default_value_t = Job::Render)]
    pub job: Job,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// Folder for figures and JSON results.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed (implant layout, thresholds, data, weights).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of seeds for learned results (seed, seed+1, ...).
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Smaller, faster settings (CI-sized).
    #[arg(long)]
    pub quick: bool,
    /// Training epochs (overrides the default of the job).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training samples (overrides the default of the job).
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Phosphenes for `bench`.
    #[arg(long, default_value_t = 10_000)]
    pub phosphenes: usize,
    /// Resolution for `bench`.
    #[arg(long, default_value_t = 256)]
    pub resolution: usize,
    /// `end-to-end`: encoders to run, comma-separated from learned, quantised, sobel, direct.
    #[arg(long, default_value = "learned,quantised,sobel,direct")]
    pub encoders: String,
    /// `end-to-end`: per-image charge budget, mean amplitude over electrodes in µA, for every encoder.
    #[arg(long)]
    pub budget_ua: Option<f64>,
    /// `end-to-end`: the first version's training settings (random encoder init, lr 2e-3, no warm-up,
    /// clipping or charge penalty, 8 epochs).
    #[arg(long)]
    pub legacy: bool,
    /// `end-to-end`: evaluate on the validation images instead of the test images (for tuning).
    #[arg(long)]
    pub validation: bool,
    /// `end-to-end`: encoder learning rate (overrides the default).
    #[arg(long)]
    pub encoder_lr: Option<f32>,
    /// `end-to-end`: decoder learning rate (overrides the default 2e-3).
    #[arg(long)]
    pub decoder_lr: Option<f32>,
    /// `end-to-end`: charge-penalty weight (overrides the default).
    #[arg(long)]
    pub charge_penalty: Option<f64>,
    /// `end-to-end`: learned-encoder initialisation, `random` or `near-direct` (overrides the default).
    #[arg(long)]
    pub init: Option<String>,
}

fn out_dir(args: &Args) -> anyhow::Result<Option<PathBuf>> {
    if let Some(d) = &args.out {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        return Ok(Some(d.clone()));
    }
    Ok(None)
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

fn save_json(dir: &Option<PathBuf>, name: &str, v: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(d) = dir {
        std::fs::write(d.join(name), serde_json::to_string_pretty(v)?)?;
    }
    Ok(())
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = out_dir(&args)?;
    let result = match args.job {
        Job::Fernandez => fernandez(),
        Job::Render => render(&args, &dir),
        Job::Pid => pid_job(&args, &dir),
        Job::TrainDecoder => decoder_job(&args, &dir),
        Job::EndToEnd => e2e_job(&args, &dir),
        Job::Bench => bench_job(&args),
    }?;
    save_json(&dir, "result.json", &result)?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    }
    Ok(())
}

fn fernandez() -> anyhow::Result<serde_json::Value> {
    let amps = dishloop_phosphene::FERNANDEZ_AMPLITUDES_UA;
    let (a, b) = dishloop_phosphene::fernandez_protocol(&amps)?;
    eprintln!("amplitude_uA  peak_activation  peak_brightness");
    for i in 0..amps.len() {
        eprintln!("{:>12} {:>16.5e} {:>16.5}", amps[i], a[i], b[i]);
    }
    Ok(json!({"amplitudes_ua": amps, "peak_activation": a, "peak_brightness": b}))
}

fn render(args: &Args, dir: &Option<PathBuf>) -> anyhow::Result<serde_json::Value> {
    let pipe = Pipeline::default_implant(args.seed, 5)?;
    let (w, h) = (pipe.renderer.width_px(), pipe.renderer.height_px());
    let mut sim = pipe.sim.clone();
    let mut renders = Vec::new();
    let mut canvases = Vec::new();
    for g in [0usize, 3, 8, 10, 24] {
        let canvas = rasterize(g, w, h, &GlyphPose::default());
        let amps = pipe
            .renderer
            .sample(&canvas, sim.params(), sim.magnification(), true)?;
        renders.push(pipe.percept(&mut sim, &amps)?);
        canvases.push(canvas);
    }
    // A temporal GIF: '8' on for 1 s then off for 1 s, showing build-up, adaptation and decay.
    let canvas = rasterize(8, w, h, &GlyphPose::default());
    let amps = pipe
        .renderer
        .sample(&canvas, sim.params(), sim.magnification(), true)?;
    sim.reset();
    let zeros = vec![0.0; amps.len()];
    let mut frames = Vec::new();
    let mut mean_b = Vec::new();
    for f in 0..70 {
        sim.step(if f < 35 { &amps } else { &zeros })?;
        let img = pipe.renderer.render(&sim.intensity(), sim.sigma_deg());
        mean_b.push(img.iter().map(|v| *v as f64).sum::<f64>() / img.len() as f64);
        frames.push(img);
    }
    if let Some(d) = dir {
        let refs: Vec<&[f32]> = canvases
            .iter()
            .zip(&renders)
            .flat_map(|(c, r)| [&c[..], &r[..]])
            .collect();
        write_gray_row_png(&d.join("glyphs_and_renders.png"), &refs, w, h, 1)?;
        write_gray_png(&d.join("render_8.png"), &renders[2], w, h, 2)?;
        write_gif(&d.join("render_8_on_off.gif"), &frames, w, h, 35.0)?;
        eprintln!("wrote {}", d.display());
    }
    Ok(
        json!({"n_phosphenes": pipe.sim.n(), "resolution_px": w, "mean_pixel_per_frame_8_on_off": mean_b}),
    )
}

fn trace_chart(
    path: &Path,
    title: &str,
    runs: &[(String, pid::LoopTrace)],
    what: &str,
) -> anyhow::Result<()> {
    let mut series = Vec::new();
    if let Some((_, t)) = runs.first().filter(|_| what == "reading") {
        series.push(Series {
            label: "target".into(),
            points: t.t_s.iter().zip(&t.target).map(|(a, b)| (*a, *b)).collect(),
            rgb: [0, 0, 0],
        });
    }
    for (k, (name, t)) in runs.iter().enumerate() {
        let ys = match what {
            "amplitude" => &t.amplitude_ua,
            "brightness" => &t.brightness,
            _ => &t.reading,
        };
        series.push(Series {
            label: name.clone(),
            points: t.t_s.iter().zip(ys).map(|(a, b)| (*a, *b)).collect(),
            rgb: PALETTE[k % PALETTE.len()],
        });
    }
    write_line_chart(path, title, &series, 900, 420)?;
    Ok(())
}

fn metrics_row(
    name: &str,
    label: &str,
    m: &pid::Metrics,
) -> anyhow::Result<(String, serde_json::Value)> {
    eprintln!(
        "{name:>5} {label:>9}: rmse {:.3}  mean err {:+.3}  overshoot {:.1}%  settling {:.2} s  final |e| {:.3}  osc {}  mean drawn B {:.3}  visible {:.2}",
        m.rmse,
        m.mean_error,
        100.0 * m.overshoot,
        m.settling_time_s,
        m.final_abs_error,
        m.error_sign_changes,
        m.mean_brightness,
        m.visible_fraction
    );
    Ok((label.to_string(), serde_json::to_value(m)?))
}

/// Step, ramp and sine runs of a set of controllers on one electrode; charts when `dir` is set.
#[allow(clippy::too_many_arguments)]
fn pid_tables(
    p: &Params,
    layout: &dishloop_phosphene::PhospheneLayout,
    thr: f64,
    readout: &Readout,
    make: &dyn Fn() -> Vec<(String, Box<dyn Controller>)>,
    secs: f64,
    dir: &Option<PathBuf>,
    tag: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for name in ["step", "ramp", "sine"] {
        let target = Target::named(name).context("target")?;
        let mut runs = Vec::new();
        let mut rows = serde_json::Map::new();
        for (label, mut c) in make() {
            let tr = pid::run_single_with(
                p,
                layout.clone(),
                Some(thr),
                readout,
                c.as_mut(),
                &target,
                secs,
            )?;
            let m = pid::metrics(&tr, &target, 1.0);
            let (k, v) = metrics_row(name, &label, &m)?;
            rows.insert(k, v);
            runs.push((label, tr));
        }
        if let Some(d) = dir {
            for what in ["reading", "brightness", "amplitude"] {
                if what == "brightness" && *readout == Readout::Intensity {
                    continue;
                }
                trace_chart(
                    &d.join(format!("pid_{tag}_{name}_{what}.png")),
                    &format!("{tag} {name} - {what}"),
                    &runs,
                    what,
                )?;
            }
        }
        out.insert(name.into(), serde_json::Value::Object(rows));
    }
    Ok(serde_json::Value::Object(out))
}

fn pid_job(args: &Args, dir: &Option<PathBuf>) -> anyhow::Result<serde_json::Value> {
    let p = Params::default();
    let (layout, thr) = pid::demo_electrode(&p);
    let secs = if args.quick { 5.0 } else { 8.0 };
    let iters = if args.quick { 150 } else { 400 };
    let (rnn, rnn_rep) = train_controller(&p, thr, 8, iters, 4, 3.0, args.seed);
    let mean_pixel = Readout::MeanPixel(MeanPixelReadout::default());
    let mut out = serde_json::Map::new();
    eprintln!(
        "demo electrode: threshold {thr:.4e} (25th percentile; drawn brightness 0 or >= {:.3})",
        dishloop_phosphene::sim::FrameConstants::new(&p)
            .brightness(thr)
            .0
    );
    for readout in [Readout::Intensity, mean_pixel] {
        let tag = readout.name();
        let model = pid::plant_model(&p, &layout, thr, &readout)?;
        let ku = pid::ultimate_gain_ua(&model, 0.5);
        let zn = pid::ziegler_nichols_p_only(&model);
        let tune = pid::tune_pid(&p, &layout, thr, &readout, secs)?;
        eprintln!(
            "== readout {tag}: Ku {ku:.1} uA/unit -> Ziegler-Nichols P-only Kp {:.1}; grid search ({} of {} admissible): PID kp {} ki {} kd {} (mean rmse {:.4})",
            zn.kp,
            tune.admissible,
            tune.evaluated,
            tune.gains.kp,
            tune.gains.ki,
            tune.gains.kd,
            tune.mean_rmse
        );
        let with_rnn = readout == Readout::Intensity;
        let make = || {
            let mut v: Vec<(String, Box<dyn Controller>)> = vec![
                ("PID".into(), Box::new(Pid::new(tune.gains))),
                ("P only".into(), Box::new(Pid::new(zn))),
                ("pure I".into(), Box::new(Pid::new(PidGains::PURE_I))),
                ("open loop".into(), Box::new(OpenLoop::new(model.clone()))),
            ];
            if with_rnn {
                v.push(("RNN".into(), Box::new(rnn.clone())));
            }
            v
        };
        let tables = pid_tables(&p, &layout, thr, &readout, &make, secs, dir, tag)?;
        // Time profile of the step (onset 0.5 s): open loop (tracks, then drifts) and P-only against its
        // static steady-state error computed with the trace of the moment.
        let step = Target::named("step").context("step")?;
        let fps = p.run.fps;
        let mut open = OpenLoop::new(model.clone());
        let otr = pid::run_single_with(
            &p,
            layout.clone(),
            Some(thr),
            &readout,
            &mut open,
            &step,
            secs,
        )?;
        let ptr = pid::run_single_with(
            &p,
            layout.clone(),
            Some(thr),
            &readout,
            &mut Pid::new(zn),
            &step,
            secs,
        )?;
        let ctr = pid::run_single_with(
            &p,
            layout.clone(),
            Some(thr),
            &readout,
            &mut Pid::new(tune.gains),
            &step,
            secs,
        )?;
        let onset = (0.5 * fps).round() as usize;
        let first_dark = |tr: &pid::LoopTrace| {
            (onset + 2..tr.brightness.len())
                .find(|&i| tr.brightness[i] == 0.0)
                .map(|i| tr.t_s[i] - 0.5)
        };
        let (open_dark, p_dark) = (first_dark(&otr), first_dark(&ptr));
        eprintln!(
            "   step: first frame without a phosphene after onset: open loop {open_dark:?} s, P-only {p_dark:?} s"
        );
        let mut samples = Vec::new();
        for dt_s in [1.0 / fps, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 7.0] {
            let i = ((0.5 + dt_s) * fps).round() as usize;
            let pred = (readout == Readout::Intensity).then(|| {
                pid::p_only_static_error(&model, zn.kp, Pid::new(zn).bias_ua, 0.6, ptr.trace_ua[i])
            });
            eprintln!(
                "   step +{dt_s:.3} s: open loop reading {:.3} (trace {:.1} uA); P-only error {:.3}{}; PID {:.0} uA, drawn B {:.3}",
                otr.reading[i],
                otr.trace_ua[i],
                0.6 - ptr.reading[i],
                pred.map_or(String::new(), |e| format!(" (static prediction {e:.3})")),
                ctr.amplitude_ua[i],
                ctr.brightness[i]
            );
            samples.push(
                json!({"after_onset_s": dt_s, "open_loop_reading": otr.reading[i],
                "open_loop_trace_ua": otr.trace_ua[i], "p_only_error": 0.6 - ptr.reading[i],
                "p_only_static_error": pred, "pid_amplitude_ua": ctr.amplitude_ua[i],
                "pid_drawn_brightness": ctr.brightness[i]}),
            );
        }
        let profile = json!({"samples": samples, "open_loop_first_dark_s": open_dark,
                             "p_only_first_dark_s": p_dark});
        // Ablation: adaptation off (kappa = 0), same controllers (no RNN).
        let mut p0 = p.clone();
        p0.temporal.trace_increase_rate = 0.0;
        let model0 = pid::plant_model(&p0, &layout, thr, &readout)?;
        let make0 = || -> Vec<(String, Box<dyn Controller>)> {
            vec![
                ("PID".into(), Box::new(Pid::new(tune.gains))),
                ("P only".into(), Box::new(Pid::new(zn))),
                ("pure I".into(), Box::new(Pid::new(PidGains::PURE_I))),
                ("open loop".into(), Box::new(OpenLoop::new(model0.clone()))),
            ]
        };
        eprintln!("-- {tag}, adaptation off (kappa = 0):");
        let ablation = pid_tables(&p0, &layout, thr, &readout, &make0, secs, &None, tag)?;
        out.insert(
            tag.into(),
            json!({"ultimate_gain_ua": ku, "p_only_kp": zn.kp, "tuning": tune, "runs": tables,
                   "step_profile": profile, "adaptation_off": ablation}),
        );
    }
    // The first version's electrode: threshold at the population mean.
    let thr_mean = p.threshold.activation_threshold;
    let model_m = pid::plant_model(&p, &layout, thr_mean, &Readout::Intensity)?;
    let zn_m = pid::ziegler_nichols_p_only(&model_m);
    let tune_m = pid::tune_pid(&p, &layout, thr_mean, &Readout::Intensity, secs)?;
    eprintln!(
        "== electrode at the mean threshold {thr_mean:.4e} (drawn brightness 0 or >= {:.3}), intensity readout: PID kp {} ki {} kd {}, P-only Kp {:.1}",
        dishloop_phosphene::sim::FrameConstants::new(&p)
            .brightness(thr_mean)
            .0,
        tune_m.gains.kp,
        tune_m.gains.ki,
        tune_m.gains.kd,
        zn_m.kp
    );
    let make_m = || -> Vec<(String, Box<dyn Controller>)> {
        vec![
            ("PID".into(), Box::new(Pid::new(tune_m.gains))),
            ("P only".into(), Box::new(Pid::new(zn_m))),
            ("open loop".into(), Box::new(OpenLoop::new(model_m.clone()))),
        ]
    };
    let mean_thr = pid_tables(
        &p,
        &layout,
        thr_mean,
        &Readout::Intensity,
        &make_m,
        secs,
        &None,
        "mean-threshold",
    )?;
    out.insert(
        "mean_threshold_electrode".into(),
        json!({"threshold": thr_mean, "tuning": tune_m, "p_only_kp": zn_m.kp, "runs": mean_thr}),
    );
    // Per-channel PID on a grid vs open loop.
    let med = |g: &pid::GridRun| {
        let mut r: Vec<f64> = g.metrics.iter().map(|m| m.rmse).collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    let mut grid = serde_json::Map::new();
    // The mean-pixel readout at the simulator's 256² (near the fovea the blobs are 0.2-0.3 px wide and
    // neighbours 2.5-4 px apart) and at 1024² with a 9 x 9 window (neighbours >= 10 px apart).
    let fine = Readout::MeanPixel(MeanPixelReadout {
        half_width_px: 4,
        resolution_px: Some(1024),
        ..MeanPixelReadout::default()
    });
    for (key, readout, gains) in [
        ("intensity", Readout::Intensity, PidGains::TUNED),
        (
            "mean-pixel 256px 7x7",
            mean_pixel,
            PidGains::TUNED_MEAN_PIXEL,
        ),
        ("mean-pixel 1024px 9x9", fine, PidGains::TUNED_MEAN_PIXEL),
    ] {
        let stride = if dir.is_some() && readout == Readout::Intensity {
            2
        } else {
            0
        };
        let closed = pid::run_grid(
            &p,
            6,
            6,
            2.5,
            secs,
            &readout,
            &|_| Box::new(Pid::new(gains)),
            stride,
            256,
        )?;
        let open = pid::run_grid(
            &p,
            6,
            6,
            2.5,
            secs,
            &readout,
            &|c| Box::new(OpenLoop::new(c.plant_model())),
            0,
            256,
        )?;
        let tracking = closed.metrics.iter().filter(|m| m.rmse < 0.05).count();
        eprintln!(
            "grid ({} channels, {key} readout) median rmse: PID {:.3} ({tracking} channels < 0.05), open loop {:.3}",
            closed.channels.len(),
            med(&closed),
            med(&open)
        );
        if let Some(d) = dir.as_ref().filter(|_| stride > 0) {
            write_gif(
                &d.join("pid_grid.gif"),
                &closed.frames,
                closed.frame_px,
                closed.frame_px,
                17.5,
            )?;
        }
        grid.insert(
            key.into(),
            json!({"channels": closed.channels.len(), "median_rmse_pid": med(&closed),
                   "median_rmse_open_loop": med(&open), "pid_channels_below_0_05": tracking,
                   "pid_gains": gains, "readout": readout}),
        );
    }
    out.insert("grid".into(), serde_json::Value::Object(grid));
    if let Some(d) = dir {
        let series = vec![Series {
            label: "RNN train mse".into(),
            points: rnn_rep
                .train_loss
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64, *l))
                .collect(),
            rgb: PALETTE[0],
        }];
        write_line_chart(
            &d.join("rnn_controller_learning_curve.png"),
            "RNN controller training loss",
            &series,
            700,
            350,
        )?;
    }
    out.insert(
        "rnn_train_loss_first_last".into(),
        json!([rnn_rep.train_loss.first(), rnn_rep.train_loss.last()]),
    );
    Ok(serde_json::Value::Object(out))
}

fn decoder_job(args: &Args, dir: &Option<PathBuf>) -> anyhow::Result<serde_json::Value> {
    let mut reports = Vec::new();
    for s in 0..args.seeds.max(1) {
        let mut cfg = TrainConfig {
            seed: args.seed + s,
            ..TrainConfig::default()
        };
        if args.quick {
            cfg.n_train = 1000;
            cfg.n_test = 400;
            cfg.epochs = 3;
        }
        if let Some(e) = args.epochs {
            cfg.epochs = e;
        }
        if let Some(n) = args.n_train {
            cfg.n_train = n;
        }
        let (rep, _net, _) = train_decoder(&cfg)?;
        eprintln!(
            "seed {}: held-out accuracy per epoch {:?} ({} phosphenes, {:.1} s)",
            cfg.seed,
            rep.test_accuracy
                .iter()
                .map(|a| format!("{a:.3}"))
                .collect::<Vec<_>>(),
            rep.n_phosphenes,
            rep.wall_s
        );
        if let (Some(d), 0) = (dir, s) {
            let series = vec![
                Series {
                    label: "held-out acc".into(),
                    points: rep
                        .test_accuracy
                        .iter()
                        .enumerate()
                        .map(|(i, a)| ((i + 1) as f64, *a))
                        .collect(),
                    rgb: PALETTE[0],
                },
                Series {
                    label: "train loss".into(),
                    points: rep
                        .train_loss
                        .iter()
                        .enumerate()
                        .map(|(i, a)| ((i + 1) as f64, *a))
                        .collect(),
                    rgb: PALETTE[1],
                },
            ];
            write_line_chart(
                &d.join("decoder_learning_curve.png"),
                "digit decoder - epochs",
                &series,
                700,
                350,
            )?;
            let pipe = Pipeline::default_implant(cfg.seed, cfg.frames)?;
            let ex = make_dataset(&pipe, 8, 10, 999)?;
            let imgs: Vec<&[f32]> = ex.inputs.iter().map(|v| &v[..]).collect();
            let scaled: Vec<Vec<f32>> = imgs
                .iter()
                .map(|v| v.iter().map(|x| x / 8.0).collect())
                .collect();
            let refs: Vec<&[f32]> = scaled.iter().map(|v| &v[..]).collect();
            write_gray_row_png(&d.join("decoder_inputs.png"), &refs, 32, 32, 4)?;
        }
        reports.push(rep);
    }
    let accs: Vec<f64> = reports.iter().map(|r| r.final_test_accuracy).collect();
    let (m, sd) = mean_sd(&accs);
    eprintln!(
        "held-out accuracy over {} seed(s): {:.4} ± {:.4}",
        accs.len(),
        m,
        sd
    );
    Ok(json!({"final_test_accuracy_mean": m, "final_test_accuracy_sd": sd, "runs": reports}))
}

fn parse_encoders(list: &str) -> anyhow::Result<Vec<EncoderKind>> {
    if list.trim().is_empty() {
        return Ok(vec![
            EncoderKind::Learned,
            EncoderKind::LearnedQuantised,
            EncoderKind::Sobel,
            EncoderKind::Direct,
        ]);
    }
    list.split(',')
        .map(|e| match e.trim() {
            "learned" => Ok(EncoderKind::Learned),
            "quantised" | "quantized" => Ok(EncoderKind::LearnedQuantised),
            "sobel" => Ok(EncoderKind::Sobel),
            "direct" => Ok(EncoderKind::Direct),
            other => anyhow::bail!("unknown encoder {other:?} (learned, quantised, sobel, direct)"),
        })
        .collect()
}

fn e2e_job(args: &Args, dir: &Option<PathBuf>) -> anyhow::Result<serde_json::Value> {
    let kinds = parse_encoders(&args.encoders)?;
    let mut table = serde_json::Map::new();
    for kind in kinds {
        let mut finals = Vec::new();
        let mut amps = Vec::new();
        let mut runs = Vec::new();
        for s in 0..args.seeds.max(1) {
            let seed = args.seed + s;
            let mut cfg = if args.legacy {
                E2eConfig::legacy(kind, seed)
            } else {
                E2eConfig {
                    encoder: kind,
                    seed,
                    ..E2eConfig::default()
                }
            };
            cfg.budget_mean_ua = args.budget_ua;
            if args.validation {
                cfg.held_out = HeldOut::Validation;
            }
            if args.quick {
                cfg.n_train = 400;
                cfg.n_test = 100;
                cfg.epochs = 2;
            }
            if let Some(e) = args.epochs {
                cfg.epochs = e;
            }
            if let Some(n) = args.n_train {
                cfg.n_train = n;
            }
            if let Some(lr) = args.encoder_lr {
                cfg.encoder_lr = lr;
            }
            if let Some(lr) = args.decoder_lr {
                cfg.lr = lr;
            }
            if let Some(c) = args.charge_penalty {
                cfg.charge_penalty = c;
            }
            match args.init.as_deref() {
                None => {}
                Some("random") => cfg.init = EncoderInit::Random,
                Some("near-direct") => cfg.init = EncoderInit::NearDirect,
                Some(other) => anyhow::bail!("unknown --init {other:?} (random, near-direct)"),
            }
            let (rep, model, test) = dishloop_phosphene::e2e::train(&cfg)?;
            eprintln!(
                "{kind:?} seed {}: held-out MSE per epoch {:?}, mean amplitude {:.1} uA, active {:.3}, grad norm median {:.2e}, clipped {:.2}{} ({:.1} s)",
                cfg.seed,
                rep.test_mse
                    .iter()
                    .map(|a| format!("{a:.4}"))
                    .collect::<Vec<_>>(),
                rep.mean_amplitude_ua,
                rep.active_fraction,
                rep.encoder_grad_norm_median,
                rep.clipped_fraction,
                if rep.collapsed { " COLLAPSED" } else { "" },
                rep.wall_s
            );
            if let (Some(d), 0) = (dir, s) {
                let mut sim = model.pipe.sim.clone();
                let mut tiles: Vec<Vec<f32>> = Vec::new();
                for img in test.iter().take(4) {
                    let f = model.forward(&mut sim, img)?;
                    let pooled: Vec<f32> = model
                        .pipe
                        .pool_input(&f.render)
                        .iter()
                        .map(|v| v / 4.0)
                        .collect();
                    tiles.extend([img.clone(), f.map.clone(), pooled, f.recon.clone()]);
                }
                let refs: Vec<&[f32]> = tiles.iter().map(|v| &v[..]).collect();
                write_gray_row_png(
                    &d.join(format!("e2e_{kind:?}_examples.png")),
                    &refs,
                    32,
                    32,
                    3,
                )?;
                let series = vec![
                    Series {
                        label: "train mse".into(),
                        points: rep
                            .train_mse
                            .iter()
                            .enumerate()
                            .map(|(i, a)| ((i + 1) as f64, *a))
                            .collect(),
                        rgb: PALETTE[0],
                    },
                    Series {
                        label: "held-out mse".into(),
                        points: rep
                            .test_mse
                            .iter()
                            .enumerate()
                            .map(|(i, a)| ((i + 1) as f64, *a))
                            .collect(),
                        rgb: PALETTE[1],
                    },
                ];
                write_line_chart(
                    &d.join(format!("e2e_{kind:?}_learning_curve.png")),
                    &format!("{kind:?} - epochs"),
                    &series,
                    700,
                    350,
                )?;
            }
            finals.push(rep.final_test_mse);
            amps.push(rep.mean_amplitude_ua);
            runs.push(rep);
        }
        let (m, sd) = mean_sd(&finals);
        let (am, asd) = mean_sd(&amps);
        let lo = finals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let collapsed = runs.iter().filter(|r| r.collapsed).count();
        eprintln!(
            "{kind:?}: held-out reconstruction MSE {m:.4} ± {sd:.4} (sd; min {lo:.4}, max {hi:.4}) over {} seed(s), {collapsed} collapsed; mean amplitude {am:.1} ± {asd:.1} uA",
            finals.len()
        );
        table.insert(
            format!("{kind:?}"),
            json!({"test_mse_mean": m, "test_mse_sd": sd, "test_mse_min": lo, "test_mse_max": hi,
                   "test_mse": finals, "collapsed": collapsed, "mean_amplitude_ua_mean": am,
                   "mean_amplitude_ua_sd": asd, "runs": runs}),
        );
    }
    // Paired by seed (same implant, training images and held-out images): MSE − the direct encoder's.
    let per_seed = |k: &str| -> Option<Vec<f64>> {
        table.get(k)?["test_mse"]
            .as_array()?
            .iter()
            .map(|v| v.as_f64())
            .collect()
    };
    if let Some(direct) = per_seed("Direct") {
        let mut paired = serde_json::Map::new();
        for k in ["Learned", "LearnedQuantised", "Sobel"] {
            if let Some(v) = per_seed(k) {
                let d: Vec<f64> = v.iter().zip(&direct).map(|(a, b)| a - b).collect();
                let (m, sd) = mean_sd(&d);
                let better = d.iter().filter(|x| **x < 0.0).count();
                eprintln!(
                    "{k} - Direct, paired by seed: {m:+.5} ± {sd:.5} (sd); lower than Direct on {better} of {} seeds",
                    d.len()
                );
                paired.insert(
                    k.into(),
                    json!({"diff": d, "mean": m, "sd": sd, "seeds_below_direct": better}),
                );
            }
        }
        table.insert(
            "paired_minus_direct".into(),
            serde_json::Value::Object(paired),
        );
    }
    Ok(serde_json::Value::Object(table))
}

fn bench_job(args: &Args) -> anyhow::Result<serde_json::Value> {
    let frames = if args.quick { 20 } else { 200 };
    let rep =
        dishloop_phosphene::bench::render_benchmark(args.phosphenes, args.resolution, frames, 2)?;
    eprintln!(
        "{} phosphenes at {}²: {:.1} frames/s cut-off (x{:.1} the paper's 28.7 on an A30), {:.2} frames/s dense (x{:.0}), max |diff| {:.1e}, mean sigma {:.2} px",
        rep.n_phosphenes,
        rep.resolution_px,
        rep.fps_cutoff,
        rep.ratio_to_paper,
        rep.fps_dense,
        rep.ratio_to_dense,
        rep.max_abs_diff,
        rep.mean_sigma_px
    );
    Ok(serde_json::to_value(rep)?)
}
