//! The admin HTTP interface with real clients (curl, Python's Prometheus parser) against a
//! running Tandem on the real pair: auth, `/metrics` counters that move with traffic, `/status`,
//! the stats page, drain and ready (hot reload of the real binary: `reload.rs`).

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

pub(crate) fn post(port: u16, path: &str) -> (u16, String) {
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

pub(crate) async fn reads(proxy: &Proxy, marker: &str, n: usize) {
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
