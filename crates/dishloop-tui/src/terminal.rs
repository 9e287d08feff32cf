//! The real terminal: raw mode, alternate screen, mouse capture, the frame loop, and a
//! panic hook plus a drop guard that restore the terminal however the cockpit ends.

use std::io::{Stdout, stdout};
use std::sync::Once;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use crate::TuiError;
use crate::app::{App, AppOptions};
use crate::ui;

/// Frame period while training (≈ 30 fps before drawing time).
pub const TRAIN_FRAME: Duration = Duration::from_millis(33);
/// Frame period otherwise (20 fps: spinner and progress stay smooth).
pub const IDLE_FRAME: Duration = Duration::from_millis(50);

/// What a session in the terminal did (for benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoopStats {
    /// Frames drawn.
    pub frames: u64,
    /// Wall seconds of the loop.
    pub seconds: f64,
    /// Pong frames trained.
    pub train_frames: u64,
    /// Wall seconds spent training.
    pub train_busy_s: f64,
    /// Wall seconds spent drawing (building the frame and writing it to the terminal).
    pub draw_s: f64,
}

impl LoopStats {
    /// UI frames per second.
    pub fn fps(&self) -> f64 {
        self.frames as f64 / self.seconds.max(1e-9)
    }
    /// Mean wall time of one draw (ms).
    pub fn draw_ms(&self) -> f64 {
        1000.0 * self.draw_s / (self.frames.max(1) as f64)
    }
    /// Pong frames per wall second over the whole loop.
    pub fn train_frames_per_s(&self) -> f64 {
        self.train_frames as f64 / self.seconds.max(1e-9)
    }
}

/// Puts the terminal back: raw mode off, main screen, mouse released, cursor shown.
/// Safe to call more than once.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        LeaveAlternateScreen,
        DisableMouseCapture,
        ratatui::crossterm::cursor::Show
    );
}

/// Installs (once) a panic hook that restores the terminal before the panic message prints
/// (panics of preview threads excepted: they are caught and reported in the status bar).
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // A preview thread's panic is caught and shown in the status bar; printing it
            // over the running UI (or leaving the alternate screen) would wreck the screen.
            if std::thread::current().name() == Some(crate::preview::PREVIEW_THREAD) {
                return;
            }
            restore_terminal();
            previous(info);
        }));
    });
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Runs the cockpit in the terminal until `q` (or until `limit` has passed, for benchmarks).
pub fn run(opts: AppOptions, limit: Option<Duration>) -> Result<LoopStats, TuiError> {
    with_terminal(opts, |terminal, app| {
        event_loop(terminal, app, limit.map(|l| Instant::now() + l))
    })
}

/// Sets up the terminal, runs `body`, and restores the terminal whatever happens.
fn with_terminal<T>(
    opts: AppOptions,
    body: impl FnOnce(&mut Terminal<CrosstermBackend<Stdout>>, &mut App) -> Result<T, TuiError>,
) -> Result<T, TuiError> {
    install_panic_hook();
    enable_raw_mode().map_err(TuiError::Terminal)?;
    let guard = Guard;
    execute!(stdout(), EnterAlternateScreen, EnableMouseCapture).map_err(TuiError::Terminal)?;
    let mut terminal: Terminal<CrosstermBackend<Stdout>> =
        Terminal::new(CrosstermBackend::new(stdout())).map_err(TuiError::Terminal)?;
    terminal.clear().map_err(TuiError::Terminal)?;
    let mut app = App::new(opts);
    let r = body(&mut terminal, &mut app);
    drop(guard);
    r
}

/// Result of [`bench()`]: the cockpit alternating 1 s blocks with the UI drawing and 1 s blocks
/// of the same training without drawing, so that load changes on a shared machine hit both
/// alike.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BenchStats {
    /// The blocks with the UI.
    pub ui: LoopStats,
    /// Pong frames trained in the blocks without drawing.
    pub headless_frames: u64,
    /// Wall seconds of those blocks.
    pub headless_s: f64,
}

impl BenchStats {
    /// Training frames per second without drawing.
    pub fn headless_frames_per_s(&self) -> f64 {
        self.headless_frames as f64 / self.headless_s.max(1e-9)
    }
    /// Training speed with the UI as a fraction of the speed without.
    pub fn ratio(&self) -> f64 {
        self.ui.train_frames_per_s() / self.headless_frames_per_s().max(1e-9)
    }
}

/// Benchmark (`dishloop tui --bench-s N --bench-interleave`): trains at full speed for about
/// `seconds`, alternating 1 s with the UI and 1 s without drawing (same session, same process).
pub fn bench(mut opts: AppOptions, seconds: f64) -> Result<BenchStats, TuiError> {
    opts.autostart_training = true;
    opts.start_view = crate::app::View::Train;
    opts.speed = Some(crate::train::SPEEDS.len() - 1);
    with_terminal(opts, |terminal, app| {
        let mut out = BenchStats::default();
        let start = Instant::now();
        let block = Duration::from_secs(1);
        // Warm-up: build the session and draw once.
        event_loop(
            terminal,
            app,
            Some(Instant::now() + Duration::from_millis(300)),
        )?;
        while start.elapsed().as_secs_f64() < seconds && !app.should_quit() {
            let s = event_loop(terminal, app, Some(Instant::now() + block))?;
            out.ui.frames += s.frames;
            out.ui.seconds += s.seconds;
            out.ui.train_frames += s.train_frames;
            out.ui.train_busy_s += s.train_busy_s;
            out.ui.draw_s += s.draw_s;
            let t0 = Instant::now();
            out.headless_frames += app.train.run_for(block);
            out.headless_s += t0.elapsed().as_secs_f64();
        }
        Ok(out)
    })
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    until: Option<Instant>,
) -> Result<LoopStats, TuiError> {
    let start = Instant::now();
    let frames0 = app.frames_drawn;
    let (tf0, tb0) = (app.train.busy_frames, app.train.busy_s);
    let term = |e| TuiError::Terminal(e);
    // Test hook for scripts/tui-smoke.sh: a deliberate panic once the cockpit is on screen,
    // to check that the panic hook restores the terminal.
    let panic_test = std::env::var_os("DISHLOOP_TUI_PANIC_TEST").is_some();
    let mut draw_s = 0.0;
    loop {
        if panic_test && app.frames_drawn >= 3 {
            panic!(
                "DISHLOOP_TUI_PANIC_TEST: deliberate panic to test that the terminal is restored"
            );
        }
        let frame_start = Instant::now();
        terminal.draw(|f| ui::draw(app, f)).map_err(term)?;
        draw_s += frame_start.elapsed().as_secs_f64();
        let period = if app.train.running {
            TRAIN_FRAME
        } else {
            IDLE_FRAME
        };
        let deadline = frame_start + period;
        while event::poll(Duration::ZERO).map_err(term)? {
            app.handle_event(&event::read().map_err(term)?);
        }
        if !app.should_quit() {
            app.tick(deadline);
        }
        while !app.should_quit() {
            let now = Instant::now();
            if now >= deadline || !event::poll(deadline - now).map_err(term)? {
                break;
            }
            app.handle_event(&event::read().map_err(term)?);
        }
        if app.should_quit() || until.is_some_and(|u| Instant::now() >= u) {
            break;
        }
    }
    Ok(LoopStats {
        frames: app.frames_drawn - frames0,
        seconds: start.elapsed().as_secs_f64(),
        train_frames: app.train.busy_frames - tf0,
        train_busy_s: app.train.busy_s - tb0,
        draw_s,
    })
}
