DROP TRIGGER alert_tags_sync ON alerts;
DROP FUNCTION alert_tags_sync();
DROP FUNCTION alert_tags_insert(alerts);
DROP TABLE alert_tags;
