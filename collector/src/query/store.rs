//! The local file system as DataFusion sees it, minus Parquet files that are not complete
//! yet: on a stage volume a file is written under its final name, so a listing can meet one
//! whose footer is not there. Such a file is left out of the listing (and counted in the
//! next one once it ends in `PAR1`), instead of failing the query.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

/// [`LocalFileSystem`] whose listings skip `.parquet` files without a Parquet footer.
#[derive(Debug)]
pub(crate) struct CompleteFiles {
    inner: Arc<LocalFileSystem>,
}

impl CompleteFiles {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(LocalFileSystem::new()),
        }
    }
}

impl fmt::Display for CompleteFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompleteFiles({})", self.inner)
    }
}

/// Whether the file ends with Parquet's magic `PAR1` (anything that is not `.parquet`, or
/// cannot be checked, is kept: the reader then says what is wrong).
pub(crate) fn complete(fs: &LocalFileSystem, meta: &ObjectMeta) -> bool {
    if !meta.location.as_ref().ends_with(".parquet") {
        return true;
    }
    if meta.size < 12 {
        return false;
    }
    let Ok(path) = fs.path_to_filesystem(&meta.location) else {
        return true;
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return true;
    };
    let mut tail = [0u8; 4];
    if f.seek(SeekFrom::Start(meta.size - 4)).is_err() || f.read_exact(&mut tail).is_err() {
        return true;
    }
    &tail == b"PAR1"
}

#[async_trait]
impl ObjectStore for CompleteFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let fs = self.inner.clone();
        self.inner
            .list(prefix)
            .try_filter(move |m| futures::future::ready(complete(&fs, m)))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let mut r = self.inner.list_with_delimiter(prefix).await?;
        r.objects.retain(|m| complete(&self.inner, m));
        Ok(r)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
