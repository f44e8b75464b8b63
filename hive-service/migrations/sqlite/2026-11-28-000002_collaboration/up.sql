-- Collaboration on cases: comments, procedures (ATT&CK patterns), pages and page
-- templates, custom timeline events, links between cases, shares with other
-- organisations, and actions required from organisations on tasks.

-- Comments of a case or an alert.
CREATE TABLE comments (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    case_id BIGINT,
    alert_id BIGINT,
    message TEXT NOT NULL,
    is_edited BOOLEAN NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX comments_case ON comments (case_id);
CREATE INDEX comments_alert ON comments (alert_id);

-- Procedures: an ATT&CK pattern seen in a case or an alert.
CREATE TABLE procedures (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    case_id BIGINT,
    alert_id BIGINT,
    pattern_id TEXT NOT NULL,
    tactic TEXT,
    description TEXT,
    occur_date BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX procedures_case ON procedures (case_id);
CREATE INDEX procedures_alert ON procedures (alert_id);

-- Pages of a case, or page templates of the organisation (case_id NULL).
CREATE TABLE pages (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    case_id BIGINT,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    category TEXT NOT NULL,
    page_order BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX pages_case ON pages (case_id);
CREATE INDEX pages_organisation ON pages (organisation_id);

-- Events added by hand to a case's timeline.
CREATE TABLE custom_events (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    case_id BIGINT NOT NULL,
    date BIGINT NOT NULL,
    end_date BIGINT,
    title TEXT NOT NULL,
    description TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX custom_events_case ON custom_events (case_id);

-- Links from a case to another case or to a URL.
CREATE TABLE case_links (
    id BIGINT PRIMARY KEY NOT NULL,
    case_id BIGINT NOT NULL,
    link_type TEXT NOT NULL,
    linked_case_id BIGINT,
    url TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX case_links_case ON case_links (case_id);

-- A case shared with another organisation, under a profile.
CREATE TABLE shares (
    id BIGINT PRIMARY KEY NOT NULL,
    case_id BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL,
    profile_id BIGINT NOT NULL,
    task_rule TEXT NOT NULL,
    observable_rule TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT,
    UNIQUE (case_id, organisation_id)
);
CREATE INDEX shares_organisation ON shares (organisation_id);

-- Tasks and observables of a shared case visible to another organisation.
CREATE TABLE shared_items (
    entity_id BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL,
    PRIMARY KEY (entity_id, organisation_id)
);

-- Whether an organisation must act on a task.
CREATE TABLE action_required (
    task_id BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL,
    required BOOLEAN NOT NULL,
    PRIMARY KEY (task_id, organisation_id)
);

-- Page templates whose pages a case template gives its cases (JSON array of ids).
ALTER TABLE case_templates ADD COLUMN page_template_ids TEXT NOT NULL DEFAULT '[]';

-- Links between organisations: `link_type` is how `organisation_id` sees `other_id`.
CREATE TABLE organisation_links (
    organisation_id BIGINT NOT NULL,
    other_id BIGINT NOT NULL,
    link_type TEXT NOT NULL,
    PRIMARY KEY (organisation_id, other_id)
);
