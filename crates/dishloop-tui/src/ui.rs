//! Drawing. Every view adapts to the frame it gets: 80×24 is the smallest full layout, larger
//! terminals get bigger panels, and below 40×12 a single line asks for more room.
//!
//! Drawing also records where the clickable things are ([`App::hits`]) and which areas scroll
//! with the wheel ([`App::wheel`]), so mouse handling always matches what is on screen.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CLine, Points};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Clear, Dataset, Gauge, GraphType, Paragraph, Row, Sparkline, Table,
    TableState, Wrap,
};

use crate::app::{Action, App, View};
use crate::mea::MEA_SIDE;
use crate::preview::RATE_BIN_MS;
use crate::results::RunKind;
use crate::science::{Verdict, science_items, score};

/// Smallest terminal with a layout.
pub const MIN_SIZE: (u16, u16) = (40, 12);

const ACCENT: Color = Color::Cyan;
const EXC: Color = Color::LightBlue;
const INH: Color = Color::LightRed;
const HIT: Color = Color::Green;
const MISS: Color = Color::Red;
const DIM: Color = Color::DarkGray;
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the whole cockpit.
pub fn draw(app: &mut App, f: &mut Frame) {
    app.hits.clear();
    app.wheel.clear();
    app.count_frame();
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!(
            "dishloop: terminal {}×{} is too small (need {}×{}); q quits",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(app, f, top);
    match app.view {
        View::Dashboard => draw_dashboard(app, f, body),
        View::Simulate => draw_simulate(app, f, body),
        View::Train => draw_train(app, f, body),
        View::Science => draw_science(app, f, body),
        View::Results => draw_results(app, f, body),
    }
    draw_keybar(app, f, bottom);
    if app.help {
        draw_help(app, f, body);
    }
}

fn draw_tabs(app: &mut App, f: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(
        " dishloop ",
        Style::new().fg(Color::Black).bg(ACCENT).bold(),
    )];
    let mut x = area.x + 10;
    for (i, v) in View::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, v.title());
        let w = text.chars().count() as u16;
        if x + w > area.right() {
            break;
        }
        let style = if *v == app.view {
            Style::new().fg(Color::Black).bg(Color::White).bold()
        } else {
            Style::new().fg(Color::Gray)
        };
        app.hits
            .push((Rect::new(x, area.y, w, 1), Action::Goto(*v)));
        spans.push(Span::styled(text, style));
        x += w;
    }
    let used = x - area.x;
    if let Some(st) = app.current_status() {
        let room = area.width.saturating_sub(used + 1) as usize;
        if room > 4 {
            let text = truncate(&st.text, room);
            let pad = room.saturating_sub(text.chars().count());
            spans.push(Span::raw(" ".repeat(pad + 1)));
            spans.push(Span::styled(
                text,
                Style::new().fg(if st.error {
                    Color::LightRed
                } else {
                    Color::Yellow
                }),
            ));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `(key, label, action)` shown in the key bar of a view, most used first.
pub fn keybar_entries(view: View) -> Vec<(&'static str, &'static str, Action)> {
    let mut v = match view {
        View::Dashboard => vec![
            ("Enter", "run preview", Action::RunPreview),
            ("2", "simulate", Action::Goto(View::Simulate)),
            ("3", "train", Action::Goto(View::Train)),
        ],
        View::Simulate => vec![
            ("Enter", "run", Action::RunPreview),
            ("j/k", "config", Action::ConfigDown),
            ("+/-", "neurons", Action::Cap(true)),
            ("[/]", "duration", Action::Duration(true)),
            ("s", "seed", Action::Seed(true)),
            ("PgDn", "raster", Action::ScrollRaster(8)),
        ],
        View::Train => vec![
            ("Space", "start/pause", Action::TrainToggle),
            ("+/-", "speed", Action::Speed(true)),
            ("r", "reset", Action::TrainReset),
            ("b", "substrate", Action::SwitchSubstrate),
            ("a", "agent", Action::CycleAgent),
            ("m", "paddle", Action::SwitchPaddle),
            ("w/o", "save/load", Action::SaveBrain),
        ],
        View::Science => vec![
            ("Enter", "run preview", Action::RunPreview),
            ("j/k", "scroll", Action::ScrollScience(1)),
        ],
        View::Results => vec![
            ("e", "export CSV", Action::Export),
            ("j/k", "select", Action::MoveRun(1)),
        ],
    };
    v.push(("Tab", "view", Action::NextView));
    v
}

fn draw_keybar(app: &mut App, f: &mut Frame, area: Rect) {
    let tail = [
        ("?", "help", Action::ToggleHelp),
        ("q", "quit", Action::Quit),
    ];
    let width = |k: &str, l: &str| (k.chars().count() + l.chars().count() + 4) as u16;
    let tail_w: u16 = tail.iter().map(|(k, l, _)| width(k, l)).sum();
    let mut spans = Vec::new();
    let mut x = area.x;
    let push = |app: &mut App,
                spans: &mut Vec<Span<'static>>,
                k: &'static str,
                l: &'static str,
                a: Action,
                x: &mut u16| {
        let w = width(k, l);
        app.hits.push((Rect::new(*x, area.y, w, 1), a));
        spans.push(Span::styled(
            format!(" {k}"),
            Style::new().fg(Color::Black).bg(ACCENT),
        ));
        spans.push(Span::styled(format!(" {l} "), Style::new().fg(Color::Gray)));
        spans.push(Span::raw(" "));
        *x += w;
    };
    for (k, l, a) in keybar_entries(app.view) {
        if x + width(k, l) + tail_w > area.right() {
            break;
        }
        push(app, &mut spans, k, l, a, &mut x);
    }
    for (k, l, a) in tail {
        if x + width(k, l) <= area.right() {
            push(app, &mut spans, k, l, a, &mut x);
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Help lines `(key, what)` of a view.
pub fn help_lines(view: View) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<(&str, &str)> = match view {
        View::Dashboard => vec![
            ("Enter / r", "run a preview of the selected config"),
            ("2 / 3", "go to Simulate / Train"),
        ],
        View::Simulate => vec![
            (
                "j k ↑ ↓ / click",
                "select a config (embedded, then ./configs/*.yaml)",
            ),
            (
                "+ - / [-][+]",
                "neuron cap (density kept: the substrate shrinks)",
            ),
            ("[ ] / [-][+]", "preview duration"),
            ("s S / [-][+]", "seed up / down"),
            ("Enter r / [Run]", "run the preview on a background thread"),
            ("Esc c", "cancel a running preview"),
            (
                "PgDn PgUp J K / wheel",
                "scroll the raster through the neurons",
            ),
        ],
        View::Train => vec![
            ("Space", "start / pause live Pong training"),
            ("+ -", "speed: frames per UI tick, up to max (CPU-bound)"),
            ("r", "reset to a fresh culture and agent"),
            ("b", "substrate: feed-forward bank ↔ recurrent reservoir"),
            ("a", "agent: pursuit→reservoir→rstdp→reflex→static→random"),
            (
                "m",
                "paddle: direct (teleport) ↔ smooth (must lead the ball)",
            ),
            ("w / o", "save / load the brain file"),
        ],
        View::Science => vec![
            ("j k", "scroll"),
            ("Enter r", "new preview (bursts need ≥ 60 s: ] in Simulate)"),
            (
                "verdicts",
                "✓ in range ▼▲ outside ✗ rejected ? too little data",
            ),
        ],
        View::Results => vec![
            ("j k ↑ ↓ / click", "select a run"),
            ("e", "export every run of the session to CSV"),
        ],
    };
    v.extend([
        ("Tab / 1-5 / click", "switch views"),
        ("?", "this help (any key closes)"),
        ("q / Ctrl-C", "quit (the terminal is restored)"),
    ]);
    v
}

fn draw_help(app: &mut App, f: &mut Frame, body: Rect) {
    let lines = help_lines(app.view);
    let kw = lines
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let w = (lines
        .iter()
        .map(|(_, d)| kw + d.chars().count() + 5)
        .max()
        .unwrap_or(20) as u16)
        .min(body.width);
    let h = (lines.len() as u16 + 2).min(body.height);
    let r = Rect::new(
        body.x + (body.width - w) / 2,
        body.y + (body.height - h) / 2,
        w,
        h,
    );
    let text: Vec<Line> = lines
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!(" {k:<kw$} "), Style::new().fg(ACCENT).bold()),
                Span::raw(format!(" {d}")),
            ])
        })
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(format!(" Help · {} ", app.view.title()))
                .border_style(Style::new().fg(ACCENT)),
        ),
        r,
    );
}

fn panel(title: impl Into<String>) -> Block<'static> {
    Block::bordered()
        .title(Span::styled(
            format!(" {} ", title.into()),
            Style::new().fg(ACCENT).bold(),
        ))
        .border_style(Style::new().fg(DIM))
}

fn kv(k: &str, v: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<10}"), Style::new().fg(Color::Gray)),
        Span::raw(v.into()),
    ])
}

fn fmt_rate(r: Option<f64>) -> String {
    r.map(|x| format!("{x:.2} Hz"))
        .unwrap_or_else(|| "n/a".into())
}

fn fmt_duration_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", ms / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

fn spinner(since: Instant) -> &'static str {
    SPINNER[(since.elapsed().as_millis() / 80) as usize % SPINNER.len()]
}

// ---------------------------------------------------------------- Dashboard

fn draw_dashboard(app: &mut App, f: &mut Frame, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let [loaded, live] = Layout::vertical([Constraint::Length(10), Constraint::Min(0)]).areas(left);
    let [last, start] = Layout::vertical([Constraint::Min(0), Constraint::Length(7)]).areas(right);

    // What is loaded.
    let mut lines = Vec::new();
    if let Some(e) = app.configs.entries.get(app.selected) {
        lines.push(kv("config", e.label.clone()));
        lines.push(Line::from(Span::styled(
            truncate(e.hint(), loaded.width.saturating_sub(2) as usize),
            Style::new().fg(DIM),
        )));
        let c = &e.config.culture;
        lines.push(kv(
            "culture",
            format!(
                "{} neurons on {:.0}×{:.0} µm",
                c.n_neurons, c.substrate_um[0], c.substrate_um[1]
            ),
        ));
        lines.push(kv(
            "preview",
            format!(
                "≤ {} neurons · {} · seed {}",
                app.params.neuron_cap,
                fmt_duration_ms(app.params.duration_ms),
                app.params.seed
            ),
        ));
    }
    match &app.last {
        Some(p) => {
            lines.push(kv(
                "last run",
                format!("{} · seed {}", p.config_name, p.params.seed),
            ));
            lines.push(kv(
                "neurons",
                format!(
                    "{} ({} E / {} I)",
                    p.n_neurons,
                    p.n_exc,
                    p.n_neurons - p.n_exc
                ),
            ));
            lines.push(kv(
                "synapses",
                format!(
                    "{} ({:.1} per neuron)",
                    p.n_synapses,
                    p.n_synapses as f64 / p.n_neurons.max(1) as f64
                ),
            ));
        }
        None => lines.push(Line::from(Span::styled(
            "no run yet: press Enter",
            Style::new().fg(Color::Yellow),
        ))),
    }
    f.render_widget(Paragraph::new(lines).block(panel("Loaded")), loaded);

    // Live.
    let mut lines = Vec::new();
    match &app.job {
        Some(j) => {
            let p = j.progress;
            lines.push(Line::from(vec![
                Span::styled(spinner(j.started), Style::new().fg(Color::Yellow)),
                Span::raw(format!(
                    " simulating {} … {:.0} %",
                    j.label,
                    100.0 * p.fraction()
                )),
            ]));
            lines.push(kv("live rate", fmt_rate(p.mean_rate_hz())));
            lines.push(kv("spikes", p.spikes.to_string()));
        }
        None => match &app.last {
            Some(p) => {
                lines.push(kv("mean rate", fmt_rate(p.summary.mean_rate_hz)));
                lines.push(kv(
                    "spikes",
                    format!("{} in {:.1} s", p.trains.n_spikes(), p.trains.duration_s()),
                ));
                lines.push(kv(
                    "speed",
                    format!(
                        "{:.1}x real time (build {:.2} s)",
                        p.realtime_factor(),
                        p.build_s
                    ),
                ));
                let w = live.width.saturating_sub(14) as usize;
                if w > 4 {
                    lines.push(kv("rate trace", dishloop_sparkline(&p.rate_hz, w)));
                }
            }
            None => lines.push(Line::from(Span::styled("idle", Style::new().fg(DIM)))),
        },
    }
    lines.push(Line::raw(""));
    let t = &app.train;
    let state = if t.running {
        "training"
    } else if t.is_built() {
        "paused"
    } else {
        "not started"
    };
    lines.push(kv("pong", format!("{} · {}", t.setup.label(), state)));
    if let Some(s) = &t.snapshot {
        lines.push(kv(
            "frames",
            format!("{} · hits {} / misses {}", s.frames, s.hits, s.misses),
        ));
        lines.push(kv(
            "culture",
            format!("{} neurons · {}", s.n_neurons, fmt_rate(s.mean_rate_hz)),
        ));
    }
    f.render_widget(Paragraph::new(lines).block(panel("Live")), live);

    // Last results.
    let rows: Vec<Row> = app
        .runs
        .iter()
        .rev()
        .take(last.height.saturating_sub(3) as usize)
        .map(run_row_short)
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Length(7),
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(5),
        ],
    )
    .header(
        Row::new(["#", "kind", "config", "rate", "score"])
            .style(Style::new().fg(Color::Gray).bold()),
    )
    .block(panel("Last results"));
    f.render_widget(table, last);

    let steps = vec![
        Line::from("2 Simulate: Enter runs a preview"),
        Line::from("4 Science: like living cortex?"),
        Line::from("3 Train: Space, watch it learn Pong"),
        Line::from("5 Results: e exports CSV"),
        Line::from(Span::styled(
            "? shows the keys of each view",
            Style::new().fg(DIM),
        )),
    ];
    f.render_widget(Paragraph::new(steps).block(panel("Getting started")), start);
}

fn dishloop_sparkline(values: &[f64], width: usize) -> String {
    // The plot crate has a text sparkline too; this one avoids pulling its PNG stack in.
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let n = values.len();
    let cells: Vec<f64> = (0..width.min(n))
        .map(|i| {
            let w = width.min(n);
            let (a, b) = (i * n / w, ((i + 1) * n / w).max(i * n / w + 1));
            values[a..b].iter().sum::<f64>() / (b - a) as f64
        })
        .collect();
    let hi = cells.iter().copied().fold(0.0, f64::max);
    cells
        .iter()
        .map(|&v| {
            if hi <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / hi) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

fn score_text(s: Option<(usize, usize)>) -> String {
    s.map(|(a, b)| format!("{a}/{b}"))
        .unwrap_or_else(|| "-".into())
}

fn run_row_short(r: &crate::results::RunRecord) -> Row<'static> {
    let rate = match r.kind {
        RunKind::Preview => fmt_rate(r.mean_rate_hz),
        RunKind::Train => r
            .recent_hit_rate
            .map(|h| format!("{:.0}% hit", 100.0 * h))
            .unwrap_or_else(|| "-".into()),
    };
    Row::new([
        r.id.to_string(),
        r.kind.name().to_string(),
        r.config.clone(),
        rate,
        score_text(r.science_score),
    ])
}

// ---------------------------------------------------------------- Simulate

fn button(
    app: &mut App,
    spans: &mut Vec<Span<'static>>,
    x: &mut u16,
    y: u16,
    text: &str,
    a: Action,
) {
    let w = text.chars().count() as u16;
    app.hits.push((Rect::new(*x, y, w, 1), a));
    spans.push(Span::styled(
        text.to_string(),
        Style::new().fg(Color::Black).bg(Color::Gray),
    ));
    *x += w;
}

fn param_line(
    app: &mut App,
    area: Rect,
    row: u16,
    label: &str,
    value: String,
    down: Action,
    up: Action,
) -> Line<'static> {
    let y = area.y + row;
    let mut spans = vec![Span::styled(
        format!("{label:<9}"),
        Style::new().fg(Color::Gray),
    )];
    let mut x = area.x + 9;
    button(app, &mut spans, &mut x, y, "[-]", down);
    spans.push(Span::raw(" "));
    x += 1;
    button(app, &mut spans, &mut x, y, "[+]", up);
    spans.push(Span::raw(format!(" {value}")));
    Line::from(spans)
}

fn draw_simulate(app: &mut App, f: &mut Frame, area: Rect) {
    let left_w = if area.width >= 120 { 36 } else { 28 };
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(area);
    let n_cfg = app.configs.entries.len() as u16;
    let cfg_h = (n_cfg + 2).clamp(3, (left.height / 3).max(3));
    let [cfg_area, par_area, stats_area] = Layout::vertical([
        Constraint::Length(cfg_h),
        Constraint::Length(6),
        Constraint::Min(0),
    ])
    .areas(left);

    // Config list (scrolls to keep the selection visible).
    let inner = panel("").inner(cfg_area);
    let visible = inner.height as usize;
    let first = app.selected.saturating_sub(visible.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, e) in app
        .configs
        .entries
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
    {
        let sel = i == app.selected;
        let style = if sel {
            Style::new().fg(Color::Black).bg(ACCENT)
        } else {
            Style::new()
        };
        let marker = if sel { "▶ " } else { "  " };
        lines.push(Line::from(Span::styled(
            truncate(&format!("{marker}{}", e.label), inner.width as usize),
            style,
        )));
        app.hits.push((
            Rect::new(inner.x, inner.y + (i - first) as u16, inner.width, 1),
            Action::SelectConfig(i),
        ));
    }
    app.wheel
        .push((cfg_area, Action::ConfigDown, Action::ConfigUp));
    f.render_widget(Paragraph::new(lines).block(panel("Configs")), cfg_area);

    // Parameters with buttons.
    let pin = panel("").inner(par_area);
    let p = app.params;
    let mut lines = vec![
        param_line(
            app,
            pin,
            0,
            "neurons",
            format!("≤ {}", p.neuron_cap),
            Action::Cap(false),
            Action::Cap(true),
        ),
        param_line(
            app,
            pin,
            1,
            "duration",
            fmt_duration_ms(p.duration_ms),
            Action::Duration(false),
            Action::Duration(true),
        ),
        param_line(
            app,
            pin,
            2,
            "seed",
            p.seed.to_string(),
            Action::Seed(false),
            Action::Seed(true),
        ),
    ];
    let mut spans = Vec::new();
    let mut x = pin.x;
    let y = pin.y + 3;
    if let Some(j) = &app.job {
        let (sp, frac) = (spinner(j.started), j.progress.fraction());
        button(
            app,
            &mut spans,
            &mut x,
            y,
            "[Cancel]",
            Action::CancelPreview,
        );
        spans.push(Span::styled(
            format!(" {sp} {:.0} %", 100.0 * frac),
            Style::new().fg(Color::Yellow),
        ));
    } else {
        button(app, &mut spans, &mut x, y, "[ Run ]", Action::RunPreview);
        spans.push(Span::styled(" Enter", Style::new().fg(DIM)));
    }
    lines.push(Line::from(spans));
    f.render_widget(Paragraph::new(lines).block(panel("Preview")), par_area);

    // Stats.
    let mut lines = Vec::new();
    if let Some(pv) = &app.last {
        let s = &pv.summary;
        lines.push(kv("neurons", format!("{} ({} E)", pv.n_neurons, pv.n_exc)));
        lines.push(kv("synapses", pv.n_synapses.to_string()));
        lines.push(kv("rate", fmt_rate(s.mean_rate_hz)));
        lines.push(kv(
            "bursts",
            format!(
                "{} ({})",
                s.n_bursts,
                s.bursts_per_min
                    .map(|b| format!("{b:.1}/min"))
                    .unwrap_or("n/a".into())
            ),
        ));
        lines.push(kv(
            "IBI",
            s.mean_ibi_s
                .map(|v| format!("{v:.1} s"))
                .unwrap_or("n/a".into()),
        ));
        lines.push(kv(
            "σ (MR)",
            s.branching_ratio
                .map(|v| format!("{v:.3}"))
                .unwrap_or("n/a".into()),
        ));
        lines.push(kv(
            "aval. α",
            s.avalanche_size_exponent
                .map(|v| format!("{v:.2}"))
                .unwrap_or("n/a".into()),
        ));
        lines.push(kv(
            "speed",
            format!("{:.1}x real time", pv.realtime_factor()),
        ));
    } else {
        lines.push(Line::from(Span::styled(
            "no preview yet",
            Style::new().fg(DIM),
        )));
    }
    f.render_widget(Paragraph::new(lines).block(panel("Stats")), stats_area);

    // Right: raster on top, rate trace and MEA below.
    let mea_w = 2 * MEA_SIDE as u16 + 2;
    let bottom_h = (MEA_SIDE as u16 + 2).min(right.height / 2);
    let [raster_area, bottom] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(bottom_h)]).areas(right);
    let [rate_area, mea_area] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(mea_w)]).areas(bottom);
    draw_raster(app, f, raster_area);
    draw_rate(app, f, rate_area);
    draw_mea(app, f, mea_area);
}

fn draw_raster(app: &mut App, f: &mut Frame, area: Rect) {
    app.wheel
        .push((area, Action::ScrollRaster(4), Action::ScrollRaster(-4)));
    let Some(p) = &app.last else {
        f.render_widget(
            Paragraph::new("Enter runs a preview; its spike raster shows here.")
                .style(Style::new().fg(DIM))
                .block(panel("Raster")),
            area,
        );
        return;
    };
    let inner_h = area.height.saturating_sub(2) as usize;
    // Braille: 4 dots per row, one neuron per dot row.
    let rows = (inner_h * 4).max(1);
    app.raster_rows = rows;
    let n = p.n_neurons;
    let lo = app.raster_offset.min(n.saturating_sub(rows));
    let hi = (lo + rows).min(n);
    let dt = p.trains.dt_ms;
    let t_end = p.trains.n_steps as f64 * dt;
    let (mut exc, mut inh) = (Vec::new(), Vec::new());
    for (&s, &nrn) in p.trains.steps.iter().zip(&p.trains.neurons) {
        let nrn = nrn as usize;
        if nrn >= lo && nrn < hi {
            // Neuron 0 at the top.
            let pt = (s as f64 * dt, (hi - 1 - nrn) as f64 + 0.5);
            if nrn < p.n_exc {
                exc.push(pt)
            } else {
                inh.push(pt)
            }
        }
    }
    let title = format!(
        "Raster · neurons {}–{} of {} · {} · E blue / I red",
        lo,
        hi.saturating_sub(1),
        n,
        fmt_duration_ms(t_end)
    );
    let span = (hi - lo) as f64;
    let canvas = Canvas::default()
        .block(panel(title))
        .marker(Marker::Braille)
        .x_bounds([0.0, t_end])
        .y_bounds([0.0, span.max(1.0)])
        .paint(move |ctx| {
            ctx.draw(&Points {
                coords: &exc,
                color: EXC,
            });
            ctx.draw(&Points {
                coords: &inh,
                color: INH,
            });
        });
    f.render_widget(canvas, area);
}

fn draw_rate(app: &App, f: &mut Frame, area: Rect) {
    let Some(p) = &app.last else {
        f.render_widget(panel("Population rate"), area);
        return;
    };
    let data: Vec<(f64, f64)> = p
        .rate_hz
        .iter()
        .enumerate()
        .map(|(i, &r)| ((i as f64 + 0.5) * RATE_BIN_MS / 1000.0, r))
        .collect();
    let t = p.trains.duration_s();
    let y_max = p.rate_hz.iter().copied().fold(0.0, f64::max).max(1.0) * 1.05;
    let chart = Chart::new(vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
            .data(&data),
    ])
    .block(panel(format!(
        "Population rate (Hz, {RATE_BIN_MS} ms bins)"
    )))
    .x_axis(
        Axis::default()
            .bounds([0.0, t])
            .labels(["0".to_string(), format!("{t:.1} s")])
            .style(Style::new().fg(DIM)),
    )
    .y_axis(
        Axis::default()
            .bounds([0.0, y_max])
            .labels(["0".to_string(), format!("{y_max:.0}")])
            .style(Style::new().fg(DIM)),
    );
    f.render_widget(chart, area);
}

/// A black → purple → orange → yellow ramp (inferno-like), `x` in [0, 1].
pub fn heat(x: f64) -> Color {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [0.0, 0.0, 4.0]),
        (0.25, [87.0, 16.0, 110.0]),
        (0.5, [188.0, 55.0, 84.0]),
        (0.75, [249.0, 142.0, 9.0]),
        (1.0, [252.0, 255.0, 164.0]),
    ];
    let x = if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let i = STOPS.iter().position(|(p, _)| *p >= x).unwrap_or(4).max(1);
    let (p0, c0) = STOPS[i - 1];
    let (p1, c1) = STOPS[i];
    let t = (x - p0) / (p1 - p0);
    let c = |k: usize| (c0[k] + t * (c1[k] - c0[k])).round() as u8;
    Color::Rgb(c(0), c(1), c(2))
}

fn draw_mea(app: &App, f: &mut Frame, area: Rect) {
    let Some(p) = &app.last else {
        f.render_widget(panel("MEA 8×8"), area);
        return;
    };
    let m = &p.mea;
    let max = m.max_rate_hz();
    let mut lines = Vec::new();
    for r in 0..MEA_SIDE {
        let spans: Vec<Span> = (0..MEA_SIDE)
            .map(|c| {
                let i = r * MEA_SIDE + c;
                if m.rate_hz[i].is_nan() {
                    Span::styled("  ", Style::new())
                } else if m.neurons[i] == 0 {
                    Span::styled("··", Style::new().fg(DIM))
                } else {
                    let x = if max > 0.0 { m.rate_hz[i] / max } else { 0.0 };
                    Span::styled("██", Style::new().fg(heat(x)))
                }
            })
            .collect();
        lines.push(Line::from(spans));
    }
    f.render_widget(
        Paragraph::new(lines).block(panel(format!("MEA ≤{max:.0}Hz"))),
        area,
    );
}

// ---------------------------------------------------------------- Train

fn draw_train(app: &mut App, f: &mut Frame, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let info_h = 8.min(left.height / 2);
    let [game_area, info_area] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(info_h)]).areas(left);
    let [chart_area, tl_area, gauge_area, bump_area] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(3),
        Constraint::Length(5),
        Constraint::Length(if right.height >= 30 { 8 } else { 5 }),
    ])
    .areas(right);
    let t = &app.train;

    // Game.
    let title = format!(
        "Pong · {} · {}",
        t.setup.label(),
        if t.running {
            "playing"
        } else {
            "paused (Space)"
        }
    );
    match &t.snapshot {
        Some(s) => {
            let (ball, paddle, h) = (s.ball, s.paddle, s.paddle_height);
            let canvas = Canvas::default()
                .block(panel(title))
                .marker(Marker::HalfBlock)
                .x_bounds([0.0, 1.0])
                .y_bounds([0.0, 1.0])
                .paint(move |ctx| {
                    let (lo, hi) = ((paddle - h / 2.0).max(0.0), (paddle + h / 2.0).min(1.0));
                    for x in [0.95, 0.96, 0.97] {
                        ctx.draw(&CLine {
                            x1: x,
                            y1: lo,
                            x2: x,
                            y2: hi,
                            color: Color::White,
                        });
                    }
                    // The ball: a small square of points, whatever the resolution.
                    let pts: Vec<(f64, f64)> = (0..3)
                        .flat_map(|i| (0..3).map(move |j| (i as f64 * 0.008, j as f64 * 0.02)))
                        .map(|(dx, dy)| {
                            (
                                (ball[0] + dx - 0.008).clamp(0.0, 1.0),
                                (ball[1] + dy - 0.02).clamp(0.0, 1.0),
                            )
                        })
                        .collect();
                    ctx.draw(&Points {
                        coords: &pts,
                        color: Color::Yellow,
                    });
                });
            f.render_widget(canvas, game_area);
        }
        None => {
            let msg = match &t.error {
                Some(e) => format!("error: {e}"),
                None => "Space starts training: the culture learns to return the ball.".into(),
            };
            f.render_widget(
                Paragraph::new(msg)
                    .wrap(Wrap { trim: true })
                    .block(panel(title)),
                game_area,
            );
        }
    }

    // Info.
    let s = t.snapshot.as_ref();
    let frames = s.map_or(0, |s| s.frames);
    let mut lines = vec![
        kv(
            "agent",
            format!("{} · paddle {}", t.setup.agent, t.setup.paddle),
        ),
        kv("substrate", t.setup.substrate_name()),
        kv(
            "frames",
            format!(
                "{frames}{}",
                s.filter(|s| s.frames_before > 0)
                    .map(|s| format!(" (+{} from brain)", s.frames_before))
                    .unwrap_or_default()
            ),
        ),
        kv(
            "speed",
            format!(
                "{} · {} f/s · {} fps",
                t.speed_label(),
                t.frames_per_s()
                    .map(|v| format!("{v:.0}"))
                    .unwrap_or("-".into()),
                app.fps()
            ),
        ),
    ];
    if let Some(s) = s {
        lines.push(kv(
            "culture",
            format!(
                "{} n · {} syn · {}",
                s.n_neurons,
                s.n_synapses,
                fmt_rate(s.mean_rate_hz)
            ),
        ));
    }
    lines.push(Line::from(Span::styled(
        t.verdict(),
        Style::new().fg(Color::Yellow),
    )));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(panel("Session")),
        info_area,
    );

    // Hit-rate chart with 20 % grid lines and the chance level.
    let x_max = (frames as f64).max(1.0);
    let x_min = t.curve.first().map_or(0.0, |p| p.0.min(x_max - 1.0));
    let grid: Vec<Vec<(f64, f64)>> = [0.2, 0.4, 0.6, 0.8]
        .iter()
        .map(|&y| vec![(x_min, y), (x_max, y)])
        .collect();
    let chance = s.map_or(0.2, |s| s.paddle_height);
    let chance_line = vec![(x_min, chance), (x_max, chance)];
    let mut sets: Vec<Dataset> = grid
        .iter()
        .map(|g| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::Rgb(60, 60, 60)))
                .data(g)
        })
        .collect();
    sets.push(
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(DIM))
            .data(&chance_line),
    );
    sets.push(
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(HIT))
            .data(&t.curve),
    );
    let chart = Chart::new(sets)
        .block(panel(format!(
            "Hit rate (last {} events) vs chance",
            crate::train::RECENT_EVENTS
        )))
        .x_axis(
            Axis::default()
                .bounds([x_min, x_max])
                .labels([format!("{x_min:.0}"), format!("{x_max:.0} frames")])
                .style(Style::new().fg(DIM)),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, 1.0])
                .labels(["0%", "50%", "100%"])
                .style(Style::new().fg(DIM)),
        );
    f.render_widget(chart, chart_area);

    // Hit/miss timeline, newest on the right.
    let w = tl_area.width.saturating_sub(2) as usize;
    let recent = &t.outcomes[t.outcomes.len().saturating_sub(w)..];
    let spans: Vec<Span> = recent
        .iter()
        .map(|o| {
            if o.hit {
                Span::styled("▮", Style::new().fg(HIT))
            } else {
                Span::styled("▮", Style::new().fg(MISS))
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(Line::from(spans))
            .alignment(Alignment::Right)
            .block(panel(format!(
                "Timeline · hits {} / misses {}",
                s.map_or(0, |s| s.hits),
                s.map_or(0, |s| s.misses)
            ))),
        tl_area,
    );

    // Gauges.
    let gin = panel("Skill").inner(gauge_area);
    f.render_widget(panel("Skill"), gauge_area);
    let recent = t.recent_hit_rate(crate::train::RECENT_EVENTS);
    let overall = t.overall_hit_rate();
    let above = recent.map(|r| ((r - chance) / (1.0 - chance)).clamp(0.0, 1.0));
    let rows = Layout::vertical([Constraint::Length(1); 3]).split(gin);
    for (i, (label, v, color)) in [
        ("recent ", recent, HIT),
        ("overall", overall, Color::LightBlue),
        ("> chance", above, Color::Yellow),
    ]
    .into_iter()
    .enumerate()
    {
        if i < rows.len() {
            let g = Gauge::default()
                .gauge_style(Style::new().fg(color).bg(Color::Rgb(30, 30, 30)))
                .ratio(v.unwrap_or(0.0).clamp(0.0, 1.0))
                .label(format!(
                    "{label} {}",
                    v.map(|x| format!("{:.0} %", 100.0 * x))
                        .unwrap_or("-".into())
                ));
            f.render_widget(g, rows[i]);
        }
    }

    // Sensory bump: the stimulation per band, stretched to the width.
    let bw = bump_area.width.saturating_sub(2) as usize;
    let bump = s.map(|s| s.stim_bump.clone()).unwrap_or_default();
    let mx = bump.iter().copied().fold(0.0, f64::max);
    let data: Vec<u64> = if bump.is_empty() {
        Vec::new()
    } else {
        (0..bw)
            .map(|i| {
                let v = bump[i * bump.len() / bw.max(1)];
                if mx > 0.0 {
                    (100.0 * v / mx).round() as u64
                } else {
                    0
                }
            })
            .collect()
    };
    f.render_widget(
        Sparkline::default()
            .block(panel(format!(
                "Sensory bump ({} bands, max {mx:.1})",
                bump.len()
            )))
            .style(Style::new().fg(Color::Magenta))
            .max(100)
            .data(data),
        bump_area,
    );
}

// ---------------------------------------------------------------- Science

/// The Science view's text for a finished preview (also used headless).
pub fn science_lines(p: &crate::preview::Preview) -> Vec<Line<'static>> {
    let items = science_items(&p.summary);
    let (ok, judged) = score(&items);
    let mut lines = vec![
        Line::from(vec![
            Span::raw(format!(
                "{} · {} neurons · {:.1} s · seed {}: ",
                p.config_name,
                p.n_neurons,
                p.trains.duration_s(),
                p.params.seed
            )),
            Span::styled(
                format!(
                    "{ok} of {judged} judged metrics match living cortex ({} can't tell yet)",
                    items.len() - judged
                ),
                Style::new().bold(),
            ),
        ]),
        Line::raw(""),
    ];
    for it in &items {
        let color = match it.verdict {
            Verdict::Matches => Color::Green,
            Verdict::Below | Verdict::Above => Color::Yellow,
            Verdict::Rejected => Color::LightRed,
            Verdict::CantTell => DIM,
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<18}", it.title), Style::new().fg(ACCENT).bold()),
            Span::raw(format!("{}  ", it.value)),
            Span::styled(
                it.verdict.label(),
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            ),
        ]));
        lines.push(Line::from(Span::raw(format!("  {}", it.explanation))));
        let mut r = format!("  {}", it.reference);
        if !it.why.is_empty() {
            r.push_str(&format!(" · {}", it.why));
        }
        lines.push(Line::from(Span::styled(r, Style::new().fg(DIM))));
    }
    if !p.summary.notes.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled("Notes", Style::new().bold())));
        for n in &p.summary.notes {
            lines.push(Line::from(Span::styled(
                format!("  {n}"),
                Style::new().fg(DIM),
            )));
        }
    }
    lines
}

fn draw_science(app: &mut App, f: &mut Frame, area: Rect) {
    app.wheel
        .push((area, Action::ScrollScience(2), Action::ScrollScience(-2)));
    let lines = match &app.last {
        Some(p) => science_lines(p),
        None => vec![Line::from(Span::styled(
            "No run yet. Enter runs a preview of the selected config; its metrics are explained here.",
            Style::new().fg(DIM),
        ))],
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.science_scroll, 0))
            .block(panel(
                "Science · does the culture behave like living cortex?",
            )),
        area,
    );
}

// ---------------------------------------------------------------- Results

fn opt2(v: Option<f64>, d: usize) -> String {
    v.filter(|x| x.is_finite())
        .map(|x| format!("{x:.d$}"))
        .unwrap_or_else(|| "-".into())
}

fn draw_results(app: &mut App, f: &mut Frame, area: Rect) {
    // Columns by priority: the narrow set fits 80 columns, wider terminals get more.
    type Col = (
        &'static str,
        Constraint,
        fn(&crate::results::RunRecord) -> String,
    );
    let narrow: Vec<Col> = vec![
        ("#", Constraint::Length(3), |r| r.id.to_string()),
        ("kind", Constraint::Length(7), |r| r.kind.name().to_string()),
        ("config / setup", Constraint::Fill(1), |r| r.config.clone()),
        ("N", Constraint::Length(6), |r| r.n_neurons.to_string()),
        ("Hz", Constraint::Length(5), |r| opt2(r.mean_rate_hz, 2)),
        ("b/min", Constraint::Length(5), |r| {
            opt2(r.bursts_per_min, 1)
        }),
        ("σ", Constraint::Length(5), |r| opt2(r.branching_ratio, 2)),
        ("score", Constraint::Length(5), |r| {
            score_text(r.science_score)
        }),
        ("frames", Constraint::Length(7), |r| {
            r.train_steps.map(|v| v.to_string()).unwrap_or("-".into())
        }),
        ("hit%", Constraint::Length(4), |r| {
            r.recent_hit_rate
                .map(|v| format!("{:.0}", 100.0 * v))
                .unwrap_or("-".into())
        }),
    ];
    let mid: Vec<Col> = vec![
        ("seed", Constraint::Length(5), |r| r.seed.to_string()),
        ("sim s", Constraint::Length(6), |r| {
            format!("{:.1}", r.simulated_s)
        }),
        ("hits", Constraint::Length(6), |r| {
            r.hits.map(|v| v.to_string()).unwrap_or("-".into())
        }),
    ];
    let wide: Vec<Col> = vec![
        ("synapses", Constraint::Length(9), |r| {
            r.n_synapses.to_string()
        }),
        ("α", Constraint::Length(5), |r| {
            opt2(r.avalanche_exponent, 2)
        }),
        ("wall s", Constraint::Length(7), |r| {
            format!("{:.2}", r.wall_s)
        }),
    ];
    let mut cols = narrow;
    if area.width >= 100 {
        cols.extend(mid);
    }
    if area.width >= 120 {
        cols.extend(wide);
    }
    let header: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let widths: Vec<Constraint> = cols.iter().map(|c| c.1).collect();
    let rows: Vec<Row> = app
        .runs
        .iter()
        .map(|r| Row::new(cols.iter().map(|c| Cell::from(c.2(r))).collect::<Vec<_>>()))
        .collect();
    let [table_area, foot] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    app.wheel
        .push((table_area, Action::MoveRun(1), Action::MoveRun(-1)));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().fg(Color::Gray).bold()))
        .row_highlight_style(Style::new().fg(Color::Black).bg(ACCENT))
        .column_spacing(1)
        .block(panel(format!(
            "Results · {} run{} this session",
            app.runs.len(),
            if app.runs.len() == 1 { "" } else { "s" }
        )));
    let mut state =
        TableState::default().with_selected((!app.runs.is_empty()).then_some(app.run_selected));
    f.render_stateful_widget(table, table_area, &mut state);
    // Rows start one line below the header, from the table's scroll offset.
    let inner = panel("").inner(table_area);
    for (k, i) in (state.offset()..app.runs.len()).enumerate() {
        let y = inner.y + 1 + k as u16;
        if y >= inner.bottom() {
            break;
        }
        app.hits
            .push((Rect::new(inner.x, y, inner.width, 1), Action::SelectRun(i)));
    }
    f.render_widget(
        Paragraph::new(format!(
            " e exports every run to {}",
            app.results_csv.display()
        ))
        .style(Style::new().fg(DIM)),
        foot,
    );
}
