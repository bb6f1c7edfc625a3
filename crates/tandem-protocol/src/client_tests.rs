//! Client login against a scripted server.

use bytes::BytesMut;

use super::*;
use crate::auth::native_password as native;
use crate::status::StatusFlags;

fn server(plugin: &str, caps: Capabilities) -> Handshake {
    Handshake {
        protocol_version: 10,
        server_version: "5.5.5-10.11.6-MariaDB".into(),
        connection_id: 9,
        auth_plugin_data: crate::auth::generate_salt().to_vec(),
        capabilities: caps,
        charset: 45,
        status: StatusFlags::AUTOCOMMIT,
        auth_plugin_name: plugin.into(),
    }
}

fn maria_caps() -> Capabilities {
    (Capabilities::default_client() - Capabilities::LONG_PASSWORD)
        | Capabilities::CONNECT_WITH_DB
        | Capabilities::MARIADB_CLIENT_PROGRESS
}

fn ok_payload() -> Vec<u8> {
    OkPacket::with_status(StatusFlags::AUTOCOMMIT)
        .to_bytes(Capabilities::default_client())
        .to_vec()
}

#[test]
fn native_password_first_try() {
    let hs = server(MYSQL_NATIVE_PASSWORD, maria_caps());
    let mut opts = LoginOptions::new("app", Credential::Password(b"secret"));
    opts.database = Some("shop");
    opts.capabilities |= Capabilities::MARIADB_CLIENT_PROGRESS;
    opts.connect_attrs = vec![("_client_name".into(), "tandem".into())];
    let (mut login, resp) = ClientLogin::start(&hs, opts).unwrap();
    // The response survives the wire and verifies against the stored hash.
    let mut wire = BytesMut::new();
    resp.encode(&mut wire).unwrap();
    let parsed = HandshakeResponse::parse(&wire).unwrap();
    assert_eq!(parsed.username, "app");
    assert_eq!(parsed.database.as_deref(), Some("shop"));
    assert_eq!(
        parsed.auth_plugin_name.as_deref(),
        Some(MYSQL_NATIVE_PASSWORD)
    );
    assert!(!parsed.capabilities.contains(Capabilities::LONG_PASSWORD));
    assert!(parsed
        .capabilities
        .contains(Capabilities::MARIADB_CLIENT_PROGRESS));
    let recovered = native::verify(
        &native::hash_password(b"secret"),
        hs.scramble(),
        &parsed.auth_response,
    )
    .unwrap();
    assert_eq!(recovered, native::sha1_password(b"secret"));
    let step = login.handle(&ok_payload()).unwrap();
    assert!(
        matches!(step, LoginStep::Done(ref ok) if ok.status == StatusFlags::AUTOCOMMIT),
        "{step:?}"
    );
    assert!(matches!(
        login.handle(&ok_payload()),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
}

#[test]
fn native_sha1_credential_and_auth_switch() {
    let hs = server(CACHING_SHA2_PASSWORD, Capabilities::default_client());
    let sha1 = native::sha1_password(b"pw");
    let (mut login, resp) =
        ClientLogin::start(&hs, LoginOptions::new("u", Credential::NativeSha1(sha1))).unwrap();
    // Only a native scramble can be made from SHA1(pw).
    assert_eq!(
        resp.auth_plugin_name.as_deref(),
        Some(MYSQL_NATIVE_PASSWORD)
    );
    assert!(login.capabilities().contains(Capabilities::LONG_PASSWORD));
    let new_salt = crate::auth::generate_salt();
    let mut data = new_salt.to_vec();
    data.push(0);
    let mut switch = BytesMut::new();
    AuthSwitchRequest {
        plugin: MYSQL_NATIVE_PASSWORD.into(),
        data,
    }
    .encode(&mut switch);
    let LoginStep::Send(reply) = login.handle(&switch).unwrap() else {
        panic!("expected a reply");
    };
    assert!(native::verify(&native::hash_password(b"pw"), &new_salt, &reply).is_some());
    // Switching to a plugin a SHA1 cannot serve fails cleanly.
    let mut sw2 = BytesMut::new();
    AuthSwitchRequest {
        plugin: "client_ed25519".into(),
        data: vec![1; 32],
    }
    .encode(&mut sw2);
    assert!(matches!(
        login.handle(&sw2),
        Err(ProtocolError::Unsupported(_))
    ));
}

#[test]
fn caching_sha2_fast_and_full_auth() {
    let hs = server(CACHING_SHA2_PASSWORD, Capabilities::default_client());
    let (mut login, resp) =
        ClientLogin::start(&hs, LoginOptions::new("u", Credential::Password(b"pw"))).unwrap();
    assert_eq!(
        resp.auth_plugin_name.as_deref(),
        Some(CACHING_SHA2_PASSWORD)
    );
    assert!(caching_sha2::verify(
        &caching_sha2::hash_password(b"pw"),
        hs.scramble(),
        &resp.auth_response
    )
    .is_some());
    assert_eq!(login.handle(&[0x01, 0x03]).unwrap(), LoginStep::Wait);
    assert!(matches!(
        login.handle(&[0x01, 0x04]),
        Err(ProtocolError::Unsupported(_))
    ));
    assert!(matches!(
        login.handle(&[0x01, 0x09]),
        Err(ProtocolError::Malformed(_))
    ));

    let mut opts = LoginOptions::new("u", Credential::Password(b"pw"));
    opts.secure_transport = true;
    let (mut tls, _) = ClientLogin::start(&hs, opts).unwrap();
    assert_eq!(
        tls.handle(&[0x01, 0x04]).unwrap(),
        LoginStep::Send(b"pw\0".to_vec())
    );
    assert!(matches!(
        tls.handle(&ok_payload()).unwrap(),
        LoginStep::Done(_)
    ));
}

#[test]
fn caching_sha2_full_auth_by_rsa_asks_for_the_key_then_encrypts() {
    let hs = server(CACHING_SHA2_PASSWORD, Capabilities::default_client());
    let mut opts = LoginOptions::new("u", Credential::Password(b"pw"));
    opts.request_public_key = true;
    let (mut login, _) = ClientLogin::start(&hs, opts).unwrap();
    assert_eq!(
        login.handle(&[0x01, 0x04]).unwrap(),
        LoginStep::Send(vec![caching_sha2::REQUEST_PUBLIC_KEY])
    );
    let pem = b"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n";
    let mut more = vec![0x01];
    more.extend_from_slice(pem);
    let LoginStep::Encrypt {
        public_key,
        plaintext,
    } = login.handle(&more).unwrap()
    else {
        panic!("no encryption step");
    };
    assert_eq!(public_key, pem.to_vec());
    let salt = hs.scramble();
    let clear: Vec<u8> = plaintext
        .expose()
        .iter()
        .zip(salt.iter().cycle())
        .map(|(a, b)| a ^ b)
        .collect();
    assert_eq!(clear, b"pw\0");
    assert_eq!(format!("{plaintext:?}"), "Scrambled(<redacted>)");
    assert!(matches!(
        login.handle(&ok_payload()).unwrap(),
        LoginStep::Done(_)
    ));
}

#[test]
fn empty_password_sends_empty_response() {
    let hs = server(MYSQL_NATIVE_PASSWORD, maria_caps());
    let (_, resp) =
        ClientLogin::start(&hs, LoginOptions::new("root", Credential::Password(b""))).unwrap();
    assert!(resp.auth_response.is_empty());
}

#[test]
fn errors() {
    let hs = server(MYSQL_NATIVE_PASSWORD, maria_caps());
    let (mut login, _) =
        ClientLogin::start(&hs, LoginOptions::new("u", Credential::Password(b"x"))).unwrap();
    let err = ErrPacket::new(1045, "28000", "Access denied").to_bytes();
    assert!(matches!(
        login.handle(&err),
        Err(ProtocolError::Server { code: 1045, .. })
    ));
    assert!(matches!(
        login.handle(&[0x01, 0x03]),
        Err(ProtocolError::Unsupported(_))
    ));
    assert!(matches!(
        login.handle(&[0x42]),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
    assert!(matches!(
        login.handle(&[]),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
    let old = server(MYSQL_NATIVE_PASSWORD, Capabilities::PROTOCOL_41);
    assert!(matches!(
        ClientLogin::start(&old, LoginOptions::new("u", Credential::Password(b"x"))),
        Err(ProtocolError::Unsupported(_))
    ));
    assert_eq!(
        format!("{:?}", Credential::Password(b"secret")),
        "Password(<redacted>)"
    );
}
