//! Secrets kept at rest encrypted (both services): API keys, so that their owners and administrators can read them back as TheHive and Cortex
//! let them, and TOTP secrets. XChaCha20-Poly1305 under a 256-bit server key that never
//! enters the database: `auth.encryption_key` (base64) when configured, else the file
//! `<data_dir>/encryption.key`, made at first start (mode 0600). A dump of the database alone
//! reveals no key. Each value is bound to its row and purpose (associated data), so a
//! ciphertext copied onto another user's row does not decrypt.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::path::Path;

const PREFIX: &str = "v1:";
const KEY_FILE: &str = "encryption.key";

/// The server key and what it encrypts.
#[derive(Clone)]
pub struct Vault {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

fn decode_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()))
        .map_err(|_| "must be 32 bytes in base64".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "must be 32 bytes in base64".to_string())
}

impl Vault {
    /// The configured key (`auth.encryption_key`, base64 of 32 bytes), else the key file of
    /// `data_dir`, created when missing.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Vault, String> {
        let key = match configured {
            Some(k) => decode_key(k).map_err(|e| format!("auth.encryption_key: {e}"))?,
            None => {
                let path = data_dir.join(KEY_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        decode_key(&text).map_err(|e| format!("{}: {e}", path.display()))?
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let key: [u8; 32] = rand::random();
                        let text = base64::engine::general_purpose::STANDARD.encode(key);
                        super::secrets::write_private(&path, &text)
                            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                        tracing::info!(file = %path.display(), "created the encryption key of secrets at rest");
                        key
                    }
                    Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
                }
            }
        };
        Ok(Vault::from_key(&key))
    }

    /// A vault over a raw key (tests).
    pub fn from_key(key: &[u8; 32]) -> Vault {
        Vault {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Encrypts `secret`, bound to `context` (purpose and row, e.g. `api_key:~42`).
    pub fn seal(&self, context: &str, secret: &str) -> Result<String, String> {
        let nonce_bytes: [u8; 24] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| "cannot encrypt".to_string())?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// What a user row stores of an API key: its SHA-256 digest (to find the user by key)
    /// and the key sealed under `context` (to read it back); `None`, `None` revokes it.
    pub fn key_columns(
        &self,
        context: &str,
        key: Option<&str>,
    ) -> Result<(Option<String>, Option<String>), String> {
        match key {
            Some(k) => Ok((
                Some(super::secrets::sha256_hex(k.as_bytes())),
                Some(self.seal(context, k)?),
            )),
            None => Ok((None, None)),
        }
    }

    /// Decrypts what [`Vault::seal`] made for the same `context`; `None` when it was sealed
    /// under another key or context, or is damaged.
    pub fn open(&self, context: &str, sealed: &str) -> Option<String> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sealed.strip_prefix(PREFIX)?)
            .ok()?;
        if raw.len() < 24 {
            return None;
        }
        let (nonce, body) = raw.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let plain = self
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context_and_key() {
        let v = Vault::from_key(&[7; 32]);
        let s = v.seal("api_key:~1", "the key").expect("seals");
        assert!(!s.contains("the key"));
        assert_eq!(v.open("api_key:~1", &s).as_deref(), Some("the key"));
        assert_eq!(v.open("api_key:~2", &s), None, "bound to its row");
        assert_eq!(Vault::from_key(&[8; 32]).open("api_key:~1", &s), None);
        assert_ne!(
            s,
            v.seal("api_key:~1", "the key").expect("seals"),
            "fresh nonce"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Vault::load(None, dir.path()).expect("creates the key file");
        let b = Vault::load(None, dir.path()).expect("reads it back");
        let s = a.seal("x", "y").expect("seals");
        assert_eq!(b.open("x", &s).as_deref(), Some("y"));
        assert!(Vault::load(Some("short"), dir.path()).is_err());
    }
}
