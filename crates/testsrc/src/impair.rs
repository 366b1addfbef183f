//! Deliberate impairments, to make the conditions a failover must notice: packet loss,
//! a frozen or black picture, silence, and no signal at all.
//!
//! [`Impairments`] is a plain value: a running source reads the latest one from a `watch`
//! channel each frame (picture and sound) and each datagram (drop, stop), so a change takes
//! effect within a frame or two. [`Command`] is the operator's text form of a change
//! (`drop 5`, `freeze`, `restore`, …), as `onair testsrc` reads it from stdin.

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What is wrong with the signal on purpose. The default is nothing.
///
/// In JSON (for a dashboard's buttons): `{"dropPercent": 5, "freeze": false, "black":
/// false, "silence": false, "stop": false}`, every member optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Impairments {
    /// Share of media datagrams not sent, in percent (0 to 100), drawn at random per
    /// datagram. With RTP-FEC, FEC datagrams are always sent: this is the loss that FEC
    /// is there to repair.
    pub drop_percent: f64,
    /// The picture stops moving: the last picture is sent again (timecode included).
    pub freeze: bool,
    /// The picture is black (before `freeze`: a black picture is black, frozen or not).
    pub black: bool,
    /// The sound is digital silence.
    pub silence: bool,
    /// Nothing is sent. Encoding goes on, so a restored stream resumes on its cadence
    /// with the timestamps it would have had (a jump, as after a cable is plugged back).
    pub stop: bool,
}

impl Impairments {
    /// No impairment.
    pub fn none() -> Self {
        Self::default()
    }

    /// True when nothing is impaired.
    pub fn is_none(&self) -> bool {
        self.clamped() == Self::default()
    }

    /// `drop_percent` limited to 0–100 (NaN counts as 0).
    pub fn clamped(mut self) -> Self {
        self.drop_percent = if self.drop_percent.is_nan() {
            0.0
        } else {
            self.drop_percent.clamp(0.0, 100.0)
        };
        self
    }

    /// Applies `command`; returns false for commands that change nothing here
    /// ([`Command::Help`], [`Command::Status`]).
    pub fn apply(&mut self, command: Command) -> bool {
        match command {
            Command::Drop(p) => self.drop_percent = p,
            Command::Freeze(on) => self.freeze = on,
            Command::Black(on) => self.black = on,
            Command::Silence(on) => self.silence = on,
            Command::Stop(on) => self.stop = on,
            Command::Restore => *self = Self::none(),
            Command::Help | Command::Status => return false,
        }
        *self = self.clamped();
        true
    }
}

impl fmt::Display for Impairments {
    /// `none`, or the impairments in effect, e.g. `drop 5%, freeze, silence`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let i = self.clamped();
        if i.stop {
            parts.push("stop".to_string());
        }
        if i.drop_percent > 0.0 {
            parts.push(format!("drop {}%", i.drop_percent));
        }
        for (on, name) in [
            (i.black, "black"),
            (i.freeze, "freeze"),
            (i.silence, "silence"),
        ] {
            if on {
                parts.push(name.to_string());
            }
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// One operator command (see [`Command::HELP`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    /// `drop PCT`: lose PCT % of media datagrams (`drop 0` ends it).
    Drop(f64),
    /// `freeze` / `freeze off`.
    Freeze(bool),
    /// `black` / `black off`.
    Black(bool),
    /// `silence` / `silence off`.
    Silence(bool),
    /// `stop` / `stop off` (also `start`).
    Stop(bool),
    /// `restore`: every impairment off.
    Restore,
    /// `help`.
    Help,
    /// `status`: print the progress line now.
    Status,
}

impl Command {
    /// What the commands are, one per line.
    pub const HELP: &'static str = "\
drop PCT      lose PCT % of the media datagrams at random (drop 0: none)
freeze        the picture stops moving        (freeze off: moves again)
black         the picture turns black         (black off)
silence       the tone is replaced by silence (silence off)
stop          nothing is sent at all          (stop off, or start: sending again)
restore       every impairment off
status        print the progress line now
help          this list";
}

/// Why a command line was not understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command '{0}' (try 'help')")]
    Unknown(String),
    #[error("'drop' takes a percentage from 0 to 100, e.g. 'drop 5'")]
    Percent,
    #[error("'{0}' takes nothing or 'off'")]
    Switch(&'static str),
}

impl FromStr for Command {
    type Err = CommandError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or_default().to_ascii_lowercase();
        let arg = words.next();
        if words.next().is_some() {
            return Err(CommandError::Unknown(line.trim().to_string()));
        }
        let switch = |name: &'static str| match arg.map(str::to_ascii_lowercase).as_deref() {
            None | Some("on") => Ok(true),
            Some("off") => Ok(false),
            Some(_) => Err(CommandError::Switch(name)),
        };
        let bare = |c: Command| match arg {
            None => Ok(c),
            Some(_) => Err(CommandError::Unknown(line.trim().to_string())),
        };
        match verb.as_str() {
            "drop" => {
                let pct = arg
                    .map(|a| a.trim_end_matches('%'))
                    .and_then(|a| a.parse::<f64>().ok())
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or(CommandError::Percent)?;
                Ok(Command::Drop(pct))
            }
            "freeze" => switch("freeze").map(Command::Freeze),
            "black" => switch("black").map(Command::Black),
            "silence" => switch("silence").map(Command::Silence),
            "stop" => switch("stop").map(Command::Stop),
            "start" => bare(Command::Stop(false)),
            "restore" => bare(Command::Restore),
            "help" | "?" => bare(Command::Help),
            "status" => bare(Command::Status),
            _ => Err(CommandError::Unknown(line.trim().to_string())),
        }
    }
}

/// Decides which datagrams the `drop` impairment loses: independent draws, from a seed
/// when the run must be repeatable.
#[derive(Debug)]
pub struct Dropper {
    rng: StdRng,
}

impl Dropper {
    /// Draws from `seed`, or from the operating system's entropy when `None`.
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            rng: match seed {
                Some(s) => StdRng::seed_from_u64(s),
                None => StdRng::from_entropy(),
            },
        }
    }

    /// True if the next datagram is to be lost at `percent` % loss.
    pub fn drop(&mut self, percent: f64) -> bool {
        // (NaN and ≤ 0 never drop; ≥ 100 always does.)
        percent > 0.0 && self.rng.gen::<f64>() * 100.0 < percent
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_asked_share_over_a_seeded_run() {
        for pct in [0.5, 5.0, 20.0] {
            let mut d = Dropper::new(Some(7));
            let n = 200_000;
            let dropped = (0..n).filter(|_| d.drop(pct)).count();
            let got = dropped as f64 * 100.0 / n as f64;
            assert!((got - pct).abs() < pct * 0.05, "{pct}%: dropped {got}%");
        }
        // The same seed loses the same datagrams.
        let run = |seed| {
            let mut d = Dropper::new(Some(seed));
            (0..1000).map(|_| d.drop(10.0)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let mut d = Dropper::new(None);
        assert!((0..1000).all(|_| !d.drop(0.0) && !d.drop(f64::NAN) && d.drop(100.0)));
    }

    #[test]
    fn commands_parse_and_apply() {
        let mut i = Impairments::none();
        for line in ["drop 5", "FREEZE", "black on", "silence", "stop"] {
            assert!(i.apply(line.parse().unwrap()), "{line}");
        }
        assert_eq!(
            i,
            Impairments {
                drop_percent: 5.0,
                freeze: true,
                black: true,
                silence: true,
                stop: true,
            }
        );
        assert_eq!(i.to_string(), "stop, drop 5%, black, freeze, silence");
        for line in ["freeze off", "start", "drop 0.5%"] {
            i.apply(line.parse().unwrap());
        }
        assert_eq!(i.to_string(), "drop 0.5%, black, silence");
        assert!(!i.apply(Command::Help));
        i.apply("  restore ".parse().unwrap());
        assert!(i.is_none());
        assert_eq!(i.to_string(), "none");
        assert_eq!("help".parse(), Ok(Command::Help));
        assert_eq!("status".parse(), Ok(Command::Status));
        assert_eq!("drop".parse::<Command>(), Err(CommandError::Percent));
        assert_eq!("drop 101".parse::<Command>(), Err(CommandError::Percent));
        assert_eq!("drop x".parse::<Command>(), Err(CommandError::Percent));
        assert_eq!(
            "freeze now".parse::<Command>(),
            Err(CommandError::Switch("freeze"))
        );
        assert!(matches!(
            "explode".parse::<Command>(),
            Err(CommandError::Unknown(_))
        ));
        assert!(matches!(
            "".parse::<Command>(),
            Err(CommandError::Unknown(_))
        ));
        assert!(matches!(
            "restore all".parse::<Command>(),
            Err(CommandError::Unknown(_))
        ));
        let json: Impairments =
            serde_json::from_str(r#"{"dropPercent": 2.5, "black": true}"#).unwrap();
        assert_eq!(json.to_string(), "drop 2.5%, black");
        assert_eq!(
            serde_json::to_string(&Impairments::none()).unwrap(),
            r#"{"dropPercent":0.0,"freeze":false,"black":false,"silence":false,"stop":false}"#
        );
        let wild = Impairments {
            drop_percent: 250.0,
            ..Impairments::none()
        };
        assert_eq!(wild.clamped().drop_percent, 100.0);
    }

    proptest::proptest! {
        /// Whatever is typed, parsing answers, and applying keeps the drop in range.
        #[test]
        fn any_line_parses_or_is_refused_without_panicking(line in ".{0,40}") {
            if let Ok(c) = line.parse::<Command>() {
                let mut i = Impairments::none();
                i.apply(c);
                proptest::prop_assert!((0.0..=100.0).contains(&i.drop_percent));
            }
        }
    }
}
