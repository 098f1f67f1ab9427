//! `firn-collector query`: SQL over a folder of firn Parquet files, with DataFusion.
//! See README.md beside this file.
//!
//! The engine ([`Engine`]) is shared with `serve`: the table `firn_files` (every Parquet file
//! below the folder, with `date` and `hour` from its `date=/hour=` folders), the views
//! `events`, `logs` and `metrics` (written once in `firn_schemas::views` for DuckDB and
//! DataFusion), and `attr(json, 'key', ...)` for the JSON columns.

pub mod engine;
pub mod error;
pub mod json_fn;
pub mod output;
pub mod scan;
mod store;

use std::io::{Read, Write};
use std::time::Instant;

use datafusion::physical_plan::display::DisplayableExecutionPlan;

use crate::cli::QueryArgs;

pub use engine::{Engine, EngineOptions};
pub use error::QueryError;
pub use output::Format;
pub use scan::{Layout, ScanReport};

/// The SQL of `args`: the argument, or stdin for `-`.
fn sql_text(args: &QueryArgs) -> Result<String, QueryError> {
    if args.sql != "-" {
        return Ok(args.sql.clone());
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| QueryError::Output(format!("cannot read the SQL from stdin: {e}")))?;
    Ok(s)
}

fn broken_pipe(e: &QueryError) -> bool {
    matches!(e, QueryError::Output(m) if m.contains("Broken pipe"))
}

/// Runs one query and writes its result to stdout.
///
/// # Errors
/// A [`QueryError`]: SQL that does not parse or plan (with its line and column), a data
/// folder that cannot be read, a failure while running.
pub fn run(args: &QueryArgs, verbose: bool) -> Result<(), QueryError> {
    let sql = sql_text(args)?;
    let opts = EngineOptions {
        memory_limit: usize::try_from(args.memory_limit).unwrap_or(usize::MAX),
        ..EngineOptions::default()
    };
    if sql.len() > MAX_SQL_BYTES {
        return Err(QueryError::Sql {
            message: format!(
                "the SQL is {} bytes; at most {MAX_SQL_BYTES} are accepted",
                sql.len()
            ),
            position: None,
            sql: String::new(),
        });
    }
    // Planning walks the expression tree recursively: a long `a OR b OR ...` is a deep
    // tree. A big stack (reserved, only touched pages are used) keeps that an answer.
    let args = args.clone();
    std::thread::Builder::new()
        .name("query".into())
        .stack_size(QUERY_STACK_BYTES)
        .spawn(move || run_on_this_thread(&args, &sql, opts, verbose))
        .map_err(|e| QueryError::Engine(format!("cannot start the query thread: {e}")))?
        .join()
        .map_err(|_| QueryError::Engine("the query thread panicked".into()))?
}

/// Longest SQL text accepted.
pub const MAX_SQL_BYTES: usize = 256 << 10;

/// Stack of the threads that plan and run a query.
pub const QUERY_STACK_BYTES: usize = 64 << 20;

fn run_on_this_thread(
    args: &QueryArgs,
    sql: &str,
    opts: EngineOptions,
    verbose: bool,
) -> Result<(), QueryError> {
    let sql = sql.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads.max(1))
        .thread_stack_size(QUERY_STACK_BYTES)
        .enable_all()
        .build()
        .map_err(|e| QueryError::Engine(format!("cannot start the runtime: {e}")))?;
    let result = rt.block_on(async {
        let started = Instant::now();
        let engine = Engine::open(&args.data, &opts).await?;
        if engine.layout().outside_partitions > 0 {
            tracing::warn!(
                files = engine.layout().outside_partitions,
                "Parquet files outside the date=/hour= folders are not read"
            );
        }
        let mut running = engine.start(&sql).await?;
        let stdout = std::io::stdout();
        let written = if args.explain {
            // Run it to the end for the metrics, then show the plan instead of the rows.
            let w =
                output::write_result(&mut running, &sql, Format::Csv, 0, std::io::sink()).await?;
            let report = ScanReport::of(&running.plan, &Layout::of(engine.data()), w.rows);
            let mut out = stdout.lock();
            let plan = DisplayableExecutionPlan::with_metrics(running.plan.as_ref()).indent(true);
            writeln!(out, "{plan}\n{report}").map_err(|e| QueryError::Output(e.to_string()))?;
            return Ok(());
        } else {
            output::write_result(
                &mut running,
                &sql,
                args.format,
                args.max_rows,
                std::io::BufWriter::new(stdout.lock()),
            )
            .await?
        };
        if written.rows_not_shown > 0 {
            eprintln!(
                "({} more rows not shown; --max-rows, or --format csv|json for all)",
                written.rows_not_shown
            );
        }
        if args.stats || verbose {
            let report = ScanReport::of(&running.plan, &Layout::of(engine.data()), written.rows);
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{report} in {:.3} s", started.elapsed().as_secs_f64());
        }
        Ok(())
    });
    match result {
        Err(e) if broken_pipe(&e) => Ok(()),
        other => other,
    }
}
