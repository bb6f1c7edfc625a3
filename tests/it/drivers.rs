//! The driver matrix: real client libraries through Tandem at its default configuration, each
//! running the same scenario (`tests/drivers/*`): connect options as the driver sets them,
//! transactions, prepared statements, a procedure with two result sets, LOCAL INFILE where the
//! driver has it, a 4 MiB value, and a write on one connection read at once on another.
//! `scripts/install-deps` installs every toolchain and package they need (a missing one fails
//! the test, never skips it). mysql_async and sqlx are driven from Rust below; the mariadb CLI
//! and `mariadb-dump --routines` with a restore, and sysbench, are driven as commands.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tandem_testkit::{pair, workspace_root};

use crate::support::{config_text, opts, start, Proxy};

/// Runs one driver scenario; panics with its output when it fails.
fn run(name: &str, mut cmd: Command, proxy: &Proxy) -> String {
    let out = cmd
        .env("TANDEM_HOST", proxy.addr.ip().to_string())
        .env("TANDEM_PORT", proxy.addr.port().to_string())
        .env("TANDEM_USER", "app")
        .env("TANDEM_PASSWORD", "apppass")
        .env("TANDEM_DB", "shop")
        .output()
        .unwrap_or_else(|e| panic!("{name}: cannot run ({e}); run scripts/install-deps"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name} failed through Tandem:\n{text}"
    );
    assert!(text.contains("ok "), "{name} did not finish:\n{text}");
    text
}

fn tool(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} missing at {}: run scripts/install-deps",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_driver_passes_through_tandem() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await;
    let root = workspace_root();
    let drivers = root.join("tests/drivers");
    let python = tool(
        root.join(".run/venv/bin/python"),
        "the drivers' Python venv",
    );
    let node_modules = tool(root.join(".run/node/node_modules"), "node mysql2");
    let jar = tool(
        PathBuf::from("/usr/share/java/mariadb-java-client.jar"),
        "MariaDB Connector/J (libmariadb-java)",
    );
    let mut passed = Vec::new();
    for driver in ["pymysql", "connector-pure", "connector-c", "mariadb"] {
        let mut c = Command::new(&python);
        c.arg("-W")
            .arg("ignore")
            .arg(drivers.join("python_driver.py"))
            .arg(driver);
        run(driver, c, &proxy);
        passed.push(driver);
    }
    for mode in ["pdo-emulated", "pdo-native", "mysqli"] {
        let mut c = Command::new("php");
        c.args(["-d", "mysqli.allow_local_infile=1"])
            .arg(drivers.join("php_driver.php"))
            .arg(mode);
        run(mode, c, &proxy);
        passed.push(mode);
    }
    let mut c = Command::new("node");
    c.arg(drivers.join("node_mysql2.js"))
        .env("TANDEM_NODE_MODULES", &node_modules);
    run("mysql2", c, &proxy);
    passed.push("node mysql2");
    let mut c = Command::new("java");
    c.arg("-cp").arg(&jar).arg(drivers.join("JdbcCheck.java"));
    run("jdbc", c, &proxy);
    passed.push("MariaDB Connector/J");

    // mysql_async and sqlx: a write on one connection, read at once on another.
    let mut a = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("a");
    let mut b = mysql_async::Conn::new(opts(&proxy, "shop"))
        .await
        .expect("b");
    a.query_drop("CREATE TABLE drv_rust (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .expect("create");
    let url = format!(
        "mysql://app:apppass@{}:{}/shop",
        proxy.addr.ip(),
        proxy.addr.port()
    );
    let mut s = {
        use sqlx::Connection;
        sqlx::MySqlConnection::connect(&url).await.expect("sqlx")
    };
    for i in 0..20 {
        a.exec_drop("INSERT INTO drv_rust (v) VALUES (?)", (i,))
            .await
            .expect("insert");
        let n: Option<i64> = b
            .exec_first("SELECT COUNT(*) FROM drv_rust WHERE v = ?", (i,))
            .await
            .expect("mysql_async read");
        assert_eq!(
            n,
            Some(1),
            "mysql_async: the other connection missed write {i}"
        );
        let (m,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM drv_rust WHERE v = ?")
            .bind(i)
            .fetch_one(&mut s)
            .await
            .expect("sqlx read");
        assert_eq!(m, 1, "sqlx: the other connection missed write {i}");
    }
    passed.extend(["mysql_async", "sqlx"]);
    println!("drivers passed through Tandem: {}", passed.join(", "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_dump_with_routines_and_restore_through_tandem() {
    let p = pair();
    p.reset();
    for n in [&p.cn1, &p.cn2] {
        n.query("SET GLOBAL log_bin_trust_function_creators = 1");
    }
    let proxy = start(&config_text(&p, "")).await;
    let port = proxy.addr.port().to_string();
    let login = [
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "-u",
        "app",
        "-papppass",
        "--skip-ssl",
    ];
    let cli = |args: &[&str], input: Option<&str>| {
        use std::io::Write;
        let mut child = Command::new("mariadb")
            .args(login)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("mariadb");
        if let Some(text) = input {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("write");
        }
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "mariadb {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Created through Tandem, dumped at once through Tandem (on another connection).
    cli(
        &[
            "shop",
            "-e",
            "CREATE TABLE dumped (id INT PRIMARY KEY, v VARCHAR(20)); \
          INSERT INTO dumped VALUES (1, 'one'), (2, 'two'); \
          CREATE PROCEDURE dumped_proc() SELECT COUNT(*) FROM dumped; \
          CREATE FUNCTION dumped_fn(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;",
        ],
        None,
    );
    let dump = Command::new("mariadb-dump")
        .args(login)
        .args(["--routines", "--single-transaction", "shop", "dumped"])
        .output()
        .expect("mariadb-dump");
    assert!(
        dump.status.success(),
        "mariadb-dump: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let text = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(
        text.contains("INSERT INTO `dumped`"),
        "rows missing from the dump"
    );
    assert!(
        text.contains("dumped_proc") && text.contains("dumped_fn"),
        "routines missing from the dump"
    );
    // Restored into another schema through Tandem: every statement of it runs on cn1.
    cli(&["-e", "CREATE DATABASE IF NOT EXISTS tandem_test"], None);
    cli(&["tandem_test"], Some(&text));
    let restored = cli(
        &[
            "tandem_test",
            "-N",
            "-e",
            "SELECT COUNT(*), dumped_fn(21) FROM dumped",
        ],
        None,
    );
    assert_eq!(restored.trim(), "2\t42");
    p.wait_synced(Duration::from_secs(10));
    assert_eq!(p.cn2.value("SELECT COUNT(*) FROM tandem_test.dumped"), "2");
    assert!(p.cn1.replication_healthy() && p.cn2.replication_healthy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysbench_oltp_read_write_through_tandem() {
    let p = pair();
    p.reset();
    let proxy = start(&config_text(&p, "")).await;
    let port = proxy.addr.port().to_string();
    let common = [
        "--db-driver=mysql",
        "--mysql-host=127.0.0.1",
        "--mysql-user=app",
        "--mysql-password=apppass",
        "--mysql-db=sbtest",
        "--tables=2",
        "--table-size=1000",
    ];
    p.cn1.query("CREATE DATABASE IF NOT EXISTS sbtest");
    let sysbench = |phase: &str, extra: &[&str]| {
        let out = Command::new("sysbench")
            .arg("oltp_read_write")
            .arg(format!("--mysql-port={port}"))
            .args(common)
            .args(extra)
            .arg(phase)
            .output()
            .expect("run sysbench (scripts/install-deps installs it)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "sysbench {phase}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    sysbench("prepare", &[]);
    let report = sysbench("run", &["--threads=4", "--time=5", "--report-interval=0"]);
    // Deadlocks between sysbench's own threads are "ignored errors" directly too; any other
    // error fails the run (non-zero exit, checked above). No connection was lost.
    assert!(
        report.contains("reconnects:                          0"),
        "{report}"
    );
    assert!(report.contains("transactions:"), "{report}");
    sysbench("cleanup", &[]);
    p.wait_synced(Duration::from_secs(10));
    assert!(p.cn1.replication_healthy() && p.cn2.replication_healthy());
}
