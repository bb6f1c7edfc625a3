//! Durations in configuration files: strings such as `"2s"`, `"500ms"`, `"1m 30s"` (humantime),
//! and `"off"` for an optional limit. Used by the settings here and by the proxy's config file.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `"2s"`, `"500ms"`, `"1m 30s"`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).map_err(serde::de::Error::custom)
}

/// A duration as written in a config file.
pub fn parse(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("bad duration `{s}`: {e}"))
}

/// A duration or `"off"` (`None`).
pub mod optional {
    use super::*;

    /// `"off"` or a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        if s.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        parse(&s).map(Some).map_err(serde::de::Error::custom)
    }
}
