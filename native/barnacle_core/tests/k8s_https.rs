//! Kubernetes discovery against a local HTTPS server that answers like the
//! API server, with a test CA made by the test (rcgen) and rustls.

use barnacle_core::k8s::{self, K8sError, Mode, Request, Source};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cr3t-token-value";

struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki { ca_pem: ca.pem(), cert: cert.der().clone(), key: key.serialize_der() }
}

/// What the fake API server answers, given the request path and headers.
type Handler = dyn Fn(&str, &str) -> Reply + Send + Sync;

struct Reply {
    status: u16,
    body: Vec<u8>,
    /// Declared length, when it should lie (a truncated body).
    length: Option<usize>,
    delay: Duration,
}

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Reply {
    Reply { status, body: body.into(), length: None, delay: Duration::ZERO }
}

struct Server {
    url: String,
    dir: PathBuf,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static N: AtomicUsize = AtomicUsize::new(0);

fn start(handler: Arc<Handler>) -> Server {
    let pki = pki();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.cert.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            let handler = handler.clone();
            let seen = seen2.clone();
            thread::spawn(move || serve(stream, config, handler, seen));
        }
    });
    let dir = std::env::temp_dir().join(format!(
        "barnacle-k8s-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(dir.join("ca.crt"), &pki.ca_pem).unwrap();
    Server { url: format!("https://127.0.0.1:{port}"), dir, seen }
}

fn serve(
    mut tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<String>>>,
) {
    let Ok(conn) = rustls::ServerConnection::new(config) else { return };
    let mut tls = rustls::StreamOwned::new(conn, &mut tcp);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().push(path.clone());
    let r = handler(&path, &head);
    thread::sleep(r.delay);
    let len = r.length.unwrap_or(r.body.len());
    let out = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
        r.status
    );
    let _ = tls.write_all(out.as_bytes());
    let _ = tls.write_all(&r.body);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn authorized(head: &str) -> bool {
    head.lines()
        .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {TOKEN}")))
}

fn request(s: &Server, source: Source, mode: Mode) -> Request {
    Request {
        api_server: s.url.clone(),
        token_path: Some(s.dir.join("token").display().to_string()),
        ca_path: Some(s.dir.join("ca.crt").display().to_string()),
        insecure_skip_tls_verify: false,
        namespace: "prod".into(),
        selector: "app=web".into(),
        service: Some("web".into()),
        source,
        mode,
        basename: "app".into(),
        cluster_domain: "cluster.local".into(),
        timeout: Duration::from_secs(3),
        max_nodes: 1000,
        max_body: k8s::DEFAULT_MAX_BODY,
    }
}

fn pod(name: &str, ip: &str, ready: bool) -> String {
    format!(
        r#"{{"metadata":{{"name":"{name}"}},"status":{{"podIP":"{ip}","conditions":[{{"type":"Ready","status":"{}"}}]}}}}"#,
        if ready { "True" } else { "False" }
    )
}

fn pod_list(pods: &[String]) -> String {
    format!(r#"{{"kind":"PodList","apiVersion":"v1","items":[{}]}}"#, pods.join(","))
}

/// A server like the API server: the right token and namespace `prod` get
/// the pods; namespace `locked` is forbidden by RBAC.
fn api() -> Server {
    start(Arc::new(|path: &str, head: &str| {
        if !authorized(head) {
            return reply(401, r#"{"kind":"Status","code":401}"#);
        }
        if path.starts_with("/api/v1/namespaces/locked/") {
            return reply(403, r#"{"kind":"Status","code":403}"#);
        }
        if path == "/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb" {
            return reply(
                200,
                pod_list(&[pod("web-1", "10.0.0.1", true), pod("web-2", "10.0.0.2", false)]),
            );
        }
        if path.starts_with("/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices?labelSelector=kubernetes%2Eio%2Fservice%2Dname%3Dweb") {
            return reply(
                200,
                r#"{"items":[{"endpoints":[{"addresses":["10.0.0.7"],"conditions":{"ready":true}}]}]}"#,
            );
        }
        reply(404, r#"{"kind":"Status","code":404}"#)
    }))
}

#[test]
fn pods_with_token_ca_and_selector() {
    let s = api();
    let a = k8s::discover(&request(&s, Source::Pods, Mode::Ip)).unwrap();
    assert_eq!(a.nodes, vec!["app@10.0.0.1"]);
    assert_eq!(s.seen.lock().unwrap()[0], "/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb");
}

#[test]
fn endpoint_slices() {
    let s = api();
    let a = k8s::discover(&request(&s, Source::EndpointSlices, Mode::Ip)).unwrap();
    assert_eq!(a.nodes, vec!["app@10.0.0.7"]);
}

#[test]
fn wrong_token_is_unauthorized_and_never_shown() {
    let s = api();
    std::fs::write(s.dir.join("token"), "wrong").unwrap();
    let e = k8s::discover(&request(&s, Source::Pods, Mode::Ip)).unwrap_err();
    assert_eq!(e, K8sError::Unauthorized);
    std::fs::write(s.dir.join("token"), TOKEN).unwrap();
    let mut r = request(&s, Source::Pods, Mode::Ip);
    r.token_path = Some("/nonexistent/token".into());
    assert_eq!(k8s::discover(&r), Err(K8sError::NoToken));
    // No error, whatever its kind, carries the token.
    for e in [e, K8sError::NoToken, K8sError::Forbidden] {
        assert!(!format!("{e} {e:?}").contains(TOKEN));
    }
}

#[test]
fn forbidden_namespace() {
    let s = api();
    let mut r = request(&s, Source::Pods, Mode::Ip);
    r.namespace = "locked".into();
    assert_eq!(k8s::discover(&r), Err(K8sError::Forbidden));
}

#[test]
fn server_errors_and_bad_bodies() {
    let cases: Vec<(Reply, K8sError)> = vec![
        (reply(500, "oops"), K8sError::HttpStatus(500)),
        (reply(200, "<html>not json</html>"), K8sError::BadResponse),
        (
            Reply { length: Some(5000), ..reply(200, r#"{"items":[{"metadata":"#) },
            K8sError::BadResponse,
        ),
    ];
    for (r, want) in cases {
        let r = Arc::new(Mutex::new(Some(r)));
        let s = start(Arc::new(move |_: &str, _: &str| {
            r.lock().unwrap().take().unwrap_or_else(|| reply(599, ""))
        }));
        assert_eq!(k8s::discover(&request(&s, Source::Pods, Mode::Ip)), Err(want));
    }
}

#[test]
fn slow_server_times_out_on_deadline() {
    let s = start(Arc::new(|_: &str, _: &str| Reply {
        delay: Duration::from_secs(3),
        ..reply(200, pod_list(&[]))
    }));
    let mut r = request(&s, Source::Pods, Mode::Ip);
    r.timeout = Duration::from_millis(500);
    let t0 = Instant::now();
    assert_eq!(k8s::discover(&r), Err(K8sError::Timeout));
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn thousands_of_items_are_bounded() {
    let pods: Vec<String> = (0..5000)
        .map(|i| pod(&format!("p{i}"), &format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256), true))
        .collect();
    let body = pod_list(&pods);
    let s = start(Arc::new(move |_: &str, _: &str| reply(200, body.clone())));
    let mut r = request(&s, Source::Pods, Mode::Ip);
    r.max_nodes = 100;
    let a = k8s::discover(&r).unwrap();
    assert_eq!((a.nodes.len(), a.truncated), (100, 4900));
    r.max_body = 1024;
    assert_eq!(k8s::discover(&r), Err(K8sError::TooLarge));
}

#[test]
fn certificate_from_another_ca_is_refused_unless_insecure() {
    let s = api();
    let other = pki();
    std::fs::write(s.dir.join("other-ca.crt"), other.ca_pem).unwrap();
    let mut r = request(&s, Source::Pods, Mode::Ip);
    r.ca_path = Some(s.dir.join("other-ca.crt").display().to_string());
    assert_eq!(k8s::discover(&r), Err(K8sError::Tls));
    r.insecure_skip_tls_verify = true;
    assert_eq!(k8s::discover(&r).unwrap().nodes, vec!["app@10.0.0.1"]);
    r.insecure_skip_tls_verify = false;
    r.ca_path = Some("/nonexistent/ca.crt".into());
    assert_eq!(k8s::discover(&r), Err(K8sError::NoCa));
}

#[test]
fn unreachable_server() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = api();
    let mut r = request(&s, Source::Pods, Mode::Ip);
    r.api_server = format!("https://127.0.0.1:{port}");
    assert_eq!(k8s::discover(&r), Err(K8sError::Unreachable));
}
