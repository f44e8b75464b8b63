DROP TABLE cortex_jobs;
