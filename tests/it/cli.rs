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
