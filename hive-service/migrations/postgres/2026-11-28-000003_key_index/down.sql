DROP INDEX users_api_key_hash;
