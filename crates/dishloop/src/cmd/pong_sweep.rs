//! `dishloop pong-sweep`: several seeds × configurations of Pong in parallel, each trained and
//! then evaluated held-out, ranked by the seed-averaged learning improvement (hit rate of the
//! last 1000 frames minus the first 1000). Prints means ± standard deviations over seeds.
//!
//! Configurations are the cartesian product of `--agents`, `--paddles`, `--feedbacks`,
//! `--ablations` and every `--grid PATH=V1,V2,...`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use dishloop_experiments::pong::{
    Ablation, AgentKind, FeedbackMode, PaddleMode, PongConfig, PongSession, PongSummary,
};
use rayon::prelude::*;
use serde::Serialize;

/// Flags of `dishloop pong-sweep`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Agents (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "pursuit,reservoir,rstdp,reflex,static,random"
    )]
    pub agents: Vec<AgentKind>,
    /// Paddle modes (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "direct")]
    pub paddles: Vec<PaddleMode>,
    /// Feedback policies (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "fep")]
    pub feedbacks: Vec<FeedbackMode>,
    /// Ablations (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "none")]
    pub ablations: Vec<Ablation>,
    /// Number of seeds (1..=N) per configuration.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Training frames per run.
    #[arg(long, default_value_t = 8000)]
    pub steps: u64,
    /// Held-out frames per run (0: none).
    #[arg(long, default_value_t = 2000)]
    pub eval_steps: u64,
    /// Culture size cap [default: per agent].
    #[arg(long)]
    pub neurons: Option<usize>,
    /// Culture config: embedded name or YAML path.
    #[arg(long, default_value = "dishbrain_pong")]
    pub config: String,
    /// Override for every run (repeatable), as in `dishloop pong --set`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Grid axis (repeatable): `PATH=V1,V2,...` (values as YAML; use `;` instead of `,` to
    /// separate values that contain commas).
    #[arg(long = "grid", value_name = "PATH=V1,V2")]
    pub grid: Vec<String>,
    /// Worker threads (default: all cores). Each run is single-threaded and deterministic.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write one row per run (CSV).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Print the ranking as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            agents: vec![
                AgentKind::Pursuit,
                AgentKind::Reservoir,
                AgentKind::Rstdp,
                AgentKind::Reflex,
                AgentKind::Static,
                AgentKind::Random,
            ],
            paddles: vec![PaddleMode::Direct],
            feedbacks: vec![FeedbackMode::Fep],
            ablations: vec![Ablation::None],
            seeds: 5,
            steps: 8000,
            eval_steps: 2000,
            neurons: None,
            config: "dishbrain_pong".into(),
            set: Vec::new(),
            grid: Vec::new(),
            threads: None,
            csv: None,
            json: false,
        }
    }
}

/// One configuration of the sweep.
#[derive(Clone, Debug, Serialize)]
struct Point {
    agent: AgentKind,
    paddle: PaddleMode,
    feedback: FeedbackMode,
    ablation: Ablation,
    grid: Vec<String>,
}

impl Point {
    fn label(&self) -> String {
        let mut s = format!("{} {} {}", self.agent, self.paddle, self.feedback);
        if self.ablation != Ablation::None {
            s.push_str(&format!(" {}", self.ablation));
        }
        for g in &self.grid {
            s.push(' ');
            s.push_str(g);
        }
        s
    }
}

/// Mean and sample standard deviation over the finite values.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub sd: f64,
    /// Number of finite values.
    pub n: usize,
}

impl Stat {
    /// From values (non-finite ones skipped).
    pub fn of(v: impl Iterator<Item = f64>) -> Self {
        let v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return Self {
                mean: f64::NAN,
                sd: f64::NAN,
                n,
            };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Self { mean, sd, n }
    }

    fn pct(&self) -> String {
        if self.mean.is_finite() {
            format!("{:5.1} ± {:4.1}", 100.0 * self.mean, 100.0 * self.sd)
        } else {
            "     —     ".into()
        }
    }
}

/// One ranked configuration.
#[derive(Clone, Debug, Serialize)]
struct Ranked {
    config: String,
    improvement: Stat,
    hit_rate_overall: Stat,
    hit_rate_first_1000: Stat,
    hit_rate_last_1000: Stat,
    eval_hit_rate: Stat,
    mean_rally: Stat,
    steps_per_s: Stat,
    runs: Vec<PongSummary>,
}

fn grid_points(grid: &[String]) -> Result<Vec<Vec<String>>> {
    let mut points: Vec<Vec<String>> = vec![Vec::new()];
    for g in grid {
        let (path, vals) = g
            .split_once('=')
            .with_context(|| format!("--grid `{g}` is not PATH=V1,V2"))?;
        let sep = if vals.contains(';') { ';' } else { ',' };
        let vals: Vec<&str> = vals
            .split(sep)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if vals.is_empty() {
            bail!("--grid `{g}` has no values");
        }
        points = points
            .into_iter()
            .flat_map(|p| {
                vals.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(format!("{path}={v}"));
                    q
                })
            })
            .collect();
    }
    Ok(points)
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let mut points = Vec::new();
    for g in grid_points(&args.grid)? {
        for &agent in &args.agents {
            for &paddle in &args.paddles {
                for &feedback in &args.feedbacks {
                    for &ablation in &args.ablations {
                        points.push(Point {
                            agent,
                            paddle,
                            feedback,
                            ablation,
                            grid: g.clone(),
                        });
                    }
                }
            }
        }
    }
    let jobs: Vec<(usize, u64)> = (0..points.len())
        .flat_map(|p| (1..=args.seeds).map(move |s| (p, s)))
        .collect();
    // Fail fast on a bad configuration before spending minutes.
    for p in &points {
        build(&args, p, 1)?;
    }
    let threads = args
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("building the thread pool")?;
    let bar = super::simulate::progress(jobs.len() as u64, args.json);
    let t0 = std::time::Instant::now();
    let results: Vec<Result<(usize, PongSummary)>> = pool.install(|| {
        jobs.par_iter()
            .map(|&(p, seed)| {
                // Each run single-threaded inside (networks this small never split).
                let mut s = build(&args, &points[p], seed)?;
                let summary =
                    super::pong::train_and_eval(&mut s, args.steps, args.eval_steps, |_, _| {});
                if let Some(b) = &bar {
                    b.inc(1);
                }
                Ok((p, summary))
            })
            .collect()
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut by_point: Vec<Vec<PongSummary>> = vec![Vec::new(); points.len()];
    for r in results {
        let (p, s) = r?;
        by_point[p].push(s);
    }
    let mut ranked: Vec<Ranked> = points
        .iter()
        .zip(by_point)
        .map(|(p, mut runs)| {
            runs.sort_by_key(|r| r.seed);
            Ranked {
                config: p.label(),
                improvement: Stat::of(runs.iter().map(|r| r.improvement)),
                hit_rate_overall: Stat::of(runs.iter().map(|r| r.hit_rate_overall)),
                hit_rate_first_1000: Stat::of(runs.iter().map(|r| r.hit_rate_first_1000)),
                hit_rate_last_1000: Stat::of(runs.iter().map(|r| r.hit_rate_last_1000)),
                eval_hit_rate: Stat::of(runs.iter().map(|r| r.eval_hit_rate)),
                mean_rally: Stat::of(runs.iter().map(|r| r.mean_rally)),
                steps_per_s: Stat::of(runs.iter().map(|r| r.steps_per_s)),
                runs,
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        let key = |r: &Ranked| {
            if r.improvement.mean.is_finite() {
                r.improvement.mean
            } else {
                f64::NEG_INFINITY
            }
        };
        key(b).total_cmp(&key(a))
    });
    if let Some(path) = &args.csv {
        write_csv(path, &ranked)?;
    }
    let wall_s = t0.elapsed().as_secs_f64();
    if args.json {
        let out = serde_json::json!({
            "seeds": args.seeds,
            "steps": args.steps,
            "eval_steps": args.eval_steps,
            "wall_s": wall_s,
            "ranking": ranked,
        });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!(
        "dishloop pong-sweep — {} configs × {} seeds, {} training + {} held-out frames each, {:.1} s on {} threads",
        points.len(),
        args.seeds,
        args.steps,
        args.eval_steps,
        wall_s,
        threads
    );
    println!(
        "  hit rates in %, mean ± sd over seeds; ranked by improvement (last 1000 − first 1000 frames)"
    );
    let w = ranked
        .iter()
        .map(|r| r.config.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "  {:>2}  {:w$}  {:>13}  {:>13}  {:>13}  {:>13}  {:>13}  {:>8}",
        "#", "config", "improvement", "first 1000", "last 1000", "overall", "held-out", "frames/s"
    );
    for (i, r) in ranked.iter().enumerate() {
        println!(
            "  {:>2}  {:w$}  {:>13}  {:>13}  {:>13}  {:>13}  {:>13}  {:>8.0}",
            i + 1,
            r.config,
            r.improvement.pct(),
            r.hit_rate_first_1000.pct(),
            r.hit_rate_last_1000.pct(),
            r.hit_rate_overall.pct(),
            r.eval_hit_rate.pct(),
            r.steps_per_s.mean
        );
    }
    if let Some(p) = &args.csv {
        println!("  per-run rows    {}", p.display());
    }
    Ok(())
}

fn build(args: &Args, p: &Point, seed: u64) -> Result<PongSession> {
    let mut cfg = PongConfig::with_culture(p.agent, &args.config, args.neurons, seed)?;
    cfg.paddle = p.paddle;
    cfg.feedback = p.feedback;
    cfg.ablation = p.ablation;
    let mut ov = args.set.clone();
    ov.extend(p.grid.iter().cloned());
    let cfg = cfg
        .with_overrides(&ov)
        .with_context(|| format!("config `{}`", p.label()))?;
    Ok(PongSession::new(cfg)?)
}

fn write_csv(path: &std::path::Path, ranked: &[Ranked]) -> Result<()> {
    if let Some(d) = path.parent()
        && !d.as_os_str().is_empty()
    {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    writeln!(
        w,
        "config,seed,steps,hit_rate_overall,hit_rate_first_1000,hit_rate_last_1000,improvement,eval_hit_rate,mean_rally,wall_s,steps_per_s"
    )?;
    for r in ranked {
        for s in &r.runs {
            writeln!(
                w,
                "\"{}\",{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.3},{:.3},{:.1}",
                r.config,
                s.seed,
                s.steps,
                s.hit_rate_overall,
                s.hit_rate_first_1000,
                s.hit_rate_last_1000,
                s.improvement,
                s.eval_hit_rate,
                s.mean_rally,
                s.wall_s,
                s.steps_per_s
            )?;
        }
    }
    w.flush()?;
    Ok(())
}
