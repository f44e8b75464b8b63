-- One row per tag of each alert, with the alert's fields lists filter on most (status,
-- severity, read flag, case): a count such as the analyst's inbox (status New, a tag,
-- severity >= 3) reads only this table's index instead of every alert's tags. Kept by
-- triggers, in the same transaction as the alert's own change.
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

CREATE FUNCTION alert_tags_insert(a alerts) RETURNS void LANGUAGE sql AS $$
    INSERT INTO alert_tags (alert_id, organisation_id, tag, status, severity, is_read, case_id)
    SELECT DISTINCT a.id, a.organisation_id, t, a.status, a.severity, a.is_read, a.case_id
    FROM jsonb_array_elements_text(CASE WHEN left(ltrim(a.tags), 1) = '[' THEN a.tags::jsonb ELSE '[]'::jsonb END) t
    ON CONFLICT DO NOTHING
$$;

CREATE FUNCTION alert_tags_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM alert_tags WHERE alert_id = OLD.id;
        RETURN OLD;
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM alert_tags_insert(NEW);
    ELSIF NEW.tags IS DISTINCT FROM OLD.tags OR NEW.id <> OLD.id THEN
        DELETE FROM alert_tags WHERE alert_id = OLD.id;
        PERFORM alert_tags_insert(NEW);
    ELSIF (NEW.status, NEW.severity, NEW.is_read, NEW.case_id, NEW.organisation_id)
          IS DISTINCT FROM (OLD.status, OLD.severity, OLD.is_read, OLD.case_id, OLD.organisation_id) THEN
        UPDATE alert_tags SET status = NEW.status, severity = NEW.severity, is_read = NEW.is_read,
            case_id = NEW.case_id, organisation_id = NEW.organisation_id
        WHERE alert_id = NEW.id;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER alert_tags_sync AFTER INSERT OR UPDATE OR DELETE ON alerts
    FOR EACH ROW EXECUTE FUNCTION alert_tags_sync();

SELECT alert_tags_insert(a) FROM alerts a;
