//! The connections production uses: a SCRAM-SHA-256 user over TLS with a private CA. mongoeco's
//! wire server takes SCRAM users; `scripts/test` starts a second one that requires them
//! (`TEST_AUTH_DB`, `host:port`) and this suite puts a TLS-terminating proxy in front of it, with a
//! test CA and a server certificate made here. Skipped where no such server runs (nx-27017, or a
//! `MONGO_URL` given by hand), by name.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::helpers::*;

/// The user `scripts/test` gives the authenticating server (`USER:PASSWORD` to mongoeco-server.py).
pub const AUTH_USER: &str = "livechat-rooms";
pub const AUTH_PASSWORD: &str = "s3cret:Pass@word";

/// `host:port` of the test server that requires authentication, where one runs.
fn auth_server(test: &str) -> Option<String> {
    let server = std::env::var("TEST_AUTH_DB").ok().filter(|s| !s.is_empty());
    if server.is_none() {
        eprintln!("{test}: skipped (no authenticating test server: TEST_AUTH_DB, started by scripts/test with mongoeco)");
    }
    server
}

/// A test CA, written as PEM to a file of its own.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    file: PathBuf,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("livechat-rooms test CA {name}"),
        );
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let file = std::env::temp_dir().join(format!(
            "livechat-rooms-ca-{name}-{}-{}.pem",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::write(&file, issuer.pem()).unwrap();
        TestCa { issuer, file }
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// TLS on `127.0.0.1:<port>` with a certificate for `localhost` signed by `ca`, each connection
/// forwarded in plain text to `backend`.
async fn tls_proxy(ca: &TestCa, backend: String) -> u16 {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (acceptor, backend) = (acceptor.clone(), backend.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends its handshake here.
                let Ok(mut client) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut server) = TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    port
}

/// `MONGO_URL` through the proxy: the user, TLS with `ca_file`, SCRAM-SHA-256 named (mongoeco does
/// not announce `saslSupportedMechs`; a real MongoDB negotiates it by itself).
fn url(port: u16, password: &str, ca_file: &std::path::Path, database: &str) -> String {
    format!(
        "mongodb://{AUTH_USER}:{}@localhost:{port}/{database}?tls=true&tlsCAFile={}&authSource=admin&authMechanism=SCRAM-SHA-256&directConnection=true",
        enc(password),
        ca_file.display()
    )
}

#[tokio::test]
async fn a_listing_works_for_a_scram_user_over_tls_with_a_private_ca() {
    let Some(server) = auth_server("a_listing_works_for_a_scram_user_over_tls_with_a_private_ca")
    else {
        return;
    };
    let ca = TestCa::new("good");
    let port = tls_proxy(&ca, server).await;
    // The fixtures are loaded through the same TLS connection and user.
    let app = spawn_app_with(
        &url(port, AUTH_PASSWORD, &ca.file, "x"),
        &[],
        TestDb::Fixtures,
    )
    .await;
    let reply = app.get_rooms("count=1&roomName=Linus", MANAGER).await;
    reply.assert_rooms(&["lc-08"], 0, 1);
    assert_eq!(app.get("/ready", ANONYMOUS).await.status, 200);
}

/// The service binary against `mongo_url`: three listings and `/ready`, then its log.
async fn refused(mongo_url: &str) -> Vec<String> {
    let (_child, port, log) = start_binary_logged(&[
        ("MONGO_URL", mongo_url),
        ("SERVER_SELECTION_TIMEOUT_MS", "500"),
        ("QUERY_TIMEOUT_MS", "2000"),
    ])
    .await;
    // The test reads no database of its own here.
    let unused = mongodb::Client::with_uri_str("mongodb://127.0.0.1:1")
        .await
        .unwrap()
        .database("unused");
    let app = TestApp::of_binary(port, &unused);
    for _ in 0..3 {
        app.get_rooms("count=1", MANAGER).await.assert_error(
            503,
            r#"{"success":false,"error":"The database is unavailable"}"#,
        );
    }
    let ready = app.get("/ready", ANONYMOUS).await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (503, r#"{"status":"unavailable"}"#)
    );
    // The access log line of that last request is written after its answer.
    wait_for_line(&log, "GET /ready").await;
    let lines = log.lock().unwrap().clone();
    lines
}

fn errors(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains("ERROR")).collect()
}

#[tokio::test]
async fn a_wrong_password_is_a_503_said_once_in_the_log_without_the_password() {
    let Some(server) =
        auth_server("a_wrong_password_is_a_503_said_once_in_the_log_without_the_password")
    else {
        return;
    };
    let ca = TestCa::new("good");
    let port = tls_proxy(&ca, server).await;
    let wrong = "wrong:Pass@word";
    let lines = refused(&url(port, wrong, &ca.file, "rocketchat")).await;
    let errors = errors(&lines);
    assert_eq!(errors.len(), 1, "{lines:#?}");
    assert!(
        errors[0].contains("MongoDB refused the credentials in MONGO_URL"),
        "{lines:#?}"
    );
    for line in &lines {
        assert!(
            !line.contains("wrong:Pass") && !line.contains(&enc(wrong)),
            "{line}"
        );
    }
}

#[tokio::test]
async fn a_ca_that_did_not_sign_the_servers_certificate_is_a_503_said_once_in_the_log() {
    let Some(server) =
        auth_server("a_ca_that_did_not_sign_the_servers_certificate_is_a_503_said_once_in_the_log")
    else {
        return;
    };
    let (signer, other) = (TestCa::new("signer"), TestCa::new("other"));
    let port = tls_proxy(&signer, server).await;
    let lines = refused(&url(port, AUTH_PASSWORD, &other.file, "rocketchat")).await;
    let errors = errors(&lines);
    assert_eq!(errors.len(), 1, "{lines:#?}");
    assert!(
        errors[0].contains("TLS to MongoDB failed: its certificate"),
        "{lines:#?}"
    );
    for line in &lines {
        assert!(!line.contains("s3cret"), "{line}");
    }
}
