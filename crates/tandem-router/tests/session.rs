//! Session-policy scenarios: every pin reason, how it starts and how it ends.

use std::time::{Duration, Instant};

use tandem_router::{
    classify, Hint, PinReasons, PolicyConfig, Route, SessionPolicy, SERVER_STATUS_AUTOCOMMIT,
    SERVER_STATUS_IN_TRANS,
};

const IDLE: u16 = SERVER_STATUS_AUTOCOMMIT;
const IN_TRANS: u16 = SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS;
const READ: &str = "SELECT name FROM ps_product_lang WHERE id_product = 1";

struct S {
    p: SessionPolicy,
    t0: Instant,
}

impl S {
    fn new() -> S {
        Self::with(PolicyConfig::default())
    }
    fn with(cfg: PolicyConfig) -> S {
        S {
            p: SessionPolicy::new(cfg),
            t0: Instant::now(),
        }
    }
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }
    /// Sends `sql` at `ms` and answers with `status` (OK).
    fn run(&mut self, sql: &str, ms: u64, status: u16) {
        let st = classify(sql);
        self.p.on_statement(&st, sql, self.at(ms));
        self.p.on_response(status, true);
    }
    fn read_route(&self, ms: u64) -> Route {
        self.p.route(&classify(READ), self.at(ms))
    }
    fn pins(&self, ms: u64) -> PinReasons {
        self.p.pins(self.at(ms))
    }
}

#[test]
fn fresh_session_reads_spread_and_writes_do_not() {
    let s = S::new();
    assert_eq!(s.read_route(0), Route::Reader);
    assert_eq!(
        s.p.route(&classify("DELETE FROM t"), s.at(0)),
        Route::Writer
    );
    let d = s.p.decide(&classify("DELETE FROM t"), s.at(0));
    assert_eq!(d.reasons, PinReasons::STATEMENT);
    assert!(s.p.session_state().is_empty());
}

#[test]
fn transaction_follows_status_flags() {
    let mut s = S::new();
    let begin = classify("START TRANSACTION");
    s.p.on_statement(&begin, "START TRANSACTION", s.at(0));
    assert_eq!(s.read_route(0), Route::Writer, "BEGIN sent, answer pending");
    s.p.on_response(IN_TRANS, true);
    assert!(s.pins(0).contains(PinReasons::TRANSACTION));
    s.run(READ, 1, IN_TRANS);
    assert_eq!(s.read_route(2), Route::Writer);
    s.run("COMMIT", 3, IDLE);
    assert_eq!(
        s.read_route(4),
        Route::Reader,
        "read-only transaction: no window"
    );
}

#[test]
fn implicit_transaction_seen_only_through_flags() {
    // autocommit=0 configured server-side: the first response already says so.
    let mut s = S::new();
    s.p.on_response(0, true);
    assert_eq!(s.pins(0), PinReasons::AUTOCOMMIT_OFF);
    // A transaction opened by a stored procedure shows up in the status flags.
    let mut s = S::new();
    s.p.on_response(IN_TRANS, true);
    assert_eq!(s.read_route(0), Route::Writer);
}

#[test]
fn err_response_keeps_state() {
    let mut s = S::new();
    s.run("BEGIN", 0, IN_TRANS);
    s.p.on_statement(
        &classify("INSERT INTO t VALUES (1)"),
        "INSERT INTO t VALUES (1)",
        s.at(1),
    );
    s.p.on_response(0, false); // ERR: no status flags
    assert!(s.pins(5000).contains(PinReasons::TRANSACTION));
    s.run("ROLLBACK", 5001, IDLE);
    assert!(!s.pins(5002).contains(PinReasons::TRANSACTION));
}

#[test]
fn write_in_transaction_opens_window_at_commit() {
    let mut s = S::new();
    s.run("BEGIN", 0, IN_TRANS);
    s.run("UPDATE t SET a = 1", 10, IN_TRANS);
    s.run("COMMIT", 5000, IDLE);
    assert_eq!(s.pins(5500), PinReasons::READ_YOUR_WRITES);
    assert_eq!(s.read_route(6001), Route::Reader);
}

#[test]
fn autocommit_off_by_sql_pins_until_flags_say_otherwise() {
    let mut s = S::new();
    let set = classify("SET autocommit=0");
    s.p.on_statement(&set, "SET autocommit=0", s.at(0));
    assert!(
        s.pins(0).contains(PinReasons::AUTOCOMMIT_OFF),
        "pinned before the answer"
    );
    s.p.on_response(0, true);
    assert!(s.pins(1).contains(PinReasons::AUTOCOMMIT_OFF));
    assert_eq!(s.p.session_state(), ["SET SESSION autocommit = 0"]);
    s.run("SET autocommit=1", 2, IDLE);
    assert_eq!(s.read_route(3), Route::Reader);
    assert_eq!(s.p.session_state(), ["SET SESSION autocommit = 1"]);
}

#[test]
fn table_locks() {
    let mut s = S::new();
    s.run("LOCK TABLES ps_cart WRITE", 0, IDLE);
    assert_eq!(s.pins(0), PinReasons::TABLE_LOCK);
    s.run("UNLOCK TABLES", 1, IDLE);
    assert!(s.pins(1).is_empty());
    s.run("FLUSH TABLES WITH READ LOCK", 2, IDLE);
    assert_eq!(s.pins(2), PinReasons::TABLE_LOCK);
    s.run("UNLOCK TABLES", 3, IDLE);
    assert!(s.pins(3).is_empty());
}

#[test]
fn temporary_tables_are_tracked_by_name() {
    let cfg = PolicyConfig {
        read_your_writes: None,
        ..PolicyConfig::default()
    };
    let mut s = S::with(cfg);
    s.run("CREATE TEMPORARY TABLE `tmp_a` (id INT)", 0, IDLE);
    s.run(
        "CREATE TEMPORARY TABLE IF NOT EXISTS shop.tmp_b LIKE ps_cart",
        0,
        IDLE,
    );
    assert_eq!(s.pins(0), PinReasons::TEMP_TABLE);
    s.run("DROP TEMPORARY TABLE IF EXISTS tmp_a", 1, IDLE);
    assert_eq!(s.pins(1), PinReasons::TEMP_TABLE, "tmp_b still exists");
    s.run("DROP TABLE tmp_b", 2, IDLE);
    assert_eq!(
        s.pins(2),
        PinReasons::TEMP_TABLE,
        "unqualified name: kept, fail-safe"
    );
    s.run("DROP TABLE other, `shop`.`tmp_b`", 3, IDLE);
    assert!(s.pins(3).is_empty());
}

#[test]
fn user_locks_are_counted() {
    let mut s = S::new();
    s.run("SELECT GET_LOCK('a', 10), GET_LOCK('b', 10)", 0, IDLE);
    assert_eq!(s.pins(0), PinReasons::USER_LOCK);
    s.run("SELECT RELEASE_LOCK('a')", 1, IDLE);
    assert_eq!(s.pins(1), PinReasons::USER_LOCK);
    s.run("DO RELEASE_LOCK('b')", 2, IDLE);
    assert!(s.pins(2).is_empty());
    s.run("SET @got = GET_LOCK('c', 1)", 3, IDLE);
    s.run("SELECT RELEASE_ALL_LOCKS()", 4, IDLE);
    assert_eq!(s.pins(4), PinReasons::USER_VARS, "@got stays");
}

#[test]
fn user_variables_pin_until_reset() {
    let mut s = S::new();
    s.run("SET @cart := 6", 0, IDLE);
    assert_eq!(s.pins(0), PinReasons::USER_VARS);
    s.p.reset();
    assert!(s.pins(0).is_empty());
    s.run("SELECT @n := COUNT(*) FROM t", 0, IDLE);
    assert_eq!(s.pins(0), PinReasons::USER_VARS);
    let mut s = S::new();
    s.run("SELECT a INTO @x FROM t LIMIT 1", 0, IDLE);
    assert_eq!(s.pins(0), PinReasons::USER_VARS);
}

#[test]
fn prepared_statements_and_handlers() {
    let mut s = S::new();
    s.run("PREPARE s1 FROM 'SELECT 1'", 0, IDLE);
    s.run("PREPARE S2 FROM 'SELECT 2'", 0, IDLE);
    assert_eq!(s.pins(0), PinReasons::PREPARED);
    s.run("DEALLOCATE PREPARE s1", 1, IDLE);
    s.run("DROP PREPARE s2", 1, IDLE);
    assert!(s.pins(1).is_empty());
    s.run("HANDLER ps_cart OPEN AS h", 2, IDLE);
    assert_eq!(s.pins(2), PinReasons::HANDLER);
    s.run("HANDLER h READ FIRST", 3, IDLE);
    s.run("HANDLER h CLOSE", 4, IDLE);
    assert!(s.pins(4).is_empty());
}

#[test]
fn xa_transactions() {
    let mut s = S::new();
    s.run("XA START 'x1'", 0, IN_TRANS);
    s.run("XA END 'x1'", 1, IDLE);
    s.run("XA PREPARE 'x1'", 2, IDLE);
    assert!(s.pins(3).contains(PinReasons::XA));
    s.run("XA COMMIT 'x1'", 4, IDLE);
    assert!(!s.pins(5).contains(PinReasons::XA));
}

#[test]
fn read_your_writes_window() {
    let mut s = S::new();
    s.run("INSERT INTO ps_cart (id_shop) VALUES (1)", 0, IDLE);
    assert_eq!(s.read_route(500), Route::Writer);
    assert_eq!(s.pins(500), PinReasons::READ_YOUR_WRITES);
    assert_eq!(s.p.read_your_writes_until(), Some(s.at(1000)));
    let hinted = classify(&format!("/* tandem:reader */ {READ}"));
    assert_eq!(hinted.hint, Some(Hint::Reader));
    assert_eq!(
        s.p.route(&hinted, s.at(500)),
        Route::Reader,
        "soft pin overridden"
    );
    assert_eq!(s.read_route(1000), Route::Reader);
    // Session-state statements do not start the window (connect-time SET NAMES).
    let mut s = S::new();
    s.run("SET NAMES utf8mb4", 0, IDLE);
    s.run("USE shop", 0, IDLE);
    assert_eq!(s.read_route(1), Route::Reader);
}

#[test]
fn window_measured_from_completion_with_on_response_at() {
    let mut s = S::new();
    let w = classify("UPDATE big SET a = a + 1");
    s.p.on_statement(&w, "UPDATE big SET a = a + 1", s.at(0));
    assert_eq!(s.read_route(3000), Route::Writer, "write in flight");
    s.p.on_response_at(IDLE, true, s.at(3000));
    assert_eq!(s.read_route(3500), Route::Writer);
    assert_eq!(s.read_route(4001), Route::Reader);
}

#[test]
fn window_can_be_disabled() {
    let mut s = S::with(PolicyConfig {
        read_your_writes: None,
        ..PolicyConfig::default()
    });
    s.run("DELETE FROM t WHERE id = 1", 0, IDLE);
    assert_eq!(s.read_route(0), Route::Reader);
}

#[test]
fn routines_pin_unless_configured_off() {
    let mut s = S::new();
    s.run("CALL refresh_stats()", 0, IDLE);
    assert!(s.pins(5000).contains(PinReasons::ROUTINE));
    let mut s = S::new();
    s.run("SELECT my_func(1)", 0, IDLE);
    assert!(s.pins(5000).contains(PinReasons::ROUTINE));
    let mut s = S::with(PolicyConfig {
        pin_after_routine: false,
        ..PolicyConfig::default()
    });
    s.run("CALL refresh_stats()", 0, IDLE);
    assert!(s.pins(5000).is_empty());
}

#[test]
fn hints() {
    let mut s = S::new();
    let w = classify("/* tandem:writer */ SELECT 1");
    let d = s.p.decide(&w, s.at(0));
    assert_eq!((d.route, d.reasons), (Route::Writer, PinReasons::HINT));
    s.run("BEGIN", 0, IN_TRANS);
    let r = classify("/* tandem:reader */ SELECT 1");
    assert_eq!(
        s.p.route(&r, s.at(1)),
        Route::Writer,
        "hard pins win over hints"
    );
    let s = S::with(PolicyConfig {
        honor_hints: false,
        ..PolicyConfig::default()
    });
    assert_eq!(s.p.route(&w, s.at(0)), Route::Reader);
}

#[test]
fn session_state_replay_list() {
    let mut s = S::new();
    s.p.on_init_db("shop");
    s.run("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", 0, IDLE);
    s.run("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'", 0, IDLE);
    s.run("SET @@session.time_zone = '+00:00', @x = 1", 0, IDLE);
    s.run(
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        0,
        IDLE,
    );
    s.run("SET TRANSACTION READ ONLY", 0, IDLE); // next transaction only: not replayed
    s.run("SET GLOBAL max_connections = 10", 0, IDLE); // global: not replayed
    s.run("USE `other db`", 0, IDLE);
    s.run("SET sql_mode = ''", 0, IDLE);
    assert_eq!(
        s.p.session_state(),
        [
            "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
            "SET SESSION time_zone = '+00:00'",
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "USE `other db`",
            "SET SESSION sql_mode = ''",
        ]
    );
    s.p.reset();
    assert!(s.p.session_state().is_empty());
}

#[test]
fn multi_statement_text_is_applied_part_by_part() {
    let mut s = S::new();
    let sql = "SET NAMES latin1; CREATE TEMPORARY TABLE t1 (a INT); SELECT 1";
    s.run(sql, 0, IDLE);
    assert_eq!(s.p.session_state(), ["SET NAMES latin1"]);
    assert!(s.pins(5000).contains(PinReasons::TEMP_TABLE));
    let mut s = S::new();
    s.run(
        "/*!40101 SET NAMES utf8 */; /*!40101 SET autocommit=0 */",
        0,
        0,
    );
    assert_eq!(
        s.p.session_state(),
        ["SET NAMES utf8", "SET SESSION autocommit = 0"]
    );
}

#[test]
fn state_overflow_pins() {
    let mut s = S::with(PolicyConfig {
        max_session_state: 2,
        ..PolicyConfig::default()
    });
    s.run("SET a = 1, b = 2, c = 3", 0, IDLE);
    assert!(s.pins(0).contains(PinReasons::STATE_OVERFLOW));
}

#[test]
fn connection_holding_ends_with_the_state_that_lives_on_the_connection() {
    let mut s = S::new();
    // A write: the window routes reads to the writer but holds no connection.
    s.run("INSERT INTO ps_cart (id_customer) VALUES (1)", 0, IDLE);
    assert_eq!(s.read_route(10), Route::Writer);
    assert!(s.p.holds_connection().is_empty());
    // A transaction holds its connection until the server says it ended.
    s.run("BEGIN", 20, IN_TRANS);
    assert_eq!(s.p.holds_connection(), PinReasons::TRANSACTION);
    s.run("COMMIT", 30, IDLE);
    assert!(s.p.holds_connection().is_empty());
    // A temporary table holds it until dropped; a user variable until a reset.
    s.run("CREATE TEMPORARY TABLE tmp_cart (id INT)", 40, IDLE);
    assert_eq!(s.p.holds_connection(), PinReasons::TEMP_TABLE);
    s.run("DROP TEMPORARY TABLE tmp_cart", 50, IDLE);
    assert!(s.p.holds_connection().is_empty());
    s.run("SET @cart = 5", 60, IDLE);
    assert_eq!(s.p.holds_connection(), PinReasons::USER_VARS);
    s.p.reset();
    assert!(s.p.holds_connection().is_empty());
}
