//! `firn-collector serve` end to end: the real binary over the fixture's Parquet; the JSON
//! API's numbers worked out by hand from `common/fixture.rs`; new files counted at once; the
//! token rule; and the page itself in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven by selenium: `tests/py/browser_check.py`), which saves
//! screenshots under the target folder's `tmp/dashboard/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{fixture, request};
use serde_json::{Value, json};

struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_firn-collector"))
        .arg("serve")
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("FIRN_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find("http=") {
                let a = line[i + 5..].split_whitespace().next().unwrap().to_string();
                let _ = tx.send(a);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve did not start")
        .parse()
        .unwrap();
    Serve { child, addr }
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let a = request(addr, "GET", path, &[], b"");
    assert_eq!(a.status, 200, "{path}: {}", a.text());
    serde_json::from_slice(&a.body).unwrap()
}

/// Picks `keys` of each object, in order.
fn pick(v: &Value, keys: &[&str]) -> Vec<Vec<Value>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|o| keys.iter().map(|k| o[*k].clone()).collect())
        .collect()
}

/// README (serve): every panel's endpoint gives the numbers the fixture's rows imply.
#[test]
fn api_answers_as_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    fixture::write_fleet(dir.path());
    let s = serve(dir.path(), &[], &[]);
    let a = s.addr;

    assert_eq!(
        pick(
            &get_json(a, "/api/summary"),
            &[
                "service",
                "container",
                "log_lines",
                "errors",
                "metric_points"
            ]
        ),
        [
            [json!("shop"), json!("api"), json!(31), json!(1), json!(9)],
            [json!("shop"), json!("worker"), json!(4), json!(2), json!(7)],
        ]
    );
    assert_eq!(
        pick(
            &get_json(a, "/api/volume?bucket=3600"),
            &["t", "severity", "n"]
        ),
        [
            [json!("2026-11-30T23:00:00"), json!("ERROR"), json!(1)],
            [json!("2026-11-30T23:00:00"), json!("INFO"), json!(1)],
            [json!("2026-11-30T23:00:00"), json!("WARN"), json!(1)],
            [json!("2026-12-01T00:00:00"), json!("ERROR"), json!(1)],
            [json!("2026-12-01T00:00:00"), json!("FATAL"), json!(1)],
            [json!("2026-12-01T00:00:00"), json!("INFO"), json!(2)],
            [json!("2026-12-01T01:00:00"), json!("DEBUG"), json!(1)],
            [json!("2026-12-01T01:00:00"), json!("INFO"), json!(27)],
        ]
    );
    let errors = get_json(a, "/api/errors?bucket=3600");
    assert_eq!(
        pick(&errors, &["t", "lines", "errors"]),
        [
            [json!("2026-11-30T23:00:00"), json!(3), json!(1)],
            [json!("2026-12-01T00:00:00"), json!(4), json!(2)],
            [json!("2026-12-01T01:00:00"), json!(28), json!(0)],
        ]
    );
    let rates: Vec<f64> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rate"].as_f64().unwrap())
        .collect();
    assert_eq!(rates, [1.0 / 3.0, 0.5, 0.0]);

    // Latest value per container and metric: api's cpu.usage is 0.75 (01:00), not 0.25.
    let latest = get_json(a, "/api/latest");
    let find = |c: &str, n: &str| -> f64 {
        latest
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["container"] == c && r["name"] == n)
            .unwrap_or_else(|| panic!("{c} {n} in {latest}"))["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(find("api", "container.cpu.usage"), 0.75);
    assert_eq!(find("api", "container.cpu.limit"), 2.0);
    assert_eq!(
        find("worker", "container.memory.usage"),
        500.0 * 1_048_576.0
    );
    assert_eq!(find("worker", "container.restarts"), 3.0);
    assert_eq!(
        find("worker", "container.state.last.finished.exitcode"),
        137.0
    );
    assert_eq!(find("api", "volume.capacity"), 10.0 * 1_073_741_824.0);
    assert_eq!(latest.as_array().unwrap().len(), 15);

    // The search pages through newest first and says when there is more.
    let p0 = get_json(a, "/api/logs?q=TICK&limit=20");
    assert_eq!(p0["more"], json!(true));
    let msgs = |v: &Value| -> Vec<String> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["message"].as_str().unwrap().to_string())
            .collect()
    };
    let expect: Vec<String> = (6..=25).rev().map(|i| format!("tick {i}")).collect();
    assert_eq!(msgs(&p0), expect);
    let p1 = get_json(a, "/api/logs?q=tick&limit=20&page=1");
    assert_eq!(p1["more"], json!(false));
    assert_eq!(
        msgs(&p1),
        ["tick 5", "tick 4", "tick 3", "tick 2", "tick 1"]
    );
    // Filters: container, stream, severity (and above), time range.
    let f = get_json(
        a,
        "/api/logs?container=worker&stream=stderr&severity=ERROR&from=2026-12-01T00:00:00&to=2026-12-01T00:08:00Z",
    );
    assert_eq!(msgs(&f), ["job 2 failed: timeout"]);
    // Bad parameters are a 400 saying which.
    let bad = request(a, "GET", "/api/logs?from=yesterday", &[], b"");
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("from"), "{}", bad.text());
    // The page and its assets are served from the binary.
    let page = request(a, "GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Log search"));
    assert_eq!(request(a, "GET", "/app.js", &[], b"").status, 200);
}

/// README (serve): files written while it runs count at the next request.
#[test]
fn new_files_count_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[], &[]);
    assert_eq!(get_json(s.addr, "/api/summary"), json!([]));
    fixture::write_fleet(dir.path());
    let v = get_json(s.addr, "/api/summary");
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
}

/// README (serve): beyond loopback a token is required, as for receive; with a token every
/// request needs it (header, cookie, or ?token= which sets the cookie).
#[test]
fn token_rule() {
    let dir = tempfile::tempdir().unwrap();
    fixture::write_fleet(dir.path());
    // No token and a non-loopback address: refuses to start.
    let out = Command::new(env!("CARGO_BIN_EXE_firn-collector"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(dir.path())
        .env_remove("FIRN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FIRN_TOKEN"));

    let s = serve(dir.path(), &[], &[("FIRN_TOKEN", "t0ken")]);
    assert_eq!(request(s.addr, "GET", "/api/summary", &[], b"").status, 401);
    assert_eq!(request(s.addr, "GET", "/healthcheck", &[], b"").status, 200);
    let ok = request(
        s.addr,
        "GET",
        "/api/summary",
        &[("Authorization", "Bearer t0ken")],
        b"",
    );
    assert_eq!(ok.status, 200);
    let page = request(s.addr, "GET", "/?token=t0ken", &[], b"");
    assert_eq!(page.status, 200);
    let cookie = page.header("set-cookie").unwrap().to_string();
    assert!(cookie.starts_with("firn_token=t0ken;") && cookie.contains("HttpOnly"));
    let by_cookie = request(
        s.addr,
        "GET",
        "/api/summary",
        &[("Cookie", "firn_token=t0ken")],
        b"",
    );
    assert_eq!(by_cookie.status, 200);
    let wrong = request(
        s.addr,
        "GET",
        "/api/summary",
        &[("Cookie", "firn_token=nope")],
        b"",
    );
    assert_eq!(wrong.status, 401);
}

/// README (serve): the page in a real headless Chromium shows the expected numbers in every
/// panel, searches and pages, jumps to a line's neighbours, and updates when a file arrives.
#[test]
fn dashboard_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    fixture::write_fleet(dir.path());
    // A refresh of 1 s (not the default 10 s) so the page's update is seen quickly.
    let s = serve(dir.path(), &["--refresh", "1s"], &[]);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/browser_check.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(format!("http://{}/", s.addr))
        .arg(dir.path())
        .arg(&shots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser_check.py failed (needs chromium, chromium-driver and \
         `pip install -r requirements-test.txt`; see .ci/run):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("dashboard ok"), "{stdout}\n{stderr}");
    assert!(shots.join("dashboard.png").exists());
}
