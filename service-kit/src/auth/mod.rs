//! Authentication primitives both services build their callers from: the credential a
//! request carries, password checks and login throttling, secrets and digests, signed
//! sessions, and the vault of secrets at rest. Who a caller is (users, organisations,
//! roles or permissions) is each service's own.

pub mod credential;
pub mod password;
pub mod secrets;
pub mod session;
pub mod vault;

pub use password::auth_failure;
