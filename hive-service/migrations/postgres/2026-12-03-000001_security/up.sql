-- Sessions live on the server, so that logout, a lock, a password change or a removed
-- membership ends them at once; `id` is the SHA-256 of the session id the token carries.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organisation TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
-- The API key encrypted under the server key (read back by its owner and admins), beside
-- its digest used for lookups; TOTP secrets, encrypted too.
ALTER TABLE users ADD COLUMN api_key_secret TEXT;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
