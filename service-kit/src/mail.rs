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
        let mut transport = match self.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host),
            Security::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &self.host,
            )),
        }
        .map_err(|e| e.to_string())?
        .port(self.port)
        .timeout(Some(self.timeout));
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
