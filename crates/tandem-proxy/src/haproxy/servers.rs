//! `server` lines: addresses, HAProxy's server keywords, and the backends they become.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::parse::{bad, digits, num, plain, time, Line, Pick};
use super::ImportError;

fn addr_error(line: usize, value: &str, reason: &'static str) -> ImportError {
    ImportError::BadAddress {
        line,
        value: value.to_owned(),
        reason,
    }
}

/// A `bind` address as a socket address (an IP is required; `*` or nothing is 0.0.0.0).
pub(super) fn bind_addr(line: usize, value: &str) -> Result<SocketAddr, ImportError> {
    let bad = |reason| addr_error(line, value, reason);
    let (host, port) = split_host_port(line, value)?;
    let port = port.ok_or_else(|| bad("a bind address needs a port"))?;
    let port =
        tcp_port(port).ok_or_else(|| bad("the port must be 1-65535 (no ranges or offsets)"))?;
    let ip = match host {
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h => h
            .parse()
            .map_err(|_| bad("Tandem listens on an IP address, not a host name"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// A `server` address as Tandem's `host:port` (port 3306 when absent), and whether a port
/// was given.
fn server_addr(line: usize, value: &str) -> Result<(String, bool), ImportError> {
    let bad = |reason| addr_error(line, value, reason);
    let (host, port) = split_host_port(line, value)?;
    if host.is_empty() || host == "*" {
        return Err(bad("a server needs a host"));
    }
    let num = match port {
        None => 3306,
        Some(p) => tcp_port(p).ok_or_else(|| bad("the port must be 1-65535 (no offsets)"))?,
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    Ok((format!("{host}:{num}"), port.is_some()))
}

/// A port number: 1-65535, digits only.
fn tcp_port(p: &str) -> Option<u16> {
    digits(p)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
}

/// HAProxy's `[family@]host[:port]`, `[v6]:port` included; the port is after the last colon.
fn split_host_port(line: usize, value: &str) -> Result<(&str, Option<&str>), ImportError> {
    let bad = |reason| addr_error(line, value, reason);
    let prefixes = ["ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"];
    let s = prefixes
        .iter()
        .find_map(|p| value.strip_prefix(p))
        .unwrap_or(value);
    if s.starts_with('/') || s.contains('@') {
        return Err(bad(
            "only TCP addresses can be imported (not UNIX sockets or other families)",
        ));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        return match after {
            "" => Ok((host, None)),
            a => a
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or_else(|| bad("junk after `]`")),
        };
    }
    Ok(match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p).filter(|p| !p.is_empty())),
        None => (s, None),
    })
}

/// A check interval: a HAProxy time above zero.
fn interval(line: usize, kw: &str, value: Option<&str>) -> Result<u64, ImportError> {
    match time(line, kw, value)? {
        0 => Err(bad(line, kw, "0", "a time above zero")),
        t => Ok(t),
    }
}

/// Keywords of `server`/`default-server` lines that take one argument, which is skipped.
const TAKES_ARG: &str = "addr agent-addr agent-inter agent-port agent-send alpn ca-file \
    check-alpn check-proto check-sni ciphers ciphersuites cookie crl-file crt error-limit \
    fastinter hash-key id init-addr log-proto max-reuse maxconn maxqueue minconn namespace npn \
    observe on-error on-marked-down on-marked-up pool-low-conn pool-max-conn pool-purge-delay \
    port proto redir resolve-net resolve-opts resolve-prefer resolvers shard sni source \
    ssl-max-ver ssl-min-ver tcp-ut track verify verifyhost";

fn takes_arg(kw: &str) -> bool {
    TAKES_ARG.split_whitespace().any(|k| k == kw)
}

/// The settings of a `server` or `default-server` line that the import reads.
#[derive(Debug, Clone, Default)]
pub(super) struct ServerOpts {
    pub(super) weight: Option<u32>,
    pub(super) inter: Option<u64>,
    pub(super) downinter: Option<u64>,
    pub(super) rise: Option<u32>,
    pub(super) fall: Option<u32>,
    pub(super) check: Option<bool>,
    pub(super) backup: Option<bool>,
    pub(super) disabled: Option<bool>,
    /// `slowstart`, in microseconds.
    pub(super) slowstart: Option<u64>,
    /// Settings not carried over, as written.
    pub(super) dropped: Vec<String>,
}

impl ServerOpts {
    /// Reads the keywords after a server's address, or after `default-server`.
    pub(super) fn parse(line: usize, words: &[String]) -> Result<ServerOpts, ImportError> {
        let mut o = ServerOpts::default();
        let mut it = words.iter().map(String::as_str);
        while let Some(kw) = it.next() {
            match kw {
                "check" | "no-check" => o.check = Some(kw == "check"),
                "backup" | "no-backup" => o.backup = Some(kw == "backup"),
                "disabled" | "enabled" => o.disabled = Some(kw == "disabled"),
                "weight" => o.weight = Some(num(line, kw, it.next(), 0)?),
                "rise" => o.rise = Some(num(line, kw, it.next(), 1)?),
                "fall" => o.fall = Some(num(line, kw, it.next(), 1)?),
                "inter" => o.inter = Some(interval(line, kw, it.next())?),
                "downinter" => o.downinter = Some(interval(line, kw, it.next())?),
                "slowstart" => o.slowstart = Some(time(line, kw, it.next())?),
                _ if takes_arg(kw) => {
                    o.dropped
                        .push(format!("{kw} {}", it.next().unwrap_or_default()));
                }
                _ => o.dropped.push(kw.to_owned()),
            }
        }
        Ok(o)
    }

    /// These settings, falling back to `base`'s (a `default-server` line).
    pub(super) fn over(self, base: &ServerOpts) -> ServerOpts {
        ServerOpts {
            weight: self.weight.or(base.weight),
            inter: self.inter.or(base.inter),
            downinter: self.downinter.or(base.downinter),
            rise: self.rise.or(base.rise),
            fall: self.fall.or(base.fall),
            check: self.check.or(base.check),
            backup: self.backup.or(base.backup),
            disabled: self.disabled.or(base.disabled),
            slowstart: self.slowstart.or(base.slowstart),
            dropped: self.dropped,
        }
    }

    /// `(inter, downinter, rise, fall)` with HAProxy's defaults (2s, = inter, 2, 3).
    pub(super) fn cadence(&self) -> (u64, u64, u32, u32) {
        let inter = self.inter.unwrap_or(2_000_000);
        let down = self.downinter.unwrap_or(inter);
        (inter, down, self.rise.unwrap_or(2), self.fall.unwrap_or(3))
    }
}

/// One imported server.
pub(super) struct Backend {
    pub(super) line: usize,
    pub(super) name: String,
    pub(super) address: String,
    /// HAProxy's weight (default 1).
    pub(super) haproxy_weight: u32,
    pub(super) opts: ServerOpts,
}

impl Backend {
    pub(super) fn disabled(&self) -> bool {
        self.opts.disabled == Some(true)
    }

    /// Tandem's weight: at least 1.
    pub(super) fn weight(&self) -> u32 {
        self.haproxy_weight.max(1)
    }

    /// No reads for a server HAProxy sent nothing to while others were up.
    pub(super) fn read_weight(&self) -> Option<u32> {
        (self.haproxy_weight == 0 || self.opts.backup == Some(true)).then_some(0)
    }
}

/// The servers of the picked backend, over its `default-server` settings.
pub(super) fn backends(p: &Pick, notes: &mut Vec<String>) -> Result<Vec<Backend>, ImportError> {
    let mut base = ServerOpts::default();
    let back_defaults = p.chain.iter().find(|s| s.kind == "defaults");
    for s in back_defaults.into_iter().chain([&p.back]) {
        for l in s.body.iter().filter(|l| l.is(&["default-server"])) {
            let o = ServerOpts::parse(l.no, l.words.get(1..).unwrap_or_default())?;
            if !o.dropped.is_empty() {
                let dropped = plain(&o.dropped.join("`, `"));
                notes.push(format!(
                    "line {}: `default-server` `{dropped}` not carried over",
                    l.no
                ));
            }
            base = o.over(&base);
        }
    }
    let mut out: Vec<Backend> = Vec::new();
    for l in p.back.servers() {
        let b = backend(l, &base, notes)?;
        if out.iter().any(|o| o.name == b.name) {
            return Err(ImportError::DuplicateServer {
                line: l.no,
                name: b.name,
            });
        }
        out.push(b);
    }
    if out.iter().all(Backend::disabled) {
        let (line, section) = (p.back.line, format!("{} {}", p.back.kind, p.back.name));
        return Err(ImportError::NoServers { line, section });
    }
    Ok(out)
}

/// Words that begin a server's settings: a server line starting with one has no address.
const SETTINGS: [&str; 7] = [
    "check", "backup", "disabled", "weight", "inter", "rise", "fall",
];

/// One `server NAME ADDR[:PORT] [keywords]` line.
fn backend(l: &Line, base: &ServerOpts, notes: &mut Vec<String>) -> Result<Backend, ImportError> {
    let (Some(name), Some(addr)) = (l.word(1), l.word(2)) else {
        return Err(ImportError::MissingAddress { line: l.no });
    };
    if SETTINGS.contains(&addr) || takes_arg(addr) {
        return Err(ImportError::MissingAddress { line: l.no });
    }
    let (address, port_given) = server_addr(l.no, addr)?;
    let opts = ServerOpts::parse(l.no, l.words.get(3..).unwrap_or_default())?.over(base);
    let b = Backend {
        line: l.no,
        name: name.to_owned(),
        address,
        haproxy_weight: opts.weight.unwrap_or(1),
        opts,
    };
    server_notes(&b, port_given, notes);
    Ok(b)
}

/// What changes for one server.
fn server_notes(b: &Backend, port_given: bool, notes: &mut Vec<String>) {
    let at = format!("line {}: `server {}`", b.line, plain(&b.name));
    if !port_given {
        notes.push(format!(
            "{at} has no port: HAProxy used the port the client connected to; Tandem uses 3306"
        ));
    }
    if b.haproxy_weight == 0 {
        notes.push(format!(
            "{at} has weight 0 (HAProxy sent it nothing); Tandem needs at least 1: weight = 1 \
             and read_weight = 0 (no reads), but it takes the writes if every heavier node fails"
        ));
    }
    if b.opts.backup == Some(true) {
        notes.push(format!(
            "{at} is a `backup` (HAProxy used it only when every other server was down): \
             imported with read_weight = 0, but it takes the writes by its weight ({}) when it is \
             the heaviest healthy node; give it the lowest weight to keep it last",
            b.weight()
        ));
    }
    if b.disabled() {
        notes.push(format!(
            "{at} is `disabled` (in maintenance in HAProxy): its [[backends]] block is \
             commented out"
        ));
    }
    if b.opts.check != Some(true) {
        notes.push(format!(
            "{at} has no `check`: HAProxy never marked it down; Tandem health-checks every backend"
        ));
    }
    if !b.opts.dropped.is_empty() {
        let pool = match b.opts.dropped.iter().any(|d| d.starts_with("maxconn ")) {
            true => " (proxy.pool_max_connections caps connections per node)",
            false => "",
        };
        let dropped = plain(&b.opts.dropped.join("`, `"));
        notes.push(format!("{at}: `{dropped}` not carried over{pool}"));
    }
}
