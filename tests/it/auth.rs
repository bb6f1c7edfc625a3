//! caching_sha2_password on Tandem's client side, with MySQL 8-default drivers: the fast path
//! for a user whose clear password Tandem has, a full authentication over TLS for a user
//! configured by hash (then the fast path from what it learnt), the switch to
//! mysql_native_password for such a user in clear text, and wrong passwords refused on each path.

use std::process::Command;

use tandem_testkit::pair;

use crate::support::{config_text, start};

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
    let out = Command::new(python)
        .args(["-c", script, &port.to_string(), password, ca.unwrap_or("")])
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
    let http_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let extra = format!(
        "\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:{http_port}\"\nuser = \"admin\"\npassword = \"pw\"\n",
        d.join("tandem-cert.pem").display(),
        d.join("tandem-key.pem").display()
    );
    let logins = |what: &str| {
        status(http_port)["counters"]["logins"][what]
            .as_u64()
            .unwrap_or(0)
    };

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

    // `app` configured by its hash only.
    let hashed = clear.replace(
        "password = \"apppass\"",
        &format!("password_hash = \"{APP_HASH}\""),
    );
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
