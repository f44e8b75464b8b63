//! Passwords (argon2id), API keys (32 random bytes, stored as a SHA-256 digest) and digests.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use sha2::{Digest, Sha256};

/// argon2id with 7 MiB, 5 passes: one of OWASP's equivalent settings, chosen over the
/// 19 MiB default so that a burst of logins does not inflate the service's memory.
fn hasher() -> Argon2<'static> {
    let params = argon2::Params::new(7 * 1024, 5, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash password: {e}"))
}

/// Checks a password against a PHC string using `memory` for argon2's blocks (grown as
/// needed and kept by the caller, so that repeated checks do not allocate); a malformed hash
/// never matches. The comparison is constant-time.
pub fn verify_password_with(password: &str, phc: &str, memory: &mut Vec<argon2::Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        argon2::Params::try_from(&parsed),
        argon2::Algorithm::try_from(parsed.algorithm),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| argon2::Version::try_from(v).ok())
        .unwrap_or(argon2::Version::V0x13);
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params);
    hasher
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// Checks a password against a PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A new API key: 32 random bytes, URL-safe base64 without padding (43 characters).
pub fn new_api_key() -> String {
    random_token(32)
}

/// `n` random bytes as URL-safe base64.
pub fn random_token(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `data`, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// SHA-256 of `data`, raw.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Whether a password is acceptable: not blank, at most 1024 bytes.
pub fn check_password_rules(password: &str) -> Result<(), &'static str> {
    if password.trim().is_empty() {
        return Err("password must not be empty");
    }
    if password.len() > 1024 {
        return Err("password must be at most 1024 bytes");
    }
    Ok(())
}

/// Writes a secret file readable by its owner only.
pub fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(&mut f, format!("{content}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_keys() {
        let h = hash_password("secret").expect("hash");
        assert!(verify_password("secret", &h));
        assert!(!verify_password("Secret", &h));
        assert!(!verify_password("secret", "garbage"));
        let mut memory = Vec::new();
        assert!(verify_password_with("secret", &h, &mut memory));
        assert!(!verify_password_with("Secret", &h, &mut memory));
        assert!(!verify_password_with("secret", "garbage", &mut memory));
        assert_eq!(memory.len(), 7 * 1024, "blocks are kept for the next check");
        let k = new_api_key();
        assert_eq!(k.len(), 43);
        assert_ne!(k, new_api_key());
        assert_eq!(sha256_hex(b"abc").len(), 64);
    }
}
