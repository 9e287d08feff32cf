//! `dishloop pong`: closed-loop Pong (DishBrain) on a simulated culture. Trains an agent for
//! `--steps` frames with a live progress bar, then plays `--eval-steps` held-out frames with
//! the agent frozen and exploration off, prints the hit statistics and a sparkline of the
//! learning curve, and writes a learning-curve PNG (and optionally a per-event CSV and a
//! brain file).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use dishloop_experiments::pong::{
    Ablation, AgentKind, FeedbackMode, GameEvent, PaddleMode, PongConfig, PongSession, PongSummary,
};

/// Flags of `dishloop pong`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Agent: pursuit, reservoir, rstdp, reflex, static, random [default: pursuit].
    #[arg(long)]
    pub agent: Option<AgentKind>,
    /// Paddle control: direct (teleport to the target) or smooth (spring, damping, speed cap).
    #[arg(long, default_value = "direct")]
    pub paddle: PaddleMode,
    /// Feedback stimulation after hits/misses: fep, open_loop, silent.
    #[arg(long, default_value = "fep")]
    pub feedback: FeedbackMode,
    /// Control that breaks learning on purpose: none, shuffled_reward, frozen.
    #[arg(long, default_value = "none")]
    pub ablation: Ablation,
    /// Training frames (20 ms of culture time each).
    #[arg(long, default_value_t = 8000)]
    pub steps: u64,
    /// Held-out frames after training (agent frozen, exploration off; 0: none).
    #[arg(long, default_value_t = 2000)]
    pub eval_steps: u64,
    /// Culture size cap, keeping the culture's density [default: 512 pursuit, 800 rstdp, 400 others].
    #[arg(long)]
    pub neurons: Option<usize>,
    /// Seed of the culture and the game.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Culture config: embedded name or YAML path.
    #[arg(long, default_value = "dishbrain_pong")]
    pub config: String,
    /// Advanced: override any field of the Pong config, e.g. `--set readout.eta.start=0.1`
    /// (repeatable; values are YAML).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Write a per-event log (CSV).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Learning-curve PNG [default: out/pong/<agent>_seed<S>.png; "none" to skip].
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Save the trained agent to this brain file (YAML).
    #[arg(long)]
    pub save_brain: Option<PathBuf>,
    /// Load a trained agent from a brain file (its config replaces the flags above).
    #[arg(long)]
    pub load_brain: Option<PathBuf>,
    /// Print the summary as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            agent: None,
            paddle: PaddleMode::Direct,
            feedback: FeedbackMode::Fep,
            ablation: Ablation::None,
            steps: 8000,
            eval_steps: 2000,
            neurons: None,
            seed: 1,
            config: "dishbrain_pong".into(),
            set: Vec::new(),
            csv: None,
            png: None,
            save_brain: None,
            load_brain: None,
            json: false,
        }
    }
}

/// Builds the session the flags describe (fresh, or from `--load-brain`).
pub fn session(args: &Args) -> Result<PongSession> {
    if let Some(path) = &args.load_brain {
        let s = PongSession::load_brain(path)?;
        if let Some(a) = args.agent
            && a != s.config().agent
        {
            bail!(
                "--agent {a} conflicts with the brain in {} (agent {})",
                path.display(),
                s.config().agent
            );
        }
        return Ok(s);
    }
    let agent = args.agent.unwrap_or(AgentKind::Pursuit);
    let mut cfg = PongConfig::with_culture(agent, &args.config, args.neurons, args.seed)
        .with_context(|| format!("building the Pong config on culture `{}`", args.config))?;
    cfg.paddle = args.paddle;
    cfg.feedback = args.feedback;
    cfg.ablation = args.ablation;
    let cfg = cfg.with_overrides(&args.set)?;
    Ok(PongSession::new(cfg)?)
}

/// Trains and evaluates; returns the session and its summary. `on_progress(frames done)` is
/// called every 100 frames.
pub fn train_and_eval(
    s: &mut PongSession,
    steps: u64,
    eval_steps: u64,
    mut on_progress: impl FnMut(&PongSession, u64),
) -> PongSummary {
    let chunk = 100;
    let mut done = 0;
    while done < steps {
        let k = chunk.min(steps - done);
        s.run(k);
        done += k;
        on_progress(s, done);
    }
    let eval = if eval_steps > 0 {
        let training = s.training();
        s.set_training(false);
        let before = s.log().events.len();
        s.run(eval_steps);
        let ev = &s.log().events[before..];
        let (hits, n) = (
            ev.iter().filter(|e| e.event == GameEvent::Hit).count(),
            ev.len(),
        );
        s.set_training(training);
        Some((
            eval_steps,
            if n == 0 {
                f64::NAN
            } else {
                hits as f64 / n as f64
            },
        ))
    } else {
        None
    };
    s.summary(steps, eval)
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let mut s = session(&args)?;
    let cfg = s.config().clone();
    let quiet = args.json || !std::io::stderr().is_terminal();
    let bar = (!quiet).then(|| {
        let b = indicatif::ProgressBar::new(args.steps);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} frames  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    if !args.json {
        println!(
            "dishloop pong — agent {} · paddle {} · feedback {} · {} neurons ({} synapses) of `{}` · seed {}{}",
            cfg.agent,
            cfg.paddle,
            cfg.feedback,
            s.n_neurons(),
            s.n_synapses(),
            cfg.culture.name,
            cfg.seed,
            if s.steps_trained_before() > 0 {
                format!(" · brain trained {} frames", s.steps_trained_before())
            } else {
                String::new()
            }
        );
    }
    let summary = train_and_eval(&mut s, args.steps, args.eval_steps, |s, done| {
        if let Some(b) = &bar {
            b.set_position(done);
            let r = s.recent_hit_rate();
            b.set_message(format!(
                "recent hit rate {}  hits {} misses {}",
                if r.is_finite() {
                    format!("{:5.1}%", 100.0 * r)
                } else {
                    "  —  ".into()
                },
                s.log().hits,
                s.log().misses
            ));
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // Running hit rate over the last 1000 frames at 40 points of training.
    let curve: Vec<(f64, f64)> = (1..=40u64)
        .map(|k| (k * args.steps).div_ceil(40))
        .map(|t| (t as f64, s.log().hit_rate_in(t.saturating_sub(1000), t)))
        .filter(|p| p.1.is_finite())
        .collect();
    let png = match &args.png {
        Some(p) if p.as_os_str() == "none" => None,
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from(format!(
            "out/pong/{}_seed{}.png",
            cfg.agent, cfg.seed
        ))),
    };
    if let Some(p) = &png {
        write_png(p, &s, &summary, args.steps)?;
    }
    if let Some(p) = &args.csv {
        write_csv(p, &s)?;
    }
    if let Some(p) = &args.save_brain {
        s.save_brain(p)?;
    }
    if !args.json {
        print_summary(&summary, &curve);
        if let Some(p) = &png {
            println!("  learning curve  {}", p.display());
        }
        if let Some(p) = &args.csv {
            println!("  event log       {}", p.display());
        }
        if let Some(p) = &args.save_brain {
            println!("  brain           {}", p.display());
        }
    } else {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(())
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1} %", 100.0 * x)
    } else {
        "—".into()
    }
}

fn print_summary(s: &PongSummary, curve: &[(f64, f64)]) {
    let rates: Vec<f64> = curve.iter().map(|c| c.1).collect();
    println!(
        "  frames {:>8}   hits {:>6}   misses {:>6}   mean rally {:.2} (max {})",
        s.steps, s.hits, s.misses, s.mean_rally, s.max_rally
    );
    println!(
        "  hit rate  overall {}   first 1000 {}   last 1000 {}   held-out {} ({} frames, frozen, no exploration)",
        pct(s.hit_rate_overall),
        pct(s.hit_rate_first_1000),
        pct(s.hit_rate_last_1000),
        pct(s.eval_hit_rate),
        s.eval_steps
    );
    if !rates.is_empty() {
        let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "  hit rate (last 1000 frames) over training  {}  ({} → {}, range {} – {})",
            dishloop_plot::sparkline(&rates, 40),
            pct(rates[0]),
            pct(rates[rates.len() - 1]),
            pct(lo),
            pct(hi)
        );
    }
    println!("  wall {:.2} s   {:.0} frames/s", s.wall_s, s.steps_per_s);
}

fn write_png(
    path: &std::path::Path,
    s: &PongSession,
    summary: &PongSummary,
    steps: u64,
) -> Result<()> {
    if let Some(d) = path.parent()
        && !d.as_os_str().is_empty()
    {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let bin = (steps / 40).max(100);
    let binned = s.log().curve(steps, bin);
    // Running hit rate over the events of the last 1000 frames, sampled every `bin` frames.
    let running: Vec<(f64, f64)> = (1..=steps.div_ceil(bin))
        .map(|k| (k * bin).min(steps))
        .map(|t| (t as f64, s.log().hit_rate_in(t.saturating_sub(1000), t)))
        .filter(|p| p.1.is_finite())
        .collect();
    let pct_pts = |v: &[(f64, f64)]| v.iter().map(|&(x, y)| (x, 100.0 * y)).collect::<Vec<_>>();
    let (b, r) = (pct_pts(&binned), pct_pts(&running));
    let bin_label = format!("hit rate per {bin} frames");
    let series = [
        dishloop_plot::Series::new(&bin_label, &b),
        dishloop_plot::Series::new("last 1000 frames", &r),
    ];
    let eval_label = format!("held-out {}", pct(summary.eval_hit_rate));
    let mut hlines = vec![(20.0, "static paddle ≈ 20 %")];
    if summary.eval_hit_rate.is_finite() {
        hlines.push((100.0 * summary.eval_hit_rate, eval_label.as_str()));
    }
    let title = format!(
        "Pong — {} ({} paddle, {} feedback, seed {})",
        summary.agent, summary.paddle, summary.feedback, summary.seed
    );
    dishloop_plot::line_chart(path, &title, "frame", "hit rate (%)", &series, &hlines)
        .context("drawing the learning curve")?;
    Ok(())
}

fn write_csv(path: &std::path::Path, s: &PongSession) -> Result<()> {
    if let Some(d) = path.parent()
        && !d.as_os_str().is_empty()
    {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    writeln!(
        w,
        "step,event,rally,ball_y,paddle_y,phase,hit_rate_last_1000"
    )?;
    let log = s.log();
    for e in &log.events {
        let ev = match e.event {
            GameEvent::Hit => "hit",
            GameEvent::Miss => "miss",
        };
        let r = log.hit_rate_in((e.step + 1).saturating_sub(1000), e.step + 1);
        writeln!(
            w,
            "{},{},{},{:.4},{:.4},{},{:.4}",
            e.step,
            ev,
            e.rally,
            e.ball_y,
            e.paddle_y,
            if e.training { "train" } else { "eval" },
            r
        )?;
    }
    w.flush()?;
    Ok(())
}
