//! `GET /openapi.json`: the committed OpenAPI 3.1 document describing every route.

use crate::http::Response;

pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub fn document() -> Response {
    Response::with_json_bytes(200, DOCUMENT.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::routes::ROUTES;

    const HTTP_METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn document_json() -> serde_json::Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    #[test]
    fn documents_exactly_the_routes_the_router_serves() {
        let document = document_json();
        let documented: BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .expect("paths object")
            .iter()
            .flat_map(|(path, item)| {
                let methods = item.as_object().expect("path item object").keys();
                methods
                    .filter(|method| HTTP_METHODS.contains(&method.as_str()))
                    .map(move |method| (method.to_ascii_uppercase(), path.clone()))
            })
            .collect();
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|route| (route.method.as_str().to_owned(), route.template.to_owned()))
            .collect();
        assert_eq!(
            documented, routed,
            "openapi.json paths differ from routes::ROUTES"
        );
    }

    #[test]
    fn is_openapi_3_1_with_error_schema_and_bearer_scheme() {
        let document = document_json();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        let components = &document["components"];
        assert_eq!(
            components["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        let error = &components["schemas"]["Error"];
        assert_eq!(
            error["properties"]["error"]["required"],
            serde_json::json!(["code", "message"])
        );
    }
}
