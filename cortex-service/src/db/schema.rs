//! The schema both backends share.

diesel::table! {
    organizations (id) {
        id -> Text,
        description -> Text,
        status -> Text,
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Nullable<Text>,
        updated_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        name -> Text,
        organization_id -> Text,
        roles -> Text,
        status -> Text,
        password_hash -> Nullable<Text>,
        password_changed_at -> BigInt,
        api_key_hash -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Nullable<Text>,
        updated_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::allow_tables_to_appear_in_same_query!(organizations, users, settings);
