//! Health with HAProxy's semantics: a node goes down after `fall` consecutive failed checks and
//! comes back up after `rise` consecutive successes; checks run every `inter` while up and every
//! `downinter` while down. Unlike HAProxy, a node's first check decides its state at once, so a
//! starting proxy neither routes to a dead node nor waits `rise` checks for a live one.

use std::time::Duration;

/// Check cadence and thresholds: the `[health]` section of the config file, with HAProxy's names
/// (a missing key takes its default from [`HealthSettings::default`], the one place defaults live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSettings {
    /// Interval while up.
    #[serde(with = "crate::durations")]
    pub inter: Duration,
    /// Interval while down.
    #[serde(with = "crate::durations")]
    pub downinter: Duration,
    /// Consecutive successes to come up.
    pub rise: u32,
    /// Consecutive failures to go down.
    pub fall: u32,
    /// Connect + login + queries must finish within this.
    #[serde(with = "crate::durations")]
    pub timeout: Duration,
    /// HAProxy's `slowstart`: a node that comes back into the read pool (after being down,
    /// out of replication or lagging, or from maintenance) takes its read share, and its backend connection cap,
    /// in steps over this time instead of at once, from a twentieth up, so a cold server is
    /// not handed a full share of reads and a storm of new connections the moment it
    /// returns. `"0s"` (default) turns it off; never at start-up.
    #[serde(with = "crate::durations")]
    pub slowstart: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            inter: Duration::from_secs(2),
            downinter: Duration::from_secs(5),
            rise: 3,
            fall: 2,
            timeout: Duration::from_secs(1),
            slowstart: Duration::ZERO,
        }
    }
}

/// Up/down state of one node with its consecutive-result counters.
#[derive(Debug, Clone, Default)]
pub struct Health {
    up: Option<bool>,
    successes: u32,
    failures: u32,
}

/// A change of state caused by a check result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The node came up.
    Up,
    /// The node went down.
    Down,
}

impl Health {
    /// Unknown until the first check.
    pub fn new() -> Health {
        Health::default()
    }

    /// True when the node is up (false before the first check).
    pub fn is_up(&self) -> bool {
        self.up == Some(true)
    }

    /// True once at least one check has completed.
    pub fn is_known(&self) -> bool {
        self.up.is_some()
    }

    /// Consecutive successes so far.
    pub fn successes(&self) -> u32 {
        self.successes
    }

    /// Records one check result; returns the transition it caused, if any.
    pub fn record(&mut self, ok: bool, s: &HealthSettings) -> Option<Transition> {
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        }
        let next = match self.up {
            None => ok,
            Some(true) => self.failures < s.fall,
            Some(false) => self.successes >= s.rise,
        };
        let changed = self.up != Some(next);
        self.up = Some(next);
        match (changed, next) {
            (false, _) => None,
            (true, true) => Some(Transition::Up),
            (true, false) => Some(Transition::Down),
        }
    }

    /// Interval to the next check.
    pub fn interval(&self, s: &HealthSettings) -> Duration {
        if self.is_up() {
            s.inter
        } else {
            s.downinter
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_check_decides_then_rise_and_fall_apply() {
        let s = HealthSettings::default(); // rise 3, fall 2
        let mut h = Health::new();
        assert!(!h.is_up() && !h.is_known());
        assert_eq!(h.record(true, &s), Some(Transition::Up));
        assert_eq!(h.record(false, &s), None, "one failure is not fall=2");
        assert!(h.is_up());
        assert_eq!(
            h.record(true, &s),
            None,
            "a success resets the failure count"
        );
        assert_eq!(h.record(false, &s), None);
        assert_eq!(h.record(false, &s), Some(Transition::Down));
        assert_eq!(h.interval(&s), s.downinter);
        assert_eq!(h.record(true, &s), None);
        assert_eq!(h.record(true, &s), None);
        assert_eq!(
            h.record(false, &s),
            None,
            "rise needs consecutive successes"
        );
        assert_eq!(h.record(true, &s), None);
        assert_eq!(h.record(true, &s), None);
        assert_eq!(h.record(true, &s), Some(Transition::Up));
        assert_eq!(h.interval(&s), s.inter);
    }

    #[test]
    fn first_failure_is_down_at_once() {
        let mut h = Health::new();
        assert_eq!(
            h.record(false, &HealthSettings::default()),
            Some(Transition::Down)
        );
        assert!(!h.is_up() && h.is_known());
    }
}
