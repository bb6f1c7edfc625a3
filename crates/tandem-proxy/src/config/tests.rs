use super::*;

const GOOD: &str = r#"
[proxy]
listen = "127.0.0.1:3306"
max_connections = 4096

[health]
inter = "2s"
downinter = "5s"
rise = 3
fall = 2
timeout = "1s"

[monitor]
user = "monitor"
password = "monpass"

[[backends]]
name = "cn1"
address = "127.0.0.1:3307"
weight = 256

[[backends]]
name = "cn2"
address = "127.0.0.1:3308"
weight = 1

[[users]]
name = "app"
password = "apppass"
"#;

#[test]
fn parses_the_documented_shape() {
    let c = Config::parse(GOOD).expect("valid");
    assert_eq!(c.health.inter, Duration::from_secs(2));
    assert_eq!(c.backends[0].weight, 256);
    assert_eq!(c.routing.read_your_writes, ReadYourWrites::Global);
    assert_eq!(c.proxy.write_hold, Duration::from_secs(5));
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    let text = GOOD.replace("rise = 3", "rise = 3\nrisee = 4");
    let err = Config::parse(&text).unwrap_err();
    assert!(matches!(err, ConfigError::Parse(_)));
    assert!(err.to_string().contains("risee"), "{err}");
}

#[test]
fn bad_values_name_the_field() {
    let cases = [
        (
            GOOD.replace("weight = 1\n", "weight = 0\n"),
            "backends[1].weight",
        ),
        (
            GOOD.replace("name = \"cn2\"", "name = \"cn1\""),
            "backends[1].name",
        ),
        (
            GOOD.replace("\"127.0.0.1:3308\"", "\"nohost\""),
            "backends[1].address",
        ),
        (GOOD.replace("fall = 2", "fall = 0"), "health.fall"),
        (
            GOOD.replace("password = \"apppass\"", "password_hash = \"*XYZ\""),
            "users[0].password_hash",
        ),
        (GOOD.replace("password = \"apppass\"", ""), "users[0]"),
    ];
    for (text, field) in cases {
        match Config::parse(&text) {
            Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected Invalid, got {other:?}"),
        }
    }
}

#[test]
fn bad_duration_is_a_parse_error() {
    let err = Config::parse(&GOOD.replace("\"2s\"", "\"two seconds\"")).unwrap_err();
    assert!(err.to_string().contains("bad duration"), "{err}");
}

#[test]
fn debug_output_hides_secrets() {
    let c = Config::parse(GOOD).expect("valid");
    let text = format!("{c:?}");
    assert!(
        !text.contains("apppass") && !text.contains("monpass"),
        "{text}"
    );
}

#[test]
fn read_your_writes_can_be_off() {
    let text = format!("{GOOD}\n[routing]\nread_your_writes = \"off\"\n");
    assert_eq!(
        Config::parse(&text)
            .expect("valid")
            .routing
            .read_your_writes,
        ReadYourWrites::Off
    );
    let text = format!("{GOOD}\n[routing]\nread_your_writes = \"gtid\"\n");
    assert_eq!(
        Config::parse(&text)
            .expect("valid")
            .routing
            .read_your_writes,
        ReadYourWrites::Session
    );
}

#[test]
fn writer_modes_are_typed_and_default_from_the_monitor() {
    let c = Config::parse(GOOD).expect("valid");
    let election = c.writer.election();
    assert_eq!(election, tandem_monitor::ElectionSettings::default());
    assert_eq!(c.health, tandem_monitor::HealthSettings::default());
    let text = format!("{GOOD}\n[writer]\nfailover = \"off\"\nfence = \"read_only\"\n");
    let c = Config::parse(&text).expect("valid");
    assert_eq!(c.writer.failover, tandem_monitor::Failover::Off);
    assert!(c.writer.election().read_only_fence);
    let err = Config::parse(&format!("{GOOD}\n[writer]\nfailover = \"fast\"\n")).unwrap_err();
    assert!(
        err.to_string().contains("fast") && err.to_string().contains("safe"),
        "{err}"
    );
}
