-- One row per tag of each alert, with the alert's fields lists filter on most (see the
-- PostgreSQL migration); kept by triggers in the alert's own transaction.
CREATE TABLE alert_tags (
    alert_id BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    status TEXT NOT NULL,
    severity INTEGER NOT NULL,
    is_read BOOLEAN NOT NULL,
    case_id BIGINT,
    PRIMARY KEY (alert_id, tag)
);
CREATE INDEX alert_tags_count ON alert_tags (organisation_id, tag, status, severity);

INSERT OR IGNORE INTO alert_tags (alert_id, organisation_id, tag, status, severity, is_read, case_id)
SELECT a.id, a.organisation_id, j.value, a.status, a.severity, a.is_read, a.case_id
FROM alerts a, json_each(CASE WHEN json_valid(a.tags) THEN a.tags ELSE '[]' END) j
WHERE j.type = 'text';

CREATE TRIGGER alert_tags_insert AFTER INSERT ON alerts BEGIN
    INSERT OR IGNORE INTO alert_tags (alert_id, organisation_id, tag, status, severity, is_read, case_id)
    SELECT NEW.id, NEW.organisation_id, j.value, NEW.status, NEW.severity, NEW.is_read, NEW.case_id
    FROM json_each(CASE WHEN json_valid(NEW.tags) THEN NEW.tags ELSE '[]' END) j WHERE j.type = 'text';
END;

CREATE TRIGGER alert_tags_retag AFTER UPDATE OF tags ON alerts BEGIN
    DELETE FROM alert_tags WHERE alert_id = OLD.id;
    INSERT OR IGNORE INTO alert_tags (alert_id, organisation_id, tag, status, severity, is_read, case_id)
    SELECT NEW.id, NEW.organisation_id, j.value, NEW.status, NEW.severity, NEW.is_read, NEW.case_id
    FROM json_each(CASE WHEN json_valid(NEW.tags) THEN NEW.tags ELSE '[]' END) j WHERE j.type = 'text';
END;

CREATE TRIGGER alert_tags_fields AFTER UPDATE OF status, severity, is_read, case_id, organisation_id ON alerts BEGIN
    UPDATE alert_tags SET status = NEW.status, severity = NEW.severity, is_read = NEW.is_read,
        case_id = NEW.case_id, organisation_id = NEW.organisation_id
    WHERE alert_id = NEW.id;
END;

CREATE TRIGGER alert_tags_delete AFTER DELETE ON alerts BEGIN
    DELETE FROM alert_tags WHERE alert_id = OLD.id;
END;
