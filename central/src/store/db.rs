//! The two databases central runs on — SQLite (embedded, the default: the demo, one service
//! centre) and PostgreSQL (a territory: several central instances on one database server) —
//! behind the one small interface the store's logic is written against, once.
//!
//! The crates: `rusqlite` (the kiosk's own SQLite) and `postgres`, the blocking face of
//! `tokio-postgres`, pooled by `r2d2`. Blocking on purpose: each store operation is a few
//! statements in one transaction, run on tokio's blocking pool (never on its workers, see
//! `api::blocking`), and so one body of code serves both databases. `sqlx` would have made both
//! async, but it builds its own SQLite (`libsqlite3-sys` of another version, which cargo
//! cannot link beside the one `rusqlite` needs), and an async store would have had to be
//! written twice anyway, since rusqlite has no async face.
//!
//! What is written here by hand, and why: the parameter and row values both drivers share
//! (neither crate knows the other's types); the placeholders (`$1` in the store's SQL, which
//! SQLite reads as `?1`); the migrations of PostgreSQL (a versioned list applied under an
//! advisory lock, so that instances started together migrate once; `rusqlite_migration`
//! serves SQLite and no crate serves both with one lock); and a prepared-statement cache per
//! PostgreSQL connection, which the `postgres` crate leaves to its user.

use std::collections::HashMap;
use std::fmt;
use std::ops::DerefMut as _;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::StoreError;

/// Which database the SQL is for, where the two differ (migrations, a few statements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a statement's parameter. Integers fit whatever integer or boolean column
/// they are bound to (PostgreSQL is strict about `INTEGER` versus `BIGINT`; SQLite is not).
#[derive(Clone, Copy, Debug)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
    /// A list of texts: a PostgreSQL array (`= ANY($1)`); SQLite has none.
    Texts(&'a [String]),
}

/// What can be bound to a parameter: `args![a, b]` makes the list a statement takes.
pub trait Bind: Sync {
    fn param(&self) -> Param<'_>;
}

#[macro_export]
#[doc(hidden)]
macro_rules! args {
    ($($value:expr),* $(,)?) => { &[$(&$value as &dyn $crate::store::db::Bind),*] as &[&dyn $crate::store::db::Bind] };
}
pub use args;

impl Bind for str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl Bind for String {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl Bind for [u8] {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}
impl Bind for Vec<u8> {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}
impl Bind for &[String] {
    fn param(&self) -> Param<'_> {
        Param::Texts(self)
    }
}
impl Bind for bool {
    fn param(&self) -> Param<'_> {
        Param::Int(i64::from(*self))
    }
}
macro_rules! bind_integer {
    ($($t:ty),*) => {$(
        impl Bind for $t {
            fn param(&self) -> Param<'_> {
                Param::Int(i64::from(*self))
            }
        }
    )*};
}
bind_integer!(i64, i32, u32, u16, u8);
impl<T: Bind + ?Sized> Bind for &T {
    fn param(&self) -> Param<'_> {
        (**self).param()
    }
}
impl<T: Bind> Bind for Option<T> {
    fn param(&self) -> Param<'_> {
        self.as_ref().map_or(Param::Null, Bind::param)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(v) => ValueRef::Integer(v),
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
            Param::Blob(b) => ValueRef::Blob(b),
            Param::Texts(_) => return Err(rusqlite::Error::ToSqlConversionFailure("SQLite takes no list of values".into())),
        }))
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => match *ty {
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT8 => v.to_sql(ty, out),
                _ => Err(format!("an integer bound to a parameter of type {ty}").into()),
            },
            Param::Text(s) => s.to_sql(ty, out),
            Param::Blob(b) => b.to_sql(ty, out),
            Param::Texts(list) => list.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A value read from a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// What a value can be read as.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
}
macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Option<Self> {
                i64::from_value(value).and_then(|v| <$t>::try_from(v).ok())
            }
        }
    )*};
}
from_integer!(u64, u32, u16, i32);
impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        i64::from_value(value).map(|v| v != 0)
    }
}
impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Blob(b) => Some(b.clone()),
            // SQLite keeps what was bound: an empty document written as text stays text.
            Value::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of an answer, its values in the order of the statement's columns.
#[derive(Clone, Debug, PartialEq)]
pub struct Row(Vec<Value>);

impl Row {
    /// The value of column `i` as a `T`; a value of another type is corrupt data.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, StoreError> {
        let value = self.0.get(i).ok_or_else(|| StoreError::Corrupt(format!("no column {i}")))?;
        T::from_value(value).ok_or_else(|| StoreError::Corrupt(format!("column {i} holds {value:?}, not a {}", std::any::type_name::<T>())))
    }
}

fn sqlite_row(row: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    (0..columns)
        .map(|i| {
            Ok(match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            })
        })
        .collect::<rusqlite::Result<_>>()
        .map(Row)
}

fn postgres_row(row: &postgres::Row) -> Result<Row, StoreError> {
    let value = |i: usize, ty: &Type| -> Result<Value, postgres::Error> {
        Ok(match *ty {
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, |v| Value::Int(i64::from(v))),
            Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map_or(Value::Null, |v| Value::Int(v.into())),
            Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |v| Value::Int(v.into())),
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
            Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map_or(Value::Null, |v| Value::Real(v.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::Real),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Blob),
            _ => row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
        })
    };
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, column)| value(i, column.type_()))
        .collect::<Result<_, _>>()
        .map(Row)
        .map_err(StoreError::from)
}

/// The store's SQL numbers its parameters `$1`, `$2`…; SQLite reads those as names (numbered
/// in the order they first appear), so they become `?1`, `?2`… Nothing inside a quoted string
/// is touched.
fn for_sqlite(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '$' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// `column` is one of `values`, from parameter `$first` on: `= ANY($first)` with one array on
/// PostgreSQL (one prepared statement for any number of values), `IN ($first, …)` on SQLite.
pub fn one_of<'v>(dialect: Dialect, column: &str, first: usize, values: &'v &'v [String]) -> (String, Vec<&'v dyn Bind>) {
    match dialect {
        Dialect::Postgres => (format!("{column} = ANY(${first})"), vec![values as &dyn Bind]),
        Dialect::Sqlite => {
            (format!("{column} IN ({})", placeholders(first, values.len())), values.iter().map(|v| v as &dyn Bind).collect())
        }
    }
}

/// `$start, $start+1, …` for `n` parameters (an `IN (…)` list, a row of `VALUES`).
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// A PostgreSQL connection with the statements it has prepared: the store runs a few dozen
/// statements, each prepared once per connection.
pub struct PgConnection {
    client: Client,
    statements: HashMap<String, postgres::Statement>,
}

/// A `postgres` client that can be dropped anywhere: closing it runs its own runtime, which
/// tokio refuses on a thread of another runtime (a pool dropped by an async test, say), so from
/// there it is closed on a thread of its own.
struct Client(Option<postgres::Client>);

impl std::ops::Deref for Client {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.0.as_ref().expect("a client is taken only when dropped")
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.0.as_mut().expect("a client is taken only when dropped")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}

impl fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnection").field("statements", &self.statements.len()).finish_non_exhaustive()
    }
}

/// Opens PostgreSQL connections for the pool, each with its time limits set.
#[derive(Debug)]
pub struct PgManager {
    config: postgres::Config,
    statement_timeout: Duration,
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConnection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConnection, postgres::Error> {
        let mut client = self.config.connect(postgres::NoTls)?;
        // A statement that waits longer (on a lock, on a slow disk) ends with an error, not a
        // request that hangs past the server's own time limit.
        let millis = self.statement_timeout.as_millis();
        client.batch_execute(&format!("SET statement_timeout = {millis}; SET lock_timeout = {millis}"))?;

        Ok(PgConnection { client: Client(Some(client)), statements: HashMap::new() })
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        conn.client.is_closed()
    }
}

/// How central reaches PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Connections per central instance. Every instance holds up to this many; the server's
    /// `max_connections` (100 by default) must exceed the sum over instances, plus room for
    /// backups and administration.
    pub pool_size: u32,
    /// How long a request waits for a free connection, or for a new one to open, before
    /// central answers 503.
    pub connect_timeout: Duration,
    /// The longest a single statement (or a wait for a lock) may take.
    pub statement_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self { pool_size: 16, connect_timeout: Duration::from_secs(5), statement_timeout: Duration::from_secs(10) }
    }
}

/// One of the two databases.
pub enum Database {
    /// One connection, one writer at a time: SQLite serialises writers anyway, and every
    /// transaction here is short.
    Sqlite(Mutex<rusqlite::Connection>),
    Postgres(r2d2::Pool<PgManager>),
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(_) => f.write_str("Database::Sqlite"),
            Self::Postgres(pool) => write!(f, "Database::Postgres({:?})", pool.state()),
        }
    }
}

/// Why a PostgreSQL address cannot be used, said in one line before central listens.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the database address is not a PostgreSQL URL: {0}")]
    Malformed(String),
    #[error("PostgreSQL at {at} refused the login of {user:?}: {reason}")]
    Refused { at: String, user: String, reason: String },
    #[error("cannot reach PostgreSQL at {at}: {reason}")]
    Unreachable { at: String, reason: String },
}

impl Database {
    pub fn sqlite(conn: rusqlite::Connection) -> Self {
        Self::Sqlite(Mutex::new(conn))
    }

    /// Connects to PostgreSQL at `url` (`postgres://user:password@host:port/database`, or
    /// `host=/run/postgresql` for a Unix socket), trying one connection at once so that a wrong
    /// address, password or database is said before central starts.
    pub fn postgres(url: &str, options: &PgOptions) -> Result<Self, ConnectError> {
        let mut config = postgres::Config::from_str(url).map_err(|e| ConnectError::Malformed(e.to_string()))?;
        config.connect_timeout(options.connect_timeout);
        config.keepalives(true).keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("kiosk-central");
        }
        let at = describe(&config);
        let user = config.get_user().unwrap_or("(the system user)").to_string();
        let manager = PgManager { config, statement_timeout: options.statement_timeout };
        use r2d2::ManageConnection as _;
        let first = off_runtime(|| manager.connect()).map_err(|e| match e.as_db_error() {
            Some(db) => ConnectError::Refused { at: at.clone(), user: user.clone(), reason: db.message().to_string() },
            None => ConnectError::Unreachable { at: at.clone(), reason: source_text(&e) },
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            // A connection is checked by using it: a broken one fails its first statement and the
            // transaction runs again on a fresh connection (see `run`), which costs nothing when
            // the server is up, unlike a test query before every transaction.
            .test_on_check_out(false)
            .build_unchecked(manager);
        // The first connection only proved the address, the login and the database.
        drop(first);
        Ok(Self::Postgres(pool))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection itself, for what only SQLite has (its pragmas, its own
    /// migrations).
    pub fn sqlite_connection(&self) -> Option<MutexGuard<'_, rusqlite::Connection>> {
        match self {
            Self::Sqlite(conn) => Some(lock(conn)),
            Self::Postgres(_) => None,
        }
    }

    /// Runs `work` in a transaction that may write, and commits it. On PostgreSQL, a transaction
    /// that lost a serialisation race or a deadlock, or whose connection turned out broken, is
    /// run again (its effects were rolled back).
    pub fn write<T: Send, E: From<StoreError> + Send>(&self, work: impl FnMut(&mut Tx<'_>) -> Result<T, E> + Send) -> Result<T, E> {
        self.run(true, work)
    }

    /// As [`write`](Self::write), for records whose loss at a power cut is harmless (a
    /// heartbeat: the next one comes within a minute): the commit is not waited on to reach the
    /// disk (SQLite's `synchronous=NORMAL` in WAL mode for this transaction, PostgreSQL's
    /// `synchronous_commit = off`). The database stays consistent either way, and a durable
    /// commit after it takes it to the disk too.
    pub fn write_volatile<T: Send, E: From<StoreError> + Send>(
        &self,
        mut work: impl FnMut(&mut Tx<'_>) -> Result<T, E> + Send,
    ) -> Result<T, E> {
        match self {
            Self::Sqlite(conn) => {
                let mut conn = lock(conn);
                conn.pragma_update(None, "synchronous", "NORMAL").map_err(StoreError::from)?;
                let done = (|| {
                    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(StoreError::from)?;
                    let mut tx = Tx::Sqlite(tx);
                    let done = work(&mut tx)?;
                    let Tx::Sqlite(tx) = tx else { unreachable!("a SQLite transaction stays one") };
                    tx.commit().map_err(StoreError::from)?;
                    Ok(done)
                })();
                // Back to full durability for everything else, whatever came of the work.
                conn.pragma_update(None, "synchronous", "FULL").map_err(StoreError::from)?;
                done
            }
            Self::Postgres(_) => self.run(true, move |tx| {
                if let Tx::Postgres { tx: inner, retry, .. } = tx {
                    // (A simple query: one round trip, where a prepared one takes two.)
                    inner.batch_execute("SET LOCAL synchronous_commit = off").map_err(|e| noted(retry, e))?;
                }
                work(tx)
            }),
        }
    }

    /// Runs `work` in a transaction that only reads: it sees one consistent state.
    pub fn read<T: Send, E: From<StoreError> + Send>(&self, work: impl FnMut(&mut Tx<'_>) -> Result<T, E> + Send) -> Result<T, E> {
        self.run(false, work)
    }

    fn run<T: Send, E: From<StoreError> + Send>(
        &self,
        writes: bool,
        mut work: impl FnMut(&mut Tx<'_>) -> Result<T, E> + Send,
    ) -> Result<T, E> {
        match self {
            Self::Sqlite(conn) => {
                let mut conn = lock(conn);
                let behavior = if writes { rusqlite::TransactionBehavior::Immediate } else { rusqlite::TransactionBehavior::Deferred };
                let tx = conn.transaction_with_behavior(behavior).map_err(StoreError::from)?;
                let mut tx = Tx::Sqlite(tx);
                let done = work(&mut tx)?;
                let Tx::Sqlite(tx) = tx else { unreachable!("a SQLite transaction stays one") };
                tx.commit().map_err(StoreError::from)?;
                Ok(done)
            }
            Self::Postgres(pool) => {
                const ATTEMPTS: u32 = 3;
                let attempts = move || {
                    let mut attempt = 1;
                    loop {
                        let failed = match Self::attempt(pool, writes, &mut work) {
                            Ok(done) => return Ok(done),
                            Err(Attempt::Work(e)) => return Err(e),
                            Err(Attempt::Store(e)) => e,
                        };
                        if attempt == ATTEMPTS || failed.retryable().is_none() {
                            return Err(failed.into());
                        }
                        attempt += 1;
                    }
                };
                off_runtime(attempts)
            }
        }
    }

    fn attempt<T, E>(
        pool: &r2d2::Pool<PgManager>,
        writes: bool,
        work: &mut impl FnMut(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, Attempt<E>> {
        let mut conn = pool.get().map_err(|e| Attempt::Store(StoreError::Unavailable(format!("no database connection: {e}"))))?;
        let PgConnection { client, statements } = &mut *conn;
        let tx = client.deref_mut().build_transaction().read_only(!writes).start().map_err(|e| Attempt::Store(e.into()))?;
        let mut tx = Tx::Postgres { tx, statements, retry: None };
        let done = match work(&mut tx) {
            Ok(done) => done,
            // A failure of the store that another attempt may not meet decides; the work's own
            // errors (a refusal, say) are final.
            Err(e) => {
                return Err(match tx {
                    Tx::Postgres { retry: Some(failed), .. } => Attempt::Store(failed),
                    _ => Attempt::Work(e),
                });
            }
        };
        let Tx::Postgres { tx, .. } = tx else { unreachable!("a PostgreSQL transaction stays one") };
        tx.commit().map_err(|e| Attempt::Store(e.into()))?;
        Ok(done)
    }

    /// Whether the database answers now (for `/ready`).
    pub fn reachable(&self) -> Result<(), StoreError> {
        self.read(|tx| tx.query("SELECT 1", args![]).map(drop))
    }
}

/// Runs `work` where the `postgres` client can: it drives its connection with a runtime of its
/// own, which tokio refuses to start on a thread of another runtime, so from such a thread (a
/// test's, or a blocking task's) `work` runs on a short-lived thread of its own.
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(done) => done,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

enum Attempt<E> {
    Work(E),
    Store(StoreError),
}

fn lock(conn: &Mutex<rusqlite::Connection>) -> MutexGuard<'_, rusqlite::Connection> {
    // A panic mid-transaction rolls the transaction back when it is dropped, so the connection
    // is consistent even if the lock was poisoned.
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a configuration points, without its password.
fn describe(config: &postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().unwrap_or("(the user's database)");
    format!("{}:{port}/{database}", if hosts.is_empty() { "localhost".into() } else { hosts.join(",") })
}

/// The innermost cause of an error, the one that says what happened ("Connection refused").
fn source_text(e: &dyn std::error::Error) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let text = inner.to_string();
    if std::ptr::eq(inner as *const _ as *const u8, e as *const _ as *const u8) { text } else { format!("{e}: {text}") }
}

/// A transaction on either database.
pub enum Tx<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    Postgres {
        tx: postgres::Transaction<'c>,
        statements: &'c mut HashMap<String, postgres::Statement>,
        /// The first failure another attempt might not meet (a lost connection, a lost race).
        retry: Option<StoreError>,
    },
}

impl fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tx({:?})", self.dialect())
    }
}

impl Tx<'_> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&mut self, sql: &str, args: &[&dyn Bind]) -> Result<u64, StoreError> {
        let params: Vec<Param<'_>> = args.iter().map(|a| a.param()).collect();
        match self {
            Self::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(&for_sqlite(sql))?;
                Ok(statement.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Self::Postgres { tx, statements, retry } => {
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                let done = match planned_once(sql) {
                    true => prepared(tx, statements, sql).and_then(|statement| tx.execute(&statement, &refs)),
                    false => tx.execute(sql, &refs),
                };
                done.map_err(|e| noted(retry, e))
            }
        }
    }

    /// Every row a query answers.
    pub fn query(&mut self, sql: &str, args: &[&dyn Bind]) -> Result<Vec<Row>, StoreError> {
        let params: Vec<Param<'_>> = args.iter().map(|a| a.param()).collect();
        match self {
            Self::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(&for_sqlite(sql))?;
                let columns = statement.column_count();
                let rows = statement.query_map(rusqlite::params_from_iter(params.iter()), |r| sqlite_row(r, columns))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Self::Postgres { tx, statements, retry } => {
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                let rows = match planned_once(sql) {
                    true => prepared(tx, statements, sql).and_then(|statement| tx.query(&statement, &refs)),
                    false => tx.query(sql, &refs),
                };
                rows.map_err(|e| noted(retry, e))?.iter().map(postgres_row).collect()
            }
        }
    }

    /// The first row a query answers, if any.
    pub fn query_opt(&mut self, sql: &str, args: &[&dyn Bind]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// The first row a query answers; none is corrupt data (for aggregates, which always
    /// answer one).
    pub fn query_one(&mut self, sql: &str, args: &[&dyn Bind]) -> Result<Row, StoreError> {
        self.query_opt(sql, args)?.ok_or_else(|| StoreError::Corrupt(format!("no row from {sql}")))
    }

    /// Holds `name` until the transaction ends, against every other transaction that asks for
    /// it, in this process or another: how central instances sharing one PostgreSQL take turns
    /// at what must happen one at a time (a ticket number, a certificate's first pickup, the
    /// feed's order). A SQLite write transaction already excludes every other writer.
    pub fn lock(&mut self, name: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(_) => Ok(()),
            Self::Postgres { .. } => {
                // (`execute`: the function answers `void`, which no row value reads.)
                self.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", args![name])?;
                Ok(())
            }
        }
    }

    /// Like [`lock`](Self::lock), but gives up at once: `false` if another transaction holds
    /// `name` (a job another instance is already doing).
    pub fn try_lock(&mut self, name: &str) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite(_) => Ok(true),
            Self::Postgres { .. } => self.query_one("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", args![name])?.get(0),
        }
    }
}

/// The store's error for a PostgreSQL one, remembered in `retry` if another attempt of the
/// transaction might succeed.
fn noted(retry: &mut Option<StoreError>, e: postgres::Error) -> StoreError {
    let e = StoreError::from(e);
    if retry.is_none() {
        *retry = e.retryable();
    }
    e
}

/// Whether a statement is prepared once and kept on its connection, or prepared for each use.
/// Only inserts are kept: their plan is the same whatever the tables hold, and they are what a
/// batch spends its time on (planning a 100-row insert for each use cost it 2.5 ms more). Any
/// statement that finds rows is prepared for its use, so that it is planned for its values: a
/// kept one gets a generic plan after five executions, made while the tables may still have
/// been small — a sequential scan — and keeps it as they grow (measured: a batch's lookup of
/// its keys went from 0.2 ms to 4–19 ms over 10,000 applications).
fn planned_once(sql: &str) -> bool {
    sql.trim_start().get(..6).is_some_and(|verb| verb.eq_ignore_ascii_case("INSERT"))
}

fn prepared(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut HashMap<String, postgres::Statement>,
    sql: &str,
) -> Result<postgres::Statement, postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = tx.prepare(sql)?;
    statements.insert(sql.to_string(), statement.clone());
    Ok(statement)
}

/// The versioned schema of PostgreSQL: `migrations[n]` takes version `n` to `n + 1`.
/// Instances started together migrate once: each takes an advisory lock first. A database
/// whose version is newer than this binary's list is refused (an older central must not write
/// to a schema it does not know).
pub fn migrate_postgres(db: &Database, migrations: &[&str]) -> Result<(), StoreError> {
    let Database::Postgres(pool) = db else { return Ok(()) };
    off_runtime(|| migrate(pool, migrations))
}

fn migrate(pool: &r2d2::Pool<PgManager>, migrations: &[&str]) -> Result<(), StoreError> {
    let mut conn = pool.get().map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))?;
    let mut tx = conn.client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('balcao-central-schema', 0))", &[])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let version: Option<i32> = tx.query_opt("SELECT version FROM schema_version", &[])?.map(|r| r.get(0));
    let known = migrations.len();
    let version = usize::try_from(version.unwrap_or(0)).map_err(|_| StoreError::Corrupt("negative schema version".into()))?;
    if version > known {
        return Err(StoreError::SchemaTooNew { found: version, known });
    }
    for migration in &migrations[version..] {
        tx.batch_execute(migration)?;
    }
    let known = i32::try_from(known).map_err(|_| StoreError::Corrupt("too many migrations".into()))?;
    tx.execute("DELETE FROM schema_version", &[])?;
    tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&known])?;
    tx.commit()?;
    Ok(())
}

/// Whether an error of PostgreSQL means the database cannot be reached or is not serving right
/// now (central answers 503, the kiosk repeats later), rather than a fault of the request.
pub fn postgres_unavailable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // Connection exceptions, too many connections, insufficient resources, the server
        // shutting down or starting, a statement or lock that timed out.
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("53") || code.starts_with("57") || code == "55P03"
        }
        // No answer from the server at all: I/O, a timeout while connecting.
        None => e.as_db_error().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_sqlite_ones_outside_strings() {
        assert_eq!(for_sqlite("SELECT $1, '$2', $10 WHERE a = $2"), "SELECT ?1, '$2', ?10 WHERE a = ?2");
        assert_eq!(for_sqlite("SELECT '$'"), "SELECT '$'");
    }

    #[test]
    fn values_read_as_what_they_are_and_nothing_else() {
        let row = Row(vec![Value::Int(3), Value::Null, Value::Text("x".into()), Value::Int(-1)]);
        assert_eq!(row.get::<u32>(0).expect("3"), 3);
        assert!(row.get::<bool>(0).expect("true"));
        assert_eq!(row.get::<Option<String>>(1).expect("null"), None);
        assert_eq!(row.get::<String>(2).expect("text"), "x");
        assert!(row.get::<String>(0).is_err(), "an integer is not text");
        assert!(row.get::<u32>(3).is_err(), "-1 is no u32");
        assert!(row.get::<i64>(4).is_err(), "no fifth column");
    }

    #[test]
    fn a_unix_socket_is_written_as_an_encoded_host() {
        // What the README shows for a database on the same host.
        let config = postgres::Config::from_str("postgres://central@%2Frun%2Fpostgresql/balcao").expect("parses");
        assert_eq!(describe(&config), "/run/postgresql:5432/balcao");
        assert!(matches!(config.get_hosts(), [postgres::config::Host::Unix(path)] if path == std::path::Path::new("/run/postgresql")));
    }

    #[test]
    fn a_malformed_address_is_said_before_anything_is_tried() {
        let e = Database::postgres("postgres://a:b@host:notaport/db", &PgOptions::default()).expect_err("malformed");
        assert!(matches!(e, ConnectError::Malformed(_)), "{e}");
    }
}
