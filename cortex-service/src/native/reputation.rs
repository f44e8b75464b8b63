//! `Native_Reputation`: observables looked up in the operator's local lists.
//!
//! A list is a file `<name>.txt` in `native.lists_dir` (default `<data_dir>/lists`): one
//! entry per line, `#` starting a comment; an entry is a value (an address, a domain, a URL,
//! a mail address, a hash), a CIDR block (`198.51.100.0/24`) or a domain suffix
//! (`.example.net` or `*.example.net`: the domain and everything under it). A line
//! `# level: malicious` (or `suspicious`, `safe`, `info`) sets the level of a match
//! (default `suspicious`). Files are read again when their size or modification time
//! changes, at the next job; a list that vanished is dropped. Only files directly in the
//! folder are read (no links followed out of it), each at most 64 MiB.
//!
//! One taxonomy per list looked in: `Reputation:<list>=listed` at the list's level, or
//! `not listed` at `info`. An URL is looked up whole and by its host, a mail address whole
//! and by its domain, a domain also by its parents (suffix entries).

use super::{Job, Report, Taxonomy};
use ipnet::IpNet;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

/// Largest list file read.
const MAX_LIST_BYTES: u64 = 64 * 1024 * 1024;
/// Most list files read.
const MAX_LISTS: usize = 256;

#[derive(Debug, Default)]
struct List {
    stamp: (u64, Option<SystemTime>),
    level: &'static str,
    values: HashSet<String>,
    suffixes: HashSet<String>,
    nets: Vec<IpNet>,
}

impl List {
    fn parse(text: &str, stamp: (u64, Option<SystemTime>)) -> List {
        let mut l = List {
            stamp,
            level: "suspicious",
            ..List::default()
        };
        for line in text.lines() {
            let line = line.trim();
            if let Some(c) = line.strip_prefix('#') {
                if let Some(level) = c.trim().strip_prefix("level:") {
                    l.level = match level.trim().to_lowercase().as_str() {
                        "malicious" => "malicious",
                        "safe" => "safe",
                        "info" => "info",
                        _ => "suspicious",
                    };
                }
                continue;
            }
            let entry = line.split_whitespace().next().unwrap_or("").to_lowercase();
            if entry.is_empty() {
                continue;
            }
            if let Some(s) = entry.strip_prefix("*.").or_else(|| entry.strip_prefix('.')) {
                l.suffixes.insert(s.to_string());
            } else if entry.contains('/') && !entry.contains("://") {
                match entry.parse::<IpNet>() {
                    Ok(n) => l.nets.push(n),
                    Err(_) => {
                        l.values.insert(entry);
                    }
                }
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                // Written as the lookup writes it (`2001:0db8::1` is `2001:db8::1`).
                l.values.insert(ip.to_string());
            } else {
                l.values.insert(entry);
            }
        }
        l
    }

    /// The entry that matches one of `keys` (values, IPs, domains), if any.
    fn find(&self, values: &[String], ips: &[IpAddr], domains: &[String]) -> Option<String> {
        if let Some(v) = values.iter().find(|v| self.values.contains(*v)) {
            return Some(v.clone());
        }
        for ip in ips {
            if self.values.contains(&ip.to_string()) {
                return Some(ip.to_string());
            }
            if let Some(n) = self.nets.iter().find(|n| n.contains(ip)) {
                return Some(n.to_string());
            }
        }
        for d in domains {
            if self.values.contains(d) {
                return Some(d.clone());
            }
            let mut rest = d.as_str();
            loop {
                if self.suffixes.contains(rest) {
                    return Some(format!(".{rest}"));
                }
                match rest.split_once('.') {
                    Some((_, r)) if !r.is_empty() => rest = r,
                    _ => break,
                }
            }
        }
        None
    }
}

/// Reads a list file: never through a link (O_NOFOLLOW on the open itself, so a link
/// swapped in after the look is not followed), at most `MAX_LIST_BYTES`.
fn read_list(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_LIST_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The lists of `native.lists_dir`, kept in memory and refreshed when the files change.
#[derive(Debug)]
pub struct Lists {
    dir: Option<PathBuf>,
    loaded: Mutex<BTreeMap<String, List>>,
}

impl Lists {
    /// Over a folder (absent: no lists).
    pub fn new(dir: Option<PathBuf>) -> Lists {
        Lists {
            dir,
            loaded: Mutex::new(BTreeMap::new()),
        }
    }

    /// Reads the files that changed since the last look; drops the lists whose file went.
    fn refresh(&self, loaded: &mut BTreeMap<String, List>) {
        let Some(dir) = &self.dir else {
            loaded.clear();
            return;
        };
        let mut present = HashSet::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            loaded.clear();
            return;
        };
        let mut files: Vec<_> = entries.flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for e in files.into_iter().take(MAX_LISTS) {
            let path = e.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".txt"))
                .map(str::to_string)
            else {
                continue;
            };
            // symlink_metadata: a link is not followed out of the folder.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() || meta.len() > MAX_LIST_BYTES {
                continue;
            }
            present.insert(name.clone());
            let stamp = (meta.len(), meta.modified().ok());
            if loaded.get(&name).is_some_and(|l| l.stamp == stamp) {
                continue;
            }
            match read_list(&path) {
                Ok(bytes) => {
                    let list = List::parse(&String::from_utf8_lossy(&bytes), stamp);
                    tracing::info!(list = %name, entries = list.values.len() + list.suffixes.len() + list.nets.len(), "reputation list loaded");
                    loaded.insert(name, list);
                }
                Err(e) => tracing::warn!(list = %name, error = %e, "reputation list not readable"),
            }
        }
        loaded.retain(|n, _| present.contains(n));
    }

    /// Runs the analyzer.
    pub fn run(&self, job: &Job) -> Result<Report, String> {
        let value = job
            .text()
            .map(|v| super::ioc::refang(v.trim()).to_lowercase())
            .filter(|v| !v.is_empty())
            .ok_or("Native_Reputation needs a value (ip, domain, fqdn, url, mail or hash)")?;
        let (mut values, mut ips, mut domains) = (vec![value.clone()], Vec::new(), Vec::new());
        match job.data_type.as_str() {
            "ip" => {
                let ip: IpAddr = value
                    .parse()
                    .map_err(|_| format!("{value} is not an IP address"))?;
                // `::ffff:198.51.100.7` is looked up as 198.51.100.7 too.
                if let IpAddr::V6(v6) = ip {
                    if let Some(v4) = v6.to_ipv4_mapped() {
                        ips.push(IpAddr::V4(v4));
                    }
                }
                ips.push(ip);
            }
            "domain" | "fqdn" => domains.push(value.trim_end_matches('.').to_string()),
            "url" => {
                if let Some(h) = super::ioc::url_host(&value) {
                    match h.parse::<IpAddr>() {
                        Ok(ip) => ips.push(ip),
                        Err(_) => domains.push(h),
                    }
                }
                values.push(value.trim_end_matches('/').to_string());
            }
            "mail" => {
                if let Some((_, d)) = value.rsplit_once('@') {
                    domains.push(d.to_string());
                }
            }
            _ => {}
        }
        let wanted: HashSet<String> = job.conf_list("lists").into_iter().collect();
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh(&mut loaded);
        let mut taxonomies = Vec::new();
        let mut results = Vec::new();
        for (name, list) in loaded.iter() {
            if !wanted.is_empty() && !wanted.contains(name) {
                continue;
            }
            let found = list.find(&values, &ips, &domains);
            taxonomies.push(match &found {
                Some(_) => Taxonomy::new(list.level, "Reputation", name, "listed"),
                None => Taxonomy::new("info", "Reputation", name, "not listed"),
            });
            results.push(json!({
                "list": name, "listed": found.is_some(), "match": found,
                "level": if found.is_some() { list.level } else { "info" },
            }));
        }
        if results.is_empty() {
            taxonomies.push(Taxonomy::new("info", "Reputation", "Lists", 0));
        }
        let listed = results.iter().any(|r| r["listed"] == true);
        Ok(Report {
            full: json!({"value": value, "listed": listed, "lists": results}),
            taxonomies,
            artifacts: Vec::new(),
            operations: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(data_type: &str, value: &str) -> Job {
        Job {
            data_type: data_type.into(),
            data: Some(json!(value)),
            tlp: 2,
            pap: 2,
            config: Default::default(),
            parameters: json!({}),
            file: None,
        }
    }

    #[test]
    fn lists_match_values_networks_and_suffixes_and_reload() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("bad.txt"),
            "# level: malicious\n198.51.100.0/24\n.payments-notice.test\nabc123\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("ignored.csv"), "198.51.100.23\n").expect("write");
        let lists = Lists::new(Some(dir.path().to_path_buf()));
        let r = lists.run(&job("ip", "198.51.100.23")).expect("runs");
        assert_eq!(
            r.taxonomies,
            [Taxonomy::new("malicious", "Reputation", "bad", "listed")]
        );
        assert_eq!(r.full["lists"][0]["match"], "198.51.100.0/24");
        for (t, v) in [
            ("mail", "billing@payments-notice.test"),
            ("url", "hxxp://mail-out.payments-notice[.]test/x"),
            ("hash", "ABC123"),
        ] {
            assert_eq!(
                lists.run(&job(t, v)).expect("runs").full["listed"],
                true,
                "{v}"
            );
        }
        assert_eq!(
            lists
                .run(&job("domain", "corp.example"))
                .expect("runs")
                .full["listed"],
            false
        );
        // Changed on disk: read again at the next job.
        std::fs::write(dir.path().join("bad.txt"), "corp.example\n").expect("write");
        let r = lists.run(&job("domain", "corp.example")).expect("runs");
        assert_eq!(
            r.taxonomies,
            [Taxonomy::new("suspicious", "Reputation", "bad", "listed")]
        );
        std::fs::remove_file(dir.path().join("bad.txt")).expect("rm");
        let r = lists.run(&job("domain", "corp.example")).expect("runs");
        assert_eq!(r.full["lists"].as_array().map(Vec::len), Some(0));
        assert!(lists.run(&job("ip", "not-an-ip")).is_err());
    }
}
