//! What a query read: files and bytes in the folder, files left after the `date=/hour=`
//! folders were pruned, files and row groups skipped by Parquet statistics, bytes read.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

// `1.5 MiB`: the one byte formatter, `firn_schemas::units`.
use firn_schemas::units::format_bytes as human_bytes;

use datafusion::datasource::physical_plan::ParquetSource;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricValue;

/// How deep the walk of the data folder goes (date=/hour=/part-N/ is 3).
const MAX_DEPTH: usize = 8;

/// The Parquet files in a data folder, counted by walking it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Files firn would read (`*.parquet`, not hidden, not empty).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The folder has `date=` folders, or no files yet (firn writes `date=/hour=` folders).
    pub partitioned: bool,
    /// Files lying outside `date=` folders of a partitioned folder: not read.
    pub outside_partitions: u64,
}

impl Layout {
    /// Walks `dir` (symlinked folders are not followed).
    pub fn of(dir: &Path) -> Self {
        let mut l = Self::default();
        let mut has_date_dirs = false;
        let mut loose = 0u64;
        walk(dir, 0, false, &mut l, &mut has_date_dirs, &mut loose);
        l.partitioned = has_date_dirs || l.files == 0;
        if l.partitioned {
            l.outside_partitions = loose;
        }
        l
    }
}

fn walk(dir: &Path, depth: usize, inside: bool, l: &mut Layout, dates: &mut bool, loose: &mut u64) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            let is_date = depth == 0 && name.starts_with("date=");
            *dates |= is_date;
            if depth < MAX_DEPTH {
                walk(&entry.path(), depth + 1, inside || is_date, l, dates, loose);
            }
        } else if ft.is_file() && name.ends_with(".parquet") {
            let size = entry.metadata().map_or(0, |m| m.len());
            if size == 0 {
                continue;
            }
            l.files += 1;
            l.bytes += size;
            if !inside {
                *loose += 1;
            }
        }
    }
}

/// What one query read, from its plan's metrics after it ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Files in the folder (see [`Layout`]).
    pub files_total: u64,
    /// Their bytes.
    pub bytes_total: u64,
    /// Files the scan was given: those left after the `date=/hour=` folders were pruned.
    pub files_listed: u64,
    /// Their bytes.
    pub bytes_listed: u64,
    /// Of those, files skipped whole by their statistics (TIMESTAMP, RECORD_TYPE min/max).
    pub files_pruned_by_stats: u64,
    /// Row groups read.
    pub row_groups_read: u64,
    /// Row groups skipped by their statistics.
    pub row_groups_pruned: u64,
    /// Bytes the scan read (column chunks, page indexes); not the footers read at planning.
    pub bytes_read: u64,
    /// Rows in the result.
    pub rows_out: u64,
}

impl ScanReport {
    /// Reads the metrics of every Parquet scan in `plan`, against the folder's `layout`.
    pub fn of(plan: &Arc<dyn ExecutionPlan>, layout: &Layout, rows_out: u64) -> Self {
        let mut r = Self {
            files_total: layout.files,
            bytes_total: layout.bytes,
            rows_out,
            ..Self::default()
        };
        add_scans(plan, &mut r);
        r
    }

    /// Files read (listed and not skipped by statistics).
    pub fn files_read(&self) -> u64 {
        self.files_listed.saturating_sub(self.files_pruned_by_stats)
    }
}

fn add_scans(plan: &Arc<dyn ExecutionPlan>, r: &mut ScanReport) {
    if let Some(exec) = plan.downcast_ref::<DataSourceExec>()
        && let Some((config, _)) = exec.downcast_to_file_source::<ParquetSource>()
    {
        for group in &config.file_groups {
            for f in group.iter() {
                r.files_listed += 1;
                r.bytes_listed += f.object_meta.size;
            }
        }
        if let Some(m) = exec.metrics() {
            for metric in m.iter() {
                match metric.value() {
                    MetricValue::Count { name, count } if name == "bytes_scanned" => {
                        r.bytes_read += count.value() as u64;
                    }
                    MetricValue::PruningMetrics {
                        name,
                        pruning_metrics,
                    } => match name.as_ref() {
                        "files_ranges_pruned_statistics" => {
                            r.files_pruned_by_stats += pruning_metrics.pruned() as u64;
                        }
                        "row_groups_pruned_statistics" => {
                            r.row_groups_pruned += pruning_metrics.pruned() as u64;
                            r.row_groups_read += pruning_metrics.matched() as u64;
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
    }
    for child in plan.children() {
        add_scans(child, r);
    }
}

impl fmt::Display for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {} of {} files ({} skipped by date/hour folders, {} by statistics), \
             {} row groups ({} skipped by statistics), {} of {}; {} rows",
            self.files_read(),
            self.files_total,
            self.files_total.saturating_sub(self.files_listed),
            self.files_pruned_by_stats,
            self.row_groups_read,
            self.row_groups_pruned,
            human_bytes(self.bytes_read),
            human_bytes(self.bytes_total),
            self.rows_out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_people_do() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn the_walk_counts_parquet_files_and_sees_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("date=2026-12-01/hour=07/part-1");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            dir.path().join("date=2026-12-01/hour=07/a.parquet"),
            b"12345",
        )
        .unwrap();
        std::fs::write(p.join("b.parquet"), b"123").unwrap();
        std::fs::write(p.join(".b.parquet.tmp"), b"123").unwrap();
        std::fs::write(p.join("empty.parquet"), b"").unwrap();
        std::fs::write(dir.path().join("loose.parquet"), b"1").unwrap();
        let l = Layout::of(dir.path());
        assert_eq!(
            l,
            Layout {
                files: 3,
                bytes: 9,
                partitioned: true,
                outside_partitions: 1
            }
        );
        let flat = tempfile::tempdir().unwrap();
        std::fs::write(flat.path().join("x.parquet"), b"1").unwrap();
        assert!(!Layout::of(flat.path()).partitioned);
        assert!(Layout::of(tempfile::tempdir().unwrap().path()).partitioned);
    }
}
