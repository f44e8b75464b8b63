//! The workers built into this service: analyzers and responders written in Rust and run in
//! process, with no program, virtual environment or job folder. They are listed, enabled,
//! configured, rate-limited, cached and TLP/PAP-checked exactly like the workers found in
//! `analyzers.paths` / `responders.paths` (their definitions sit in the same catalog); only
//! the last step differs: instead of the job-folder protocol, [`Natives::run`] calls the
//! worker's function on a blocking thread, bounded by the job's timeout and by
//! `native.max_input_bytes`, and turns its result into the same [`Outcome`] a program's
//! `output.json` gives.
//!
//! | definition | data types | what it does |
//! |---|---|---|
//! | `Native_EmlParser_1_0` | file | e-mail parsing ([`eml`]), Cortex-Analyzers EmlParser's report layout |
//! | `Native_FileInfo_1_0` | file | hashes, type, structure of Office/PDF/PE/ELF/ZIP ([`fileinfo`]) |
//! | `Native_IocExtract_1_0` | text types and file | IOCs with refanging ([`ioc`]) |
//! | `Native_Reputation_1_0` | ip, domain, fqdn, url, mail, hash | the operator's local lists ([`reputation`]) |
//! | `Native_Mailer_1_0` | case, alert, task, observable | SMTP, Mailer's and a fixed recipient's way ([`mailer`]) |
//! | `Native_Webhook_1_0` | case, alert, task, observable | signed JSON POST, SSRF-checked ([`webhook`]) |

pub mod eml;
pub mod fileinfo;
pub mod ioc;
pub mod mailer;
pub mod reputation;
pub mod webhook;

use crate::config::NativeSettings;
use crate::engine::runner::{Artifact, Outcome, RunSpec, StoredFile};
use crate::workers::Definition;
use serde_json::{json, Map, Value};
use service_kit::datastore::Datastore;
use service_kit::net::Egress;
use shared_models::cortex::{ConfigurationItem, WorkerKind};
use std::path::PathBuf;
use std::sync::Arc;

/// Author and home of the built-in workers.
const AUTHOR: &str = "hive-rs";
const URL: &str = "https://example.invalid/hive-rs/docs/NATIVE_WORKERS.md";
const LICENSE: &str = "AGPL-V3";

/// One built-in worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Native {
    /// `Native_EmlParser`.
    EmlParser,
    /// `Native_FileInfo`.
    FileInfo,
    /// `Native_IocExtract`.
    IocExtract,
    /// `Native_Reputation`.
    Reputation,
    /// `Native_Mailer`.
    Mailer,
    /// `Native_Webhook`.
    Webhook,
}

/// A taxonomy of a report's summary (`level` info, safe, suspicious or malicious).
#[derive(Debug, Clone, PartialEq)]
pub struct Taxonomy {
    /// info, safe, suspicious, malicious.
    pub level: &'static str,
    /// The worker's family, e.g. `EmlParser`.
    pub namespace: String,
    /// What is measured.
    pub predicate: String,
    /// The value shown (a count is a number, as cortexutils' workers give it).
    pub value: Value,
}

impl Taxonomy {
    /// A taxonomy.
    pub fn new(
        level: &'static str,
        namespace: &str,
        predicate: &str,
        value: impl Into<Value>,
    ) -> Taxonomy {
        Taxonomy {
            level,
            namespace: namespace.into(),
            predicate: predicate.into(),
            value: value.into(),
        }
    }

    fn to_json(&self) -> Value {
        json!({"level": self.level, "namespace": self.namespace,
               "predicate": self.predicate, "value": self.value})
    }
}

/// An artifact a built-in analyzer found: a value, or a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A value of an observable type.
    Value {
        /// Observable type (ip, domain, url, mail, hash, filename...).
        data_type: String,
        /// The value.
        data: String,
        /// Tags.
        tags: Vec<String>,
    },
    /// A file (stored in the datastore when the report is).
    File {
        /// File name.
        name: String,
        /// Its bytes.
        bytes: Vec<u8>,
        /// Tags.
        tags: Vec<String>,
    },
}

impl Found {
    /// A value artifact.
    pub fn value(data_type: &str, data: impl Into<String>, tags: &[&str]) -> Found {
        Found::Value {
            data_type: data_type.into(),
            data: data.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }
}

/// What a built-in worker reports.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `full`.
    pub full: Value,
    /// The summary's taxonomies.
    pub taxonomies: Vec<Taxonomy>,
    /// Artifacts (analyzers).
    pub artifacts: Vec<Found>,
    /// Operations (responders).
    pub operations: Vec<Value>,
}

/// What a built-in worker is given.
#[derive(Debug, Clone)]
pub struct Job {
    /// The observable's type, or `thehive:case`...
    pub data_type: String,
    /// The value (analyzers: a string; responders: the object).
    pub data: Option<Value>,
    /// TLP.
    pub tlp: i64,
    /// PAP.
    pub pap: i64,
    /// The worker's configuration (definition's, then the organization's).
    pub config: Map<String, Value>,
    /// The job's parameters.
    pub parameters: Value,
    /// The file (file observables): its bytes and name.
    pub file: Option<(Vec<u8>, String)>,
}

impl Job {
    /// The value as text (analyzers of non-file observables).
    pub fn text(&self) -> Option<&str> {
        self.data.as_ref().and_then(Value::as_str)
    }

    /// A string setting, trimmed, `None` when empty.
    pub fn conf_str(&self, key: &str) -> Option<String> {
        match self.config.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A multi-valued setting (a list, or one comma-separated string).
    pub fn conf_list(&self, key: &str) -> Vec<String> {
        match self.config.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A boolean setting.
    pub fn conf_bool(&self, key: &str, default: bool) -> bool {
        self.config
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    /// A number setting.
    pub fn conf_f64(&self, key: &str) -> Option<f64> {
        match self.config.get(key) {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// The shared state of the built-in workers.
#[derive(Debug)]
pub struct Natives {
    settings: NativeSettings,
    egress: Egress,
    smtp: Egress,
    lists: reputation::Lists,
    computing: Arc<tokio::sync::Semaphore>,
}

impl Natives {
    /// From the settings (already validated).
    pub fn new(settings: NativeSettings, concurrency: usize) -> Result<Arc<Natives>, String> {
        let egress = Egress::parse(&settings.egress_allow)
            .map_err(|e| format!("native.egress_allow: {e}"))?;
        let smtp =
            Egress::parse(&settings.smtp_allow).map_err(|e| format!("native.smtp_allow: {e}"))?;
        let lists = reputation::Lists::new(settings.lists_dir.clone());
        Ok(Arc::new(Natives {
            settings,
            egress,
            smtp,
            lists,
            computing: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
        }))
    }

    /// Runs a built-in worker on a claimed job; never panics, never outlives `spec.timeout`
    /// by more than the work in hand (which `native.max_input_bytes` bounds).
    pub async fn run(
        self: &Arc<Self>,
        native: Native,
        spec: RunSpec,
        datastore: &Datastore,
    ) -> Outcome {
        let job = match self.job(&spec).await {
            Ok(j) => j,
            Err(message) => return fail(message),
        };
        let me = self.clone();
        let work = async move {
            match native {
                // In their own task: a panic ends the job as a failure, never the runner.
                Native::Mailer | Native::Webhook => tokio::spawn(async move {
                    match native {
                        Native::Mailer => mailer::run(&job, &me.smtp).await,
                        _ => webhook::run(&job, &me.egress).await,
                    }
                })
                .await
                .unwrap_or_else(|e| Err(format!("the worker failed: {e}"))),
                _ => {
                    // A computing worker holds one of `jobs.concurrency` permits until its
                    // thread really ends, even past the job's timeout: work left running
                    // cannot pile up beyond the engine's slots.
                    let permit = me
                        .computing
                        .clone()
                        .acquire_owned()
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        match native {
                            Native::EmlParser => eml::run(&job, &me.settings),
                            Native::FileInfo => fileinfo::run(&job, &me.settings),
                            Native::IocExtract => ioc::run(&job),
                            Native::Reputation => me.lists.run(&job),
                            Native::Mailer | Native::Webhook => {
                                Err("not a computing worker".into())
                            }
                        }
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("the worker failed: {e}")))
                }
            }
        };
        let report = match tokio::time::timeout(spec.timeout, work).await {
            Ok(Ok(r)) => r,
            Ok(Err(message)) => return fail(message),
            Err(_) => {
                return fail(format!(
                    "Timeout: the job did not end within {} s",
                    spec.timeout.as_secs()
                ))
            }
        };
        // As cortexutils reads it: `auto_extract`, else the "extract observables" setting
        // (`auto_extract_artifacts`, written false when a worker is enabled without it), else on.
        let config = spec.input.get("config");
        let auto_extract = config
            .and_then(|c| c.get("auto_extract"))
            .and_then(Value::as_bool)
            .or_else(|| {
                config
                    .and_then(|c| c.get("auto_extract_artifacts"))
                    .and_then(Value::as_bool)
            })
            .unwrap_or(true);
        self.outcome(report, &spec, auto_extract, datastore).await
    }

    async fn job(&self, spec: &RunSpec) -> Result<Job, String> {
        let i = &spec.input;
        let file = match &spec.attachment {
            None => None,
            Some((path, name, _)) => {
                let max = self.settings.max_input_bytes;
                let path = path.clone();
                let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
                    let size = std::fs::metadata(&path)
                        .map_err(|e| format!("the file is not readable: {e}"))?
                        .len();
                    if size > max {
                        return Err(format!(
                            "the file is {} bytes, over the {} bytes built-in workers read \
                             (native.max_input_bytes)",
                            size, max
                        ));
                    }
                    std::fs::read(&path).map_err(|e| format!("the file is not readable: {e}"))
                })
                .await
                .map_err(|e| e.to_string())??;
                Some((bytes, name.clone()))
            }
        };
        Ok(Job {
            data_type: i
                .get("dataType")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            data: i.get("data").cloned(),
            tlp: i.get("tlp").and_then(Value::as_i64).unwrap_or(2),
            pap: i.get("pap").and_then(Value::as_i64).unwrap_or(2),
            config: i
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            parameters: i.get("parameters").cloned().unwrap_or(Value::Null),
            file,
        })
    }

    async fn outcome(
        &self,
        report: Report,
        spec: &RunSpec,
        auto_extract: bool,
        datastore: &Datastore,
    ) -> Outcome {
        let tlp = spec
            .input
            .get("tlp")
            .and_then(Value::as_i64)
            .map_or(2, |t| t.clamp(0, 3) as i32);
        let mut artifacts = Vec::new();
        if auto_extract {
            for found in report.artifacts {
                match found {
                    Found::Value {
                        data_type,
                        data,
                        tags,
                    } => artifacts.push(Artifact {
                        data_type,
                        data: Some(data),
                        file: None,
                        tlp,
                        tags,
                        message: None,
                    }),
                    Found::File { name, bytes, tags } => {
                        let ds = datastore.clone();
                        let stored = tokio::task::spawn_blocking(move || ds.put(&bytes)).await;
                        let stored = match stored {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => return fail(format!("cannot store {name}: {e}")),
                            Err(e) => return fail(format!("cannot store {name}: {e}")),
                        };
                        let content_type = service_kit::datastore::content_type("", &name);
                        artifacts.push(Artifact {
                            data_type: "file".into(),
                            data: None,
                            file: Some(StoredFile {
                                stored,
                                filename: name,
                                content_type,
                            }),
                            tlp,
                            tags,
                            message: None,
                        });
                    }
                }
            }
        }
        let taxonomies: Vec<Value> = report.taxonomies.iter().map(Taxonomy::to_json).collect();
        Outcome::Success {
            summary: json!({ "taxonomies": taxonomies }),
            full: match report.full {
                Value::Object(o) => Value::Object(o),
                Value::Null => json!({}),
                other => json!({ "value": other }),
            },
            operations: Value::Array(report.operations),
            artifacts,
        }
    }
}

fn fail(message: impl Into<String>) -> Outcome {
    Outcome::Failure {
        message: message.into(),
        input: None,
    }
}

fn item(
    name: &str,
    description: &str,
    kind: &str,
    multi: bool,
    default: Value,
) -> ConfigurationItem {
    ConfigurationItem {
        name: name.into(),
        description: description.into(),
        kind: kind.into(),
        multi,
        required: false,
        default_value: (!default.is_null()).then_some(default),
    }
}

fn required(mut i: ConfigurationItem) -> ConfigurationItem {
    i.required = true;
    i
}

#[allow(clippy::too_many_arguments)]
fn definition(
    native: Native,
    kind: WorkerKind,
    name: &str,
    description: &str,
    data_types: &[&str],
    config: Value,
    items: Vec<ConfigurationItem>,
) -> Definition {
    Definition {
        id: crate::workers::definition_id(name, "1.0"),
        kind,
        name: name.into(),
        version: "1.0".into(),
        description: description.into(),
        author: AUTHOR.into(),
        url: URL.into(),
        license: LICENSE.into(),
        data_types: data_types.iter().map(|s| s.to_string()).collect(),
        base_config: name.into(),
        config: config.as_object().cloned().unwrap_or_default(),
        items,
        command: String::new(),
        root: PathBuf::from("."),
        docker_image: None,
        native: Some(native),
    }
}

/// Data types a responder acts on: TheHive's objects.
const THEHIVE_OBJECTS: &[&str] = &[
    "thehive:case",
    "thehive:alert",
    "thehive:case_task",
    "thehive:case_artifact",
];

/// The definitions of the built-in workers.
pub fn definitions() -> Vec<Definition> {
    use WorkerKind::{Analyzer, Responder};
    let no_config = json!({"check_tlp": false, "max_tlp": 3, "check_pap": false, "max_pap": 3});
    vec![
        definition(
            Native::EmlParser,
            Analyzer,
            "Native_EmlParser",
            "Parse an e-mail (.eml) in process: headers, sender, recipients, relays, bodies, \
             URLs, attachments with their hashes and type, nested messages; the report keeps \
             Cortex-Analyzers EmlParser's layout and the IOCs become observables",
            &["file"],
            no_config.clone(),
            Vec::new(),
        ),
        definition(
            Native::FileInfo,
            Analyzer,
            "Native_FileInfo",
            "Study a file in process: size, hashes, type by content, and the structure of \
             Office (OLE2 and OOXML, with VBA macros and auto-execution), PDF (JavaScript, \
             OpenAction, embedded files), PE and ELF executables and ZIP archives",
            &["file"],
            no_config.clone(),
            Vec::new(),
        ),
        definition(
            Native::IocExtract,
            Analyzer,
            "Native_IocExtract",
            "Extract IPs, domains, URLs, mail addresses and hashes from a text or a file, \
             refanged (hxxp, [.], (dot)) and validated",
            &[
                "file",
                "other",
                "url",
                "domain",
                "fqdn",
                "mail",
                "mail_subject",
                "filename",
                "uri_path",
                "user-agent",
                "regexp",
                "registry",
            ],
            no_config.clone(),
            Vec::new(),
        ),
        definition(
            Native::Reputation,
            Analyzer,
            "Native_Reputation",
            "Look an observable up in the operator's local lists (files of values, CIDR \
             blocks and domain suffixes in native.lists_dir), reloaded when they change",
            &["ip", "domain", "fqdn", "url", "mail", "hash"],
            no_config.clone(),
            vec![item(
                "lists",
                "Lists to look in (file names in native.lists_dir without .txt; empty: all)",
                "string",
                true,
                Value::Null,
            )],
        ),
        definition(
            Native::Mailer,
            Responder,
            "Native_Mailer",
            "Send a mail through SMTP: to the mail= tag of a case or alert or a task's \
             mailto: first line, as Mailer does, or to fixed recipients with subject and body \
             templates over the object's fields ({{data}}, {{title}}...)",
            THEHIVE_OBJECTS,
            no_config.clone(),
            vec![
                required(item("from", "Sender address", "string", false, Value::Null)),
                item(
                    "to",
                    "Fixed recipients (empty: from the object, as Mailer)",
                    "string",
                    true,
                    Value::Null,
                ),
                item(
                    "subject",
                    "Subject template ({{field}} of the object; empty: its title)",
                    "string",
                    false,
                    Value::Null,
                ),
                item(
                    "body",
                    "Body template ({{field}} of the object; empty: its description)",
                    "text",
                    false,
                    Value::Null,
                ),
                item(
                    "internal_domains",
                    "Domains never acted on (an observable of these is refused)",
                    "string",
                    true,
                    Value::Null,
                ),
                item(
                    "smtp_host",
                    "SMTP server",
                    "string",
                    false,
                    json!("localhost"),
                ),
                item("smtp_port", "SMTP port", "number", false, json!(25)),
                item(
                    "smtp_security",
                    "none, starttls or tls",
                    "string",
                    false,
                    json!("none"),
                ),
                item("smtp_user", "SMTP login", "string", false, Value::Null),
                item("smtp_pwd", "SMTP password", "string", false, Value::Null),
                item(
                    "smtp_timeout",
                    "Seconds for one mail",
                    "number",
                    false,
                    json!(30),
                ),
            ],
        ),
        definition(
            Native::Webhook,
            Responder,
            "Native_Webhook",
            "POST the object as JSON to a URL, signed with HMAC-SHA256 \
             (X-Hive-Signature: sha256=<hex>); internal addresses are refused unless the \
             operator allows their network (native.egress_allow)",
            THEHIVE_OBJECTS,
            no_config,
            vec![
                required(item("url", "Where to POST", "string", false, Value::Null)),
                item(
                    "secret",
                    "HMAC-SHA256 key of the signature (empty: unsigned)",
                    "string",
                    false,
                    Value::Null,
                ),
                item(
                    "timeout",
                    "Seconds for the call",
                    "number",
                    false,
                    json!(10),
                ),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_have_their_fixed_names() {
        let ids: Vec<String> = definitions().into_iter().map(|d| d.id).collect();
        assert_eq!(
            ids,
            [
                "Native_EmlParser_1_0",
                "Native_FileInfo_1_0",
                "Native_IocExtract_1_0",
                "Native_Reputation_1_0",
                "Native_Mailer_1_0",
                "Native_Webhook_1_0"
            ]
        );
    }
}
