-- Custom field definitions (values come with cases and alerts).
CREATE TABLE custom_fields (
    id BIGINT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    group_name TEXT NOT NULL,
    description TEXT NOT NULL,
    field_type TEXT NOT NULL,
    options TEXT NOT NULL,
    mandatory BOOLEAN NOT NULL DEFAULT FALSE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
