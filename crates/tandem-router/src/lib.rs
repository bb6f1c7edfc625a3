//! Pure, I/O-free routing logic for a read/write-splitting MySQL/MariaDB proxy.
//!
//! Tandem pins every write (and transactions, locks, temporary tables and other
//! session-bound work) to one writer node and spreads only reads that are *provably* free of
//! side effects. This crate holds that logic so the proxy and any other service embedding it
//! make the same decisions. It has no async runtime, no sockets, no clock reads and no global
//! state: time (`Instant`) and randomness (`u64`) are arguments.
//!
//! The pieces, in the order a statement meets them:
//!
//! 1. [`classify`] — an allocation-free lexer turns SQL text into a [`Statement`]
//!    ([`StatementKind`] + [`StmtFlags`] + optional [`Hint`]). **Fail-safe rule:** only
//!    statements positively known to be side-effect-free reads are
//!    [`is_read_only`](Statement::is_read_only). [`Classifier`] adds a cached sqlparser fallback
//!    for the rare text the lexer cannot settle.
//! 2. [`SessionPolicy`] — per client session: feed it each statement sent
//!    ([`on_statement`](SessionPolicy::on_statement)) and each response's status flags
//!    ([`on_response`](SessionPolicy::on_response)); ask [`route`](SessionPolicy::route) before
//!    sending. It also keeps the [`session_state`](SessionPolicy::session_state) to replay on
//!    another backend connection.
//! 3. [`Topology`] — plain data about the nodes; [`writer`](Topology::writer) and
//!    [`reader`](Topology::reader) pick an index.
//! 4. [`digest`] / [`digest_hash`] — normalised fingerprints for statistics and cache keys.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use tandem_router::{classify, Node, PolicyConfig, Route, SessionPolicy, Topology};
//!
//! let mut cn2 = Node::new("cn2");
//! cn2.writable = false; // the passive master
//! let mut cn1 = Node::new("cn1");
//! cn1.weight = 10;
//! let topo = Topology { nodes: vec![cn1, cn2], max_lag: Some(Duration::from_secs(2)) };
//!
//! let mut session = SessionPolicy::new(PolicyConfig::default());
//! let now = Instant::now();
//! let sql = "SELECT id_product FROM ps_product WHERE active = 1";
//! let stmt = classify(sql);
//! let node = match session.route(&stmt, now) {
//!     Route::Writer => topo.writer(),
//!     Route::Reader => topo.reader(0x9e37_79b9_7f4a_7c15),
//! };
//! session.on_statement(&stmt, sql, now);
//! // ... send to `node`, read the response, then:
//! session.on_response(0x0002, true);
//! assert!(node.is_some());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod classify;
mod dialect;
mod digest;
mod fallback;
mod flags;
mod keywords;
mod lexer;
mod scan;
mod session;
mod setstmt;
mod state;
mod statement;
mod swar;
mod topology;

pub use classify::{classify, classify_bytes, classify_with, split_statements, SplitStatements};
pub use dialect::{client_charset_change, CharsetClass, Dialect};
pub use digest::{digest, digest_hash, digest_hash_bytes, Digest};
pub use fallback::{Classifier, ClassifierStats};
pub use flags::{PinReasons, StmtFlags};
pub use session::{
    Decision, PolicyConfig, Route, SessionPolicy, SERVER_STATUS_AUTOCOMMIT, SERVER_STATUS_IN_TRANS,
    SERVER_STATUS_IN_TRANS_READONLY,
};
pub use statement::{Hint, SetKind, Statement, StatementKind};
pub use topology::{
    preferred_writer, Node, ReadCandidates, Topology, TopologyError, DEFAULT_READ_WEIGHT,
};
