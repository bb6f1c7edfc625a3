//! Test support for Tandem: the real local MariaDB master-master pair that integration tests run
//! against, plus small helpers such as [`eventually`].
//!
//! The pair is the one `scripts/cluster` manages, but on its own ports and run directory
//! (`TANDEM_TEST_CN1_PORT`, default 13307; `TANDEM_TEST_CN2_PORT`, default 13308;
//! `TANDEM_TEST_CLUSTER_DIR`, default `<workspace>/.run/test-cluster`) so a test run never touches
//! a demo pair. [`pair()`] starts it if needed and takes an exclusive file lock for as long as the
//! returned [`Pair`] lives, so tests that reset, kill or pause nodes never overlap — across threads
//! and across test processes alike.
//!
//! SQL helpers run the `mariadb` command-line client as root over each node's Unix socket: they
//! observe the servers directly, independently of the proxy under test.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The application user created on both nodes (all privileges on `shop`, `sbtest`, `tandem_test`).
pub const APP_USER: &str = "app";
/// Password of [`APP_USER`].
pub const APP_PASSWORD: &str = "apppass";
/// The monitor user (REPLICATION CLIENT, SLAVE MONITOR, PROCESS).
pub const MONITOR_USER: &str = "monitor";
/// Password of [`MONITOR_USER`].
pub const MONITOR_PASSWORD: &str = "monpass";

/// Which node of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeId {
    /// The first master (highest weight in the classic deployment).
    Cn1,
    /// The second master.
    Cn2,
}

impl NodeId {
    /// `"cn1"` or `"cn2"`.
    pub fn name(self) -> &'static str {
        match self {
            NodeId::Cn1 => "cn1",
            NodeId::Cn2 => "cn2",
        }
    }
}

/// One MariaDB node of the test pair.
#[derive(Debug, Clone)]
pub struct Node {
    /// Which node this is.
    pub id: NodeId,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl Node {
    /// `"cn1"` or `"cn2"`.
    pub fn name(&self) -> &'static str {
        self.id.name()
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A `mysql://` URL for the given user, password and database.
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!("mysql://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    /// The node's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join(self.name()).join("mysqld.sock")
    }

    /// The server process id, if the node is running.
    pub fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.join(self.name()).join("mysqld.pid")).ok()?;
        text.trim().parse().ok()
    }

    /// Runs SQL as root and returns the rows, tab-separated columns split, `NULL` as `"NULL"`.
    /// Panics with the client's error text if the statement fails.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        self.try_query(sql)
            .unwrap_or_else(|e| panic!("{} `{sql}` failed: {e}", self.name()))
    }

    /// Like [`Node::query`] but returns the client's error text instead of panicking.
    pub fn try_query(&self, sql: &str) -> Result<Vec<Vec<String>>, String> {
        let out = self.client(&["--skip-column-names"], sql)?;
        Ok(out
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect())
    }

    /// Runs SQL as root and returns the single value of a one-row, one-column result.
    pub fn value(&self, sql: &str) -> String {
        let rows = self.query(sql);
        match rows.first().and_then(|r| r.first()) {
            Some(v) => v.clone(),
            None => panic!("{} `{sql}` returned no value", self.name()),
        }
    }

    /// `SHOW SLAVE STATUS` as column → value (empty if replication is not configured).
    pub fn slave_status(&self) -> HashMap<String, String> {
        let out = self
            .client(&[], "SHOW SLAVE STATUS\\G")
            .unwrap_or_else(|e| panic!("{}: SHOW SLAVE STATUS failed: {e}", self.name()));
        out.lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    }

    /// True when both replication threads run and no SQL error is recorded.
    pub fn replication_healthy(&self) -> bool {
        let s = self.slave_status();
        s.get("Slave_IO_Running").map(String::as_str) == Some("Yes")
            && s.get("Slave_SQL_Running").map(String::as_str) == Some("Yes")
            && s.get("Last_SQL_Errno").map(String::as_str) == Some("0")
    }

    /// `@@gtid_current_pos`.
    pub fn gtid_current_pos(&self) -> String {
        self.value("SELECT @@gtid_current_pos")
    }

    /// Sends a signal to the server process (`"STOP"`, `"CONT"`, `"KILL"`, ...).
    pub fn signal(&self, sig: &str) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("{} is not running", self.name()));
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {pid} failed");
    }

    fn client(&self, extra: &[&str], sql: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .args(["--no-defaults", "--protocol=socket", "-uroot", "--batch"])
            .arg(format!("--socket={}", self.socket().display()))
            .args(extra)
            .arg("-e")
            .arg(sql)
            .output()
            .map_err(|e| format!("cannot run the mariadb client: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }
}

/// The test pair, held exclusively while this value lives.
#[derive(Debug)]
pub struct Pair {
    /// Node 1 (server_id 1).
    pub cn1: Node,
    /// Node 2 (server_id 2).
    pub cn2: Node,
    dir: PathBuf,
    _lock: File,
}

/// Takes the pair exclusively (blocking while another test holds it) and makes sure it is up and
/// replicating. Does not reset data; call [`Pair::reset`] for a clean slate.
pub fn pair() -> Pair {
    let root = workspace_root();
    let dir = std::env::var_os("TANDEM_TEST_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".run").join("test-cluster"));
    let port = |var: &str, default: u16| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    std::fs::create_dir_all(&dir).expect("create the test cluster directory");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.with_extension("lock"))
        .expect("open the test cluster lock file");
    lock.lock().expect("lock the test cluster");
    let pair = Pair {
        cn1: Node {
            id: NodeId::Cn1,
            port: port("TANDEM_TEST_CN1_PORT", 13307),
            dir: dir.clone(),
        },
        cn2: Node {
            id: NodeId::Cn2,
            port: port("TANDEM_TEST_CN2_PORT", 13308),
            dir: dir.clone(),
        },
        dir,
        _lock: lock,
    };
    pair.cluster(&["up"]);
    pair
}

impl Pair {
    /// The test CA and certificates (`scripts/cluster` makes them): `ca.pem`, `cn1-cert.pem`,
    /// `cn1-key.pem`, `cn2-*`, and `tandem-cert.pem` / `tandem-key.pem` for Tandem's client side
    /// (names localhost and 127.0.0.1).
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// The node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        match id {
            NodeId::Cn1 => &self.cn1,
            NodeId::Cn2 => &self.cn2,
        }
    }

    /// Restores a clean, replicating pair: both nodes running (stopped ones started, paused ones
    /// continued), user databases dropped, binlogs and GTID positions reset, `read_only` off,
    /// `shop` and `tandem_test` recreated on both.
    pub fn reset(&self) {
        self.cluster(&["reset"]);
    }

    /// Starts a stopped or killed node (and continues a paused one).
    pub fn start(&self, id: NodeId) {
        self.cluster(&["start", id.name()]);
    }

    /// SIGKILLs a node and waits for the process to end.
    pub fn kill(&self, id: NodeId) {
        self.cluster(&["kill", id.name()]);
    }

    /// Waits until replication is healthy both ways and each node has read its peer's whole
    /// binlog and applied everything it read.
    ///
    /// Binlog coordinates, not `gtid_current_pos` strings: both masters write GTID domain 0, and
    /// when one commits late (e.g. after SIGCONT) the peers can apply the last events of the
    /// domain in different orders, so equal data need not mean equal position strings.
    pub fn wait_synced(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !(self.caught_up(&self.cn2, &self.cn1) && self.caught_up(&self.cn1, &self.cn2)) {
            if Instant::now() >= deadline {
                let state = |n: &Node| {
                    let s = n.slave_status();
                    let keys = [
                        "Slave_IO_Running",
                        "Slave_SQL_Running",
                        "Last_IO_Errno",
                        "Last_IO_Error",
                        "Last_SQL_Errno",
                        "Last_SQL_Error",
                        "Master_Log_File",
                        "Read_Master_Log_Pos",
                        "Exec_Master_Log_Pos",
                        "Gtid_IO_Pos",
                    ];
                    let parts: Vec<String> = keys
                        .iter()
                        .map(|k| format!("{k}={}", s.get(*k).map_or("?", String::as_str)))
                        .collect();
                    format!(
                        "{}: {} master={:?}",
                        n.name(),
                        parts.join(" "),
                        n.query("SHOW MASTER STATUS")
                    )
                };
                panic!(
                    "timed out after {timeout:?} waiting for both nodes to catch up with each other\n{}\n{}",
                    state(&self.cn1),
                    state(&self.cn2)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `replica` runs both replication threads, has read all of `source`'s binlog and applied it.
    fn caught_up(&self, replica: &Node, source: &Node) -> bool {
        let master = source.query("SHOW MASTER STATUS");
        let Some(row) = master.first() else {
            return false;
        };
        let s = replica.slave_status();
        let get = |k: &str| s.get(k).map(String::as_str);
        replica.replication_healthy()
            && get("Master_Log_File") == row.first().map(String::as_str)
            && get("Read_Master_Log_Pos") == row.get(1).map(String::as_str)
            && get("Relay_Master_Log_File") == get("Master_Log_File")
            && get("Exec_Master_Log_Pos") == get("Read_Master_Log_Pos")
    }

    fn cluster(&self, args: &[&str]) {
        let script = workspace_root().join("scripts").join("cluster");
        let out = Command::new("bash")
            .arg(&script)
            .args(args)
            .env("TANDEM_CLUSTER_DIR", &self.dir)
            .env("TANDEM_CN1_PORT", self.cn1.port.to_string())
            .env("TANDEM_CN2_PORT", self.cn2.port.to_string())
            .output()
            .expect("run scripts/cluster");
        assert!(
            out.status.success(),
            "scripts/cluster {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// Polls `f` every 20 ms until it returns `Some`, and returns that value; panics naming `what`
/// if `timeout` passes first. Use instead of sleeps for timing-dependent assertions.
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
