//! caching_sha2_password on Tandem's client side, with MySQL 8-default drivers: the fast path
//! for a user whose clear password Tandem has, a full authentication over TLS for a user
//! configured by hash (then the fast path from what it learnt), the switch to
//! mysql_native_password for such a user in clear text, and wrong passwords refused on each path.

use std::process::Command;

use mysql_async::prelude::Queryable;

use tandem_testkit::pair;

use crate::support::{config_text, free_port, start};

/// `app`'s mysql_native_password hash (`SELECT PASSWORD('apppass')`).
const APP_HASH: &str = "*90BE3C2682EBF3427EDA20315D6EAB9E31FD1023";

fn status(port: u16) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "-u", "admin:pw"])
        .arg(format!("http://127.0.0.1:{port}/status"))
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

/// How many logins Tandem's `/status` on `http_port` counts as checked by `how`.
fn logins(http_port: u16, how: &str) -> u64 {
    status(http_port)["counters"]["logins"][how]
        .as_u64()
        .unwrap_or(0)
}

/// Logs in with MySQL Connector/Python (pure) forcing caching_sha2_password; `tls`: verify
/// Tandem's certificate with the CA. Returns the driver's error text, if any.
fn login(python: &std::path::Path, port: u16, password: &str, ca: Option<&str>) -> Option<String> {
    let script = r#"
import sys, mysql.connector
port, password, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kw = dict(host="127.0.0.1", port=port, user="app", password=password, database="shop",
          auth_plugin="caching_sha2_password", use_pure=True)
if ca:
    kw.update(ssl_ca=ca, ssl_verify_cert=True)
else:
    kw.update(ssl_disabled=True)
try:
    c = mysql.connector.connect(**kw)
    cur = c.cursor(); cur.execute("SELECT 40 + 2"); assert cur.fetchone()[0] == 42
    c.close()
except mysql.connector.Error as e:
    print(e.errno, e.msg)
"#;
    run_python(
        python,
        script,
        &[&port.to_string(), password, ca.unwrap_or("")],
    )
}

/// Runs a Python `script` with `args`; what it printed when it printed anything or failed.
fn run_python(python: &std::path::Path, script: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (!text.trim().is_empty() || !out.status.success()).then_some(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_sha2_password_fast_full_and_fallback() {
    let p = pair();
    let python = tandem_testkit::workspace_root().join(".run/venv/bin/python");
    let d = p.tls_dir();
    let ca = d.join("ca.pem").display().to_string();
    let http_port = free_port();
    let extra = format!(
        "\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:{http_port}\"\nuser = \"admin\"\npassword = \"pw\"\n",
        d.join("tandem-cert.pem").display(),
        d.join("tandem-key.pem").display()
    );
    let logins = |what: &str| crate::auth::logins(http_port, what);

    // `app` with its clear password in the configuration: the fast path, in clear text.
    let clear = format!(
        "{}{extra}",
        config_text(&p, "default_auth = \"caching_sha2_password\"")
    );
    let proxy = start(&clear).await;
    let port = proxy.addr.port();
    let fast0 = logins("sha2_fast");
    assert_eq!(login(&python, port, "apppass", None), None);
    assert_eq!(logins("sha2_fast"), fast0 + 1, "{}", status(http_port));
    let err = login(&python, port, "wrong", None).expect("a wrong password is refused");
    assert!(err.contains("1045"), "{err}");
    drop(proxy);

    // `app` configured by its hash only (and a new HTTP port: the last Tandem may not have
    // let go of its own yet).
    let http_port2 = free_port();
    let logins = |what: &str| crate::auth::logins(http_port2, what);
    let hashed = clear
        .replace(
            "password = \"apppass\"",
            &format!("password_hash = \"{APP_HASH}\""),
        )
        .replace(&format!(":{http_port}\""), &format!(":{http_port2}\""));
    let proxy = start(&hashed).await;
    let port = proxy.addr.port();
    // In clear text Tandem cannot run the full authentication (no RSA exchange): it switches
    // the client to mysql_native_password.
    let native0 = logins("native");
    assert_eq!(login(&python, port, "apppass", None), None);
    assert_eq!(logins("native"), native0 + 1);
    // Over TLS: the full authentication (the password, encrypted), checked against the hash.
    let full0 = logins("sha2_full");
    assert_eq!(login(&python, port, "apppass", Some(&ca)), None);
    assert_eq!(logins("sha2_full"), full0 + 1);
    let err = login(&python, port, "wrong", Some(&ca)).expect("refused over TLS too");
    assert!(err.contains("1045"), "{err}");
    // Learnt: the next login, even in clear text, takes the fast path.
    let fast0 = logins("sha2_fast");
    assert_eq!(login(&python, port, "apppass", None), None);
    assert_eq!(logins("sha2_fast"), fast0 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_ed25519_account_works_end_to_end() {
    let p = pair();
    for node in [&p.cn1, &p.cn2] {
        let have = node
            .query("SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'");
        if have[0][0] == "0" {
            node.try_query("INSTALL SONAME 'auth_ed25519'")
                .expect("the ed25519 plugin (Debian's mariadb-server ships it)");
        }
    }
    p.cn1.query(
        "CREATE USER IF NOT EXISTS 'edu'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('edpass'); \
         GRANT ALL ON shop.* TO 'edu'@'%'",
    );
    p.wait_synced(std::time::Duration::from_secs(30));
    let config = format!(
        "{}\n[[users]]\nname = \"edu\"\npassword = \"edpass\"\n",
        config_text(&p, "")
    );
    let proxy = start(&config).await;
    // The client logs in to Tandem as usual; Tandem signs each backend's ed25519 nonce.
    for _ in 0..4 {
        let sql = "SELECT CURRENT_USER(); SELECT @@server_id";
        let (ok, text) = crate::support::mariadb(&proxy, "edu", "edpass", &["-N"], sql);
        assert!(ok && text.contains("edu@%"), "{text}");
    }
    // A write as that user, over the pooled ed25519 connections.
    let sql =
        "CREATE TABLE IF NOT EXISTS ed_t (id INT PRIMARY KEY); REPLACE INTO ed_t VALUES (1); \
               DROP TABLE ed_t";
    let (ok, text) = crate::support::mariadb(&proxy, "edu", "edpass", &[], sql);
    assert!(ok, "{text}");
    // Both nodes saw the user log in over ed25519 (its only method).
    let plugin = p
        .cn2
        .query("SELECT plugin FROM mysql.user WHERE User = 'edu'");
    assert_eq!(plugin[0][0], "ed25519");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_accounts_log_in_and_follow_password_changes() {
    let p = pair();
    p.cn1.query(
        "GRANT SELECT ON mysql.global_priv TO 'monitor'@'%'; \
         CREATE USER IF NOT EXISTS 'srvu'@'%' IDENTIFIED BY 'srvpass'; \
         ALTER USER 'srvu'@'%' IDENTIFIED BY 'srvpass'; \
         GRANT ALL ON shop.* TO 'srvu'@'%'",
    );
    p.wait_synced(std::time::Duration::from_secs(30));
    let config = config_text(&p, "").replace(
        "max_lag = \"10s\"",
        "max_lag = \"10s\"\nload_users = true\nusers_refresh = \"300ms\"",
    );
    assert!(config.contains("load_users"), "{config}");
    let proxy = start(&config).await;
    let login =
        |pw: &str| crate::support::mariadb(&proxy, "srvu", pw, &["-N"], "SELECT CURRENT_USER()");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (ok, text) = login("srvpass");
        if ok {
            assert!(text.contains("srvu@%"), "{text}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never accepted: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (ok, text) = login("wrong");
    assert!(!ok && text.contains("1045"), "{text}");
    // A new password on the servers: the old one stops working after a refresh.
    p.cn1.query("ALTER USER 'srvu'@'%' IDENTIFIED BY 'newpass'");
    p.wait_synced(std::time::Duration::from_secs(30));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (ok, _) = login("newpass");
        if ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new password never worked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (ok, text) = login("srvpass");
    assert!(!ok && text.contains("1045"), "{text}");
    // Configured users keep working alongside.
    let (ok, text) = crate::support::mariadb(&proxy, "app", "apppass", &[], "SELECT 1");
    assert!(ok, "{text}");
    p.cn1.query("DROP USER 'srvu'@'%'");
    p.wait_synced(std::time::Duration::from_secs(30));
}

/// `rsau`'s mysql_native_password hash (`SELECT PASSWORD('rsapass')`): a user no other test
/// (nor `wait_ready`) logs in as, so Tandem has not learnt its caching_sha2 entry.
const RSA_HASH: &str = "*7D87A2581CEF3E9DF001908AF8F96E9E56FA0B81";

/// Logs in as `rsau` with PyMySQL in clear text (caching_sha2_password); PyMySQL asks for the
/// server's RSA public key when the full authentication comes. Returns the driver's error, if
/// any.
fn pymysql_login(python: &std::path::Path, port: u16, password: &str) -> Option<String> {
    let script = r#"
import sys, pymysql
try:
    c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="rsau",
                        password=sys.argv[2], database="shop")
    cur = c.cursor(); cur.execute("SELECT CONCAT(CURRENT_USER(), 40 + 2)")
    assert cur.fetchone()[0] == "rsau@%42"
    c.close()
except pymysql.err.MySQLError as e:
    print(e.args[0], e.args[1])
"#;
    run_python(python, script, &[&port.to_string(), password])
}

/// A Tandem with `rsau` configured by hash only and `rsa_key_exchange` on, with its own HTTP
/// port (a Tandem just stopped may not have let go of its port yet), which it returns.
async fn rsa_tandem(p: &tandem_testkit::Pair) -> (crate::support::Proxy, u16) {
    let http_port = free_port();
    let config = format!(
        "{}\n[[users]]\nname = \"rsau\"\npassword_hash = \"{RSA_HASH}\"\n\n\
         [http]\nlisten = \"127.0.0.1:{http_port}\"\nuser = \"admin\"\npassword = \"pw\"\n",
        config_text(
            p,
            "default_auth = \"caching_sha2_password\"\nrsa_key_exchange = true"
        )
    );
    (start(&config).await, http_port)
}

/// caching_sha2_password's RSA key exchange in clear text, both ways: PyMySQL and mysql_async
/// (independent implementations) log in to a Tandem that has only `rsau`'s hash and
/// `rsa_key_exchange` on; Tandem's own backend client does the same with
/// `get_server_public_key`, and without it is refused with a clear reason. A full
/// authentication teaches Tandem the user's fast-path entry, so each client gets a fresh Tandem;
/// the login counters prove which path each took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_sha2_full_authentication_by_rsa_key_exchange() {
    let p = pair();
    p.cn1.query(
        "CREATE USER IF NOT EXISTS 'rsau'@'%' IDENTIFIED BY 'rsapass'; \
         GRANT SELECT ON shop.* TO 'rsau'@'%'",
    );
    p.wait_synced(std::time::Duration::from_secs(30));
    let python = tandem_testkit::workspace_root().join(".run/venv/bin/python");

    let (proxy, http) = rsa_tandem(&p).await;
    let port = proxy.addr.port();
    let full0 = logins(http, "sha2_full");
    assert_eq!(pymysql_login(&python, port, "rsapass"), None);
    assert_eq!(logins(http, "sha2_full"), full0 + 1, "{}", status(http));
    let err = pymysql_login(&python, port, "wrong").expect("a wrong password is refused");
    assert!(err.contains("1045"), "{err}");
    drop(proxy);

    let (proxy, http) = rsa_tandem(&p).await;
    let full0 = logins(http, "sha2_full");
    let opts = mysql_async::OptsBuilder::from_opts(crate::support::opts(&proxy, "shop"))
        .user(Some("rsau"))
        .pass(Some("rsapass"));
    let mut c = mysql_async::Conn::new(opts)
        .await
        .expect("mysql_async by RSA");
    let who: Option<String> = c.query_first("SELECT CURRENT_USER()").await.expect("query");
    assert_eq!(who.as_deref(), Some("rsau@%"));
    let _ = c.disconnect().await;
    assert_eq!(logins(http, "sha2_full"), full0 + 1, "{}", status(http));
    drop(proxy);

    // Tandem's own backend client against Tandem's server side.
    let (proxy, http) = rsa_tandem(&p).await;
    let addr = proxy.addr.to_string();
    let refused = backend_login(&addr, false)
        .await
        .expect_err("needs TLS or the public key");
    assert!(refused.contains("get_server_public_key"), "{refused}");
    let full0 = logins(http, "sha2_full");
    backend_login(&addr, true).await.expect("RSA key exchange");
    assert_eq!(logins(http, "sha2_full"), full0 + 1, "{}", status(http));
    drop(proxy);
    p.cn1.query("DROP USER 'rsau'@'%'");
    p.wait_synced(std::time::Duration::from_secs(30));
}

/// `tandem_backend::Conn` logging in as `rsau` in clear text.
async fn backend_login(addr: &str, request_public_key: bool) -> Result<(), String> {
    let mut tls = tandem_backend::ClientTls::disabled();
    tls.request_public_key = request_public_key;
    let login = tandem_backend::Login {
        user: "rsau",
        credential: tandem_protocol::client::Credential::Password(b"rsapass"),
        database: Some("shop"),
        capabilities: tandem_protocol::Capabilities::default_client(),
        charset: 45,
        tls: Some(&tls),
    };
    tandem_backend::Conn::connect(addr, login, std::time::Duration::from_secs(5))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
