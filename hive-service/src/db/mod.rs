//! hive-service's database: the pool, ids and migration runner of [`service_kit::db`], and
//! this service's migrations, schema and rows.

pub mod casework;
pub mod models;
pub mod raw;
pub mod schema;

pub use service_kit::db::*;

/// This service's migrations, under the advisory lock "HIVE".
pub const MIGRATIONS: Migrations = Migrations {
    postgres: diesel_migrations::embed_migrations!("migrations/postgres"),
    sqlite: diesel_migrations::embed_migrations!("migrations/sqlite"),
    lock_key: 0x4849_5645,
};
