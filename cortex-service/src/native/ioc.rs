//! `Native_IocExtract`, and the extraction the e-mail parser uses: IPs, domains, URLs, mail
//! addresses and hashes in a text, after refanging (`hxxp`, `[.]`, `(dot)`, `[@]`...), each
//! validated (an address parses, a domain has a real top-level label and is not a file name,
//! a URL parses with a host), in first-seen order, each once.

use super::{Found, Job, Report, Taxonomy};
use regex::Regex;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

/// Most values of one kind reported.
pub const MAX_PER_KIND: usize = 5_000;
/// Longest value (a URL) reported.
const MAX_VALUE: usize = 4096;
/// Most characters of text looked at.
const MAX_TEXT: usize = 16 * 1024 * 1024;

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:https?|ftps?|sftp)://[^\s"'<>\x60{}|\\^\[\]]+"#).expect("url regex")
});
static WWW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bwww\.[^\s"'<>\x60{}|\\^\[\]/]+(?:/[^\s"'<>\x60{}|\\^\[\]]*)?"#)
        .expect("www regex")
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9.])((?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))")
        .expect("ipv4 regex")
});
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^0-9a-z:])([0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})").expect("ipv6 regex")
});
static MAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b[a-z0-9._%+-]{1,64}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,10}[a-z]{2,63}\b",
    )
    .expect("mail regex")
});
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9.@_-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,10}[a-z][a-z0-9-]{0,61}[a-z0-9])")
        .expect("domain regex")
});
static HASH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^0-9a-z])([0-9a-f]{128}|[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})")
        .expect("hash regex")
});

/// Defanging forms and what they stand for.
static DEFANG: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"(?i)\bh(?:xx|\*\*)p(s?)\[://\]", "http$1://"),
        (r"(?i)\bh(?:xx|\*\*)p(s?)(\[?:\]?|:)//", "http$1://"),
        (r"(?i)\bhxxp(s?)\b", "http$1"),
        (r"(?i)\bfxp(s?)://", "ftp$1://"),
        (
            r"(?i)\[(?:\.|dot)\]|\((?:\.|dot)\)|\{(?:\.|dot)\}|\s\[dot\]\s|\s\(dot\)\s",
            ".",
        ),
        (
            r"(?i)\[(?:@|at)\]|\((?:@|at)\)|\{(?:@|at)\}|\s\[at\]\s|\s\(at\)\s",
            "@",
        ),
        (r"\[:\]|\[://\]", ":"),
        (r"\[/\]", "/"),
    ]
    .into_iter()
    .map(|(r, to)| (Regex::new(r).expect("defang regex"), to))
    .collect()
});

/// File extensions that look like top-level domains in text (`invoice.pdf`) and are not
/// taken for domains unless seen in a URL or an address.
const FILE_EXTENSIONS: &[&str] = &[
    "exe", "dll", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "pdf", "txt", "zip",
    "rar", "7z", "gz", "tar", "js", "vbs", "bat", "cmd", "ps1", "lnk", "hta", "jar", "png", "jpg",
    "jpeg", "gif", "bmp", "svg", "html", "htm", "eml", "msg", "py", "sh", "php", "asp", "aspx",
    "jsp", "css", "json", "xml", "csv", "log", "ini", "cfg", "dat", "bin", "tmp", "iso", "img",
    "scr", "rtf", "odt", "ods", "mp3", "mp4", "wav", "avi", "mov", "md", "rs", "java", "class",
    "c", "h", "cpp", "go", "rb", "pl", "yml", "yaml", "toml", "lock", "sys", "drv", "ocx", "cab",
    "msi", "apk", "dmg", "pkg", "deb", "rpm", "so", "ko", "db", "sqlite",
];

/// What a text holds, in first-seen order, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Iocs {
    /// URLs.
    pub urls: Vec<String>,
    /// IPv4 and IPv6 addresses.
    pub ips: Vec<String>,
    /// Domains (also those of the URLs and addresses).
    pub domains: Vec<String>,
    /// Mail addresses.
    pub mails: Vec<String>,
    /// MD5, SHA-1, SHA-256 and SHA-512 hex digests.
    pub hashes: Vec<String>,
}

/// Refangs a text: `hxxp://evil[.]com` → `http://evil.com`.
pub fn refang(text: &str) -> String {
    let mut out = text.to_string();
    for (re, to) in DEFANG.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *to).into_owned();
        }
    }
    out
}

fn push(list: &mut Vec<String>, seen: &mut HashSet<String>, v: String) {
    if list.len() < MAX_PER_KIND && seen.insert(v.clone()) {
        list.push(v);
    }
}

/// Whether `d` is a plausible domain: two labels or more, a letters-only top-level label.
pub fn valid_domain(d: &str) -> bool {
    if d.len() > 253 || !d.contains('.') {
        return false;
    }
    let labels: Vec<&str> = d.split('.').collect();
    let tld = labels.last().copied().unwrap_or("");
    (2..=63).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Trims what ends a URL in prose: closing punctuation, quotes, a closing parenthesis
/// that opened nowhere in it. One pass from the end.
fn trim_url(u: &str) -> &str {
    let mut opens = u.matches('(').count();
    let mut closes = u.matches(')').count();
    let mut end = u.len();
    loop {
        let s = &u[..end];
        match s.chars().next_back() {
            Some(c @ ('.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' | '>' | '*')) => {
                end -= c.len_utf8();
            }
            Some(')') if opens < closes => {
                end -= 1;
                closes -= 1;
            }
            Some('(') if opens > closes => {
                end -= 1;
                opens -= 1;
            }
            _ => return s,
        }
    }
}

/// Whether the character after a match (if any) is not one of `more` (which would make
/// the match part of a longer token). Matches never take that character, so the next
/// match may start with it.
fn ends_clean(text: &str, end: usize, more: fn(char) -> bool) -> bool {
    text[end..].chars().next().is_none_or(|c| !more(c))
}

/// The host of a URL, if it parses and has one.
pub fn url_host(u: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(u).ok()?;
    parsed.host_str().map(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_lowercase()
    })
}

impl Iocs {
    /// Extracts from `text` (refanged first).
    pub fn extract(text: &str) -> Iocs {
        let mut i = Iocs::default();
        i.add_text(text);
        i
    }

    /// Adds what `text` holds to what is there.
    pub fn add_text(&mut self, text: &str) {
        let text = if text.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        } else {
            text
        };
        let text = refang(text);
        let mut seen = self.seen();
        // URLs first: their hosts are domains (or IPs) even when a file extension ends them.
        let mut url_spans: Vec<(usize, usize)> = Vec::new();
        for m in URL.find_iter(&text) {
            url_spans.push((m.start(), m.end()));
            if m.len() > MAX_VALUE {
                continue;
            }
            let u = trim_url(m.as_str());
            if let Some(host) = url_host(u) {
                push(&mut self.urls, &mut seen.0, u.to_string());
                self.add_host(&host, &mut seen);
            }
        }
        // `www.` links, unless inside a URL found above (both lists are in text order).
        let mut span = 0;
        for m in WWW.find_iter(&text) {
            while span < url_spans.len() && url_spans[span].1 <= m.start() {
                span += 1;
            }
            if url_spans.get(span).is_some_and(|(a, _)| *a <= m.start()) || m.len() > MAX_VALUE {
                continue;
            }
            let u = trim_url(m.as_str());
            let full = format!("http://{u}");
            if let Some(host) = url_host(&full).filter(|h| valid_domain(h)) {
                push(&mut self.urls, &mut seen.0, u.to_string());
                self.add_host(&host, &mut seen);
            }
        }
        for m in MAIL.find_iter(&text) {
            let mail = m.as_str().trim_start_matches('.').to_lowercase();
            if let Some((_, domain)) = mail.rsplit_once('@') {
                if valid_domain(domain) {
                    let domain = domain.to_string();
                    push(&mut self.mails, &mut seen.3, mail);
                    push(&mut self.domains, &mut seen.2, domain);
                }
            }
        }
        for c in IPV4.captures_iter(&text) {
            let Some(m) = c.get(1) else { continue };
            if !ends_clean(&text, m.end(), |c| c.is_ascii_digit()) {
                continue;
            }
            if let Ok(ip) = m.as_str().parse::<Ipv4Addr>() {
                push(&mut self.ips, &mut seen.1, ip.to_string());
            }
        }
        for c in IPV6.captures_iter(&text) {
            let Some(m) = c.get(1) else { continue };
            if !ends_clean(&text, m.end(), |c| c.is_ascii_alphanumeric() || c == ':') {
                continue;
            }
            if let Ok(ip) = m.as_str().parse::<Ipv6Addr>() {
                push(&mut self.ips, &mut seen.1, ip.to_string());
            }
        }
        for c in DOMAIN.captures_iter(&text) {
            let Some(m) = c.get(1) else { continue };
            if !ends_clean(&text, m.end(), |c| {
                c.is_ascii_alphanumeric() || matches!(c, '@' | '_' | '-')
            }) {
                continue;
            }
            let d = m.as_str().to_lowercase();
            let tld = d.rsplit('.').next().unwrap_or("");
            if valid_domain(&d) && !FILE_EXTENSIONS.contains(&tld) {
                push(&mut self.domains, &mut seen.2, d);
            }
        }
        for c in HASH.captures_iter(&text) {
            let Some(h) = c.get(1) else { continue };
            if ends_clean(&text, h.end(), |c| c.is_ascii_alphanumeric()) {
                push(&mut self.hashes, &mut seen.4, h.as_str().to_lowercase());
            }
        }
    }

    /// Adds a host: an address to the IPs, a name to the domains.
    pub fn add_host(&mut self, host: &str, seen: &mut Seen) {
        if let Ok(ip) = host.parse::<IpAddr>() {
            push(&mut self.ips, &mut seen.1, ip.to_string());
        } else if valid_domain(host) {
            push(&mut self.domains, &mut seen.2, host.to_lowercase());
        }
    }

    /// What is there already, for de-duplication.
    pub fn seen(&self) -> Seen {
        let set = |v: &Vec<String>| v.iter().cloned().collect::<HashSet<_>>();
        (
            set(&self.urls),
            set(&self.ips),
            set(&self.domains),
            set(&self.mails),
            set(&self.hashes),
        )
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
            && self.ips.is_empty()
            && self.domains.is_empty()
            && self.mails.is_empty()
            && self.hashes.is_empty()
    }
}

/// The values already held, per kind (urls, ips, domains, mails, hashes).
pub type Seen = (
    HashSet<String>,
    HashSet<String>,
    HashSet<String>,
    HashSet<String>,
    HashSet<String>,
);

/// The text of a file: UTF-8 (lossy) of its bytes, with UTF-16 text when it has the BOM.
pub fn file_text(bytes: &[u8]) -> String {
    if bytes.len() >= 2 && (bytes[..2] == [0xff, 0xfe] || bytes[..2] == [0xfe, 0xff]) {
        let le = bytes[0] == 0xff;
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the analyzer.
pub fn run(job: &Job) -> Result<Report, String> {
    let text = match (&job.file, job.text()) {
        (Some((bytes, _)), _) => file_text(bytes),
        (None, Some(t)) => t.to_string(),
        (None, None) => return Err("no data to extract from".into()),
    };
    let iocs = Iocs::extract(&text);
    // The observable itself is not reported back as what it holds.
    let own = job.text().map(|t| refang(t).to_lowercase());
    let tags = ["iocextract"];
    let mut artifacts = Vec::new();
    let mut add = |kind: &str, values: &[String]| {
        for v in values {
            if own.as_deref() != Some(v.to_lowercase().as_str()) {
                artifacts.push(Found::value(kind, v.clone(), &tags));
            }
        }
    };
    add("url", &iocs.urls);
    add("ip", &iocs.ips);
    add("domain", &iocs.domains);
    add("mail", &iocs.mails);
    add("hash", &iocs.hashes);
    let count = iocs.urls.len()
        + iocs.ips.len()
        + iocs.domains.len()
        + iocs.mails.len()
        + iocs.hashes.len();
    let level = if count == 0 { "info" } else { "suspicious" };
    let mut taxonomies = vec![Taxonomy::new(level, "IocExtract", "Iocs", count)];
    for (name, n) in [
        ("Urls", iocs.urls.len()),
        ("Ips", iocs.ips.len()),
        ("Domains", iocs.domains.len()),
        ("Mails", iocs.mails.len()),
        ("Hashes", iocs.hashes.len()),
    ] {
        if n > 0 {
            taxonomies.push(Taxonomy::new("info", "IocExtract", name, n));
        }
    }
    Ok(Report {
        full: serde_json::json!({
            "count": count,
            "iocs": {
                "url": iocs.urls, "ip": iocs.ips, "domain": iocs.domains,
                "mail": iocs.mails, "hash": iocs.hashes,
            },
        }),
        taxonomies,
        artifacts,
        operations: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defanged_indicators_are_refanged_and_validated() {
        let t = "Payload at hxxp://evil[.]example/dl/a.zip and hxxps[:]//bad(.)test/x, \
                 mail bob[@]phish.example or carol(at)corp(dot)example; c2 198.51.100[.]23, \
                 file invoice.pdf, hash 44d88612fea8a8f36de82e1278abb02f, not 999.1.1.1, \
                 ipv6 2001:db8::1.";
        let i = Iocs::extract(t);
        assert_eq!(
            i.urls,
            ["http://evil.example/dl/a.zip", "https://bad.test/x"]
        );
        assert!(i.domains.contains(&"evil.example".to_string()));
        assert!(i.domains.contains(&"bad.test".to_string()));
        assert!(i.domains.contains(&"phish.example".to_string()));
        assert!(
            !i.domains.iter().any(|d| d == "invoice.pdf"),
            "{:?}",
            i.domains
        );
        assert_eq!(i.mails, ["bob@phish.example", "carol@corp.example"]);
        assert_eq!(i.ips, ["198.51.100.23", "2001:db8::1"]);
        assert_eq!(i.hashes, ["44d88612fea8a8f36de82e1278abb02f"]);
    }

    #[test]
    fn urls_end_where_prose_does_and_appear_once() {
        let i = Iocs::extract(
            "(see http://a.example/p?q=1). Again: http://a.example/p?q=1, and www.b.example/x.",
        );
        assert_eq!(i.urls, ["http://a.example/p?q=1", "www.b.example/x"]);
        assert_eq!(i.domains, ["a.example", "www.b.example"]);
    }

    #[test]
    fn one_indicator_per_line_loses_none() {
        let h1 = "a".repeat(64);
        let h2 = "b".repeat(32);
        let i = Iocs::extract(&format!(
            "1.1.1.1\n2.2.2.2\n3.3.3.3\nevil.com bad.net worse.org\n{h1}\n{h2}\n1.2.3.45 1.2.3.456"
        ));
        assert_eq!(i.ips, ["1.1.1.1", "2.2.2.2", "3.3.3.3", "1.2.3.45"]);
        assert_eq!(i.domains, ["evil.com", "bad.net", "worse.org"]);
        assert_eq!(i.hashes, [h1, h2]);
        assert_eq!(
            Iocs::extract("hxxp[://]evil[.]example/x").urls,
            ["http://evil.example/x"]
        );
    }

    #[test]
    fn crafted_urls_cost_linear_time() {
        let t = std::time::Instant::now();
        let mut text = format!("http://a.example/{}", ")".repeat(1_000_000));
        text.push_str(&" www.q.example".repeat(100_000));
        let i = Iocs::extract(&text);
        assert!(i.urls.len() <= MAX_PER_KIND);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn hashes_are_bounded_by_non_hex() {
        let h = "a".repeat(64);
        let i = Iocs::extract(&format!("x{h}y {h} {}", "b".repeat(33)));
        assert_eq!(i.hashes, [h]);
    }

    #[test]
    fn utf16_files_are_read() {
        let mut b = vec![0xff, 0xfe];
        for u in "go to http://x.example/".encode_utf16() {
            b.extend(u.to_le_bytes());
        }
        assert_eq!(Iocs::extract(&file_text(&b)).urls, ["http://x.example/"]);
    }
}
