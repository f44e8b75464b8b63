//! Row structs of the accounts tables (organisations, users, profiles, memberships...) and
//! their finders by `~id` or name. Case-work rows are in [`super::casework`]; conversions to
//! wire shapes live in `crate::render`.

use super::schema::*;
use super::{parse_id, DbConn};
use diesel::prelude::*;

service_kit::row! {
    /// An organisation.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
    #[diesel(table_name = organisations)]
    #[serde(rename_all = "camelCase")]
    pub struct OrganisationRow {
        pub id: i64,
        pub name: String,
        pub description: String,
        pub task_rule: String,
        pub observable_rule: String,
        pub locked: bool,
        audit_fields,
    }
}

service_kit::row! {
    /// A profile: a named set of permissions.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
    #[diesel(table_name = profiles)]
    #[serde(rename_all = "camelCase")]
    pub struct ProfileRow {
        pub id: i64,
        pub name: String,
        /// JSON array of permission names.
        pub permissions: String,
        audit_fields,
    }
}

impl ProfileRow {
    /// The permission names.
    pub fn permission_list(&self) -> Vec<String> {
        serde_json::from_str(&self.permissions).unwrap_or_default()
    }
}

service_kit::row! {
    /// A user account.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
    #[diesel(table_name = users)]
    #[serde(rename_all = "camelCase")]
    pub struct UserRow {
        pub id: i64,
        pub login: String,
        pub name: String,
        pub email: Option<String>,
        pub user_type: String,
        pub avatar: Option<String>,
        pub locked: bool,
        /// argon2 PHC string.
        #[serde(skip)]
        pub password_hash: Option<String>,
        /// When the password last changed; sessions issued before are void.
        #[serde(skip)]
        pub password_changed_at: i64,
        /// SHA-256 of the API key, hex (the lookup).
        #[serde(skip)]
        pub api_key_hash: Option<String>,
        audit_fields,
        /// The API key, encrypted under the server key (`auth::vault`), for reading it back.
        #[serde(skip)]
        pub api_key_secret: Option<String>,
        /// The TOTP secret once multi-factor login is set up, encrypted.
        #[serde(skip)]
        pub totp_secret: Option<String>,
        /// A TOTP secret handed out and not yet confirmed by a code, encrypted.
        #[serde(skip)]
        pub totp_pending: Option<String>,
        /// The last TOTP time step accepted (a code is not taken twice).
        #[serde(skip)]
        pub totp_last_step: Option<i64>,
    }
}

service_kit::account_row!(UserRow);

impl UserRow {
    /// A new account (`Normal`, unlocked, no password, key or TOTP yet), made now by
    /// `created_by`; set the rest with struct update syntax.
    pub fn new(login: &str, name: &str, created_by: &str) -> UserRow {
        let now = crate::db::now_ms();
        UserRow {
            id: crate::db::next_id(),
            login: login.into(),
            name: name.into(),
            email: None,
            user_type: "Normal".into(),
            avatar: None,
            locked: false,
            password_hash: None,
            password_changed_at: now,
            api_key_hash: None,
            created_by: created_by.into(),
            created_at: now,
            updated_by: None,
            updated_at: None,
            api_key_secret: None,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
        }
    }
}

/// A user's membership of an organisation, with its profile there.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct MembershipRow {
    pub user_id: i64,
    pub organisation_id: i64,
    pub profile_id: i64,
    pub is_default: bool,
}

/// An observable type (`ip`, `domain`, `file`...).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = observable_types)]
pub struct ObservableTypeRow {
    pub id: i64,
    pub name: String,
    pub is_attachment: bool,
    pub created_by: String,
    pub created_at: i64,
}

/// A membership joined with its organisation and profile.
#[derive(Debug, Clone)]
pub struct Membership {
    pub organisation: OrganisationRow,
    pub profile: ProfileRow,
    pub is_default: bool,
}

/// All memberships of a user, ordered by organisation name.
pub fn memberships_of(conn: &mut super::DbConn, user_id: i64) -> QueryResult<Vec<Membership>> {
    Ok(memberships_of_users(conn, &[user_id])?
        .remove(&user_id)
        .unwrap_or_default())
}

/// The memberships of several users in one query, by user id, each ordered by organisation
/// name.
pub fn memberships_of_users(
    conn: &mut super::DbConn,
    user_ids: &[i64],
) -> QueryResult<std::collections::HashMap<i64, Vec<Membership>>> {
    let rows: Vec<(MembershipRow, OrganisationRow, ProfileRow)> = memberships::table
        .inner_join(organisations::table)
        .inner_join(profiles::table)
        .filter(memberships::user_id.eq_any(user_ids))
        .order(organisations::name.asc())
        .select((
            MembershipRow::as_select(),
            OrganisationRow::as_select(),
            ProfileRow::as_select(),
        ))
        .load(conn)?;
    let mut out: std::collections::HashMap<i64, Vec<Membership>> = std::collections::HashMap::new();
    for (m, organisation, profile) in rows {
        out.entry(m.user_id).or_default().push(Membership {
            organisation,
            profile,
            is_default: m.is_default,
        });
    }
    Ok(out)
}
service_kit::row! {
    /// A custom field definition.
    #[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
    #[diesel(table_name = custom_fields)]
    #[serde(rename_all = "camelCase")]
    pub struct CustomFieldRow {
        pub id: i64,
        pub name: String,
        pub display_name: String,
        pub group_name: String,
        pub description: String,
        /// `string`, `integer`, `float`, `boolean`, `date` or `url`.
        #[serde(rename = "type")]
        pub field_type: String,
        /// JSON array of allowed values (empty: any).
        pub options: String,
        pub mandatory: bool,
        audit_fields,
    }
}

/// Finds a user by `~id` or login.
pub fn find_user(c: &mut DbConn, key: &str) -> QueryResult<Option<UserRow>> {
    let q = crate::db::schema::users::table.select(UserRow::as_select());
    match parse_id(key) {
        Some(id) => q.find(id).first(c).optional(),
        None => q
            .filter(crate::db::schema::users::login.eq(key.trim().to_lowercase()))
            .first(c)
            .optional(),
    }
}

/// Finds an organisation by `~id` or name.
pub fn find_organisation(c: &mut DbConn, key: &str) -> QueryResult<Option<OrganisationRow>> {
    let q = crate::db::schema::organisations::table.select(OrganisationRow::as_select());
    match parse_id(key) {
        Some(id) => q.find(id).first(c).optional(),
        None => q
            .filter(crate::db::schema::organisations::name.eq(key))
            .first(c)
            .optional(),
    }
}

/// Finds a profile by `~id` or name.
pub fn find_profile(c: &mut DbConn, key: &str) -> QueryResult<Option<ProfileRow>> {
    let q = crate::db::schema::profiles::table.select(ProfileRow::as_select());
    match parse_id(key) {
        Some(id) => q.find(id).first(c).optional(),
        None => q
            .filter(crate::db::schema::profiles::name.eq(key))
            .first(c)
            .optional(),
    }
}

/// Finds an observable type by `~id` or name.
pub fn find_observable_type(c: &mut DbConn, key: &str) -> QueryResult<Option<ObservableTypeRow>> {
    let q = observable_types::table.select(ObservableTypeRow::as_select());
    match parse_id(key) {
        Some(id) => q.find(id).first(c).optional(),
        None => q.filter(observable_types::name.eq(key)).first(c).optional(),
    }
}
