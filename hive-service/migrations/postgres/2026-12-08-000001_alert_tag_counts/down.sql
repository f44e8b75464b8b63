DROP TRIGGER alert_tag_counts_sync ON alert_tags;
DROP FUNCTION alert_tag_counts_sync();
DROP TABLE alert_tag_counts;
