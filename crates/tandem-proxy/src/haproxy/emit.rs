//! Writing the Tandem configuration, section by section, and the notes on what changed.

use std::net::{Ipv4Addr, SocketAddr};

use super::parse::{duration, missing, num, plain, rest, time, Line, Pick, Section};
use super::servers::{bind_addr, Backend};
use super::ImportError;

/// `[proxy]`: the listener, `maxconn` and the connect and server timeouts.
pub(super) fn proxy_section(p: &Pick, notes: &mut Vec<String>) -> Result<Vec<String>, ImportError> {
    let mut out = vec![String::new(), "[proxy]".to_owned()];
    out.push(format!("listen = {}", quote(&listen_addr(p, notes)?)));
    let global = || {
        p.global
            .and_then(|g| g.body.iter().rev().find(|l| l.is(&["maxconn"])))
    };
    if let Some(l) = p.find(&["maxconn"]).or_else(global) {
        match num::<u64>(l.no, "maxconn", rest(l, 1).as_deref(), 0)? {
            0 => notes.push(format!("line {}: `maxconn 0` is not carried over", l.no)),
            n => out.push(with_comment(
                format!("max_connections = {n}"),
                &format!("maxconn, line {}", l.no),
            )),
        }
    }
    let timeouts = [
        ("connect", "contimeout", Some("connect_timeout")),
        ("server", "srvtimeout", Some("backend_timeout")),
        ("client", "clitimeout", None),
    ];
    for (kind, legacy, key) in timeouts {
        let Some((l, n)) = p.find_any(&[&["timeout", kind], &[legacy]]) else {
            continue;
        };
        let (what, value) = (l.words.get(..n).unwrap_or_default().join(" "), rest(l, n));
        let t = time(l.no, &what, value.as_deref())?;
        match (key, t) {
            (None, _) => notes.push(format!(
                "line {}: `{what} {}` has no Tandem equivalent: Tandem does not close idle \
                 client connections",
                l.no,
                plain(value.as_deref().unwrap_or_default())
            )),
            (Some(_), 0) => notes.push(format!("line {}: `{what} 0` is not carried over", l.no)),
            (Some(key), t) => out.push(with_comment(
                format!("{key} = {}", quote(&duration(t))),
                &format!("{what}, line {}", l.no),
            )),
        }
    }
    Ok(out)
}

/// The `bind` address of the proxy (`*:3306` and `:3306` → `0.0.0.0:3306`).
fn listen_addr(p: &Pick, notes: &mut Vec<String>) -> Result<String, ImportError> {
    let binds: Vec<&Line> = (p.front.iter().flat_map(|f| &f.body))
        .filter(|l| l.is(&["bind"]))
        .collect();
    let Some(first) = binds.first() else {
        notes.push(format!(
            "{} has no `bind`: Tandem listens on 0.0.0.0:3306",
            p.describe()
        ));
        return Ok("0.0.0.0:3306".to_owned());
    };
    for l in binds.iter().skip(1) {
        notes.push(format!(
            "line {}: Tandem listens on one address; this `bind` is not carried over",
            l.no
        ));
    }
    let value = first.word(1).ok_or_else(|| missing(first.no, "bind"))?;
    let mut addrs = value.split(',');
    if value.contains(',') || first.words.len() > 2 {
        notes.push(format!(
            "line {}: only `{}` of `{}` is carried over",
            first.no,
            plain(addrs.clone().next().unwrap_or_default()),
            plain(&first.words.join(" "))
        ));
    }
    Ok(bind_addr(first.no, addrs.next().unwrap_or_default())?.to_string())
}

/// `[health]`: the first checked server's cadence (Tandem has one for all backends).
pub(super) fn health_section(
    p: &Pick,
    backends: &[Backend],
    notes: &mut Vec<String>,
) -> Result<Vec<String>, ImportError> {
    let checked = backends.iter().find(|b| b.opts.check == Some(true));
    let Some(first) = checked.or(backends.first()) else {
        return Ok(Vec::new());
    };
    cadence_notes(first, backends, notes);
    let (inter, down, rise, fall) = first.opts.cadence();
    let name = plain(&first.name);
    let mut out = vec![
        String::new(),
        with_comment(
            "[health]".to_owned(),
            &format!("from `server {name}`, line {}", first.line),
        ),
        format!("inter = {}", quote(&duration(inter))),
        format!("downinter = {}", quote(&duration(down))),
        format!("rise = {rise}"),
        format!("fall = {fall}"),
    ];
    let slow = backends
        .iter()
        .filter_map(|b| b.opts.slowstart.map(|t| (t, b)))
        .max_by_key(|(t, _)| *t);
    if let Some((t, b)) = slow.filter(|(t, _)| *t > 0) {
        out.push(with_comment(
            format!("slowstart = {}", quote(&duration(t))),
            &format!("from `server {}`, line {}", plain(&b.name), b.line),
        ));
        if backends.iter().any(|o| o.opts.slowstart != Some(t)) {
            notes.push(format!(
                "servers have different `slowstart` values: Tandem has one for every backend \
                 and takes the longest ({})",
                duration(t)
            ));
        }
    }
    match p.find(&["timeout", "check"]) {
        Some(l) => match time(l.no, "timeout check", rest(l, 2).as_deref())? {
            0 => notes.push(format!(
                "line {}: `timeout check 0` is not carried over",
                l.no
            )),
            t => {
                let value = quote(&duration(t));
                out.push(with_comment(
                    format!("timeout = {value}"),
                    &format!("timeout check, line {}", l.no),
                ));
            }
        },
        None if inter != 1_000_000 => notes.push(format!(
            "without `timeout check` HAProxy gave each check up to `inter` ({}); Tandem's \
             [health] timeout defaults to 1s",
            duration(inter)
        )),
        None => {}
    }
    Ok(out)
}

/// Notes on HAProxy defaults spelled out, and on servers with another cadence.
fn cadence_notes(first: &Backend, backends: &[Backend], notes: &mut Vec<String>) {
    let (o, name) = (&first.opts, plain(&first.name));
    if o.inter.is_none() || o.rise.is_none() || o.fall.is_none() || o.downinter.is_none() {
        notes.push(format!(
            "line {}: [health] spells out HAProxy's defaults where `server {name}` sets nothing \
             (inter 2s, downinter = inter, rise 2, fall 3), because Tandem's own differ \
             (inter 2s, downinter 5s, rise 3, fall 2)",
            first.line
        ));
    }
    let differ: Vec<&str> = (backends.iter())
        .filter(|b| b.opts.cadence() != o.cadence())
        .map(|b| b.name.as_str())
        .collect();
    if !differ.is_empty() {
        notes.push(format!(
            "servers `{}` have another inter/downinter/rise/fall than `{name}`: Tandem has one \
             cadence for every backend and takes `{name}`'s (line {})",
            plain(&differ.join("`, `")),
            first.line
        ));
    }
}

/// `[monitor]`: the `option mysql-check` user, with a placeholder password.
pub(super) fn monitor_section(p: &Pick, notes: &mut Vec<String>) -> Vec<String> {
    let check = p.find(&["option", "mysql-check"]);
    let user = check
        .filter(|l| l.word(2) == Some("user"))
        .and_then(|l| l.word(3));
    let grants = "Tandem's monitor reads replication status, so it needs a real login with a \
                  password and the REPLICATION CLIENT, SLAVE MONITOR (MariaDB) and PROCESS grants";
    match (check, user) {
        (Some(l), Some(u)) => notes.push(format!(
            "line {}: [monitor] user = \"{}\" with password \"CHANGE-ME\": HAProxy's check only \
             logged in (often password-less, without grants); {grants}",
            l.no,
            plain(u)
        )),
        _ => notes.push(format!(
            "no `option mysql-check user`: [monitor] user = \"monitor\" and password \
             \"CHANGE-ME\" are placeholders; {grants}"
        )),
    }
    vec![
        String::new(),
        "[monitor]".to_owned(),
        "# GRANT REPLICATION CLIENT, SLAVE MONITOR, PROCESS ON *.* TO this user".to_owned(),
        format!("user = {}", quote(user.unwrap_or("monitor"))),
        "password = \"CHANGE-ME\"".to_owned(),
    ]
}

/// The note on what `weight` now means: HAProxy spread connections by it, Tandem picks the
/// writer with it (highest weight, ties to the smallest name, as the router does).
pub(super) fn weight_note(backends: &[Backend], notes: &mut Vec<String>) {
    let active: Vec<&Backend> = backends.iter().filter(|b| !b.disabled()).collect();
    let rank = |a: &&&Backend, b: &&&Backend| {
        (a.weight().cmp(&b.weight())).then_with(|| b.name.cmp(&a.name))
    };
    let Some(writer) = active.iter().max_by(rank).filter(|_| active.len() > 1) else {
        return;
    };
    let serving: Vec<&&Backend> = (active.iter())
        .filter(|b| b.opts.backup != Some(true) && b.haproxy_weight > 0)
        .collect();
    let total: u64 = serving.iter().map(|b| u64::from(b.haproxy_weight)).sum();
    let shares: Vec<String> = (serving.iter().filter(|b| b.name != writer.name))
        .map(|b| {
            let w = u64::from(b.haproxy_weight);
            let (n, of) = (w / gcd(w, total), total / gcd(w, total));
            let s = if n == 1 { "" } else { "s" };
            format!("{} got about {n} connection{s} in {of}", plain(&b.name))
        })
        .collect();
    let shares = Some(shares.join(", ")).filter(|s| !s.is_empty());
    let weights: Vec<String> = (active.iter())
        .map(|b| format!("{} {}", plain(&b.name), b.haproxy_weight))
        .collect();
    let ties = (active.iter())
        .filter(|b| b.weight() == writer.weight())
        .count();
    let tie = (ties > 1).then_some("; equal weights go to the smallest name");
    notes.push(format!(
        "HAProxy's weights ({}) spread connections, and with them the writes, over the \
         servers{}; in Tandem `weight` only picks the single writer: all writes now go to `{}` \
         (the highest weight{}) and move only on failover. Reads spread evenly over the healthy \
         nodes unless read_weight is set: uncomment the `# read_weight = ...` line in every \
         [[backends]] block to keep HAProxy's split for reads",
        weights.join(", "),
        shares.map(|s| format!(" ({s})")).unwrap_or_default(),
        plain(&writer.name),
        tie.unwrap_or_default(),
    ));
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

/// `[[backends]]`, in HAProxy's order; disabled servers commented out.
pub(super) fn backends_section(backends: &[Backend]) -> Vec<String> {
    let mut out = vec![
        String::new(),
        "# `weight` picks the writer (the highest healthy one takes every write); reads spread"
            .to_owned(),
        "# evenly unless `read_weight` is set. The commented read_weight lines are HAProxy's"
            .to_owned(),
        "# weights: uncomment them all to keep its split for reads.".to_owned(),
    ];
    for b in backends {
        let mut block = vec![
            "[[backends]]".to_owned(),
            format!("name = {}", quote(&b.name)),
            format!("address = {}", quote(&b.address)),
            format!("weight = {}", b.weight()),
        ];
        block.push(match b.read_weight() {
            Some(r) => format!("read_weight = {r}"),
            None => format!("# read_weight = {}", b.haproxy_weight),
        });
        let prefix = if b.disabled() { "# " } else { "" };
        out.push(String::new());
        out.extend(block.into_iter().map(|l| format!("{prefix}{l}")));
    }
    out
}

/// `[http]` from the first other `listen`/`frontend` with `stats` lines. A stats page bound
/// beyond loopback moves to 127.0.0.1 (Tandem's page also takes actions); the original address
/// stays as a commented option.
pub(super) fn http_section(all: &[Section], p: &Pick, notes: &mut Vec<String>) -> Vec<String> {
    let mine = |s: &Section| p.own().iter().any(|o| std::ptr::eq(*o, s));
    let stats = |s: &&Section| {
        matches!(s.kind.as_str(), "listen" | "frontend")
            && !mine(s)
            && s.body.iter().any(|l| l.is(&["stats"]))
    };
    let Some(s) = all.iter().find(stats) else {
        return Vec::new();
    };
    let mut out = vec![
        String::new(),
        with_comment("[http]".to_owned(), &format!("from {}", s.label())),
    ];
    let bind = s.body.iter().find(|l| l.is(&["bind"]));
    let addr = bind
        .and_then(|l| Some((l.no, l.word(1)?)))
        .and_then(|(no, w)| {
            let first = w.split(',').next().unwrap_or(w);
            bind_addr(no, first)
                .map_err(|e| notes.push(format!("{e}: [http] listens on 127.0.0.1:9000")))
                .ok()
        });
    let port = addr.map_or(9000, |a| a.port());
    let listen = addr.filter(|a| a.ip().is_loopback());
    let listen = listen.unwrap_or(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port));
    out.push(format!("listen = {}", quote(&listen.to_string())));
    if let (Some(a), Some(l)) = (addr.filter(|a| *a != listen), bind) {
        out.push("# To keep HAProxy's address, replace `listen` with these two lines:".to_owned());
        out.push(format!("# listen = {}", quote(&a.to_string())));
        out.push("# allow_remote = true".to_owned());
        notes.push(format!(
            "line {}: the stats page listened on {a}; Tandem's [http] listens on {listen} unless \
             you set listen and allow_remote = true (commented lines)",
            l.no
        ));
    }
    out.extend(http_auth(s, notes));
    out
}

/// `user` and `password` from the first `stats auth`, and notes on the other `stats` lines.
fn http_auth(s: &Section, notes: &mut Vec<String>) -> Vec<String> {
    let auths: Vec<&Line> = s.body.iter().filter(|l| l.is(&["stats", "auth"])).collect();
    let pair = auths
        .first()
        .and_then(|l| l.word(2))
        .and_then(|a| a.split_once(':'))
        .filter(|(u, p)| !u.is_empty() && !p.is_empty());
    let (user, password) = pair.unwrap_or(("admin", "CHANGE-ME"));
    if pair.is_none() {
        notes.push(format!(
            "{} has no `stats auth user:password`: [http] user \"admin\" and password \
             \"CHANGE-ME\" are placeholders (Tandem requires a login)",
            s.label()
        ));
    }
    for l in auths.iter().skip(1) {
        notes.push(format!(
            "line {}: Tandem's [http] has one user; this `stats auth` is not carried over",
            l.no
        ));
    }
    let other: Vec<&Line> = (s.body.iter())
        .filter(|l| l.is(&["stats"]) && !l.is(&["stats", "auth"]) && !l.is(&["stats", "enable"]))
        .collect();
    if let Some(first) = other.first() {
        let all: Vec<String> = other.iter().map(|l| plain(&l.words.join(" "))).collect();
        notes.push(format!(
            "line {}: `{}` not carried over: Tandem serves its page at `/` (JSON at /status, \
             Prometheus at /metrics)",
            first.no,
            all.join("`, `")
        ));
    }
    if !other.iter().any(|l| l.is(&["stats", "admin"])) {
        notes.push(
            "HAProxy's stats page was read-only; Tandem's [http] user may also drain nodes, \
             change weights, switch the writer and reload"
                .to_owned(),
        );
    }
    vec![
        format!("user = {}", quote(user)),
        format!("password = {}", quote(password)),
    ]
}

/// A commented `[[users]]` example: HAProxy passed logins through, Tandem checks them itself.
pub(super) fn users_section(notes: &mut Vec<String>) -> Vec<String> {
    notes.push(
        "HAProxy passed logins through to the servers; Tandem authenticates clients itself: add a \
         [[users]] entry for every user the application logs in with (see the commented example); \
         the file is not valid until at least one is there"
            .to_owned(),
    );
    [
        "",
        "# Tandem authenticates clients itself: one [[users]] entry per application login (the",
        "# same users exist on the backends). At least one is required.",
        "# [[users]]",
        "# name = \"app\"",
        "# password_hash = \"*...\"            # SELECT PASSWORD('...'), or password = \"...\"",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// Notes on the proxy's directives (and its `defaults`' notable ones) that have no equivalent.
pub(super) fn directive_notes(p: &Pick, notes: &mut Vec<String>) {
    let own = p.own();
    for s in &p.chain {
        let is_own = own.iter().any(|o| std::ptr::eq(*o, *s));
        for l in &s.body {
            match dropped_directive(l) {
                Some((why, specific)) if is_own || specific => notes.push(format!(
                    "line {}: `{}` not carried over{why}",
                    l.no,
                    plain(&l.words.join(" "))
                )),
                _ => {}
            }
        }
    }
}

/// Why a directive is not carried over (`None`: it is, or it does not matter), and whether the
/// reason is specific (noted even from a `defaults` section).
fn dropped_directive(l: &Line) -> Option<(&'static str, bool)> {
    let why = match (l.word(0)?, l.word(1).unwrap_or_default()) {
        ("bind" | "server" | "default-server" | "default_backend" | "use_backend", _)
        | ("maxconn" | "mode" | "log" | "description" | "id" | "enabled", _)
        | ("contimeout" | "srvtimeout" | "clitimeout", _)
        | ("timeout", "connect" | "server" | "client" | "check")
        | ("option", "mysql-check" | "tcplog" | "dontlognull" | "log-health-checks") => {
            return None
        }
        ("balance", _) => {
            ": Tandem does not balance connections — one writer takes every write and reads \
             spread per statement by read_weight"
        }
        ("option", "tcpka" | "clitcpka" | "srvtcpka") => ": Tandem has no TCP keep-alive setting",
        ("stick-table" | "stick" | "persist", _) => {
            ": Tandem needs no stickiness — every client writes to the same single writer"
        }
        ("acl" | "tcp-request" | "tcp-response" | "use-server", _) => {
            ": Tandem has no ACLs or request rules"
        }
        ("retries", _) | ("option", "redispatch") => {
            ": Tandem does not retry a server; a write waits up to proxy.write_hold for a \
             writer and a read falls back to other nodes"
        }
        ("option", "httpchk" | "tcp-check" | "pgsql-check" | "ldap-check" | "smtpchk")
        | ("tcp-check" | "http-check", _) => {
            ": Tandem checks backends with its own MySQL login ([monitor])"
        }
        ("server-template", _) => ": list each server as a [[backends]] entry",
        ("disabled", _) => ": this whole section is disabled in HAProxy",
        _ => return Some(("", false)),
    };
    Some((why, true))
}

/// `line` with a `# comment` after it, comments aligned.
fn with_comment(line: String, comment: &str) -> String {
    format!("{line:<26}# {comment}")
}

/// A TOML basic string.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
