-- Sessions live on the server (logout, lock and password change end them); `id` is the
-- SHA-256 of the session id the token carries.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
-- The API key encrypted under the server key (read back by its owner and admins).
ALTER TABLE users ADD COLUMN api_key_secret TEXT;
