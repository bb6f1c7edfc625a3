//! The `tandem` binary's `check` command on the shipped examples and on bad files.

use std::process::Command;

fn check(path: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["check", "--config"])
        .arg(path)
        .output()
        .expect("run tandem");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_accepts_the_examples_and_names_bad_fields() {
    let root = tandem_testkit::workspace_root();
    for example in ["examples/tandem.toml", "examples/prestashop-pair.toml"] {
        let (ok, text) = check(&root.join(example));
        assert!(ok, "{example}: {text}");
        assert!(
            text.contains("cn1") && text.contains("preferred writer"),
            "{text}"
        );
        assert!(
            !text.contains("apppass") && !text.contains("change-me"),
            "secrets printed: {text}"
        );
    }
    let good = std::fs::read_to_string(root.join("examples/tandem.toml")).expect("read");
    let dir = std::env::temp_dir().join(format!("tandem-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let cases = [
        (
            good.replace("weight = 1\n", "weight = 0\n"),
            "backends[1].weight",
        ),
        (good.replace("rise = 3", "rise = 3\nrize = 1"), "rize"),
        (good.replace("\"1s\"\n", "\"soon\"\n"), "bad duration"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        assert_ne!(text, &good, "case {i} did not change the file");
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, text).expect("write");
        let (ok, out) = check(&path);
        assert!(!ok, "case {i} accepted");
        assert!(out.contains(needle), "case {i}: `{needle}` not in: {out}");
    }
    let (ok, out) = check(&dir.join("missing.toml"));
    assert!(!ok && out.contains("cannot read"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_names_the_route_and_why() {
    let run = |sql: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["explain", sql, "--config", "/nonexistent/tandem.toml"])
            .output()
            .expect("run tandem");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let read = run("SELECT name FROM ps_product WHERE id_product = 42");
    assert!(read.contains("route      reader"), "{read}");
    assert!(
        read.contains("where id_product = ?") && !read.contains("42"),
        "{read}"
    );
    let locking = run("SELECT name FROM ps_product WHERE id_product = 42 FOR UPDATE");
    assert!(locking.contains("route      writer"), "{locking}");
    assert!(locking.contains("for_update"), "{locking}");
    let hidden = run("SELECT /*!50000 GET_LOCK('x', 1) */ 1");
    assert!(hidden.contains("route      writer"), "{hidden}");
}

#[test]
fn import_haproxy_carries_the_classic_config_over_and_refuses_a_broken_one() {
    let root = tandem_testkit::workspace_root();
    let run = |file: &str| {
        Command::new(env!("CARGO_BIN_EXE_tandem"))
            .arg("import-haproxy")
            .arg(root.join(file))
            .output()
            .expect("run tandem")
    };
    let out = run("tests/data/haproxy/classic.cfg");
    assert!(out.status.success(), "{out:?}");
    let toml = String::from_utf8_lossy(&out.stdout).into_owned();
    let notes = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(toml.contains("address = \"192.168.1.152:3306\"") && toml.contains("weight = 256"));
    assert!(notes.contains("all writes now go to `cn1`"), "{notes}");
    assert!(notes.contains("timeout client"), "{notes}");
    // With the placeholders filled in and a user added, `tandem check` accepts it.
    let dir = std::env::temp_dir().join(format!("tandem-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("imported.toml");
    let filled = format!(
        "{}\n[[users]]\nname = \"app\"\npassword = \"apppass\"\n",
        toml.replace("CHANGE-ME", "monpass")
    );
    std::fs::write(&path, filled).expect("write");
    let (ok, text) = check(&path);
    assert!(ok, "{text}");
    assert!(
        text.contains("inter 2s") && text.contains("fall 2"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let out = run("tests/data/haproxy/broken.cfg");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 13"), "{err}");
}
