-- How many rows of alert_tags each combination of organisation, tag, status, severity, read
-- flag and "in a case" has: a total such as the analyst's inbox (status New, a tag, severity
-- >= 3) is then a sum over a few rows, whatever the number of alerts. The triggers below only
-- ever insert delta rows (+1, -1), so concurrent writers never wait on one another's counter
-- (nor deadlock); hive-service merges the deltas of each combination every few seconds
-- (query::counts::compact). Readers sum whatever is there, merged or not.
CREATE TABLE alert_tag_counts (
    id BIGSERIAL PRIMARY KEY,
    organisation_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    status TEXT NOT NULL,
    severity INTEGER NOT NULL,
    is_read BOOLEAN NOT NULL,
    imported BOOLEAN NOT NULL,
    n BIGINT NOT NULL
);
CREATE INDEX alert_tag_counts_key
    ON alert_tag_counts (organisation_id, tag, status, severity, is_read, imported) INCLUDE (n);

CREATE FUNCTION alert_tag_counts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.organisation_id, NEW.tag, NEW.status, NEW.severity, NEW.is_read, NEW.case_id IS NOT NULL)
        IS NOT DISTINCT FROM (OLD.organisation_id, OLD.tag, OLD.status, OLD.severity, OLD.is_read, OLD.case_id IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n)
        VALUES (OLD.organisation_id, OLD.tag, OLD.status, OLD.severity, OLD.is_read, OLD.case_id IS NOT NULL, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n)
        VALUES (NEW.organisation_id, NEW.tag, NEW.status, NEW.severity, NEW.is_read, NEW.case_id IS NOT NULL, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER alert_tag_counts_sync AFTER INSERT OR UPDATE OR DELETE ON alert_tags
    FOR EACH ROW EXECUTE FUNCTION alert_tag_counts_sync();

INSERT INTO alert_tag_counts (organisation_id, tag, status, severity, is_read, imported, n)
SELECT organisation_id, tag, status, severity, is_read, case_id IS NOT NULL, COUNT(*)
FROM alert_tags GROUP BY 1, 2, 3, 4, 5, 6;
