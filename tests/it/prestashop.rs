//! The acceptance workload: PrestaShop-style pages through Tandem on a master-master pair with
//! auto_increment 1/1 — a new connection per page, a few SELECTs, an INSERT, LAST_INSERT_ID() and
//! a dependent INSERT. Through HAProxy 256:1 this breaks replication with duplicate keys within a
//! second; through Tandem: zero client errors, no id handed out twice, replication healthy on both
//! nodes and identical rows. Duration: `TANDEM_PRESTASHOP_SECS` (default 60), 16 workers.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tandem_testkit::pair;

use crate::support::{config_text, opts, shop_tables, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prestashop_workload_never_collides() {
    let secs: u64 = std::env::var("TANDEM_PRESTASHOP_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let workers = 16;
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await;
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    shop_tables(&mut c).await;
    c.disconnect().await.expect("disconnect");
    p.wait_synced(Duration::from_secs(10));

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let o = opts(&proxy, "shop");
        tasks.push(tokio::spawn(async move {
            let (mut ids, mut errors, mut pages) = (Vec::new(), Vec::new(), 0u64);
            while Instant::now() < deadline && pages < 1_000_000 {
                pages += 1;
                match page(&o, w).await {
                    Ok(id) => ids.push(id),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (ids, errors, pages)
        }));
    }
    let (mut all_ids, mut errors, mut pages) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        let (ids, errs, n) = t.await.expect("worker");
        all_ids.extend(ids);
        errors.extend(errs);
        pages += n;
    }
    println!(
        "prestashop workload: {pages} pages in {secs}s by {workers} workers, {} errors",
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "client errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    let unique: HashSet<u64> = all_ids.iter().copied().collect();
    assert_eq!(unique.len(), all_ids.len(), "an id was handed out twice");
    assert!(pages > 100, "the workload barely ran: {pages} pages");

    p.wait_synced(Duration::from_secs(30));
    for n in [&p.cn1, &p.cn2] {
        let s = n.slave_status();
        assert_eq!(
            s.get("Slave_SQL_Running").map(String::as_str),
            Some("Yes"),
            "{}: {s:?}",
            n.name()
        );
        assert_eq!(
            s.get("Last_SQL_Errno").map(String::as_str),
            Some("0"),
            "{}: {s:?}",
            n.name()
        );
    }
    for (table, cols) in [
        ("ps_orders", "id_order, id_customer, total, created"),
        ("ps_order_detail", "id_order_detail, id_order, product"),
    ] {
        let q = format!(
            "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(',', {cols}))), 0) FROM shop.{table}"
        );
        assert_eq!(
            p.cn1.query(&q),
            p.cn2.query(&q),
            "{table} differs between the nodes"
        );
    }
    assert_eq!(
        p.cn1.value("SELECT COUNT(*) FROM shop.ps_orders"),
        all_ids.len().to_string(),
        "every acknowledged order is on cn1"
    );
}

async fn page(o: &mysql_async::Opts, worker: usize) -> Result<u64, mysql_async::Error> {
    let mut c = mysql_async::Conn::new(o.clone()).await?;
    let _: Vec<(i32, String)> = c
        .query("SELECT id_product, name FROM ps_product ORDER BY id_product")
        .await?;
    let _: Option<i64> = c.query_first("SELECT COUNT(*) FROM ps_orders").await?;
    let _: Vec<(i32, String)> = c
        .query("SELECT id_product, name FROM ps_product WHERE id_product IN (1,2)")
        .await?;
    c.query_drop(format!(
        "INSERT INTO ps_orders (id_customer, total, created) VALUES ({worker}, 19.90, NOW())"
    ))
    .await?;
    let id: Option<u64> = c.query_first("SELECT LAST_INSERT_ID()").await?;
    let id = id.unwrap_or(0);
    c.query_drop(format!(
        "INSERT INTO ps_order_detail (id_order, product) VALUES ({id}, 'mug')"
    ))
    .await?;
    c.disconnect().await?;
    Ok(id)
}
