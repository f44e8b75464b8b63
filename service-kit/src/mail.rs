//! Mail through an SMTP server (notifications, responders): STARTTLS, implicit TLS or
//! plain, with or without a login, one connection per mail, bounded in time.

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain, then upgraded with STARTTLS (refused if the server cannot).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a local relay).
    None,
}

impl Security {
    /// Reads `starttls`, `tls` or `none`.
    pub fn parse(s: &str) -> Option<Security> {
        Some(match s {
            "starttls" => Security::StartTls,
            "tls" => Security::Tls,
            "none" => Security::None,
            _ => return None,
        })
    }
}

/// An SMTP server.
#[derive(Debug, Clone)]
pub struct Smtp {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Protection.
    pub security: Security,
    /// Login and password, if the server wants them.
    pub login: Option<(String, SecretString)>,
    /// Sender address.
    pub from: String,
    /// Longest time for one mail.
    pub timeout: Duration,
    /// Connect to this address instead of resolving `host` (checked beforehand by the
    /// caller, e.g. with [`crate::net::Egress`]); TLS still verifies the certificate for
    /// `host`.
    pub connect_to: Option<std::net::IpAddr>,
}

/// A text mail.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject (one line).
    pub subject: String,
    /// Plain text body.
    pub body: String,
}

/// Fills the `{{path}}` placeholders of a mail template: `value(path)` gives each one's text
/// (the path trimmed; `None` leaves it empty); an unterminated `{{` stays as written. Filling
/// stops once the output passes `max_bytes`, which the output is then cut to (in characters).
/// hive-service's notification mails and cortex-service's mail responder both use it, each
/// with its own way of reading a path.
pub fn fill_template(
    template: &str,
    max_bytes: usize,
    value: impl Fn(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(template.len().min(max_bytes));
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        if let Some(v) = value(after[..end].trim()) {
            out.push_str(&v);
        }
        rest = &after[end + 2..];
        if out.len() > max_bytes {
            rest = "";
            break;
        }
    }
    out.push_str(rest);
    if out.len() > max_bytes {
        out = out.chars().take(max_bytes).collect();
    }
    out
}

/// Longest subject and body sent.
const MAX_SUBJECT: usize = 998;
const MAX_BODY: usize = 1024 * 1024;

impl Smtp {
    /// Sends `mail`; answers the server's refusal or the connection's failure.
    pub async fn send(&self, mail: &Mail) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("no SMTP server is configured (notification.smtp.host)".into());
        }
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|e| format!("sender {}: {e}", self.from))?;
        let subject: String = mail
            .subject
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .take(MAX_SUBJECT)
            .collect();
        let mut builder = Message::builder().from(from).subject(subject);
        if mail.to.is_empty() {
            return Err("no recipient".into());
        }
        for to in &mail.to {
            let mb: Mailbox = to.parse().map_err(|e| format!("recipient {to}: {e}"))?;
            builder = builder.to(mb);
        }
        let body: String = mail.body.chars().take(MAX_BODY).collect();
        let message = builder
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())?;
        use lettre::transport::smtp::client::{Tls, TlsParameters};
        let server = self
            .connect_to
            .map_or_else(|| self.host.clone(), |ip| ip.to_string());
        let tls = |host: &str| TlsParameters::new(host.to_string()).map_err(|e| e.to_string());
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server);
        transport = match self.security {
            Security::Tls => transport.tls(Tls::Wrapper(tls(&self.host)?)),
            Security::StartTls => transport.tls(Tls::Required(tls(&self.host)?)),
            Security::None => transport,
        };
        let mut transport = transport.port(self.port).timeout(Some(self.timeout));
        if let Some((user, password)) = &self.login {
            transport = transport.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        let transport = transport.build();
        tokio::time::timeout(self.timeout, transport.send(message))
            .await
            .map_err(|_| format!("the SMTP server did not answer within {:?}", self.timeout))?
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
