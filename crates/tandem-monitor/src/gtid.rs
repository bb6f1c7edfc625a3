//! GTID positions, compared the way failover needs: "has node B applied everything node A had?"
//!
//! MariaDB positions are lists of `domain-server-seq` triples, one per replication domain, where a
//! higher `seq` within a domain is later whatever server wrote it. MySQL GTID sets
//! (`uuid:1-5:7`) are compared as sets of intervals per source uuid. Both are parsed leniently
//! (whitespace, newlines, empty strings) and any malformed text makes the position unknown, which
//! callers treat as "not proven caught up".

use std::collections::BTreeMap;
use std::fmt;

/// A replication position that can be compared for coverage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GtidPosition {
    /// No GTID information (empty position).
    #[default]
    Empty,
    /// MariaDB: domain id → (server id, sequence number) of the last transaction.
    MariaDb(BTreeMap<u32, (u32, u64)>),
    /// MySQL: source uuid → sorted, merged closed intervals of transaction numbers.
    MySql(BTreeMap<String, Vec<(u64, u64)>>),
}

impl GtidPosition {
    /// Parses a MariaDB position such as `0-1-100,1-2-7`.
    pub fn parse_mariadb(text: &str) -> Option<GtidPosition> {
        let mut map = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut it = part.splitn(3, '-');
            let domain = it.next()?.parse().ok()?;
            let server = it.next()?.parse().ok()?;
            let seq: u64 = it.next()?.parse().ok()?;
            let entry = map.entry(domain).or_insert((server, seq));
            if seq > entry.1 {
                *entry = (server, seq);
            }
        }
        Some(if map.is_empty() {
            GtidPosition::Empty
        } else {
            GtidPosition::MariaDb(map)
        })
    }

    /// Parses a MySQL GTID set such as `3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7, uuid2:1-3`.
    pub fn parse_mysql(text: &str) -> Option<GtidPosition> {
        let mut map: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut it = part.split(':');
            let uuid = it.next()?.trim().to_ascii_lowercase();
            if uuid.is_empty() {
                return None;
            }
            let ranges = map.entry(uuid).or_default();
            for r in it {
                let (a, b) = match r.split_once('-') {
                    Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                    None => {
                        let v = r.trim().parse().ok()?;
                        (v, v)
                    }
                };
                if a > b {
                    return None;
                }
                ranges.push((a, b));
            }
        }
        for ranges in map.values_mut() {
            merge(ranges);
        }
        Some(if map.is_empty() {
            GtidPosition::Empty
        } else {
            GtidPosition::MySql(map)
        })
    }

    /// True when every transaction in `other` is also in `self`.
    /// Positions of different flavours never cover each other (except the empty one).
    pub fn covers(&self, other: &GtidPosition) -> bool {
        match (self, other) {
            (_, GtidPosition::Empty) => true,
            (GtidPosition::MariaDb(a), GtidPosition::MariaDb(b)) => b
                .iter()
                .all(|(d, (_, seq))| a.get(d).is_some_and(|(_, s)| s >= seq)),
            (GtidPosition::MySql(a), GtidPosition::MySql(b)) => b.iter().all(|(uuid, need)| {
                let have = a.get(uuid).map(Vec::as_slice).unwrap_or(&[]);
                need.iter()
                    .all(|&(lo, hi)| have.iter().any(|&(hlo, hhi)| hlo <= lo && hi <= hhi))
            }),
            _ => false,
        }
    }
}

fn merge(ranges: &mut Vec<(u64, u64)>) {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for &(a, b) in ranges.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *ranges = out;
}

impl fmt::Display for GtidPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidPosition::Empty => Ok(()),
            GtidPosition::MariaDb(m) => {
                let parts: Vec<String> =
                    m.iter().map(|(d, (s, q))| format!("{d}-{s}-{q}")).collect();
                f.write_str(&parts.join(","))
            }
            GtidPosition::MySql(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(u, rs)| {
                        let rs: Vec<String> = rs
                            .iter()
                            .map(|(a, b)| {
                                if a == b {
                                    a.to_string()
                                } else {
                                    format!("{a}-{b}")
                                }
                            })
                            .collect();
                        format!("{u}:{}", rs.join(":"))
                    })
                    .collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> GtidPosition {
        GtidPosition::parse_mariadb(s).expect("valid")
    }
    fn y(s: &str) -> GtidPosition {
        GtidPosition::parse_mysql(s).expect("valid")
    }

    #[test]
    fn mariadb_coverage_is_per_domain() {
        assert!(m("0-1-100").covers(&m("0-2-99")));
        assert!(m("0-1-100").covers(&m("0-1-100")));
        assert!(!m("0-1-100").covers(&m("0-1-101")));
        assert!(!m("0-1-100").covers(&m("1-1-1")));
        assert!(m("0-1-5,1-2-9").covers(&m("1-2-9")));
        assert!(m("").covers(&m("")));
        assert!(!m("").covers(&m("0-1-1")));
        assert_eq!(m("0-1-5, 1-2-9").to_string(), "0-1-5,1-2-9");
    }

    #[test]
    fn mysql_sets_cover_by_interval() {
        let a = y("AAAA:1-10:12, bbbb:1-3");
        assert!(a.covers(&y("aaaa:2-9")));
        assert!(a.covers(&y("aaaa:12")));
        assert!(!a.covers(&y("aaaa:11")));
        assert!(!a.covers(&y("cccc:1")));
        assert!(y("u:1-3:4-6").covers(&y("u:1-6")));
    }

    #[test]
    fn malformed_text_is_unknown() {
        assert!(GtidPosition::parse_mariadb("0-1").is_none());
        assert!(GtidPosition::parse_mariadb("x-1-2").is_none());
        assert!(GtidPosition::parse_mysql("u:5-3").is_none());
        assert!(GtidPosition::parse_mysql(":1").is_none());
        assert!(!m("0-1-1").covers(&y("u:1")));
    }
}
