//! The people of Cortex: a superadmin's organizations and every user; an orgadmin's own
//! organization's users. Each change is a call of the API (`/api/organization`, `/api/user`).

use super::{page, Viewer};
use crate::auth::render_user;
use crate::db::schema::{organizations, users};
use crate::db::{Db, OrganizationRow, UserRow};
use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;
use service_kit::console::PageError;
use shared_models::cortex::Role;

/// `GET /users`: superadmin or orgadmin (the roles the API asks to manage users).
pub async fn list(db: web::Data<Db>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    viewer
        .caller
        .require_any(&[Role::Superadmin, Role::Orgadmin])
        .map_err(PageError::Api)?;
    let superadmin = viewer.caller.has(Role::Superadmin);
    let org = viewer.caller.organization.id.clone();
    let (orgs, people) = db
        .read(move |c| {
            let mut orgs = organizations::table
                .order(organizations::id.asc())
                .select(OrganizationRow::as_select())
                .into_boxed();
            let mut people = users::table
                .order((users::organization_id.asc(), users::id.asc()))
                .select(UserRow::as_select())
                .into_boxed();
            if !superadmin {
                orgs = orgs.filter(organizations::id.eq(org.clone()));
                people = people.filter(users::organization_id.eq(org));
            }
            Ok((orgs.load(c)?, people.load(c)?))
        })
        .await?;
    let orgs: Vec<_> = orgs
        .iter()
        .map(|o| json!({"name": o.id, "description": o.description, "status": o.status}))
        .collect();
    let people: Vec<_> = people.iter().map(render_user).collect();
    page(
        &viewer,
        "users",
        "users.html",
        json!({"orgs": orgs, "users": people, "superadmin": superadmin,
               "me": viewer.caller.login()}),
    )
}
