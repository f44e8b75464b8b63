//! `Native_EmlParser`: an e-mail (.eml, RFC 5322 / MIME) parsed in process with the
//! `mail-parser` crate. The report's `full` keeps Cortex-Analyzers EmlParser's layout
//! (`raw_email`, `headers`, `body.text_plain` / `body.text_html`, `attachments`,
//! `iocs{ip, domain, url, email, hash, files}` with `{data, tag}` entries), so what reads that
//! report reads this one; nested messages (message/rfc822 parts, and attached `.eml` files)
//! are parsed too, to a depth of 3, and their IOCs join the list tagged `nested-message`.
//! Artifacts are tagged as EmlParser tags them (`header:Received`, `mail-relay`,
//! `header:From`, `body:attachment`, `content-type:<type>`...), `autoImport:true` on URLs,
//! IPs, addresses and attachments, each value once.

use super::ioc::{file_text, url_host, valid_domain, Iocs};
use super::{Found, Job, Report, Taxonomy};
use crate::config::NativeSettings;
use mail_parser::{Address, HeaderValue, Host, MessageParser, MimeHeaders, PartType};
use md5::Md5;
use regex::Regex;
use serde_json::{json, Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use std::collections::HashMap;
use std::sync::LazyLock;

/// Longest value reported as an IOC.
const MAX_VALUE: usize = 4096;
/// Most artifacts returned (the report's `iocs` keep up to 5,000 values of each kind).
const MAX_ARTIFACTS: usize = 2_000;

/// Deepest nesting of attached messages parsed.
const MAX_DEPTH: usize = 3;
/// Most attachments reported (over all nesting levels).
const MAX_ATTACHMENTS: usize = 500;
/// Most characters of `raw_email` kept in the report.
const MAX_RAW: usize = 2 * 1024 * 1024;
/// Headers whose presence makes a file an e-mail.
const MAIL_HEADERS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "received",
    "message-id",
    "mime-version",
    "return-path",
];

static HREF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:href|src|action)\s*=\s*(?:"([^"]+)"|'([^']+)'|([^\s>]+))"#)
        .expect("href regex")
});
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<[^>]*>").expect("tag regex"));

/// A list of `{data, tag[]}` entries, tags merged when a value comes again.
#[derive(Debug, Default)]
struct Tagged(Vec<(String, Vec<String>)>, HashMap<String, usize>);

impl Tagged {
    fn add(&mut self, data: &str, tags: &[&str]) {
        if data.len() > MAX_VALUE {
            return;
        }
        if let Some(i) = self.1.get(data) {
            let t = &mut self.0[*i].1;
            for tag in tags {
                if !t.iter().any(|x| x == tag) {
                    t.push(tag.to_string());
                }
            }
        } else if self.0.len() < super::ioc::MAX_PER_KIND {
            self.1.insert(data.to_string(), self.0.len());
            self.0.push((
                data.to_string(),
                tags.iter().map(|t| t.to_string()).collect(),
            ));
        }
    }

    fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|(d, t)| json!({"data": d, "tag": t}))
                .collect(),
        )
    }
}

/// The IOCs of a message and of the messages it holds.
#[derive(Debug, Default)]
struct Found2 {
    ip: Tagged,
    domain: Tagged,
    url: Tagged,
    email: Tagged,
    /// sha256, filename, tags, bytes.
    files: Vec<Attachment>,
    /// Attachments were skipped (native.max_unpacked_bytes).
    truncated: bool,
}

#[derive(Debug)]
struct Attachment {
    sha256: String,
    filename: String,
    tags: Vec<String>,
    bytes: Vec<u8>,
}

impl Found2 {
    fn text(&mut self, text: &str, tags: &[&str], mails_and_ips: bool) {
        let i = Iocs::extract(text);
        for u in &i.urls {
            self.url.add(u, tags);
        }
        if mails_and_ips {
            for ip in &i.ips {
                self.ip.add(ip, tags);
            }
            for m in &i.mails {
                self.email.add(m, tags);
            }
        }
    }
}

/// Runs the analyzer.
pub fn run(job: &Job, settings: &NativeSettings) -> Result<Report, String> {
    let Some((bytes, name)) = &job.file else {
        return Err("Native_EmlParser needs a file observable (an .eml)".into());
    };
    parse(bytes, name, settings.max_unpacked_bytes)
}

/// Parses `bytes` (the file `name`); `max_unpacked` bounds the attachments' decoded bytes.
pub fn parse(bytes: &[u8], name: &str, max_unpacked: u64) -> Result<Report, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| format!("{name} is not an e-mail: it cannot be parsed"))?;
    let known = message
        .headers()
        .iter()
        .filter(|h| MAIL_HEADERS.contains(&h.name().to_ascii_lowercase().as_str()))
        .count();
    if known == 0 {
        return Err(format!(
            "{name} is not an e-mail: none of its lines is a message header (From, To, Subject, \
             Date, Received, Message-ID)"
        ));
    }
    check_complete(&message, bytes)?;
    let mut found = Found2::default();
    let mut budget = max_unpacked;
    let mut nested = Vec::new();
    let (headers, body, attachments) = message_report(
        &message,
        &mut found,
        &mut budget,
        &mut nested,
        0,
        &["header:Received", "mail-relay"],
    )?;
    // URL hosts are domains too (once, over every level).
    let hosts: Vec<(String, Vec<String>)> = found
        .url
        .0
        .iter()
        .filter_map(|(u, t)| {
            let full = if u.starts_with("//") {
                format!("http:{u}")
            } else {
                u.clone()
            };
            url_host(&full).map(|h| (h, t.clone()))
        })
        .collect();
    for (h, t) in hosts {
        let t: Vec<&str> = t.iter().map(String::as_str).collect();
        if valid_domain(&h) {
            found.domain.add(&h, &t);
        }
    }
    let raw = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_RAW)]).into_owned();
    let hashes: Vec<Value> = found
        .files
        .iter()
        .map(|a| json!({"hash": a.sha256, "filename": a.filename, "tag": a.tags}))
        .collect();
    let full = json!({
        "raw_email": raw,
        "headers": headers,
        "body": body,
        "attachments": attachments,
        "nested_messages": nested,
        "truncated": found.truncated,
        "iocs": {
            "ip": found.ip.to_json(),
            "domain": found.domain.to_json(),
            "url": found.url.to_json(),
            "email": found.email.to_json(),
            "hash": hashes,
            "files": [],
        },
    });
    let n_attachments = found.files.len();
    let n_urls = found.url.0.len();
    let taxonomies = vec![
        Taxonomy::new("info", "EmlParser", "Attachments", n_attachments),
        Taxonomy::new("info", "EmlParser", "Urls", n_urls),
    ];
    Ok(Report {
        artifacts: artifacts(found),
        full,
        taxonomies,
        operations: Vec::new(),
    })
}

/// A multipart message must end with its closing boundary: one without it was cut.
fn check_complete(message: &mail_parser::Message<'_>, bytes: &[u8]) -> Result<(), String> {
    let root = message.root_part();
    if let Some(boundary) = root
        .content_type()
        .filter(|c| c.ctype().eq_ignore_ascii_case("multipart"))
        .and_then(|c| c.attribute("boundary"))
    {
        let close = format!("--{boundary}--");
        // A message cut in transit (or a download cut short) stops mid-line without its
        // closing boundary; one whose sender merely left the boundary out ends its last
        // line and is parsed as mail clients parse it.
        let ends_line = bytes.last().is_some_and(|b| *b == b'\n');
        if !ends_line && memchr::memmem::find(bytes, close.as_bytes()).is_none() {
            return Err(format!(
                "the message is truncated: it stops mid-line without its closing MIME boundary \
                 ({close})"
            ));
        }
    }
    Ok(())
}

fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .map(|s| s.trim().to_lowercase())
            .collect()
    })
    .unwrap_or_default()
}

fn header_text(v: &HeaderValue<'_>) -> String {
    match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(", "),
        _ => String::new(),
    }
}

fn host(h: &Option<Host<'_>>) -> Vec<String> {
    match h {
        Some(Host::Name(n)) => vec![n.to_lowercase()],
        Some(Host::IpAddr(ip)) => vec![ip.to_string()],
        None => Vec::new(),
    }
}

fn digest<D: Digest>(b: &[u8]) -> String {
    hex::encode(D::digest(b))
}

#[allow(clippy::too_many_lines)]
fn message_report(
    m: &mail_parser::Message<'_>,
    found: &mut Found2,
    budget: &mut u64,
    nested: &mut Vec<Value>,
    depth: usize,
    relay_tags: &[&str],
) -> Result<(Value, Value, Vec<Value>), String> {
    let nested_tag: &[&str] = if depth > 0 { &["nested-message"] } else { &[] };
    let with = |tags: &[&str]| -> Vec<String> {
        tags.iter()
            .chain(nested_tag.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let tags_of = |tags: &[&str]| with(tags);
    // Headers, EmlParser's way.
    let raw_headers: Vec<(String, String)> = m
        .headers_raw()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut received = Vec::new();
    for (n, v) in raw_headers.iter().filter(|(n, _)| n == "received") {
        let _ = n;
        let text = v.replace(['\r', '\n'], " ");
        let r = MessageParser::default()
            .parse(format!("Received: {text}\r\n\r\n").as_bytes())
            .and_then(|x| x.received().cloned().map(|r| r.into_owned()));
        let (mut from, mut by, mut with_, mut date, mut for_) =
            (Vec::new(), Vec::new(), None, None, None);
        if let Some(r) = &r {
            from = host(&r.from);
            if let Some(ip) = r.from_ip {
                from.push(ip.to_string());
            }
            by = host(&r.by);
            with_ = r.with.as_ref().map(|w| w.to_string());
            date = r.date.as_ref().map(iso_date);
            for_ = r.for_.as_ref().map(|f| f.to_lowercase());
        }
        // What the crate saw, then whatever else the line holds (EmlParser reads it all).
        let all = Iocs::extract(&text);
        let tags = tags_of(relay_tags);
        let t: Vec<&str> = tags.iter().map(String::as_str).collect();
        if let Some(ip) = r.as_ref().and_then(|r| r.from_ip) {
            found.ip.add(&ip.to_string(), &t);
        }
        for ip in &all.ips {
            found.ip.add(ip, &t);
        }
        for d in from.iter().chain(by.iter()).chain(all.domains.iter()) {
            if valid_domain(d) {
                found.domain.add(d, &t);
            }
        }
        let mut mails = all.mails.clone();
        if let Some(f) = &for_ {
            mails.extend(Iocs::extract(f).mails);
        }
        for mail in &mails {
            let tags = tags_of(&["header:Received_foremail", "envelope"]);
            let t: Vec<&str> = tags.iter().map(String::as_str).collect();
            found.email.add(mail, &t);
        }
        received.push(json!({
            "src": text.trim(), "from": from, "by": by, "with": with_, "date": date,
            "for": for_.map(|f| vec![f]).unwrap_or_default(),
        }));
    }
    let from = addresses(m.from());
    let reply_to = addresses(m.reply_to());
    let (cc, bcc) = (addresses(m.cc()), addresses(m.bcc()));
    let delivered_to: Vec<String> = raw_headers
        .iter()
        .filter(|(n, _)| n == "delivered-to" || n == "x-delivered-to")
        .flat_map(|(_, v)| Iocs::extract(v).mails)
        .collect();
    for (list, tag) in [
        (&cc, "header:Cc"),
        (&bcc, "header:Bcc"),
        (&delivered_to, "header:To"),
        (&from, "header:From"),
    ] {
        let tags = tags_of(&[tag, "envelope"]);
        let t: Vec<&str> = tags.iter().map(String::as_str).collect();
        for a in list {
            found.email.add(a, &t);
        }
    }
    if let Some(f) = from.first() {
        if let Some((_, d)) = f.rsplit_once('@') {
            let tags = tags_of(&["header:From", "sender-domain"]);
            let t: Vec<&str> = tags.iter().map(String::as_str).collect();
            found.domain.add(d, &t);
        }
    }
    for a in &reply_to {
        let tags = tags_of(&["header:Reply-To", "envelope"]);
        let t: Vec<&str> = tags.iter().map(String::as_str).collect();
        found.email.add(a, &t);
        if let Some((_, d)) = a.rsplit_once('@') {
            let tags = tags_of(&["header:Reply-To", "reply-to-domain"]);
            let t: Vec<&str> = tags.iter().map(String::as_str).collect();
            found.domain.add(d, &t);
        }
    }
    // EmlParser's types: every header a list of its values as written (unfolded), the
    // envelope ones "" when absent, `date` the first date in ISO 8601 with its offset.
    let values_of = |name: &str| -> Vec<String> {
        raw_headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| unfold(v))
            .take(100)
            .collect()
    };
    let or_empty = |v: Vec<String>| if v.is_empty() { json!("") } else { json!(v) };
    let subject: Vec<String> = match m.subject() {
        Some(s) => vec![s.to_string()],
        None => Vec::new(),
    };
    let headers = json!({
        "return-path": or_empty(values_of("return-path")),
        "delivered-to": or_empty(values_of("delivered-to")),
        "x-delivered-to": or_empty(values_of("x-delivered-to")),
        "from": values_of("from"),
        "to": values_of("to"),
        "cc": values_of("cc"),
        "bcc": values_of("bcc"),
        "reply-to": values_of("reply-to"),
        "subject": if subject.is_empty() { json!("") } else { json!(subject) },
        "date": m.date().map(iso_date).unwrap_or_default(),
        "message-id": m.message_id().unwrap_or(""),
        "received": received,
        "header": raw_headers.iter().fold(Map::new(), |mut acc, (n, v)| {
            let e = acc.entry(n.clone()).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = e {
                if a.len() < 100 {
                    a.push(Value::String(v.chars().take(8192).collect()));
                }
            }
            acc
        }),
    });
    // Bodies.
    let mut text_plain = Vec::new();
    let mut text_html = Vec::new();
    for part in m.text_bodies() {
        if let PartType::Text(t) = &part.body {
            let tags = tags_of(&["body:text/plain", "content-ioc"]);
            let tg: Vec<&str> = tags.iter().map(String::as_str).collect();
            found.text(t, &tg, true);
            text_plain.push(json!({
                "content_type": "text/plain",
                "content": t,
                "content_header": content_header(part),
                "hash": digest::<Sha256>(t.as_bytes()),
            }));
        }
    }
    for part in m.html_bodies() {
        if let PartType::Html(h) = &part.body {
            let tags = tags_of(&["body:text/html", "content-ioc"]);
            let tg: Vec<&str> = tags.iter().map(String::as_str).collect();
            for c in HREF.captures_iter(h) {
                let v = c
                    .get(1)
                    .or_else(|| c.get(2))
                    .or_else(|| c.get(3))
                    .map(|x| decode_entities(x.as_str()))
                    .unwrap_or_default();
                let v = v.trim();
                if url_host(v).is_some() {
                    found.url.add(v, &tg);
                } else if v.starts_with("//") && url_host(&format!("http:{v}")).is_some() {
                    // Protocol-relative, kept as written (as eml_parser reports it).
                    found.url.add(v, &tg);
                }
            }
            let decoded = decode_entities(h);
            found.text(&decoded, &tg, false);
            let visible = TAG.replace_all(&decoded, " ");
            found.text(&visible, &tg, true);
            text_html.push(json!({
                "content_type": "text/html",
                "content": h,
                "content_header": content_header(part),
                "hash": digest::<Sha256>(h.as_bytes()),
            }));
        }
    }
    let body = json!({"text_plain": text_plain, "text_html": text_html});
    // Attachments.
    let mut out = Vec::new();
    for part in m.attachments() {
        if found.files.len() >= MAX_ATTACHMENTS {
            break;
        }
        let (bytes, inner): (Vec<u8>, Option<&mail_parser::Message<'_>>) = match &part.body {
            PartType::Message(inner) => (inner.raw_message().to_vec(), Some(inner)),
            _ => (part.contents().to_vec(), None),
        };
        let size = bytes.len() as u64;
        if size > *budget {
            // Past native.max_unpacked_bytes: the rest is listed as skipped, and what was
            // read is still reported.
            out.push(json!({
                "filename": part.attachment_name().map(safe_name).unwrap_or_default(),
                "size": size,
                "skipped": "over native.max_unpacked_bytes",
            }));
            found.truncated = true;
            continue;
        }
        *budget -= size;
        let ctype = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_lowercase();
        let filename = part
            .attachment_name()
            .map(safe_name)
            .unwrap_or_else(|| format!("attachment_{}", &digest::<Sha256>(&bytes)[..16]));
        let sha256 = digest::<Sha256>(&bytes);
        let mime = super_type(&bytes);
        let extension = filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_lowercase())
            .unwrap_or_default();
        out.push(json!({
            "filename": filename,
            "size": size,
            "extension": extension,
            "mime": mime,
            "hash": {
                "md5": digest::<Md5>(&bytes),
                "sha1": digest::<Sha1>(&bytes),
                "sha256": sha256,
                "sha512": digest::<Sha512>(&bytes),
            },
            "content_header": {"content-type": [ctype.clone()]},
        }));
        let mut tags = tags_of(&[&format!("content-type:{ctype}")]);
        tags.dedup();
        // Text attachments: their URLs count.
        if mime.starts_with("text") && inner.is_none() && !looks_like_mail(&filename, &bytes) {
            let t = file_text(&bytes);
            let at = tags_of(&["body:attachment", "content-ioc"]);
            let at: Vec<&str> = at.iter().map(String::as_str).collect();
            found.text(&t, &at, false);
        }
        // The attachment first (its bytes join it once the nested message is read).
        let index = found.files.len();
        found.files.push(Attachment {
            sha256,
            filename: filename.clone(),
            tags,
            bytes: Vec::new(),
        });
        // Nested messages: a message/rfc822 part, or an attached .eml that parses as one.
        if depth + 1 < MAX_DEPTH {
            let parsed_inner;
            let inner = match inner {
                Some(i) => Some(i),
                None if looks_like_mail(&filename, &bytes) => {
                    parsed_inner = MessageParser::default().parse(&bytes[..]);
                    parsed_inner.as_ref()
                }
                None => None,
            };
            if let Some(inner) = inner {
                let (h, b, a) = message_report(
                    inner,
                    found,
                    budget,
                    nested,
                    depth + 1,
                    &["header:Received", "mail-relay"],
                )?;
                nested.push(json!({
                    "filename": filename, "depth": depth + 1, "headers": h, "body": b,
                    "attachments": a,
                }));
            }
        }
        found.files[index].bytes = bytes;
    }
    Ok((headers, body, out))
}

/// A header value unfolded (its line breaks and their indentation made one space).
fn unfold(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, line) in v.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if i > 0 {
            out.push(' ');
            out.push_str(line.trim_start());
        } else {
            out.push_str(line);
        }
    }
    out.chars()
        .take(8192)
        .collect::<String>()
        .trim()
        .to_string()
}

/// ISO 8601 with the offset written out (`+00:00`, as Python's `isoformat`).
fn iso_date(d: &mail_parser::DateTime) -> String {
    let s = d.to_rfc3339();
    match s.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => s,
    }
}

/// A part's MIME headers as EmlParser gives them: lower-case name → list of values.
fn content_header(part: &mail_parser::MessagePart<'_>) -> Value {
    let mut out = Map::new();
    for h in part.headers() {
        let name = h.name().to_ascii_lowercase();
        if !name.starts_with("content-") {
            continue;
        }
        let raw = match h.value() {
            HeaderValue::ContentType(c) => {
                let mut v = match c.subtype() {
                    Some(sub) => format!("{}/{}", c.ctype(), sub),
                    None => c.ctype().to_string(),
                };
                for a in c.attributes().unwrap_or_default() {
                    v.push_str(&format!("; {}=\"{}\"", a.name, a.value));
                }
                v
            }
            other => header_text(other),
        };
        if let Value::Array(a) = out.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
            a.push(Value::String(raw));
        }
    }
    Value::Object(out)
}

/// HTML character references decoded (`&amp;`, `&#64;`, `&#x2F;`, a few named ones).
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail[..tail.len().min(12)].find(';');
        let decoded = end.and_then(|e| {
            let name = &tail[1..e];
            let c = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok().and_then(char::from_u32)
            } else {
                match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    "sol" => Some('/'),
                    "colon" => Some(':'),
                    "period" => Some('.'),
                    "commat" => Some('@'),
                    _ => None,
                }
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether an attachment is an e-mail to parse as one.
fn looks_like_mail(name: &str, bytes: &[u8]) -> bool {
    let lower = name.to_lowercase();
    if !(lower.ends_with(".eml") || lower.ends_with(".msg.eml")) {
        // Without the extension, only text that starts with message headers.
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_lowercase();
        return ["received:", "from:", "return-path:", "message-id:"]
            .iter()
            .any(|h| head.starts_with(h))
            && head.contains("\nsubject:");
    }
    true
}

/// A file name without directories or NUL, never `.`/`..`.
fn safe_name(raw: &str) -> String {
    let base = raw
        .replace('\\', "/")
        .rsplit('/')
        .next()
        .unwrap_or("")
        .chars()
        // Control and format characters (right-to-left overrides that show
        // `invoice\u{202e}fdp.exe` as `invoiceexe.pdf`) are dropped.
        .filter(|c| !c.is_control() && !is_format_char(*c))
        .take(255)
        .collect::<String>()
        .trim()
        .to_string();
    if base.is_empty() || base == "." || base == ".." {
        "attachment".into()
    } else {
        base
    }
}

/// Unicode format characters (Cf) that change how a name is shown.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{061c}' | '\u{00ad}')
}

/// A short type by content (EmlParser gives libmagic's words; this gives a MIME type).
fn super_type(bytes: &[u8]) -> String {
    if let Some(t) = infer::get(bytes) {
        return t.mime_type().to_string();
    }
    if bytes.starts_with(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) {
        return "application/x-ole-storage".into();
    }
    let head = &bytes[..bytes.len().min(4096)];
    if std::str::from_utf8(head).is_ok() || head.iter().all(|b| *b >= 0x09) {
        // A message first: its HTML part must not make it an HTML page.
        if looks_like_mail("", bytes) {
            return "message/rfc822".into();
        }
        let lower = String::from_utf8_lossy(head).to_lowercase();
        if lower.contains("<html") || lower.contains("<!doctype html") {
            return "text/html".into();
        }
        return "text/plain".into();
    }
    "application/octet-stream".into()
}

/// EmlParser's artifacts: URLs, IPs and addresses with `autoImport:true`, domains, then
/// each attachment's hash, file name and file.
fn artifacts(found: Found2) -> Vec<Found> {
    let mut out = artifacts_uncapped(found);
    out.truncate(MAX_ARTIFACTS);
    out
}

fn artifacts_uncapped(found: Found2) -> Vec<Found> {
    let mut out = Vec::new();
    let with_auto = |tags: &[String]| -> Vec<String> {
        let mut t = tags.to_vec();
        t.push("autoImport:true".into());
        t
    };
    for (kind, list, auto) in [
        ("url", &found.url, true),
        ("ip", &found.ip, true),
        ("mail", &found.email, true),
        ("domain", &found.domain, false),
    ] {
        for (data, tags) in &list.0 {
            out.push(Found::Value {
                data_type: kind.into(),
                data: data.clone(),
                tags: if auto { with_auto(tags) } else { tags.clone() },
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for a in found.files {
        let mut tags = vec!["body:attachment".to_string(), "autoImport:true".to_string()];
        tags.extend(a.tags.iter().cloned());
        if seen.insert(("hash", a.sha256.clone())) {
            out.push(Found::Value {
                data_type: "hash".into(),
                data: a.sha256.clone(),
                tags: tags.clone(),
            });
        }
        if seen.insert(("filename", a.filename.clone())) {
            out.push(Found::Value {
                data_type: "filename".into(),
                data: a.filename.clone(),
                tags: tags.clone(),
            });
        }
        if seen.insert(("file", a.sha256.clone())) {
            out.push(Found::File {
                name: a.filename,
                bytes: a.bytes,
                tags,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../tests/fixtures/mail/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("the fixtures of tests/fixtures/mail")
    }

    fn values(r: &Report, kind: &str) -> Vec<String> {
        r.artifacts
            .iter()
            .filter_map(|a| match a {
                Found::Value {
                    data_type, data, ..
                } if data_type == kind => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_suspicious_message_gives_its_relay_url_sender_and_attachment() {
        let b = fixture("Overdue_payment_88231.eml");
        let r = parse(&b, "Overdue_payment_88231.eml", 64 << 20).expect("parses");
        assert!(values(&r, "ip").contains(&"198.51.100.23".to_string()));
        assert!(values(&r, "url")
            .contains(&"http://payments-notice.test/dl/statement_88231.zip".to_string()));
        assert!(values(&r, "mail").contains(&"billing@payments-notice.test".to_string()));
        assert!(values(&r, "filename").contains(&"statement-88231.doc".to_string()));
        let files: Vec<&Found> = r
            .artifacts
            .iter()
            .filter(|a| matches!(a, Found::File { .. }))
            .collect();
        assert_eq!(files.len(), 1);
        let doc = fixture("statement-88231.doc");
        assert_eq!(
            values(&r, "hash"),
            [hex::encode(Sha256::digest(&doc))],
            "the attachment's SHA-256 is the document's"
        );
        let relay = r.artifacts.iter().find_map(|a| match a {
            Found::Value { data, tags, .. } if data == "198.51.100.23" => Some(tags.clone()),
            _ => None,
        });
        let relay = relay.expect("relay");
        assert!(relay.contains(&"mail-relay".to_string()), "{relay:?}");
        assert!(relay.contains(&"autoImport:true".to_string()));
        assert_eq!(
            r.full["headers"]["subject"],
            json!(["Overdue payment notice 88231"])
        );
        assert_eq!(r.full["headers"]["date"], "2020-06-26T09:26:00+02:00");
        assert_eq!(r.taxonomies[0].value, json!(1));
    }

    #[test]
    fn the_users_report_is_parsed_with_the_message_it_attaches() {
        let b = fixture("user-report.eml");
        let r = parse(&b, "user-report.eml", 64 << 20).expect("parses");
        assert!(values(&r, "mail").contains(&"alice@corp.example".to_string()));
        assert!(values(&r, "ip").contains(&"198.51.100.23".to_string()));
        assert!(values(&r, "filename").contains(&"statement-88231.doc".to_string()));
        assert_eq!(r.full["nested_messages"].as_array().map(Vec::len), Some(1));
        // The attached message is parsed, never scanned as raw text (quoted-printable soft
        // line breaks would cut its URL).
        assert_eq!(
            values(&r, "url"),
            ["http://payments-notice.test/dl/statement_88231.zip"]
        );
        assert_eq!(r.full["attachments"][0]["mime"], "message/rfc822");
    }

    #[test]
    fn bad_inputs_fail_with_a_reason() {
        assert!(parse(b"", "x", 1 << 20).is_err());
        let e = parse(b"\x00\x01\x02 just bytes", "x.bin", 1 << 20).expect_err("not mail");
        assert!(e.contains("not an e-mail"), "{e}");
        let cut = b"From: a@b.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhello http://x.exa";
        let e = parse(cut, "cut.eml", 1 << 20).expect_err("truncated");
        assert!(e.contains("truncated"), "{e}");
        let big = format!(
            "From: a@b.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--B--\r\n",
            "QUFBQUFB".repeat(200_000)
        );
        // Past native.max_unpacked_bytes the attachment is skipped, the rest reported.
        let r = parse(big.as_bytes(), "big.eml", 1 << 20).expect("reported");
        assert_eq!(r.full["truncated"], true);
        assert_eq!(
            r.full["attachments"][0]["skipped"],
            "over native.max_unpacked_bytes"
        );
        // A sender that left the closing boundary out (last line ended) is parsed.
        let open = b"From: a@b.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhello http://x.example/\r\n";
        let r = parse(open, "open.eml", 1 << 20).expect("parsed");
        assert_eq!(r.full["iocs"]["url"][0]["data"], "http://x.example/");
        // Entities, protocol-relative links, right-to-left overrides.
        let html = "From: a@b.example\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n<a href=\"https:&#x2F;&#x2F;ent.example/x\">x</a> <a href=\"//cdn.evil.example/p\">y</a> bob&#64;evil.example\r\n";
        let r = parse(html.as_bytes(), "h.eml", 1 << 20).expect("parsed");
        let urls: Vec<&str> = r.full["iocs"]["url"]
            .as_array()
            .expect("urls")
            .iter()
            .filter_map(|u| u["data"].as_str())
            .collect();
        assert!(urls.contains(&"https://ent.example/x"), "{urls:?}");
        assert!(urls.contains(&"//cdn.evil.example/p"), "{urls:?}");
        assert!(values(&r, "mail").contains(&"bob@evil.example".to_string()));
        assert_eq!(safe_name("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
    }
}
