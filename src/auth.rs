//! Authentication (Rocket.Chat's `X-User-Id` / `X-Auth-Token`, checked against the hashed resume
//! tokens in `users`) and what the permissions grant a user's roles.

use actix_web::HttpRequest;
use base64::Engine as _;
use mongodb::bson::Document;
use sha2::{Digest as _, Sha256};

use crate::db::{Db, DbError};
use crate::error::ApiError;

/// May list every room.
pub const VIEW_LIVECHAT_ROOMS: &str = "view-livechat-rooms";
/// May list the rooms they serve (with `agents` set to themselves alone).
pub const VIEW_L_ROOM: &str = "view-l-room";
/// Is never rate-limited.
pub const BYPASS_RATE_LIMIT: &str = "api-bypass-rate-limit";
/// Every permission read.
pub const PERMISSIONS: [&str; 3] = [VIEW_LIVECHAT_ROOMS, VIEW_L_ROOM, BYPASS_RATE_LIMIT];

/// The two headers, with the token already hashed. Deliberately not `Debug`: it holds a secret.
#[derive(Clone)]
pub struct Credentials {
    user_id: String,
    hashed_token: String,
}

impl Credentials {
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The token as Meteor stores it ([`hash_token`]), never the token itself.
    pub fn hashed_token(&self) -> &str {
        &self.hashed_token
    }

    /// Missing, empty, repeated or non-text headers are no credentials (Node.js would join two
    /// values into one that matches no user).
    pub fn from_request(req: &HttpRequest) -> Result<Self, ApiError> {
        let header = |name: &str| {
            let mut values = req.headers().get_all(name);
            let value = values.next()?.to_str().ok().filter(|v| !v.is_empty())?;
            values.next().is_none().then_some(value)
        };
        let (Some(user_id), Some(token)) = (header("x-user-id"), header("x-auth-token")) else {
            log::debug!("request without usable credentials");
            return Err(ApiError::Unauthorized);
        };
        Ok(Credentials {
            user_id: user_id.to_owned(),
            hashed_token: hash_token(token),
        })
    }
}

/// Meteor's stored form of a login token: `base64(sha256(token))`, standard alphabet, padded.
pub fn hash_token(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(token.as_bytes()))
}

/// The roles each of [`PERMISSIONS`] lists, in that order, read from its document (`{_id, roles}`)
/// once per read rather than looked up in the documents on every request.
pub struct Permissions([Vec<String>; PERMISSIONS.len()]);

impl Permissions {
    pub async fn read(db: &Db) -> Result<Self, DbError> {
        Ok(Permissions::from_documents(
            &db.permissions(&PERMISSIONS).await?,
        ))
    }

    /// A permission whose document is missing lists no role; so does a `roles` that is not an
    /// array, and an entry in it that is not a string names none.
    fn from_documents(documents: &[Document]) -> Self {
        Permissions(PERMISSIONS.map(|permission| {
            documents
                .iter()
                .filter(|p| p.get_str("_id") == Ok(permission))
                .filter_map(|p| p.get_array("roles").ok())
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        }))
    }

    /// What these roles are granted. A missing permission document grants nothing.
    pub fn grants(&self, roles: &[String]) -> Grants {
        let [view_all, view_own, bypass] = &self.0;
        let granted = |listed: &Vec<String>| listed.iter().any(|r| roles.contains(r));
        Grants {
            view_all_rooms: granted(view_all),
            view_own_rooms: granted(view_own),
            bypass_rate_limit: granted(bypass),
        }
    }
}

/// What the user's roles grant here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    pub view_all_rooms: bool,
    pub view_own_rooms: bool,
    pub bypass_rate_limit: bool,
}

/// A logged-in user: only [`AuthUser::authenticate`] makes one.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub roles: Vec<String>,
}

impl AuthUser {
    /// Looks the user up by id and hashed token: 401 when there is no such user or token.
    pub async fn authenticate(db: &Db, credentials: Credentials) -> Result<Self, ApiError> {
        match db
            .user_roles(&credentials.user_id, &credentials.hashed_token)
            .await?
        {
            Some(roles) => Ok(AuthUser {
                id: credentials.user_id,
                roles,
            }),
            None => {
                log::debug!("unknown user or token for user id {}", credentials.user_id);
                Err(ApiError::Unauthorized)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn tokens_are_hashed_as_meteor_stores_them() {
        // echo -n 'abc' | sha256sum | xxd -r -p | base64
        assert_eq!(
            hash_token("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    pub(crate) fn grants(roles: &[&str]) -> Grants {
        let permissions = Permissions::from_documents(&[
            doc! {"_id": VIEW_LIVECHAT_ROOMS, "roles": ["admin", "livechat-manager"]},
            doc! {"_id": VIEW_L_ROOM, "roles": ["livechat-agent"]},
            doc! {"_id": BYPASS_RATE_LIMIT, "roles": ["bot"]},
        ]);
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        permissions.grants(&roles)
    }

    #[test]
    fn roles_grant_the_permissions_that_list_them() {
        assert_eq!(
            grants(&["livechat-manager"]),
            Grants {
                view_all_rooms: true,
                ..Grants::default()
            }
        );
        assert_eq!(
            grants(&["user", "livechat-agent"]),
            Grants {
                view_own_rooms: true,
                ..Grants::default()
            }
        );
        assert_eq!(
            grants(&["bot"]),
            Grants {
                bypass_rate_limit: true,
                ..Grants::default()
            }
        );
        assert_eq!(grants(&["user"]), Grants::default());
    }

    #[test]
    fn a_missing_permission_document_grants_nothing() {
        assert_eq!(
            Permissions::from_documents(&[]).grants(&["admin".to_owned()]),
            Grants::default()
        );
    }

    #[test]
    fn roles_that_are_not_an_array_of_strings_name_no_role() {
        let permissions = Permissions::from_documents(&[
            doc! {"_id": VIEW_LIVECHAT_ROOMS, "roles": [1, null, "admin"]},
            doc! {"_id": VIEW_L_ROOM, "roles": "livechat-agent"},
        ]);
        let roles = ["admin".to_owned(), "livechat-agent".to_owned()];
        assert_eq!(
            permissions.grants(&roles),
            Grants {
                view_all_rooms: true,
                ..Grants::default()
            }
        );
    }
}
