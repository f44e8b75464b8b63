-- How many rows of alert_tags each combination of organisation, tag, status, severity, read
-- flag and "in a case" has, as delta rows merged by hive-service (see the PostgreSQL
-- migration); readers sum them.
CREATE TABLE alert_tag_counts (
    id INTEGER PRIMARY KEY,
    organisation_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    status TEXT NOT NULL,
    severity INTEGER NOT NULL,
    is_read BOOLEAN NOT NULL,
    imported BOOLEAN NOT NULL,
    n BIGINT NOT NULL
);
CREATE INDEX alert_tag_counts_key
    ON alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n);

CREATE TRIGGER alert_tag_counts_insert AFTER INSERT ON alert_tags BEGIN
    INSERT INTO alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n)
    VALUES (NEW.organisation_id, NEW.tag, NEW.status, NEW.severity, NEW.is_read, NEW.case_id IS NOT NULL, 1);
END;

CREATE TRIGGER alert_tag_counts_delete AFTER DELETE ON alert_tags BEGIN
    INSERT INTO alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n)
    VALUES (OLD.organisation_id, OLD.tag, OLD.status, OLD.severity, OLD.is_read, OLD.case_id IS NOT NULL, -1);
END;

CREATE TRIGGER alert_tag_counts_update AFTER UPDATE ON alert_tags
WHEN (NEW.organisation_id, NEW.tag, NEW.status, NEW.severity, NEW.is_read, NEW.case_id IS NOT NULL)
    IS NOT (OLD.organisation_id, OLD.tag, OLD.status, OLD.severity, OLD.is_read, OLD.case_id IS NOT NULL)
BEGIN
    INSERT INTO alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n)
    VALUES (OLD.organisation_id, OLD.tag, OLD.status, OLD.severity, OLD.is_read, OLD.case_id IS NOT NULL, -1);
    INSERT INTO alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n)
    VALUES (NEW.organisation_id, NEW.tag, NEW.status, NEW.severity, NEW.is_read, NEW.case_id IS NOT NULL, 1);
END;

INSERT INTO alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n)
SELECT organisation_id, tag, status, severity, is_read, case_id IS NOT NULL, COUNT(*)
FROM alert_tags GROUP BY 1, 2, 3, 4, 5, 6;
