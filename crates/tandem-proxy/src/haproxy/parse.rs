//! Reading HAProxy text: words, sections, and the choice of the proxy that carries MySQL.

use super::ImportError;

/// Section keywords: a line starting with one opens a new section.
const SECTIONS: &str = "global defaults frontend backend listen peers resolvers userlist mailers \
                        program http-errors ring cache fcgi-app crt-store traces log-forward";

/// One non-empty line, split into words.
pub(super) struct Line {
    pub(super) no: usize,
    pub(super) words: Vec<String>,
}

impl Line {
    /// Whether the line starts with these words.
    pub(super) fn is(&self, kw: &[&str]) -> bool {
        self.words.len() >= kw.len() && self.words.iter().zip(kw).all(|(w, k)| w == k)
    }

    pub(super) fn word(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }
}

/// A section: its header and body, and the `defaults` section in force for it.
pub(super) struct Section {
    pub(super) kind: String,
    pub(super) name: String,
    pub(super) line: usize,
    pub(super) body: Vec<Line>,
    pub(super) defaults: Option<usize>,
}

impl Section {
    pub(super) fn servers(&self) -> impl Iterator<Item = &Line> {
        self.body.iter().filter(|l| l.is(&["server"]))
    }

    pub(super) fn label(&self) -> String {
        format!("`{} {}` (line {})", self.kind, plain(&self.name), self.line)
    }
}

/// Splits the text into sections; lines before the first section are ignored, as HAProxy does.
pub(super) fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut defaults = None;
    for (i, raw) in text.lines().enumerate() {
        let words = words(raw);
        let Some(first) = words.first() else { continue };
        if SECTIONS.split_whitespace().any(|k| k == first) {
            let is_defaults = first == "defaults";
            out.push(Section {
                kind: first.clone(),
                name: words.get(1).cloned().unwrap_or_default(),
                line: i + 1,
                body: Vec::new(),
                defaults,
            });
            if is_defaults {
                defaults = Some(out.len() - 1);
            }
        } else if let Some(s) = out.last_mut() {
            s.body.push(Line { no: i + 1, words });
        }
    }
    out
}

/// Splits a line into words: blanks separate, quotes group, a backslash escapes the next
/// character (not inside single quotes), `#` outside quotes ends the line.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote, mut started) = (Vec::new(), String::new(), None, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', q) if q != Some('\'') => {
                cur.extend(chars.next());
                started = true;
            }
            (c, Some(q)) if c == q => quote = None,
            (c, Some(_)) => cur.push(c),
            ('"' | '\'', None) => (quote, started) = (Some(c), true),
            ('#', None) => break,
            (c, None) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            (c, None) => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

/// The sections one import reads: the proxy (`listen`, or `frontend` + `backend`), then the
/// `defaults` in force for them, searched in that order.
pub(super) struct Pick<'a> {
    pub(super) front: Option<&'a Section>,
    pub(super) back: &'a Section,
    pub(super) chain: Vec<&'a Section>,
    pub(super) global: Option<&'a Section>,
}

impl<'a> Pick<'a> {
    fn new(all: &'a [Section], front: Option<usize>, back: usize) -> Option<Pick<'a>> {
        let back_s = all.get(back)?;
        let front_s = front.and_then(|i| all.get(i));
        let mut chain: Vec<&Section> = vec![back_s];
        let defaults = |s: Option<&Section>| s.and_then(|s| s.defaults).and_then(|i| all.get(i));
        for s in [front_s, defaults(Some(back_s)), defaults(front_s)]
            .into_iter()
            .flatten()
        {
            if !chain.iter().any(|c| std::ptr::eq(*c, s)) {
                chain.push(s);
            }
        }
        let global = all.iter().find(|s| s.kind == "global");
        Some(Pick {
            front: front_s,
            back: back_s,
            chain,
            global,
        })
    }

    /// The last line starting with one of `keys` in the first section of the chain that has
    /// one, and the number of words the key takes.
    pub(super) fn find_any(&self, keys: &[&[&str]]) -> Option<(&'a Line, usize)> {
        self.chain.iter().find_map(|s| {
            (s.body.iter().rev()).find_map(|l| keys.iter().find(|k| l.is(k)).map(|k| (l, k.len())))
        })
    }

    pub(super) fn find(&self, key: &[&str]) -> Option<&'a Line> {
        self.find_any(&[key]).map(|(l, _)| l)
    }

    fn is_http(&self) -> bool {
        self.find(&["mode"]).and_then(|l| l.word(1)) == Some("http")
    }

    /// The proxy sections themselves (not their defaults).
    pub(super) fn own(&self) -> Vec<&'a Section> {
        match self.front {
            Some(f) if !std::ptr::eq(f, self.back) => vec![f, self.back],
            _ => vec![self.back],
        }
    }

    pub(super) fn describe(&self) -> String {
        let own: Vec<String> = self.own().iter().map(|s| s.label()).collect();
        own.join(" and ")
    }
}

/// The proxies that may carry MySQL traffic, as (frontend, backend) indexes: `listen`
/// sections with servers, frontends with their first backend, then backends no frontend names.
fn candidates(all: &[Section], notes: &mut Vec<String>) -> Vec<(Option<usize>, usize)> {
    let with_servers = |name: &str| {
        (all.iter())
            .position(|s| s.kind == "backend" && s.name == name && s.servers().next().is_some())
    };
    let (mut out, mut used) = (Vec::new(), vec![false; all.len()]);
    for (i, s) in all.iter().enumerate() {
        if s.kind == "listen" && s.servers().next().is_some() {
            out.push((Some(i), i));
        }
        if s.kind != "frontend" {
            continue;
        }
        let defaults = s
            .body
            .iter()
            .rev()
            .filter(|l| l.is(&["default_backend"]))
            .take(1);
        let mut first = None;
        for l in defaults.chain(s.body.iter().filter(|l| l.is(&["use_backend"]))) {
            let Some(j) = l.word(1).and_then(with_servers) else {
                continue;
            };
            match first {
                None => first = Some(j),
                Some(f) if f != j => notes.push(format!(
                    "line {}: {} also sends traffic to `backend {}`, which is not imported",
                    l.no,
                    s.label(),
                    plain(l.word(1).unwrap_or_default())
                )),
                Some(_) => {}
            }
            if let Some(u) = used.get_mut(j) {
                *u = true;
            }
        }
        out.extend(first.map(|j| (Some(i), j)));
    }
    for (j, s) in all.iter().enumerate() {
        if s.kind == "backend"
            && s.servers().next().is_some()
            && !used.get(j).copied().unwrap_or(true)
        {
            out.push((None, j));
        }
    }
    out
}

/// Chooses the proxy to import: the first with `option mysql-check`, else the first not in
/// `mode http`, else the first.
pub(super) fn pick<'a>(
    all: &'a [Section],
    notes: &mut Vec<String>,
) -> Result<Pick<'a>, ImportError> {
    let picks: Vec<Pick> = (candidates(all, notes).into_iter())
        .filter_map(|(f, b)| Pick::new(all, f, b))
        .collect();
    let score = |p: &Pick| (p.find(&["option", "mysql-check"]).is_some(), !p.is_http());
    let mut best: Option<(usize, (bool, bool))> = None;
    for (i, p) in picks.iter().enumerate() {
        let s = score(p);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    let (chosen, (has_check, _)) = best.ok_or(ImportError::NoMysqlSection)?;
    for (_, other) in picks.iter().enumerate().filter(|(i, _)| *i != chosen) {
        notes.push(format!(
            "{} also has servers and is not imported (one Tandem configuration per MySQL pair; \
             the first section with `option mysql-check` wins)",
            other.describe()
        ));
    }
    let p = picks
        .into_iter()
        .nth(chosen)
        .ok_or(ImportError::NoMysqlSection)?;
    if !has_check {
        notes.push(format!(
            "no section has `option mysql-check`: imported {} as the MySQL one; check that it is",
            p.describe()
        ));
    }
    if let Some(l) = p.find(&["mode"]).filter(|_| p.is_http()) {
        notes.push(format!(
            "line {}: `mode http` applies to {}: Tandem speaks the MySQL protocol only",
            l.no,
            p.describe()
        ));
    }
    Ok(p)
}

/// A number from `value`, at least `min`.
pub(super) fn num<T: TryFrom<u64>>(
    line: usize,
    kw: &str,
    value: Option<&str>,
    min: u64,
) -> Result<T, ImportError> {
    let v = value.ok_or_else(|| missing(line, kw))?;
    let expected = match min {
        0 => "a whole number",
        _ => "a whole number of at least 1",
    };
    let n = digits(v).filter(|n| *n >= min);
    n.and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| bad(line, kw, v, expected))
}

/// A HAProxy time from `value`, in microseconds.
pub(super) fn time(line: usize, kw: &str, value: Option<&str>) -> Result<u64, ImportError> {
    let v = value.ok_or_else(|| missing(line, kw))?;
    let expected = "a time (`2s`, `500ms`, or a number of milliseconds)";
    haproxy_time(v).ok_or_else(|| bad(line, kw, v, expected))
}

/// HAProxy's time format in microseconds: digits and an optional unit (`us`, `ms`, `s`, `m`,
/// `h`, `d`); no unit means milliseconds.
pub(super) fn haproxy_time(v: &str) -> Option<u64> {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let scale = match unit {
        "us" => 1,
        "" | "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return None,
    };
    digits(n)?.checked_mul(scale)
}

/// A duration as Tandem writes it, in the largest exact unit (`"2s"`, `"500ms"`, `"8h"`).
pub(super) fn duration(us: u64) -> String {
    let units = [
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1_000, "ms"),
    ];
    if us == 0 {
        return "0s".to_owned();
    }
    match units.iter().find(|(scale, _)| us.is_multiple_of(*scale)) {
        Some((scale, unit)) => format!("{}{unit}", us / scale),
        None => format!("{us}us"),
    }
}

/// Plain ASCII digits as a number (no sign, no blanks).
pub(super) fn digits(v: &str) -> Option<u64> {
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse().ok())?
}

/// The words of `l` from the `n`th on, joined by blanks (`None` when there are none).
pub(super) fn rest(l: &Line, n: usize) -> Option<String> {
    l.words
        .get(n..)
        .filter(|w| !w.is_empty())
        .map(|w| w.join(" "))
}

pub(super) fn bad(line: usize, kw: &str, value: &str, expected: &'static str) -> ImportError {
    ImportError::BadNumber {
        line,
        keyword: kw.to_owned(),
        value: value.to_owned(),
        expected,
    }
}

pub(super) fn missing(line: usize, kw: &str) -> ImportError {
    ImportError::MissingValue {
        line,
        keyword: kw.to_owned(),
    }
}

/// Text safe inside a TOML comment or a note: control characters become `?`.
pub(super) fn plain(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
