//! TOTP second factor as TheHive 4 and 5 use it (RFC 6238): HMAC-SHA1, 6 digits, 30-second
//! steps, a 20-byte secret shown in base32, codes of the previous, current and next step
//! accepted, and each step taken at most once per account (a code seen in flight cannot be
//! replayed). The secret is kept encrypted by the vault ([`context`]).

use totp_rs::{Algorithm, Secret, TOTP};

/// The vault context of a user's TOTP secret.
pub fn context(user_id: i64) -> String {
    format!("totp:{}", crate::db::format_id(user_id))
}

/// A new secret, base32 (32 characters, no padding).
pub fn new_secret() -> String {
    let raw: [u8; 20] = rand::random();
    Secret::Raw(raw.to_vec()).to_encoded().to_string()
}

fn totp_of(secret_b32: &str) -> Option<TOTP> {
    let raw = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    Some(TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, raw))
}

/// What the label and the issuer of an `otpauth://` URI keep as is: unreserved characters
/// and `@` (so that a login reads as itself in an authenticator app).
const LABEL: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// The `otpauth://` URI an authenticator app reads (TheHive's shape).
pub fn uri(issuer: &str, login: &str, secret_b32: &str) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, LABEL).to_string();
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}",
        enc(issuer),
        enc(login),
        enc(issuer)
    )
}

/// The code of `secret_b32` at `time` (seconds), for tests and set-up checks.
pub fn code_at(secret_b32: &str, time: u64) -> Option<String> {
    Some(totp_of(secret_b32)?.generate(time))
}

/// The step a `code` is valid for at `now` (one step of skew either way), unless that step
/// is not after `last_step` (already used).
pub fn accept(secret_b32: &str, code: &str, now: u64, last_step: Option<i64>) -> Option<i64> {
    let totp = totp_of(secret_b32)?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = i64::try_from(now / 30).ok()?;
    for s in [step - 1, step, step + 1] {
        let Ok(t) = u64::try_from(s * 30) else {
            continue;
        };
        let expected = totp.generate(t);
        let same = expected
            .bytes()
            .zip(code.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if same && last_step.is_none_or(|l| s > l) {
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_accepted_once_within_one_step_of_skew() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        let now = 1_800_000_000u64;
        let code = code_at(&secret, now).expect("code");
        let step = accept(&secret, &code, now, None).expect("valid now");
        assert_eq!(accept(&secret, &code, now + 30, None), Some(step));
        assert_eq!(accept(&secret, &code, now + 90, None), None, "too old");
        assert_eq!(accept(&secret, &code, now, Some(step)), None, "used");
        assert_eq!(accept(&secret, "12345x", now, None), None);
        // RFC 6238's SHA-1 vector: "12345678901234567890" at 59 s gives ...287082.
        let rfc = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(code_at(&rfc, 59).as_deref(), Some("287082"));
        assert!(
            uri("TheHive", "a b@x", &secret).starts_with("otpauth://totp/TheHive:a%20b@x?secret=")
        );
    }
}
