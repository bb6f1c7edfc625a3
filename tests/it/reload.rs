//! Hot reload of the real binary on the real pair (SIGHUP and `POST /reload`): read weights
//! that move reads, an invalid file that changes nothing, and backends added, removed and moved
//! without a restart or a dropped session.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use mysql_async::prelude::*;
use tandem_testkit::pair;

use crate::http::{http_section, post, reads, status};
use crate::support::{config_text, free_port, general_log_on, logged, opts, Proxy};

/// The real binary with a config file, for reload by SIGHUP and by HTTP.
struct Binary {
    child: std::process::Child,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_binary(config: &Path) -> Binary {
    let child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["--config", &config.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tandem");
    Binary { child }
}

fn file_config(
    p: &tandem_testkit::Pair,
    proxy_port: u16,
    http_port: u16,
    cn1_reads: u32,
    cn2_reads: u32,
) -> String {
    let text = config_text(p, "")
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{proxy_port}\""),
        )
        .replace(
            "weight = 256\n",
            &format!("weight = 256\nread_weight = {cn1_reads}\n"),
        )
        .replace(
            "weight = 1\n",
            &format!("weight = 1\nread_weight = {cn2_reads}\n"),
        );
    format!("{text}{}", http_section(http_port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_moves_reads_and_an_invalid_file_changes_nothing() {
    let p = pair();
    general_log_on(&p);
    let dir = std::env::temp_dir().join(format!("tandem-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("tandem.toml");
    let (proxy_port, http_port) = (free_port(), free_port());
    std::fs::write(&path, file_config(&p, proxy_port, http_port, 100, 0)).expect("write config");
    let bin = spawn_binary(&path);
    let proxy = Proxy::at(format!("127.0.0.1:{proxy_port}").parse().expect("addr"));
    proxy.wait_ready().await;

    reads(&proxy, "rl1", 20).await;
    assert!(logged(&p.cn2, "rl1").is_empty(), "cn2 has read_weight 0");

    // SIGHUP with cn2 taking all reads.
    std::fs::write(&path, file_config(&p, proxy_port, http_port, 0, 100)).expect("rewrite");
    let pid = bin.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill")
        .success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status(http_port)["nodes"][1]["read_weight"] != 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reload did not apply"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reads(&proxy, "rl2", 20).await;
    assert_eq!(
        logged(&p.cn2, "rl2").len(),
        20,
        "every read on cn2 after the reload"
    );
    assert!(logged(&p.cn1, "rl2").is_empty());

    // An invalid file: 422 naming the field, the old settings stay, the process runs on.
    let bad =
        file_config(&p, proxy_port, http_port, 100, 0).replace("weight = 1\n", "weight = 0\n");
    std::fs::write(&path, bad).expect("write a bad config");
    let (code, body) = post(http_port, "/reload");
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("backends[1].weight"), "{body}");
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill")
        .success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(http_port)["nodes"][1]["read_weight"], 100);
    reads(&proxy, "rl3", 5).await;
    assert_eq!(logged(&p.cn2, "rl3").len(), 5);
    drop(bin);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A config file with only the backends named in `keep` (cn1 reads `cn1_reads`, cn2 all others).
fn file_config_nodes(
    p: &tandem_testkit::Pair,
    proxy_port: u16,
    http_port: u16,
    keep: &[&str],
) -> String {
    let text = file_config(p, proxy_port, http_port, 0, 100);
    let mut out = String::new();
    for (i, part) in text.split("[[backends]]").enumerate() {
        let name = ["cn1", "cn2"]
            .into_iter()
            .find(|n| part.contains(&format!("name = \"{n}\"")));
        match (i, name) {
            (0, _) => out.push_str(part),
            (_, Some(n)) if keep.contains(&n) => {
                out.push_str("[[backends]]");
                out.push_str(part);
            }
            // A dropped node's block; the text after its fields (the users) stays.
            (_, _) => {
                let rest = part.find("[[users]]").map_or("", |at| &part[at..]);
                out.push_str(rest);
            }
        }
    }
    out
}

fn reload_to(path: &Path, config: &str, http_port: u16) -> (u16, String) {
    std::fs::write(path, config).expect("write config");
    post(http_port, "/reload")
}

async fn reads_on(c: &mut mysql_async::Conn, marker: &str, n: usize) {
    for i in 0..n {
        let _: Vec<u32> = c
            .query(format!("SELECT {i} AS `{marker}`"))
            .await
            .expect("read");
    }
}

/// Runs batches of 10 reads (markers `prefix` + round) until one lands wholly on cn2 (15 s).
async fn until_cn2_reads(p: &tandem_testkit::Pair, s: &mut mysql_async::Conn, prefix: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    for round in 0.. {
        let marker = format!("{prefix}r{round}");
        reads_on(s, &marker, 10).await;
        if logged(&p.cn2, &marker).len() == 10 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cn2 took no reads ({prefix})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Nodes added and removed by a reload, without a restart or a dropped session: a node added
/// takes reads (from a session opened before it existed, too), a node removed takes none while
/// a transaction on the writer goes on and commits, a reload that would remove the writer is
/// refused whole, and a node added again takes its place back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_and_removes_nodes_without_dropping_sessions() {
    let p = pair();
    p.reset(); // cn1 the writer
    p.cn1.query(
        "CREATE TABLE IF NOT EXISTS shop.reload_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
    );
    p.wait_synced(Duration::from_secs(20));
    general_log_on(&p);
    let dir = std::env::temp_dir().join(format!("tandem-nodes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("tandem.toml");
    let (proxy_port, http_port) = (free_port(), free_port());
    let only_cn1 = file_config_nodes(&p, proxy_port, http_port, &["cn1"]);
    assert!(!only_cn1.contains("cn2"), "{only_cn1}");
    std::fs::write(&path, &only_cn1).expect("write config");
    let _bin = spawn_binary(&path);
    let proxy = Proxy::at(format!("127.0.0.1:{proxy_port}").parse().expect("addr"));
    proxy.wait_ready().await;
    assert_eq!(status(http_port)["nodes"].as_array().map(Vec::len), Some(1));
    let mut s = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    reads_on(&mut s, "nd0", 5).await;
    assert!(logged(&p.cn2, "nd0").is_empty(), "cn2 is not configured");

    // Added: cn2 takes every read (cn1 has read_weight 0), the old session's too.
    let both = file_config_nodes(&p, proxy_port, http_port, &["cn1", "cn2"]);
    let (code, body) = reload_to(&path, &both, http_port);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("cn2 added"), "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status(http_port)["nodes"][1]["role"] != "reader" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "cn2 never became a reader"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reads_on(&mut s, "nd1", 20).await;
    assert_eq!(
        logged(&p.cn2, "nd1").len(),
        20,
        "the added node serves reads"
    );

    // Removed while a transaction runs on the writer: it commits; reads leave cn2.
    s.query_drop("BEGIN").await.expect("begin");
    s.query_drop("INSERT INTO reload_t (v) VALUES (1)")
        .await
        .expect("insert");
    let (code, body) = reload_to(&path, &only_cn1, http_port);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("cn2 removed"), "{body}");
    s.query_drop("INSERT INTO reload_t (v) VALUES (2)")
        .await
        .expect("the transaction goes on");
    s.query_drop("COMMIT").await.expect("commit");
    let rows = p
        .cn1
        .query("SELECT COUNT(*) FROM shop.reload_t WHERE v IN (1, 2)");
    assert_eq!(rows[0][0], "2", "both rows committed on cn1");
    reads_on(&mut s, "nd2", 20).await;
    assert!(
        logged(&p.cn2, "nd2").is_empty(),
        "no reads on a removed node"
    );
    assert_eq!(logged(&p.cn1, "nd2").len(), 20);
    let st = status(http_port);
    assert_eq!(st["nodes"].as_array().map(Vec::len), Some(1), "{st}");

    // Removing the writer is refused whole: nothing changes, the process serves on.
    let only_cn2 = file_config_nodes(&p, proxy_port, http_port, &["cn2"]);
    let (code, body) = reload_to(&path, &only_cn2, http_port);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("cn1 takes the writes"), "{body}");
    assert_eq!(status(http_port)["writer"], "cn1");
    s.query_drop("INSERT INTO reload_t (v) VALUES (3)")
        .await
        .expect("writes go on");

    // Added again: it takes its place back and serves reads.
    let (code, body) = reload_to(&path, &both, http_port);
    assert_eq!(code, 200, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status(http_port)["nodes"][1]["role"] != "reader" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "cn2 did not come back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its causal follower has to see it apply the writes above first (until then reads stay
    // on the writer).
    until_cn2_reads(&p, &mut s, "nd3").await;

    // Moved (another address for the same server): its slot gets a new pool; the session's
    // connection to the old address is closed, not pooled, and reads reach it again.
    let moved = both.replace(
        &format!("127.0.0.1:{}", p.cn2.port),
        &format!("localhost:{}", p.cn2.port),
    );
    let (code, body) = reload_to(&path, &moved, http_port);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("cn2 moved"), "{body}");
    until_cn2_reads(&p, &mut s, "nd4").await;
    assert_eq!(
        status(http_port)["nodes"][1]["address"],
        format!("localhost:{}", p.cn2.port)
    );
    let _ = s.disconnect().await;
    p.cn1.query("DROP TABLE IF EXISTS shop.reload_t");
    p.wait_synced(Duration::from_secs(20));
    let _ = std::fs::remove_dir_all(&dir);
}
