-- Each service has its own database.
CREATE DATABASE hive;
CREATE DATABASE cortex;
