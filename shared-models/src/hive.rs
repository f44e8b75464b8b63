//! hive-service's wire shapes (TheHive 5, `/api/v1`), as thehive4py 2.x sends and reads them.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Reads a field that may be absent (`None`), `null` (`Some(None)`) or set.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Kind of account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum UserType {
    /// A person.
    Normal,
    /// A machine account (API key only).
    Service,
    /// An account of another platform.
    External,
}

impl UserType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Normal => "Normal",
            UserType::Service => "Service",
            UserType::External => "External",
        }
    }
}

/// `POST /api/v1/user`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputUser {
    /// Login, e-mail-like, at most 128 characters.
    pub login: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Initial password.
    #[serde(default)]
    pub password: Option<String>,
    /// Profile in `organisation`.
    pub profile: String,
    /// Organisation (default: the caller's current one).
    #[serde(default)]
    pub organisation: Option<String>,
    /// Kind of account (default `Normal`).
    #[serde(default, rename = "type")]
    pub user_type: Option<UserType>,
}

/// `PATCH /api/v1/user/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputUpdateUser {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Organisation in which `profile` applies (default: current).
    #[serde(default)]
    pub organisation: Option<String>,
    /// New profile in that organisation.
    #[serde(default)]
    pub profile: Option<String>,
    /// Lock or unlock the account.
    #[serde(default)]
    pub locked: Option<bool>,
    /// Avatar; `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub avatar: Option<Option<String>>,
    /// E-mail; `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Default organisation.
    #[serde(default)]
    pub default_organisation: Option<String>,
    /// Kind of account.
    #[serde(default, rename = "type")]
    pub user_type: Option<UserType>,
}

/// One membership in `PUT /api/v1/user/{id}/organisations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InputUserOrganisation {
    /// Organisation name or id.
    pub organisation: String,
    /// Profile there.
    pub profile: String,
    /// Whether it is the default organisation.
    #[serde(default)]
    pub default: bool,
}

/// Body of `PUT /api/v1/user/{id}/organisations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InputUserOrganisations {
    /// The memberships the user must have, and no other.
    pub organisations: Vec<InputUserOrganisation>,
}

/// `POST /api/v1/user/{id}/password/set`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputSetPassword {
    /// The new password.
    pub password: String,
}

/// `POST /api/v1/user/{id}/password/change`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputChangePassword {
    /// The new password.
    pub password: String,
    /// The current password.
    pub current_password: String,
}

/// A user's membership as shown in `OutputUser.organisations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputOrganisationProfile {
    /// Organisation id.
    pub organisation_id: String,
    /// Organisation name.
    pub organisation: String,
    /// Profile there.
    pub profile: String,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputUser {
    /// Id (`~123`).
    #[serde(rename = "_id")]
    pub id: String,
    /// Who created it.
    #[serde(rename = "_createdBy")]
    pub created_by: String,
    /// When, epoch ms.
    #[serde(rename = "_createdAt")]
    pub created_at: i64,
    /// Who last changed it.
    #[serde(rename = "_updatedBy", skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// When, epoch ms.
    #[serde(rename = "_updatedAt", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Login.
    pub login: String,
    /// Display name.
    pub name: String,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether an API key is set.
    pub has_key: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// Whether MFA is set up (never, here).
    #[serde(rename = "hasMFA")]
    pub has_mfa: bool,
    /// Whether the account is locked.
    pub locked: bool,
    /// Profile in `organisation`.
    pub profile: String,
    /// Permissions of that profile.
    pub permissions: Vec<String>,
    /// The organisation this view is for.
    pub organisation: String,
    /// Avatar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Memberships visible to the caller.
    pub organisations: Vec<OutputOrganisationProfile>,
    /// Kind of account.
    #[serde(rename = "type")]
    pub user_type: String,
    /// Default organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_organisation: Option<String>,
    /// Always `{}`.
    pub extra_data: Map<String, Value>,
}

/// Sharing rule of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SharingRule {
    /// Share nothing automatically.
    Manual,
    /// Share what exists now.
    ExistingOnly,
    /// Share what comes later.
    UpcomingOnly,
    /// Share everything.
    All,
}

impl SharingRule {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SharingRule::Manual => "manual",
            SharingRule::ExistingOnly => "existingOnly",
            SharingRule::UpcomingOnly => "upcomingOnly",
            SharingRule::All => "all",
        }
    }
}

/// `POST /api/v1/organisation`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputOrganisation {
    /// Unique name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Task sharing rule (default `manual`).
    #[serde(default)]
    pub task_rule: Option<SharingRule>,
    /// Observable sharing rule (default `manual`).
    #[serde(default)]
    pub observable_rule: Option<SharingRule>,
    /// Locked organisations refuse their members.
    #[serde(default)]
    pub locked: Option<bool>,
}

/// `PATCH /api/v1/organisation/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputUpdateOrganisation {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// Task sharing rule.
    #[serde(default)]
    pub task_rule: Option<SharingRule>,
    /// Observable sharing rule.
    #[serde(default)]
    pub observable_rule: Option<SharingRule>,
    /// Lock or unlock.
    #[serde(default)]
    pub locked: Option<bool>,
    /// Avatar (ignored).
    #[serde(default)]
    pub avatar: Option<String>,
}

/// `PUT /api/v1/organisation/{id}/link/{other}`: how two organisations see each other.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputOrganisationLink {
    /// The link as the first one sees it (default `default`).
    #[serde(default)]
    pub link_type: Option<String>,
    /// The link as the other one sees it (default `default`).
    #[serde(default)]
    pub other_link_type: Option<String>,
}

/// One link of `PUT /api/v1/organisation/{id}/links`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputOrganisationLinkTo {
    /// The other organisation (name or id).
    pub to_organisation: String,
    /// The link as the first one sees it (default `default`).
    #[serde(default)]
    pub link_type: Option<String>,
    /// The link as the other one sees it (default `default`).
    #[serde(default)]
    pub other_link_type: Option<String>,
}

/// `PUT /api/v1/organisation/{id}/links`: all the links of an organisation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputOrganisationLinks {
    /// The links (at most 1,000).
    pub links: Vec<InputOrganisationLinkTo>,
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputOrganisation {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Always `Organisation`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// Who created it.
    #[serde(rename = "_createdBy")]
    pub created_by: String,
    /// When.
    #[serde(rename = "_createdAt")]
    pub created_at: i64,
    /// Who last changed it.
    #[serde(rename = "_updatedBy", skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// When.
    #[serde(rename = "_updatedAt", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Task sharing rule.
    pub task_rule: String,
    /// Observable sharing rule.
    pub observable_rule: String,
    /// Whether it is locked.
    pub locked: bool,
    /// Always `{}`.
    pub extra_data: Map<String, Value>,
}

/// `POST /api/v1/profile`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputProfile {
    /// Unique name.
    pub name: String,
    /// Permission names.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// `PATCH /api/v1/profile/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct InputUpdateProfile {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New permissions.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

/// A profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputProfile {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Always `Profile`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// Who created it.
    #[serde(rename = "_createdBy")]
    pub created_by: String,
    /// When.
    #[serde(rename = "_createdAt")]
    pub created_at: i64,
    /// Who last changed it.
    #[serde(rename = "_updatedBy", skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// When.
    #[serde(rename = "_updatedAt", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Name.
    pub name: String,
    /// Permissions.
    pub permissions: Vec<String>,
    /// Whether its permissions may change.
    pub editable: bool,
    /// TheHive 4's name for `forAdmin`.
    pub is_admin: bool,
    /// Holds administration permissions.
    pub for_admin: bool,
    /// Usable in ordinary organisations.
    pub for_org: bool,
    /// For accounts of other platforms (never, here).
    pub for_external: bool,
    /// Whether users with it count against a licence (informational).
    pub consumes_license: bool,
    /// `Admin` or `Organisation`.
    #[serde(rename = "type")]
    pub profile_type: String,
}

/// `POST /api/v1/login`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InputLogin {
    /// Login.
    pub user: String,
    /// Password.
    pub password: String,
    /// Organisation to act in.
    #[serde(default)]
    pub organisation: Option<String>,
    /// MFA code (not supported: must be absent).
    #[serde(default)]
    pub code: Option<String>,
}

/// `POST /api/v1/observable/type`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputObservableType {
    /// Unique name, e.g. `ip`.
    pub name: String,
    /// Whether observables of this type hold a file.
    #[serde(default)]
    pub is_attachment: bool,
}

/// An observable type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputObservableType {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Always `ObservableType`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// Who created it.
    #[serde(rename = "_createdBy")]
    pub created_by: String,
    /// When.
    #[serde(rename = "_createdAt")]
    pub created_at: i64,
    /// Name.
    pub name: String,
    /// Whether observables of this type hold a file.
    pub is_attachment: bool,
}

/// Type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CustomFieldType {
    /// Text.
    String,
    /// Whole number.
    Integer,
    /// Decimal number.
    Float,
    /// True or false.
    Boolean,
    /// Epoch milliseconds.
    Date,
    /// A URL.
    Url,
}

impl CustomFieldType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomFieldType::String => "string",
            CustomFieldType::Integer => "integer",
            CustomFieldType::Float => "float",
            CustomFieldType::Boolean => "boolean",
            CustomFieldType::Date => "date",
            CustomFieldType::Url => "url",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" => CustomFieldType::String,
            "integer" => CustomFieldType::Integer,
            "float" => CustomFieldType::Float,
            "boolean" => CustomFieldType::Boolean,
            "date" => CustomFieldType::Date,
            "url" => CustomFieldType::Url,
            _ => return None,
        })
    }

    /// Whether `v` is a value of this type.
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            CustomFieldType::String | CustomFieldType::Url => v.is_string(),
            CustomFieldType::Integer | CustomFieldType::Date => v.is_i64() || v.is_u64(),
            CustomFieldType::Float => v.is_number(),
            CustomFieldType::Boolean => v.is_boolean(),
        }
    }
}

/// `POST /api/v1/customField`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputCustomField {
    /// Unique name, used in `customFields.<name>`.
    pub name: String,
    /// Label (default: the name).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Group.
    #[serde(default)]
    pub group: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Type of the values.
    #[serde(rename = "type")]
    pub field_type: CustomFieldType,
    /// Required to close a case.
    #[serde(default)]
    pub mandatory: bool,
    /// Allowed values (empty: any).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub options: Vec<Value>,
}

/// `PATCH /api/v1/customField/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputUpdateCustomField {
    /// Label.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Group.
    #[serde(default)]
    pub group: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Type (only while no value uses the field).
    #[serde(default, rename = "type")]
    pub field_type: Option<CustomFieldType>,
    /// Allowed values.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub options: Option<Vec<Value>>,
    /// Required to close a case.
    #[serde(default)]
    pub mandatory: Option<bool>,
}

/// A custom field definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputCustomField {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Always `CustomField`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// Who created it.
    #[serde(rename = "_createdBy")]
    pub created_by: String,
    /// When.
    #[serde(rename = "_createdAt")]
    pub created_at: i64,
    /// Who last changed it.
    #[serde(rename = "_updatedBy", skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// When.
    #[serde(rename = "_updatedAt", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Name.
    pub name: String,
    /// Label.
    pub display_name: String,
    /// Group.
    pub group: String,
    /// Description.
    pub description: String,
    /// Type.
    #[serde(rename = "type")]
    pub field_type: CustomFieldType,
    /// Allowed values.
    #[schema(value_type = Vec<Object>)]
    pub options: Vec<Value>,
    /// Required to close a case.
    pub mandatory: bool,
    /// Always `{}`.
    pub extra_data: Map<String, Value>,
}
