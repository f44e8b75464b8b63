//! `Native_FileInfo`: what a file is and what it holds, in process (the replacement for
//! Cortex-Analyzers' FileInfo, with no Python).
//!
//! The report's `full` gives the name, size, MD5/SHA-1/SHA-256/SHA-512, the type by content
//! (`filetype`, `mimetype`), the Shannon entropy and, per format found, a section: `ole`
//! (OLE2 streams and VBA macros, decompressed per MS-OVBA), `ooxml` (members, macros,
//! external relationships), `pdf` (pdfid-style keyword counts, URIs), `pe` / `elf` (headers,
//! sections, imports) and `zip` (entries, encryption, members unpacked as artifacts within
//! `max_unpacked`). `full.verdict` gives the level and its reasons, the first of which is
//! the `FileInfo:Verdict` taxonomy. A malformed structure is noted in its section's
//! `errors`; no input makes the analyzer panic or work without bound, and every list is
//! capped at [`MAX_LIST`] entries (`<list>_total` and `<list>_capped` say how many there were).

use super::{Found, Job, Report, Taxonomy};
use crate::config::NativeSettings;
use serde_json::{json, Map, Value};
use sha2::Digest;
use std::collections::{BTreeMap, HashSet};
use std::io::{Cursor, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Taxonomy namespace.
const NS: &str = "FileInfo";
/// Most entries of any list in the report.
pub const MAX_LIST: usize = 1000;
/// Most files unpacked as artifacts.
const MAX_EMBEDDED: usize = 100;
/// Most bytes of one VBA module's source decompressed.
const MAX_VBA_SOURCE: usize = 4 << 20;
/// Most characters of a module's source quoted in the report.
const MAX_CODE_QUOTED: usize = 20_000;
/// Most bytes read of an OOXML part that is parsed (content types, relationships).
const MAX_PART: u64 = 4 << 20;
/// Tags of an unpacked file.
const EMBEDDED_TAGS: &[&str] = &["fileinfo:embedded", "autoImport:false"];
/// Tags of a URL found in a document.
const LINK_TAGS: &[&str] = &["fileinfo:link"];

/// VBA procedures Office runs by itself (olevba's list, the common ones).
#[rustfmt::skip]
const AUTO_EXEC: &[&str] = &[
    "AutoExec", "AutoOpen", "AutoClose", "AutoExit", "AutoNew", "Auto_Open", "Auto_Close",
    "DocumentOpen", "DocumentBeforeClose", "DocumentChange", "NewDocument", "Document_Open",
    "Document_Close", "Document_BeforeClose", "Document_New", "Workbook_Open",
    "Workbook_Activate", "Workbook_Close", "Workbook_BeforeClose", "Workbook_Deactivate",
];

/// VBA keywords of droppers and downloaders.
#[rustfmt::skip]
const VBA_SUSPICIOUS: &[&str] = &[
    "Shell", "ShellExecute", "CreateObject", "GetObject", "WScript", "PowerShell",
    "URLDownloadToFile", "Environ", "Chr(", "ChrW(", "ChrB(", "Chr$(", "Base64", "CallByName",
    "ExecuteExcel4Macro", "XMLHTTP", "ADODB.Stream", "SaveToFile", "VirtualAlloc",
    "RtlMoveMemory", "CreateThread", "StrReverse", "cmd.exe", "mshta", "rundll32", "regsvr32",
    "certutil",
];

/// PDF names counted (pdfid's; `/Page` gives the page count).
#[rustfmt::skip]
const PDF_KEYWORDS: &[&str] = &[
    "JavaScript", "JS", "OpenAction", "AA", "Launch", "EmbeddedFile", "URI", "ObjStm", "XFA",
    "Encrypt", "AcroForm", "RichMedia", "Page",
];

/// Extensions of archive members that run when opened.
#[rustfmt::skip]
const RISKY_EXTENSIONS: &[&str] = &[
    "exe", "scr", "com", "pif", "cpl", "dll", "sys", "msi", "msp", "js", "jse", "vbs", "vbe",
    "wsf", "wsh", "hta", "bat", "cmd", "ps1", "psm1", "lnk", "jar", "reg", "scf", "iso", "img",
    "vhd", "vhdx", "chm", "xll", "appref-ms", "sh",
];

/// Runs the analyzer on the job's file.
pub fn run(job: &Job, settings: &NativeSettings) -> Result<Report, String> {
    let (bytes, name) = job
        .file
        .as_ref()
        .ok_or("Native_FileInfo needs a file observable")?;
    analyze(bytes, name, settings.max_unpacked_bytes)
}

/// What the analysis gathers besides the sections.
struct Ctx {
    malicious: Vec<String>,
    suspicious: Vec<String>,
    artifacts: Vec<Found>,
    urls: Vec<String>,
    seen_urls: HashSet<String>,
    /// Bytes that may still be unpacked (archive members, VBA sources, OOXML parts).
    budget: u64,
    /// Bytes that OLE2 streams may still give (they may share their sectors).
    read_left: u64,
}

impl Ctx {
    fn flag(&mut self, malicious: bool, reason: impl Into<String>) {
        let list = if malicious {
            &mut self.malicious
        } else {
            &mut self.suspicious
        };
        let reason = reason.into();
        if !list.contains(&reason) && list.len() < MAX_LIST {
            list.push(reason);
        }
    }

    /// An http(s) URL to give as an artifact.
    fn url(&mut self, url: &str) {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if (lower.starts_with("http://") || lower.starts_with("https://"))
            && self.urls.len() < MAX_LIST
            && self.seen_urls.insert(url.to_string())
        {
            self.urls.push(url.to_string());
        }
    }
}

/// Runs `f`, turning a parser's panic into `None` (the crates reading hostile structures
/// are not trusted never to panic).
fn guard<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// The section given when a parser failed.
fn parser_failure() -> Value {
    json!({"errors": ["the structure could not be read (parser failure)"]})
}

/// Analyses `bytes`, named `name`, unpacking at most `max_unpacked` bytes; an empty file is
/// the only error.
pub fn analyze(bytes: &[u8], name: &str, max_unpacked: u64) -> Result<Report, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let mut full = json!({
        "filename": name, "size": bytes.len(),
        "md5": hex::encode(md5::Md5::digest(bytes)),
        "sha1": hex::encode(sha1::Sha1::digest(bytes)),
        "sha256": hex::encode(sha2::Sha256::digest(bytes)),
        "sha512": hex::encode(sha2::Sha512::digest(bytes)),
        "entropy": round2(entropy(bytes)),
    });
    let mut ctx = Ctx {
        malicious: Vec::new(),
        suspicious: Vec::new(),
        artifacts: Vec::new(),
        urls: Vec::new(),
        seen_urls: HashSet::new(),
        budget: max_unpacked,
        read_left: (bytes.len() as u64).saturating_mul(4).max(64 << 20),
    };
    let mut found = Map::new();
    let (filetype, mimetype) = sections(bytes, &mut found, &mut ctx);
    let level = if !ctx.malicious.is_empty() {
        "malicious"
    } else if !ctx.suspicious.is_empty() {
        "suspicious"
    } else {
        "safe"
    };
    let reasons = [
        std::mem::take(&mut ctx.malicious),
        std::mem::take(&mut ctx.suspicious),
    ]
    .concat();
    let shown = reasons
        .first()
        .cloned()
        .unwrap_or_else(|| "no threat found".into());
    if let Value::Object(o) = &mut full {
        o.extend(found);
        o.insert("filetype".into(), json!(filetype));
        o.insert("mimetype".into(), json!(mimetype));
        o.insert(
            "verdict".into(),
            json!({"level": level, "reasons": reasons}),
        );
    }
    let mut artifacts = std::mem::take(&mut ctx.artifacts);
    artifacts.extend(
        ctx.urls
            .iter()
            .map(|u| Found::value("url", u.as_str(), LINK_TAGS)),
    );
    Ok(Report {
        full,
        taxonomies: vec![
            Taxonomy::new("info", NS, "Filetype", filetype.as_str()),
            Taxonomy::new(level, NS, "Verdict", shown),
        ],
        artifacts,
        operations: Vec::new(),
    })
}

/// Detects the type, adds the format's section to `full`; gives (filetype, mimetype).
fn sections(bytes: &[u8], full: &mut Map<String, Value>, ctx: &mut Ctx) -> (String, String) {
    const OLE2: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    let s = |t: &str, m: &str| (t.to_string(), m.to_string());
    if bytes.starts_with(OLE2) {
        let (section, mime) = guard(|| ole_section(bytes, ctx)).unwrap_or((parser_failure(), None));
        full.insert("ole".into(), section);
        return s("OLE2", mime.unwrap_or("application/x-ole-storage"));
    }
    if find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some() {
        let section = guard(|| pdf_section(bytes, ctx)).unwrap_or_else(parser_failure);
        full.insert("pdf".into(), section);
        return s("PDF", "application/pdf");
    }
    if bytes.starts_with(b"MZ") && bytes.len() >= 64 {
        let (section, filetype) =
            guard(|| pe_section(bytes)).unwrap_or_else(|| (parser_failure(), "PE"));
        full.insert("pe".into(), section);
        ctx.flag(false, format!("executable ({filetype})"));
        return s(filetype, "application/vnd.microsoft.portable-executable");
    }
    if bytes.starts_with(b"\x7fELF") {
        let section = guard(|| elf_section(bytes)).unwrap_or_else(parser_failure);
        full.insert("elf".into(), section);
        ctx.flag(false, "executable (ELF)");
        return s("ELF", "application/x-executable");
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        let (key, section, filetype, mime) = guard(|| zip_sections(bytes, ctx))
            .unwrap_or_else(|| ("zip", parser_failure(), "ZIP", "application/zip".into()));
        full.insert(key.into(), section);
        return (filetype.into(), mime);
    }
    if bytes.starts_with(b"{\\rt") {
        return s("RTF", "text/rtf");
    }
    if let Some(t) = guard(|| infer::get(bytes)).flatten() {
        return s(&t.extension().to_ascii_uppercase(), t.mime_type());
    }
    if looks_like_text(bytes) {
        s("TEXT", "text/plain")
    } else {
        s("DATA", "application/octet-stream")
    }
}

/// Shannon entropy in bits per byte.
fn entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for b in bytes {
        counts[*b as usize] += 1;
    }
    let n = bytes.len().max(1) as f64;
    let h: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| *c as f64 / n)
        .map(|p| -p * p.log2())
        .sum();
    h.max(0.0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// UTF-8 with no control characters but usual whitespace, over the first 64 KiB.
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64 << 10)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A character cut by the 64 KiB limit is fine.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1b'))
}

/// The first [`MAX_LIST`] items.
fn capped<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Vec<Value> {
    items.into_iter().take(MAX_LIST).map(Into::into).collect()
}

/// Reads at most `cap` bytes; `true` when there was more.
fn read_bounded(reader: impl Read, cap: u64) -> std::io::Result<(Vec<u8>, bool)> {
    let mut buf = Vec::new();
    reader.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    let over = buf.len() as u64 > cap;
    if over {
        buf.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
    }
    Ok((buf, over))
}

// ---------------------------------------------------------------- OLE2 and VBA

type Cfb<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

/// An entry of a compound file.
struct OleEntry {
    path: String,
    name: String,
    stream: bool,
    size: u64,
}

impl OleEntry {
    /// The remainder of the path under `storage`, if the entry is below it.
    fn under(&self, storage: &str) -> Option<&str> {
        self.path.strip_prefix(storage)?.strip_prefix('/')
    }
}

/// The `ole` section and the MIME type of the Office application found.
fn ole_section(bytes: &[u8], ctx: &mut Ctx) -> (Value, Option<&'static str>) {
    let mut errors = Vec::new();
    let mut comp: Option<Cfb> = match cfb::CompoundFile::open(Cursor::new(bytes)) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(format!("cannot read the OLE2 structure: {e}"));
            None
        }
    };
    let entries: Vec<OleEntry> = comp
        .iter()
        .flat_map(|c| c.walk().take(100_000))
        .map(|e| OleEntry {
            path: e.path().to_string_lossy().into_owned(),
            name: e.name().to_string(),
            stream: e.is_stream(),
            size: e.len(),
        })
        .collect();
    let streams: Vec<&OleEntry> = entries.iter().filter(|e| e.stream).collect();
    let has = |n: &str| streams.iter().any(|e| e.name == n);
    let (application, mime) = if has("WordDocument") {
        ("Word", Some("application/msword"))
    } else if has("Workbook") || has("Book") {
        ("Excel", Some("application/vnd.ms-excel"))
    } else if has("PowerPoint Document") {
        ("PowerPoint", Some("application/vnd.ms-powerpoint"))
    } else if streams.iter().any(|e| e.name.starts_with("__substg1.0_")) {
        ("Outlook", Some("application/vnd.ms-outlook"))
    } else {
        ("unknown", None)
    };
    let vba_storages: Vec<String> = entries
        .iter()
        .filter(|e| !e.stream && e.name.eq_ignore_ascii_case("VBA"))
        .map(|e| e.path.clone())
        .collect();
    let macros = !vba_storages.is_empty()
        || entries.iter().any(|e| {
            let n = &e.name;
            (e.stream && n.eq_ignore_ascii_case("_VBA_PROJECT"))
                || (!e.stream && (n == "Macros" || n.eq_ignore_ascii_case("_VBA_PROJECT_CUR")))
        });
    let mut modules = Vec::new();
    match &mut comp {
        Some(comp) => {
            for storage in vba_storages.iter().take(16) {
                modules.extend(vba_project(comp, storage, &entries, ctx, &mut errors));
            }
        }
        None => {
            // Office opens some files strict parsers reject: VBA searched in the raw bytes.
            let cap = MAX_VBA_SOURCE.min(usize::try_from(ctx.budget).unwrap_or(usize::MAX));
            for code in vba_containers(bytes, cap, 64) {
                ctx.budget = ctx.budget.saturating_sub(code.len() as u64);
                let code = String::from_utf8_lossy(&code).into_owned();
                let name = vb_name(&code).unwrap_or_else(|| format!("module{}", modules.len() + 1));
                modules.push(module_json(&name, "(found in the raw bytes)", code));
            }
        }
    }
    let macros = macros || !modules.is_empty();
    let (mut auto, mut keywords) = (Vec::new(), Vec::new());
    for m in &modules {
        for (key, list) in [("auto_exec", &mut auto), ("suspicious", &mut keywords)] {
            for k in m[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !list.contains(&k) {
                    list.push(k);
                }
            }
        }
    }
    if !auto.is_empty() {
        ctx.flag(true, format!("VBA macro with {}", auto.join(", ")));
    } else if !keywords.is_empty() {
        let keywords = keywords.join(", ");
        ctx.flag(
            false,
            format!("VBA macro with suspicious keywords ({keywords})"),
        );
    } else if macros {
        ctx.flag(false, "VBA macros");
    }
    let section = json!({
        "application": application, "macros": macros,
        "streams": capped(streams.iter().map(|e| json!({"path": e.path, "size": e.size}))),
        "streams_total": streams.len(), "streams_capped": streams.len() > MAX_LIST,
        "vba_modules": capped(modules.iter().cloned()),
        "vba_modules_total": modules.len(), "vba_modules_capped": modules.len() > MAX_LIST,
        "errors": errors,
    });
    (section, mime)
}

/// A stream's bytes (at most 64 MiB), within the bytes all streams may still give.
fn read_stream(comp: &mut Cfb, path: &str, ctx: &mut Ctx) -> Result<Vec<u8>, String> {
    if ctx.read_left == 0 {
        return Err(format!("{path}: not read, the reading limit is reached"));
    }
    let stream = comp.open_stream(path).map_err(|e| format!("{path}: {e}"))?;
    let cap = ctx.read_left.min(64 << 20);
    let (data, _) = read_bounded(stream, cap).map_err(|e| format!("{path}: {e}"))?;
    ctx.read_left -= data.len() as u64;
    Ok(data)
}

/// A module as the `dir` stream lists it.
#[derive(Debug, Default)]
struct VbaModule {
    name: String,
    stream: String,
    offset: Option<u32>,
}

/// The modules of the VBA project in `storage`.
fn vba_project(
    comp: &mut Cfb,
    storage: &str,
    entries: &[OleEntry],
    ctx: &mut Ctx,
    errors: &mut Vec<String>,
) -> Vec<Value> {
    let child = |name: &str| {
        let path = entries.iter().find(|e| {
            e.stream
                && e.under(storage)
                    .is_some_and(|r| r.eq_ignore_ascii_case(name))
        });
        path.map(|e| e.path.clone())
    };
    let mut listed = Vec::new();
    match child("dir") {
        None => errors.push(format!("{storage}: no dir stream")),
        Some(dir) => match read_stream(comp, &dir, ctx) {
            Err(e) => errors.push(e),
            Ok(raw) => {
                let (dir, error) = ovba_decompress(&raw, 1 << 20);
                let (mods, parse_error) = parse_dir(&dir);
                listed = mods;
                if let Some(e) = error.or(parse_error) {
                    errors.push(format!("{storage}/dir: {e}"));
                }
            }
        },
    }
    if listed.is_empty() {
        // No usable dir stream: every module-like stream of the storage, scanned.
        listed = entries
            .iter()
            .filter(|e| e.stream && e.under(storage).is_some_and(|r| !r.contains('/')))
            .filter(|e| {
                let n = e.name.to_ascii_lowercase();
                n != "dir" && !n.starts_with("_vba_project") && !n.starts_with("__srp_")
            })
            .take(MAX_LIST)
            .map(|e| VbaModule {
                name: e.name.clone(),
                stream: e.name.clone(),
                offset: None,
            })
            .collect();
    }
    let mut modules = Vec::new();
    for m in listed {
        let source = match child(&m.stream) {
            None => Err("module stream not found".to_string()),
            Some(s) => {
                read_stream(comp, &s, ctx).and_then(|raw| module_source(&raw, m.offset, ctx))
            }
        };
        modules.push(match source {
            Ok(code) => module_json(&m.name, &m.stream, String::from_utf8_lossy(&code).into()),
            Err(e) => json!({"name": m.name, "stream": m.stream, "error": e}),
        });
    }
    modules
}

/// A module's entry in the report: what its source holds, and the source (its beginning).
fn module_json(name: &str, stream: &str, code: String) -> Value {
    let (auto, keywords) = scan_vba(&code);
    let quoted: String = code.chars().take(MAX_CODE_QUOTED).collect();
    json!({"name": name, "stream": stream, "source_size": code.len(),
           "auto_exec": auto, "suspicious": keywords,
           "code_truncated": quoted.len() < code.len(), "code": quoted})
}

/// The `Attribute VB_Name = "…"` of a module's source.
fn vb_name(code: &str) -> Option<String> {
    let start = code.find("VB_Name = \"")? + 11;
    let len = code[start..].find('"')?;
    Some(code[start..start + len].to_string()).filter(|n| n.len() < 256)
}

/// Up to `max` VBA sources (`cap` bytes in all) found in `raw` by their compressed
/// container: `01`, a chunk header, a flag byte and `Attribut`.
fn vba_containers(raw: &[u8], cap: usize, max: usize) -> Vec<Vec<u8>> {
    let (mut found, mut from, mut left) = (Vec::new(), 0, cap);
    for _ in 0..max * 4 {
        let Some(i) = find(&raw[from..], b"\x00Attribut").map(|i| i + from) else {
            break;
        };
        from = i + 1;
        if i >= 3 && raw[i - 3] == 1 && left > 0 {
            // What follows the container is not compressed: an error after it is expected.
            let (code, _) = ovba_decompress(&raw[i - 3..], left);
            if code.starts_with(b"Attribut") {
                left -= code.len();
                found.push(code);
                if found.len() == max {
                    break;
                }
            }
        }
    }
    found
}

/// MODULENAME, MODULESTREAMNAME and MODULEOFFSET records of a decompressed `dir` stream
/// (MS-OVBA 2.3.4.2), with the error that stopped the parse if any.
fn parse_dir(dir: &[u8]) -> (Vec<VbaModule>, Option<String>) {
    let mut modules: Vec<VbaModule> = Vec::new();
    let mut error = None;
    let mut pos = 0usize;
    while pos + 6 <= dir.len() && modules.len() <= MAX_LIST {
        let id = u16::from_le_bytes([dir[pos], dir[pos + 1]]);
        let size = match id {
            // PROJECTVERSION: its Reserved field says 4 but 6 bytes follow.
            0x0009 => 6,
            _ => u32::from_le_bytes([dir[pos + 2], dir[pos + 3], dir[pos + 4], dir[pos + 5]])
                as usize,
        };
        let start = pos + 6;
        let Some(data) = start.checked_add(size).and_then(|end| dir.get(start..end)) else {
            error = Some(format!("record 0x{id:04X} at {pos} runs past the end"));
            break;
        };
        let utf16 = || {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        };
        if id == 0x0010 {
            break;
        }
        if id == 0x0019 {
            let name = String::from_utf8_lossy(data).into_owned();
            modules.push(VbaModule {
                name,
                ..VbaModule::default()
            });
        } else if let Some(m) = modules.last_mut() {
            match id {
                0x0047 if !data.is_empty() => m.name = utf16(),
                0x001A => m.stream = String::from_utf8_lossy(data).into_owned(),
                0x0032 if !data.is_empty() => m.stream = utf16(),
                0x0031 if size == 4 => {
                    m.offset = Some(u32::from_le_bytes([data[0], data[1], data[2], data[3]]))
                }
                _ => {}
            }
        }
        pos = start + size;
    }
    for m in &mut modules {
        if m.stream.is_empty() {
            m.stream = m.name.clone();
        }
    }
    (modules, error)
}

/// A module's source: decompressed at the `dir`'s offset, else found by scanning the stream
/// for a compressed container starting with `Attribut`.
fn module_source(raw: &[u8], offset: Option<u32>, ctx: &mut Ctx) -> Result<Vec<u8>, String> {
    let cap = MAX_VBA_SOURCE.min(usize::try_from(ctx.budget).unwrap_or(usize::MAX));
    if cap == 0 {
        return Err("not decompressed: the unpacking limit is reached".into());
    }
    let start = offset
        .and_then(|o| usize::try_from(o).ok())
        .filter(|o| *o < raw.len());
    let at_offset = start
        .map(|start| ovba_decompress(&raw[start..], cap))
        .filter(|(code, error)| error.is_none() || !code.is_empty())
        .map(|(code, _)| code);
    let code = at_offset
        .or_else(|| vba_containers(raw, cap, 1).pop())
        .ok_or("no compressed VBA source found")?;
    ctx.budget = ctx.budget.saturating_sub(code.len() as u64);
    Ok(code)
}

/// MS-OVBA 2.4.1 decompression of a CompressedContainer, stopping at `cap` bytes; gives what
/// was decompressed and the error that stopped it, if any.
fn ovba_decompress(data: &[u8], cap: usize) -> (Vec<u8>, Option<String>) {
    let mut out: Vec<u8> = Vec::new();
    if data.first() != Some(&1) {
        return (out, Some("no compressed container signature".into()));
    }
    let mut pos = 1;
    while pos < data.len() && out.len() < cap {
        if pos + 2 > data.len() {
            return (out, Some("truncated chunk header".into()));
        }
        let header = u16::from_le_bytes([data[pos], data[pos + 1]]);
        if (header >> 12) & 0x7 != 0b011 {
            return (out, Some(format!("bad chunk signature at {pos}")));
        }
        let end = (pos + (header & 0x0FFF) as usize + 3).min(data.len());
        let chunk_start = out.len();
        pos += 2;
        if header & 0x8000 == 0 {
            // A raw chunk: 4096 bytes as they are.
            let raw_end = (pos + 4096).min(data.len());
            out.extend_from_slice(&data[pos..raw_end]);
            pos = raw_end;
            continue;
        }
        while pos < end {
            let flags = data[pos];
            pos += 1;
            for bit in 0..8 {
                if pos >= end || out.len() >= cap {
                    break;
                }
                if flags & (1 << bit) == 0 {
                    out.push(data[pos]);
                    pos += 1;
                    continue;
                }
                if pos + 2 > end {
                    return (out, Some("truncated copy token".into()));
                }
                let token = u16::from_le_bytes([data[pos], data[pos + 1]]);
                pos += 2;
                // The offset takes as many bits as the chunk's output so far needs (4 to 12).
                let done = out.len() - chunk_start;
                let bits = (usize::BITS - done.saturating_sub(1).leading_zeros()).clamp(4, 12);
                let length = (token & (0xFFFF >> bits)) as usize + 3;
                let offset = (token >> (16 - bits)) as usize + 1;
                if offset > done {
                    return (out, Some("copy token before the chunk's start".into()));
                }
                for _ in 0..length.min(cap - out.len()) {
                    out.push(out[out.len() - offset]);
                }
            }
        }
        pos = end;
    }
    out.truncate(cap);
    (out, None)
}

/// Auto-execution entry points and suspicious keywords in VBA source.
fn scan_vba(code: &str) -> (Vec<&'static str>, Vec<&'static str>) {
    let lower = code.to_ascii_lowercase();
    let hits = |list: &[&'static str]| -> Vec<&'static str> {
        let found = |k: &&str| has_word(&lower, &k.to_ascii_lowercase());
        list.iter().copied().filter(found).collect()
    };
    (hits(AUTO_EXEC), hits(VBA_SUSPICIOUS))
}

/// `needle` in `hay` not inside a longer identifier.
fn has_word(hay: &str, needle: &str) -> bool {
    let word = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    let bytes = hay.as_bytes();
    let open_end = !needle.ends_with(|c: char| c.is_alphanumeric());
    hay.match_indices(needle).any(|(i, _)| {
        let before = i.checked_sub(1).and_then(|j| bytes.get(j));
        !word(before) && (open_end || !word(bytes.get(i + needle.len())))
    })
}

// ---------------------------------------------------------------- PDF

/// pdfid-style counts of names over the raw bytes (`#xx` escapes decoded), pages, URIs.
fn pdf_section(bytes: &[u8], ctx: &mut Ctx) -> Value {
    let mut counts: BTreeMap<&'static str, u64> = PDF_KEYWORDS.iter().map(|k| (*k, 0)).collect();
    let (mut escaped, mut uri_total) = (0u64, 0usize);
    let mut uris: Vec<String> = Vec::new();
    let mut pos = 0;
    while let Some(i) = bytes[pos..]
        .iter()
        .position(|b| *b == b'/')
        .map(|i| i + pos)
    {
        let mut end = i + 1;
        while end < bytes.len()
            && end - i < 128
            && !b"()<>[]{}/%\0\t\n\x0c\r ".contains(&bytes[end])
        {
            end += 1;
        }
        pos = end;
        let (name, hex) = decode_pdf_name(&bytes[i + 1..end]);
        let Some(keyword) = PDF_KEYWORDS.iter().find(|k| k.as_bytes() == name) else {
            continue;
        };
        *counts.entry(keyword).or_default() += 1;
        escaped += u64::from(hex);
        if *keyword == "URI" {
            if let Some((uri, used)) = pdf_string(&bytes[end..]) {
                pos = end + used;
                uri_total += 1;
                ctx.url(&uri);
                if uris.len() < MAX_LIST && !uris.contains(&uri) {
                    uris.push(uri);
                }
            }
        }
    }
    let c = |k: &str| counts.get(k).copied().unwrap_or(0);
    let js = c("JavaScript") + c("JS");
    for (on, malicious, reason) in [
        (
            js > 0 && c("OpenAction") > 0,
            true,
            "PDF JavaScript with /OpenAction",
        ),
        (js > 0 && c("AA") > 0, true, "PDF JavaScript with /AA"),
        (c("Launch") > 0, true, "PDF with /Launch"),
        (js > 0, false, "PDF with JavaScript"),
        (c("EmbeddedFile") > 0, false, "PDF with embedded files"),
        (escaped > 0, false, "PDF names obfuscated with # escapes"),
    ] {
        if on {
            ctx.flag(malicious, reason);
        }
    }
    let version = find(bytes, b"%PDF-").map(|i| {
        let v = &bytes[i + 5..(i + 8).min(bytes.len())];
        String::from_utf8_lossy(v).trim().to_string()
    });
    let keywords: Map<String, Value> = counts
        .iter()
        .filter(|(k, _)| **k != "Page")
        .map(|(k, n)| (format!("/{k}"), json!(n)))
        .collect();
    json!({
        "version": version, "pages": c("Page"), "keywords": keywords,
        "hex_escaped_names": escaped, "javascript": js > 0,
        "uris": uris, "uris_total": uri_total, "uris_capped": uri_total > MAX_LIST,
        "errors": [],
    })
}

/// A name's bytes with `#xx` decoded, and whether any was.
fn decode_pdf_name(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(raw.len());
    let mut hex = false;
    let mut i = 0;
    while i < raw.len() {
        let digit = |j: usize| raw.get(j).and_then(|b| (*b as char).to_digit(16));
        if let (b'#', Some(h), Some(l)) = (raw[i], digit(i + 1), digit(i + 2)) {
            out.push((h * 16 + l) as u8);
            hex = true;
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    (out, hex)
}

/// The literal `( … )` or hex `< … >` string at the start of `rest` (after some
/// whitespace), at most 8 KiB of it, and the bytes it took.
fn pdf_string(rest: &[u8]) -> Option<(String, usize)> {
    let start = rest
        .iter()
        .take(64)
        .position(|b| !b.is_ascii_whitespace())?;
    let rest = &rest[start..rest.len().min(start + 8192)];
    let mut used = start + rest.len();
    let mut out = Vec::new();
    match rest.first()? {
        b'(' => {
            let (mut depth, mut i) = (1, 1);
            while i < rest.len() {
                match rest[i] {
                    b'\\' => {
                        i += 1;
                        match rest.get(i) {
                            Some(b'n') => out.push(b'\n'),
                            Some(b'r') => out.push(b'\r'),
                            Some(b't') => out.push(b'\t'),
                            Some(d @ b'0'..=b'7') => {
                                let mut v = u32::from(d - b'0');
                                while v < 32 && matches!(rest.get(i + 1), Some(b'0'..=b'7')) {
                                    i += 1;
                                    v = v * 8 + u32::from(rest[i] - b'0');
                                }
                                out.push((v & 0xFF) as u8);
                            }
                            Some(b'\r' | b'\n') | None => {}
                            Some(c) => out.push(*c),
                        }
                    }
                    b'(' => {
                        depth += 1;
                        out.push(b'(');
                    }
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            used = start + i + 1;
                            break;
                        }
                        out.push(b')');
                    }
                    c => out.push(c),
                }
                i += 1;
            }
        }
        b'<' => {
            let hex = rest[1..].split(|b| *b == b'>').next().unwrap_or_default();
            used = (start + 2 + hex.len()).min(start + rest.len());
            let digits: Vec<u8> = hex
                .iter()
                .filter_map(|b| (*b as char).to_digit(16).map(|d| d as u8))
                .collect();
            out = digits
                .chunks(2)
                .map(|p| p[0] << 4 | p.get(1).copied().unwrap_or(0))
                .collect();
        }
        _ => return None,
    }
    let s = String::from_utf8_lossy(&out).trim().to_string();
    (!s.is_empty()).then_some((s, used))
}

// ---------------------------------------------------------------- PE and ELF

/// Seconds since the epoch as ISO 8601 UTC.
fn iso8601(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// The `pe` section and the filetype (`PE32`, `PE32+`, `PE` when unreadable).
fn pe_section(bytes: &[u8]) -> (Value, &'static str) {
    let pe = match goblin::pe::PE::parse(bytes) {
        Ok(pe) => pe,
        Err(e) => {
            return (
                json!({"errors": [format!("cannot read the PE headers: {e}")]}),
                "PE",
            )
        }
    };
    let coff = &pe.header.coff_header;
    let sections = capped(pe.sections.iter().map(|s| {
        let start = s.pointer_to_raw_data as usize;
        let end = start
            .saturating_add(s.size_of_raw_data as usize)
            .min(bytes.len());
        let data = bytes.get(start..end).unwrap_or_default();
        let name = String::from_utf8_lossy(&s.name)
            .trim_end_matches('\0')
            .to_string();
        json!({"name": name, "virtual_address": s.virtual_address,
               "virtual_size": s.virtual_size, "raw_size": s.size_of_raw_data,
               "entropy": round2(entropy(data))})
    }));
    let mut imports: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for i in pe.imports.iter().take(MAX_LIST) {
        imports.entry(i.dll).or_default().push(i.name.to_string());
    }
    let subsystem = pe
        .header
        .optional_header
        .as_ref()
        .map(|o| o.windows_fields.subsystem);
    let section = json!({
        "machine": goblin::pe::header::machine_to_str(coff.machine),
        "machine_id": format!("0x{:04x}", coff.machine),
        "bits": if pe.is_64 { 64 } else { 32 }, "dll": pe.is_lib,
        "timestamp": coff.time_date_stamp,
        "compile_time": iso8601(i64::from(coff.time_date_stamp)),
        "entry_point": format!("0x{:x}", pe.entry), "image_base": format!("0x{:x}", pe.image_base),
        "subsystem": subsystem,
        "sections": sections, "sections_total": pe.sections.len(),
        "sections_capped": pe.sections.len() > MAX_LIST,
        "imports": imports, "imports_total": pe.imports.len(),
        "imports_capped": pe.imports.len() > MAX_LIST,
        "exports": pe.exports.len(), "errors": [],
    });
    (section, if pe.is_64 { "PE32+" } else { "PE32" })
}

/// The `elf` section.
fn elf_section(bytes: &[u8]) -> Value {
    use goblin::elf::{header, section_header};
    let elf = match goblin::elf::Elf::parse(bytes) {
        Ok(e) => e,
        Err(e) => return json!({"errors": [format!("cannot read the ELF headers: {e}")]}),
    };
    let sections = capped(elf.section_headers.iter().map(|s| {
        json!({"name": elf.shdr_strtab.get_at(s.sh_name).unwrap_or(""),
               "type": section_header::sht_to_str(s.sh_type), "size": s.sh_size})
    }));
    json!({
        "class": if elf.is_64 { "ELF64" } else { "ELF32" },
        "machine": header::machine_to_str(elf.header.e_machine),
        "type": header::et_to_str(elf.header.e_type),
        "entry_point": format!("0x{:x}", elf.entry), "interpreter": elf.interpreter,
        "sections": sections, "sections_total": elf.section_headers.len(),
        "sections_capped": elf.section_headers.len() > MAX_LIST,
        "needed": capped(elf.libraries.iter().copied()), "needed_total": elf.libraries.len(),
        "needed_capped": elf.libraries.len() > MAX_LIST, "errors": [],
    })
}

// ---------------------------------------------------------------- ZIP and OOXML

type Zip<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

/// The `ooxml` or `zip` section: (key, section, filetype, mimetype).
fn zip_sections(bytes: &[u8], ctx: &mut Ctx) -> (&'static str, Value, &'static str, String) {
    let mut archive: Zip = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            let section = json!({"entries": [], "entries_total": 0, "encrypted": false,
                                 "errors": [format!("cannot read the ZIP structure: {e}")]});
            return ("zip", section, "ZIP", "application/zip".into());
        }
    };
    if archive.index_for_name("[Content_Types].xml").is_some() {
        let (section, mime) = ooxml_section(&mut archive, ctx);
        return ("ooxml", section, "OOXML", mime);
    }
    let kind = guard(|| infer::get(bytes)).flatten();
    let mime = kind.map_or("application/zip", |t| t.mime_type());
    ("zip", zip_section(&mut archive, ctx), "ZIP", mime.into())
}

/// Reads one member, at most `cap` bytes and the unpacking budget, which is charged with
/// whatever was decompressed (also when the member is corrupt): `Ok(None)` when larger.
fn read_member(
    archive: &mut Zip,
    index: usize,
    cap: u64,
    ctx: &mut Ctx,
) -> Result<Option<Vec<u8>>, String> {
    let limit = cap.min(ctx.budget);
    let file = archive.by_index(index).map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    let read = file.take(limit.saturating_add(1)).read_to_end(&mut data);
    ctx.budget = ctx.budget.saturating_sub(data.len() as u64);
    read.map_err(|e| e.to_string())?;
    Ok((data.len() as u64 <= limit).then_some(data))
}

/// The `zip` section; unencrypted members become artifacts within the unpacking budget.
fn zip_section(archive: &mut Zip, ctx: &mut Ctx) -> Value {
    let (mut entries, mut errors, mut risky, mut to_unpack) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut size, mut compressed, mut encrypted) = (0u64, 0u64, false);
    for i in 0..archive.len() {
        let file = match archive.by_index_raw(i) {
            Ok(f) => f,
            Err(e) => {
                if errors.len() < MAX_LIST {
                    errors.push(format!("entry {i}: {e}"));
                }
                continue;
            }
        };
        let name = file.name().to_string();
        size = size.saturating_add(file.size());
        compressed = compressed.saturating_add(file.compressed_size());
        encrypted |= file.encrypted();
        if entries.len() < MAX_LIST {
            entries.push(json!({"name": name, "size": file.size(),
                "compressed_size": file.compressed_size(), "encrypted": file.encrypted(),
                "directory": file.is_dir()}));
        }
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        if !file.is_dir() && ext.is_some_and(|e| RISKY_EXTENSIONS.contains(&e.as_str())) {
            risky.push(name.clone());
            risky.truncate(MAX_LIST);
        }
        if !file.is_dir() && !file.encrypted() && to_unpack.len() < MAX_LIST {
            to_unpack.push((i, name));
        }
    }
    let (mut truncated, mut unpacked) = (false, 0u64);
    for (i, name) in to_unpack {
        // The member's own name, printable and at most 255 characters.
        let base = name.rsplit(['/', '\\']).next().unwrap_or("");
        let short: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
        let short = short.trim().to_string();
        if short.is_empty() {
            continue;
        }
        if ctx.artifacts.len() >= MAX_EMBEDDED {
            truncated = true;
            errors.push(format!(
                "more than {MAX_EMBEDDED} files: the others are not unpacked"
            ));
            break;
        }
        match read_member(archive, i, u64::MAX, ctx) {
            Ok(Some(data)) => {
                unpacked += data.len() as u64;
                let tags = EMBEDDED_TAGS.iter().map(|t| t.to_string()).collect();
                ctx.artifacts.push(Found::File {
                    name: short,
                    bytes: data,
                    tags,
                });
            }
            Ok(None) => {
                truncated = true;
                errors.push(format!("{name}: not unpacked, over the unpacking limit"));
                break;
            }
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    if encrypted {
        ctx.flag(false, "encrypted ZIP");
    }
    if !risky.is_empty() {
        let some: Vec<&str> = risky.iter().take(5).map(String::as_str).collect();
        ctx.flag(
            false,
            format!("ZIP holding executables or scripts ({})", some.join(", ")),
        );
    }
    let ratio = if compressed > 0 {
        round2(size as f64 / compressed as f64)
    } else {
        0.0
    };
    json!({
        "entries": capped(entries), "entries_total": archive.len(),
        "entries_capped": archive.len() > MAX_LIST,
        "uncompressed_size": size, "compressed_size": compressed, "compression_ratio": ratio,
        "encrypted": encrypted, "executables_or_scripts": capped(risky),
        "unpacked_bytes": unpacked, "truncated": truncated, "errors": capped(errors),
    })
}

/// The `ooxml` section and the main part's MIME type.
fn ooxml_section(archive: &mut Zip, ctx: &mut Ctx) -> (Value, String) {
    let mut errors: Vec<String> = Vec::new();
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let mut part = |archive: &mut Zip, name: &str, ctx: &mut Ctx| -> Option<Vec<u8>> {
        let index = archive.index_for_name(name)?;
        match read_member(archive, index, MAX_PART, ctx) {
            Ok(Some(data)) => Some(data),
            Ok(None) => {
                errors.push(format!("{name}: not read, over the unpacking limit"));
                None
            }
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                None
            }
        }
    };
    let attr = regex::Regex::new(r#"([A-Za-z:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')"#);
    let element = regex::Regex::new(r"<(?:\w+:)?(?:Override|Relationship)\b[^>]*>");
    let (Ok(attr), Ok(element)) = (attr, element) else {
        return (
            json!({"errors": ["internal: bad pattern"]}),
            "application/zip".into(),
        );
    };
    let attrs = |tag: &str| -> BTreeMap<String, String> {
        attr.captures_iter(tag)
            .map(|c| {
                let v = c.get(2).or_else(|| c.get(3)).map_or("", |m| m.as_str());
                (c[1].to_string(), xml_unescape(v))
            })
            .collect()
    };
    let mut mime = "application/zip".to_string();
    if let Some(types) = part(archive, "[Content_Types].xml", ctx) {
        let types = String::from_utf8_lossy(&types);
        let main = element.find_iter(&types).find_map(|tag| {
            let t = attrs(tag.as_str()).remove("ContentType")?;
            t.strip_suffix(".main+xml").map(str::to_string)
        });
        mime = main.unwrap_or(mime);
    }
    let (mut external, mut external_total) = (Vec::new(), 0usize);
    for rels in names.iter().filter(|n| n.ends_with(".rels")).take(MAX_LIST) {
        let Some(xml) = part(archive, rels, ctx) else {
            continue;
        };
        let xml = String::from_utf8_lossy(&xml);
        for tag in element.find_iter(&xml) {
            let a = attrs(tag.as_str());
            if !a
                .get("TargetMode")
                .is_some_and(|m| m.eq_ignore_ascii_case("External"))
            {
                continue;
            }
            let target = a.get("Target").cloned().unwrap_or_default();
            let kind = a
                .get("Type")
                .and_then(|t| t.rsplit('/').next())
                .unwrap_or("");
            // mhtml:http://host/x!x-usc:... (CVE-2021-40444) gives its URL too.
            ctx.url(
                target
                    .trim_start_matches("mhtml:")
                    .split('!')
                    .next()
                    .unwrap_or(""),
            );
            if kind != "hyperlink" {
                ctx.flag(false, format!("OOXML external relationship ({kind})"));
            }
            external_total += 1;
            if external.len() < MAX_LIST {
                external.push(json!({"part": rels, "type": kind, "target": target}));
            }
        }
    }
    let vba = names
        .iter()
        .find(|n| n.to_ascii_lowercase().ends_with("vbaproject.bin"));
    let vba_project = match vba.map(|name| part(archive, name, ctx)) {
        Some(Some(bin)) => guard(|| ole_section(&bin, ctx)).map_or_else(parser_failure, |s| s.0),
        Some(None) => {
            ctx.flag(false, "VBA macros");
            Value::Null
        }
        None => Value::Null,
    };
    let section = json!({
        "macros": vba.is_some(), "vba_project": vba_project,
        "external_relationships": external,
        "external_relationships_total": external_total,
        "external_relationships_capped": external_total > MAX_LIST,
        "members": capped(names.iter().map(String::as_str)), "members_total": names.len(),
        "members_capped": names.len() > MAX_LIST, "errors": capped(errors),
    });
    (section, mime)
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Inputs built in memory, for the tests of this module and of the crate.
#[cfg(test)]
pub(crate) mod samples {
    use std::io::{Cursor, Write};
    use std::path::Path;
    use zip::write::SimpleFileOptions;

    /// The source of the macro sample's module.
    pub(crate) const MACRO_SOURCE: &str = "Attribute VB_Name = \"ThisDocument\"\r\n\
        Sub AutoOpen()\r\n    Shell \"cmd.exe /c calc.exe\"\r\nEnd Sub\r\n";

    /// MS-OVBA compression with literal tokens only (full 4096-byte chunks stored raw).
    pub(crate) fn ovba_compress(data: &[u8]) -> Vec<u8> {
        let mut out = vec![1u8];
        for chunk in data.chunks(4096) {
            if chunk.len() == 4096 {
                out.extend(0x3FFFu16.to_le_bytes());
                out.extend_from_slice(chunk);
                continue;
            }
            for part in chunk.chunks(3600) {
                let mut body = Vec::new();
                for group in part.chunks(8) {
                    body.push(0);
                    body.extend_from_slice(group);
                }
                let header = 0xB000u16 | (body.len() as u16 + 2 - 3);
                out.extend(header.to_le_bytes());
                out.extend(body);
            }
        }
        out
    }

    fn record(out: &mut Vec<u8>, id: u16, data: &[u8]) {
        out.extend(id.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }

    /// A `dir` stream (uncompressed) listing `(module, text offset)`.
    pub(crate) fn vba_dir(modules: &[(&str, u32)]) -> Vec<u8> {
        let mut d = Vec::new();
        record(&mut d, 0x0001, &1u32.to_le_bytes());
        record(&mut d, 0x0002, &0x409u32.to_le_bytes());
        record(&mut d, 0x0014, &0x409u32.to_le_bytes());
        record(&mut d, 0x0003, &1252u16.to_le_bytes());
        record(&mut d, 0x0004, b"Project");
        for (id, unicode) in [(0x0005, 0x0040), (0x0006, 0x003D)] {
            record(&mut d, id, b"");
            record(&mut d, unicode, b"");
        }
        record(&mut d, 0x0007, &0u32.to_le_bytes());
        record(&mut d, 0x0008, &0u32.to_le_bytes());
        // PROJECTVERSION: Reserved says 4, then 6 bytes follow.
        d.extend(0x0009u16.to_le_bytes());
        d.extend(4u32.to_le_bytes());
        d.extend(1u32.to_le_bytes());
        d.extend(0u16.to_le_bytes());
        record(&mut d, 0x000C, b"");
        record(&mut d, 0x003C, b"");
        record(&mut d, 0x000F, &(modules.len() as u16).to_le_bytes());
        record(&mut d, 0x0013, &0xFFFFu16.to_le_bytes());
        for (name, offset) in modules {
            let utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            record(&mut d, 0x0019, name.as_bytes());
            record(&mut d, 0x0047, &utf16);
            record(&mut d, 0x001A, name.as_bytes());
            record(&mut d, 0x0032, &utf16);
            record(&mut d, 0x001C, b"");
            record(&mut d, 0x0048, b"");
            record(&mut d, 0x0031, &offset.to_le_bytes());
            record(&mut d, 0x001E, &0u32.to_le_bytes());
            record(&mut d, 0x002C, &0xFFFFu16.to_le_bytes());
            record(&mut d, 0x0021, b"");
            record(&mut d, 0x002B, b"");
        }
        record(&mut d, 0x0010, b"");
        d
    }

    /// A compound file holding `streams` (path, bytes).
    pub(crate) fn ole(streams: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut comp = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("cfb");
        for (path, data) in streams {
            if let Some(parent) = Path::new(path).parent().filter(|p| *p != Path::new("/")) {
                comp.create_storage_all(parent).expect("storage");
            }
            let mut stream = comp.create_stream(path).expect("stream");
            stream.write_all(data).expect("write");
        }
        comp.flush().expect("flush");
        comp.into_inner().into_inner()
    }

    /// The streams of a VBA project under `root` ("" or "/Macros") whose one module holds
    /// `source`.
    fn vba_streams(root: &str, source: &str) -> Vec<(String, Vec<u8>)> {
        let pcode = vec![0xAAu8; 32];
        let mut module = pcode.clone();
        module.extend(ovba_compress(source.as_bytes()));
        vec![
            (
                format!("{root}/PROJECT"),
                b"Name=\"Project\"\r\nDocument=ThisDocument/&H00000000\r\n".to_vec(),
            ),
            (
                format!("{root}/VBA/_VBA_PROJECT"),
                vec![0xCC, 0x61, 0xFF, 0xFF, 0, 0, 0],
            ),
            (
                format!("{root}/VBA/dir"),
                ovba_compress(&vba_dir(&[("ThisDocument", pcode.len() as u32)])),
            ),
            (format!("{root}/VBA/ThisDocument"), module),
        ]
    }

    fn ole_owned(streams: Vec<(String, Vec<u8>)>) -> Vec<u8> {
        let borrowed: Vec<(&str, Vec<u8>)> = streams
            .iter()
            .map(|(p, d)| (p.as_str(), d.clone()))
            .collect();
        ole(&borrowed)
    }

    /// `macro.doc`: a Word OLE2 file whose VBA module runs `Shell` from `AutoOpen`.
    pub(crate) fn macro_doc() -> Vec<u8> {
        let mut streams = vec![(
            "/WordDocument".to_string(),
            vec![0xEC, 0xA5, 0xC1, 0, 0, 0, 0, 0],
        )];
        streams.extend(vba_streams("/Macros", MACRO_SOURCE));
        ole_owned(streams)
    }

    /// `vbaProject.bin` of `macro.docm`.
    pub(crate) fn vba_project_bin() -> Vec<u8> {
        ole_owned(vba_streams("", MACRO_SOURCE))
    }

    /// `clean.doc`: a Word OLE2 file without VBA.
    pub(crate) fn clean_doc() -> Vec<u8> {
        ole(&[
            ("/WordDocument", vec![0xEC, 0xA5, 0xC1, 0, 0, 0, 0, 0]),
            ("/1Table", vec![0; 64]),
            ("/\u{5}SummaryInformation", vec![0xFE, 0xFF, 0, 0]),
        ])
    }

    /// A ZIP of `members`, deflated.
    pub(crate) fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in members {
            w.start_file(*name, options).expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    /// A ZIP of one member of `size` zero bytes, written by streaming.
    pub(crate) fn zip_bomb(size: usize) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1));
        w.start_file("zeros.bin", options).expect("start");
        let block = vec![0u8; 1 << 16];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len());
            w.write_all(&block[..n]).expect("write");
            left -= n;
        }
        w.finish().expect("finish").into_inner()
    }

    const WORD_REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    /// A Word OOXML document: main content type, extra members, `settings.xml.rels` body.
    fn word(main: &str, extra: &[(&str, &[u8])], settings_rels: &str) -> Vec<u8> {
        let types = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"bin\" ContentType=\"application/vnd.ms-office.vbaProject\"/>\
             <Override PartName=\"/word/document.xml\" ContentType=\"{main}.main+xml\"/></Types>"
        );
        let root_rels = format!(
            "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"{WORD_REL}/officeDocument\" Target=\"word/document.xml\"/></Relationships>"
        );
        let settings = format!(
            "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">{settings_rels}</Relationships>"
        );
        let document = b"<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p></w:body></w:document>";
        let mut members: Vec<(&str, &[u8])> = vec![
            ("[Content_Types].xml", types.as_bytes()),
            ("_rels/.rels", root_rels.as_bytes()),
            ("word/document.xml", document),
            ("word/_rels/settings.xml.rels", settings.as_bytes()),
        ];
        members.extend_from_slice(extra);
        zip(&members)
    }

    /// `clean.docx`.
    pub(crate) fn clean_docx() -> Vec<u8> {
        word(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            &[],
            "",
        )
    }

    /// `macro.docm`: `vbaProject.bin` with the `AutoOpen` module.
    pub(crate) fn macro_docm() -> Vec<u8> {
        let bin = vba_project_bin();
        word(
            "application/vnd.ms-word.document.macroEnabled",
            &[("word/vbaProject.bin", &bin)],
            "",
        )
    }

    /// A `.docx` whose settings attach a remote template (`url`).
    pub(crate) fn remote_template_docx(url: &str) -> Vec<u8> {
        let rel = format!(
            "<Relationship Id=\"rId1\" Type=\"{WORD_REL}/attachedTemplate\" Target=\"{url}\" TargetMode=\"External\"/>"
        );
        word(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            &[],
            &rel,
        )
    }

    /// A one-page PDF with a link; with `javascript`, an `/OpenAction` running JavaScript.
    pub(crate) fn pdf(javascript: bool) -> Vec<u8> {
        let open = if javascript { " /OpenAction 4 0 R" } else { "" };
        let mut objects = [
            format!("<< /Type /Catalog /Pages 2 0 R{open} >>"),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [5 0 R] >>".to_string(),
            "<< /Type /Action /S /JavaScript /JS (app.alert\\('hello'\\);) >>".to_string(),
            "<< /Type /Annot /Subtype /Link /Rect [0 0 100 20] /A << /S /URI /URI (https://example.com/report) >> >>".to_string(),
        ];
        if !javascript {
            objects[3] = "<< >>".to_string();
        }
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).into_bytes());
        }
        let xref = out.len();
        out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
        for o in offsets {
            out.extend(format!("{o:010} 00000 n \n").into_bytes());
        }
        out.extend(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .into_bytes(),
        );
        out
    }

    /// `hello.exe`: a PE32 (i386) with one `.text` section, compiled 2020-09-13T12:26:40Z.
    pub(crate) fn pe32() -> Vec<u8> {
        let mut b = vec![0u8; 0x400];
        b[0..2].copy_from_slice(b"MZ");
        b[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        let mut h = Vec::new();
        h.extend(b"PE\0\0");
        // COFF header
        h.extend(0x014Cu16.to_le_bytes()); // i386
        h.extend(1u16.to_le_bytes()); // sections
        h.extend(1_600_000_000u32.to_le_bytes()); // timestamp
        h.extend(0u32.to_le_bytes());
        h.extend(0u32.to_le_bytes());
        h.extend(0xE0u16.to_le_bytes()); // optional header size
        h.extend(0x0102u16.to_le_bytes()); // executable, 32-bit
                                           // Optional header (PE32)
        h.extend(0x010Bu16.to_le_bytes());
        h.extend([14, 0]);
        for v in [
            0x200u32, 0, 0, 0x1000, 0x1000, 0x2000, 0x40_0000, 0x1000, 0x200,
        ] {
            h.extend(v.to_le_bytes()); // code, data, bss, entry, base of code/data, image base, alignments
        }
        for v in [6u16, 0, 0, 0, 6, 0] {
            h.extend(v.to_le_bytes()); // OS, image, subsystem versions
        }
        for v in [0u32, 0x2000, 0x200, 0] {
            h.extend(v.to_le_bytes()); // Win32 version, image size, headers size, checksum
        }
        h.extend(3u16.to_le_bytes()); // console
        h.extend(0u16.to_le_bytes());
        for v in [0x10_0000u32, 0x1000, 0x10_0000, 0x1000, 0, 16] {
            h.extend(v.to_le_bytes()); // stack, heap, loader flags, directories
        }
        h.extend([0u8; 128]);
        // Section table
        h.extend(b".text\0\0\0");
        for v in [0x10u32, 0x1000, 0x200, 0x200, 0, 0] {
            h.extend(v.to_le_bytes());
        }
        h.extend([0u8; 4]);
        h.extend(0x6000_0020u32.to_le_bytes());
        b[0x80..0x80 + h.len()].copy_from_slice(&h);
        b[0x200] = 0xC3;
        b
    }
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    fn level(r: &Report) -> &str {
        r.full["verdict"]["level"].as_str().unwrap_or("")
    }

    fn files(r: &Report) -> Vec<(&str, usize)> {
        r.artifacts
            .iter()
            .filter_map(|a| match a {
                Found::File { name, bytes, tags } => {
                    assert_eq!(tags, &["fileinfo:embedded", "autoImport:false"]);
                    Some((name.as_str(), bytes.len()))
                }
                Found::Value { .. } => None,
            })
            .collect()
    }

    fn urls(r: &Report) -> Vec<&str> {
        r.artifacts
            .iter()
            .filter_map(|a| match a {
                Found::Value {
                    data_type, data, ..
                } if data_type == "url" => Some(data.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ovba_decompression_follows_the_spec_examples() {
        // MS-OVBA 3.2.1 (no compression) and 3.2.3 (maximum compression).
        let plain = [
            0x01, 0x19, 0xB0, 0x00, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x00, 0x69,
            0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70, 0x00, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76,
            0x2E,
        ];
        assert_eq!(
            ovba_decompress(&plain, 1 << 20),
            (b"abcdefghijklmnopqrstuv.".to_vec(), None)
        );
        let max = [0x01, 0x03, 0xB0, 0x02, 0x61, 0x45, 0x00];
        assert_eq!(ovba_decompress(&max, 1 << 20), (vec![b'a'; 73], None));
        assert_eq!(ovba_decompress(&max, 10).0.len(), 10);
        let long: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            ovba_decompress(&ovba_compress(&long), 1 << 20),
            (long, None)
        );
        assert!(ovba_decompress(&[0x01, 0x05], 100).1.is_some());
        assert!(ovba_decompress(&[0x01, 0x03, 0xB0, 0x01, 0x45, 0x00], 100)
            .1
            .is_some());
    }

    #[test]
    fn vba_auto_open_is_malicious() {
        let r = analyze(&macro_doc(), "macro.doc", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "OLE2");
        assert_eq!(r.full["mimetype"], "application/msword");
        let ole = &r.full["ole"];
        assert_eq!(ole["macros"], true);
        assert_eq!(ole["errors"], json!([]));
        let module = &ole["vba_modules"][0];
        assert_eq!(module["name"], "ThisDocument");
        assert_eq!(module["auto_exec"], json!(["AutoOpen"]));
        assert!(module["suspicious"]
            .as_array()
            .expect("list")
            .contains(&json!("Shell")));
        assert_eq!(module["code"], MACRO_SOURCE);
        assert_eq!(level(&r), "malicious");
        assert_eq!(r.full["verdict"]["reasons"][0], "VBA macro with AutoOpen");
        assert!(r.taxonomies.contains(&Taxonomy::new(
            "malicious",
            "FileInfo",
            "Verdict",
            "VBA macro with AutoOpen"
        )));
        assert!(r
            .taxonomies
            .contains(&Taxonomy::new("info", "FileInfo", "Filetype", "OLE2")));
    }

    #[test]
    fn vba_source_is_found_without_a_dir_stream() {
        let mut module = vec![0u8; 40];
        module.extend(ovba_compress(MACRO_SOURCE.as_bytes()));
        let doc = ole(&[
            ("/Macros/VBA/ThisDocument", module),
            ("/Macros/VBA/dir", vec![7, 7]),
        ]);
        let r = analyze(&doc, "x.doc", 1 << 20).expect("report");
        assert_eq!(
            r.full["ole"]["vba_modules"][0]["auto_exec"],
            json!(["AutoOpen"])
        );
        assert!(!r.full["ole"]["errors"].as_array().expect("list").is_empty());
        assert_eq!(level(&r), "malicious");

        // A header strict parsers reject: the source is found in the raw bytes.
        let mut broken = macro_doc();
        broken[0x1C] = 0;
        let r = analyze(&broken, "broken.doc", 1 << 20).expect("report");
        assert_eq!(r.full["ole"]["vba_modules"][0]["name"], "ThisDocument");
        assert_eq!(r.full["ole"]["macros"], true);
        assert_eq!(level(&r), "malicious");
    }

    #[test]
    fn ole_without_vba_is_safe() {
        let r = analyze(&clean_doc(), "clean.doc", 1 << 20).expect("report");
        assert_eq!(r.full["ole"]["macros"], false);
        assert_eq!(r.full["ole"]["streams_total"], 3);
        assert_eq!(level(&r), "safe");
        assert!(r.taxonomies.contains(&Taxonomy::new(
            "safe",
            "FileInfo",
            "Verdict",
            "no threat found"
        )));
    }

    #[test]
    fn ooxml_macros_and_remote_templates() {
        let r = analyze(&macro_docm(), "macro.docm", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "OOXML");
        assert_eq!(
            r.full["mimetype"],
            "application/vnd.ms-word.document.macroEnabled"
        );
        assert_eq!(r.full["ooxml"]["macros"], true);
        assert_eq!(
            r.full["ooxml"]["vba_project"]["vba_modules"][0]["auto_exec"],
            json!(["AutoOpen"])
        );
        assert_eq!(level(&r), "malicious");

        let r = analyze(&clean_docx(), "clean.docx", 1 << 20).expect("report");
        assert_eq!(
            r.full["mimetype"],
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(level(&r), "safe");
        assert!(r.artifacts.is_empty(), "OOXML members are not unpacked");

        let url = "http://203.0.113.9/t.dotm?a=1&amp;b=2";
        let r = analyze(&remote_template_docx(url), "t.docx", 1 << 20).expect("report");
        assert_eq!(level(&r), "suspicious");
        assert_eq!(
            r.full["verdict"]["reasons"][0],
            "OOXML external relationship (attachedTemplate)"
        );
        let rel = &r.full["ooxml"]["external_relationships"][0];
        assert_eq!(rel["type"], "attachedTemplate");
        assert_eq!(rel["target"], "http://203.0.113.9/t.dotm?a=1&b=2");
        assert_eq!(urls(&r), ["http://203.0.113.9/t.dotm?a=1&b=2"]);
    }

    #[test]
    fn pdf_javascript_on_open_is_malicious() {
        let r = analyze(&pdf(true), "js.pdf", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "PDF");
        let section = &r.full["pdf"];
        assert_eq!(section["keywords"]["/OpenAction"], 1);
        assert_eq!(section["keywords"]["/JavaScript"], 1);
        assert_eq!(section["keywords"]["/JS"], 1);
        assert_eq!(section["pages"], 1);
        assert_eq!(section["version"], "1.7");
        assert_eq!(level(&r), "malicious");
        assert_eq!(
            r.full["verdict"]["reasons"][0],
            "PDF JavaScript with /OpenAction"
        );

        let r = analyze(&pdf(false), "clean.pdf", 1 << 20).expect("report");
        assert_eq!(level(&r), "safe");
        assert_eq!(r.full["pdf"]["uris"], json!(["https://example.com/report"]));
        assert_eq!(urls(&r), ["https://example.com/report"]);

        let hidden = b"%PDF-1.4\n1 0 obj << /J#61vaScript (x) /AA << >> >> endobj\n/Launch";
        let r = analyze(hidden, "h.pdf", 1 << 20).expect("report");
        assert_eq!(r.full["pdf"]["keywords"]["/JavaScript"], 1);
        assert_eq!(r.full["pdf"]["hex_escaped_names"], 1);
        assert_eq!(level(&r), "malicious");
        let reasons = r.full["verdict"]["reasons"].as_array().expect("list");
        assert!(reasons.contains(&json!("PDF with /Launch")));
        assert!(reasons.contains(&json!("PDF JavaScript with /AA")));

        let hex = b"%PDF-1.4\n<< /S /URI /URI <68747470733A2F2F782E6578616D706C65> >>";
        let r = analyze(hex, "hex.pdf", 1 << 20).expect("report");
        assert_eq!(r.full["pdf"]["uris"], json!(["https://x.example"]));
        // Strings inside strings are read once: linear time.
        let mut nested = b"%PDF-1.4\n".to_vec();
        nested.extend(b"/URI (".repeat(400_000));
        let started = std::time::Instant::now();
        assert!(analyze(&nested, "nested.pdf", 1 << 20).is_ok());
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn pe_is_suspicious_with_its_headers() {
        let r = analyze(&pe32(), "hello.exe", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "PE32", "{}", r.full["pe"]);
        let pe = &r.full["pe"];
        assert_eq!(pe["machine"], "X86");
        assert_eq!(pe["bits"], 32);
        assert_eq!(pe["dll"], false);
        assert_eq!(pe["timestamp"], 1_600_000_000);
        assert_eq!(pe["compile_time"], "2020-09-13T12:26:40Z");
        assert_eq!(pe["entry_point"], "0x1000");
        assert_eq!(pe["sections"][0]["name"], ".text");
        assert_eq!(pe["sections"][0]["raw_size"], 0x200);
        assert_eq!(level(&r), "suspicious");
        assert_eq!(r.full["verdict"]["reasons"][0], "executable (PE32)");
        // Cut inside the section table: a report all the same.
        let r = analyze(&pe32()[..0x150], "cut.exe", 1 << 20).expect("report");
        assert_eq!(level(&r), "suspicious");
        assert!(r.full["pe"].is_object());
    }

    #[test]
    fn zip_members_become_artifacts() {
        let z = zip(&[
            ("docs/readme.txt", b"hello"),
            ("invoice.pdf.exe", &pe32()),
            ("docs/", b""),
        ]);
        let r = analyze(&z, "bundle.zip", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "ZIP");
        assert_eq!(r.full["zip"]["entries_total"], 3);
        assert_eq!(r.full["zip"]["encrypted"], false);
        assert_eq!(r.full["zip"]["truncated"], false);
        assert_eq!(level(&r), "suspicious");
        assert_eq!(
            r.full["verdict"]["reasons"][0],
            "ZIP holding executables or scripts (invoice.pdf.exe)"
        );
        assert_eq!(files(&r), [("readme.txt", 5), ("invoice.pdf.exe", 0x400)]);
    }

    #[test]
    fn encrypted_zip_is_suspicious_and_not_unpacked() {
        let mut z = zip(&[("secret.txt", b"hello")]);
        let local = find(&z, b"PK\x03\x04").expect("local header");
        let central = find(&z, b"PK\x01\x02").expect("central header");
        z[local + 6] |= 1;
        z[central + 8] |= 1;
        let r = analyze(&z, "enc.zip", 1 << 20).expect("report");
        assert_eq!(r.full["zip"]["encrypted"], true);
        assert_eq!(r.full["verdict"]["reasons"], json!(["encrypted ZIP"]));
        assert!(files(&r).is_empty());
    }

    #[test]
    fn elf_is_suspicious_with_its_header() {
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(16, 0);
        elf.extend(2u16.to_le_bytes()); // executable
        elf.extend(0x3Eu16.to_le_bytes()); // x86-64
        elf.extend(1u32.to_le_bytes());
        elf.extend(0x40_1000u64.to_le_bytes()); // entry
        elf.extend([0u8; 20]); // program and section header offsets, flags
        for v in [64u16, 56, 0, 64, 0, 0] {
            elf.extend(v.to_le_bytes());
        }
        let r = analyze(&elf, "a.out", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "ELF");
        let section = &r.full["elf"];
        assert_eq!(section["class"], "ELF64", "{section}");
        assert_eq!(section["machine"], "X86_64");
        assert_eq!(section["type"], "EXEC");
        assert_eq!(section["entry_point"], "0x401000");
        assert_eq!(level(&r), "suspicious");
    }

    #[test]
    fn zip_bomb_stops_at_the_unpacking_limit() {
        let bomb = zip_bomb(200 << 20);
        assert!(bomb.len() < 2 << 20);
        let r = analyze(&bomb, "bomb.zip", 1 << 20).expect("report");
        assert_eq!(r.full["zip"]["truncated"], true);
        assert!(r.full["zip"]["compression_ratio"].as_f64().expect("ratio") > 100.0);
        assert!(files(&r).iter().map(|f| f.1).sum::<usize>() <= 1 << 20);
    }

    #[test]
    fn truncated_and_random_inputs_give_reports() {
        let z = zip(&[("a.txt", b"aaaa"), ("b.txt", b"bbbb")]);
        let r = analyze(&z[..z.len() - 30], "cut.zip", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "ZIP");
        assert!(!r.full["zip"]["errors"].as_array().expect("list").is_empty());

        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut random = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 24) as u8
                })
                .collect()
        };
        let r = analyze(&random(4096), "random.bin", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "DATA");
        assert!(r.full["entropy"].as_f64().expect("entropy") > 7.5);
        assert_eq!(level(&r), "safe");
        let doc = macro_doc();
        let prefixes: [&[u8]; 6] = [
            &doc[..600],
            b"%PDF-1.5\n/URI (",
            b"MZ",
            b"\x7fELF\x02\x01\x01",
            b"PK\x03\x04",
            b"PK\x05\x06",
        ];
        for prefix in prefixes {
            for len in [0, 7, 64, 700, 5000] {
                let mut input = prefix.to_vec();
                input.extend(random(len));
                assert!(analyze(&input, "fuzz", 1 << 16).is_ok());
            }
        }
        let mut broken = macro_doc();
        let len = broken.len();
        broken[len - 700..].fill(0xFF);
        assert!(analyze(&broken, "broken.doc", 1 << 20).is_ok());
    }

    #[test]
    fn text_empty_and_missing_files() {
        let r = analyze(b"just some words\n", "a.txt", 1 << 20).expect("report");
        assert_eq!(
            (r.full["filetype"].as_str(), r.full["mimetype"].as_str()),
            (Some("TEXT"), Some("text/plain"))
        );
        assert_eq!(r.full["md5"], "c50a1014a6695f5abbce05dc40a7e0db");
        assert_eq!(r.full["sha256"].as_str().map(str::len), Some(64));
        assert_eq!(r.full["sha512"].as_str().map(str::len), Some(128));
        assert_eq!(
            analyze(b"", "empty", 1).err().as_deref(),
            Some("the file is empty")
        );
        let job = Job {
            data_type: "file".into(),
            data: None,
            tlp: 2,
            pap: 2,
            config: Map::new(),
            parameters: Value::Null,
            file: None,
        };
        let settings = NativeSettings {
            max_input_bytes: 1 << 20,
            max_unpacked_bytes: 1 << 20,
            egress_allow: String::new(),
            smtp_allow: String::new(),
            lists_dir: None,
        };
        assert_eq!(
            run(&job, &settings).err().as_deref(),
            Some("Native_FileInfo needs a file observable")
        );
        let job = Job {
            file: Some((clean_doc(), "clean.doc".into())),
            ..job
        };
        assert_eq!(level(&run(&job, &settings).expect("report")), "safe");
    }

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(4_294_967_295), "2106-02-07T06:28:15Z");
    }

    #[test]
    fn statement_fixture_is_read_without_panic() {
        let path = format!(
            "{}/../tests/fixtures/mail/statement-88231.doc",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).expect("the fixture of tests/fixtures/mail");
        let r = analyze(&bytes, "statement-88231.doc", 1 << 20).expect("report");
        assert_eq!(r.full["filetype"], "OLE2");
        let errors = r.full["ole"]["errors"].as_array().map_or(0, Vec::len);
        assert!(level(&r) == "safe" || errors > 0, "{}", r.full);
    }

    /// Writes the samples to `$NATIVE_SAMPLES_DIR` (for integration tests); does nothing
    /// when it is unset.
    #[test]
    fn write_samples() {
        let Some(dir) = std::env::var_os("NATIVE_SAMPLES_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("samples dir");
        let exe = pe32();
        let samples: [(&str, Vec<u8>); 8] = [
            ("macro.doc", macro_doc()),
            ("clean.doc", clean_doc()),
            ("macro.docm", macro_docm()),
            ("clean.docx", clean_docx()),
            ("js.pdf", pdf(true)),
            ("clean.pdf", pdf(false)),
            (
                "bundle.zip",
                zip(&[("readme.txt", b"hello"), ("hello.exe", &exe)]),
            ),
            ("hello.exe", exe),
        ];
        for (name, bytes) in samples {
            std::fs::write(dir.join(name), bytes).expect("write sample");
        }
    }
}
