//! TheHive's permissions and the four built-in profiles.
//!
//! A permission is either a plain name (`manageCase`) or a scoped one (`manageCase/create`).
//! A profile holding the plain name holds every scoped form of it.

/// Permissions that only make sense in the `admin` organisation.
pub const ADMIN_ONLY: &[&str] = &[
    "manageOrganisation",
    "manageProfile",
    "manageCustomField",
    "manageObservableTemplate",
    "managePattern",
    "manageTaxonomy",
    "manageAnalyzerTemplate",
    "managePlatform",
];

/// The `admin` profile: platform administration, no case data.
pub const ADMIN: &[&str] = &[
    "manageOrganisation",
    "manageUser",
    "manageProfile",
    "manageCustomField",
    "manageObservableTemplate",
    "managePattern",
    "manageTaxonomy",
    "manageAnalyzerTemplate",
    "manageConfig",
    "managePlatform",
];

/// The `org-admin` profile: everything within an organisation.
pub const ORG_ADMIN: &[&str] = &[
    "accessTheHiveFS",
    "manageAction",
    "manageAlert",
    "manageAnalyse",
    "manageCase",
    "manageCaseAccess",
    "manageCaseReport",
    "manageCaseReportTemplate",
    "manageCaseTemplate",
    "manageComment",
    "manageConfig",
    "manageCustomEvent",
    "manageDashboard",
    "manageFunction",
    "manageKnowledgeBase",
    "manageObservable",
    "managePage",
    "managePageTemplate",
    "manageProcedure",
    "manageShare",
    "manageTag",
    "manageTask",
    "manageUser",
];

/// The `analyst` profile: case work, no administration.
pub const ANALYST: &[&str] = &[
    "accessTheHiveFS",
    "manageAction",
    "manageAlert",
    "manageAnalyse",
    "manageCase",
    "manageComment",
    "manageCustomEvent",
    "manageObservable",
    "managePage",
    "manageProcedure",
    "manageShare",
    "manageTask",
];

/// The built-in profiles, created at first start.
pub const BUILT_IN_PROFILES: &[(&str, &[&str])] = &[
    ("admin", ADMIN),
    ("org-admin", ORG_ADMIN),
    ("analyst", ANALYST),
    ("read-only", &[]),
];

/// Scoped forms TheHive 5 knows, accepted in profiles besides the plain names above.
const SCOPED: &[&str] = &[
    "manageCase/create",
    "manageCase/update",
    "manageCase/delete",
    "manageCase/merge",
    "manageCase/reopen",
    "manageCase/changeOwnership",
    "manageAlert/create",
    "manageAlert/update",
    "manageAlert/delete",
    "manageAlert/import",
    "manageAlert/reopen",
    "manageCaseAccess/external",
    "manageCaseAccess/restrict",
    "manageFunction/invoke",
    "manageFunction/create",
];

/// Every permission a profile may hold, sorted (the profile form's choices).
pub fn all() -> Vec<&'static str> {
    let mut out: Vec<&str> = ADMIN
        .iter()
        .chain(ORG_ADMIN)
        .chain(SCOPED)
        .copied()
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether `name` is a permission TheHive knows.
pub fn is_known(name: &str) -> bool {
    ADMIN.contains(&name) || ORG_ADMIN.contains(&name) || SCOPED.contains(&name)
}

/// Whether a profile with `held` permissions grants `wanted`.
pub fn grants(held: &[String], wanted: &str) -> bool {
    let umbrella = wanted.split('/').next().unwrap_or(wanted);
    held.iter().any(|p| p == wanted || p == umbrella)
}

/// Whether a profile with these permissions is an administration profile (`forAdmin`).
pub fn is_admin_profile(held: &[String]) -> bool {
    held.iter().any(|p| ADMIN_ONLY.contains(&p.as_str()))
}

/// Profiles whose permissions cannot be edited.
pub fn is_editable(profile_name: &str) -> bool {
    !matches!(profile_name, "admin" | "org-admin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umbrella_permissions_grant_scoped_ones() {
        let held = vec!["manageCase".to_string()];
        assert!(grants(&held, "manageCase/create"));
        assert!(!grants(&held, "manageAlert/create"));
        assert!(is_known("manageAlert/import") && !is_known("manageEverything"));
        assert!(is_admin_profile(&["manageProfile".to_string()]));
        assert!(!is_admin_profile(&["manageUser".to_string()]));
    }
}
