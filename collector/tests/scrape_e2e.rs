//! Scraping a real Prometheus exporter (Python prometheus_client) by URL and through DNS
//! discovery (SRV, and A records with a port) served by a small DNS server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{Collector, read_rows, wait_until};
use serde_json::{Value, json};

struct Py(Child);
impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a script from tests/py and reads the port it prints.
fn serve(script: &str, args: &[&str]) -> (Py, u16) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(script);
    let mut child = Command::new("python3")
        .arg(path)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Py(child), line.trim().parse().unwrap())
}

fn j(t: Option<&str>) -> Value {
    t.map(|t| serde_json::from_str(t).unwrap())
        .unwrap_or(Value::Null)
}

#[test]
fn scrapes_an_exporter_by_url_and_through_dns_discovery() {
    let (_exporter, port) = serve("exporter.py", &[]);
    let (_dns, dns_port) = serve("dns.py", &[&port.to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let dns = format!("127.0.0.1:{dns_port}");
    let port_s = port.to_string();
    // A 1 s interval (default 30 s) so that the test sees several rounds quickly; one dead
    // target to see `up` 0.
    let c = Collector::start(
        dir.path(),
        &[
            "--scrape",
            &url,
            "--scrape",
            "http://127.0.0.1:1/metrics",
            "--scrape-dns",
            "discover.monitor.pool.cp.spcs.internal",
            "--scrape-dns",
            "nodes.a.internal",
            "--scrape-dns-port",
            &port_s,
            "--dns-server",
            &dns,
            "--scrape-interval",
            "1s",
        ],
    );
    let jobs = [
        "scrape",
        "discover.monitor.pool.cp.spcs.internal",
        "nodes.a.internal",
    ];
    // `up` is written after a round's samples: once every job has an `up` of 1, each has a
    // complete round in the output.
    wait_until("every job scraped", || {
        let rows = read_rows(dir.path());
        jobs.iter().all(|job| {
            rows.iter().any(|r| {
                let res = j(r.view().resource_attributes);
                res["job"] == *job
                    && res["instance"] == json!(format!("127.0.0.1:{port}"))
                    && j(r.view().record)["metric"]["name"] == "up"
                    && j(r.view().value) == json!(1.0)
            })
        })
    });
    c.stop();
    let rows = read_rows(dir.path());
    let metric = |job: &str, name: &str| {
        rows.iter()
            .find(|r| {
                let res = j(r.view().resource_attributes);
                res["job"] == job
                    && res["instance"] == json!(format!("127.0.0.1:{port}"))
                    && j(r.view().record)["metric"]["name"] == name
            })
            .unwrap_or_else(|| panic!("{name} of {job}"))
            .view()
    };
    for job in jobs {
        let res = j(metric(job, "jobs_total").resource_attributes);
        assert_eq!(res["instance"], json!(format!("127.0.0.1:{port}")), "{job}");
        let m = metric(job, "jobs_total");
        let rec = j(m.record);
        assert_eq!(rec["metric_type"], "sum");
        assert_eq!(rec["is_monotonic"], true);
        assert_eq!(
            rec["aggregation_temporality"],
            "AGGREGATION_TEMPORALITY_CUMULATIVE"
        );
        assert_eq!(rec["metric"]["description"], "Jobs done");
        assert_eq!(j(m.value), json!(7.0));
        assert_eq!(j(m.record_attributes), json!({"queue": "a"}));
        assert!(m.start_timestamp_ns.unwrap() <= m.timestamp_ns);
        let g = metric(job, "temperature");
        assert_eq!(j(g.record)["metric_type"], "gauge");
        assert_eq!(j(g.value), json!(21.5));
        let h = metric(job, "latency_seconds");
        assert_eq!(j(h.record)["metric_type"], "histogram");
        assert_eq!(
            j(h.value),
            json!({"count": 2, "sum": 1.0, "bucket_counts": [1, 1, 0], "explicit_bounds": [0.5, 1.0]})
        );
        let s = metric(job, "size_bytes");
        assert_eq!(j(s.record)["metric_type"], "summary");
        let v = j(s.value);
        assert_eq!(
            (v["count"].clone(), v["sum"].clone()),
            (json!(2), json!(40.0))
        );
        assert_eq!(j(metric(job, "up").value), json!(1.0));
        assert_eq!(
            j(metric(job, "scrape_duration_seconds").record)["metric"]["unit"],
            "s"
        );
    }
    let dead = rows
        .iter()
        .find(|r| {
            j(r.view().resource_attributes)["instance"] == "127.0.0.1:1"
                && j(r.view().record)["metric"]["name"] == "up"
        })
        .expect("up of the dead target");
    assert_eq!(j(dead.view().value), json!(0.0));
}
