//! Cockpit state and its event handler. Keys and mouse clicks both become [`Action`]s, so
//! tests drive the app with synthetic events exactly as a terminal would.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use crate::configs::ConfigList;
use crate::preview::{Preview, PreviewJob, PreviewParams};
use crate::results::{RunRecord, export_csv};
use crate::train::{BackendFactory, ExperimentsPong, SPEEDS, TrainSetup, TrainState};

/// The five views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// What is loaded, live rate, last results.
    Dashboard,
    /// Pick a config, run previews, look at raster / rate / MEA.
    Simulate,
    /// Live Pong training.
    Train,
    /// The last run's metrics in plain language.
    Science,
    /// Every run of the session.
    Results,
}

impl View {
    /// All views in tab order.
    pub const ALL: [View; 5] = [
        View::Dashboard,
        View::Simulate,
        View::Train,
        View::Science,
        View::Results,
    ];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Dashboard => "Dashboard",
            View::Simulate => "Simulate",
            View::Train => "Train",
            View::Science => "Science",
            View::Results => "Results",
        }
    }

    /// Position in [`View::ALL`].
    pub fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// Parses a (case-insensitive) title.
    pub fn parse(s: &str) -> Option<View> {
        View::ALL
            .iter()
            .copied()
            .find(|v| v.title().eq_ignore_ascii_case(s))
    }
}

/// Everything a key or a click can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the cockpit.
    Quit,
    /// Next tab.
    NextView,
    /// Previous tab.
    PrevView,
    /// Go to a tab.
    Goto(View),
    /// Open / close the help overlay.
    ToggleHelp,
    /// Close overlays.
    Close,
    /// Select config `i`.
    SelectConfig(usize),
    /// Previous config.
    ConfigUp,
    /// Next config.
    ConfigDown,
    /// Neuron cap up (`true`) or down.
    Cap(bool),
    /// Duration up or down.
    Duration(bool),
    /// Seed up or down.
    Seed(bool),
    /// Start a preview (restarts a running one).
    RunPreview,
    /// Cancel the running preview.
    CancelPreview,
    /// Scroll the raster by rows (positive = down).
    ScrollRaster(i32),
    /// Scroll the Science text.
    ScrollScience(i32),
    /// Start / pause training.
    TrainToggle,
    /// Faster (`true`) or slower training.
    Speed(bool),
    /// Fresh training session.
    TrainReset,
    /// Feed-forward bank ↔ recurrent reservoir.
    SwitchSubstrate,
    /// Next agent.
    CycleAgent,
    /// Direct ↔ smooth paddle.
    SwitchPaddle,
    /// Save the brain file.
    SaveBrain,
    /// Load the brain file.
    LoadBrain,
    /// Select run `i` in Results.
    SelectRun(usize),
    /// Move the Results selection.
    MoveRun(i32),
    /// Export the session's runs as CSV.
    Export,
}

/// How the cockpit starts.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Folder scanned for extra `*.yaml` configs.
    pub configs_dir: Option<PathBuf>,
    /// Config selected at start (label, embedded name or path).
    pub config: Option<String>,
    /// Preview parameters at start.
    pub params: PreviewParams,
    /// Where `e` writes the session CSV.
    pub results_csv: PathBuf,
    /// Where `w` / `o` save and load the brain.
    pub brain_path: PathBuf,
    /// Training set-up at start.
    pub train: TrainSetup,
    /// Builds the training back end.
    pub factory: BackendFactory,
    /// View shown first.
    pub start_view: View,
    /// Start training immediately (benchmarks, smoke tests).
    pub autostart_training: bool,
    /// Start at this speed index of [`SPEEDS`] (None = default).
    pub speed: Option<usize>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            configs_dir: Some(PathBuf::from("configs")),
            config: None,
            params: PreviewParams::default(),
            results_csv: PathBuf::from("results/session_runs.csv"),
            brain_path: PathBuf::from("brains/pong_brain.yaml"),
            train: TrainSetup::default(),
            factory: ExperimentsPong::factory,
            start_view: View::Dashboard,
            autostart_training: false,
            speed: None,
        }
    }
}

/// A message in the top bar.
#[derive(Debug, Clone)]
pub struct Status {
    /// Text.
    pub text: String,
    /// Error (red) or info.
    pub error: bool,
    /// When it was set.
    pub at: Instant,
}

/// How long a status message stays.
pub const STATUS_TTL: Duration = Duration::from_secs(6);

/// The cockpit.
pub struct App {
    /// Current view.
    pub view: View,
    /// Help overlay open.
    pub help: bool,
    quit: bool,
    /// Selectable configs.
    pub configs: ConfigList,
    /// Selected config.
    pub selected: usize,
    /// Preview parameters.
    pub params: PreviewParams,
    /// Running preview.
    pub job: Option<PreviewJob>,
    /// Last finished preview.
    pub last: Option<Preview>,
    /// Every run of the session.
    pub runs: Vec<RunRecord>,
    /// Selected run in Results.
    pub run_selected: usize,
    /// Training.
    pub train: TrainState,
    /// Top-bar message.
    pub status: Option<Status>,
    /// First neuron row shown in the raster.
    pub raster_offset: usize,
    /// Neurons the raster shows at once (set when drawn).
    pub raster_rows: usize,
    /// Science text scroll.
    pub science_scroll: u16,
    /// Where `e` writes.
    pub results_csv: PathBuf,
    /// Brain file.
    pub brain_path: PathBuf,
    /// Clickable regions of the last frame.
    pub hits: Vec<(Rect, Action)>,
    /// Regions that scroll with the wheel: (area, action for one notch down).
    pub wheel: Vec<(Rect, Action, Action)>,
    frames: std::collections::VecDeque<Instant>,
    /// Frames drawn.
    pub frames_drawn: u64,
    /// When the app started.
    pub started: Instant,
}

impl App {
    /// A cockpit with the given options.
    pub fn new(opts: AppOptions) -> Self {
        let mut configs = ConfigList::discover(opts.configs_dir.as_deref());
        let mut status = None;
        let mut selected = configs.position("wagenaar_calibrated").unwrap_or(0);
        if let Some(name) = &opts.config {
            match configs.add(name) {
                Ok(i) => selected = i,
                Err(e) => {
                    status = Some(Status {
                        text: format!("config {name}: {e}"),
                        error: true,
                        at: Instant::now(),
                    })
                }
            }
        }
        let mut train = TrainState::new(opts.train, opts.factory);
        if let Some(s) = opts.speed {
            train.speed = s.min(SPEEDS.len() - 1);
        }
        let mut app = Self {
            view: opts.start_view,
            help: false,
            quit: false,
            configs,
            selected,
            params: opts.params,
            job: None,
            last: None,
            runs: Vec::new(),
            run_selected: 0,
            train,
            status,
            raster_offset: 0,
            raster_rows: 0,
            science_scroll: 0,
            results_csv: opts.results_csv,
            brain_path: opts.brain_path,
            hits: Vec::new(),
            wheel: Vec::new(),
            frames: Default::default(),
            frames_drawn: 0,
            started: Instant::now(),
        };
        if opts.autostart_training {
            app.apply(Action::TrainToggle);
        }
        app
    }

    /// Whether `q` was pressed.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Sets the top-bar message.
    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status {
            text: text.into(),
            error,
            at: Instant::now(),
        });
    }

    /// The current message, if still fresh.
    pub fn current_status(&self) -> Option<&Status> {
        self.status.as_ref().filter(|s| s.at.elapsed() < STATUS_TTL)
    }

    /// Handles one terminal event.
    pub fn handle_event(&mut self, ev: &Event) {
        match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => {
                if let Some(a) = self.key_action(k) {
                    self.apply(a);
                }
            }
            Event::Mouse(m) => self.mouse(m),
            _ => {}
        }
    }

    fn mouse(&mut self, m: &MouseEvent) {
        let p = Position::new(m.column, m.row);
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if self.help {
                    self.help = false;
                    return;
                }
                if let Some(a) = self
                    .hits
                    .iter()
                    .rev()
                    .find(|(r, _)| r.contains(p))
                    .map(|h| h.1)
                {
                    self.apply(a);
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let down = m.kind == MouseEventKind::ScrollDown;
                if let Some(&(_, d, u)) = self.wheel.iter().rev().find(|(r, _, _)| r.contains(p)) {
                    self.apply(if down { d } else { u });
                }
            }
            _ => {}
        }
    }

    /// The action of a key in the current view (None = unbound).
    pub fn key_action(&self, k: &KeyEvent) -> Option<Action> {
        use KeyCode::*;
        if k.modifiers.contains(KeyModifiers::CONTROL) && matches!(k.code, Char('c') | Char('q')) {
            return Some(Action::Quit);
        }
        if self.help {
            return match k.code {
                Char('q') => Some(Action::Quit),
                _ => Some(Action::Close),
            };
        }
        let global = match k.code {
            Char('q') => Some(Action::Quit),
            Char('?') | F(1) => Some(Action::ToggleHelp),
            Tab => Some(Action::NextView),
            BackTab => Some(Action::PrevView),
            Char(c @ '1'..='5') => Some(Action::Goto(View::ALL[(c as u8 - b'1') as usize])),
            _ => None,
        };
        if global.is_some() {
            return global;
        }
        match self.view {
            View::Dashboard => match k.code {
                Enter | Char('r') => Some(Action::RunPreview),
                _ => None,
            },
            View::Simulate => match k.code {
                Char('j') | Down => Some(Action::ConfigDown),
                Char('k') | Up => Some(Action::ConfigUp),
                Char('+') | Char('=') => Some(Action::Cap(true)),
                Char('-') | Char('_') => Some(Action::Cap(false)),
                Char(']') => Some(Action::Duration(true)),
                Char('[') => Some(Action::Duration(false)),
                Char('s') => Some(Action::Seed(true)),
                Char('S') => Some(Action::Seed(false)),
                Enter | Char('r') => Some(Action::RunPreview),
                Esc | Char('c') => Some(Action::CancelPreview),
                PageDown | Char('J') => Some(Action::ScrollRaster(8)),
                PageUp | Char('K') => Some(Action::ScrollRaster(-8)),
                _ => None,
            },
            View::Train => match k.code {
                Char(' ') => Some(Action::TrainToggle),
                Char('+') | Char('=') => Some(Action::Speed(true)),
                Char('-') | Char('_') => Some(Action::Speed(false)),
                Char('r') => Some(Action::TrainReset),
                Char('b') => Some(Action::SwitchSubstrate),
                Char('a') => Some(Action::CycleAgent),
                Char('m') => Some(Action::SwitchPaddle),
                Char('w') => Some(Action::SaveBrain),
                Char('o') => Some(Action::LoadBrain),
                _ => None,
            },
            View::Science => match k.code {
                Char('j') | Down => Some(Action::ScrollScience(1)),
                Char('k') | Up => Some(Action::ScrollScience(-1)),
                Enter | Char('r') => Some(Action::RunPreview),
                _ => None,
            },
            View::Results => match k.code {
                Char('j') | Down => Some(Action::MoveRun(1)),
                Char('k') | Up => Some(Action::MoveRun(-1)),
                Char('e') => Some(Action::Export),
                _ => None,
            },
        }
    }

    /// Performs an action.
    pub fn apply(&mut self, a: Action) {
        let n_cfg = self.configs.entries.len();
        match a {
            Action::Quit => self.quit = true,
            Action::NextView => self.view = View::ALL[(self.view.index() + 1) % View::ALL.len()],
            Action::PrevView => {
                self.view = View::ALL[(self.view.index() + View::ALL.len() - 1) % View::ALL.len()]
            }
            Action::Goto(v) => self.view = v,
            Action::ToggleHelp => self.help = !self.help,
            Action::Close => self.help = false,
            Action::SelectConfig(i) if i < n_cfg => self.selected = i,
            Action::SelectConfig(_) => {}
            Action::ConfigUp => self.selected = self.selected.saturating_sub(1),
            Action::ConfigDown => self.selected = (self.selected + 1).min(n_cfg.saturating_sub(1)),
            Action::Cap(up) => self.params.step_cap(up),
            Action::Duration(up) => self.params.step_duration(up),
            Action::Seed(up) => self.params.step_seed(up),
            Action::RunPreview => self.start_preview(),
            Action::CancelPreview => {
                if let Some(j) = self.job.take() {
                    j.cancel();
                    self.say("preview cancelled", false);
                }
            }
            Action::ScrollRaster(d) => {
                let n = self.last.as_ref().map_or(0, |p| p.n_neurons);
                let max = n.saturating_sub(self.raster_rows.max(1));
                self.raster_offset =
                    (self.raster_offset as i64 + d as i64).clamp(0, max as i64) as usize;
            }
            Action::ScrollScience(d) => {
                self.science_scroll = (self.science_scroll as i32 + d).clamp(0, 200) as u16
            }
            Action::TrainToggle => {
                if self.train.running {
                    self.train.running = false;
                } else if self.train.ensure_built() {
                    self.train.running = true;
                    self.ensure_train_row();
                } else {
                    let e = self.train.error.clone().unwrap_or_default();
                    self.say(format!("cannot start training: {e}"), true);
                }
            }
            Action::Speed(up) => {
                self.train.speed = if up {
                    (self.train.speed + 1).min(SPEEDS.len() - 1)
                } else {
                    self.train.speed.saturating_sub(1)
                }
            }
            Action::TrainReset => {
                self.train.reset();
                self.say(
                    format!("fresh session: {}", self.train.setup.label()),
                    false,
                );
            }
            Action::SwitchSubstrate | Action::CycleAgent | Action::SwitchPaddle => {
                let running = self.train.running;
                match a {
                    Action::SwitchSubstrate => self.train.setup.toggle_substrate(),
                    Action::CycleAgent => self.train.setup.cycle_agent(),
                    _ => self.train.setup.toggle_paddle(),
                }
                self.train.reset();
                let s = self.train.setup;
                self.say(
                    format!(
                        "{} on {} ({})",
                        s.label(),
                        s.substrate_name(),
                        s.agent_hint()
                    ),
                    false,
                );
                if running && self.train.ensure_built() {
                    self.train.running = true;
                    self.ensure_train_row();
                }
            }
            Action::SaveBrain => {
                let path = self.brain_path.clone();
                match self.train.save_brain(&path) {
                    Ok(()) => {
                        let f = self
                            .train
                            .snapshot
                            .as_ref()
                            .map_or(0, |s| s.frames + s.frames_before);
                        self.say(
                            format!("saved brain ({f} frames trained) to {}", path.display()),
                            false,
                        )
                    }
                    Err(e) => self.say(format!("save failed: {e}"), true),
                }
            }
            Action::LoadBrain => {
                let path = self.brain_path.clone();
                match self.train.load_brain(&path) {
                    Ok(()) => {
                        let f = self.train.snapshot.as_ref().map_or(0, |s| s.frames_before);
                        self.say(
                            format!(
                                "loaded {} ({} · {f} frames trained before)",
                                path.display(),
                                self.train.setup.label()
                            ),
                            false,
                        );
                        if self.train.running {
                            self.ensure_train_row();
                        }
                    }
                    Err(e) => self.say(format!("load failed: {e}"), true),
                }
            }
            Action::SelectRun(i) => {
                if i < self.runs.len() {
                    self.run_selected = i
                }
            }
            Action::MoveRun(d) => {
                let n = self.runs.len() as i64;
                if n > 0 {
                    self.run_selected =
                        (self.run_selected as i64 + d as i64).clamp(0, n - 1) as usize;
                }
            }
            Action::Export => {
                self.update_train_row();
                let path = self.results_csv.clone();
                match export_csv(&path, &self.runs) {
                    Ok(()) => self.say(
                        format!("exported {} runs to {}", self.runs.len(), path.display()),
                        false,
                    ),
                    Err(e) => self.say(format!("export failed: {e}"), true),
                }
            }
        }
    }

    /// Starts a preview of the selected config (cancelling a running one).
    pub fn start_preview(&mut self) {
        let Some(entry) = self.configs.entries.get(self.selected) else {
            self.say("no config to run", true);
            return;
        };
        if let Some(j) = self.job.take() {
            j.cancel();
        }
        self.job = Some(PreviewJob::spawn(&entry.label, &entry.config, self.params));
    }

    fn ensure_train_row(&mut self) {
        if self.train.result_row.is_none() {
            let id = self.runs.len() + 1;
            let s = self.train.setup;
            self.runs.push(RunRecord::train(id, s.label(), s.seed));
            self.train.result_row = Some(self.runs.len() - 1);
        }
        self.update_train_row();
    }

    /// Copies the training numbers into its Results row.
    pub fn update_train_row(&mut self) {
        let (Some(row), Some(s)) = (self.train.result_row, self.train.snapshot.as_ref()) else {
            return;
        };
        let recent = self.train.recent_hit_rate(crate::train::RECENT_EVENTS);
        if let Some(r) = self.runs.get_mut(row) {
            r.n_neurons = s.n_neurons;
            r.n_synapses = s.n_synapses;
            r.simulated_s = s.frames as f64 * s.frame_ms / 1000.0;
            r.wall_s = self.train.busy_s;
            r.mean_rate_hz = s.mean_rate_hz;
            r.train_steps = Some(s.frames);
            r.hits = Some(s.hits);
            r.misses = Some(s.misses);
            r.recent_hit_rate = recent;
        }
    }

    /// Collects a finished preview; returns true if one finished.
    pub fn poll_preview(&mut self) -> bool {
        let Some(job) = self.job.as_mut() else {
            return false;
        };
        let Some(result) = job.poll() else {
            return false;
        };
        self.job = None;
        match result {
            Ok(p) => {
                let id = self.runs.len() + 1;
                self.runs.push(RunRecord::from_preview(id, &p));
                self.say(
                    format!(
                        "run #{id}: {} · {} neurons · {:.2} Hz · {:.1}x real time",
                        p.config_name,
                        p.n_neurons,
                        p.summary.mean_rate_hz.unwrap_or(0.0),
                        p.realtime_factor()
                    ),
                    false,
                );
                self.raster_offset = 0;
                self.last = Some(p);
            }
            Err(crate::TuiError::Cancelled) => {}
            Err(e) => self.say(format!("preview failed: {e}"), true),
        }
        true
    }

    /// Blocks until the running preview (if any) ends and collects it (tests, headless).
    pub fn wait_preview(&mut self) {
        while self.job.is_some() {
            if !self.poll_preview() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Background work for one UI frame: collect previews, train until `deadline`.
    pub fn tick(&mut self, deadline: Instant) {
        self.poll_preview();
        if self.train.running {
            self.train.tick(deadline);
            if let Some(e) = self.train.error.take() {
                self.say(format!("training stopped: {e}"), true);
            }
            self.update_train_row();
        }
    }

    /// Records that a frame was drawn (for the fps counter).
    pub fn count_frame(&mut self) {
        let now = Instant::now();
        self.frames.push_back(now);
        self.frames_drawn += 1;
        while self
            .frames
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
        {
            self.frames.pop_front();
        }
    }

    /// Frames drawn during the last second.
    pub fn fps(&self) -> usize {
        self.frames.len()
    }
}
