//! `GET /rest/v1/`: PostgREST's OpenAPI (Swagger 2.0) description of the exposed schema, built from
//! the catalog as PostgREST builds it: a path per table and view and per function under `/rpc/`,
//! a definition per table and view with its columns' types, and PostgREST's shared parameters.
//! As on hosted Supabase, only a secret (service role) key may read it, which sees every object.

use std::collections::BTreeMap;

use deadpool_postgres::Pool;
use serde_json::{json, Map, Value};
use tokio_postgres::Row;

/// Columns of every table and view of `public` the service role can read, in table order.
const COLUMNS: &str = "\
select c.relname as table_name, obj_description(c.oid, 'pg_class') as table_comment,
       pg_relation_is_updatable(c.oid::regclass, true) as writable_events, a.attname as name,
       format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
       pg_get_expr(d.adbin, d.adrelid) as default_value, col_description(c.oid, a.attnum) as comment,
       (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e
         where e.enumtypid = a.atttypid) as enum_values,
       exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'p'
                 and a.attnum = any (k.conkey)) as primary_key,
       (select format('%s.%s', fc.relname, fa.attname) from pg_constraint k
          join pg_class fc on fc.oid = k.confrelid
          join pg_attribute fa on fa.attrelid = k.confrelid and fa.attnum = k.confkey[1]
         where k.conrelid = c.oid and k.contype = 'f' and k.conkey = array[a.attnum]
         limit 1) as foreign_key
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
 where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
   and has_table_privilege('service_role', c.oid, 'select')
 order by c.relname, a.attnum";

/// Input arguments of every function of `public` the service role can call.
const FUNCTION_ARGUMENTS: &str = "\
select p.proname as function_name, obj_description(p.oid, 'pg_proc') as comment,
       p.provolatile = 'v' as volatile, (p.pronargs - p.pronargdefaults)::int as required_count,
       coalesce(array_agg(arg.name order by arg.ord)
                  filter (where arg.name is not null and coalesce(arg.mode, 'i') in ('i', 'b', 'v')),
                '{}') as arg_names,
       coalesce(array_agg(format_type(arg.type, null) order by arg.ord)
                  filter (where arg.name is not null and coalesce(arg.mode, 'i') in ('i', 'b', 'v')),
                '{}') as arg_types
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  left join lateral unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]), p.proargnames,
                           p.proargmodes::text[]) with ordinality as arg(type, name, mode, ord) on true
 where n.nspname = 'public' and p.prokind = 'f'
   and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype)
   and has_function_privilege('service_role', p.oid, 'execute')
 group by p.oid
 order by p.proname";

pub async fn document(pool: &Pool, host: &str) -> anyhow::Result<Value> {
    let db = pool.get().await?;
    let columns = db.query(COLUMNS, &[]).await?;
    let functions = db.query(FUNCTION_ARGUMENTS, &[]).await?;

    let mut paths = Map::new();
    paths.insert("/".into(), introspection_path());
    let mut definitions = Map::new();
    let mut parameters = shared_parameters();
    for (table, rows) in by_table(&columns) {
        let first = rows[0];
        let comment: Option<String> = first.get("table_comment");
        definitions.insert(table.to_owned(), definition(&rows, comment.as_deref()));
        for row in &rows {
            let column: &str = row.get("name");
            parameters.insert(
                format!("rowFilter.{table}.{column}"),
                json!({ "name": column, "description": row.get::<_, Option<String>>("comment"),
                        "required": false, "format": row.get::<_, &str>("type"),
                        "in": "query", "type": "string" }),
            );
        }
        parameters.insert(
            format!("body.{table}"),
            json!({ "name": table, "description": table, "required": false, "in": "body",
                    "schema": { "$ref": format!("#/definitions/{table}") } }),
        );
        let filters: Vec<&str> = rows.iter().map(|row| row.get("name")).collect();
        paths.insert(
            format!("/{table}"),
            table_path(table, &filters, first.get("writable_events"), comment),
        );
    }
    for function in &functions {
        let name: &str = function.get("function_name");
        paths.insert(format!("/rpc/{name}"), function_path(function));
    }

    Ok(json!({
        "swagger": "2.0",
        "info": { "description": "", "title": "standard public schema", "version": "12.2.3" },
        "host": host,
        "basePath": "/rest/v1",
        "schemes": ["http"],
        "consumes": MEDIA_TYPES,
        "produces": MEDIA_TYPES,
        "paths": paths,
        "definitions": definitions,
        "parameters": parameters,
        "externalDocs": {
            "description": "PostgREST Documentation",
            "url": "https://postgrest.org/en/v12/references/api.html"
        }
    }))
}

const MEDIA_TYPES: [&str; 4] = [
    "application/json",
    "application/vnd.pgrst.object+json;nulls=stripped",
    "application/vnd.pgrst.object+json",
    "text/csv",
];

fn by_table(columns: &[Row]) -> BTreeMap<&str, Vec<&Row>> {
    let mut tables: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in columns {
        tables.entry(row.get("table_name")).or_default().push(row);
    }
    tables
}

fn definition(columns: &[&Row], comment: Option<&str>) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for row in columns {
        let name: &str = row.get("name");
        let default: Option<String> = row.get("default_value");
        if row.get::<_, bool>("not_null") && default.is_none() {
            required.push(name);
        }
        properties.insert(name.to_owned(), property(row, default));
    }
    let mut definition =
        json!({ "properties": properties, "required": required, "type": "object" });
    if let Some(comment) = comment {
        definition["description"] = json!(comment);
    }
    definition
}

/// A column as PostgREST describes it: its Swagger type, its Postgres type as `format`, and its
/// keys spelled out in the description the way PostgREST marks them.
fn property(row: &Row, default: Option<String>) -> Value {
    let format: &str = row.get("type");
    let mut property = match format.strip_suffix("[]") {
        Some(element) => json!({ "type": "array", "items": swagger_type(element) }),
        None => swagger_type(format),
    };
    property["format"] = json!(format);
    if let Some(values) = row.get::<_, Option<Vec<String>>>("enum_values") {
        property["enum"] = json!(values);
    }
    if let Some(default) = default {
        property["default"] = json!(default);
    }
    let mut notes: Vec<String> = row
        .get::<_, Option<String>>("comment")
        .into_iter()
        .collect();
    if row.get("primary_key") {
        notes.push("Note:\nThis is a Primary Key.<pk/>".into());
    }
    if let Some(target) = row.get::<_, Option<String>>("foreign_key") {
        let (table, column) = target.split_once('.').unwrap_or_default();
        notes.push(format!(
            "Note:\nThis is a Foreign Key to `{target}`.<fk table='{table}' column='{column}'/>"
        ));
    }
    if !notes.is_empty() {
        property["description"] = json!(notes.join("\n\n"));
    }
    property
}

/// PostgREST's mapping: JSON columns have no Swagger type; anything unnamed is a string.
fn swagger_type(postgres: &str) -> Value {
    let base = postgres.split('(').next().unwrap_or_default();
    match base {
        "json" | "jsonb" => json!({}),
        "boolean" => json!({ "type": "boolean" }),
        "smallint" | "integer" | "bigint" => json!({ "type": "integer" }),
        "numeric" | "real" | "double precision" => json!({ "type": "number" }),
        _ => json!({ "type": "string" }),
    }
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/parameters/{name}") })
}

/// `writable_events` is `pg_relation_is_updatable`'s bit set: which of insert (8), update (4)
/// and delete (16) the table or view takes, so a read-only view has only `get`.
fn table_path(
    table: &str,
    columns: &[&str],
    writable_events: i32,
    comment: Option<String>,
) -> Value {
    let filters: Vec<Value> = columns
        .iter()
        .map(|column| reference(&format!("rowFilter.{table}.{column}")))
        .collect();
    let with = |extra: &[&str]| -> Vec<Value> {
        filters
            .iter()
            .cloned()
            .chain(extra.iter().map(|name| reference(name)))
            .collect()
    };
    let body = format!("body.{table}");
    let tags = json!([table]);
    let mut path = json!({
        "get": {
            "parameters": with(&["select", "order", "range", "rangeUnit", "offset", "limit", "preferCount"]),
            "responses": {
                "200": { "description": "OK", "schema": { "items": { "$ref": format!("#/definitions/{table}") }, "type": "array" } },
                "206": { "description": "Partial Content" }
            },
            "tags": tags
        },
        "post": {
            "parameters": [reference(&body), reference("select"), reference("preferPost")],
            "responses": { "201": { "description": "Created" } },
            "tags": tags
        },
        "delete": {
            "parameters": with(&["preferReturn"]),
            "responses": { "204": { "description": "No Content" } },
            "tags": tags
        },
        "patch": {
            "parameters": with(&[&body, "preferReturn"]),
            "responses": { "204": { "description": "No Content" } },
            "tags": tags
        }
    });
    if let Some(comment) = comment {
        path["get"]["summary"] = json!(comment);
    }
    if let Value::Object(methods) = &mut path {
        for (method, event) in [("post", 8), ("patch", 4), ("delete", 16)] {
            if writable_events & event == 0 {
                methods.remove(method);
            }
        }
    }
    path
}

/// `POST /rpc/{fn}` with the arguments as a body; stable and immutable functions take `GET` too.
fn function_path(function: &Row) -> Value {
    let names: Vec<String> = function.get("arg_names");
    let types: Vec<String> = function.get("arg_types");
    let required_count = usize::try_from(function.get::<_, i32>("required_count")).unwrap_or(0);
    let required = &names[..required_count.min(names.len())];
    let properties: Map<String, Value> = names
        .iter()
        .zip(&types)
        .map(|(name, postgres)| {
            let mut property = swagger_type(postgres);
            property["format"] = json!(postgres);
            (name.clone(), property)
        })
        .collect();
    let tags = json!([format!(
        "(rpc) {}",
        function.get::<_, &str>("function_name")
    )]);
    let mut path = json!({
        "post": {
            "parameters": [
                { "in": "body", "name": "args", "required": true,
                  "schema": { "properties": properties, "required": required, "type": "object" } },
                reference("preferParams")
            ],
            "responses": { "200": { "description": "OK" } },
            "tags": tags
        }
    });
    if !function.get::<_, bool>("volatile") {
        let query: Vec<Value> = names
            .iter()
            .zip(&types)
            .map(|(name, postgres)| {
                json!({ "format": postgres, "in": "query", "name": name,
                        "required": required.contains(name), "type": "string" })
            })
            .collect();
        path["get"] = json!({
            "parameters": query, "responses": { "200": { "description": "OK" } }, "tags": tags
        });
    }
    if let Some(comment) = function.get::<_, Option<String>>("comment") {
        path["post"]["summary"] = json!(comment);
    }
    path
}

fn introspection_path() -> Value {
    json!({
        "get": {
            "produces": ["application/openapi+json", "application/json"],
            "responses": { "200": { "description": "OK" } },
            "summary": "OpenAPI description (this document)",
            "tags": ["Introspection"]
        }
    })
}

fn shared_parameters() -> Map<String, Value> {
    let header = |name: &str, description: &str, values: &[&str]| {
        json!({ "name": name, "description": description, "required": false, "enum": values,
                "in": "header", "type": "string" })
    };
    let query = |name: &str, description: &str| {
        json!({ "name": name, "description": description, "required": false, "in": "query",
                "type": "string" })
    };
    let returns = ["return=representation", "return=minimal", "return=none"];
    let post = [
        "return=representation",
        "return=minimal",
        "return=none",
        "resolution=ignore-duplicates",
        "resolution=merge-duplicates",
    ];
    let parameters = json!({
        "preferParams": header("Prefer", "Preference", &["params=single-object"]),
        "preferReturn": header("Prefer", "Preference", &returns),
        "preferCount": header("Prefer", "Preference", &["count=none"]),
        "preferPost": header("Prefer", "Preference", &post),
        "select": query("select", "Filtering Columns"),
        "on_conflict": query("on_conflict", "On Conflict"),
        "order": query("order", "Ordering"),
        "range": { "name": "Range", "description": "Limiting and Pagination", "required": false,
                   "in": "header", "type": "string" },
        "rangeUnit": { "name": "Range-Unit", "description": "Limiting and Pagination",
                       "required": false, "default": "items", "in": "header", "type": "string" },
        "offset": query("offset", "Limiting and Pagination"),
        "limit": query("limit", "Limiting and Pagination"),
    });
    match parameters {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_types_map_as_postgrest_maps_them() {
        assert_eq!(swagger_type("bigint"), json!({ "type": "integer" }));
        assert_eq!(swagger_type("numeric(10,2)"), json!({ "type": "number" }));
        assert_eq!(swagger_type("jsonb"), json!({}));
        assert_eq!(
            swagger_type("timestamp with time zone"),
            json!({ "type": "string" })
        );
    }
}
