//! Worker definitions: found in the folders and catalog files of `analyzers.paths` and
//! `responders.paths` (the Cortex-Analyzers layout: one directory per worker holding its JSON
//! definitions), validated as Cortex does, and the configuration rules of an enabled worker
//! (validation at enable time, the merge given to the program at run time).

use crate::db::{now_ms, WorkerRow};
use serde::Deserialize;
use serde_json::{Map, Value};
use service_kit::error::{ApiError, AttributeError};
use shared_models::cortex::{ConfigurationItem, OutputDefinition, WorkerKind};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Most definition files read from one folder, and largest definition file.
const MAX_DEFINITION_BYTES: u64 = 1024 * 1024;

/// A definition a runner can execute.
#[derive(Debug, Clone)]
pub struct Definition {
    /// `Name_version` with dots as underscores.
    pub id: String,
    /// Analyzer or responder.
    pub kind: WorkerKind,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Author.
    pub author: String,
    /// Home page.
    pub url: String,
    /// License.
    pub license: String,
    /// Accepted data types.
    pub data_types: Vec<String>,
    /// The shared configuration group (default: the name).
    pub base_config: String,
    /// Constant configuration of this flavor.
    pub config: Map<String, Value>,
    /// What may be configured.
    pub items: Vec<ConfigurationItem>,
    /// The program, relative to `root`.
    pub command: String,
    /// The workers' root: the program's working directory.
    pub root: PathBuf,
    /// The image, when the definition names one (not run here).
    pub docker_image: Option<String>,
    /// A worker built into this service (run in process, no program).
    pub native: Option<crate::native::Native>,
}

impl Definition {
    /// The wire form.
    pub fn render(&self) -> OutputDefinition {
        OutputDefinition {
            id: self.id.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            data_type_list: self.data_types.clone(),
            author: self.author.clone(),
            url: self.url.clone(),
            license: self.license.clone(),
            base_config: self.base_config.clone(),
            configuration_items: self.items.clone(),
            docker_image: self.docker_image.clone(),
            command: Path::new(&self.command)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned()),
            kind: self.kind,
        }
    }

    /// The absolute program path.
    pub fn program(&self) -> PathBuf {
        self.root.join(&self.command)
    }

    /// The copy kept with an enabled worker (so that it still renders if the file goes).
    pub fn to_stored(&self) -> Value {
        serde_json::json!({
            "name": self.name, "version": self.version, "description": self.description,
            "author": self.author, "url": self.url, "license": self.license,
            "baseConfig": self.base_config, "command": self.command,
            "dockerImage": self.docker_image,
        })
    }
}

/// The id of a definition: `Name_version`, dots replaced by underscores.
pub fn definition_id(name: &str, version: &str) -> String {
    format!("{name}_{version}").replace('.', "_")
}

/// The id of a worker in an organization: md5 of `{org}_{name}_{kind}`, hex.
pub fn worker_id(org: &str, name: &str, kind: WorkerKind) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(format!("{org}_{name}_{}", kind.as_str())))
}

/// Every known definition, by kind and id; rescanned on request.
#[derive(Debug, Default)]
pub struct Catalog {
    sources: BTreeMap<&'static str, Vec<PathBuf>>,
    found: RwLock<Arc<BTreeMap<(WorkerKind, String), Definition>>>,
}

impl Catalog {
    /// A catalog over these sources (and the built-in workers), scanned once.
    pub fn new(analyzers: Vec<PathBuf>, responders: Vec<PathBuf>) -> Catalog {
        let mut sources = BTreeMap::new();
        sources.insert("analyzer", analyzers);
        sources.insert("responder", responders);
        let c = Catalog {
            sources,
            found: RwLock::default(),
        };
        c.scan();
        c
    }

    /// Reads every source again; returns the number of definitions.
    pub fn scan(&self) -> usize {
        let mut found = BTreeMap::new();
        // The built-in workers first: a folder cannot replace one of them.
        for d in crate::native::definitions() {
            found.insert((d.kind, d.id.clone()), d);
        }
        for (kind, paths) in &self.sources {
            let kind = WorkerKind::parse(kind).unwrap_or(WorkerKind::Analyzer);
            for path in paths {
                for d in scan_source(path, kind) {
                    found.entry((kind, d.id.clone())).or_insert(d);
                }
            }
        }
        let n = found.len();
        *self.found.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(found);
        tracing::info!(definitions = n, "worker definitions scanned");
        n
    }

    /// The definitions of one kind, by id.
    pub fn all(&self, kind: WorkerKind) -> Vec<Definition> {
        let found = self.found.read().unwrap_or_else(|p| p.into_inner()).clone();
        found
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// One definition.
    pub fn get(&self, kind: WorkerKind, id: &str) -> Option<Definition> {
        let found = self.found.read().unwrap_or_else(|p| p.into_inner()).clone();
        found.get(&(kind, id.to_string())).cloned()
    }
}

fn scan_source(path: &Path, kind: WorkerKind) -> Vec<Definition> {
    let mut out = Vec::new();
    if path.is_dir() {
        let Ok(dirs) = std::fs::read_dir(path) else {
            tracing::warn!(path = %path.display(), "cannot read worker folder");
            return out;
        };
        let mut dirs: Vec<PathBuf> = dirs.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs.into_iter().filter(|d| d.is_dir()) {
            let Ok(files) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = files
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "json") && f.is_file())
                .collect();
            files.sort();
            for file in files {
                out.extend(read_file(&file, path, kind));
            }
        }
    } else if path.is_file() {
        let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        out.extend(read_file(path, &root, kind));
    } else {
        tracing::warn!(path = %path.display(), "worker source not found");
    }
    out
}

fn read_file(file: &Path, root: &Path, kind: WorkerKind) -> Vec<Definition> {
    let text = match std::fs::metadata(file) {
        Ok(m) if m.len() <= MAX_DEFINITION_BYTES => std::fs::read(file).ok(),
        _ => None,
    };
    let Some(value) = text.and_then(|t| serde_json::from_slice::<Value>(&t).ok()) else {
        tracing::debug!(file = %file.display(), "not a worker definition");
        return Vec::new();
    };
    let entries = match value {
        Value::Array(a) => a,
        other => vec![other],
    };
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    entries
        .iter()
        .filter_map(|e| match parse_definition(e, &root, kind) {
            Ok(d) => Some(d),
            Err(why) => {
                tracing::warn!(file = %file.display(), %why, "worker definition skipped");
                None
            }
        })
        .collect()
}

/// Reads one definition; refuses it as Cortex does when a mandatory field is missing.
pub fn parse_definition(v: &Value, root: &Path, kind: WorkerKind) -> Result<Definition, String> {
    let o = v.as_object().ok_or("not an object")?;
    let text = |k: &str| -> Result<String, String> {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{k} is missing"))
    };
    let name = text("name")?;
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('/') {
        return Err("name must be one word".into());
    }
    let version = text("version")?;
    let items = match o.get("configurationItems") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let mut item: ConfigurationItem = serde_json::from_value(i.clone())
                    .map_err(|e| format!("configurationItems: {e}"))?;
                if !["string", "text", "number", "boolean"].contains(&item.kind.as_str()) {
                    return Err(format!("configurationItems: bad type {}", item.kind));
                }
                if item.default_value.as_ref().is_some_and(Value::is_null) {
                    item.default_value = None;
                }
                Ok(item)
            })
            .collect::<Result<_, String>>()?,
        Some(_) => return Err("configurationItems must be a list".into()),
    };
    let command = o.get("command").and_then(Value::as_str).map(str::to_string);
    let docker_image = o
        .get("dockerImage")
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(command) = command else {
        return Err("no command (this service runs programs, not images)".into());
    };
    let rel = Path::new(&command);
    if command.is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "command {command} must stay inside {}",
            root.display()
        ));
    }
    Ok(Definition {
        id: definition_id(&name, &version),
        kind,
        base_config: o
            .get("baseConfig")
            .and_then(Value::as_str)
            .unwrap_or(&name)
            .to_string(),
        description: text("description")?,
        author: text("author")?,
        url: text("url")?,
        license: text("license")?,
        data_types: o
            .get("dataTypeList")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        config: o
            .get("config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        items,
        command,
        root: root.to_path_buf(),
        docker_image,
        name,
        version,
        native: None,
    })
}

fn item(name: &str, description: &str, kind: &str, default: Option<Value>) -> ConfigurationItem {
    ConfigurationItem {
        name: name.into(),
        description: description.into(),
        kind: kind.into(),
        multi: false,
        required: false,
        default_value: default,
    }
}

/// The items every worker of `kind` has beside its own: global, TLP and PAP.
pub fn common_items(
    kind: WorkerKind,
    cache_minutes: f64,
    timeout_minutes: f64,
) -> Vec<ConfigurationItem> {
    let mut items = global_items(kind, cache_minutes, timeout_minutes);
    items.extend([
        item("check_tlp", "Refuse jobs above max_tlp", "boolean", None),
        item("max_tlp", "Highest TLP accepted", "number", None),
        item("check_pap", "Refuse jobs above max_pap", "boolean", None),
        item("max_pap", "Highest PAP accepted", "number", None),
    ]);
    items
}

/// The items of the `global` base configuration.
pub fn global_items(
    kind: WorkerKind,
    cache_minutes: f64,
    timeout_minutes: f64,
) -> Vec<ConfigurationItem> {
    let mut items = Vec::new();
    if kind == WorkerKind::Analyzer {
        items.push(item(
            "auto_extract_artifacts",
            "Extract artifacts from the report",
            "boolean",
            Some(Value::Bool(false)),
        ));
        items.push(item(
            "jobCache",
            "Cache window in minutes",
            "number",
            serde_json::Number::from_f64(cache_minutes).map(Value::Number),
        ));
    }
    items.extend([
        item("proxy_http", "HTTP proxy", "string", None),
        item("proxy_https", "HTTPS proxy", "string", None),
        item("cacerts", "CA certificates (PEM)", "text", None),
        item(
            "jobTimeout",
            "Job timeout in minutes",
            "number",
            serde_json::Number::from_f64(timeout_minutes).map(Value::Number),
        ),
    ]);
    items
}

fn type_ok(kind: &str, v: &Value) -> bool {
    match kind {
        "string" | "text" => v.is_string(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => false,
    }
}

/// Validates a configuration as Cortex does: every item is present in the result (its value,
/// else its default, else `null`, else `[]` when multi), required items must be given, types
/// must match, unknown keys are refused. `lenient` (base configurations) makes nothing required.
pub fn validate_configuration(
    items: &[ConfigurationItem],
    given: &Map<String, Value>,
    lenient: bool,
) -> Result<Map<String, Value>, ApiError> {
    let mut errors = Vec::new();
    let mut out = Map::new();
    for (k, v) in given {
        if !items.iter().any(|i| &i.name == k) {
            errors.push(AttributeError {
                name: format!("configuration.{k}"),
                kind: "UnknownAttributeError".into(),
                message: format!("Unknown attribute configuration.{k}: {v}"),
            });
        }
    }
    for item in items {
        let name = format!("configuration.{}", item.name);
        let value = match given.get(&item.name) {
            Some(Value::Null) | None => item.default_value.clone(),
            Some(v) => Some(v.clone()),
        };
        let value = match value {
            None if item.multi => Value::Array(Vec::new()),
            None if item.required && !lenient => {
                errors.push(AttributeError {
                    name: name.clone(),
                    kind: "MissingAttributeError".into(),
                    message: format!("Attribute {name} is missing"),
                });
                continue;
            }
            None => Value::Null,
            Some(v) => v,
        };
        let ok = match (&value, item.multi) {
            (Value::Null, _) => true,
            (Value::Array(a), true) => a.iter().all(|v| type_ok(&item.kind, v)),
            (v, false) => type_ok(&item.kind, v),
            _ => false,
        };
        if !ok {
            errors.push(AttributeError {
                name: name.clone(),
                kind: "InvalidFormatAttributeError".into(),
                message: format!(
                    "Invalid format for {name}: {value}, expected {}{}",
                    if item.multi { "a list of " } else { "" },
                    item.kind
                ),
            });
            continue;
        }
        out.insert(item.name.clone(), value);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Attribute {
            message: errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
            errors,
        })
    }
}

/// Deep merge where the right side wins, `null`s included.
pub fn deep_merge(left: &mut Map<String, Value>, right: &Map<String, Value>) {
    for (k, v) in right {
        match (left.get_mut(k), v) {
            (Some(Value::Object(l)), Value::Object(r)) => deep_merge(l, r),
            _ => {
                left.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The `config` given to the program: the definition's constants, the worker's
/// configuration, then the proxies as `proxy.http` / `proxy.https`.
pub fn runtime_config(
    definition: &Map<String, Value>,
    worker: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = definition.clone();
    deep_merge(&mut out, worker);
    for (key, proto) in [("proxy_http", "http"), ("proxy_https", "https")] {
        if let Some(Value::String(p)) = worker.get(key) {
            if !p.is_empty() {
                let mut proxy = Map::new();
                proxy.insert(proto.into(), Value::String(p.clone()));
                let mut wrap = Map::new();
                wrap.insert("proxy".into(), Value::Object(proxy));
                deep_merge(&mut out, &wrap);
            }
        }
    }
    out
}

/// Body of an enable or an update.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputWorker {
    /// The definition id (enable) or ignored (update).
    pub name: Option<String>,
    /// Values of the configuration items.
    #[schema(value_type = Object)]
    pub configuration: Option<Map<String, Value>>,
    /// Jobs allowed per `rateUnit`.
    pub rate: Option<i64>,
    /// `Second`, `Minute`, `Hour`, `Day` or `Month`.
    pub rate_unit: Option<String>,
    /// Cache window, minutes (0: no cache).
    pub job_cache: Option<f64>,
    /// Timeout, minutes.
    pub job_timeout: Option<f64>,
    /// Accepted, not used (no docker runner).
    pub docker_image: Option<String>,
    /// Narrows the definition's data types.
    pub data_type_list: Option<Vec<String>>,
}

/// `rateUnit` in milliseconds.
pub fn rate_unit_ms(unit: &str) -> Option<i64> {
    Some(match unit {
        "Second" => 1_000,
        "Minute" => 60_000,
        "Hour" => 3_600_000,
        "Day" => 86_400_000,
        "Month" => 2_592_000_000,
        _ => return None,
    })
}

/// Checks the rate, rate unit, cache and timeout of an enable or an update.
pub fn check_limits(input: &InputWorker) -> Result<(), ApiError> {
    if let Some(r) = input.rate {
        if r < 0 {
            return Err(ApiError::attribute("rate", "must be 0 or more"));
        }
    }
    if let Some(u) = &input.rate_unit {
        if rate_unit_ms(u).is_none() {
            return Err(ApiError::attribute(
                "rateUnit",
                "must be Second, Minute, Hour, Day or Month",
            ));
        }
    }
    for (name, v) in [
        ("jobCache", input.job_cache),
        ("jobTimeout", input.job_timeout),
    ] {
        if v.is_some_and(|v| !(0.0..=100_000.0).contains(&v)) {
            return Err(ApiError::attribute(name, "must be 0 to 100000 minutes"));
        }
    }
    Ok(())
}

/// A definition's items with the common ones (global, TLP, PAP).
pub fn items_of(def: &Definition, jobs: &crate::config::JobSettings) -> Vec<ConfigurationItem> {
    let mut items = def.items.clone();
    for i in common_items(def.kind, jobs.cache, jobs.timeout) {
        if !items.iter().any(|x| x.name == i.name) {
            items.push(i);
        }
    }
    items
}

/// The data types a worker accepts: the definition's, or the narrower list asked for.
pub fn data_types_for(
    def: &Definition,
    asked: Option<Vec<String>>,
) -> Result<Vec<String>, ApiError> {
    match asked {
        None => Ok(def.data_types.clone()),
        Some(types) => {
            if let Some(bad) = types.iter().find(|t| !def.data_types.contains(t)) {
                return Err(ApiError::attribute(
                    "dataTypeList",
                    format!("{bad} is not a data type of {}", def.id),
                ));
            }
            Ok(types)
        }
    }
}

/// The row of `def` enabled in `org` by `by`, its input checked as the API checks it.
pub fn new_worker(
    def: &Definition,
    items: &[ConfigurationItem],
    input: InputWorker,
    org: &str,
    by: &str,
) -> Result<WorkerRow, ApiError> {
    check_limits(&input)?;
    let configuration = validate_configuration(
        items,
        &input.configuration.clone().unwrap_or_default(),
        false,
    )?;
    let kind = def.kind;
    Ok(WorkerRow {
        id: worker_id(org, &def.id, kind),
        organization_id: org.to_string(),
        kind: kind.as_str().into(),
        name: def.id.clone(),
        definition_id: def.id.clone(),
        definition: def.to_stored().to_string(),
        data_types: serde_json::to_string(&data_types_for(def, input.data_type_list)?)
            .map_err(ApiError::internal)?,
        configuration: Value::Object(configuration).to_string(),
        rate: input.rate,
        rate_unit: input.rate_unit,
        job_cache: input.job_cache,
        job_timeout: input.job_timeout,
        created_by: by.to_string(),
        created_at: now_ms(),
        updated_by: None,
        updated_at: None,
    })
}

fn kind_of(s: &str) -> WorkerKind {
    WorkerKind::parse(s).unwrap_or(WorkerKind::Analyzer)
}

/// Renders a worker; the configuration only for an orgadmin.
pub fn render_worker(w: &WorkerRow, with_config: bool) -> shared_models::cortex::OutputWorker {
    let kind = kind_of(&w.kind);
    let def: Value = serde_json::from_str(&w.definition).unwrap_or_default();
    let s = |k: &str| {
        def.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let config: Map<String, Value> = serde_json::from_str(&w.configuration).unwrap_or_default();
    let level = |k: &str| config.get(k).and_then(Value::as_i64);
    shared_models::cortex::OutputWorker {
        id: w.id.clone(),
        underscore_id: w.id.clone(),
        entity: "worker".into(),
        name: w.name.clone(),
        version: s("version"),
        description: s("description"),
        author: s("author"),
        url: s("url"),
        license: s("license"),
        data_type_list: serde_json::from_str(&w.data_types).unwrap_or_default(),
        base_config: s("baseConfig"),
        worker_definition_id: w.definition_id.clone(),
        analyzer_definition_id: (kind == WorkerKind::Analyzer).then(|| w.definition_id.clone()),
        command: def
            .get("command")
            .and_then(Value::as_str)
            .map(str::to_string),
        docker_image: def
            .get("dockerImage")
            .and_then(Value::as_str)
            .map(str::to_string),
        rate: w.rate,
        rate_unit: w.rate_unit.clone(),
        job_cache: w.job_cache,
        job_timeout: w.job_timeout,
        max_tlp: level("max_tlp"),
        max_pap: level("max_pap"),
        kind,
        configuration: with_config.then_some(Value::Object(config)),
        created_at: w.created_at,
        created_by: w.created_by.clone(),
        updated_at: w.updated_at,
        updated_by: w.updated_by.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items() -> Vec<ConfigurationItem> {
        serde_json::from_value(json!([
            {"name": "key", "description": "k", "type": "string", "required": true},
            {"name": "hosts", "description": "h", "type": "string", "multi": true},
            {"name": "greeting", "description": "g", "type": "string", "defaultValue": "hi"},
            {"name": "n", "description": "n", "type": "number"}
        ]))
        .expect("items")
    }

    #[test]
    fn configuration_is_validated_as_cortex_does() {
        let given = json!({"key": "abc"}).as_object().cloned().expect("obj");
        let out = validate_configuration(&items(), &given, false).expect("valid");
        assert_eq!(
            Value::Object(out),
            json!({"key": "abc", "hosts": [], "greeting": "hi", "n": null})
        );
        let missing = validate_configuration(&items(), &Map::new(), false).expect_err("required");
        assert!(
            missing.to_string().contains("configuration.key is missing"),
            "{missing}"
        );
        assert!(validate_configuration(&items(), &Map::new(), true).is_ok());
        let unknown = json!({"key": "a", "nope": 1})
            .as_object()
            .cloned()
            .expect("obj");
        let e = validate_configuration(&items(), &unknown, false).expect_err("unknown");
        assert!(
            e.to_string()
                .contains("Unknown attribute configuration.nope"),
            "{e}"
        );
        let bad = json!({"key": 3, "hosts": ["a", 2]})
            .as_object()
            .cloned()
            .expect("obj");
        let e = validate_configuration(&items(), &bad, false).expect_err("types");
        assert!(
            e.to_string().contains("configuration.key")
                && e.to_string().contains("configuration.hosts")
        );
    }

    #[test]
    fn runtime_config_merges_with_nulls_winning() {
        let def = json!({"service": "x", "max_tlp": 2, "proxy": {"http": "old"}});
        let worker = json!({"max_tlp": null, "proxy_https": "http://p:3128", "greeting": "yo"});
        let out = runtime_config(def.as_object().expect("o"), worker.as_object().expect("o"));
        assert_eq!(
            Value::Object(out),
            json!({"service": "x", "max_tlp": null, "greeting": "yo",
                   "proxy_https": "http://p:3128",
                   "proxy": {"http": "old", "https": "http://p:3128"}})
        );
    }

    #[test]
    fn ids_and_definition_rules() {
        assert_eq!(definition_id("EmlParser", "2.1"), "EmlParser_2_1");
        assert_eq!(worker_id("soc", "Echo_1_0", WorkerKind::Analyzer).len(), 32);
        let root = Path::new("/w");
        let ok = json!({"name": "A", "version": "1.0", "description": "d", "author": "a",
                        "url": "u", "license": "AGPL", "command": "A/a.py",
                        "dataTypeList": ["ip"]});
        let d = parse_definition(&ok, root, WorkerKind::Analyzer).expect("valid");
        assert_eq!((d.id.as_str(), d.base_config.as_str()), ("A_1_0", "A"));
        assert_eq!(d.program(), Path::new("/w/A/a.py"));
        let mut escape = ok.clone();
        escape["command"] = json!("../../bin/sh");
        assert!(parse_definition(&escape, root, WorkerKind::Analyzer).is_err());
        let mut no_author = ok.clone();
        no_author.as_object_mut().expect("o").remove("author");
        assert!(parse_definition(&no_author, root, WorkerKind::Analyzer).is_err());
    }

    #[test]
    fn folders_and_catalog_files_are_scanned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let def = |name: &str, extra: Value| {
            let mut d = json!({"name": name, "version": "2.1", "description": "d", "author": "a",
                               "url": "u", "license": "AGPL", "dataTypeList": ["file"]});
            d.as_object_mut()
                .expect("o")
                .extend(extra.as_object().cloned().unwrap_or_default());
            d
        };
        let folder = dir.path().join("analyzers");
        std::fs::create_dir_all(folder.join("Eml")).expect("mkdir");
        std::fs::write(
            folder.join("Eml/EmlParser.json"),
            def("EmlParser", json!({"command": "Eml/parse.py"})).to_string(),
        )
        .expect("write");
        std::fs::write(folder.join("Eml/requirements.json"), "[1, 2]").expect("write");
        std::fs::write(folder.join("Eml/notes.json"), "not json").expect("write");
        let catalog = dir.path().join("catalog.json");
        std::fs::write(
            &catalog,
            json!([
                def("Local", json!({"command": "Local/run.sh"})),
                def("Image", json!({"dockerImage": "x/y:1"}))
            ])
            .to_string(),
        )
        .expect("write");
        let c = Catalog::new(vec![folder, catalog], Vec::new());
        let ids: Vec<String> = c
            .all(WorkerKind::Analyzer)
            .into_iter()
            .filter(|d| d.native.is_none())
            .map(|d| d.id)
            .collect();
        assert_eq!(
            ids,
            ["EmlParser_2_1", "Local_2_1"],
            "image-only entries are skipped"
        );
        // The built-in ones are there beside them, and a folder cannot replace one.
        assert!(c
            .get(WorkerKind::Analyzer, "Native_EmlParser_1_0")
            .is_some_and(|d| d.native.is_some()));
        assert!(c.get(WorkerKind::Responder, "Local_2_1").is_none());
        let eml = c.get(WorkerKind::Analyzer, "EmlParser_2_1").expect("eml");
        assert!(eml.program().ends_with("analyzers/Eml/parse.py"));
        let local = c.get(WorkerKind::Analyzer, "Local_2_1").expect("local");
        assert_eq!(
            local.root,
            std::fs::canonicalize(dir.path()).expect("canon")
        );
    }
}
