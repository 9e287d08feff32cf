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
