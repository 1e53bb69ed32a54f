//! [`LocalBlobStore`]: blobs as files under one directory, fsync'd before a commit returns.
//!
//! Layout: `tmp/<id>.tmp` holds a blob being written (its id is fixed at create);
//! `blobs/ab/abcdef…` holds committed blobs, fanned out by the first two hex characters of the
//! id. Commit renames the temporary file into place (cheap on one filesystem). Data dirs
//! written before ids were fixed at create (random temporary names) read the same.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tessera_core::{
    BlobId, BlobInfo, BlobStore, BlobWriter, ByteStream, Error, Millis, Result, TempInfo,
};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// Bytes gathered before they are handed to a blocking write.
const FLUSH_AT: usize = 1 << 20;
/// Chunks smaller than this are copied into a coalescing buffer; larger ones are written as-is.
const COALESCE_BELOW: usize = 64 << 10;
/// Size of a writer's first coalescing buffer. Each next one is twice the previous, up to
/// [`FLUSH_AT`]: buffer memory grows with the bytes actually received (a slow client that sent
/// a few bytes holds a few KiB, not a batch), and a fast upload reaches full-size buffers after
/// a handful of allocations, without copying.
const SMALL_FIRST: usize = 8 << 10;
/// Size of each read issued for a [`ByteStream`].
const READ_CHUNK: u64 = 512 << 10;

/// The store's two directories.
#[derive(Debug)]
struct Dirs {
    tmp: PathBuf,
    blobs: PathBuf,
}

impl Dirs {
    /// `blobs/ab/abcdef…` for a well-formed id (lowercase hex, at least 2 chars), else `None`.
    fn blob_path(&self, id: &BlobId) -> Option<PathBuf> {
        let s = id.as_str();
        if !valid_id(s) {
            return None;
        }
        Some(self.blobs.join(&s[..2]).join(s))
    }
}

/// Whether `s` names a committed blob (lowercase hex, at least 2 chars).
fn valid_id(s: &str) -> bool {
    s.len() >= 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Internal(format!("blob I/O task failed: {e}"))
}

/// Runs blocking file work off the async threads.
async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(join_error)?
        .map_err(Error::Io)
}

/// A file's modification time in [`Millis`] (0 if before the epoch).
fn modified_millis(meta: &fs::Metadata) -> io::Result<Millis> {
    let t = meta.modified()?;
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Ok(Millis::try_from(ms).unwrap_or(Millis::MAX))
}

/// The names in `dir`, sorted (a missing directory is empty).
fn sorted_names(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry?;
        match entry.file_name().into_string() {
            Ok(n) => names.push(n),
            Err(raw) => debug!(name = ?raw, "ignoring a non-UTF-8 name in the blob store"),
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// Metadata of `path` without following links; `None` if it vanished meanwhile.
fn stat(path: &Path) -> io::Result<Option<fs::Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Committed blobs with ids after `after`, at most `limit`, in id order: fan-out directories
/// in order, each read whole (1/256 of the store) and only as far as needed.
fn list_blobs(blobs: &Path, after: Option<&BlobId>, limit: usize) -> io::Result<Vec<BlobInfo>> {
    let after = after.map(BlobId::as_str);
    let mut out = Vec::new();
    for fan in sorted_names(blobs)? {
        if out.len() >= limit {
            break;
        }
        if fan.len() != 2 || !valid_id(&fan) {
            continue;
        }
        // Every id in fan `xy` starts with `xy`: skip fans wholly at or before `after`.
        if after.is_some_and(|a| fan.as_str() < a.get(..2).unwrap_or(a)) {
            continue;
        }
        let fan_dir = blobs.join(&fan);
        if !fs::symlink_metadata(&fan_dir)?.is_dir() {
            continue;
        }
        for name in sorted_names(&fan_dir)? {
            if out.len() >= limit {
                break;
            }
            if !valid_id(&name) || !name.starts_with(&fan) {
                debug!(path = %fan_dir.join(&name).display(), "ignoring stray file in blob store");
                continue;
            }
            if after.is_some_and(|a| name.as_str() <= a) {
                continue;
            }
            let Some(meta) = stat(&fan_dir.join(&name))? else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            out.push(BlobInfo {
                id: BlobId(name),
                size: meta.len(),
                modified: modified_millis(&meta)?,
            });
        }
    }
    Ok(out)
}

/// Whether `name` can only name an entry directly inside `tmp/`.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\'])
}

/// fsyncs a directory so entries created or renamed in it survive a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Blobs stored as files under a local directory.
#[derive(Clone, Debug)]
pub struct LocalBlobStore {
    dirs: Arc<Dirs>,
}

impl LocalBlobStore {
    /// Opens (creating if needed) a store rooted at `dir`, with `dir/tmp` and `dir/blobs`.
    pub fn open(dir: &Path) -> Result<LocalBlobStore> {
        let dirs = Dirs {
            tmp: dir.join("tmp"),
            blobs: dir.join("blobs"),
        };
        fs::create_dir_all(&dirs.tmp)?;
        fs::create_dir_all(&dirs.blobs)?;
        debug!(dir = %dir.display(), "opened local blob store");
        Ok(LocalBlobStore {
            dirs: Arc::new(dirs),
        })
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        let id = BlobId::random();
        let tmp_path = self.dirs.tmp.join(format!("{id}.tmp"));
        let dirs = self.dirs.clone();
        // The writer is made on the blocking thread: if this future is dropped meanwhile, the
        // task's output (the writer) is dropped with it, and its Drop removes the file.
        let writer = blocking(move || {
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp_path)?;
            Ok(LocalBlobWriter::new(dirs, id, tmp_path, file))
        })
        .await?;
        Ok(Box::new(writer))
    }

    async fn read(&self, id: &BlobId, offset: u64, len: u64) -> Result<ByteStream> {
        let Some(path) = self.dirs.blob_path(id) else {
            return Err(Error::BlobNotFound { id: id.clone() });
        };
        let opened = blocking(move || match File::open(&path) {
            Ok(file) => {
                let file_len = file.metadata()?.len();
                Ok(Some((file, file_len)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
        let Some((file, file_len)) = opened else {
            return Err(Error::BlobNotFound { id: id.clone() });
        };
        let end = offset.checked_add(len);
        if end.is_none_or(|end| end > file_len) {
            warn!(blob = %id, offset, len, file_len, "blob is shorter than the requested range");
            let err = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("blob {id} has {file_len} bytes, range {offset}+{len} requested"),
            );
            return Ok(Box::pin(futures::stream::once(async move { Err(err) })));
        }
        Ok(Box::pin(
            RangeReader::new(Arc::new(file), offset, len).into_stream(),
        ))
    }

    async fn delete(&self, id: &BlobId) -> Result<()> {
        let Some(path) = self.dirs.blob_path(id) else {
            warn!(blob = %id, "delete of an invalid blob id ignored");
            return Ok(());
        };
        blocking(move || match fs::remove_file(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        })
        .await
    }

    async fn list(&self, after: Option<&BlobId>, limit: usize) -> Result<Vec<BlobInfo>> {
        let blobs = self.dirs.blobs.clone();
        let after = after.cloned();
        blocking(move || list_blobs(&blobs, after.as_ref(), limit)).await
    }

    async fn list_temporary(&self, after: Option<&str>, limit: usize) -> Result<Vec<TempInfo>> {
        let tmp = self.dirs.tmp.clone();
        let after = after.map(str::to_owned);
        blocking(move || {
            let mut out = Vec::new();
            for name in sorted_names(&tmp)? {
                if out.len() >= limit {
                    break;
                }
                if after.as_deref().is_some_and(|a| name.as_str() <= a) {
                    continue;
                }
                if let Some(meta) = stat(&tmp.join(&name))? {
                    out.push(TempInfo {
                        modified: modified_millis(&meta)?,
                        name,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_temporary(&self, name: &str) -> Result<()> {
        if !plain_name(name) {
            // Only names from list_temporary reach here: anything else is a caller's bug.
            return Err(Error::Internal(format!(
                "not a temporary blob name: {name:?}"
            )));
        }
        let path = self.dirs.tmp.join(name);
        let removed = blocking(move || {
            let Some(meta) = stat(&path)? else {
                return Ok(false);
            };
            // Old releases could leave directories here too.
            let r = if meta.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match r {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await?;
        if removed {
            info!(name, "removed a temporary blob leftover");
        }
        Ok(())
    }
}

/// Writes the last bytes, makes the file durable, and moves it to `dest` durably.
fn finish_blob(
    file: io::Result<&mut File>,
    tmp_path: &Path,
    dest: &Path,
    blobs_dir: &Path,
) -> io::Result<()> {
    file?.sync_all()?;
    let fan = dest.parent().unwrap_or(blobs_dir);
    match fs::create_dir(fan) {
        // A new fan-out directory must itself be durable in `blobs/`.
        Ok(()) => sync_dir(blobs_dir)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    fs::rename(tmp_path, dest)?;
    sync_dir(fan)
}

/// Writes `bufs` to `file` and hands the file back.
fn file_with<'f>(file: &'f mut File, bufs: &[Bytes]) -> io::Result<&'f mut File> {
    write_bufs(file, bufs)?;
    Ok(file)
}

/// Writes all of `bufs` to `file`.
fn write_bufs(file: &mut File, bufs: &[Bytes]) -> io::Result<()> {
    for b in bufs {
        file.write_all(b)?;
    }
    Ok(())
}

type InflightWrite = JoinHandle<(File, io::Result<()>)>;

/// A blob being written to a temporary file. Writes are gathered into ~1 MiB batches; each batch
/// is written on a blocking thread while the next one is being gathered.
pub struct LocalBlobWriter {
    dirs: Arc<Dirs>,
    id: BlobId,
    /// `Some` until the blob is committed (or its commit failed and cleaned up).
    tmp_path: Option<PathBuf>,
    /// The file, when no write is in flight.
    file: Option<File>,
    /// The batch being written; it hands the file back when done.
    inflight: Option<InflightWrite>,
    /// Bytes received and not yet handed to a write, in order; `small` comes after them.
    pending: Vec<Bytes>,
    pending_len: usize,
    /// Coalesces small chunks.
    small: BytesMut,
    /// Capacity of the last coalescing buffer allocated (0: none yet).
    small_cap: usize,
    size: u64,
}

impl LocalBlobWriter {
    fn new(dirs: Arc<Dirs>, id: BlobId, tmp_path: PathBuf, file: File) -> Self {
        Self {
            dirs,
            id,
            tmp_path: Some(tmp_path),
            file: Some(file),
            inflight: None,
            pending: Vec::new(),
            pending_len: 0,
            small: BytesMut::new(),
            small_cap: 0,
            size: 0,
        }
    }

    /// Gets the file back, waiting for the write in flight if any.
    async fn take_file(&mut self) -> Result<File> {
        if let Some(handle) = self.inflight.take() {
            let (file, r) = handle.await.map_err(join_error)?;
            r?;
            return Ok(file);
        }
        self.file.take().ok_or_else(|| {
            Error::Internal("blob writer unusable after a failed or cancelled write".into())
        })
    }

    /// Moves the coalescing buffer to the end of `pending`.
    fn seal_small(&mut self) {
        if !self.small.is_empty() {
            let b = self.small.split().freeze();
            self.pending_len += b.len();
            self.pending.push(b);
        }
    }

    /// Copies a small chunk into the coalescing buffer. When the buffer is full it is sealed
    /// and a new one, twice as large (at most [`FLUSH_AT`]), takes the rest: memory grows only
    /// with the bytes received, and bytes are copied once.
    fn push_small(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = self.small.capacity() - self.small.len();
            if room == 0 {
                self.seal_small();
                self.small_cap = if self.small_cap == 0 {
                    SMALL_FIRST
                } else {
                    (self.small_cap * 2).min(FLUSH_AT)
                };
                self.small = BytesMut::with_capacity(self.small_cap);
                continue;
            }
            let n = room.min(data.len());
            self.small.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
    }

    /// Takes everything gathered so far.
    fn take_pending(&mut self) -> Vec<Bytes> {
        self.seal_small();
        self.pending_len = 0;
        std::mem::take(&mut self.pending)
    }

    /// Starts writing the gathered batch on a blocking thread.
    async fn start_flush(&mut self) -> Result<()> {
        let mut file = self.take_file().await?;
        let bufs = self.take_pending();
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            let r = write_bufs(&mut file, &bufs);
            (file, r)
        }));
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for LocalBlobWriter {
    fn id(&self) -> &BlobId {
        &self.id
    }

    async fn write(&mut self, data: Bytes) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.size += data.len() as u64;
        if data.len() < COALESCE_BELOW {
            self.push_small(&data);
        } else {
            self.seal_small();
            self.pending_len += data.len();
            self.pending.push(data);
        }
        if self.pending_len + self.small.len() >= FLUSH_AT {
            self.start_flush().await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<u64> {
        let mut file = self.take_file().await?;
        let bufs = self.take_pending();
        let tmp_path = self
            .tmp_path
            .take()
            .ok_or_else(|| Error::Internal("blob writer already committed".into()))?;
        let id = self.id.clone();
        let dest = self
            .dirs
            .blob_path(&id)
            .ok_or_else(|| Error::Internal(format!("generated an invalid blob id {id}")))?;
        let blobs_dir = self.dirs.blobs.clone();
        let size = self.size;
        // From here on the blocking task owns the temporary file and cleans up on failure,
        // even if this future is dropped.
        let r = blocking(move || {
            let r = finish_blob(file_with(&mut file, &bufs), &tmp_path, &dest, &blobs_dir);
            if r.is_err() {
                // Best effort: neither the temporary file nor a half-made blob should stay.
                let _ = fs::remove_file(&tmp_path);
                let _ = fs::remove_file(&dest);
            }
            r
        })
        .await;
        match r {
            Ok(()) => {
                debug!(blob = %id, size, "committed blob");
                Ok(size)
            }
            Err(e) => {
                warn!(blob = %id, error = %e, "blob commit failed");
                Err(e)
            }
        }
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        // A write may still be in flight: let it end first, so the unlink is the last word.
        // (Dropped meanwhile, the writer still owns its path and Drop removes the file.)
        if let Some(handle) = self.inflight.take() {
            let _ = handle.await;
        }
        let Some(path) = self.tmp_path.take() else {
            return Ok(());
        };
        // The blocking task runs to its end even if this future is dropped.
        blocking(move || match fs::remove_file(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        })
        .await
    }
}

impl Drop for LocalBlobWriter {
    fn drop(&mut self) {
        let Some(path) = self.tmp_path.take() else {
            return;
        };
        // A write may still be in flight; unlinking is fine on Unix, the open file keeps the inode.
        let remove = move || {
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    warn!(path = %path.display(), error = %e, "could not remove temporary blob file");
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }
}

/// Reads a byte range of a blob in [`READ_CHUNK`] pieces, one piece read ahead.
struct RangeReader {
    file: Arc<File>,
    /// Offset of the next piece to schedule.
    next: u64,
    /// Bytes not yet scheduled.
    left: u64,
    inflight: Option<JoinHandle<io::Result<Bytes>>>,
}

impl RangeReader {
    fn new(file: Arc<File>, offset: u64, len: u64) -> Self {
        let mut r = RangeReader {
            file,
            next: offset,
            left: len,
            inflight: None,
        };
        r.schedule();
        r
    }

    /// Starts reading the next piece, if any is left.
    fn schedule(&mut self) {
        if self.left == 0 {
            return;
        }
        let n = self.left.min(READ_CHUNK);
        let (file, off) = (self.file.clone(), self.next);
        self.next += n;
        self.left -= n;
        // `n` <= READ_CHUNK, so it fits in usize.
        let n = n as usize;
        // Allocated here, on the runtime's worker, which also frees it once sent: memory the
        // many short-lived blocking threads allocated would stay cached per thread.
        let buf = Vec::with_capacity(n);
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            read_exact_at(&file, off, n, buf)
        }));
    }

    fn into_stream(self) -> impl futures::Stream<Item = io::Result<Bytes>> + Send + 'static {
        futures::stream::unfold(self, |mut r| async move {
            let handle = r.inflight.take()?;
            match handle.await {
                Ok(Ok(bytes)) => {
                    r.schedule();
                    Some((Ok(bytes), r))
                }
                // Nothing more is scheduled, so the stream ends after the error.
                Ok(Err(e)) => Some((Err(e), r)),
                Err(e) => Some((Err(io::Error::other(e)), r)),
            }
        })
    }
}

/// Reads exactly `n` bytes at `off`; hitting the end of the file first is an error.
fn read_exact_at(file: &File, off: u64, n: usize, mut buf: Vec<u8>) -> io::Result<Bytes> {
    buf.clear();
    buf.resize(n, 0);
    let mut filled = 0;
    while filled < n {
        match pread(file, &mut buf[filled..], off + filled as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "blob ended at byte {}, expected {} more",
                        off + filled as u64,
                        n - filled
                    ),
                ))
            }
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Bytes::from(buf))
}

#[cfg(unix)]
fn pread(file: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, off)
}

#[cfg(windows)]
fn pread(file: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, off)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `create` whose caller goes away at any point leaves no temporary file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_create_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        for i in 0..200u64 {
            let create = store.create();
            let _ = tokio::time::timeout(std::time::Duration::from_micros(i % 50), create).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let left: Vec<_> = fs::read_dir(dir.path().join("tmp")).unwrap().collect();
        assert!(left.is_empty(), "{} temporary files left", left.len());
    }

    #[tokio::test]
    async fn small_writes_are_batched() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let path = dir.path().join("tmp").join("t");
        let mut w = LocalBlobWriter::new(
            store.dirs.clone(),
            BlobId::random(),
            path.clone(),
            File::create(&path).unwrap(),
        );
        // One tiny chunk reserves a small buffer, not a whole batch.
        w.write(Bytes::from_static(&[7; 100])).await.unwrap();
        assert_eq!(w.small.len(), 100);
        assert!(w.small.capacity() <= SMALL_FIRST, "{}", w.small.capacity());
        for _ in 1..1000 {
            w.write(Bytes::from_static(&[7; 100])).await.unwrap();
        }
        // 100 KB of tiny chunks: buffers doubling from SMALL_FIRST, no write started yet, and
        // no more memory than twice the bytes received.
        assert!(w.inflight.is_none());
        assert_eq!(w.pending_len + w.small.len(), 100_000);
        let held: usize = w.pending.iter().map(Bytes::len).sum::<usize>() + w.small.capacity();
        assert!(w.small_cap <= 2 * 100_000 && held <= 2 * 100_000, "{held}");
        assert!(w.pending.iter().all(|b| b.iter().all(|&x| x == 7)));
        // A large chunk is queued as-is, without copying.
        let big = Bytes::from(vec![1u8; 200_000]);
        let ptr = big.as_ptr();
        w.write(big).await.unwrap();
        assert!(w.inflight.is_none() && w.small.is_empty());
        assert_eq!(w.pending.last().map(|b| b.as_ptr()), Some(ptr));
        assert_eq!(w.pending_len, 300_000);
        // Past FLUSH_AT the batch goes out on a blocking thread.
        w.write(Bytes::from(vec![2u8; FLUSH_AT])).await.unwrap();
        assert!(w.inflight.is_some() && w.pending.is_empty() && w.small.is_empty());
        let file = w.take_file().await.unwrap();
        assert_eq!(file.metadata().unwrap().len(), 300_000 + FLUSH_AT as u64);
        assert_eq!(w.size, 300_000 + FLUSH_AT as u64);
        let mut expected = vec![7u8; 100_000];
        expected.extend(vec![1u8; 200_000]);
        expected.extend(vec![2u8; FLUSH_AT]);
        drop(file);
        assert!(std::fs::read(dir.path().join("tmp").join("t")).unwrap() == expected);
    }

    #[tokio::test]
    async fn small_buffers_grow_to_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let mut w = store.create().await.unwrap();
        // 4 MiB in 60 KiB chunks: every byte arrives, in order, through full-size buffers.
        let mut expected = Vec::new();
        for i in 0..70u8 {
            let chunk = vec![i; 60 << 10];
            expected.extend_from_slice(&chunk);
            w.write(Bytes::from(chunk)).await.unwrap();
        }
        let id = w.id().clone();
        let size = w.commit().await.unwrap();
        assert_eq!(size, expected.len() as u64);
        let path = store.dirs.blob_path(&id).unwrap();
        assert!(std::fs::read(path).unwrap() == expected);
    }
}
