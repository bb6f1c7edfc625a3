//! The classifier against the server's own rules: a generated corpus of tricky statements
//! (comments of every kind, versioned comments around the server's version, control bytes,
//! stored functions that write, lock functions, multi-statements) is classified for the real
//! server's dialect, and every statement the classifier calls a read is run on cn1 in a
//! `READ ONLY` session. The server must never refuse one as a write (1792), and none may take a
//! user lock. Statements called writes are not run.

use mysql_async::prelude::Queryable;
use tandem_router::{classify_with, Dialect};
use tandem_testkit::pair;

const LOCK_CHECK: &str = "SELECT IS_USED_LOCK('dlock') = CONNECTION_ID()";

/// splitmix64: a fixed, reproducible corpus.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const OPENERS: &[&str] = &[
    "",
    "/* c */ ",
    "/*!40101 ",
    "/*!99999 ",
    "/*M!100000 ",
    "/*M!999999 ",
    "/*!50700 ",
    "/*!110000 ",
    "/*!100000 ",
    "/*! ",
    "/*!1234 ",
    "/*m!100000 ",
    "-- c\n",
    "#c\n",
    "--\x01",
    "--\x7f",
    "/* /* */ ",
    "/*!99999 /* x */ ",
    "/*!1000002 ",
    "/*+ hint */ ",
];

/// Bodies that are reads on their own (most of the corpus, so that many texts are called reads
/// and reach the server).
const READS: &[&str] = &[
    "SELECT v FROM dt WHERE id = 1",
    "SELECT 1",
    "SELECT JSON_VALID('{}'), CONCAT('a', 'b')",
    "SELECT * FROM v_dt",
    "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
    "SELECT (SELECT MAX(v) FROM dt)",
    "SET STATEMENT max_statement_time = 1 FOR SELECT 1",
    "SELECT v FROM dt ORDER BY id LIMIT 1",
];

/// Bodies that write, lock or touch session state.
const WRITES: &[&str] = &[
    "DELETE FROM dt WHERE id = 0",
    "UPDATE dt SET v = v WHERE id = 0",
    "INSERT INTO dt (v) VALUES (0)",
    "REPLACE INTO dt (id, v) VALUES (1, 1)",
    "SELECT v FROM dt FOR UPDATE",
    "SELECT dt_write()",
    "SELECT json_dt_write()",
    "SELECT `dt_write`()",
    "CREATE TEMPORARY TABLE tmp_d (a INT)",
    "CREATE TABLE dt_new (a INT)",
    "SELECT GET_LOCK('dlock', 0)",
    "DO GET_LOCK('dlock', 0)",
    "SET @x = 1",
    "CALL dt_proc()",
    "SELECT 1 INTO @y",
    "SELECT NEXTVAL(dt_seq)",
];

const JOINERS: &[&str] = &[
    " ",
    " */ ",
    "*/",
    "; ",
    " */; ",
    "\n",
    " -- x\n",
    " # x\n",
    ", ",
    " FROM dt ",
    " UNION ",
    "'",
    "`",
    "\"",
    " /*!40101 , */ ",
];

/// A reproducible random picker.
struct Picker(u64);

impl Picker {
    fn roll(&mut self) -> u64 {
        next(&mut self.0)
    }

    fn pick(&mut self, list: &[&str]) -> String {
        list[(self.roll() % list.len() as u64) as usize].to_string()
    }

    /// Half the time nothing, else one of the openers.
    fn opener(&mut self) -> String {
        if self.roll().is_multiple_of(2) {
            String::new()
        } else {
            self.pick(OPENERS)
        }
    }

    /// A read seven times in ten.
    fn body(&mut self) -> String {
        if self.roll() % 10 < 7 {
            self.pick(READS)
        } else {
            self.pick(WRITES)
        }
    }
}

fn generate(n: usize) -> Vec<String> {
    let mut p = Picker(0x7a6e_6465_6d00_0001);
    (0..n)
        .map(|_| {
            let mut s = p.opener() + &p.body();
            if !p.roll().is_multiple_of(3) {
                s += &p.pick(JOINERS);
                s += &p.opener();
                s += &p.body();
            }
            s + &p.pick(&["", "", " */", " -- end", ";"])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_called_a_read_is_accepted_by_a_read_only_server() {
    let p = pair();
    p.reset();
    p.cn1
        .query("SET GLOBAL log_bin_trust_function_creators = 1");
    p.cn2
        .query("SET GLOBAL log_bin_trust_function_creators = 1");
    let url = p.cn1.url("app", "apppass", "shop");
    let mut setup = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).expect("url"))
        .await
        .expect("connect cn1");
    for sql in [
        "CREATE TABLE dt (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
        "INSERT INTO dt (v) VALUES (1), (2)",
        "CREATE FUNCTION dt_write() RETURNS INT MODIFIES SQL DATA \
         BEGIN INSERT INTO dt (v) VALUES (9); RETURN 1; END",
        "CREATE FUNCTION json_dt_write() RETURNS INT MODIFIES SQL DATA \
         BEGIN INSERT INTO dt (v) VALUES (9); RETURN 1; END",
        "CREATE PROCEDURE dt_proc() MODIFIES SQL DATA INSERT INTO dt (v) VALUES (9)",
        "CREATE VIEW v_dt AS SELECT v FROM dt",
        "CREATE SEQUENCE dt_seq",
    ] {
        setup.query_drop(sql).await.expect(sql);
    }
    let version: String = setup
        .query_first("SELECT @@version")
        .await
        .expect("version")
        .expect("row");
    let dialect = Dialect::from_server_version(&version);
    assert!(dialect.version.is_some(), "version {version}");

    let read_only_session = || async {
        let mut c = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).expect("url"))
            .await
            .expect("connect cn1");
        c.query_drop("SET SESSION TRANSACTION READ ONLY")
            .await
            .expect("read only");
        c
    };
    let mut ro = read_only_session().await;
    let corpus = generate(6000);
    let (mut reads, mut accepted, mut other_errors) = (0, 0, 0);
    let mut refused = Vec::new();
    for sql in &corpus {
        if !classify_with(sql.as_bytes(), &dialect).is_read_only() {
            continue;
        }
        reads += 1;
        let result = async {
            let mut r = ro.query_iter(sql.as_str()).await?;
            loop {
                r.collect::<mysql_async::Row>().await?;
                if r.is_empty() {
                    break;
                }
            }
            Ok::<(), mysql_async::Error>(())
        }
        .await;
        let failed = result.is_err();
        let ok_now = result.is_ok();
        match result {
            Ok(()) => accepted += 1,
            Err(mysql_async::Error::Server(e)) if e.code == 1792 => refused.push(sql.clone()),
            Err(mysql_async::Error::Server(_)) => other_errors += 1,
            Err(e) => panic!("{sql:?}: {e:?}"),
        }
        if failed {
            // A multi-statement that failed part-way may leave results behind: start afresh
            // (a lock taken by it would have been seen below, before the old session closes).
            let held: Option<i64> = ro.query_first(LOCK_CHECK).await.ok().flatten().flatten();
            assert_ne!(held, Some(1), "{sql:?} took a user lock on a reader");
            ro = read_only_session().await;
            continue;
        }
        // The client may see a later part's error only on its next query: that error is the
        // statement's too.
        let lock = match ro.query_first::<Option<i64>, _>(LOCK_CHECK).await {
            Ok(v) => v.flatten(),
            Err(mysql_async::Error::Server(e)) => {
                if ok_now {
                    accepted -= 1;
                }
                if e.code == 1792 {
                    refused.push(sql.clone());
                } else {
                    other_errors += 1;
                }
                ro.query_first::<Option<i64>, _>(LOCK_CHECK)
                    .await
                    .expect("lock check")
                    .flatten()
            }
            Err(e) => panic!("lock check after {sql:?}: {e:?}"),
        };
        assert_ne!(lock, Some(1), "{sql:?} took a user lock on a reader");
    }
    println!(
        "differential: {} statements generated, {reads} called reads, {accepted} accepted by the \
         read-only server, {other_errors} other server errors (syntax), {} refused as writes",
        corpus.len(),
        refused.len()
    );
    assert!(reads > 200, "the corpus has too few reads to mean anything");
    assert!(
        refused.is_empty(),
        "called reads but refused as writes: {refused:#?}"
    );
}
