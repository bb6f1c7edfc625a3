//! Property tests for the routing invariants.
//!
//! - selection never returns a down node, never a lagging or unreadable reader;
//! - exactly one writer whenever any node is eligible, the same one whatever the node order;
//! - reads are spread in proportion to read weight (seeded splitmix64, many draws);
//! - a session never gets a reader while a model of its pins says it is pinned;
//! - the classifier never panics, and appending a write to any text never yields a read.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use tandem_router::{
    classify, classify_bytes, digest, digest_hash, Node, PolicyConfig, Route, SessionPolicy,
    Topology, SERVER_STATUS_AUTOCOMMIT, SERVER_STATUS_IN_TRANS,
};

/// splitmix64: a tiny seeded RNG for the tests.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn node() -> impl Strategy<Value = Node> {
    (
        0u32..4,
        prop::option::of(0u32..200),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0u64..20),
    )
        .prop_map(
            |(weight, read_weight, up, writable, eligible, readable, lag)| Node {
                name: String::new(),
                weight,
                read_weight,
                up,
                writable,
                eligible_writer: eligible,
                readable,
                lag: lag.map(Duration::from_secs),
                gtid: None,
            },
        )
}

fn topology() -> impl Strategy<Value = Topology> {
    (
        prop::collection::vec(node(), 0..6),
        prop::option::of(0u64..15),
    )
        .prop_map(|(mut nodes, max_lag)| {
            for (i, n) in nodes.iter_mut().enumerate() {
                n.name = format!("cn{}", (i * 7) % 10);
                if nodes_has_dup(i) {
                    n.name.push('x');
                }
            }
            Topology {
                nodes,
                max_lag: max_lag.map(Duration::from_secs),
            }
        })
}

fn nodes_has_dup(i: usize) -> bool {
    // (i * 7) % 10 is unique for i < 10, so names are unique.
    i >= 10
}

fn fresh(t: &Topology, n: &Node) -> bool {
    match (t.max_lag, n.lag) {
        (Some(max), Some(lag)) => lag <= max,
        _ => true,
    }
}

proptest! {
    #[test]
    fn selection_never_picks_down_or_lagging_nodes(t in topology(), rand in any::<u64>()) {
        let writer = t.writer();
        if let Some(w) = writer {
            let n = &t.nodes[w];
            prop_assert!(n.up && n.writable && n.eligible_writer);
        }
        if let Some(r) = t.reader(rand) {
            let n = &t.nodes[r];
            prop_assert!(n.up, "down node chosen");
            if Some(r) != writer {
                prop_assert!(n.readable, "unreadable reader chosen");
                prop_assert!(fresh(&t, n), "lagging reader chosen");
            }
        } else {
            prop_assert!(writer.is_none(), "no reader although a writer exists");
        }
        for c in t.read_candidates(rand) {
            prop_assert!(t.nodes[c].up);
            prop_assert!(Some(c) == writer || (t.nodes[c].readable && fresh(&t, &t.nodes[c])));
        }
    }

    #[test]
    fn exactly_one_deterministic_writer(t in topology(), rot in 0usize..6) {
        let eligible: Vec<&Node> = t.nodes.iter()
            .filter(|n| n.up && n.writable && n.eligible_writer)
            .collect();
        let w = t.writer();
        prop_assert_eq!(w.is_some(), !eligible.is_empty());
        if let Some(w) = w {
            let best = eligible.iter().map(|n| n.weight).max().unwrap();
            prop_assert_eq!(t.nodes[w].weight, best);
            let min_name = eligible.iter().filter(|n| n.weight == best).map(|n| &n.name).min().unwrap();
            prop_assert_eq!(&t.nodes[w].name, min_name);
            // Same writer whatever the order the nodes are listed in.
            let mut other = t.clone();
            let k = rot % other.nodes.len().max(1);
            other.nodes.rotate_left(k);
            other.nodes.reverse();
            prop_assert_eq!(&other.nodes[other.writer().unwrap()].name, &t.nodes[w].name);
        }
    }

    #[test]
    fn reads_spread_in_proportion_to_read_weight(
        weights in prop::collection::vec(1u32..100, 2..5),
        seed in any::<u64>(),
    ) {
        let nodes: Vec<Node> = weights.iter().enumerate().map(|(i, w)| {
            let mut n = Node::new(format!("n{i}"));
            n.read_weight = Some(*w);
            n.writable = i == 0;
            n
        }).collect();
        let t = Topology { nodes, max_lag: None };
        let draws = 20_000;
        let mut counts = vec![0u32; weights.len()];
        let mut state = seed;
        for _ in 0..draws {
            counts[t.reader(splitmix64(&mut state)).unwrap()] += 1;
        }
        let total: u32 = weights.iter().sum();
        for (c, w) in counts.iter().zip(&weights) {
            let got = f64::from(*c) / f64::from(draws);
            let want = f64::from(*w) / f64::from(total);
            prop_assert!((got - want).abs() < 0.02, "got {got:.3}, want {want:.3} ({weights:?})");
        }
    }

    #[test]
    fn never_a_reader_while_pinned(ops in prop::collection::vec((0usize..OPS.len(), 0u16..4, 0u64..1500), 1..40)) {
        let window = Duration::from_millis(1000);
        let mut p = SessionPolicy::new(PolicyConfig { read_your_writes: Some(window), ..PolicyConfig::default() });
        let mut m = Model::default();
        let t0 = Instant::now();
        let mut now = t0;
        let read = classify("SELECT a FROM t WHERE id = 1");
        for (op, status, dt) in ops {
            now += Duration::from_millis(dt);
            if m.pinned(now, window) {
                prop_assert_eq!(p.route(&read, now), Route::Writer, "model pinned: {:?}", m);
            }
            let sql = OPS[op];
            let st = classify(sql);
            p.on_statement(&st, sql, now);
            m.sent(sql, now);
            if m.pinned(now, window) {
                prop_assert_eq!(p.route(&read, now), Route::Writer, "after {}: {:?}", sql, m);
            }
            // status bits: 1 = IN_TRANS, 2 = AUTOCOMMIT; 0..4 covers all combinations.
            let flags = (if status & 1 != 0 { SERVER_STATUS_IN_TRANS } else { 0 })
                | (if status & 2 != 0 { SERVER_STATUS_AUTOCOMMIT } else { 0 });
            let ok = status != 3 || op % 2 == 0;
            p.on_response(flags, ok);
            m.answered(flags, ok);
        }
    }

    #[test]
    fn classifier_never_panics(s in ".{0,120}", b in prop::collection::vec(any::<u8>(), 0..120)) {
        let st = classify(&s);
        if st.is_read_only() {
            prop_assert!(st.kind.is_read_kind());
        }
        let _ = classify_bytes(&b);
        prop_assert_eq!(digest(&s).hash, digest_hash(&s));
    }

    #[test]
    fn appending_a_write_never_yields_a_read(s in "[ -~\n]{0,80}") {
        let sql = format!("{s}\n;DELETE FROM t");
        prop_assert!(!classify(&sql).is_read_only(), "{:?}", sql);
    }

    #[test]
    fn sql_fragments_compose_fail_safe(parts in prop::collection::vec(0usize..FRAGMENTS.len(), 1..8)) {
        let sql: String = parts.iter().map(|i| FRAGMENTS[*i]).collect::<Vec<_>>().join(" ");
        let st = classify(&sql);
        let writes = parts.iter().any(|i| DANGEROUS.contains(i));
        // Every fragment is self-contained (no fragment can hide another), so a dangerous one
        // always counts.
        prop_assert!(!(writes && st.is_read_only()), "{:?} classified read-only", sql);
    }
}

/// Statements the session model understands.
const OPS: &[&str] = &[
    "SELECT 1",
    "UPDATE t SET a = 1",
    "BEGIN",
    "COMMIT",
    "LOCK TABLES t WRITE",
    "UNLOCK TABLES",
    "CREATE TEMPORARY TABLE tmp (a INT)",
    "DROP TEMPORARY TABLE tmp",
    "SET @x = 1",
    "SELECT GET_LOCK('l', 1)",
    "SELECT RELEASE_LOCK('l')",
    "SET autocommit = 0",
    "SET autocommit = 1",
    "SELECT * FROM t FOR UPDATE",
];

/// An independent, simpler model of the pins.
#[derive(Debug, Default)]
struct Model {
    in_trans: bool,
    autocommit_off: bool,
    lock: bool,
    temp: u32,
    user_vars: bool,
    user_lock: u32,
    last_write: Option<Instant>,
    write_pending: bool,
}

impl Model {
    fn sent(&mut self, sql: &str, now: Instant) {
        match sql {
            "BEGIN" => self.in_trans = true,
            "LOCK TABLES t WRITE" => self.lock = true,
            "UNLOCK TABLES" => self.lock = false,
            "CREATE TEMPORARY TABLE tmp (a INT)" => {
                self.temp = 1;
                self.last_write = Some(now);
            }
            "DROP TEMPORARY TABLE tmp" => {
                self.temp = 0;
                self.last_write = Some(now);
            }
            "SET @x = 1" => self.user_vars = true,
            "SELECT GET_LOCK('l', 1)" => self.user_lock += 1,
            "SELECT RELEASE_LOCK('l')" => self.user_lock = self.user_lock.saturating_sub(1),
            "SET autocommit = 0" => self.autocommit_off = true,
            "UPDATE t SET a = 1" => {
                self.last_write = Some(now);
                self.write_pending = true;
            }
            _ => {}
        }
    }
    fn answered(&mut self, status: u16, ok: bool) {
        self.write_pending = false;
        if ok {
            self.in_trans = status & SERVER_STATUS_IN_TRANS != 0;
            self.autocommit_off = status & SERVER_STATUS_AUTOCOMMIT == 0;
        }
    }
    fn pinned(&self, now: Instant, window: Duration) -> bool {
        let rw = self.write_pending
            || self
                .last_write
                .is_some_and(|t| now.duration_since(t) < window);
        self.in_trans
            || self.autocommit_off
            || self.lock
            || self.temp > 0
            || self.user_vars
            || self.user_lock > 0
            || rw
    }
}

const FRAGMENTS: &[&str] = &[
    "SELECT a FROM t",
    "WHERE b = 1",
    "FOR UPDATE",
    ";",
    "; DELETE FROM t",
    "LAST_INSERT_ID()",
    "(",
    ")",
    "'str'",
    "/* c */",
    "-- c\n",
    "@x := 1",
    "INTO @v",
    "UNION SELECT 2",
    "LOCK IN SHARE MODE",
    "/*!50000 FOR UPDATE */",
    ",",
    "GET_LOCK('x', 1)",
    "`q`",
    "\"dq\"",
];
/// Indexes of fragments that must never appear in a read.
const DANGEROUS: &[usize] = &[2, 4, 5, 11, 12, 14, 15, 17];
