//! The SQL engine over a folder of firn files: DataFusion with the table `firn_files`, the
//! views `events`, `logs`, `metrics` (from `firn_schemas::views`) and `attr`.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use firn_schemas::columns::{COLUMNS, ColumnKind};
use firn_schemas::views::{Engine as Dialect, views_statements};

use super::error::QueryError;
use super::json_fn::Attr;
use super::scan::Layout;

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Memory a query may hold for sorts, joins and aggregates; past it the query fails with
    /// "Resources exhausted" instead of growing. Default 512 MiB.
    pub memory_limit: usize,
    /// Threads a query runs on. Default: the number of CPUs.
    pub threads: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            memory_limit: 512 << 20,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// A planned query: its physical plan (read its metrics after the stream ends) and stream.
pub struct Running {
    /// The plan, for the scan report and `--explain`.
    pub plan: Arc<dyn ExecutionPlan>,
    /// The result batches.
    pub stream: SendableRecordBatchStream,
}

/// DataFusion over one folder of firn files. Cheap to query many times: each query lists
/// the folder again (new files are seen at once), footers are cached.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    data: PathBuf,
    layout: Layout,
}

/// The table schema: the event-table columns as the Parquet reader yields them (strings as
/// `Utf8View`), every one nullable so a file missing a column still reads.
impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data", &self.data)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

fn table_schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|c| {
            let t = match c.kind {
                ColumnKind::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, None),
                ColumnKind::Text | ColumnKind::Json => DataType::Utf8View,
            };
            Field::new(c.name, t, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// `date=` and `hour=` values named by the data folder's own path, when it is a partition
/// folder itself (`--data out/date=2026-12-01/hour=07`).
fn own_partitions(data: &Path) -> (Option<String>, Option<String>) {
    let mut date = None;
    let mut hour = None;
    for c in data.components() {
        if let Component::Normal(s) = c {
            let s = s.to_string_lossy();
            if let Some(v) = s.strip_prefix("date=") {
                date = Some(v.to_string());
            } else if let Some(v) = s.strip_prefix("hour=") {
                hour = Some(v.to_string());
            }
        }
    }
    (date, hour)
}

/// Most operators, parentheses and CASEs in one query. Planning walks expression trees
/// recursively (and in time growing with the square of the depth), so a tree at most this
/// deep keeps the stack and the time bounded (a chain of
/// 60,000 `+` overflowed a 256 MiB stack in a debug build).
pub const MAX_OPERATORS: usize = 1_000;

/// Refuses SQL that could nest deeper than [`MAX_OPERATORS`], before DataFusion parses it.
fn check_depth(sql: &str) -> Result<(), QueryError> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    // A text that does not tokenize is left to the parser, which says where.
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(());
    };
    let nesting = tokens
        .iter()
        .filter(|t| match t {
            Token::Word(w) => matches!(
                w.keyword,
                Keyword::AND | Keyword::OR | Keyword::NOT | Keyword::CASE | Keyword::SELECT
            ),
            Token::Whitespace(_)
            | Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::Comma
            | Token::Period
            | Token::SemiColon
            | Token::RParen
            | Token::EOF => false,
            _ => true,
        })
        .count();
    if nesting > MAX_OPERATORS {
        return Err(QueryError::Sql {
            message: format!(
                "the query has {nesting} operators, parentheses and CASEs; at most \
                 {MAX_OPERATORS} are accepted"
            ),
            position: None,
            sql: String::new(),
        });
    }
    Ok(())
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Engine {
    /// An engine over the Parquet files below `data`.
    ///
    /// # Errors
    /// The folder does not exist or is not a folder; DataFusion refused the set-up.
    pub async fn open(data: &Path, opts: &EngineOptions) -> Result<Self, QueryError> {
        let meta = std::fs::metadata(data).map_err(|e| QueryError::Data {
            path: data.to_path_buf(),
            message: format!("{e}; give --data the folder firn wrote (with date=/hour= folders)"),
        })?;
        if !meta.is_dir() {
            return Err(QueryError::Data {
                path: data.to_path_buf(),
                message: "not a folder; give --data the folder firn wrote".into(),
            });
        }
        let data = std::fs::canonicalize(data).map_err(|e| QueryError::Data {
            path: data.to_path_buf(),
            message: e.to_string(),
        })?;
        let layout = Layout::of(&data);

        let mut config = SessionConfig::new()
            .with_target_partitions(opts.threads.max(1))
            .with_information_schema(true);
        {
            let o = config.options_mut();
            // Names as written: event-table columns are upper case (RECORD_ATTRIBUTES), view
            // columns lower case, as in Snowflake and the DuckDB views.
            o.sql_parser.enable_ident_normalization = false;
            // Spans give planning errors their line and column.
            o.sql_parser.collect_spans = true;
            o.execution.collect_statistics = true;
            // Files in part-N/ folders (a folder past 90,000 files spills there) are read too.
            o.execution.listing_table_ignore_subdirectory = false;
            o.execution.parquet.pushdown_filters = true;
            o.execution.parquet.enable_page_index = true;
        }
        let runtime = RuntimeEnvBuilder::new()
            // No cached listings: a dashboard must see the files written since its last query.
            .with_object_list_cache_limit(0)
            .with_memory_limit(opts.memory_limit, 1.0)
            .build_arc()
            .map_err(QueryError::engine)?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        ctx.register_udf(Attr::udf());
        ctx.register_object_store(
            datafusion::execution::object_store::ObjectStoreUrl::local_filesystem().as_ref(),
            Arc::new(super::store::CompleteFiles::new()),
        );

        let url =
            ListingTableUrl::parse(format!("{}/", data.display())).map_err(QueryError::engine)?;
        let (own_date, own_hour) = own_partitions(&data);
        // `hour` is read as text and cast in the view: DataFusion lists a folder for an
        // equality on a partition column by printing the value (`hour=1`), which would miss
        // firn's zero-padded `hour=01`. The cast filter is still applied per folder.
        let mut partition_cols = Vec::new();
        if own_date.is_none() && layout.partitioned {
            partition_cols.push(("date".to_string(), DataType::Date32));
        }
        if own_hour.is_none() && (layout.partitioned || own_date.is_some()) {
            partition_cols.push(("hour".to_string(), DataType::Utf8));
        }
        let listing = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partition_cols.clone());
        let table_config = ListingTableConfig::new(url)
            .with_listing_options(listing)
            .with_schema(table_schema());
        let table = ListingTable::try_new(table_config).map_err(QueryError::engine)?;
        ctx.register_table("firn_files_raw", Arc::new(table))
            .map_err(QueryError::engine)?;
        // Partition columns the listing does not give come from the folder's own name, or
        // are NULL when the files lie in no date=/hour= folder at all.
        let has = |name: &str| partition_cols.iter().any(|(n, _)| n == name);
        let date = match (&own_date, has("date")) {
            (_, true) => "date".to_string(),
            (Some(d), false) => format!("TRY_CAST({} AS DATE)", sql_literal(d)),
            (None, false) => "CAST(NULL AS DATE)".into(),
        };
        let hour = match (&own_hour, has("hour")) {
            (_, true) => "TRY_CAST(hour AS INT)".to_string(),
            (Some(h), false) => format!("TRY_CAST({} AS INT)", sql_literal(h)),
            (None, false) => "CAST(NULL AS INT)".into(),
        };
        let cols: Vec<String> = COLUMNS.iter().map(|c| format!("\"{}\"", c.name)).collect();
        let sql = format!(
            "CREATE VIEW firn_files AS SELECT {}, {date} AS date, {hour} AS hour FROM firn_files_raw",
            cols.join(", ")
        );
        ctx.sql(&sql).await.map_err(QueryError::engine)?;
        for stmt in views_statements(Dialect::DataFusion) {
            ctx.sql(&stmt).await.map_err(QueryError::engine)?;
        }
        Ok(Self { ctx, data, layout })
    }

    /// The data folder (absolute).
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// What the folder held when the engine was opened.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Plans `sql` (one read-only statement) and starts it.
    ///
    /// # Errors
    /// The SQL does not parse or plan ([`QueryError::Sql`], with its position when known);
    /// it writes or changes something (only queries are allowed).
    pub async fn start(&self, sql: &str) -> Result<Running, QueryError> {
        check_depth(sql)?;
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = self
            .ctx
            .sql_with_options(sql, options)
            .await
            .map_err(|e| QueryError::sql(e, sql))?;
        let plan = df
            .create_physical_plan()
            .await
            .map_err(|e| QueryError::sql(e, sql))?;
        let stream = execute_stream(plan.clone(), self.ctx.task_ctx())
            .map_err(|e| QueryError::sql(e, sql))?;
        Ok(Running { plan, stream })
    }

    /// Runs `sql` and gathers every batch (for small results: the web API).
    ///
    /// # Errors
    /// As [`Engine::start`], and errors while reading the files.
    pub async fn collect(
        &self,
        sql: &str,
    ) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, QueryError> {
        use futures::TryStreamExt;
        let running = self.start(sql).await?;
        running
            .stream
            .try_collect()
            .await
            .map_err(|e| QueryError::sql(e, sql))
    }
}
