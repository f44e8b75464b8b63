DROP TRIGGER alert_tags_delete;
DROP TRIGGER alert_tags_fields;
DROP TRIGGER alert_tags_retag;
DROP TRIGGER alert_tags_insert;
DROP TABLE alert_tags;
