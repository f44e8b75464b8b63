//! The one schema both backends share (migrations/sqlite and migrations/postgres create it).

diesel::table! {
    organisations (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        task_rule -> Text,
        observable_rule -> Text,
        locked -> Bool,
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Nullable<Text>,
        updated_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    profiles (id) {
        id -> BigInt,
        name -> Text,
        permissions -> Text,
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Nullable<Text>,
        updated_at -> Nullable<BigInt>,
    }
}

diesel::table! {
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
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Nullable<Text>,
        updated_at -> Nullable<BigInt>,
    }
}

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

diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    profiles,
    users,
    memberships,
    observable_types,
    settings,
);

diesel::table! {
    custom_fields (id) {
        id -> BigInt,
        name -> Text,
        display_name -> Text,
        group_name -> Text,
        description -> Text,
        field_type -> Text,
        options -> Text,
        mandatory -> Bool,
        created_by -> Text,
        created_at -> BigInt,
        updated_by -> Nullable<Text>,
        updated_at -> Nullable<BigInt>,
    }
}
