DROP TABLE instances;
DROP TABLE artifacts;
DROP TABLE jobs;
DROP TABLE base_configs;
DROP TABLE workers;
