//! Writer benchmark: log text through [`BatchBuilder`] + [`ParquetSink`] as the agent does it,
//! next to the system `zstd` binary compressing the same bytes in the same run.
//!
//! ```text
//! cargo bench -p firn-schemas --bench writer
//! FIRN_BENCH_MIB=50 cargo bench -p firn-schemas --bench writer   # a smaller corpus
//! ```
//!
//! The corpus (~200 MiB by default) is generated deterministically from a fixed seed and
//! written to a temporary file first, then streamed back line by line, so the peak-memory
//! figure is the writer's working set rather than the corpus. Each firn run reads the file,
//! builds 8,192-row batches (or 8 MiB of values, whichever comes first, as the agent's sink
//! thread does) with one shared `{"log.file.path": ...}` RECORD_ATTRIBUTES and resource
//! object, and writes Parquet in local mode into a temporary folder. `zstd -T1` then
//! compresses the same file at levels 1 and 3. See bench/README.md for what the columns mean.

use std::error::Error;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use firn_schemas::parquet_sink::META_SOURCE_POSITIONS;
use firn_schemas::parquet_sink::naming::now_ns;
use firn_schemas::{
    BatchBuilder, JsonText, ObjectWriter, OutputMode, ParquetSink, RecordType, Row, Severity,
    SinkConfig, Value,
};
use parquet::basic::{Compression, ZstdLevel};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Corpus size when `FIRN_BENCH_MIB` is unset.
const DEFAULT_MIB: u64 = 200;
/// Runs of each variant when `FIRN_BENCH_REPEAT` is unset.
const DEFAULT_REPEAT: u32 = 2;
/// The agent's sink-thread defaults (agent/src/pipeline/sink_thread.rs).
const BATCH_ROWS: usize = 8192;
const BATCH_BYTES: usize = 8 << 20;
/// The agent stamps the lines of one read with one clock reading; about this many lines fit
/// in one of its reads.
const LINES_PER_READ: usize = 512;
const LOG_PATH: &str = "/logs/app/app.log";
const SEED: u64 = 0x5EED_F1A5_2025_1123;

fn main() -> Result<()> {
    let mib = match std::env::var("FIRN_BENCH_MIB") {
        Ok(v) => v
            .parse::<u64>()
            .map_err(|e| format!("FIRN_BENCH_MIB={v:?}: {e}"))?,
        Err(_) => DEFAULT_MIB,
    };
    let repeat = match std::env::var("FIRN_BENCH_REPEAT") {
        Ok(v) => v
            .parse::<u32>()
            .map_err(|e| format!("FIRN_BENCH_REPEAT={v:?}: {e}"))?
            .max(1),
        Err(_) => DEFAULT_REPEAT,
    };
    let zstd_bin = std::env::var("FIRN_BENCH_ZSTD").unwrap_or_else(|_| "/usr/bin/zstd".into());
    let tmp = tempfile::tempdir()?;
    let corpus = tmp.path().join("corpus.log");

    let t = Instant::now();
    let (input_bytes, lines) = generate_corpus(&corpus, mib << 20)?;
    println!(
        "corpus: {:.1} MiB, {} lines (mean {} B), seed {SEED:#x}, generated in {:.1} s",
        mib_of(input_bytes),
        group(lines),
        input_bytes / lines.max(1),
        t.elapsed().as_secs_f64()
    );

    let rss_baseline = own_status_bytes("VmRSS:")?;
    println!(
        "RSS before the runs: {:.1} MiB (peaks below are this process's VmHWM, reset per run)",
        mib_of(rss_baseline)
    );
    // Best of `repeat` wall times per run: the machine is shared, and the fastest run is the
    // one least disturbed by others. Peak RSS is the largest seen over the repeats.
    let mut results: Vec<RunResult> = Vec::new();
    let mut zstd: Vec<RunResult> = Vec::new();
    for _ in 0..repeat {
        for (i, (name, level)) in [("firn zstd:1 (default)", 1), ("firn zstd:3", 3)]
            .into_iter()
            .enumerate()
        {
            let out = tmp.path().join(format!("out-{i}"));
            let r = run_firn(name, &corpus, &out, level, rss_baseline)?;
            std::fs::remove_dir_all(&out)?;
            keep_best(&mut results, r);
        }
        for level in [1, 3] {
            let out = tmp.path().join("corpus.log.zst");
            match run_zstd(&zstd_bin, level, &corpus, &out) {
                Ok(r) => keep_best(&mut zstd, r),
                Err(e) => println!("zstd -{level}: skipped ({zstd_bin}: {e})"),
            }
        }
    }

    println!();
    println!(
        "{:<22} {:>7} {:>7} {:>11} {:>8} {:>15} {:>9} {:>8}",
        "run", "wall s", "cpu s", "rows/s", "MiB/s", "peak RSS MiB", "out MiB", "out/in"
    );
    for r in results.iter().chain(&zstd) {
        let rows = match r.rows {
            Some(n) => group((n as f64 / r.wall.as_secs_f64()) as u64),
            None => "-".into(),
        };
        let rss = match r.rss_baseline {
            Some(start) => format!(
                "{:.1} (+{:.1})",
                mib_of(r.peak_rss),
                mib_of(r.peak_rss.saturating_sub(start))
            ),
            None => format!("{:.1}", mib_of(r.peak_rss)),
        };
        println!(
            "{:<22} {:>7.2} {:>7.2} {:>11} {:>8.1} {:>15} {:>9.2} {:>8.4}",
            r.name,
            r.wall.as_secs_f64(),
            r.cpu.as_secs_f64(),
            rows,
            mib_of(input_bytes) / r.wall.as_secs_f64(),
            rss,
            mib_of(r.output_bytes),
            r.output_bytes as f64 / input_bytes as f64,
        );
    }
    println!();
    println!("firn / zstd (time = wall seconds, size = output bytes; below 1 means firn is less):");
    for f in &results {
        for z in &zstd {
            println!(
                "  {:<22} / {:<11}  time {:>5.2}  cpu {:>5.2}  size {:>5.2}",
                f.name,
                z.name,
                f.wall.as_secs_f64() / z.wall.as_secs_f64(),
                f.cpu.as_secs_f64() / z.cpu.as_secs_f64().max(1e-9),
                f.output_bytes as f64 / z.output_bytes.max(1) as f64,
            );
        }
    }
    Ok(())
}

/// What one run measured.
struct RunResult {
    name: String,
    wall: Duration,
    cpu: Duration,
    /// Rows written; `None` for zstd.
    rows: Option<u64>,
    peak_rss: u64,
    /// This process's RSS before the first run, after generating the corpus; `None` for zstd.
    rss_baseline: Option<u64>,
    output_bytes: u64,
}

fn run_firn(
    name: &str,
    corpus: &Path,
    out: &Path,
    zstd_level: i32,
    rss_baseline: u64,
) -> Result<RunResult> {
    let mut cfg = SinkConfig::new(out, OutputMode::Local);
    // Each variant sets its level; level 1 is the default (`default_compression`).
    cfg.compression = Compression::ZSTD(ZstdLevel::try_new(zstd_level)?);
    let mut attrs = ObjectWriter::new();
    attrs.string("log.file.path", LOG_PATH);
    let attrs = attrs.finish();
    let resource = JsonText::string_object([
        ("snow.account.name", "BENCH"),
        ("snow.database.name", "OBS"),
        ("snow.schema.name", "PUBLIC"),
        ("snow.service.name", "ECHO_SERVICE"),
        ("host.name", "echo-service-0"),
    ]);
    let record = Severity::Info.record();

    reset_peak_rss();
    let cpu0 = cpu_time(libc::RUSAGE_SELF)?;
    let t = Instant::now();

    let mut sink = ParquetSink::new(cfg);
    let mut builder = BatchBuilder::new();
    let mut reader = BufReader::with_capacity(256 << 10, File::open(corpus)?);
    let mut line = Vec::with_capacity(16 << 10);
    let mut offset = 0u64;
    let mut lines = 0usize;
    let mut ts = now_ns();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if lines.is_multiple_of(LINES_PER_READ) {
            ts = now_ns();
        }
        lines += 1;
        builder.append(&Row {
            timestamp_ns: ts,
            start_timestamp_ns: None,
            observed_timestamp_ns: Some(ts),
            trace: None,
            resource_attributes: Some(&resource),
            scope: None,
            record_type: RecordType::Log,
            record: Some(record),
            record_attributes: Some(&attrs),
            value: Value::Text(std::str::from_utf8(&line)?),
        });
        if builder.len() >= BATCH_ROWS || builder.approx_bytes() >= BATCH_BYTES {
            flush(&mut builder, &mut sink, offset)?;
        }
    }
    flush(&mut builder, &mut sink, offset)?;
    sink.close(Instant::now() + Duration::from_secs(30))?;

    let wall = t.elapsed();
    let cpu = cpu_time(libc::RUSAGE_SELF)? - cpu0;
    let stats = sink.stats();
    println!(
        "{name}: {} rows, {} bytes in {} files under {}",
        group(stats.rows_written_total),
        group(stats.bytes_written_total),
        stats.files_written_total,
        out.display()
    );
    Ok(RunResult {
        name: name.into(),
        wall,
        cpu,
        rows: Some(stats.rows_written_total),
        peak_rss: own_status_bytes("VmHWM:")?,
        rss_baseline: Some(rss_baseline),
        output_bytes: stats.bytes_written_total,
    })
}

/// Keeps the faster of two runs of the same name, with the larger peak RSS of the two.
fn keep_best(runs: &mut Vec<RunResult>, r: RunResult) {
    match runs.iter_mut().find(|x| x.name == r.name) {
        None => runs.push(r),
        Some(x) => {
            let peak = x.peak_rss.max(r.peak_rss);
            if r.wall < x.wall {
                *x = r;
            }
            x.peak_rss = peak;
        }
    }
}

/// Hands the pending rows to the sink with the source position, as the agent does.
fn flush(builder: &mut BatchBuilder, sink: &mut ParquetSink, offset: u64) -> Result<()> {
    if builder.is_empty() {
        return Ok(());
    }
    let batch = builder.finish()?;
    let positions = format!(r#"{{"{LOG_PATH}":{{"offset":{offset}}}}}"#);
    sink.write(&batch, &[(META_SOURCE_POSITIONS, positions)])?;
    Ok(())
}

fn run_zstd(bin: &str, level: u32, corpus: &Path, out: &Path) -> Result<RunResult> {
    let cpu0 = cpu_time(libc::RUSAGE_CHILDREN)?;
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg(format!("-{level}"))
        .args(["-T1", "-q", "-f", "-o"])
        .arg(out)
        .arg(corpus)
        .stdin(Stdio::null())
        .spawn()?;
    // The child's own VmHWM, sampled until it exits: getrusage's ru_maxrss cannot be used, as a
    // child spawned with CLONE_VM is charged this process's RSS before its exec.
    let child_status = format!("/proc/{}/status", child.id());
    let mut peak_rss = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&child_status)
            && let Some(kib) = status_field_kib(&text, "VmHWM:")
        {
            peak_rss = peak_rss.max(kib * 1024);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = t.elapsed();
    if !status.success() {
        return Err(format!("exited with {status}").into());
    }
    let cpu = cpu_time(libc::RUSAGE_CHILDREN)? - cpu0;
    let output_bytes = std::fs::metadata(out)?.len();
    std::fs::remove_file(out)?;
    Ok(RunResult {
        name: format!("zstd -{level} -T1"),
        wall,
        cpu,
        rows: None,
        peak_rss,
        rss_baseline: None,
        output_bytes,
    })
}

/// Resets this process's VmHWM to its current RSS (Linux 4.0+), so the next peak is the next
/// run's. Where the kernel refuses, the peak is the largest since the process started, which
/// the streaming corpus generation keeps small anyway.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's VmRSS or VmHWM (`key`), in bytes.
fn own_status_bytes(key: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib =
        status_field_kib(&status, key).ok_or_else(|| format!("no {key} in /proc/self/status"))?;
    Ok(kib * 1024)
}

/// A `kB` field of a /proc/PID/status text.
fn status_field_kib(status: &str, key: &str) -> Option<u64> {
    let value = status.lines().find_map(|l| l.strip_prefix(key))?;
    value.trim().trim_end_matches("kB").trim().parse().ok()
}

fn cpu_time(who: libc::c_int) -> Result<Duration> {
    let ru = rusage(who)?;
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok(tv(ru.ru_utime) + tv(ru.ru_stime))
}

// getrusage(2) has no wrapper in std, and CPU time of both this process and its zstd child is
// the point of the benchmark.
#[allow(unsafe_code)]
fn rusage(who: libc::c_int) -> Result<libc::rusage> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage writes a whole `rusage` to the pointer it is given, which points to
    // one; on failure it writes nothing and the value is not read.
    let rc = unsafe { libc::getrusage(who, ru.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: getrusage returned 0, so it initialised the struct.
    Ok(unsafe { ru.assume_init() })
}

fn mib_of(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// `1234567` as `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The corpus.

/// splitmix64: small, fast, and the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn hex(&mut self, out: &mut String, digits: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for _ in 0..digits {
            out.push(HEX[self.below(16) as usize] as char);
        }
    }

    fn base64(&mut self, out: &mut String, len: usize) {
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for _ in 0..len {
            out.push(B64[self.below(64) as usize] as char);
        }
    }
}

/// A simulated clock: milliseconds since midnight of 2025-11-23, advancing a little per line.
struct Clock {
    ms: u64,
}

impl Clock {
    fn tick(&mut self, rng: &mut Rng) {
        self.ms = (self.ms + rng.below(4)) % 86_400_000;
    }
    fn hms(&self) -> (u64, u64, u64, u64) {
        let s = self.ms / 1000;
        (s / 3600, s / 60 % 60, s % 60, self.ms % 1000)
    }
    fn iso(&self, out: &mut String) {
        let (h, m, s, ms) = self.hms();
        let _ = write!(out, "2025-11-23T{h:02}:{m:02}:{s:02}.{ms:03}Z");
    }
}

/// Writes lines until `target` bytes; returns (bytes, lines).
fn generate_corpus(path: &Path, target: u64) -> Result<(u64, u64)> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = Rng(SEED);
    let mut clock = Clock { ms: 15 * 3_600_000 };
    let mut buf = String::with_capacity(16 << 10);
    let (mut bytes, mut lines) = (0u64, 0u64);
    while bytes < target {
        buf.clear();
        clock.tick(&mut rng);
        match rng.below(100) {
            0..=34 => access_line(&mut rng, &clock, &mut buf),
            35..=74 => app_line(&mut rng, &clock, &mut buf),
            75..=89 => json_line(&mut rng, &clock, &mut buf),
            90..=93 => stack_trace(&mut rng, &clock, &mut buf),
            94 => long_line(&mut rng, &clock, &mut buf),
            _ => short_line(&mut rng, &mut buf),
        }
        out.write_all(buf.as_bytes())?;
        bytes += buf.len() as u64;
        lines += buf.bytes().filter(|&b| b == b'\n').count() as u64;
    }
    out.flush()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok((bytes, lines))
}

const METHODS: [&str; 10] = [
    "GET", "GET", "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE",
];
const STATUSES: [u32; 20] = [
    200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500,
    503,
];
const AGENTS: [&str; 8] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "kube-probe/1.30",
    "Go-http-client/1.1",
];
const WORDS: [&str; 16] = [
    "snow", "boots", "jacket", "gloves", "ski", "wax", "helmet", "goggles", "sled", "poles",
    "thermal", "scarf", "beanie", "socks", "board", "bindings",
];
const LEVELS: [&str; 20] = [
    "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO",
    "INFO", "INFO", "DEBUG", "DEBUG", "DEBUG", "WARN", "WARN", "ERROR",
];
const LOGGERS: [&str; 10] = [
    "com.example.orders.OrderService",
    "com.example.orders.PaymentClient",
    "com.example.catalog.SearchController",
    "com.zaxxer.hikari.pool.HikariPool",
    "org.springframework.web.servlet.DispatcherServlet",
    "app.cache",
    "app.auth",
    "app.scheduler",
    "app.worker.ingest",
    "db.migrations",
];
const HOSTS: [&str; 5] = [
    "payments.internal:8443",
    "inventory-svc:8080",
    "auth.example.com",
    "redis-master:6379",
    "s3.us-west-2.amazonaws.com",
];

fn path(rng: &mut Rng, out: &mut String) {
    let _ = match rng.below(9) {
        0 => write!(out, "/api/v1/orders/{}", rng.range(10_000, 999_999)),
        1 => write!(out, "/api/v1/users/{}/cart", rng.range(1, 250_000)),
        2 => write!(
            out,
            "/api/v1/search?q={}+{}&page={}",
            rng.pick(&WORDS),
            rng.pick(&WORDS),
            rng.range(1, 20)
        ),
        3 => {
            out.push_str("/static/js/app.");
            rng.hex(out, 8);
            write!(out, ".js")
        }
        4 => write!(out, "/api/v2/inventory/SKU-{:06}", rng.below(100_000)),
        5 => write!(out, "/healthz"),
        6 => write!(out, "/metrics"),
        7 => write!(
            out,
            "/api/v1/products/{}/reviews?sort=recent",
            rng.below(50_000)
        ),
        _ => write!(out, "/login"),
    };
}

fn access_line(rng: &mut Rng, clock: &Clock, out: &mut String) {
    let (h, m, s, _) = clock.hms();
    let _ = write!(
        out,
        "10.{}.{}.{} - {} [23/Nov/2025:{h:02}:{m:02}:{s:02} +0000] \"{} ",
        rng.below(4),
        rng.below(256),
        rng.range(1, 254),
        if rng.chance(10) { "alice" } else { "-" },
        rng.pick(&METHODS),
    );
    path(rng, out);
    let _ = writeln!(
        out,
        " HTTP/1.1\" {} {} \"{}\" \"{}\" rt={}.{:03}",
        rng.pick(&STATUSES),
        rng.range(0, 60_000),
        if rng.chance(30) {
            "https://shop.example.com/"
        } else {
            "-"
        },
        rng.pick(&AGENTS),
        rng.below(2),
        rng.below(1000),
    );
}

fn app_line(rng: &mut Rng, clock: &Clock, out: &mut String) {
    clock.iso(out);
    let thread = rng.below(4);
    let _ = write!(out, " {:<5} [", rng.pick(&LEVELS));
    let _ = match thread {
        0 => write!(out, "main"),
        1 => write!(out, "worker-{}", rng.below(16)),
        2 => write!(out, "http-nio-8080-exec-{}", rng.range(1, 200)),
        _ => write!(out, "tokio-runtime-worker"),
    };
    let _ = write!(out, "] {}: ", rng.pick(&LOGGERS));
    let _ = match rng.below(12) {
        0 => write!(
            out,
            "processed order id={} items={} total={}.{:02} duration_ms={}",
            rng.range(10_000, 999_999),
            rng.range(1, 12),
            rng.range(1, 900),
            rng.below(100),
            rng.range(1, 400)
        ),
        1 => write!(out, "cache miss key=user:{}:profile", rng.range(1, 250_000)),
        2 => write!(
            out,
            "HikariPool-1 - Pool stats (total={}, active={}, idle={}, waiting={})",
            20,
            rng.below(20),
            rng.below(20),
            rng.below(3)
        ),
        3 => write!(
            out,
            "retrying request to https://{}/v1/charge attempt={} backoff_ms={}",
            rng.pick(&HOSTS),
            rng.range(1, 5),
            rng.range(50, 3200)
        ),
        4 => write!(
            out,
            "user {} logged in from 192.168.{}.{}",
            rng.range(1, 250_000),
            rng.below(256),
            rng.below(256)
        ),
        5 => write!(
            out,
            "slow query ({} ms): SELECT o.id, o.status, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = {} AND o.created_at > now() - interval '30 days' ORDER BY o.created_at DESC LIMIT 50",
            rng.range(200, 5000),
            rng.range(1, 250_000)
        ),
        6 => write!(
            out,
            "GC pause (G1 Evacuation Pause) {}ms, heap {}M->{}M({}M)",
            rng.range(2, 250),
            rng.range(800, 3000),
            rng.range(200, 800),
            4096
        ),
        7 => write!(
            out,
            "Completed {} OK in {}ms",
            rng.range(200, 204),
            rng.range(1, 900)
        ),
        8 => write!(
            out,
            "scheduled job 'reindex-{}' finished: {} documents, {} skipped",
            rng.pick(&WORDS),
            rng.range(0, 100_000),
            rng.below(50)
        ),
        9 => write!(
            out,
            "connection to {} lost: Connection reset by peer (os error 104); reconnecting",
            rng.pick(&HOSTS)
        ),
        10 => write!(out, "ok"),
        _ => write!(
            out,
            "ingested batch {} from s3://landing/events/2025/11/23/part-{:05}.json.gz ({} records)",
            rng.range(1, 1_000_000),
            rng.below(10_000),
            rng.range(100, 50_000)
        ),
    };
    out.push('\n');
}

fn json_line(rng: &mut Rng, clock: &Clock, out: &mut String) {
    out.push_str("{\"ts\":\"");
    clock.iso(out);
    if rng.chance(70) {
        let status = *rng.pick(&STATUSES);
        let _ = write!(
            out,
            "\",\"level\":\"{}\",\"logger\":\"http\",\"msg\":\"request completed\",\"method\":\"{}\",\"path\":\"",
            if status >= 500 { "error" } else { "info" },
            rng.pick(&METHODS)
        );
        path(rng, out);
        let _ = write!(
            out,
            "\",\"status\":{status},\"duration_ms\":{}.{:03},\"trace_id\":\"",
            rng.below(900),
            rng.below(1000)
        );
        rng.hex(out, 32);
        out.push_str("\",\"span_id\":\"");
        rng.hex(out, 16);
        let _ = writeln!(out, "\",\"user_id\":{}}}", rng.range(1, 250_000));
    } else {
        let _ = writeln!(
            out,
            "\",\"level\":\"info\",\"logger\":\"payments\",\"msg\":\"payment authorized\",\"event\":\"payment.authorized\",\"order_id\":{},\"amount\":{{\"value\":{}.{:02},\"currency\":\"{}\"}},\"card\":{{\"brand\":\"{}\",\"last4\":\"{:04}\"}},\"attempt\":{}}}",
            rng.range(10_000, 999_999),
            rng.range(1, 900),
            rng.below(100),
            rng.pick(&["USD", "EUR", "JPY", "GBP"]),
            rng.pick(&["visa", "mastercard", "amex"]),
            rng.below(10_000),
            rng.range(1, 3)
        );
    }
}

fn stack_trace(rng: &mut Rng, clock: &Clock, out: &mut String) {
    clock.iso(out);
    let _ = writeln!(
        out,
        " ERROR [http-nio-8080-exec-{}] com.example.orders.OrderService: order {} failed",
        rng.range(1, 200),
        rng.range(10_000, 999_999)
    );
    let _ = writeln!(
        out,
        "java.lang.IllegalStateException: inventory reservation expired for SKU-{:06}",
        rng.below(100_000)
    );
    const FRAMES: [&str; 8] = [
        "com.example.orders.OrderService.reserve(OrderService.java:",
        "com.example.orders.OrderService.place(OrderService.java:",
        "com.example.orders.OrderController.create(OrderController.java:",
        "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:",
        "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:",
        "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:",
        "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:",
        "java.base/java.lang.Thread.run(Thread.java:",
    ];
    for _ in 0..rng.range(4, 20) {
        let _ = writeln!(out, "\tat {}{})", rng.pick(&FRAMES), rng.range(40, 1800));
    }
    if rng.chance(40) {
        let _ = writeln!(
            out,
            "Caused by: java.net.SocketTimeoutException: Read timed out after {} ms",
            rng.range(1000, 30_000)
        );
        let _ = writeln!(out, "\t... {} more", rng.range(5, 40));
    }
}

fn long_line(rng: &mut Rng, clock: &Clock, out: &mut String) {
    clock.iso(out);
    out.push_str(" DEBUG [main] app.worker.ingest: request dump headers={");
    for i in 0..rng.range(5, 40) {
        let _ = write!(out, "\"x-header-{i}\":\"{}\",", rng.pick(&WORDS));
    }
    // A request body: mostly repeated structure, with a signature that does not compress.
    out.push_str("\"authorization\":\"Bearer <redacted>\"} body={\"items\":[");
    for i in 0..rng.range(3, 40) {
        let _ = write!(
            out,
            "{}{{\"sku\":\"SKU-{:06}\",\"name\":\"{} {}\",\"qty\":{},\"price\":{}.{:02}}}",
            if i > 0 { "," } else { "" },
            rng.below(100_000),
            rng.pick(&WORDS),
            rng.pick(&WORDS),
            rng.range(1, 5),
            rng.range(1, 300),
            rng.below(100)
        );
    }
    out.push_str("],\"signature\":\"");
    let len = rng.range(64, 344) as usize;
    rng.base64(out, len);
    out.push_str("\"}\n");
}

fn short_line(rng: &mut Rng, out: &mut String) {
    const SHORT: [&str; 6] = [
        "heartbeat ok",
        "tick",
        "Listening on 0.0.0.0:8080",
        "done",
        "---",
        "waiting for jobs...",
    ];
    let line = *rng.pick(&SHORT);
    out.push_str(line);
    out.push('\n');
}
