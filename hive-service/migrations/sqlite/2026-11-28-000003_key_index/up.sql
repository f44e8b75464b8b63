-- API keys are looked up by digest on every request.
CREATE INDEX users_api_key_hash ON users (api_key_hash);
