//! The datastore: files stored once by the SHA-256 of their content, under
//! `<datastore.path>/<first two hex digits>/<sha256>`. Uploads are streamed to a temporary
//! file in `tmp/` while their hashes are computed ([`Upload`]), become [`Staged`] files
//! (hashed, synced, still temporary: dropped, they vanish), and are [`Datastore::keep`]t,
//! renamed into place, only once the request that brought them is accepted, as the last
//! step of its transaction. So a refused request (403, 413, a bad zip...) leaves nothing
//! behind, a reader never sees a partial file, and a crash leaves at most a temporary file,
//! which [`sweep`] removes with files that no row references any more.

use crate::error::ApiError;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file on its way into the datastore.
pub struct Upload {
    file: tempfile::NamedTempFile,
    sha256: Sha256,
    sha1: Sha1,
    md5: Md5,
    size: u64,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload").field("size", &self.size).finish()
    }
}

impl Upload {
    /// Appends a chunk.
    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.write_all(chunk)?;
        self.sha256.update(chunk);
        self.sha1.update(chunk);
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// What the datastore knows of a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// SHA-256, hex: the storage id.
    pub sha256: String,
    /// SHA-1, hex.
    pub sha1: String,
    /// MD5, hex.
    pub md5: String,
    /// Size in bytes.
    pub size: u64,
}

/// A file received in a multipart body, already in the datastore.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// Name of the form part (`attachment`, `attachments`, or a key of `attachment_map`).
    pub field: String,
    /// The file's name (directories stripped).
    pub filename: String,
    /// MIME type sent, else guessed from the name.
    pub content_type: String,
    /// Hashes and size.
    pub stored: Stored,
}

/// A file received and hashed but not yet in the datastore: deleted when dropped, unless
/// [`Datastore::keep`] puts it in place.
pub struct Staged {
    file: tempfile::NamedTempFile,
    /// Its hashes and size.
    pub stored: Stored,
}

impl Staged {
    /// Where its content can be read meanwhile.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("stored", &self.stored)
            .finish()
    }
}

/// The datastore directory.
#[derive(Debug, Clone)]
pub struct Datastore {
    root: PathBuf,
}

impl Datastore {
    /// Opens (creating) the directory.
    pub fn open(root: &Path) -> std::io::Result<Datastore> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Datastore {
            root: root.to_path_buf(),
        })
    }

    /// Starts an upload.
    pub fn begin(&self) -> std::io::Result<Upload> {
        Ok(Upload {
            file: tempfile::NamedTempFile::new_in(self.root.join("tmp"))?,
            sha256: Sha256::new(),
            sha1: Sha1::new(),
            md5: Md5::new(),
            size: 0,
        })
    }

    /// Finishes an upload's hashes: a staged file, not yet in place.
    pub fn finish(&self, upload: Upload) -> Staged {
        let Upload {
            file,
            sha256,
            sha1,
            md5,
            size,
        } = upload;
        Staged {
            file,
            stored: Stored {
                sha256: hex::encode(sha256.finalize()),
                sha1: hex::encode(sha1.finalize()),
                md5: hex::encode(md5.finalize()),
                size,
            },
        }
    }

    /// Puts a staged file in place under its hash. A file already there is kept (and
    /// marked recent, so that the sweeper does not take it while a new row is about to
    /// reference it); the copy is dropped unsynced.
    pub fn keep(&self, staged: Staged) -> std::io::Result<Stored> {
        let Staged { file, stored } = staged;
        let target = self.path_of(&stored.sha256);
        if target.exists() {
            let f = std::fs::OpenOptions::new().append(true).open(&target)?;
            f.set_modified(std::time::SystemTime::now())?;
            return Ok(stored);
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        file.as_file().sync_all()?;
        file.persist(&target).map_err(|e| e.error)?;
        Ok(stored)
    }

    /// Puts several staged files in place (the last step of a request's transaction).
    pub fn keep_all(&self, staged: Vec<Staged>) -> std::io::Result<()> {
        for s in staged {
            self.keep(s)?;
        }
        Ok(())
    }

    /// Finishes an upload and puts it in place at once (files that need no request's
    /// consent: results fetched from Cortex).
    pub fn commit(&self, upload: Upload) -> std::io::Result<Stored> {
        self.keep(self.finish(upload))
    }

    /// Stages what `from` yields (an archive's entry), counted against `budget`, the bytes
    /// still allowed and decreased as they are read (not as an archive declares them): past
    /// it, [`StageError::TooLarge`], and the partial file is gone.
    pub fn stage_reader(
        &self,
        from: &mut dyn std::io::Read,
        budget: &mut u64,
    ) -> Result<Staged, StageError> {
        let mut up = self.begin().map_err(StageError::Store)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = from.read(&mut buf).map_err(StageError::Read)?;
            if n == 0 {
                return Ok(self.finish(up));
            }
            *budget = budget.checked_sub(n as u64).ok_or(StageError::TooLarge)?;
            up.write(&buf[..n]).map_err(StageError::Store)?;
        }
    }

    /// Stages bytes in one go.
    pub fn stage(&self, bytes: &[u8]) -> std::io::Result<Staged> {
        let mut up = self.begin()?;
        up.write(bytes)?;
        Ok(self.finish(up))
    }

    /// Stores bytes in one go.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<Stored> {
        let mut up = self.begin()?;
        up.write(bytes)?;
        self.commit(up)
    }

    /// Where the file with this SHA-256 lives (whether or not it exists).
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let clean: String = sha256
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(64)
            .collect();
        let prefix: String = clean.chars().take(2).collect();
        self.root.join(prefix).join(clean)
    }
}

/// Most entries read from one archive (a zip observable, a case archive).
pub const MAX_ARCHIVE_ENTRIES: usize = 10_000;

/// Why [`Datastore::stage_reader`] stopped.
#[derive(Debug)]
pub enum StageError {
    /// More than the budget.
    TooLarge,
    /// The source failed (a damaged entry, a wrong password).
    Read(std::io::Error),
    /// The datastore failed.
    Store(std::io::Error),
}

/// What one pass of the sweeper did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Stored files removed (no row referenced them).
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Temporary files removed (left by a crash or a cut connection).
    pub temporary: usize,
}

/// Answers, for a batch of SHA-256s, those some row references (for [`Datastore::sweep`]).
pub type Referenced<'a> =
    dyn FnMut(&[String]) -> Result<std::collections::HashSet<String>, String> + 'a;

fn older_than(meta: &std::fs::Metadata, grace: std::time::Duration) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age >= grace)
}

impl Datastore {
    /// One pass of the sweeper: removes temporary files older than `grace`, and stored files
    /// older than `grace` that no row references. `referenced` answers, for a batch of
    /// SHA-256s, those some row references. A file is looked at again just before it goes,
    /// so one kept meanwhile (its time refreshed by [`Datastore::keep`]) stays.
    pub fn sweep(
        &self,
        grace: std::time::Duration,
        referenced: &mut Referenced<'_>,
    ) -> Result<Swept, String> {
        let mut out = Swept::default();
        let tmp = self.root.join("tmp");
        for entry in std::fs::read_dir(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))? {
            let Ok(entry) = entry else { continue };
            if entry
                .metadata()
                .is_ok_and(|m| m.is_file() && older_than(&m, grace))
                && std::fs::remove_file(entry.path()).is_ok()
            {
                out.temporary += 1;
            }
        }
        let mut candidates = Vec::new();
        let dirs =
            std::fs::read_dir(&self.root).map_err(|e| format!("{}: {e}", self.root.display()))?;
        for dir in dirs.flatten() {
            let name = dir.file_name().to_string_lossy().to_string();
            if name.len() != 2 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for f in files.flatten() {
                let sha = f.file_name().to_string_lossy().to_string();
                if sha.len() == 64
                    && sha.starts_with(&name)
                    && f.metadata()
                        .is_ok_and(|m| m.is_file() && older_than(&m, grace))
                {
                    candidates.push(sha);
                }
            }
        }
        for batch in candidates.chunks(500) {
            let kept = referenced(batch)?;
            for sha in batch.iter().filter(|s| !kept.contains(*s)) {
                let path = self.path_of(sha);
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if older_than(&meta, grace) && std::fs::remove_file(&path).is_ok() {
                    out.files += 1;
                    out.bytes += meta.len();
                }
            }
        }
        Ok(out)
    }
}

/// Of a batch of SHA-256s, those some row references (see [`SweepQueries::referenced`]).
pub type ReferencedIn = fn(
    &mut crate::db::DbConn,
    &[String],
    &mut Option<std::collections::HashSet<String>>,
) -> Result<std::collections::HashSet<String>, String>;

/// What a service's sweeper asks its own database.
#[derive(Debug, Clone, Copy)]
pub struct SweepQueries {
    /// Of a batch of SHA-256s, those some row references; `pass` is this pass's own memory
    /// (a service may load every reference once per pass there).
    pub referenced: ReferencedIn,
    /// Removes the expired sessions; answers how many.
    pub purge_sessions: fn(&mut crate::db::DbConn) -> diesel::QueryResult<usize>,
}

impl SweepQueries {
    /// `referenced`, and the expired sessions of the kit's session store.
    pub const fn new(referenced: ReferencedIn) -> SweepQueries {
        SweepQueries {
            referenced,
            purge_sessions: crate::auth::session::purge_expired,
        }
    }
}

/// Every `interval_secs` (0: never): removes the files no row references (older than
/// `grace_secs`), leftover temporary files and the expired sessions.
pub fn start_sweeper(
    db: crate::db::Db,
    datastore: Datastore,
    interval_secs: u64,
    grace_secs: u64,
    queries: SweepQueries,
) {
    if interval_secs == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (db, ds) = (db.clone(), datastore.clone());
            let pass = tokio::task::spawn_blocking(move || -> Result<(), String> {
                let mut conn = db.get().map_err(|e| e.to_string())?;
                let mut memory = None;
                let swept = ds.sweep(std::time::Duration::from_secs(grace_secs), &mut |batch| {
                    (queries.referenced)(&mut conn, batch, &mut memory)
                })?;
                drop(conn);
                let sessions = db
                    .write_blocking(|c| Ok((queries.purge_sessions)(c)?))
                    .map_err(|e| e.to_string())?;
                if swept.files + swept.temporary + sessions > 0 {
                    tracing::info!(
                        files = swept.files,
                        bytes = swept.bytes,
                        temporary = swept.temporary,
                        sessions,
                        "swept unreferenced files and expired sessions"
                    );
                }
                Ok(())
            })
            .await;
            match pass {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "datastore sweep failed"),
                Err(e) => tracing::warn!(error = %e, "datastore sweep stopped"),
            }
        }
    });
}

/// A content type fit to store and answer: the `given` one when it is a well-formed MIME
/// type (its essence, at most 255 characters), else the one guessed from the file's name.
pub fn content_type(given: &str, name: &str) -> String {
    match given.trim().parse::<mime_guess::mime::Mime>() {
        Ok(m) if m.essence_str().len() <= 255 => m.essence_str().to_string(),
        _ => mime_guess::from_path(name)
            .first_or_octet_stream()
            .essence_str()
            .to_string(),
    }
}

/// The CSP of a downloaded file: nothing runs, as in a sandboxed frame of no origin.
const DOWNLOAD_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Answers a stored file, as is or zipped with the password `malware`.
pub async fn send_file(
    datastore: &Datastore,
    sha256: &str,
    name: &str,
    content_type: &str,
    as_zip: bool,
) -> Result<HttpResponse, ApiError> {
    let path = datastore.path_of(sha256);
    // Any control character or quote would make an invalid header (a 500): replace them.
    let name: String = name
        .chars()
        .map(|c| if c.is_control() || c == '"' { '_' } else { c })
        .collect();
    if !as_zip {
        let bytes = tokio::fs::read(&path).await.map_err(|e| {
            ApiError::NotFound(format!("file {sha256} is missing from the datastore: {e}"))
        })?;
        // Stored types are checked when stored; one that would still make a bad header is
        // answered as what it is to a browser: bytes.
        let content_type = match header::HeaderValue::from_str(content_type) {
            Ok(_) => content_type.to_string(),
            Err(_) => "application/octet-stream".to_string(),
        };
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ))
            // Never rendered as a page of this origin, even if a browser is told to open it.
            .insert_header((header::CONTENT_SECURITY_POLICY, DOWNLOAD_CSP))
            .body(bytes));
    }
    let entry = name.clone();
    let zipped = web::block(move || -> Result<Vec<u8>, String> {
        use zip::unstable::write::FileOptionsExt;
        let content = std::fs::read(&path).map_err(|e| e.to_string())?;
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .with_deprecated_encryption(b"malware");
        w.start_file(entry, options).map_err(|e| e.to_string())?;
        w.write_all(&content).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/zip"))
        .insert_header((header::CONTENT_SECURITY_POLICY, DOWNLOAD_CSP))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.zip\""),
        ))
        .body(zipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_mime_types_or_guessed() {
        assert_eq!(
            content_type("text/plain; charset=utf-8", "a.bin"),
            "text/plain"
        );
        assert_eq!(content_type("not a type\n", "mail.eml"), "message/rfc822");
        assert_eq!(content_type("", "x.unknownext"), "application/octet-stream");
    }

    #[test]
    fn stores_once_by_content_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ds = Datastore::open(dir.path()).expect("open");
        let a = ds.put(b"hello").expect("put");
        assert_eq!(
            a.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(a.md5, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(a.size, 5);
        let b = ds.put(b"hello").expect("put again");
        assert_eq!(a, b);
        assert_eq!(
            std::fs::read(ds.path_of(&a.sha256)).expect("read"),
            b"hello"
        );
        assert!(ds.path_of("../../etc/passwd").starts_with(dir.path()));
    }

    #[test]
    fn staged_files_vanish_unless_kept_and_the_sweeper_takes_only_orphans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ds = Datastore::open(dir.path()).expect("open");
        let dropped = ds.stage(b"refused").expect("stage");
        let sha = dropped.stored.sha256.clone();
        drop(dropped);
        assert!(!ds.path_of(&sha).exists());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .count(),
            0
        );
        let kept = ds.keep(ds.stage(b"kept").expect("stage")).expect("keep");
        let orphan = ds.keep(ds.stage(b"orphan").expect("stage")).expect("keep");
        // Nothing is old enough yet.
        let none = ds
            .sweep(std::time::Duration::from_secs(3600), &mut |_| {
                Ok(Default::default())
            })
            .expect("sweep");
        assert_eq!(none, Swept::default());
        let keep_one = kept.sha256.clone();
        let swept = ds
            .sweep(std::time::Duration::ZERO, &mut |batch| {
                Ok(batch.iter().filter(|s| **s == keep_one).cloned().collect())
            })
            .expect("sweep");
        assert_eq!((swept.files, swept.bytes), (1, 6));
        assert!(ds.path_of(&kept.sha256).exists());
        assert!(!ds.path_of(&orphan.sha256).exists());
    }
}
