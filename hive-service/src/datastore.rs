//! The datastore: files stored once by the SHA-256 of their content, under
//! `<datastore.path>/<first two hex digits>/<sha256>`. Uploads are streamed to a temporary
//! file in the same directory while their hashes are computed, then renamed into place, so
//! a reader never sees a partial file and a crash leaves at most a temporary file behind.

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

    /// Finishes an upload: the file is in place under its hash.
    pub fn commit(&self, upload: Upload) -> std::io::Result<Stored> {
        let Upload {
            file,
            sha256,
            sha1,
            md5,
            size,
        } = upload;
        let stored = Stored {
            sha256: hex::encode(sha256.finalize()),
            sha1: hex::encode(sha1.finalize()),
            md5: hex::encode(md5.finalize()),
            size,
        };
        let target = self.path_of(&stored.sha256);
        if target.exists() {
            // Already stored (and synced when it was): the copy is dropped unsynced.
            return Ok(stored);
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        file.as_file().sync_all()?;
        file.persist(&target).map_err(|e| e.error)?;
        Ok(stored)
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
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type.to_string()))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ))
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
}
