//! Raw SQL with bound values for both backends (`?` on SQLite, `$n` on PostgreSQL): the
//! Query API's translated filters and the access layer's predicates are written with it.

use diesel::sql_types::{BigInt, Bool, Double, Text};

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// Integer.
    I(i64),
    /// Float.
    F(f64),
    /// Text.
    S(String),
    /// Boolean.
    B(bool),
}

/// An SQL fragment with its bound values.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    /// The text, with placeholders.
    pub text: String,
    /// The values, in placeholder order.
    pub binds: Vec<Bind>,
    /// Whether it is for PostgreSQL (`$n` placeholders), else SQLite (`?`).
    pub pg: bool,
}

impl Sql {
    /// An empty fragment for one backend.
    pub fn new(pg: bool) -> Sql {
        Sql {
            text: String::new(),
            binds: Vec::new(),
            pg,
        }
    }

    /// Appends text.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder for `b`.
    pub fn bind(&mut self, b: Bind) -> &mut Self {
        self.binds.push(b);
        if self.pg {
            let n = self.binds.len();
            self.text.push_str(&format!("${n}"));
        } else {
            self.text.push('?');
        }
        self
    }

    /// Runs it as a query answering rows of `T`.
    pub fn load<T>(&self, c: &mut crate::db::DbConn) -> diesel::QueryResult<Vec<T>>
    where
        T: diesel::deserialize::QueryableByName<crate::db::MultiBackend> + 'static,
    {
        use diesel::RunQueryDsl;
        tracing::debug!(sql = %self.text, binds = ?self.binds, "query");
        let mut q = diesel::sql_query(self.text.clone()).into_boxed::<crate::db::MultiBackend>();
        for b in &self.binds {
            q = match b {
                Bind::I(v) => q.bind::<BigInt, _>(*v),
                Bind::F(v) => q.bind::<Double, _>(*v),
                Bind::S(v) => q.bind::<Text, _>(v.clone()),
                Bind::B(v) => q.bind::<Bool, _>(*v),
            };
        }
        q.load(c)
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A boolean SQL condition with its bound values, written once and used both in raw
/// [`Sql`] and as a diesel filter (`.filter(cond)`) on any table it names.
#[derive(Debug, Clone, Default)]
pub struct Cond {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Sql(String),
    Int(i64),
    Text(String),
}

impl Cond {
    /// Appends SQL text.
    pub fn sql(mut self, s: &str) -> Cond {
        match self.parts.last_mut() {
            Some(Part::Sql(t)) => t.push_str(s),
            _ => self.parts.push(Part::Sql(s.to_string())),
        }
        self
    }

    /// Appends a bound integer.
    pub fn int(mut self, v: i64) -> Cond {
        self.parts.push(Part::Int(v));
        self
    }

    /// Appends a bound text.
    pub fn text(mut self, v: &str) -> Cond {
        self.parts.push(Part::Text(v.to_string()));
        self
    }

    /// Appends another condition, in parentheses (so that its `OR`s stay its own).
    pub fn cond(mut self, other: Cond) -> Cond {
        self = self.sql("(");
        for p in other.parts {
            self = match p {
                Part::Sql(s) => self.sql(&s),
                p => {
                    self.parts.push(p);
                    self
                }
            };
        }
        self.sql(")")
    }

    /// Writes it into a raw query.
    pub fn write(&self, out: &mut Sql) {
        out.push("(");
        for p in &self.parts {
            match p {
                Part::Sql(s) => {
                    out.push(s);
                }
                Part::Int(v) => {
                    out.bind(Bind::I(*v));
                }
                Part::Text(v) => {
                    out.bind(Bind::S(v.clone()));
                }
            }
        }
        out.push(")");
    }
}

impl diesel::Expression for Cond {
    type SqlType = Bool;
}

impl<QS> diesel::AppearsOnTable<QS> for Cond {}

impl<QS> diesel::SelectableExpression<QS> for Cond {}

impl diesel::expression::ValidGrouping<()> for Cond {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryId for Cond {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for Cond
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<BigInt>,
    DB: diesel::sql_types::HasSqlType<Text>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    String: diesel::serialize::ToSql<Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("(");
        for p in &self.parts {
            match p {
                Part::Sql(s) => out.push_sql(s),
                Part::Int(v) => out.push_bind_param::<BigInt, i64>(v)?,
                Part::Text(v) => out.push_bind_param::<Text, String>(v)?,
            }
        }
        out.push_sql(")");
        Ok(())
    }
}

/// One `id` column of a raw query.
#[derive(Debug, diesel::QueryableByName)]
pub struct IdRow {
    /// The id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_conditions_keep_their_ors_to_themselves() {
        let inner = Cond::default().sql("a = ").int(1).sql(" OR b = ").int(2);
        let outer = Cond::default().sql("c = ").int(3).sql(" AND ").cond(inner);
        let mut q = Sql::new(false);
        outer.write(&mut q);
        assert_eq!(q.text, "(c = ? AND (a = ? OR b = ?))");
        assert_eq!(q.binds, vec![Bind::I(3), Bind::I(1), Bind::I(2)]);
        let mut pg = Sql::new(true);
        outer.write(&mut pg);
        assert_eq!(pg.text, "(c = $1 AND (a = $2 OR b = $3))");
    }
}
