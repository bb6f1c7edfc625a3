//! Embedding `tandem-router` in another service.
//!
//! A service that talks to a MariaDB master-master pair itself (no proxy in between) can make
//! the same routing decisions as Tandem: classify each statement, ask a per-session
//! [`SessionPolicy`] whether it may go to a reader, and pick a node from a [`Topology`]. Here
//! the "pools" are fakes that print what they would run, time is simulated and randomness is a
//! seeded splitmix64, so the output is the same on every run.
//!
//! Run: `cargo run --example embed_router`

use std::time::{Duration, Instant};

use tandem_router::{
    classify, Classifier, Node, PolicyConfig, Route, SessionPolicy, StatementKind, Topology,
    SERVER_STATUS_AUTOCOMMIT, SERVER_STATUS_IN_TRANS,
};

/// A fake connection pool for one role; a real service would hold e.g. mysql_async pools.
struct Pool {
    role: &'static str,
    /// Per node: the session state already applied on our pooled connection.
    applied: Vec<Vec<String>>,
}

impl Pool {
    fn new(role: &'static str, nodes: usize) -> Pool {
        Pool {
            role,
            applied: vec![Vec::new(); nodes],
        }
    }

    /// Brings the pooled connection to `node` up to the session's state.
    fn replay(&mut self, node: usize, name: &str, state: &[String]) {
        for stmt in state.iter().filter(|s| !self.applied[node].contains(s)) {
            println!("      {:<7} {name}: replay  {stmt}", self.role);
        }
        self.applied[node] = state.to_vec();
    }

    /// "Runs" `sql` on the node called `name`; returns the status flags a server would send.
    fn run(&self, name: &str, sql: &str, in_tx: bool) -> u16 {
        println!("      {:<7} {name}: {sql}", self.role);
        if in_tx {
            SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS
        } else {
            SERVER_STATUS_AUTOCOMMIT
        }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn topology() -> Topology {
    let mut cn1 = Node::new("cn1");
    cn1.weight = 100; // preferred writer
    cn1.read_weight = Some(50); // takes half a share of reads
    let mut cn2 = Node::new("cn2");
    cn2.weight = 50;
    cn2.writable = false; // passive master (@@read_only = 1) until failover
    cn2.lag = Some(Duration::from_millis(300));
    Topology {
        nodes: vec![cn1, cn2],
        max_lag: Some(Duration::from_secs(2)),
    }
}

fn main() {
    let mut topo = topology();
    topo.validate().expect("valid topology");
    let mut writers = Pool::new("writer", topo.nodes.len());
    let mut readers = Pool::new("reader", topo.nodes.len());
    let mut classifier = Classifier::new(1024);
    let mut session = SessionPolicy::new(PolicyConfig::default());
    session.on_init_db("shop");
    let t0 = Instant::now();
    let mut rng = 42u64;

    let script: &[(u64, &str)] = &[
        (0, "SET NAMES utf8mb4"),
        (
            1,
            "SELECT id_product, price FROM ps_product_shop WHERE id_shop = 1 LIMIT 10",
        ),
        (2, "SELECT COUNT(*) FROM ps_cart_product WHERE id_cart = 6"),
        (
            3,
            "INSERT INTO ps_cart (id_shop, id_currency, date_add) VALUES (1, 1, NOW())",
        ),
        (4, "SELECT LAST_INSERT_ID()"),
        (200, "SELECT * FROM ps_cart WHERE id_cart = 7"),
        (
            201,
            "/* tandem:reader */ SELECT name FROM ps_product_lang WHERE id_product = 1",
        ),
        (
            1500,
            "SELECT name FROM ps_product_lang WHERE id_product = 1",
        ),
        (1501, "START TRANSACTION"),
        (
            1502,
            "SELECT quantity FROM ps_stock_available WHERE id_product = 1 FOR UPDATE",
        ),
        (
            1503,
            "UPDATE ps_stock_available SET quantity = quantity - 1 WHERE id_product = 1",
        ),
        (1504, "COMMIT"),
        (
            1505,
            "SELECT quantity FROM ps_stock_available WHERE id_product = 1",
        ),
        (
            3000,
            "SELECT quantity FROM ps_stock_available WHERE id_product = 1",
        ),
        (3001, "CREATE TEMPORARY TABLE tmp_ids (id INT)"),
        (3002, "SELECT id FROM tmp_ids"),
        (3003, "DROP TEMPORARY TABLE tmp_ids"),
        (5000, "SELECT id_category FROM ps_category WHERE active = 1"),
    ];

    println!(
        "topology: writer = {:?}",
        topo.writer().map(|i| &topo.nodes[i].name)
    );
    for &(ms, sql) in script {
        let now = t0 + Duration::from_millis(ms);
        let stmt = classifier.classify(sql);
        let decision = session.decide(&stmt, now);
        let node = match decision.route {
            Route::Writer => topo.writer(),
            Route::Reader => topo.reader(splitmix64(&mut rng)),
        };
        let Some(node) = node else {
            println!("no node available for {sql}");
            continue;
        };
        let name = topo.nodes[node].name.clone();
        println!(
            "t={ms:>4}ms {:?} {} -> {:?} {name} (pinned by: {})",
            stmt.kind, stmt.flags, decision.route, decision.reasons
        );
        let pool = match decision.route {
            Route::Writer => &mut writers,
            Route::Reader => &mut readers,
        };
        pool.replay(node, &name, session.session_state());
        session.on_statement(&stmt, sql, now);
        let in_tx = session.in_transaction() && stmt.kind != StatementKind::Commit;
        let status = pool.run(&name, sql, in_tx);
        // The statement itself changed this connection's state (e.g. SET NAMES).
        pool.applied[node] = session.session_state().to_vec();
        session.on_response_at(status, true, now);
    }

    // Failover: the monitor reports cn1 down and cn2 proven caught up and made writable.
    topo.nodes[0].up = false;
    topo.nodes[1].writable = true;
    let stmt = classify("UPDATE ps_configuration SET value = '1' WHERE name = 'PS_SHOP_ENABLE'");
    let now = t0 + Duration::from_secs(10);
    let route = session.route(&stmt, now);
    let node = match route {
        Route::Writer => topo.writer(),
        Route::Reader => topo.reader(splitmix64(&mut rng)),
    };
    println!(
        "after failover: {route:?} -> {:?}",
        node.map(|i| &topo.nodes[i].name)
    );
}
