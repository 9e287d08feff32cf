//! Pong physics on the unit square: the ball enters at the left wall, bounces off the top and
//! bottom walls and is scored at the right wall (`x = 1`), where the paddle lives.
//!
//! Values follow BL-1's `Learner` game (reference/bl1.md §7): ball speed 0.03 per frame at an
//! angle uniform in ±π/4 (33–47 frames per crossing), paddle height 0.2 (hit when the ball
//! crosses within ±0.1 of the paddle centre), re-launch after every hit or miss, and the
//! smooth-pursuit paddle `vel ← (vel + 0.5·(target − pos))·0.6`, capped at ±0.08 per frame.

use serde::{Deserialize, Serialize};

use dishloop_core::rng::SplitMix;

/// How a decoded target moves the paddle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PaddleMode {
    /// The paddle teleports to the target each frame.
    #[default]
    Direct,
    /// Spring + damping + speed cap toward the target: the culture must lead the ball.
    Smooth,
}

impl std::str::FromStr for PaddleMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "direct" => Ok(Self::Direct),
            "smooth" => Ok(Self::Smooth),
            _ => Err(format!("unknown paddle mode `{s}` (direct, smooth)")),
        }
    }
}

impl std::fmt::Display for PaddleMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Direct => "direct",
            Self::Smooth => "smooth",
        })
    }
}

/// Game constants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GameParams {
    /// Ball speed per frame (field units).
    pub ball_speed: f64,
    /// Largest launch angle from horizontal (rad).
    pub max_angle_rad: f64,
    /// Paddle height (field units); a hit needs |ball − paddle| ≤ height/2.
    pub paddle_height: f64,
    /// Smooth paddle: spring gain per frame.
    pub spring: f64,
    /// Smooth paddle: velocity retained per frame.
    pub damping: f64,
    /// Smooth paddle: speed cap per frame.
    pub max_speed: f64,
    /// Launch each ball at a uniformly random height instead of the centre (BL-1 and
    /// DishBrain launch from the centre).
    pub random_launch_height: bool,
}

impl Default for GameParams {
    fn default() -> Self {
        Self {
            ball_speed: 0.03,
            max_angle_rad: std::f64::consts::FRAC_PI_4,
            paddle_height: 0.2,
            spring: 0.5,
            damping: 0.6,
            max_speed: 0.08,
            random_launch_height: false,
        }
    }
}

impl GameParams {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64, lo: f64, hi: f64| v.is_finite() && v >= lo && v <= hi;
        if !ok(self.ball_speed, 1e-4, 0.5) {
            return Err(format!(
                "game.ball_speed = {} (allowed 1e-4 ..= 0.5)",
                self.ball_speed
            ));
        }
        if !ok(self.max_angle_rad, 0.0, 1.4) {
            return Err(format!(
                "game.max_angle_rad = {} (allowed 0 ..= 1.4)",
                self.max_angle_rad
            ));
        }
        if !ok(self.paddle_height, 0.01, 1.0) {
            return Err(format!(
                "game.paddle_height = {} (allowed 0.01 ..= 1)",
                self.paddle_height
            ));
        }
        if !ok(self.spring, 0.0, 2.0)
            || !ok(self.damping, 0.0, 1.0)
            || !ok(self.max_speed, 0.0, 1.0)
        {
            return Err(
                "game.spring (0..=2), game.damping (0..=1), game.max_speed (0..=1) out of range"
                    .into(),
            );
        }
        Ok(())
    }
}

/// What happened at the right wall in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GameEvent {
    /// The paddle returned the ball.
    Hit,
    /// The ball passed the paddle.
    Miss,
}

/// The game state.
#[derive(Clone, Debug)]
pub struct PongGame {
    /// Constants.
    pub params: GameParams,
    /// Ball position `[x, y]`.
    pub ball: [f64; 2],
    /// Ball velocity per frame.
    pub vel: [f64; 2],
    /// Paddle centre (y).
    pub paddle: f64,
    /// Paddle velocity per frame (smooth mode).
    pub paddle_vel: f64,
    /// Where the ball crossed `x = 1` in the last event.
    pub last_cross_y: f64,
    rng: SplitMix,
}

impl PongGame {
    /// A game with its own random stream; the first ball is launched.
    pub fn new(params: GameParams, seed: u64, stream: u64) -> Self {
        let mut g = Self {
            params,
            ball: [0.0, 0.5],
            vel: [0.0, 0.0],
            paddle: 0.5,
            paddle_vel: 0.0,
            last_cross_y: 0.5,
            rng: SplitMix::new(seed, stream),
        };
        g.launch();
        g
    }

    /// Launches a ball from the left wall (centre, or a uniform height) at a uniform angle
    /// in ±`max_angle_rad`.
    pub fn launch(&mut self) {
        let u = self.rng.uniform();
        let y = if self.params.random_launch_height {
            u
        } else {
            0.5
        };
        let a = self
            .rng
            .range(-self.params.max_angle_rad, self.params.max_angle_rad);
        self.ball = [0.0, y];
        self.vel = [
            self.params.ball_speed * a.cos(),
            self.params.ball_speed * a.sin(),
        ];
    }

    /// Moves the paddle toward `target` (clamped to [0, 1]).
    pub fn move_paddle(&mut self, target: f64, mode: PaddleMode) {
        let t = if target.is_finite() {
            target.clamp(0.0, 1.0)
        } else {
            self.paddle
        };
        match mode {
            PaddleMode::Direct => {
                self.paddle_vel = t - self.paddle;
                self.paddle = t;
            }
            PaddleMode::Smooth => {
                let p = &self.params;
                let v = ((self.paddle_vel + p.spring * (t - self.paddle)) * p.damping)
                    .clamp(-p.max_speed, p.max_speed);
                let np = (self.paddle + v).clamp(0.0, 1.0);
                self.paddle_vel = np - self.paddle;
                self.paddle = np;
            }
        }
    }

    /// Advances the ball one frame; scores and re-launches when it reaches the right wall.
    pub fn step_ball(&mut self) -> Option<GameEvent> {
        let [x0, y0] = self.ball;
        let [vx, vy] = self.vel;
        let x1 = x0 + vx;
        if x1 >= 1.0 {
            let f = ((1.0 - x0) / vx).clamp(0.0, 1.0);
            let y = reflect(y0 + vy * f);
            self.last_cross_y = y;
            let hit = (y - self.paddle).abs() <= 0.5 * self.params.paddle_height + 1e-12;
            self.launch();
            return Some(if hit { GameEvent::Hit } else { GameEvent::Miss });
        }
        let y1 = y0 + vy;
        self.ball = [x1, reflect(y1)];
        if !(0.0..=1.0).contains(&y1) {
            self.vel[1] = -vy;
        }
        None
    }
}

/// Folds a height into [0, 1] by mirror reflection at the walls.
fn reflect(y: f64) -> f64 {
    let m = y.rem_euclid(2.0);
    if m > 1.0 { 2.0 - m } else { m }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ball_crosses_in_33_to_47_frames_and_bounces() {
        let mut g = PongGame::new(GameParams::default(), 1, 0);
        let mut frames = 0;
        let mut lengths = Vec::new();
        for _ in 0..20_000 {
            frames += 1;
            let y = g.ball[1];
            assert!((0.0..=1.0).contains(&y));
            if g.step_ball().is_some() {
                lengths.push(frames);
                frames = 0;
            }
        }
        let (lo, hi) = (
            *lengths.iter().min().unwrap(),
            *lengths.iter().max().unwrap(),
        );
        // 1 / 0.03 = 33.3 frames flat, 1 / (0.03 cos 45°) = 47.1 at the steepest angle.
        assert!(lo >= 33 && hi <= 48, "{lo} .. {hi}");
    }

    #[test]
    fn static_paddle_hits_about_a_fifth() {
        // From the centre at angle θ ~ U(±π/4) the ball arrives at fold(0.5 + tan θ): a
        // centred paddle of half-height 0.1 returns tan θ ∈ ±0.1 or |tan θ| ≥ 0.9, i.e.
        // (2·atan 0.1 + 2·(π/4 − atan 0.9)) / (π/2) = 19.4 % (4000 events: s.e. 0.6 %).
        let mut g = PongGame::new(GameParams::default(), 7, 0);
        let (mut h, mut n) = (0, 0);
        while n < 4000 {
            if let Some(e) = g.step_ball() {
                n += 1;
                h += (e == GameEvent::Hit) as u32;
            }
        }
        let r = h as f64 / n as f64;
        assert!((0.175..0.215).contains(&r), "{r}");
    }

    #[test]
    fn perfect_tracking_always_hits_and_smooth_lags_but_follows() {
        let mut g = PongGame::new(GameParams::default(), 3, 0);
        let mut s = PongGame::new(GameParams::default(), 3, 0);
        let (mut hd, mut hs, mut n) = (0, 0, 0);
        while n < 300 {
            g.move_paddle(g.ball[1], PaddleMode::Direct);
            s.move_paddle(s.ball[1], PaddleMode::Smooth);
            let (a, b) = (g.step_ball(), s.step_ball());
            if let Some(e) = a {
                n += 1;
                hd += (e == GameEvent::Hit) as u32;
            }
            hs += (b == Some(GameEvent::Hit)) as u32;
        }
        assert_eq!(hd, 300);
        // Smooth pursuit of the current height catches most balls (the lag is ~0.03, but a
        // fresh ball can launch far from the paddle).
        assert!(hs > 200, "{hs}");
    }

    #[test]
    fn reflect_folds() {
        assert!((reflect(1.2) - 0.8).abs() < 1e-12);
        assert!((reflect(-0.3) - 0.3).abs() < 1e-12);
        assert!((reflect(2.1) - 0.1).abs() < 1e-12);
    }
}
