//! `GET /`: the stats page. One self-contained HTML document (no scripts, no external assets)
//! that refreshes itself every five seconds: one row per node with its health, role, weights,
//! replication and pool, the writer and why, the counters and the latest events.

use std::fmt::Write;

use super::status::{NodeRow, Status};

/// The page for `status`.
pub fn render(status: &Status) -> String {
    let mut h = String::with_capacity(16 * 1024);
    h.push_str(HEAD);
    let why = status
        .last_writer_change
        .as_ref()
        .map(|e| format!(" (since {}: {})", esc(&e.at), esc(&e.event)))
        .unwrap_or_default();
    let writer = match &status.writer {
        Some(w) => format!("writer: <b>{}</b>{why}", esc(w)),
        None => format!(
            "<span class=bad>no writer</span>: {}",
            esc(&status.no_writer_reason)
        ),
    };
    let _ = write!(
        h,
        "<h1>Tandem {}</h1><p>{writer} · sessions open {} (total {})</p>",
        esc(status.version),
        status.sessions.open,
        status.sessions.total
    );
    nodes(&mut h, status);
    counters(&mut h, status);
    events(&mut h, status);
    h.push_str("</body></html>\n");
    h
}

const HEAD: &str = "<!doctype html><html lang=en><head><meta charset=utf-8>\
<meta http-equiv=refresh content=5><title>Tandem stats</title><style>\
body{font:14px system-ui,sans-serif;margin:1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top}\
th{background:#eee}tr.writer td{background:#e6f4ea}tr.down td{background:#fde8e8}\
tr.drained td{background:#fff4d6}.bad{color:#b00020;font-weight:bold}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
</style></head><body>";

const NODE_COLUMNS: &[&str] = &[
    "node",
    "address",
    "state",
    "role",
    "weight",
    "read weight",
    "read_only",
    "lag s",
    "replication",
    "GTID",
    "pool busy/idle/cap",
    "check",
    "check ms",
    "state for",
];

fn nodes(h: &mut String, status: &Status) {
    h.push_str("<h2>Nodes</h2><table id=nodes><tr>");
    for c in NODE_COLUMNS {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>");
    for n in &status.nodes {
        node_row(h, n);
    }
    h.push_str("</table>");
}

fn node_row(h: &mut String, n: &NodeRow) {
    let class = match (n.state, n.role) {
        ("down", _) => "down",
        (_, "writer") => "writer",
        (_, "drained") => "drained",
        _ => "",
    };
    let opt = |v: Option<String>| v.unwrap_or_else(|| "–".to_owned());
    let replication = if n.replication.is_empty() {
        "none".to_owned()
    } else {
        n.replication
            .iter()
            .map(|c| {
                let err = c
                    .last_sql_error
                    .as_ref()
                    .or(c.last_io_error.as_ref())
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default();
                format!(
                    "from {}: IO {}, SQL {}{err}",
                    c.source,
                    c.io,
                    if c.sql_running { "running" } else { "stopped" }
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let busy = n.pool.live.saturating_sub(n.pool.idle);
    let cells = [
        n.name.clone(),
        n.address.clone(),
        n.state.to_owned(),
        n.role.to_owned(),
        n.weight.to_string(),
        n.read_weight
            .map_or("default".to_owned(), |w| w.to_string()),
        opt(n.read_only.map(|r| if r { "ON" } else { "OFF" }.to_owned())),
        opt(n.lag_seconds.map(|l| format!("{l:.3}"))),
        replication,
        opt(n.gtid.clone()),
        format!("{busy}/{}/{}", n.pool.idle, n.pool.cap),
        opt(n.last_check.clone()),
        opt(n.check_latency_ms.map(|m| format!("{m:.1}"))),
        opt(n.state_for_seconds.map(human)),
    ];
    let _ = write!(h, "<tr class=\"{class}\">");
    for c in cells {
        let _ = write!(h, "<td>{}</td>", esc(&c));
    }
    h.push_str("</tr>");
}

fn counters(h: &mut String, status: &Status) {
    let c = &status.counters;
    h.push_str("<h2>Traffic</h2><table id=counters><tr><th>counter</th><th>value</th></tr>");
    for (name, v) in [
        ("statements to the writer", c.statements_writer),
        ("statements to readers", c.statements_reader),
        (
            "reads kept on the writer for causal reads",
            c.causal_to_writer,
        ),
        ("misroutes caught by READ ONLY readers", c.misroutes),
        ("writes refused (no writer)", c.refused_no_writer),
        ("refused logins", c.auth_failures),
        ("writer changes", c.writer_changes),
    ] {
        let _ = write!(h, "<tr><td>{name}</td><td class=n>{v}</td></tr>");
    }
    h.push_str("</table>");
}

fn events(h: &mut String, status: &Status) {
    h.push_str("<h2>Latest events</h2><table id=events><tr><th>at</th><th>event</th></tr>");
    for e in status.events.iter().rev().take(20) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&e.at),
            esc(&e.event)
        );
    }
    h.push_str("</table>");
}

/// `93` → `1m 33s`.
fn human(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

/// HTML-escapes text for element content and quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_durations() {
        assert_eq!(esc("<b a='x'>&"), "&lt;b a=&#39;x&#39;&gt;&amp;");
        assert_eq!(human(93.4), "1m 33s");
        assert_eq!(human(7200.0), "2h 0m");
    }
}
