//// The reasons a DNS strategy (`barnacle.dns`, `barnacle.dns_srv`) fails.
////
//// ```gleam
//// case event {
////   barnacle.RefreshResponse(Error(barnacle.StrategyError(reason))) ->
////     case dns.from_strategy_error(reason) {
////       Ok(dns.Nxdomain) -> io.println("the service name does not exist")
////       Ok(other) -> io.println(string.inspect(other))
////       Error(Nil) -> io.println("not a DNS error")
////     }
////   _ -> Nil
//// }
//// ```

import gleam/dynamic.{type Dynamic}

/// Why a DNS lookup failed.
pub type DnsError {
  /// The name does not exist.
  Nxdomain
  /// The name exists but has no records of the asked type.
  NoRecords
  /// The whole lookup took longer than its timeout.
  Timeout
  /// The server answered SERVFAIL.
  Servfail
  /// The server refused the query.
  Refused
  /// The query is not a valid domain name.
  BadName
  /// The answer could not be decoded.
  BadResponse
  /// No nameserver could be reached.
  Unreachable
  /// The system's resolver configuration could not be read.
  NoConfig
  /// A configured nameserver address is invalid.
  BadNameserver
  /// Any other resolver failure.
  ResolverError
}

/// Decodes the reason of a `barnacle.StrategyError` from a DNS strategy.
pub fn from_strategy_error(reason: Dynamic) -> Result(DnsError, Nil) {
  dns_error_ffi(reason)
}

@external(erlang, "barnacle_gleam", "dns_error")
fn dns_error_ffi(reason: Dynamic) -> Result(DnsError, Nil)
