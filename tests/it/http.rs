//! The admin HTTP interface with real clients (curl, Python's Prometheus parser) against a
//! running Tandem on the real pair: auth, `/metrics` counters that move with traffic, `/status`,
//! the stats page, drain and ready, and hot reload (SIGHUP and `POST /reload`) of the real binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use mysql_async::prelude::*;
use tandem_testkit::pair;

use crate::support::{config_text, free_port, general_log_on, logged, opts, start, Proxy};

const USER: &str = "admin";
const PASSWORD: &str = "s3cret-admin";

pub(crate) fn http_section(port: u16) -> String {
    format!(
        "\n[http]\nlisten = \"127.0.0.1:{port}\"\nuser = \"{USER}\"\npassword = \"{PASSWORD}\"\n"
    )
}

/// `curl` with `args`; returns (HTTP status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-m", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn get(port: u16, path: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    curl(&["-u", &format!("{USER}:{PASSWORD}"), &url])
}

fn post(port: u16, path: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    curl(&["-u", &format!("{USER}:{PASSWORD}"), "-X", "POST", &url])
}

pub(crate) fn status(port: u16) -> serde_json::Value {
    let (code, body) = get(port, "/status");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("status is JSON")
}

/// Parses `/metrics` with Python's prometheus_client (OpenMetrics parser) and returns the
/// samples as `name{k=v,...} value` lines, sorted.
fn parsed_metrics(port: u16) -> Vec<String> {
    let (code, text) = get(port, "/metrics");
    assert_eq!(code, 200, "{text}");
    let python = tandem_testkit::workspace_root().join(".run/venv/bin/python");
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n\
                  for f in p(sys.stdin.read()):\n    for s in f.samples:\n        \
                  print(s.name + '{' + ','.join(k+'='+v for k,v in sorted(s.labels.items())) + '} ' + repr(float(s.value)))\n";
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed the parser");
    let out = child.wait_with_output().expect("parser output");
    assert!(
        out.status.success(),
        "the metrics do not parse as OpenMetrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

fn sample(lines: &[String], key: &str) -> f64 {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {key} in {lines:#?}"))
}

async fn reads(proxy: &Proxy, marker: &str, n: usize) {
    for i in 0..n {
        let mut c = mysql_async::Conn::new(opts(proxy, "shop"))
            .await
            .expect("connect");
        let sql = format!("SELECT {i} AS `{marker}`");
        let _: Vec<u32> = c.query(sql).await.expect("read");
        let _ = c.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_admin_needs_auth_and_its_metrics_move_with_traffic() {
    let p = pair();
    let port = free_port();
    let proxy = start(&format!("{}{}", config_text(&p, ""), http_section(port))).await;

    // No credentials, wrong ones: 401 with a challenge; nothing else answers.
    let url = format!("http://127.0.0.1:{port}/status");
    assert_eq!(curl(&[&url]).0, 401);
    assert_eq!(curl(&["-u", "admin:wrong", &url]).0, 401);
    assert_eq!(
        curl(&[
            "-u",
            "admin:wrong",
            "-X",
            "POST",
            &format!("http://127.0.0.1:{port}/nodes/cn2/drain")
        ])
        .0,
        401
    );
    let (_, headers) = curl(&["-I", &url]);
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{headers}"
    );

    let before = parsed_metrics(port);
    assert_eq!(sample(&before, "tandem_node_up{node=cn1}"), 1.0);
    assert_eq!(sample(&before, "tandem_node_up{node=cn2}"), 1.0);
    assert_eq!(sample(&before, "tandem_node_writer{node=cn1}"), 1.0);
    let total = |m: &[String]| {
        sample(m, "tandem_statements_total{route=reader}")
            + sample(m, "tandem_statements_total{route=writer}")
    };
    let reader0 = sample(&before, "tandem_statements_total{route=reader}");
    let (total0, sessions0) = (total(&before), sample(&before, "tandem_sessions_total{}"));
    reads(&proxy, "hm", 20).await;
    let after = parsed_metrics(port);
    // Reads spread evenly: the writer serves its share, cn2 the rest (none of 20 on cn2 has
    // odds of one in a million).
    assert!(total(&after) >= total0 + 20.0, "{after:#?}");
    assert!(
        sample(&after, "tandem_statements_total{route=reader}") > reader0,
        "{after:#?}"
    );
    assert!(sample(&after, "tandem_sessions_total{}") >= sessions0 + 20.0);

    let s = status(port);
    assert_eq!(s["writer"], "cn1");
    let nodes = s["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["role"], "writer");
    assert_eq!(nodes[1]["replication"][0]["io"], "running");
    assert!(nodes[0]["check_latency_ms"].as_f64().is_some());

    let (code, page) = get(port, "/");
    assert_eq!(code, 200);
    assert_eq!(
        page.matches("<tr class=").count(),
        2,
        "one row per node: {page}"
    );
    assert!(!page.contains("<script"), "the page runs no script");

    // The digests hold the statement without its values.
    let (_, digests) = get(port, "/digests");
    assert!(digests.contains("select ? as `hm`"), "{digests}");
    assert!(!page.contains(PASSWORD) && !s.to_string().contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_moves_new_reads_off_a_node_and_ready_brings_them_back() {
    let p = pair();
    general_log_on(&p);
    let port = free_port();
    let proxy = start(&format!("{}{}", config_text(&p, ""), http_section(port))).await;
    let (code, body) = post(port, "/nodes/cn2/drain");
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(port)["nodes"][1]["role"], "drained");
    reads(&proxy, "dr1", 30).await;
    assert!(
        logged(&p.cn2, "dr1").is_empty(),
        "a drained node got new reads"
    );
    assert_eq!(logged(&p.cn1, "dr1").len(), 30);

    // A transaction running on the writer finishes while the writer is drained: the drain
    // holds new writes, waits for the open transaction, then moves the writes (a fenced
    // switchover to cn2, which has caught up). A write that arrived meanwhile lands on cn2.
    let mut c = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("connect");
    c.query_drop("CREATE TABLE IF NOT EXISTS drain_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .expect("table");
    p.wait_synced(Duration::from_secs(20));
    assert_eq!(post(port, "/nodes/cn2/ready").0, 200);
    c.query_drop("BEGIN").await.expect("begin");
    c.query_drop("INSERT INTO drain_t (v) VALUES (@@server_id)")
        .await
        .expect("insert");
    let drain = tokio::task::spawn_blocking(move || post(port, "/nodes/cn1/drain"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = {
        let o = opts(&proxy, "shop");
        tokio::spawn(async move {
            let mut w = mysql_async::Conn::new(o).await.expect("connect");
            w.query_drop("INSERT INTO drain_t (v) VALUES (@@server_id + 100)")
                .await
        })
    };
    c.query_drop("INSERT INTO drain_t (v) VALUES (@@server_id)")
        .await
        .expect("insert in the running transaction");
    c.query_drop("COMMIT")
        .await
        .expect("the running transaction commits");
    let (code, body) = drain.await.expect("drain request");
    assert_eq!(code, 200, "{body}");
    held.await
        .expect("held write")
        .expect("the held write runs after the switchover");
    let s = status(port);
    assert_eq!(s["writer"], "cn2");
    let events = s["events"].to_string();
    assert!(
        events.contains("Fenced { node: \\\"cn2\\\""),
        "the switchover fenced cn2 first: {events}"
    );
    p.wait_synced(Duration::from_secs(20));
    for node in [&p.cn1, &p.cn2] {
        let rows = node.query("SELECT v FROM shop.drain_t ORDER BY id");
        let v: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            v,
            ["1", "1", "102"],
            "the transaction on cn1, the held write on cn2"
        );
    }
    assert!(p
        .cn2
        .query("SHOW SLAVE STATUS")
        .iter()
        .all(|r| !r.join(" ").contains("Duplicate")));
    // Back to cn1 for the next test: ready, then a switchover (it has caught up).
    assert_eq!(post(port, "/nodes/cn1/ready").0, 200);
    let (code, body) = post(port, "/writer/cn1");
    assert_eq!(code, 200, "{body}");
    let _ = c.disconnect().await;
    p.cn1.query("DROP TABLE IF EXISTS shop.drain_t");
    p.wait_synced(Duration::from_secs(20));
}

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

/// Debian's chromium, headless, as root (no sandbox).
fn chromium(args: &[&str]) -> std::process::Output {
    let bin = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium (scripts/install-deps installs it)");
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stats_page_renders_in_a_headless_browser() {
    let p = pair();
    let port = free_port();
    let proxy = start(&format!("{}{}", config_text(&p, ""), http_section(port))).await;
    reads(&proxy, "pg", 3).await;
    let url = format!("http://{USER}:{PASSWORD}@127.0.0.1:{port}/");
    let dom = chromium(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<table id=\"nodes\">"), "{dom}");
    assert_eq!(
        dom.matches("<tr class=").count(),
        2,
        "one row per node: {dom}"
    );
    assert!(dom.contains("writer: <b>cn1</b>"), "{dom}");
    let shot = std::env::temp_dir().join(format!("tandem-stats-{}.png", std::process::id()));
    let out = chromium(&[
        "--window-size=1500,620",
        &format!("--screenshot={}", shot.display()),
        &url,
    ]);
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    let _ = std::fs::remove_file(&shot);
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
