//! The one schema both backends share (migrations/sqlite and migrations/postgres create it).

service_kit::table! {
    organisations (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        task_rule -> Text,
        observable_rule -> Text,
        locked -> Bool,
        audit_columns,
    }
}

service_kit::table! {
    profiles (id) {
        id -> BigInt,
        name -> Text,
        permissions -> Text,
        audit_columns,
    }
}

service_kit::table! {
    users (id) {
        id -> BigInt,
        login -> Text,
        name -> Text,
        email -> Nullable<Text>,
        user_type -> Text,
        avatar -> Nullable<Text>,
        locked -> Bool,
        password_hash -> Nullable<Text>,
        password_changed_at -> BigInt,
        api_key_hash -> Nullable<Text>,
        audit_columns,
        api_key_secret -> Nullable<Text>,
        totp_secret -> Nullable<Text>,
        totp_pending -> Nullable<Text>,
        totp_last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        organisation -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    memberships (user_id, organisation_id) {
        user_id -> BigInt,
        organisation_id -> BigInt,
        profile_id -> BigInt,
        is_default -> Bool,
    }
}

diesel::table! {
    observable_types (id) {
        id -> BigInt,
        name -> Text,
        is_attachment -> Bool,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> organisations (organisation_id));
diesel::joinable!(memberships -> profiles (profile_id));

service_kit::table! {
    custom_fields (id) {
        id -> BigInt,
        name -> Text,
        display_name -> Text,
        group_name -> Text,
        description -> Text,
        field_type -> Text,
        options -> Text,
        mandatory -> Bool,
        audit_columns,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        owner_id -> Nullable<BigInt>,
        name -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        sha1 -> Text,
        md5 -> Text,
        created_by -> Text,
        created_at -> BigInt,
    }
}

service_kit::table! {
    case_templates (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        name -> Text,
        display_name -> Text,
        title_prefix -> Nullable<Text>,
        description -> Nullable<Text>,
        severity -> Nullable<Integer>,
        tags -> Text,
        flag -> Bool,
        tlp -> Nullable<Integer>,
        pap -> Nullable<Integer>,
        summary -> Nullable<Text>,
        tasks -> Text,
        audit_columns,
        page_template_ids -> Text,
    }
}

service_kit::table! {
    cases (id) {
        id -> BigInt,
        number -> BigInt,
        organisation_id -> BigInt,
        title -> Text,
        description -> Text,
        severity -> Integer,
        start_date -> BigInt,
        end_date -> Nullable<BigInt>,
        tags -> Text,
        flag -> Bool,
        tlp -> Integer,
        pap -> Integer,
        status -> Text,
        stage -> Text,
        summary -> Nullable<Text>,
        impact_status -> Nullable<Text>,
        assignee -> Nullable<Text>,
        case_template -> Nullable<Text>,
        access_kind -> Text,
        access_users -> Nullable<Text>,
        in_progress_date -> Nullable<BigInt>,
        closed_date -> Nullable<BigInt>,
        alert_date -> Nullable<BigInt>,
        alert_new_date -> Nullable<BigInt>,
        alert_imported_date -> Nullable<BigInt>,
        audit_columns,
    }
}

service_kit::table! {
    alerts (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        alert_type -> Text,
        source -> Text,
        source_ref -> Text,
        external_link -> Nullable<Text>,
        title -> Text,
        description -> Text,
        severity -> Integer,
        date -> BigInt,
        tags -> Text,
        flag -> Bool,
        tlp -> Integer,
        pap -> Integer,
        follow -> Bool,
        status -> Text,
        stage -> Text,
        summary -> Nullable<Text>,
        assignee -> Nullable<Text>,
        case_template -> Nullable<Text>,
        case_id -> Nullable<BigInt>,
        is_read -> Bool,
        last_sync_date -> Nullable<BigInt>,
        in_progress_date -> Nullable<BigInt>,
        closed_date -> Nullable<BigInt>,
        imported_date -> Nullable<BigInt>,
        audit_columns,
    }
}

diesel::table! {
    custom_values (id) {
        id -> BigInt,
        entity_id -> BigInt,
        field_id -> BigInt,
        position -> Integer,
        value -> Text,
    }
}

service_kit::table! {
    observables (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        case_id -> Nullable<BigInt>,
        alert_id -> Nullable<BigInt>,
        data_type -> Text,
        data -> Nullable<Text>,
        attachment_id -> Nullable<BigInt>,
        data_hash -> Text,
        tlp -> Integer,
        pap -> Integer,
        tags -> Text,
        ioc -> Bool,
        sighted -> Bool,
        sighted_at -> Nullable<BigInt>,
        ignore_similarity -> Bool,
        message -> Nullable<Text>,
        reports -> Text,
        audit_columns,
    }
}

service_kit::table! {
    tasks (id) {
        id -> BigInt,
        case_id -> BigInt,
        organisation_id -> BigInt,
        title -> Text,
        group_name -> Text,
        description -> Nullable<Text>,
        status -> Text,
        flag -> Bool,
        start_date -> Nullable<BigInt>,
        end_date -> Nullable<BigInt>,
        task_order -> BigInt,
        due_date -> Nullable<BigInt>,
        assignee -> Nullable<Text>,
        mandatory -> Bool,
        audit_columns,
    }
}

service_kit::table! {
    logs (id) {
        id -> BigInt,
        task_id -> BigInt,
        organisation_id -> BigInt,
        message -> Text,
        date -> BigInt,
        owner -> Text,
        include_in_timeline -> Nullable<BigInt>,
        audit_columns,
    }
}

service_kit::table! {
    comments (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        case_id -> Nullable<BigInt>,
        alert_id -> Nullable<BigInt>,
        message -> Text,
        is_edited -> Bool,
        audit_columns,
    }
}

service_kit::table! {
    procedures (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        case_id -> Nullable<BigInt>,
        alert_id -> Nullable<BigInt>,
        pattern_id -> Text,
        tactic -> Nullable<Text>,
        description -> Nullable<Text>,
        occur_date -> BigInt,
        audit_columns,
    }
}

service_kit::table! {
    pages (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        case_id -> Nullable<BigInt>,
        title -> Text,
        content -> Text,
        category -> Text,
        page_order -> BigInt,
        audit_columns,
    }
}

service_kit::table! {
    custom_events (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        case_id -> BigInt,
        date -> BigInt,
        end_date -> Nullable<BigInt>,
        title -> Text,
        description -> Nullable<Text>,
        audit_columns,
    }
}

diesel::table! {
    case_links (id) {
        id -> BigInt,
        case_id -> BigInt,
        link_type -> Text,
        linked_case_id -> Nullable<BigInt>,
        url -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
    }
}

service_kit::table! {
    shares (id) {
        id -> BigInt,
        case_id -> BigInt,
        organisation_id -> BigInt,
        profile_id -> BigInt,
        task_rule -> Text,
        observable_rule -> Text,
        audit_columns,
    }
}

diesel::table! {
    shared_items (entity_id, organisation_id) {
        entity_id -> BigInt,
        organisation_id -> BigInt,
    }
}

diesel::table! {
    action_required (task_id, organisation_id) {
        task_id -> BigInt,
        organisation_id -> BigInt,
        required -> Bool,
    }
}

diesel::table! {
    organisation_links (organisation_id, other_id) {
        organisation_id -> BigInt,
        other_id -> BigInt,
        link_type -> Text,
    }
}

service_kit::table! {
    cortex_jobs (id) {
        id -> BigInt,
        organisation_id -> BigInt,
        kind -> Text,
        object_type -> Text,
        object_id -> BigInt,
        cortex_id -> Text,
        worker_id -> Text,
        worker_name -> Text,
        worker_definition -> Text,
        request_id -> Text,
        cortex_job_id -> Nullable<Text>,
        status -> Text,
        start_date -> BigInt,
        end_date -> Nullable<BigInt>,
        report -> Nullable<Text>,
        operations -> Text,
        parameters -> Text,
        tlp -> Nullable<Integer>,
        dispatch -> Text,
        transport -> Text,
        attempts -> Integer,
        next_attempt -> BigInt,
        audit_columns,
    }
}

diesel::table! {
    audits (id) {
        id -> BigInt,
        request_id -> Text,
        action -> Text,
        main_action -> Bool,
        object_type -> Text,
        object_id -> Nullable<BigInt>,
        details -> Text,
        root_type -> Nullable<Text>,
        root_id -> Nullable<BigInt>,
        organisation_id -> BigInt,
        created_by -> Text,
        created_at -> BigInt,
        job_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    notification_queue (id) {
        id -> BigInt,
        audit_ids -> Text,
    }
}

diesel::table! {
    notification_deliveries (id) {
        id -> BigInt,
        endpoint -> Text,
        audit_id -> BigInt,
        organisation_id -> BigInt,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    config_items (organisation_id, path) {
        organisation_id -> BigInt,
        path -> Text,
        value -> Text,
        updated_by -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        owner -> Text,
        expires_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    sessions,
    cortex_jobs,
    organisation_links,
    organisations,
    profiles,
    users,
    memberships,
    observable_types,
    settings,
    custom_fields,
    counters,
    attachments,
    case_templates,
    cases,
    alerts,
    custom_values,
    observables,
    tasks,
    logs,
    comments,
    procedures,
    pages,
    custom_events,
    case_links,
    shares,
    shared_items,
    action_required,
    audits,
    notification_queue,
    notification_deliveries,
    config_items,
    leases,
);
