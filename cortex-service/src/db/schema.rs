//! The schema both backends share.

service_kit::table! {
    organizations (id) {
        id -> Text,
        description -> Text,
        status -> Text,
        audit_columns,
    }
}

service_kit::table! {
    users (id) {
        id -> Text,
        name -> Text,
        organization_id -> Text,
        roles -> Text,
        status -> Text,
        password_hash -> Nullable<Text>,
        password_changed_at -> BigInt,
        api_key_hash -> Nullable<Text>,
        audit_columns,
        api_key_secret -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(users -> organizations (organization_id));

service_kit::table! {
    workers (id) {
        id -> Text,
        organization_id -> Text,
        kind -> Text,
        name -> Text,
        definition_id -> Text,
        definition -> Text,
        data_types -> Text,
        configuration -> Text,
        rate -> Nullable<BigInt>,
        rate_unit -> Nullable<Text>,
        job_cache -> Nullable<Double>,
        job_timeout -> Nullable<Double>,
        audit_columns,
    }
}

diesel::table! {
    base_configs (organization_id, kind, name) {
        organization_id -> Text,
        kind -> Text,
        name -> Text,
        config -> Text,
        updated_by -> Text,
        updated_at -> BigInt,
    }
}

service_kit::table! {
    jobs (id) {
        id -> Text,
        organization_id -> Text,
        worker_id -> Text,
        worker_name -> Text,
        worker_definition_id -> Text,
        kind -> Text,
        status -> Text,
        data_type -> Text,
        data -> Nullable<Text>,
        attachment -> Nullable<Text>,
        tlp -> Integer,
        pap -> Integer,
        message -> Text,
        parameters -> Text,
        label -> Nullable<Text>,
        cache_tag -> Text,
        start_date -> Nullable<BigInt>,
        end_date -> Nullable<BigInt>,
        error_message -> Nullable<Text>,
        input -> Nullable<Text>,
        report -> Nullable<Text>,
        runner -> Nullable<Text>,
        attempts -> Integer,
        published -> Bool,
        audit_columns,
        request_id -> Nullable<Text>,
        announced -> Nullable<Text>,
    }
}

diesel::table! {
    artifacts (id) {
        id -> Text,
        job_id -> Text,
        position -> Integer,
        data_type -> Text,
        data -> Nullable<Text>,
        attachment -> Nullable<Text>,
        tlp -> Integer,
        tags -> Text,
        message -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    instances (id) {
        id -> Text,
        started_at -> BigInt,
        heartbeat_at -> BigInt,
    }
}

diesel::joinable!(artifacts -> jobs (job_id));
diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    sessions,
    users,
    settings,
    workers,
    base_configs,
    jobs,
    artifacts,
    instances
);
