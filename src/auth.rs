//! Authentication (Rocket.Chat's `X-User-Id` / `X-Auth-Token`, checked against the hashed resume
//! tokens in `users`) and the permission rule of the rooms listing.

use std::future::{Future, IntoFuture as _};
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use base64::Engine as _;
use futures::TryStreamExt as _;
use mongodb::bson::{doc, Document};
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;
use crate::rooms::RoomsQuery;
use crate::state::AppState;

/// May list every room.
pub const VIEW_LIVECHAT_ROOMS: &str = "view-livechat-rooms";
/// May list the rooms they serve (with `agents` set to themselves alone).
pub const VIEW_L_ROOM: &str = "view-l-room";

/// The two headers, with the token already hashed. Deliberately not `Debug`: it holds a secret.
pub struct Credentials {
    user_id: String,
    hashed_token: String,
}

impl Credentials {
    /// Missing, empty or non-text headers are no credentials.
    pub fn from_request(req: &HttpRequest) -> Option<Self> {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        };
        Some(Credentials {
            user_id: header("x-user-id")?.to_owned(),
            hashed_token: hash_token(header("x-auth-token")?),
        })
    }
}

/// Meteor's stored form of a login token: `base64(sha256(token))`, standard alphabet, padded.
pub fn hash_token(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(token.as_bytes()))
}

/// What the user's roles grant here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    pub view_all_rooms: bool,
    pub view_own_rooms: bool,
}

impl Grants {
    /// Reads the permission documents (`{_id, roles}`) for the given roles. A missing permission
    /// document grants nothing.
    pub fn from_permissions(permissions: &[Document], roles: &[String]) -> Self {
        let granted = |permission: &str| {
            permissions
                .iter()
                .filter(|p| p.get_str("_id") == Ok(permission))
                .filter_map(|p| p.get_array("roles").ok())
                .flatten()
                .filter_map(|r| r.as_str())
                .any(|r| roles.iter().any(|mine| mine == r))
        };
        Grants {
            view_all_rooms: granted(VIEW_LIVECHAT_ROOMS),
            view_own_rooms: granted(VIEW_L_ROOM),
        }
    }
}

/// A logged-in user and what they may list. Taking one in a handler is what makes it authenticated.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub grants: Grants,
}

impl AuthUser {
    /// The permission rule: everything with `view-livechat-rooms`; with `view-l-room` only a query
    /// whose `agents` is the user alone.
    pub fn authorize(&self, query: &RoomsQuery) -> Result<(), ApiError> {
        if self.grants.view_all_rooms
            || (self.grants.view_own_rooms && query.is_only_agent(&self.id))
        {
            Ok(())
        } else {
            log::debug!("user {} may not list these rooms", self.id);
            Err(ApiError::Forbidden)
        }
    }

    /// Looks the user up by id and hashed token, and reads the two permissions at the same time.
    async fn authenticate(state: &AppState, credentials: Credentials) -> Result<Self, ApiError> {
        let user = state
            .users
            .find_one(doc! {
                "_id": &credentials.user_id,
                "services.resume.loginTokens.hashedToken": &credentials.hashed_token,
            })
            .projection(doc! { "roles": 1 })
            .max_time(state.query_timeout);
        let permissions = async {
            state
                .permissions
                .find(doc! { "_id": { "$in": [VIEW_LIVECHAT_ROOMS, VIEW_L_ROOM] } })
                .projection(doc! { "roles": 1 })
                .max_time(state.query_timeout)
                .await?
                .try_collect::<Vec<Document>>()
                .await
        };
        let metrics = &state.metrics;
        let (user, permissions) = futures::try_join!(
            metrics.db_call("users.find_one", user.into_future()),
            metrics.db_call("permissions.find", permissions),
        )?;
        let Some(user) = user else {
            log::debug!("unknown user or token for user id {}", credentials.user_id);
            return Err(ApiError::Unauthorized);
        };
        let roles: Vec<String> = user
            .get_array("roles")
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(AuthUser {
            id: credentials.user_id,
            grants: Grants::from_permissions(&permissions, &roles),
        })
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let credentials = Credentials::from_request(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let Some(credentials) = credentials else {
                log::debug!("request without credentials");
                return Err(ApiError::Unauthorized);
            };
            let state =
                state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            AuthUser::authenticate(&state, credentials).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_hashed_as_meteor_stores_them() {
        // echo -n 'abc' | sha256sum | xxd -r -p | base64
        assert_eq!(
            hash_token("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    fn grants(roles: &[&str]) -> Grants {
        let permissions = [
            doc! {"_id": VIEW_LIVECHAT_ROOMS, "roles": ["admin", "livechat-manager"]},
            doc! {"_id": VIEW_L_ROOM, "roles": ["livechat-agent"]},
        ];
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        Grants::from_permissions(&permissions, &roles)
    }

    #[test]
    fn roles_grant_the_permissions_that_list_them() {
        assert_eq!(
            grants(&["livechat-manager"]),
            Grants {
                view_all_rooms: true,
                view_own_rooms: false
            }
        );
        assert_eq!(
            grants(&["user", "livechat-agent"]),
            Grants {
                view_all_rooms: false,
                view_own_rooms: true
            }
        );
        assert_eq!(grants(&["user"]), Grants::default());
    }

    #[test]
    fn a_missing_permission_document_grants_nothing() {
        assert_eq!(
            Grants::from_permissions(&[], &["admin".to_owned()]),
            Grants::default()
        );
    }

    #[test]
    fn agents_may_list_only_their_own_rooms() {
        let agent = AuthUser {
            id: "u1".into(),
            grants: grants(&["livechat-agent"]),
        };
        assert!(agent
            .authorize(&RoomsQuery::from_query_string("agents[]=u1").unwrap())
            .is_ok());
        assert!(agent
            .authorize(&RoomsQuery::from_query_string("agents[]=u2").unwrap())
            .is_err());
        assert!(agent.authorize(&RoomsQuery::default()).is_err());
        let manager = AuthUser {
            id: "m".into(),
            grants: grants(&["admin"]),
        };
        assert!(manager.authorize(&RoomsQuery::default()).is_ok());
    }
}
