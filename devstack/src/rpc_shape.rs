//! RPC answers in PostgREST's shapes. The PostgREST-compatible server answers every function call
//! with an array of rows; PostgREST answers by the function's declared return type: a set is an
//! array, one row is an object (`null` when there is none), a scalar is the bare JSON value.

use std::collections::HashMap;
use std::sync::Mutex;

use deadpool_postgres::Pool;
use serde_json::Value;

/// What a function of the exposed schema declares it returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Returns {
    /// `SETOF` or `TABLE`: rows, or scalars.
    Set {
        rows: bool,
    },
    /// One composite value (a table's row type, or `OUT` parameters).
    Row,
    Scalar,
    /// `void`, or a function the catalog does not know: answered as the server answers it.
    AsIs,
}

/// One declaration of a function name: its input arguments and what it returns.
#[derive(Clone, Debug)]
struct Overload {
    arguments: Vec<String>,
    required: usize,
    returns: Returns,
}

impl Overload {
    /// PostgREST's choice among overloads: every argument given is declared, every required one given.
    fn takes(&self, given: &[String]) -> bool {
        given.iter().all(|name| self.arguments.contains(name))
            && self.arguments[..self.required]
                .iter()
                .all(|name| given.contains(name))
    }
}

/// Return types read from the catalog once per function, as PostgREST keeps its schema cache.
pub struct RpcShapes {
    pool: Pool,
    known: Mutex<HashMap<String, Vec<Overload>>>,
}

impl RpcShapes {
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            known: Mutex::default(),
        }
    }

    /// What `function` called with the arguments named `given` returns.
    pub async fn returns(&self, function: &str, given: &[String]) -> Returns {
        let cached = self
            .known
            .lock()
            .expect("cache lock")
            .get(function)
            .cloned();
        let overloads = match cached {
            Some(overloads) => overloads,
            None => match self.read_catalog(function).await {
                Ok(overloads) => {
                    self.known
                        .lock()
                        .expect("cache lock")
                        .insert(function.to_owned(), overloads.clone());
                    overloads
                }
                Err(error) => {
                    eprintln!("gateway: reading {function}'s return type failed: {error}");
                    return Returns::AsIs;
                }
            },
        };
        overloads
            .iter()
            .find(|overload| overload.takes(given))
            .or(overloads.first())
            .map_or(Returns::AsIs, |overload| overload.returns)
    }

    async fn read_catalog(&self, function: &str) -> anyhow::Result<Vec<Overload>> {
        let db = self.pool.get().await?;
        // A row type ('c'), or `record` built from OUT parameters, expands to columns.
        let rows = db
            .query(
                "select p.proretset, t.typname = 'void', \
                        t.typtype = 'c' or (t.typname = 'record' and coalesce(p.proargmodes && '{o,b,t}'::\"char\"[], false)), \
                        coalesce((select array_agg(arg.name order by arg.ord) \
                                    from unnest(p.proargnames, p.proargmodes::text[]) \
                                         with ordinality as arg(name, mode, ord) \
                                   where coalesce(arg.mode, 'i') in ('i', 'b', 'v')), '{}'), \
                        (p.pronargs - p.pronargdefaults)::int \
                 from pg_proc p \
                 join pg_namespace n on n.oid = p.pronamespace \
                 join pg_type t on t.oid = p.prorettype \
                 where n.nspname = 'public' and p.proname = $1 \
                 order by p.oid",
                &[&function],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let arguments: Vec<String> = row.get(3);
                let required = usize::try_from(row.get::<_, i32>(4)).unwrap_or(0);
                Overload {
                    required: required.min(arguments.len()),
                    arguments,
                    returns: match (row.get(0), row.get(1), row.get(2)) {
                        (_, true, _) => Returns::AsIs,
                        (true, _, rows) => Returns::Set { rows },
                        (false, _, true) => Returns::Row,
                        (false, _, false) => Returns::Scalar,
                    },
                }
            })
            .collect())
    }
}

/// The body PostgREST would send for the server's array of rows `answer`.
pub fn reshape(returns: Returns, answer: Value) -> Value {
    let Value::Array(rows) = answer else {
        return answer;
    };
    match returns {
        Returns::AsIs | Returns::Set { rows: true } => Value::Array(rows),
        Returns::Set { rows: false } => Value::Array(rows.into_iter().map(column_value).collect()),
        Returns::Row => rows.into_iter().next().unwrap_or(Value::Null),
        Returns::Scalar => rows.into_iter().next().map_or(Value::Null, column_value),
    }
}

/// The value of a scalar result, which the server wraps as `{"<function>": value}`.
fn column_value(row: Value) -> Value {
    match row {
        Value::Object(columns) if columns.len() == 1 => columns
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or_default(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_overload_is_chosen_by_the_arguments_given() {
        let overload = Overload {
            arguments: vec!["a".into(), "b".into()],
            required: 1,
            returns: Returns::Scalar,
        };
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(overload.takes(&names(&["a"])));
        assert!(overload.takes(&names(&["a", "b"])));
        assert!(
            !overload.takes(&names(&["b"])),
            "a required argument is missing"
        );
        assert!(!overload.takes(&names(&["a", "c"])), "c is not declared");
    }

    #[test]
    fn each_return_type_answers_in_postgrest_shape() {
        let row = json!([{"id": 1, "name": "a"}]);
        assert_eq!(
            reshape(Returns::Row, row.clone()),
            json!({"id": 1, "name": "a"})
        );
        assert_eq!(reshape(Returns::Row, json!([])), Value::Null);
        assert_eq!(reshape(Returns::Set { rows: true }, row.clone()), row);
        assert_eq!(reshape(Returns::AsIs, row.clone()), row);
        assert_eq!(
            reshape(Returns::Scalar, json!([{"f": {"a": [1]}}])),
            json!({"a": [1]})
        );
        assert_eq!(reshape(Returns::Scalar, json!([{"f": null}])), Value::Null);
        assert_eq!(
            reshape(Returns::Set { rows: false }, json!([{"f": 1}, {"f": 2}])),
            json!([1, 2])
        );
    }
}
