DROP TRIGGER alert_tag_counts_insert;
DROP TRIGGER alert_tag_counts_delete;
DROP TRIGGER alert_tag_counts_update;
DROP TABLE alert_tag_counts;
