//! Bodies that are JSON or multipart (`_json` plus file parts), as thehive4py sends them.
//! Every part is read before anything is acted on; files stream into *staged* datastore
//! files under the upload limit (413 past it), which vanish unless the handler keeps them ([`Upload::take_staged`], then
//! `Datastore::keep_all` as the last step of its transaction): a refused request leaves no
//! file behind. `_json` is parsed whatever its filename or content type.

pub use crate::datastore::FilePart;
use crate::datastore::{StageError, Staged, MAX_ARCHIVE_ENTRIES};
use crate::error::ApiError;
use crate::extract::{parse_input, Input};
use crate::http::from_actix;
use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use std::collections::HashMap;

/// Most parts of one multipart body.
const MAX_PARTS: usize = 1_000;

/// Where uploads go and how large they may be (shared by the server with every handler).
#[derive(Debug, Clone)]
pub struct Uploads {
    /// Where files are stored.
    pub datastore: crate::datastore::Datastore,
    /// Largest multipart upload, bytes (`datastore.max_upload_bytes`).
    pub max_upload_bytes: u64,
    /// Largest JSON document, also inside a multipart body (`http.max_json_bytes`).
    pub max_json_bytes: usize,
}

/// A JSON or multipart body.
#[derive(Debug, Default)]
pub struct Upload {
    /// The JSON document (`_json` part of a multipart body); `None` if absent.
    pub json: Option<Vec<u8>>,
    /// Text fields of a multipart body other than `_json`.
    pub fields: HashMap<String, String>,
    /// Files of a multipart body, in order.
    pub files: Vec<FilePart>,
    /// Their staged content, not yet in the datastore.
    pub staged: Vec<Staged>,
}

impl Upload {
    /// Parses the JSON document (an absent one reads as `{}`), refusing unknown fields as
    /// [`parse_input`] does.
    pub fn parse<T: Input>(&self) -> Result<T, ApiError> {
        parse_input(self.json.as_deref().unwrap_or(b"{}"))
    }

    /// The files sent in the part named `field`.
    pub fn files_named<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a FilePart> + 'a {
        self.files.iter().filter(move |f| f.field == field)
    }

    /// The staged files, for the handler to keep once the request is accepted (dropped, they
    /// vanish).
    pub fn take_staged(&mut self) -> Vec<Staged> {
        std::mem::take(&mut self.staged)
    }

    /// Where the staged content with this SHA-256 can be read, before it is kept.
    pub fn staged_path(&self, sha256: &str) -> Option<&std::path::Path> {
        self.staged
            .iter()
            .find(|s| s.stored.sha256 == sha256)
            .map(Staged::path)
    }
}

/// Keeps the file name of a path sent by a client (`C:\tmp\a.eml` or `/tmp/a.eml` → `a.eml`):
/// never a directory part, a control character, `.` or `..`, nor more than 255 characters,
/// so that a worker joining it to its folder stays there.
pub fn base_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    let base: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    if base.is_empty() || base.chars().all(|c| c == '.') {
        "file".into()
    } else {
        base
    }
}

impl FromRequest for Upload {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_multipart = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        if !is_multipart {
            let bytes = web::Bytes::from_request(req, payload);
            return Box::pin(async move {
                let bytes = bytes.await.map_err(from_actix)?;
                Ok(Upload {
                    json: Some(bytes.to_vec()),
                    ..Upload::default()
                })
            });
        }
        let state = req.app_data::<web::Data<Uploads>>().cloned();
        let multipart = Multipart::new(req.headers(), payload.take());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("upload settings missing"))?;
            read_multipart(multipart, &state).await
        })
    }
}

async fn read_multipart(mut multipart: Multipart, state: &Uploads) -> Result<Upload, ApiError> {
    let max_text = state.max_json_bytes;
    let mut out = Upload::default();
    let mut total: u64 = 0;
    let too_large = |limit: u64| {
        ApiError::PayloadTooLarge(format!(
            "the upload is larger than the limit of {limit} bytes (datastore.max_upload_bytes)"
        ))
    };
    let mut parts = 0usize;
    while let Some(item) = multipart.next().await {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::BadRequest(format!(
                "Invalid multipart: more than {MAX_PARTS} parts"
            )));
        }
        let mut field =
            item.map_err(|e| ApiError::BadRequest(format!("Invalid multipart: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_string);
        let content_type = field.content_type().map(|m| m.essence_str().to_string());
        let is_file = filename.is_some() && name != "_json";
        if !is_file {
            let mut text = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk =
                    chunk.map_err(|e| ApiError::BadRequest(format!("Invalid multipart: {e}")))?;
                if text.len() + chunk.len() > max_text {
                    return Err(ApiError::PayloadTooLarge(format!(
                        "part {name} is larger than {max_text} bytes"
                    )));
                }
                text.extend_from_slice(&chunk);
            }
            total += text.len() as u64;
            if total > state.max_upload_bytes {
                return Err(too_large(state.max_upload_bytes));
            }
            if name == "_json" {
                out.json = Some(text);
            } else {
                out.fields
                    .insert(name, String::from_utf8_lossy(&text).into_owned());
            }
            continue;
        }
        let filename = base_name(filename.as_deref().unwrap_or("file"));
        let mut upload = state.datastore.begin().map_err(ApiError::internal)?;
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("Invalid multipart: {e}")))?;
            total += chunk.len() as u64;
            if total > state.max_upload_bytes {
                return Err(too_large(state.max_upload_bytes));
            }
            upload.write(&chunk).map_err(ApiError::internal)?;
        }
        let staged = state.datastore.finish(upload);
        let stored = staged.stored.clone();
        out.staged.push(staged);
        let content_type = content_type
            .filter(|c| c != "application/octet-stream" || filename.ends_with(".bin"))
            .unwrap_or_else(|| {
                mime_guess::from_path(&filename)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_string()
            });
        out.files.push(FilePart {
            field: name,
            filename,
            content_type,
            stored,
        });
    }
    Ok(out)
}

/// Replaces the zip files sent in part `field` by the files inside them (for observables
/// created with `isZip`), decrypting with `password` (ZipCrypto) when given. At most 10,000
/// entries and `datastore.max_upload_bytes` once inflated (413 past it, with nothing left
/// behind: the inflated files are staged like uploads).
pub fn unzip_parts(
    state: &Uploads,
    body: &mut Upload,
    field: &str,
    password: Option<&str>,
) -> Result<(), ApiError> {
    let bad = |e: String| ApiError::BadRequest(format!("Invalid zip file: {e}"));
    let mut out = Vec::new();
    let mut staged_out = Vec::new();
    let mut budget = state.max_upload_bytes;
    for f in std::mem::take(&mut body.files) {
        if f.field != field {
            out.push(f);
            continue;
        }
        let path = body
            .staged_path(&f.stored.sha256)
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| state.datastore.path_of(&f.stored.sha256));
        let file = std::fs::File::open(path).map_err(ApiError::internal)?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
        if zip.len() > MAX_ARCHIVE_ENTRIES {
            return Err(bad(format!("more than {MAX_ARCHIVE_ENTRIES} entries")));
        }
        for i in 0..zip.len() {
            let mut entry = match password {
                Some(p) => zip.by_index_decrypt(i, p.as_bytes()),
                None => zip.by_index(i),
            }
            .map_err(|e| bad(format!("{e} (wrong zipPassword?)")))?;
            if entry.is_dir() {
                continue;
            }
            let name = base_name(entry.name());
            let staged = state
                .datastore
                .stage_reader(&mut entry, &mut budget)
                .map_err(|e| match e {
                    StageError::TooLarge => ApiError::PayloadTooLarge(format!(
                        "the zip holds more than {} bytes (datastore.max_upload_bytes)",
                        state.max_upload_bytes
                    )),
                    StageError::Read(e) => bad(format!("{e} (wrong zipPassword?)")),
                    StageError::Store(e) => ApiError::internal(e),
                })?;
            out.push(FilePart {
                field: f.field.clone(),
                content_type: mime_guess::from_path(&name)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_string(),
                filename: name,
                stored: staged.stored.clone(),
            });
            staged_out.push(staged);
        }
    }
    body.files = out;
    // The zips themselves are not kept: only what they held.
    let still: std::collections::HashSet<String> =
        body.files.iter().map(|f| f.stored.sha256.clone()).collect();
    body.staged.retain(|s| still.contains(&s.stored.sha256));
    body.staged.extend(staged_out);
    Ok(())
}

/// [`unzip_parts`] on the blocking pool, for a handler.
pub async fn expand_zip(
    state: &Uploads,
    mut body: Upload,
    field: String,
    password: Option<String>,
) -> Result<Upload, ApiError> {
    let st = state.clone();
    web::block(move || {
        unzip_parts(&st, &mut body, &field, password.as_deref())?;
        Ok::<_, ApiError>(body)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Runs `f` in one transaction whose last step puts the `staged` files in place: the rows
/// and their files are written together, or neither (a failed commit after the files are
/// in place leaves them to the sweeper).
pub async fn write_keeping<T, F>(
    db: &crate::db::Db,
    datastore: &crate::datastore::Datastore,
    staged: Vec<Staged>,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, ApiError> + Send + 'static,
{
    let ds = datastore.clone();
    db.write(move |c| {
        let out = f(c)?;
        ds.keep_all(staged).map_err(ApiError::internal)?;
        Ok(out)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names() {
        assert_eq!(base_name("/tmp/feeder/Invoice.eml"), "Invoice.eml");
        assert_eq!(base_name("C:\\Users\\x\\a.pdf"), "a.pdf");
        assert_eq!(base_name(""), "file");
        assert_eq!(base_name(".."), "file");
        assert_eq!(base_name("a\\.."), "file");
        assert_eq!(base_name("."), "file");
        assert_eq!(base_name(".profile"), ".profile");
    }
}
