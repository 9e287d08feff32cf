//! Flags shared by the commands that run one culture (`simulate`, `science`), with the
//! loading and thread-pool set-up they imply.

use anyhow::{Context, Result, bail};
use dishloop_culture::{CultureConfig, load_config};

/// Which culture to run, how long, and on how many threads.
#[derive(clap::Args, Debug, Clone)]
pub struct CultureArgs {
    /// Embedded config name (wagenaar_calibrated, default, dishbrain_pong) or a YAML path.
    #[arg(long, default_value = "wagenaar_calibrated")]
    pub config: String,
    /// Simulated (for `science`: recorded spontaneous) duration in seconds (default: the
    /// config's duration).
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Seed of placement, wiring and noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Cap on the number of neurons (scales the culture down, keeping density).
    #[arg(long)]
    pub neurons: Option<usize>,
}

impl CultureArgs {
    /// The same flags for `config` with every optional one unset.
    pub fn new(config: &str, duration_s: Option<f64>) -> Self {
        Self {
            config: config.into(),
            duration_s,
            seed: 1,
            threads: None,
            neurons: None,
        }
    }

    /// The config, capped to `--neurons`, and the duration to run in seconds.
    pub fn load(&self) -> Result<(CultureConfig, f64)> {
        let mut cfg = load_config(&self.config)
            .with_context(|| format!("loading config `{}`", self.config))?;
        if let Some(cap) = self.neurons {
            cfg.cap_neurons(cap)?;
        }
        let duration_s = self
            .duration_s
            .unwrap_or(cfg.simulation.duration_ms / 1000.0);
        Ok((cfg, duration_s))
    }

    /// Runs `f(threads)` inside a rayon pool of `--threads` workers (default: all cores).
    pub fn in_pool<R: Send>(&self, f: impl FnOnce(usize) -> Result<R> + Send) -> Result<R> {
        let threads = self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .context("building the thread pool")?;
        pool.install(|| f(threads))
    }
}
