//! The local pair itself: replicates both ways and carries PrestaShop's auto_increment settings.

use std::time::Duration;
use tandem_testkit::{eventually, pair};

#[test]
fn pair_replicates_both_ways_with_prestashop_auto_increment() {
    let p = pair();
    p.reset();
    for node in [&p.cn1, &p.cn2] {
        let row = &node.query("SELECT @@auto_increment_increment, @@auto_increment_offset")[0];
        assert_eq!(row, &["1", "1"], "{} auto_increment settings", node.name());
        assert!(node.replication_healthy(), "{} replication", node.name());
    }
    p.cn1.query(
        "CREATE TABLE shop.rep (id INT AUTO_INCREMENT PRIMARY KEY, origin VARCHAR(8)) ENGINE=InnoDB",
    );
    p.cn1.query("INSERT INTO shop.rep (origin) VALUES ('cn1')");
    eventually(Duration::from_secs(10), "cn1's row on cn2", || {
        let rows = p.cn2.try_query("SELECT origin FROM shop.rep").ok()?;
        (rows.iter().flatten().any(|v| v == "cn1")).then_some(())
    });
    p.cn2.query("INSERT INTO shop.rep (origin) VALUES ('cn2')");
    eventually(Duration::from_secs(10), "cn2's row on cn1", || {
        let rows = p.cn1.query("SELECT origin FROM shop.rep");
        (rows.iter().flatten().any(|v| v == "cn2")).then_some(())
    });
    p.wait_synced(Duration::from_secs(10));
    assert_eq!(
        p.cn1.query("SELECT id, origin FROM shop.rep ORDER BY id"),
        p.cn2.query("SELECT id, origin FROM shop.rep ORDER BY id")
    );
}

#[test]
fn reset_restores_a_clean_pair() {
    let p = pair();
    p.cn1
        .query("CREATE TABLE IF NOT EXISTS shop.junk (id INT PRIMARY KEY)");
    p.reset();
    for node in [&p.cn1, &p.cn2] {
        assert_eq!(
            node.value(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'shop'"
            ),
            "0"
        );
        assert_eq!(node.value("SELECT @@read_only"), "0");
        assert!(node.replication_healthy());
    }
}
