//! postgres_changes as Supabase's server produces them: a logical replication slot with the
//! wal2json plugin, polled for the tables of the `supabase_realtime` publication (and
//! `realtime.messages`, whose new rows are broadcasts sent from SQL). Which subscriber sees a
//! change is decided in the database, as the subscriber, by `realtime.stand_in_visible_change`.

use std::time::Duration;

use serde_json::{json, Value};
use sha2::Digest;
use tokio_postgres::{Client, NoTls};

use super::Realtime;

/// How long the poller waits after an empty poll; hosted Realtime polls every 100 ms.
const IDLE_POLL: Duration = Duration::from_millis(25);
/// The most changes one poll decodes.
const MAX_CHANGES: i32 = 1000;

/// One `postgres_changes` listener of a joined channel, as the client asked for it.
#[derive(Debug, PartialEq)]
pub struct Binding {
    /// What the join reply names it by, and change payloads' `ids` carry.
    pub id: u32,
    pub event: String,
    pub schema: String,
    /// None or `*`: every table of the schema.
    pub table: Option<String>,
    pub filter: Option<Filter>,
    /// The parameters as sent, echoed in the join reply.
    pub params: Value,
}

#[derive(Debug, PartialEq)]
pub struct Filter {
    pub column: String,
    pub op: String,
    /// For `in`, a Postgres array literal of the listed values.
    pub value: String,
}

const OPERATORS: [&str; 7] = ["eq", "neq", "lt", "lte", "gt", "gte", "in"];

impl Binding {
    /// A listener from the join's `config.postgres_changes` entry, or why it is refused.
    pub fn from_params(params: &Value) -> Result<Binding, String> {
        let text = |name: &str| params[name].as_str().map(str::to_owned);
        let event = text("event").unwrap_or_else(|| "*".into()).to_uppercase();
        if !["*", "INSERT", "UPDATE", "DELETE"].contains(&event.as_str()) {
            return Err(format!("Invalid event: {event}"));
        }
        let filter = match text("filter").filter(|f| !f.is_empty()) {
            Some(filter) => Some(Filter::parse(&filter)?),
            None => None,
        };
        Ok(Binding {
            id: binding_id(params),
            event,
            schema: text("schema").unwrap_or_else(|| "public".into()),
            table: text("table").filter(|t| t != "*"),
            filter,
            params: params.clone(),
        })
    }

    /// Whether a change of `schema.table` of kind `action` (INSERT, UPDATE, DELETE) is one this
    /// listener asked for (before filters and RLS).
    pub fn wants(&self, schema: &str, table: &str, action: &str) -> bool {
        (self.schema == "*" || self.schema == schema)
            && self.table.as_deref().is_none_or(|t| t == table)
            && (self.event == "*" || self.event == action)
    }
}

/// A stable id for the same parameters, as hosted Realtime hashes them (below 2^27); never 0,
/// which supabase-py takes for "no id".
pub fn binding_id(params: &Value) -> u32 {
    let digest = sha2::Sha256::digest(params.to_string().as_bytes());
    (u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) >> 5).max(1)
}

impl Filter {
    /// `column=op.value`, as the clients send it (`in.(a,b)` for a list).
    fn parse(text: &str) -> Result<Filter, String> {
        let invalid = || format!("Invalid filter: {text}");
        let (column, rest) = text.split_once('=').ok_or_else(invalid)?;
        let (op, value) = rest.split_once('.').ok_or_else(invalid)?;
        if column.is_empty() || !OPERATORS.contains(&op) {
            return Err(invalid());
        }
        let value = if op == "in" {
            let list = value
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(invalid)?;
            format!("{{{list}}}")
        } else {
            value.to_owned()
        };
        Ok(Filter {
            column: column.to_owned(),
            op: op.to_owned(),
            value,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({ "column": self.column, "op": self.op, "value": self.value })
    }
}

/// Follows the database's changes for as long as the stand-in runs, reconnecting after errors.
pub async fn follow(realtime: std::sync::Arc<Realtime>, database_url: String) {
    loop {
        if let Err(error) = poll_changes(&realtime, &database_url).await {
            eprintln!("realtime: following database changes failed, retrying: {error:#}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The slot is temporary: it lives as long as this connection, so a stopped stack leaves no WAL
/// retained behind it.
async fn poll_changes(realtime: &Realtime, database_url: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(database_url, NoTls).await?;
    tokio::spawn(connection);
    // Debian's Postgres 15.20 lets only listed plugins decode; Supabase's allows wal2json.
    client
        .batch_execute(
            "set output_plugin_libraries = pgoutput, test_decoding, wal2json;
             select pg_create_logical_replication_slot('supabase_realtime_stand_in', 'wal2json', true)",
        )
        .await?;
    loop {
        // With nobody joined there is nobody to tell: skip the decoding to JSON.
        if !realtime.has_channels() {
            client
                .execute(
                    "select pg_replication_slot_advance('supabase_realtime_stand_in', pg_current_wal_insert_lsn())",
                    &[],
                )
                .await?;
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let changes = next_changes(&client).await?;
        if changes.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
        }
        for change in changes {
            realtime.dispatch_change(change).await;
        }
    }
}

async fn next_changes(client: &Client) -> anyhow::Result<Vec<Value>> {
    let rows = client
        .query(
            "select data from pg_logical_slot_get_changes('supabase_realtime_stand_in', null, $1,
                'include-pk', '1', 'include-transaction', 'false', 'include-timestamp', 'true',
                'include-type-oids', 'true', 'format-version', '2', 'actions', 'insert,update,delete',
                'add-tables', concat_ws(',',
                    (select string_agg(format('%s.%s', schemaname, tablename), ',')
                     from pg_publication_tables where pubname = 'supabase_realtime'),
                    'realtime.messages'))",
            &[&MAX_CHANGES],
        )
        .await?;
    rows.iter()
        .map(|row| Ok(serde_json::from_str(row.get::<_, &str>(0))?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_read_as_the_clients_write_them() {
        let binding = Binding::from_params(&json!({
            "event": "INSERT", "schema": "public", "table": "chat_messages",
            "filter": "channel_id=eq.5b8f"
        }))
        .unwrap();
        assert_eq!(
            binding.filter,
            Some(Filter {
                column: "channel_id".into(),
                op: "eq".into(),
                value: "5b8f".into()
            })
        );
        let listed = Filter::parse("state=in.(queued,running)").unwrap();
        assert_eq!(listed.value, "{queued,running}");
        for invalid in ["state", "state=like.x", "=eq.1", "state=in.queued"] {
            assert!(Filter::parse(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn a_binding_wants_its_table_and_event_only() {
        let inserts = Binding::from_params(
            &json!({ "event": "INSERT", "schema": "public", "table": "chat_messages" }),
        )
        .unwrap();
        assert!(inserts.wants("public", "chat_messages", "INSERT"));
        assert!(!inserts.wants("public", "chat_messages", "DELETE"));
        assert!(!inserts.wants("public", "content_jobs", "INSERT"));
        let everything =
            Binding::from_params(&json!({ "event": "*", "schema": "public" })).unwrap();
        assert!(everything.wants("public", "content_jobs", "UPDATE"));
        assert!(!everything.wants("auth", "users", "UPDATE"));
        assert!(Binding::from_params(&json!({ "event": "TRUNCATE" })).is_err());
    }

    #[test]
    fn the_same_parameters_get_the_same_id() {
        let params = json!({ "event": "*", "schema": "public", "table": "content_jobs" });
        let first = Binding::from_params(&params).unwrap();
        assert_eq!(first.id, Binding::from_params(&params).unwrap().id);
        assert!(first.id < 1 << 27);
        let other = Binding::from_params(&json!({ "event": "*", "schema": "public" })).unwrap();
        assert_ne!(first.id, other.id);
    }
}
