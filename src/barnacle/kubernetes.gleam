//// The reasons the Kubernetes strategy (`barnacle.kubernetes`) fails.

import gleam/dynamic.{type Dynamic}

/// Why reading the Kubernetes API failed. The bearer token never appears
/// in any of these.
pub type KubernetesError {
  /// The request took longer than its timeout.
  Timeout
  /// The API server could not be reached.
  Unreachable
  /// TLS failed, e.g. the server's certificate is not from the given CA.
  Tls
  /// 401: the token is missing, wrong or expired.
  Unauthorized
  /// 403: the service account may not list these objects (see the RBAC
  /// Role in the README).
  Forbidden
  /// 404: no such namespace or API.
  NotFound
  /// Another HTTP status.
  HttpStatus(Int)
  /// The body is not what the API documents, or was cut short.
  BadResponse
  /// The body is larger than barnacle reads.
  TooLarge
  /// The service-account token file could not be read.
  NoToken
  /// The CA bundle could not be read.
  NoCa
}

/// Decodes the reason of a `barnacle.StrategyError` from the Kubernetes
/// strategy.
pub fn from_strategy_error(reason: Dynamic) -> Result(KubernetesError, Nil) {
  kubernetes_error_ffi(reason)
}

@external(erlang, "barnacle_gleam", "kubernetes_error")
fn kubernetes_error_ffi(reason: Dynamic) -> Result(KubernetesError, Nil)
