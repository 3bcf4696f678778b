//! DNS discovery against a real dnsmasq started by the test on a loopback
//! port, serving only the test's own records, plus in-test nameservers that
//! misbehave (black hole, garbage).

use barnacle_core::dns::{self, DnsError, Families, Kind, Query};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Dnsmasq {
    fn hosts(&self) -> PathBuf {
        self.dir.join("hosts")
    }

    /// Rewrites the hosts file and makes dnsmasq re-read it.
    fn set_hosts(&self, text: &str) {
        std::fs::write(self.hosts(), text).unwrap();
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "SIGHUP to dnsmasq failed");
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

const BASE_HOSTS: &str = "10.0.0.1 app.test\n10.0.0.2 app.test\nfd00::1 app.test\n\
10.0.0.9 v4only.test\nfd00::9 v6only.test\n10.1.0.1 h1.svc.test\n10.1.0.2 h2.svc.test\n";

fn start_dnsmasq() -> Option<Dnsmasq> {
    let found = Command::new("sh")
        .args(["-c", "command -v dnsmasq"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("BARNACLE_REQUIRE_SERVERS").is_none(),
            "no `dnsmasq` binary on PATH (install dnsmasq-base)"
        );
        eprintln!("SKIPPED: no `dnsmasq` on PATH; install dnsmasq-base to run the DNS tests");
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "barnacle-dns-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hosts"), BASE_HOSTS).unwrap();
    let many: String = (0..1000)
        .map(|i| format!("10.2.{}.{} many.test\n", i / 250, i % 250 + 1))
        .collect();
    std::fs::write(dir.join("many"), many).unwrap();
    let port = free_udp_port();
    let mut args: Vec<String> = [
        "--no-daemon",
        "--no-resolv",
        "--no-hosts",
        "--conf-file=/dev/null",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--local=/test/",
        "--log-facility=/dev/null",
        "--cname=alias.test,app.test",
        "--cname=alias2.test,alias.test",
        "--srv-host=_app._tcp.svc.test,h1.svc.test,4369,0,10",
        "--srv-host=_app._tcp.svc.test,h2.svc.test.,4369,1,10",
        "--srv-host=_app._tcp.svc.test,bad_name.svc.test,4369",
        "--srv-host=_bad._tcp.svc.test,-x-.svc.test,4369",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--port={port}"));
    args.push(format!("--addn-hosts={}", dir.join("hosts").display()));
    args.push(format!("--addn-hosts={}", dir.join("many").display()));
    if unsafe_is_root() {
        args.push("--user=root".into());
    }
    let child = Command::new("dnsmasq")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dnsmasq");
    let d = Dnsmasq { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), dir };
    // Wait until it answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if dns::lookup(&q(&d, "app.test", Kind::Addr(Families::Inet))).is_ok() {
            return Some(d);
        }
        assert!(Instant::now() < deadline, "dnsmasq did not come up");
        thread::sleep(Duration::from_millis(50));
    }
}

fn unsafe_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn q(d: &Dnsmasq, name: &str, kind: Kind) -> Query {
    Query {
        name: name.into(),
        kind,
        nameservers: vec![d.addr],
        timeout: Duration::from_secs(3),
        max_records: 100,
    }
}

fn ips(v: &[&str]) -> Vec<IpAddr> {
    v.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn addresses_both_families_and_one_family_only() {
    let Some(d) = start_dnsmasq() else { return };
    let mut got = dns::lookup(&q(&d, "app.test", Kind::Addr(Families::Both))).unwrap().addrs;
    got.sort();
    assert_eq!(got, ips(&["10.0.0.1", "10.0.0.2", "fd00::1"]));
    // The seed library's bug: a name with only A records failed because the
    // missing AAAA answer was taken as an error.
    let a_only = dns::lookup(&q(&d, "v4only.test", Kind::Addr(Families::Both))).unwrap();
    assert_eq!(a_only.addrs, ips(&["10.0.0.9"]));
    let aaaa_only = dns::lookup(&q(&d, "v6only.test", Kind::Addr(Families::Both))).unwrap();
    assert_eq!(aaaa_only.addrs, ips(&["fd00::9"]));
    let v6 = dns::lookup(&q(&d, "app.test", Kind::Addr(Families::Inet6))).unwrap();
    assert_eq!(v6.addrs, ips(&["fd00::1"]));
}

#[test]
fn missing_and_empty_names_are_errors() {
    let Some(d) = start_dnsmasq() else { return };
    assert_eq!(
        dns::lookup(&q(&d, "nope.test", Kind::Addr(Families::Both))),
        Err(DnsError::NxDomain)
    );
    assert_eq!(
        dns::lookup(&q(&d, "v4only.test", Kind::Addr(Families::Inet6))),
        Err(DnsError::NoRecords)
    );
    assert_eq!(
        dns::lookup(&q(&d, "elsewhere.example", Kind::Addr(Families::Inet))),
        Err(DnsError::Refused)
    );
    assert_eq!(
        dns::lookup(&q(&d, "nope.test", Kind::Srv)),
        Err(DnsError::NxDomain)
    );
}

#[test]
fn cname_chains_are_followed() {
    let Some(d) = start_dnsmasq() else { return };
    let mut got = dns::lookup(&q(&d, "alias2.test", Kind::Addr(Families::Inet))).unwrap().addrs;
    got.sort();
    assert_eq!(got, ips(&["10.0.0.1", "10.0.0.2"]));
}

#[test]
fn large_answers_are_bounded() {
    let Some(d) = start_dnsmasq() else { return };
    let mut query = q(&d, "many.test", Kind::Addr(Families::Inet));
    query.max_records = 50;
    let a = dns::lookup(&query).unwrap();
    assert_eq!(a.addrs.len(), 50);
    assert_eq!(a.truncated, 950);
    query.max_records = 5000;
    assert_eq!(dns::lookup(&query).unwrap().addrs.len(), 1000);
}

#[test]
fn srv_targets_are_validated() {
    let Some(d) = start_dnsmasq() else { return };
    let a = dns::lookup(&q(&d, "_app._tcp.svc.test", Kind::Srv)).unwrap();
    let mut targets: Vec<_> = a.srv.iter().map(|s| (s.target.as_str(), s.port, s.priority)).collect();
    targets.sort();
    assert_eq!(targets, vec![("h1.svc.test", 4369, 0), ("h2.svc.test", 4369, 1)]);
    assert_eq!(a.rejected, 1);
    // Only invalid targets: an answer with nothing usable, all counted.
    let bad = dns::lookup(&q(&d, "_bad._tcp.svc.test", Kind::Srv)).unwrap();
    assert!(bad.srv.is_empty());
    assert_eq!(bad.rejected, 1);
}

#[test]
fn reloaded_records_are_seen_at_the_next_lookup() {
    let Some(d) = start_dnsmasq() else { return };
    let query = q(&d, "app.test", Kind::Addr(Families::Inet));
    assert_eq!(dns::lookup(&query).unwrap().addrs.len(), 2);
    d.set_hosts("10.0.0.1 app.test\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    // dnsmasq re-reads the file on SIGHUP asynchronously: wait for it.
    while dns::lookup(&query).unwrap().addrs != ips(&["10.0.0.1"]) {
        assert!(Instant::now() < deadline, "reload not seen");
        thread::sleep(Duration::from_millis(50));
    }
    d.set_hosts(BASE_HOSTS);
}

fn assert_bounded_failure(ns: SocketAddr, timeout: Duration) -> DnsError {
    let query = Query {
        name: "app.test".into(),
        kind: Kind::Addr(Families::Both),
        nameservers: vec![ns],
        timeout,
        max_records: 10,
    };
    let start = Instant::now();
    let err = dns::lookup(&query).unwrap_err();
    assert!(
        start.elapsed() < timeout + Duration::from_millis(700),
        "deadline not kept: {:?}",
        start.elapsed()
    );
    err
}

#[test]
fn black_holed_nameserver_times_out_on_deadline() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    assert_eq!(assert_bounded_failure(addr, Duration::from_millis(500)), DnsError::Timeout);
    drop(sock);
}

#[test]
fn unreachable_nameserver_is_an_error() {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_udp_port()));
    let e = assert_bounded_failure(addr, Duration::from_millis(800));
    assert!(matches!(e, DnsError::Unreachable | DnsError::Timeout), "{e:?}");
}

#[test]
fn garbage_answers_are_errors() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            // Same id, then junk: parses as a header, fails after.
            let mut reply = buf[..2.min(n)].to_vec();
            reply.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 9, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
            let _ = sock.send_to(&reply, from);
        }
    });
    let e = assert_bounded_failure(addr, Duration::from_millis(800));
    assert!(matches!(e, DnsError::BadResponse | DnsError::Timeout), "{e:?}");
}
