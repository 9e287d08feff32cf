//! Smoke test of the real `dishloop tui` binary under tmux: scripts/tui-smoke.sh starts it,
//! opens the Train view, presses Space and checks that the frame count rises between two
//! captures, then that `q` (and a deliberate panic) leave the terminal restored. Skips with a
//! message when tmux is not installed (scripts/setup.sh installs it).

use std::path::Path;
use std::process::Command;

#[test]
fn tui_trains_under_tmux_and_restores_the_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIP tui_smoke: tmux is not installed (scripts/setup.sh installs it)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/tui-smoke.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_dishloop"))
        .output()
        .expect("running scripts/tui-smoke.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.code() == Some(77) {
        eprintln!("SKIP tui_smoke: {text}");
        return;
    }
    assert!(out.status.success(), "tui smoke test failed:\n{text}");
    assert!(text.contains("PASS"), "{text}");
}

#[test]
fn headless_prints_dashboard_and_science_with_json_last() {
    let out = Command::new(env!("CARGO_BIN_EXE_dishloop"))
        .args([
            "tui",
            "--headless",
            "--json",
            "--seed",
            "3",
            "--configs",
            "/nonexistent",
        ])
        .output()
        .expect("running dishloop tui --headless");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let j: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    // The cockpit's preview defaults: the calibrated culture's 5 000 neurons for 10 s.
    assert_eq!(j["n_neurons"], 5000);
    assert_eq!(j["n_exc"], 4000);
    assert_eq!(j["duration_s"], 10.0);
    assert_eq!(j["seed"], 3);
    assert_eq!(j["science"].as_array().map(|a| a.len()), Some(6));
    let n_syn = j["n_synapses"].as_u64().unwrap();
    assert!(n_syn > 400, "{n_syn}");
    // The text carries the same numbers.
    assert!(stdout.contains("== Dashboard =="), "{stdout}");
    assert!(stdout.contains("== Science =="), "{stdout}");
    assert!(
        stdout.contains(&format!("synapses    {n_syn} ")),
        "{stdout}"
    );
    let rate = j["mean_rate_hz"].as_f64().unwrap();
    assert!(
        stdout.contains(&format!("Firing rate       {rate:.2} Hz per neuron")),
        "{stdout}"
    );
}

#[test]
fn without_a_terminal_the_cockpit_points_to_headless() {
    let out = Command::new(env!("CARGO_BIN_EXE_dishloop"))
        .arg("tui")
        .output()
        .expect("running dishloop tui");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--headless"), "{err}");
}
