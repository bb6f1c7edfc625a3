//! TLS on both sides, on the real pair (whose servers run with the test CA's certificates):
//! real clients that verify Tandem's certificate, `require`, per-user `require_tls`, backends
//! reached over TLS in each verifying mode, and the admin HTTP interface over HTTPS.

use std::process::Command;
use std::time::Duration;

use tandem_backend::{ClientTls, Conn, Login, TlsMode};
use tandem_testkit::{pair, Pair};

use crate::support::{config_text, start, Proxy};

fn tls_section(p: &Pair, require: bool) -> String {
    let d = p.tls_dir();
    format!(
        "\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nrequire = {require}\n",
        d.join("tandem-cert.pem").display(),
        d.join("tandem-key.pem").display()
    )
}

/// The `mariadb` CLI through Tandem as `app`.
fn cli(proxy: &Proxy, tls: &[&str], sql: &str) -> (bool, String) {
    crate::support::mariadb(proxy, "app", "apppass", tls, sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_verify_tandems_certificate_and_require_is_enforced() {
    let p = pair();
    let ca = p.tls_dir().join("ca.pem").display().to_string();
    let proxy = start(&format!(
        "{}{}",
        config_text(&p, ""),
        tls_section(&p, false)
    ))
    .await;

    // The mariadb CLI, verifying the certificate against the CA.
    let verify = ["--ssl", "--ssl-verify-server-cert"];
    let mut args: Vec<&str> = verify.to_vec();
    let ca_arg = format!("--ssl-ca={ca}");
    args.push(&ca_arg);
    let (ok, text) = cli(&proxy, &args, "\\s");
    assert!(ok, "{text}");
    assert!(text.contains("Cipher in use is TLS"), "no TLS in: {text}");
    let (ok, text) = cli(
        &proxy,
        &args,
        "SELECT COUNT(*) FROM information_schema.TABLES",
    );
    assert!(ok, "{text}");
    // Clear text still works on a listener that does not require TLS.
    let (ok, text) = cli(&proxy, &["--skip-ssl"], "SELECT 1");
    assert!(ok, "{text}");

    // Python drivers with ssl_ca, PHP PDO with MYSQL_ATTR_SSL_CA: each checks it is on TLS.
    let root = tandem_testkit::workspace_root();
    let python = root.join(".run/venv/bin/python");
    let port = proxy.addr.port().to_string();
    let script = r#"
import sys, ssl
port, ca = int(sys.argv[1]), sys.argv[2]
import pymysql
c = pymysql.connect(host="127.0.0.1", port=port, user="app", password="apppass",
                    database="shop", ssl={"ca": ca, "check_hostname": True})
cur = c.cursor(); cur.execute("SELECT 41 + 1"); assert cur.fetchone()[0] == 42
assert isinstance(c._sock, ssl.SSLSocket), type(c._sock)
import mysql.connector
for pure in (True, False):
    m = mysql.connector.connect(host="127.0.0.1", port=port, user="app", password="apppass",
                                database="shop", ssl_ca=ca, ssl_verify_cert=True,
                                ssl_verify_identity=True, use_pure=pure)
    cur = m.cursor(); cur.execute("SELECT 7"); assert cur.fetchone()[0] == 7
    # The pure driver says so; the C extension's is_secure stays False even on TLS, but its
    # client library reports the cipher.
    secure = m.is_secure if pure else m._cmysql.get_ssl_cipher()
    assert secure, ("not on TLS", pure)
    m.close()
print("python ok")
"#;
    let out = Command::new(&python)
        .args(["-c", script, &port, &ca])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let php = r#"
$port = (int)$argv[1]; $ca = $argv[2];
$pdo = new PDO("mysql:host=127.0.0.1;port=$port;dbname=shop", "app", "apppass", [
    PDO::MYSQL_ATTR_SSL_CA => $ca, PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => true,
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$st = $pdo->query("SELECT 6 * 7"); if ((int)$st->fetchColumn() !== 42) { exit(1); }
$m = mysqli_init(); $m->ssl_set(null, null, $ca, null, null);
$m->real_connect("127.0.0.1", "app", "apppass", "shop", $port, null, MYSQLI_CLIENT_SSL);
$r = $m->query("SELECT 1"); if ((int)$r->fetch_row()[0] !== 1) { exit(1); }
echo "php ok\n";
"#;
    let out = Command::new("php")
        .args(["-r", php, &port, &ca])
        .output()
        .expect("php");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(proxy);

    // require = true: a clear-text client gets 3159 and the reason.
    let strict = start_tls_only(&format!("{}{}", config_text(&p, ""), tls_section(&p, true))).await;
    let (ok, text) = cli(&strict, &["--skip-ssl"], "SELECT 1");
    assert!(!ok && text.contains("3159"), "{text}");
    assert!(text.contains("insecure transport"), "{text}");
    let (ok, text) = cli(&strict, &args, "SELECT 1");
    assert!(ok, "{text}");
}

/// Starts Tandem when clear-text logins are refused (so `start`'s readiness probe cannot log
/// in): waits until the listener answers a TLS client.
async fn start_tls_only(config: &str) -> Proxy {
    let proxy = crate::support::start_unchecked(config).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (ok, _) = cli(&proxy, &["--ssl"], "DO 1");
        if ok {
            return proxy;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "tandem never came up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_that_requires_tls_cannot_log_in_in_clear_text() {
    let p = pair();
    let config = format!("{}{}", config_text(&p, ""), tls_section(&p, false))
        .replace("name = \"hashed\"", "name = \"hashed\"\nrequire_tls = true");
    let proxy = start(&config).await;
    let login = |tls: &[&str]| {
        let sql = "SELECT CURRENT_USER()";
        crate::support::mariadb(&proxy, "hashed", "password", tls, sql)
    };
    let (ok, text) = login(&["--skip-ssl"]);
    assert!(
        !ok && text.contains("1045") && text.contains("must use TLS"),
        "{text}"
    );
    let (ok, text) = login(&["--ssl"]);
    assert!(ok || !text.contains("must use TLS"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_over_tls_and_verify_identity_refuses_a_wrong_name() {
    let p = pair();
    let ca = p.tls_dir().join("ca.pem");
    let login = Login::monitor(
        tandem_testkit::MONITOR_USER,
        tandem_testkit::MONITOR_PASSWORD,
    );
    let timeout = Duration::from_secs(5);
    let connect = |mode, name: &'static str| {
        let tls = ClientTls::new(mode, Some(&ca), None, name).expect("tls settings");
        let addr = p.cn1.addr();
        async move { Conn::connect(&addr, login.with_tls(Some(&tls)), timeout).await }
    };
    let ok = connect(TlsMode::VerifyIdentity, "cn1")
        .await
        .expect("cn1's own name");
    assert!(ok.is_tls());
    let ip = connect(TlsMode::VerifyIdentity, "127.0.0.1")
        .await
        .expect("its IP SAN");
    assert!(ip.is_tls());
    let wrong = connect(TlsMode::VerifyIdentity, "cn2").await;
    let err = wrong
        .expect_err("cn1's certificate is not for cn2")
        .to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let any_name = connect(TlsMode::VerifyCa, "cn2")
        .await
        .expect("verify-ca ignores the name");
    assert!(any_name.is_tls());
    let required = connect(TlsMode::Required, "whatever")
        .await
        .expect("required");
    assert!(required.is_tls());

    // Through Tandem: every backend session (pools, monitor) on TLS; the server says so.
    let extra = format!(
        "tls = {{ mode = \"verify-identity\", ca = \"{}\" }}\n",
        ca.display()
    );
    let config = config_text(&p, "")
        .replace("weight = 256\n", &format!("weight = 256\n{extra}"))
        .replace("weight = 1\n", &format!("weight = 1\n{extra}"));
    let proxy = start(&config).await;
    let mut c = mysql_async::Conn::new(crate::support::opts(&proxy, "shop"))
        .await
        .expect("connect");
    use mysql_async::prelude::*;
    for _ in 0..6 {
        let cipher: Option<(String, String)> = c
            .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            .await
            .expect("status");
        let (_, value) = cipher.expect("a row");
        assert!(!value.is_empty(), "a backend session without TLS");
    }
    c.query_drop("CREATE TABLE IF NOT EXISTS tls_t (id INT PRIMARY KEY)")
        .await
        .expect("a write over TLS");
    c.query_drop("DROP TABLE tls_t").await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_http_interface_serves_https() {
    let p = pair();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let http = format!(
        "\n[http]\nlisten = \"127.0.0.1:{port}\"\nuser = \"admin\"\npassword = \"pw\"\ntls = true\n"
    );
    let _proxy = start(&format!(
        "{}{}{http}",
        config_text(&p, ""),
        tls_section(&p, false)
    ))
    .await;
    let ca = p.tls_dir().join("ca.pem").display().to_string();
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "--cacert", &ca, "-u", "admin:pw"])
        .arg(format!("https://127.0.0.1:{port}/status"))
        .output()
        .expect("curl");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"writer\": \"cn1\""), "{body} {out:?}");
    let plain = Command::new("curl")
        .args(["-s", "-m", "10", "-u", "admin:pw"])
        .arg(format!("http://127.0.0.1:{port}/status"))
        .output()
        .expect("curl");
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("writer"));
}
