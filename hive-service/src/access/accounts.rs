//! Who may act on which account. One rule set for every user route (REST v1, the Query API,
//! TOTP), so that no route decides on its own:
//!
//! - a caller *administers* an organisation when it holds `manageUser` there, or is a
//!   platform administrator (`manageUser` in the `admin` organisation), who administers all;
//! - an account is *seen* by itself, by platform administrators, and by the members of any
//!   organisation it belongs to that the caller acts in;
//! - the profile of a membership, and the membership itself, are changed by those who
//!   administer its organisation;
//! - what belongs to the whole account (password, API key, TOTP, lock, memberships) is
//!   changed by the account itself where TheHive lets it, and otherwise only by someone who
//!   administers *every* organisation the account belongs to; an account of the `admin`
//!   organisation only by a platform administrator. So an organisation's administrator can
//!   never take over an account that also lives elsewhere.

use crate::auth::{Caller, ADMIN_ORG};
use crate::db::models::Membership;
use crate::db::models::UserRow;
use crate::domain::permissions;
use service_kit::error::ApiError;

/// Whether `caller` administers the platform: `manageUser` in the `admin` organisation,
/// whichever organisation the request acts in.
pub fn is_platform_admin(caller: &Caller) -> bool {
    caller.holds_platform_permission("manageUser")
}

/// Whether `caller` administers the users of the organisation `org_id`.
pub fn administers(caller: &Caller, org_id: i64) -> bool {
    is_platform_admin(caller)
        || caller.memberships.iter().any(|m| {
            m.organisation.id == org_id
                && m.organisation.name != ADMIN_ORG
                && permissions::grants(&m.profile.permission_list(), "manageUser")
        })
}

/// Whether `caller` may see the account `target` (with its memberships).
pub fn may_see(caller: &Caller, target: &UserRow, memberships: &[Membership]) -> bool {
    caller.user.id == target.id
        || is_platform_admin(caller)
        || memberships
            .iter()
            .any(|m| m.organisation.id == caller.organisation.id)
}

/// Whether `caller` may change what belongs to the whole account: password, API key, TOTP,
/// lock, memberships. Not the account itself (its own routes say what it may do alone).
pub fn may_manage_account(caller: &Caller, memberships: &[Membership]) -> bool {
    if is_platform_admin(caller) {
        return true;
    }
    !memberships.is_empty()
        && memberships
            .iter()
            .all(|m| m.organisation.name != ADMIN_ORG && administers(caller, m.organisation.id))
}

/// 403 unless `caller` may manage the whole account of `target`.
pub fn require_manage_account(
    caller: &Caller,
    target: &UserRow,
    memberships: &[Membership],
    what: &str,
) -> Result<(), ApiError> {
    if may_manage_account(caller, memberships) {
        Ok(())
    } else {
        Err(ApiError::Authorization(format!(
            "User {} cannot {what} of {}: it belongs to organisations {} does not administer",
            caller.login(),
            target.login,
            caller.login()
        )))
    }
}

/// Unless `caller` administers the organisation `org_id`: 403 when it is a member of it,
/// else 404 naming the organisation as the caller did (`key`), so that nothing tells an
/// organisation it is not in exists.
pub fn require_administers(caller: &Caller, org_id: i64, key: &str) -> Result<(), ApiError> {
    if administers(caller, org_id) {
        Ok(())
    } else if caller.is_member_of(org_id) {
        Err(ApiError::Authorization(format!(
            "User {} does not administer the users of organisation {key}",
            caller.login()
        )))
    } else {
        Err(ApiError::NotFound(format!("Organisation {key} not found")))
    }
}

/// Whether `caller` may give the profile `profile_name` (only platform administrators give
/// `admin`).
pub fn may_give_profile(caller: &Caller, profile_name: &str) -> bool {
    profile_name != "admin" || is_platform_admin(caller)
}
