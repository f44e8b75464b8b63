ALTER TABLE users DROP COLUMN api_key_secret;
DROP TABLE sessions;
