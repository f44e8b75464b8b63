//! The database layer of both services: one diesel connection type over SQLite (embedded
//! default) and PostgreSQL (production), a pool, migrations applied at start under a lock,
//! and helpers that run queries on the blocking pool. Each service gives its own migrations
//! ([`Migrations`]) and advisory lock key.

pub mod ids;
pub mod tx;
pub use ids::{format_id, next_id, now_ms, parse_id};
pub use tx::TxHooks;

use crate::error::ApiError;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A connection to either backend; queries written once serve both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL.
    Postgresql(diesel::PgConnection),
    /// SQLite.
    Sqlite(diesel::SqliteConnection),
}

/// Runs `$body` on the concrete connection inside a [`DbConn`], so that diesel's prepared
/// statement cache and batch inserts apply (the multi-backend wrapper has neither). Used on
/// hot paths; `$conn` is a `&mut PgConnection` or a `&mut SqliteConnection`.
#[macro_export]
macro_rules! on_backend {
    ($c:expr, $conn:ident => $body:expr) => {
        match $c {
            $crate::db::DbConn::Postgresql($conn) => $body,
            $crate::db::DbConn::Sqlite($conn) => $body,
        }
    };
}

/// `diesel::table!` with the audit columns every audited row of both services carries:
/// where the column list says `audit_columns,`, the table gets `created_by -> Text`,
/// `created_at -> BigInt`, `updated_by -> Nullable<Text>` and `updated_at ->
/// Nullable<BigInt>` in that order (who made the row and when, who changed it last and when;
/// the migrations create them the same way).
///
/// ```ignore
/// service_kit::table! {
///     organizations (id) {
///         id -> Text,
///         audit_columns,
///     }
/// }
/// ```
#[macro_export]
macro_rules! table {
    ($(#[$m:meta])* $name:ident ($($pk:ident),+ $(,)?) { $($cols:tt)* }) => {
        $crate::table!(@cols [$(#[$m])* $name ($($pk),+)] [] $($cols)*);
    };
    (@cols [$($head:tt)*] [$($done:tt)*] audit_columns, $($rest:tt)*) => {
        $crate::table!(@cols [$($head)*] [$($done)*
            created_by -> Text,
            created_at -> BigInt,
            updated_by -> Nullable<Text>,
            updated_at -> Nullable<BigInt>,
        ] $($rest)*);
    };
    (@cols [$($head:tt)*] [$($done:tt)*] $(#[$cm:meta])* $col:ident -> $ty:ty, $($rest:tt)*) => {
        $crate::table!(@cols [$($head)*] [$($done)* $(#[$cm])* $col -> $ty,] $($rest)*);
    };
    (@cols [$($head:tt)*] [$($done:tt)*]) => {
        ::diesel::table! { $($head)* { $($done)* } }
    };
}

/// A row struct with the audit fields that go with [`table!`]'s `audit_columns`: where the
/// field list says `audit_fields,`, the struct gets `created_by`, `created_at`,
/// `updated_by` and `updated_at` in that order (so `Queryable` reads them where the table
/// declares them).
///
/// ```ignore
/// service_kit::row! {
///     #[derive(Queryable, Selectable, Insertable)]
///     #[diesel(table_name = organizations)]
///     pub struct OrganizationRow {
///         pub id: String,
///         audit_fields,
///     }
/// }
/// ```
#[macro_export]
macro_rules! row {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $crate::row!(@fields [$(#[$m])* $vis struct $name] [] $($fields)*);
    };
    (@fields [$($head:tt)*] [$($done:tt)*] audit_fields, $($rest:tt)*) => {
        $crate::row!(@fields [$($head)*] [$($done)*
            /// Who created the row: a login, or the name the system acts under.
            pub created_by: String,
            /// When, epoch ms.
            pub created_at: i64,
            /// Who changed it last.
            pub updated_by: Option<String>,
            /// When, epoch ms.
            pub updated_at: Option<i64>,
        ] $($rest)*);
    };
    (@fields [$($head:tt)*] [$($done:tt)*]) => {
        $($head)* { $($done)* }
    };
    (@fields [$($head:tt)*] [$($done:tt)*] $(#[$fm:meta])* $fvis:vis $f:ident : $t:ty, $($rest:tt)*) => {
        $crate::row!(@fields [$($head)*] [$($done)* $(#[$fm])* $fvis $f: $t,] $($rest)*);
    };
}

/// A service's migrations, embedded from its `migrations/{postgres,sqlite}` folders with
/// `diesel_migrations::embed_migrations!`, and the PostgreSQL advisory lock key held while
/// they and the bootstrap run (one instance at a time).
pub struct Migrations {
    /// For PostgreSQL.
    pub postgres: EmbeddedMigrations,
    /// For SQLite.
    pub sqlite: EmbeddedMigrations,
    /// The advisory lock key.
    pub lock_key: i64,
}

impl std::fmt::Debug for Migrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrations")
            .field("lock_key", &self.lock_key)
            .finish_non_exhaustive()
    }
}

/// Which backend a URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Postgres(String),
    Sqlite(String),
}

impl Target {
    fn parse(url: &str) -> Result<Target, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres(url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError("database.url: sqlite:// needs a file path".into()));
            }
            Ok(Target::Sqlite(path.to_string()))
        } else {
            Err(DbError(
                "database.url: must start with sqlite:// or postgres://".into(),
            ))
        }
    }
}

/// A start-up problem with the database, worded for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

/// Opens connections for the pool; SQLite ones get WAL, a busy timeout and foreign keys.
#[derive(Debug)]
pub struct Manager {
    target: Target,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.target {
            Target::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConn::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            Target::Sqlite(path) => {
                let mut c = diesel::SqliteConnection::establish(path)
                    .map_err(r2d2::Error::ConnectionError)?;
                c.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// The connection pool and how to use it from async handlers.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    /// SQLite has one writer at a time: writes take this lock instead of failing on a busy
    /// database. `None` on PostgreSQL.
    write_lock: Option<Arc<Mutex<()>>>,
    /// What the service does around each write transaction (set once at start).
    hooks: Arc<OnceLock<Arc<dyn TxHooks>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("sqlite", &self.write_lock.is_some())
            .finish()
    }
}

impl Db {
    /// Connects (creating the SQLite file and its folder if needed) and checks the server
    /// answers within `timeout`.
    pub fn connect(url: &str, pool_size: u32, timeout: Duration) -> Result<Db, DbError> {
        let target = Target::parse(url)?;
        if let Target::Sqlite(path) = &target {
            if let Some(parent) = Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        DbError(format!(
                            "cannot create the folder {}: {e}",
                            parent.display()
                        ))
                    })?;
                }
            }
        }
        let sqlite = matches!(target, Target::Sqlite(_));
        let manager = Manager {
            target: target.clone(),
        };
        // Check once by hand, so that the operator sees the server's own error message.
        manager.connect().map_err(|e| match &target {
            Target::Postgres(_) => DbError(format!("cannot connect to PostgreSQL: {e}")),
            Target::Sqlite(p) => DbError(format!("cannot open the SQLite database {p}: {e}")),
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(pool_size.min(2)))
            // No `SELECT 1` before every use: a connection that broke (database restarted)
            // fails its next query, is marked broken and replaced.
            .test_on_check_out(false)
            .connection_timeout(timeout)
            .build(manager)
            .map_err(|e| DbError(format!("cannot open the database pool: {e}")))?;
        Ok(Db {
            pool,
            write_lock: sqlite.then(|| Arc::new(Mutex::new(()))),
            hooks: Arc::new(OnceLock::new()),
        })
    }

    /// Whether this is the embedded SQLite backend.
    pub fn is_sqlite(&self) -> bool {
        self.write_lock.is_some()
    }

    /// A connection for synchronous work (start-up, tests).
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>, ApiError> {
        self.pool
            .get()
            .map_err(|e| ApiError::Unavailable(format!("database unavailable: {e}")))
    }

    /// Runs read-only work on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| ApiError::internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` in one transaction on the blocking pool: all of it is written, or nothing.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.clone();
        let request = tx::current_request();
        tokio::task::spawn_blocking(move || tx::with_request(request, || db.write_blocking(f)))
            .await
            .map_err(|e| ApiError::internal(format!("database task failed: {e}")))?
    }

    /// Registers what the service does around every write transaction (the first call
    /// wins; every clone of this pool shares it).
    pub fn set_hooks(&self, hooks: Arc<dyn TxHooks>) {
        let _ = self.hooks.set(hooks);
    }

    /// The synchronous form of [`Db::write`].
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError>,
    {
        let mut conn = self.get()?;
        let _guard = self
            .write_lock
            .as_ref()
            .map(|lock| lock.lock().unwrap_or_else(|p| p.into_inner()));
        let conn: &mut DbConn = &mut conn;
        let Some(hooks) = self.hooks.get() else {
            return conn.transaction(f);
        };
        hooks.begin();
        let out = conn.transaction(|c| {
            let out = f(c)?;
            hooks.before_commit(c)?;
            Ok(out)
        });
        hooks.end(out.is_ok());
        out
    }

    /// Applies pending migrations and runs `then` while holding the instance lock, so that
    /// several instances starting together against one PostgreSQL database take turns.
    pub fn migrate_then<T>(
        &self,
        migrations: Migrations,
        then: impl FnOnce(&Db) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.get()?;
        match &mut *conn {
            DbConn::Postgresql(c) => {
                diesel::sql_query(format!("SELECT pg_advisory_lock({})", migrations.lock_key))
                    .execute(c)?;
                let result = c
                    .run_pending_migrations(migrations.postgres)
                    .map(|_| ())
                    .map_err(|e| ApiError::internal(format!("migration failed: {e}")))
                    .and_then(|()| then(self));
                diesel::sql_query(format!(
                    "SELECT pg_advisory_unlock({})",
                    migrations.lock_key
                ))
                .execute(c)?;
                result
            }
            DbConn::Sqlite(c) => {
                c.run_pending_migrations(migrations.sqlite)
                    .map_err(|e| ApiError::internal(format!("migration failed: {e}")))?;
                drop(conn);
                then(self)
            }
        }
    }
}

/// Maps a unique-constraint violation to `duplicate()` (a client's 4xx), any other database
/// error to an internal one.
pub fn duplicate_as(e: diesel::result::Error, duplicate: impl FnOnce() -> ApiError) -> ApiError {
    if is_unique_violation(&e) {
        duplicate()
    } else {
        e.into()
    }
}

/// Whether a diesel error is a unique-constraint violation (a duplicate).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
