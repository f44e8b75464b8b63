//! `Native_Webhook`: POSTs the object a responder runs on, as JSON, to the configured `url`.
//! The body is `{"dataType", "tlp", "pap", "parameters", "object"}`; with a `secret`, its
//! HMAC-SHA256 goes in `X-Hive-Signature: sha256=<hex>` (as hive-service's webhooks). The
//! URL's host is resolved and checked before the call ([`Egress`]: loopback, private,
//! link-local and metadata addresses are refused unless the operator allows their network in
//! `native.egress_allow`); redirects are not followed. A 2xx answer is a success; anything
//! else ends the job as a failure with the status.

use super::{Job, Report};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use service_kit::net::Egress;
use sha2::Sha256;
use std::time::Duration;

/// Most bytes of the endpoint's answer kept in the report.
const KEPT_ANSWER: usize = 4096;

/// Runs the responder.
pub async fn run(job: &Job, egress: &Egress) -> Result<Report, String> {
    let url = job.conf_str("url").ok_or("no url configured")?;
    let url = reqwest::Url::parse(&url).map_err(|e| format!("url: {e}"))?;
    // What messages show of it: no credentials, no query.
    let shown = {
        let mut u = url.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.set_query(None);
        u.to_string()
    };
    let timeout = Duration::from_secs_f64(
        job.conf_f64("timeout")
            .filter(|t| t.is_finite())
            .unwrap_or(10.0)
            .clamp(1.0, 120.0),
    );
    let client = egress
        .client_for(&url, timeout)
        .await
        .map_err(|e| format!("refused: {e}"))?;
    let body = serde_json::to_vec(&json!({
        "dataType": job.data_type,
        "tlp": job.tlp,
        "pap": job.pap,
        "parameters": job.parameters,
        "object": job.data.clone().unwrap_or(Value::Null),
    }))
    .map_err(|e| e.to_string())?;
    let mut req = client
        .post(url.clone())
        .header("Content-Type", "application/json")
        .header("User-Agent", "cortex-service Native_Webhook");
    if let Some(secret) = job.conf_str("secret") {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| e.to_string())?;
        mac.update(&body);
        req = req.header(
            "X-Hive-Signature",
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        );
    }
    let mut answer = req
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the call to {shown} failed: {}", e.without_url()))?;
    let status = answer.status();
    // At most KEPT_ANSWER bytes are read of the answer, however long it is.
    let mut kept = Vec::new();
    while kept.len() < KEPT_ANSWER {
        match answer.chunk().await {
            Ok(Some(c)) => kept.extend_from_slice(&c[..c.len().min(KEPT_ANSWER - kept.len())]),
            _ => break,
        }
    }
    drop(answer);
    let text = String::from_utf8_lossy(&kept).into_owned();
    if !status.is_success() {
        return Err(format!("{shown} answered {status}"));
    }
    Ok(Report {
        full: json!({"url": shown, "status": status.as_u16(), "answer": text}),
        taxonomies: Vec::new(),
        artifacts: Vec::new(),
        operations: Vec::new(),
    })
}
