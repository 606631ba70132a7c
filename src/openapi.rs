//! The OpenAPI 3.1 document served on `GET /openapi.json`. It is written by hand (`openapi.json`
//! beside this file); the tests below fail when it drifts from the code: the parameters the
//! service reads, the error bodies it sends and the routes it serves.

pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::params::Param;
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    #[test]
    fn it_is_openapi_3_1() {
        assert_eq!(document()["openapi"], "3.1.0");
    }

    #[test]
    fn it_lists_exactly_the_parameters_the_service_reads() {
        let doc = document();
        let mut documented: Vec<&str> = doc["paths"]["/api/v1/livechat/rooms"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        documented.sort_unstable();
        // The listing's parameters, and the live feed's resume point (header and parameter).
        let mut read: Vec<&str> = Param::ALL.iter().map(|p| p.name()).collect();
        read.extend(["Last-Event-ID", "lastEventId"]);
        read.sort_unstable();
        assert_eq!(documented, read);
    }

    #[test]
    fn it_documents_every_status_with_the_bodies_the_service_sends() {
        use crate::error::ApiError;
        use actix_web::{body::MessageBody as _, ResponseError as _};
        let doc = document();
        let responses = &doc["paths"]["/api/v1/livechat/rooms"]["get"]["responses"];
        let cases = [
            ApiError::Forbidden,
            ApiError::TooManyRequests { wait_seconds: 42 },
            ApiError::MethodNotAllowed,
            ApiError::Internal("x".into()),
            ApiError::DatabaseUnavailable(crate::db::DbError::Busy(1)),
            ApiError::TooManyStreams(1),
        ];
        for err in cases {
            let response = err.error_response();
            let status = response.status().as_u16().to_string();
            let body: Value =
                serde_json::from_slice(&response.into_body().try_into_bytes().unwrap()).unwrap();
            let content = &responses[&status]["content"]["application/json"];
            let documented = match content["examples"].as_object() {
                Some(examples) => examples.values().any(|e| e["value"] == body),
                None => content["example"] == body,
            };
            assert!(documented, "{status}: {body}");
        }
        for status in ["200", "400", "401"] {
            assert!(responses.get(status).is_some(), "{status}");
        }
        let login = &doc["components"]["schemas"]["LoginRequired"]["properties"];
        assert_eq!(login["error"]["const"], ApiError::Unauthorized.to_string());
    }

    #[test]
    fn it_lists_every_route() {
        let doc = document();
        let mut paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        paths.sort();
        let mut served: Vec<&str> = crate::routes::PATHS.to_vec();
        served.sort_unstable();
        assert_eq!(paths, served);
    }
}
