//! Discovery through the Kubernetes API: the ready pods matching a label
//! selector, or the ready endpoints of a Service's EndpointSlices.
//!
//! HTTP and TLS go through ureq and rustls, JSON through serde_json. The
//! server is verified against the given CA bundle; verification is skipped
//! only when the caller sets `insecure_skip_tls_verify`. The bearer token is
//! read from its file at every call (projected service-account tokens
//! rotate) and never appears in an error. The response body is read up to a
//! byte bound, and everything under one deadline.

use crate::name::{canonical, format_ip, validate_host_name};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};

/// Largest response body read, in bytes.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

/// Where the nodes are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `GET /api/v1/namespaces/{ns}/pods?labelSelector=...`
    Pods,
    /// `GET /apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=kubernetes.io/service-name=...`
    EndpointSlices,
}

/// How a pod becomes a node name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `basename@10.1.2.3`
    Ip,
    /// `basename@10-1-2-3.ns.pod.cluster.local`
    Dns,
    /// `basename@pod-name.service.ns.svc.cluster.local`
    Hostname,
}

/// One discovery request.
#[derive(Debug, Clone)]
pub struct Request {
    /// API server base URL, e.g. `https://10.96.0.1:443`.
    pub api_server: String,
    /// Path of the bearer token file, if any.
    pub token_path: Option<String>,
    /// Path of the CA bundle (PEM) the server is verified against.
    pub ca_path: Option<String>,
    /// Skip server verification (the option's name says it is insecure).
    pub insecure_skip_tls_verify: bool,
    /// Namespace to read from.
    pub namespace: String,
    /// Label selector for pods (`app=my-app`).
    pub selector: String,
    /// Service name (EndpointSlices source and hostname mode).
    pub service: Option<String>,
    /// Pods or EndpointSlices.
    pub source: Source,
    /// How names are built.
    pub mode: Mode,
    /// The node basename.
    pub basename: String,
    /// The cluster's DNS domain (`cluster.local`).
    pub cluster_domain: String,
    /// Deadline for the whole request.
    pub timeout: Duration,
    /// Most node names returned.
    pub max_nodes: usize,
    /// Largest body read.
    pub max_body: u64,
}

/// A successful discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// Valid node names of ready pods/endpoints, distinct, in API order.
    pub nodes: Vec<String>,
    /// Ready entries whose name would be invalid (or that lack an address).
    pub rejected: usize,
    /// Names left out because of `max_nodes`.
    pub truncated: usize,
}

/// Why discovery failed. No variant carries request data (the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum K8sError {
    /// The deadline passed.
    Timeout,
    /// The server could not be reached.
    Unreachable,
    /// TLS failed (for example a certificate from another CA).
    Tls,
    /// 401: the token is missing, wrong or expired.
    Unauthorized,
    /// 403: the service account may not list these objects (RBAC).
    Forbidden,
    /// 404: no such namespace or API.
    NotFound,
    /// Another non-200 status.
    HttpStatus(u16),
    /// The body is not the JSON the API documents, or was cut short.
    BadResponse,
    /// The body is larger than the bound.
    TooLarge,
    /// The token file could not be read.
    NoToken,
    /// The CA file could not be read or holds no certificate.
    NoCa,
    /// The request is not valid (bad namespace, service or URL).
    BadRequest,
}

impl K8sError {
    /// A short lowercase identifier, used as the Erlang error atom
    /// (`HttpStatus` becomes `{http_status, Code}` on the Erlang side).
    pub fn as_str(self) -> &'static str {
        match self {
            K8sError::Timeout => "timeout",
            K8sError::Unreachable => "unreachable",
            K8sError::Tls => "tls",
            K8sError::Unauthorized => "unauthorized",
            K8sError::Forbidden => "forbidden",
            K8sError::NotFound => "not_found",
            K8sError::HttpStatus(_) => "http_status",
            K8sError::BadResponse => "bad_response",
            K8sError::TooLarge => "too_large",
            K8sError::NoToken => "no_token",
            K8sError::NoCa => "no_ca",
            K8sError::BadRequest => "bad_request",
        }
    }
}

impl fmt::Display for K8sError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            K8sError::HttpStatus(c) => write!(f, "http_status {c}"),
            e => f.write_str(e.as_str()),
        }
    }
}

impl std::error::Error for K8sError {}

fn map_error(e: ureq::Error) -> K8sError {
    match e {
        ureq::Error::Timeout(_) => K8sError::Timeout,
        ureq::Error::BodyExceedsLimit(_) => K8sError::TooLarge,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => K8sError::Tls,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => K8sError::Unreachable,
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => K8sError::BadRequest,
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => K8sError::Timeout,
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::HostUnreachable
            | std::io::ErrorKind::NetworkUnreachable => K8sError::Unreachable,
            // An invalid certificate surfaces as an I/O error from rustls.
            std::io::ErrorKind::InvalidData => {
                let text = io.to_string();
                if text.contains("certificate") || text.contains("Certificate") {
                    K8sError::Tls
                } else {
                    K8sError::BadResponse
                }
            }
            std::io::ErrorKind::UnexpectedEof => K8sError::BadResponse,
            _ => K8sError::Unreachable,
        },
        _ => K8sError::BadResponse,
    }
}

// The API objects, as far as discovery needs them. Unknown fields are
// ignored; missing ones are `None`.

#[derive(Deserialize)]
struct List<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct Pod {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: Option<PodSpec>,
    #[serde(default)]
    status: Option<PodStatus>,
}

#[derive(Deserialize, Default)]
struct Meta {
    name: Option<String>,
    #[serde(rename = "deletionTimestamp")]
    deletion_timestamp: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PodSpec {
    hostname: Option<String>,
}

#[derive(Deserialize)]
struct PodStatus {
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(default)]
    conditions: Vec<PodCondition>,
}

#[derive(Deserialize)]
struct PodCondition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
}

#[derive(Deserialize)]
struct Slice {
    #[serde(default)]
    endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
struct Endpoint {
    #[serde(default)]
    addresses: Vec<String>,
    conditions: Option<EndpointConditions>,
    hostname: Option<String>,
    #[serde(rename = "targetRef")]
    target_ref: Option<TargetRef>,
}

#[derive(Deserialize)]
struct EndpointConditions {
    ready: Option<bool>,
    terminating: Option<bool>,
}

#[derive(Deserialize)]
struct TargetRef {
    name: Option<String>,
}

/// A ready pod or endpoint, before it becomes a name.
struct Entry {
    ip: Option<String>,
    host: Option<String>,
}

fn is_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && !s.contains('.') && validate_host_name(s).is_ok()
}

/// The URL path and query of the request.
pub fn path(req: &Request) -> Result<String, K8sError> {
    if !is_label(&req.namespace) {
        return Err(K8sError::BadRequest);
    }
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    match req.source {
        Source::Pods => Ok(format!(
            "/api/v1/namespaces/{}/pods?labelSelector={}",
            req.namespace,
            enc(&req.selector)
        )),
        Source::EndpointSlices => {
            let service = req.service.as_deref().ok_or(K8sError::BadRequest)?;
            if !is_label(service) {
                return Err(K8sError::BadRequest);
            }
            Ok(format!(
                "/apis/discovery.k8s.io/v1/namespaces/{}/endpointslices?labelSelector={}",
                req.namespace,
                enc(&format!("kubernetes.io/service-name={service}"))
            ))
        }
    }
}

/// Decodes a PodList or EndpointSliceList body into names (see [`Mode`]).
pub fn decode(req: &Request, body: &[u8]) -> Result<Answer, K8sError> {
    let entries: Vec<Entry> = match req.source {
        Source::Pods => {
            let list: List<Pod> = serde_json::from_slice(body).map_err(|_| K8sError::BadResponse)?;
            list.items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter_map(|p| {
                    let status = p.status?;
                    let ready = status
                        .conditions
                        .iter()
                        .any(|c| c.kind == "Ready" && c.status == "True");
                    ready.then(|| Entry {
                        ip: status.pod_ip,
                        host: p.spec.and_then(|s| s.hostname).or(p.metadata.name),
                    })
                })
                .collect()
        }
        Source::EndpointSlices => {
            let list: List<Slice> = serde_json::from_slice(body).map_err(|_| K8sError::BadResponse)?;
            list.items
                .into_iter()
                .flat_map(|s| s.endpoints)
                .filter(|e| {
                    let c = e.conditions.as_ref();
                    // A missing `ready` means ready (the API's own rule).
                    c.and_then(|c| c.ready) != Some(false)
                        && c.and_then(|c| c.terminating) != Some(true)
                })
                .flat_map(|e| {
                    let host = e
                        .hostname
                        .clone()
                        .or_else(|| e.target_ref.as_ref().and_then(|t| t.name.clone()));
                    e.addresses
                        .into_iter()
                        .map(move |a| Entry { ip: Some(a), host: host.clone() })
                })
                .collect()
        }
    };
    let mut answer = Answer::default();
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        match name_of(req, &entry) {
            Some(n) => {
                if !seen.insert(n.clone()) {
                    continue;
                }
                if answer.nodes.len() == req.max_nodes {
                    answer.truncated += 1;
                } else {
                    answer.nodes.push(n);
                }
            }
            None => answer.rejected += 1,
        }
    }
    Ok(answer)
}

fn name_of(req: &Request, e: &Entry) -> Option<String> {
    let host = match req.mode {
        Mode::Ip => format_ip(e.ip.as_deref()?.parse::<IpAddr>().ok()?),
        Mode::Dns => {
            let ip = e.ip.as_deref()?.parse::<IpAddr>().ok()?;
            let dashed = format_ip(ip).replace(['.', ':'], "-");
            format!("{dashed}.{}.pod.{}", req.namespace, req.cluster_domain)
        }
        Mode::Hostname => format!(
            "{}.{}.{}.svc.{}",
            e.host.as_deref()?,
            req.service.as_deref()?,
            req.namespace,
            req.cluster_domain
        ),
    };
    canonical(&format!("{}@{host}", req.basename)).ok()
}

fn tls(req: &Request) -> Result<TlsConfig, K8sError> {
    let builder = TlsConfig::builder();
    if req.insecure_skip_tls_verify {
        return Ok(builder.disable_verification(true).build());
    }
    match &req.ca_path {
        None => Ok(builder.build()),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|_| K8sError::NoCa)?;
            let certs: Vec<_> = parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(K8sError::NoCa);
            }
            Ok(builder.root_certs(RootCerts::Specific(Arc::new(certs))).build())
        }
    }
}

/// Asks the API server and decodes the answer.
pub fn discover(req: &Request) -> Result<Answer, K8sError> {
    let url = format!("{}{}", req.api_server.trim_end_matches('/'), path(req)?);
    let token = match &req.token_path {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|_| K8sError::NoToken)?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(req.timeout))
        .http_status_as_error(false)
        .tls_config(tls(req)?)
        .max_redirects(0)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut request = agent.get(&url).header("Accept", "application/json");
    if let Some(t) = &token {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    let mut response = request.call().map_err(map_error)?;
    match response.status().as_u16() {
        200 => {}
        401 => return Err(K8sError::Unauthorized),
        403 => return Err(K8sError::Forbidden),
        404 => return Err(K8sError::NotFound),
        code => return Err(K8sError::HttpStatus(code)),
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(req.max_body)
        .read_to_vec()
        .map_err(map_error)?;
    decode(req, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(source: Source, mode: Mode) -> Request {
        Request {
            api_server: "https://127.0.0.1:1".into(),
            token_path: None,
            ca_path: None,
            insecure_skip_tls_verify: false,
            namespace: "prod".into(),
            selector: "app=my-app,tier in (web)".into(),
            service: Some("my-svc".into()),
            source,
            mode,
            basename: "app".into(),
            cluster_domain: "cluster.local".into(),
            timeout: Duration::from_secs(1),
            max_nodes: 100,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    const PODS: &str = r#"{"kind":"PodList","items":[
      {"metadata":{"name":"p1"},"status":{"podIP":"10.1.2.3","conditions":[{"type":"Ready","status":"True"}]}},
      {"metadata":{"name":"p2"},"status":{"podIP":"fd00::5","conditions":[{"type":"Ready","status":"True"}]}},
      {"metadata":{"name":"notready"},"status":{"podIP":"10.1.2.4","conditions":[{"type":"Ready","status":"False"}]}},
      {"metadata":{"name":"deleting","deletionTimestamp":"2026-01-01T00:00:00Z"},"status":{"podIP":"10.1.2.5","conditions":[{"type":"Ready","status":"True"}]}},
      {"metadata":{"name":"pending"},"status":{"phase":"Pending"}},
      {"metadata":{"name":"noip"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}
    ]}"#;

    #[test]
    fn pods_by_mode() {
        let ip = decode(&req(Source::Pods, Mode::Ip), PODS.as_bytes()).unwrap();
        assert_eq!(ip.nodes, vec!["app@10.1.2.3", "app@fd00::5"]);
        assert_eq!(ip.rejected, 1);
        let dns = decode(&req(Source::Pods, Mode::Dns), PODS.as_bytes()).unwrap();
        assert_eq!(
            dns.nodes,
            vec!["app@10-1-2-3.prod.pod.cluster.local", "app@fd00--5.prod.pod.cluster.local"]
        );
        let host = decode(&req(Source::Pods, Mode::Hostname), PODS.as_bytes()).unwrap();
        assert_eq!(
            host.nodes,
            vec![
                "app@p1.my-svc.prod.svc.cluster.local",
                "app@p2.my-svc.prod.svc.cluster.local",
                "app@noip.my-svc.prod.svc.cluster.local"
            ]
        );
    }

    #[test]
    fn endpoint_slices_ready_only() {
        let body = r#"{"items":[{"addressType":"IPv4","endpoints":[
          {"addresses":["10.0.0.1"],"conditions":{"ready":true},"targetRef":{"name":"a-0"}},
          {"addresses":["10.0.0.2"],"conditions":{"ready":false}},
          {"addresses":["10.0.0.3"],"conditions":{"ready":true,"terminating":true}},
          {"addresses":["10.0.0.4"],"hostname":"h4"},
          {"addresses":["not-an-ip"]}
        ]}]}"#;
        let a = decode(&req(Source::EndpointSlices, Mode::Ip), body.as_bytes()).unwrap();
        assert_eq!(a.nodes, vec!["app@10.0.0.1", "app@10.0.0.4"]);
        assert_eq!(a.rejected, 1);
        let h = decode(&req(Source::EndpointSlices, Mode::Hostname), body.as_bytes()).unwrap();
        assert_eq!(
            h.nodes,
            vec![
                "app@a-0.my-svc.prod.svc.cluster.local",
                "app@h4.my-svc.prod.svc.cluster.local"
            ]
        );
    }

    #[test]
    fn bad_bodies_and_bounds() {
        let r = req(Source::Pods, Mode::Ip);
        assert_eq!(decode(&r, b"<html>"), Err(K8sError::BadResponse));
        assert_eq!(decode(&r, br#"{"items": "#), Err(K8sError::BadResponse));
        assert_eq!(decode(&r, br#"{"kind":"Status"}"#), Err(K8sError::BadResponse));
        let mut small = r.clone();
        small.max_nodes = 1;
        let a = decode(&small, PODS.as_bytes()).unwrap();
        assert_eq!((a.nodes.len(), a.truncated), (1, 1));
        // A pod name that is not a valid host label is rejected, not used.
        let evil = r#"{"items":[{"metadata":{"name":"x@y"},"status":{"podIP":"10.0.0.1","conditions":[{"type":"Ready","status":"True"}]}}]}"#;
        let h = decode(&req(Source::Pods, Mode::Hostname), evil.as_bytes()).unwrap();
        assert!(h.nodes.is_empty());
        assert_eq!(h.rejected, 1);
    }

    #[test]
    fn paths_are_encoded_and_validated() {
        assert_eq!(
            path(&req(Source::Pods, Mode::Ip)).unwrap(),
            "/api/v1/namespaces/prod/pods?labelSelector=app%3Dmy%2Dapp%2Ctier%20in%20%28web%29"
        );
        assert_eq!(
            path(&req(Source::EndpointSlices, Mode::Ip)).unwrap(),
            "/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices?labelSelector=kubernetes%2Eio%2Fservice%2Dname%3Dmy%2Dsvc"
        );
        let mut bad = req(Source::Pods, Mode::Ip);
        bad.namespace = "../secrets".into();
        assert_eq!(path(&bad), Err(K8sError::BadRequest));
    }
}
