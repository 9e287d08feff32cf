//! The cockpit rendered with ratatui's TestBackend at 80×24 and 160×48 and driven by
//! synthetic key and mouse events. Assertions are on content that comes from a seeded run
//! (neuron and synapse counts, rates, hit counts), not on whole-screen snapshots.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dishloop_tui::app::{Action, App, AppOptions, View};
use dishloop_tui::preview::PreviewParams;
use dishloop_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dishloop-tui-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn app(tag: &str) -> App {
    let d = tmp_dir(tag);
    App::new(AppOptions {
        configs_dir: None,
        params: PreviewParams {
            neuron_cap: 5000,
            duration_ms: 10_000.0,
            seed: 7,
        },
        results_csv: d.join("results/session_runs.csv"),
        brain_path: d.join("brains/pong_brain.yaml"),
        ..Default::default()
    })
}

fn key(c: char) -> Event {
    key_code(KeyCode::Char(c))
}

fn key_code(code: KeyCode) -> Event {
    Event::Key(KeyEvent {
        code,
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    })
}

fn click(col: u16, row: u16) -> Event {
    Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

/// Renders and returns the screen as lines of text.
fn render(app: &mut App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn screen(lines: &[String]) -> String {
    lines.join("\n")
}

/// Column and row of the first occurrence of `needle` (in characters).
fn find(lines: &[String], needle: &str) -> Option<(u16, u16)> {
    lines.iter().enumerate().find_map(|(y, l)| {
        l.find(needle)
            .map(|b| (l[..b].chars().count() as u16, y as u16))
    })
}

fn run_preview(app: &mut App) {
    app.handle_event(&key_code(KeyCode::Enter));
    assert!(app.job.is_some(), "Enter must start a preview");
    app.wait_preview();
    assert!(
        app.last.is_some(),
        "{:?}",
        app.status.as_ref().map(|s| &s.text)
    );
}

#[test]
fn every_view_renders_with_numbers_from_a_seeded_run_at_both_sizes() {
    let mut a = app("views");
    run_preview(&mut a);
    let p = a.last.clone().unwrap();
    assert_eq!(p.n_neurons, 5000);
    assert_eq!(p.n_exc, 4000); // ei_ratio 0.8
    a.train.run_frames(400).unwrap();
    a.train.running = true;
    a.apply(Action::TrainToggle); // pause; the Results row exists from here
    a.apply(Action::TrainToggle);
    a.apply(Action::TrainToggle);
    a.update_train_row();
    let snap = a.train.snapshot.clone().unwrap();
    assert_eq!(snap.frames, 400);
    let rate = format!("{:.2} Hz", p.summary.mean_rate_hz.unwrap());

    for (w, h) in SIZES {
        for v in View::ALL {
            a.view = v;
            let lines = render(&mut a, w, h);
            let s = screen(&lines);
            assert_eq!(lines.len(), h as usize);
            // Tabs on top, key bar at the bottom, at every size.
            for t in [
                "1 Dashboard",
                "2 Simulate",
                "3 Train",
                "4 Science",
                "5 Results",
            ] {
                assert!(
                    lines[0].contains(t),
                    "{w}x{h} {v:?}: tab {t} missing in {:?}",
                    lines[0]
                );
            }
            let bar = &lines[h as usize - 1];
            assert!(
                bar.contains("? help") && bar.contains("q quit"),
                "{w}x{h} {v:?}: key bar {bar:?}"
            );
            match v {
                View::Dashboard => {
                    assert!(s.contains("Loaded") && s.contains("Last results"), "{s}");
                    assert!(s.contains("wagenaar_calibrated"));
                    assert!(
                        s.contains("5000 neurons on 3000×3000 µm"),
                        "the full config before capping\n{s}"
                    );
                    assert!(s.contains("5000 (4000 E / 1000 I)"), "{s}");
                    assert!(s.contains(&format!("synapses  {}", p.n_synapses)), "{s}");
                    assert!(s.contains(&format!("mean rate {rate}")), "{s}");
                    assert!(bar.contains("Enter run preview"), "{bar}");
                }
                View::Simulate => {
                    for t in [
                        "Configs",
                        "Preview",
                        "Raster",
                        "Population rate",
                        "MEA",
                        "[-]",
                        "[+]",
                        "[ Run ]",
                    ] {
                        assert!(s.contains(t), "{w}x{h}: {t} missing\n{s}");
                    }
                    assert!(s.contains("≤ 5000"), "{s}");
                    assert!(s.contains(&format!("synapses  {}", p.n_synapses)), "{s}");
                    assert!(s.contains(&format!("rate      {rate}")), "{s}");
                    assert!(
                        s.contains("of 5000"),
                        "raster title names the population\n{s}"
                    );
                    assert!(bar.contains("+/- neurons"), "{bar}");
                }
                View::Train => {
                    for t in [
                        "Pong",
                        "Hit rate",
                        "Timeline",
                        "Skill",
                        "Sensory bump",
                        "recent",
                        "overall",
                    ] {
                        assert!(s.contains(t), "{w}x{h}: {t} missing\n{s}");
                    }
                    assert!(
                        s.contains(&format!("hits {} / misses {}", snap.hits, snap.misses)),
                        "{s}"
                    );
                    assert!(s.contains("frames    400"), "{s}");
                    assert!(
                        s.contains(&format!("{} frames", snap.frames)),
                        "chart x label\n{s}"
                    );
                    assert!(bar.contains("Space start/pause"), "{bar}");
                }
                View::Science => {
                    assert!(s.contains("Firing rate"), "{s}");
                    assert!(s.contains(&format!("{} per neuron", rate)), "{s}");
                    assert!(s.contains("match living cortex"), "{s}");
                    assert!(s.contains("Wagenaar 2006"), "{s}");
                    if h >= 48 {
                        assert!(
                            s.contains("Branching ratio σ") && s.contains("Avalanche sizes"),
                            "{s}"
                        );
                        let sigma = format!("{:.3}", p.summary.branching_ratio.unwrap());
                        assert!(s.contains(&sigma), "σ {sigma}\n{s}");
                    }
                }
                View::Results => {
                    assert!(s.contains("Results · 2 runs this session"), "{s}");
                    assert!(s.contains("preview") && s.contains("train"), "{s}");
                    assert!(
                        s.contains(&format!("{:.2}", p.summary.mean_rate_hz.unwrap())),
                        "{s}"
                    );
                    assert!(s.contains(&snap.frames.to_string()), "{s}");
                    assert!(bar.contains("e export CSV"), "{bar}");
                }
            }
            // Larger terminals are used: the last column of panels reaches the right edge.
            let right_edge: String = lines[1..h as usize - 1]
                .iter()
                .map(|l| l.chars().last().unwrap())
                .collect();
            assert!(
                right_edge.contains('│') || right_edge.contains('┐'),
                "{w}x{h} {v:?} leaves the right edge empty"
            );
        }
    }
    // The wide Results table shows the extra columns.
    a.view = View::Results;
    let s = screen(&render(&mut a, 160, 48));
    assert!(s.contains("synapses") && s.contains("wall s"), "{s}");
    let s = screen(&render(&mut a, 80, 24));
    assert!(!s.contains("wall s"), "{s}");
}

#[test]
fn tiny_terminal_degrades_to_a_message() {
    let mut a = app("tiny");
    let s = screen(&render(&mut a, 30, 8));
    assert!(
        s.contains("is too") && s.contains("small (need 40×12)"),
        "{s}"
    );
    a.handle_event(&key('q'));
    assert!(a.should_quit());
}

#[test]
fn space_starts_training_and_the_step_counter_advances() {
    let mut a = app("space");
    a.handle_event(&key('3'));
    assert_eq!(a.view, View::Train);
    assert!(!a.train.running);
    a.handle_event(&key(' '));
    assert!(a.train.running, "{:?}", a.train.error);
    let mut last = 0;
    for _ in 0..3 {
        a.tick(Instant::now() + Duration::from_millis(50));
        let f = a.train.snapshot.as_ref().unwrap().frames;
        assert!(f > last, "frames {f} after {last}");
        last = f;
    }
    let s = screen(&render(&mut a, 80, 24));
    assert!(s.contains(&format!("frames    {last}")), "{s}");
    assert!(s.contains("playing"), "{s}");
    // Space pauses: ticks no longer advance.
    a.handle_event(&key(' '));
    a.tick(Instant::now() + Duration::from_millis(20));
    assert_eq!(a.train.snapshot.as_ref().unwrap().frames, last);
    // Speed keys move along the ladder; r resets to a fresh session.
    let s0 = a.train.speed;
    a.handle_event(&key('+'));
    assert_eq!(a.train.speed, s0 + 1);
    a.handle_event(&key('-'));
    a.handle_event(&key('-'));
    assert_eq!(a.train.speed, s0 - 1);
    a.handle_event(&key('r'));
    assert!(a.train.snapshot.is_none() && a.train.outcomes.is_empty());
}

#[test]
fn substrate_agent_and_paddle_keys_switch_the_session() {
    use dishloop_experiments::pong::{AgentKind, PaddleMode};
    let mut a = app("switch");
    a.view = View::Train;
    a.handle_event(&key(' '));
    a.tick(Instant::now() + Duration::from_millis(20));
    assert_eq!(a.train.setup.agent, AgentKind::Pursuit);
    a.handle_event(&key('b'));
    assert_eq!(a.train.setup.agent, AgentKind::Reservoir);
    assert!(a.train.running, "switching keeps playing");
    a.tick(Instant::now() + Duration::from_millis(20));
    let snap = a.train.snapshot.clone().unwrap();
    assert_eq!(
        snap.n_neurons, 400,
        "the reservoir is the 400-neuron recurrent culture"
    );
    a.handle_event(&key('b'));
    assert_eq!(a.train.setup.agent, AgentKind::Pursuit);
    let mut seen = vec![a.train.setup.agent];
    for _ in 0..5 {
        a.handle_event(&key('a'));
        seen.push(a.train.setup.agent);
    }
    assert!(seen.contains(&AgentKind::Rstdp), "{seen:?}");
    assert_eq!(seen.len(), 6);
    a.handle_event(&key('m'));
    assert_eq!(a.train.setup.paddle, PaddleMode::Smooth);
    a.handle_event(&key('m'));
    assert_eq!(a.train.setup.paddle, PaddleMode::Direct);
}

#[test]
fn w_then_o_round_trips_the_brain_file() {
    let mut a = app("brain");
    a.view = View::Train;
    // Saving before anything exists is an error, not a panic.
    a.handle_event(&key('w'));
    assert!(a.status.as_ref().unwrap().error);
    a.handle_event(&key(' '));
    a.train.run_frames(300).unwrap();
    a.handle_event(&key('w'));
    let st = a.status.clone().unwrap();
    assert!(!st.error, "{}", st.text);
    assert!(a.brain_path.exists());
    let text = std::fs::read_to_string(&a.brain_path).unwrap();
    assert!(text.contains("pursuit"), "brain names its agent");
    let trained = a.train.snapshot.as_ref().unwrap().frames;
    assert!(trained >= 300);
    // A fresh session forgets; loading brings the trained state back.
    a.handle_event(&key('r'));
    a.handle_event(&key('o'));
    let st = a.status.clone().unwrap();
    assert!(!st.error, "{}", st.text);
    let snap = a.train.snapshot.clone().unwrap();
    assert_eq!(
        snap.frames_before, trained,
        "frames trained survive the round trip"
    );
    assert_eq!(snap.frames, 0);
    let s = screen(&render(&mut a, 80, 24));
    assert!(s.contains(&format!("(+{trained} from brain)")), "{s}");
    // A corrupt file is reported, and the session is kept.
    std::fs::write(&a.brain_path, "not: [a brain").unwrap();
    a.handle_event(&key('o'));
    assert!(a.status.as_ref().unwrap().error);
    assert!(a.train.snapshot.is_some());
}

#[test]
fn q_exits_also_from_help_and_ctrl_c() {
    let mut a = app("quit");
    a.handle_event(&key('?'));
    assert!(a.help);
    let s = screen(&render(&mut a, 80, 24));
    assert!(s.contains("Help · Dashboard"), "{s}");
    a.handle_event(&key('x')); // any key closes help
    assert!(!a.help && !a.should_quit());
    a.handle_event(&key('q'));
    assert!(a.should_quit());
    let mut b = app("quit2");
    b.handle_event(&Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(b.should_quit());
}

#[test]
fn help_is_per_view() {
    let mut a = app("help");
    for (v, needle) in [
        (View::Simulate, "neuron cap"),
        (View::Train, "feed-forward bank"),
        (View::Results, "CSV"),
    ] {
        a.view = v;
        a.help = true;
        let s = screen(&render(&mut a, 160, 48));
        assert!(
            s.contains(&format!("Help · {}", v.title())) && s.contains(needle),
            "{s}"
        );
    }
}

#[test]
fn mouse_clicks_tabs_buttons_and_configs() {
    let mut a = app("mouse");
    let lines = render(&mut a, 80, 24);
    let (x, y) = find(&lines, "2 Simulate").unwrap();
    a.handle_event(&click(x + 1, y));
    assert_eq!(a.view, View::Simulate);
    let lines = render(&mut a, 80, 24);
    // The [+] of the neuron row doubles the cap.
    let (x, y) = find(&lines, "[+] ≤ 5000").unwrap();
    a.handle_event(&click(x + 1, y));
    assert_eq!(a.params.neuron_cap, 10_000);
    let lines = render(&mut a, 80, 24);
    let (x, y) = find(&lines, "[-] [+] ≤ 10000").unwrap();
    a.handle_event(&click(x, y));
    assert_eq!(a.params.neuron_cap, 5000);
    // Duration and seed buttons.
    let (x, y) = find(&lines, "[-] [+] 10 s").unwrap();
    a.handle_event(&click(x + 5, y));
    assert_eq!(a.params.duration_ms, 20_000.0);
    let (x, y) = find(&lines, "[-] [+] 7").unwrap();
    a.handle_event(&click(x + 1, y));
    assert_eq!(a.params.seed, 6);
    // Click a config in the list.
    let (x, y) = find(&lines, "default").unwrap();
    a.handle_event(&click(x, y));
    assert_eq!(a.configs.entries[a.selected].label, "default");
    // Wheel over the config list moves the selection.
    a.handle_event(&Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.selected, 1);
    // Key-bar entries are buttons too.
    let lines = render(&mut a, 80, 24);
    let (x, y) = find(&lines, "? help").unwrap();
    a.handle_event(&click(x + 2, y));
    assert!(a.help);
}

#[test]
fn simulate_keys_and_the_run_button() {
    let mut a = app("simkeys");
    a.handle_event(&key('2'));
    let first = a.selected;
    a.handle_event(&key('j'));
    assert_eq!(a.selected, first + 1);
    a.handle_event(&key('k'));
    assert_eq!(a.selected, first);
    a.handle_event(&key(']'));
    assert_eq!(a.params.duration_ms, 20_000.0);
    a.handle_event(&key('['));
    a.handle_event(&key('['));
    assert_eq!(a.params.duration_ms, 5000.0);
    a.handle_event(&key('s'));
    assert_eq!(a.params.seed, 8);
    a.handle_event(&key('-'));
    assert_eq!(a.params.neuron_cap, 3200);
    let lines = render(&mut a, 80, 24);
    let (x, y) = find(&lines, "[ Run ]").unwrap();
    a.handle_event(&click(x + 2, y));
    assert!(a.job.is_some());
    // While it runs the button turns into Cancel and a spinner shows progress.
    let s = screen(&render(&mut a, 80, 24));
    assert!(s.contains("[Cancel]") || a.job.as_ref().is_none(), "{s}");
    a.wait_preview();
    let p = a.last.as_ref().unwrap();
    assert_eq!(
        (p.n_neurons, p.params.seed, p.trains.n_steps),
        (3200, 8, 10_000)
    );
    // The raster scrolls within the population.
    let _ = render(&mut a, 80, 24);
    a.handle_event(&key_code(KeyCode::PageDown));
    assert!(a.raster_offset > 0);
    for _ in 0..1000 {
        a.handle_event(&key_code(KeyCode::PageDown));
    }
    assert_eq!(a.raster_offset, 3200 - a.raster_rows);
}

#[test]
fn e_exports_every_run_to_csv() {
    let mut a = app("export");
    run_preview(&mut a);
    a.view = View::Train;
    a.handle_event(&key(' '));
    a.train.run_frames(200).unwrap();
    a.handle_event(&key('5'));
    a.handle_event(&key('e'));
    let st = a.status.clone().unwrap();
    assert!(!st.error, "{}", st.text);
    let csv = std::fs::read_to_string(&a.results_csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,kind,config"));
    let p = a.last.as_ref().unwrap();
    assert!(
        lines[1].starts_with(&format!(
            "1,preview,wagenaar_calibrated,7,5000,{},",
            p.n_synapses
        )),
        "{}",
        lines[1]
    );
    // Training uses its own set-up's seed (1 by default); the feed-forward bank has no synapses.
    assert!(
        lines[2].starts_with("2,train,pursuit · direct,1,512,0,"),
        "{}",
        lines[2]
    );
    assert!(
        lines[2].contains(",200,"),
        "train steps in the row: {}",
        lines[2]
    );
    // Selecting runs with keys and clicks.
    a.handle_event(&key('j'));
    assert_eq!(a.run_selected, 1);
    let lines = render(&mut a, 80, 24);
    let (x, y) = find(&lines, "preview").unwrap();
    a.handle_event(&click(x, y));
    assert_eq!(a.run_selected, 0);
}
