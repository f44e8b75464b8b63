//! `Native_Mailer`: a mail through SMTP about the object a responder runs on.
//!
//! Recipients: the configured `to` list when set (the seed's "ask the mail admins to block
//! {{data}}"); otherwise as Cortex-Analyzers' Mailer finds them: the last `mail=` / `mail:`
//! tag of a case or an alert, the `mailto:` / `mailto=` first line of a task's description.
//! Subject and body: the `subject` / `body` templates, `{{field}}` and `{{a.b}}` replaced with
//! the object's fields (`{{data}}` is an observable's value), or the object's title and
//! description (`[Case #N]` before a case's title, as Mailer). An observable whose value
//! belongs to one of `internal_domains` is refused: the organisation's own addresses and
//! domains are never sent off to be blocked. Operations: `AddTagToCase` "mail sent"
//! (`AddTagToAlert` on an alert), and `AddLogToTask` on a task. The SMTP server is resolved
//! and checked as `Native_Webhook`'s URLs are (`native.smtp_allow` names the internal
//! networks of the relays), and the connection pinned to the address checked.

use super::{Job, Report};
use serde_json::{json, Value};
use service_kit::mail::{Mail, Security, Smtp};
use service_kit::net::Egress;
use std::time::Duration;

/// Most recipients of one mail.
const MAX_RECIPIENTS: usize = 50;
/// Longest template output.
const MAX_RENDERED: usize = 256 * 1024;

/// Fills `{{path}}` placeholders with the object's fields (text as is, numbers and booleans
/// printed, lists joined with ", ", anything else or a missing field empty).
pub fn render(template: &str, object: &Value) -> String {
    service_kit::mail::fill_template(template, MAX_RENDERED, |path| {
        path.split('.')
            .filter(|k| !k.is_empty())
            .try_fold(object, |v, k| v.get(k))
            .map(text_of)
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => a.iter().map(text_of).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    }
}

/// The domain a value belongs to (a mail's, a URL's host, a domain itself), lower-case.
fn domain_of(value: &str) -> Option<String> {
    let v = super::ioc::refang(value.trim()).to_lowercase();
    // A URL first (`http://alice@corp.example:443/x` is corp.example), then an address.
    let d = if v.contains("://") {
        super::ioc::url_host(&v)?
    } else if let Some((_, d)) = v.rsplit_once('@') {
        d.trim_end_matches('>').to_string()
    } else {
        v.split(['/', ':']).next().unwrap_or("").to_string()
    };
    // `corp.example.` is `corp.example` (the root's dot).
    Some(d.trim().trim_end_matches('.').to_string())
}

/// Whether `domain` is one of `internal` or under one of them.
fn is_internal(domain: &str, internal: &[String]) -> Option<String> {
    internal
        .iter()
        .map(|d| {
            d.trim()
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_lowercase()
        })
        .find(|d| !d.is_empty() && (domain == d || domain.ends_with(&format!(".{d}"))))
}

fn recipients_of(job: &Job, object: &Value) -> Result<Vec<String>, String> {
    let fixed = job.conf_list("to");
    if !fixed.is_empty() {
        return Ok(fixed);
    }
    match job.data_type.as_str() {
        "thehive:case" | "thehive:alert" => {
            let tags = object
                .get("tags")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            tags.iter()
                .filter_map(Value::as_str)
                .filter_map(|t| t.strip_prefix("mail=").or_else(|| t.strip_prefix("mail:")))
                .map(|t| t.trim().to_string())
                .next_back()
                .map(|t| vec![t])
                .ok_or_else(|| "recipient address not found in tags (mail=<address>)".into())
        }
        "thehive:case_task" => {
            let d = object
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            let first = d.lines().next().unwrap_or("");
            first
                .find("mailto:")
                .or_else(|| first.find("mailto="))
                .map(|i| vec![first[i + 7..].trim().to_string()])
                .filter(|v| !v[0].is_empty())
                .ok_or_else(|| {
                    "recipient address not found in description (mailto: first line)".into()
                })
        }
        _ => Err("no recipient: set the responder's `to` configuration".into()),
    }
}

/// Runs the responder.
pub async fn run(job: &Job, egress: &Egress) -> Result<Report, String> {
    let object = job.data.clone().unwrap_or(Value::Null);
    if !object.is_object() {
        return Err(
            "the responder needs a TheHive object (case, alert, task or observable)".into(),
        );
    }
    let from = job
        .conf_str("from")
        .ok_or("Missing sender email address (configuration `from`)")?;
    let is_observable = job.data_type == "thehive:case_artifact";
    if is_observable {
        let value = object.get("data").and_then(Value::as_str).unwrap_or("");
        let internal = job.conf_list("internal_domains");
        if let Some(d) = domain_of(value).and_then(|d| is_internal(&d, &internal)) {
            return Err(format!(
                "refused: {value} belongs to the internal domain {d} (internal_domains)"
            ));
        }
    }
    let mut to = recipients_of(job, &object)?;
    to.truncate(MAX_RECIPIENTS);
    let title = object.get("title").and_then(Value::as_str).unwrap_or("");
    let description = object
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let subject = match job.conf_str("subject") {
        Some(t) => render(&t, &object),
        None if is_observable => render("Observable {{dataType}} {{data}}", &object),
        None => match (job.data_type.as_str(), object.get("caseId")) {
            ("thehive:case", Some(n)) => format!("[Case #{}] {title}", text_of(n)),
            _ => title.to_string(),
        },
    };
    let body = match job.config.get("body").and_then(Value::as_str) {
        Some(t) if !t.trim().is_empty() => render(t, &object),
        _ if job.data_type == "thehive:case_task" && job.conf_list("to").is_empty() => {
            description.lines().skip(1).collect::<Vec<_>>().join("\n")
        }
        _ if is_observable => render("Observable {{dataType}}: {{data}}\n\n{{message}}", &object),
        _ => description.to_string(),
    };
    let login = match (job.conf_str("smtp_user"), job.conf_str("smtp_pwd")) {
        (Some(u), Some(p)) => Some((u, secrecy::SecretString::from(p))),
        _ => None,
    };
    // A login never goes in clear: without a setting it means STARTTLS (as Mailer tries it
    // first), and `none` with a login is refused.
    let security = match job.conf_str("smtp_security") {
        None if login.is_some() => Security::StartTls,
        None => Security::None,
        Some(s) => Security::parse(&s.to_lowercase())
            .ok_or_else(|| format!("smtp_security {s}: none, starttls or tls"))?,
    };
    if security == Security::None && login.is_some() {
        return Err(
            "smtp_security none with smtp_user/smtp_pwd would send the password in clear: \
             use starttls or tls"
                .into(),
        );
    }
    let port = job.conf_f64("smtp_port").unwrap_or(25.0);
    if !port.is_finite() || !(1.0..=65535.0).contains(&port) {
        return Err(format!("smtp_port {port}: not a port"));
    }
    let host = job
        .conf_str("smtp_host")
        .unwrap_or_else(|| "localhost".into());
    // The server an organization names is reached only where the operator allows: an
    // internal relay's network must be in native.smtp_allow (no port scan of the inside).
    let checked = egress
        .resolve_host(&host, port as u16)
        .await
        .map_err(|e| format!("refused: SMTP server {host}: {e}"))?;
    let smtp = Smtp {
        connect_to: checked.first().map(|a| a.ip()),
        host,
        port: port as u16,
        security,
        login,
        from,
        timeout: Duration::from_secs_f64(
            job.conf_f64("smtp_timeout")
                .unwrap_or(30.0)
                .clamp(1.0, 600.0),
        ),
    };
    smtp.send(&Mail {
        to: to.clone(),
        subject: subject.clone(),
        body,
    })
    .await
    .map_err(|e| format!("the mail was not sent: {e}"))?;
    let mut operations = vec![match job.data_type.as_str() {
        "thehive:alert" => json!({"type": "AddTagToAlert", "tag": "mail sent"}),
        _ => json!({"type": "AddTagToCase", "tag": "mail sent"}),
    }];
    if job.data_type == "thehive:case_task" {
        operations.push(json!({
            "type": "AddLogToTask",
            "content": format!("Mail sent to {}: {subject}", to.join(", ")),
        }));
    }
    Ok(Report {
        full: json!({"message": "message sent", "to": to, "subject": subject}),
        taxonomies: Vec::new(),
        artifacts: Vec::new(),
        operations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_the_objects_fields() {
        let o = json!({"data": "billing@payments-notice.test", "dataType": "mail",
                       "tags": ["a", "b"], "case": {"number": 3}, "n": 2});
        assert_eq!(
            render("[MAILSERVERS] Block {{data}} in mailservers", &o),
            "[MAILSERVERS] Block billing@payments-notice.test in mailservers"
        );
        assert_eq!(
            render("{{ tags }}/{{case.number}}/{{n}}/{{nope}}/{{", &o),
            "a, b/3/2//{{"
        );
    }

    #[test]
    fn internal_domains_are_recognised() {
        let internal = vec!["corp.example".to_string()];
        for v in [
            "alice@corp.example",
            "mx.corp.example",
            "http://corp.example/x",
            "alice@corp.example.",
            "http://CORP.example./x",
            "http://alice@corp.example:443/x",
            "corp.example:25",
            "alice[@]corp[.]example",
        ] {
            let d = domain_of(v).expect("domain");
            assert!(is_internal(&d, &internal).is_some(), "{v}");
        }
        for v in ["billing@payments-notice.test", "notcorp.example"] {
            let d = domain_of(v).expect("domain");
            assert!(is_internal(&d, &internal).is_none(), "{v}");
        }
    }
}
