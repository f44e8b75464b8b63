ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_pending;
ALTER TABLE users DROP COLUMN totp_secret;
ALTER TABLE users DROP COLUMN api_key_secret;
DROP TABLE sessions;
