//! `GET /openapi.json`: the committed OpenAPI 3.1 document describing every route.

use crate::http::Response;

pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub fn document() -> Response {
    Response::with_json_bytes(200, DOCUMENT.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document_json() -> serde_json::Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
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
