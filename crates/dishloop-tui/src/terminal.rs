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
}

impl LoopStats {
    /// UI frames per second.
    pub fn fps(&self) -> f64 {
        self.frames as f64 / self.seconds.max(1e-9)
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

/// Installs (once) a panic hook that restores the terminal before the panic message prints.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
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
    install_panic_hook();
    enable_raw_mode().map_err(TuiError::Terminal)?;
    let guard = Guard;
    execute!(stdout(), EnterAlternateScreen, EnableMouseCapture).map_err(TuiError::Terminal)?;
    let mut terminal: Terminal<CrosstermBackend<Stdout>> =
        Terminal::new(CrosstermBackend::new(stdout())).map_err(TuiError::Terminal)?;
    terminal.clear().map_err(TuiError::Terminal)?;
    let mut app = App::new(opts);
    let r = event_loop(&mut terminal, &mut app, limit);
    drop(guard);
    r
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    limit: Option<Duration>,
) -> Result<LoopStats, TuiError> {
    let start = Instant::now();
    let frames0 = app.frames_drawn;
    let (tf0, tb0) = (app.train.busy_frames, app.train.busy_s);
    let term = |e| TuiError::Terminal(e);
    // Test hook for scripts/tui-smoke.sh: a deliberate panic once the cockpit is on screen,
    // to check that the panic hook restores the terminal.
    let panic_test = std::env::var_os("DISHLOOP_TUI_PANIC_TEST").is_some();
    loop {
        if panic_test && app.frames_drawn >= 3 {
            panic!(
                "DISHLOOP_TUI_PANIC_TEST: deliberate panic to test that the terminal is restored"
            );
        }
        let frame_start = Instant::now();
        terminal.draw(|f| ui::draw(app, f)).map_err(term)?;
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
        if app.should_quit() || limit.is_some_and(|l| start.elapsed() >= l) {
            break;
        }
    }
    Ok(LoopStats {
        frames: app.frames_drawn - frames0,
        seconds: start.elapsed().as_secs_f64(),
        train_frames: app.train.busy_frames - tf0,
        train_busy_s: app.train.busy_s - tb0,
    })
}
