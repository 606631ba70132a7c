//! Rocket.Chat's REST CORS (contract §2c; `apps/meteor/app/api/server/middlewares/cors.ts` and its
//! preflight answer, Restivus' `defaultOptionsEndpoint`): from the settings `API_Enable_CORS` and
//! `API_CORS_Origin`, what a request that carries an `Origin` (or a preflight header) gets.

/// `Access-Control-Allow-Methods`, as Rocket.Chat sends it.
pub const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, HEAD, PATCH";
/// `Access-Control-Allow-Headers`, as Rocket.Chat sends it.
pub const ALLOW_HEADERS: &str =
    "Origin, X-Requested-With, Content-Type, Accept, X-User-Id, X-Auth-Token, x-visitor-token, Authorization";
/// The body of Rocket.Chat's 405 to a preflight while CORS is off.
pub const DISABLED_PREFLIGHT_BODY: &str =
    "CORS not enabled. Go to \"Admin > General > REST Api\" to enable it.";

/// `API_Enable_CORS` (default false) and `API_CORS_Origin` (default `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    pub enabled: bool,
    origins: Origins,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Origins {
    /// The setting is exactly `*`.
    Any,
    /// The comma-separated list, each trimmed and in lower case.
    List(Vec<String>),
}

impl Default for CorsSettings {
    fn default() -> Self {
        CorsSettings::new(false, "*")
    }
}

/// What a request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// CORS is off, or the request has neither `Origin` nor `Access-Control-Request-Method`:
    /// nothing is added.
    NotApplied,
    /// The three `Access-Control-Allow-*` headers, with this `Access-Control-Allow-Origin`.
    Allow(AllowOrigin),
    /// 403 with an empty body, before anything else: the origin is not listed.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowOrigin {
    /// `*` (the setting is `*`).
    Any,
    /// The request's `Origin`, as sent (a listed origin).
    Origin(String),
}

impl CorsSettings {
    pub fn new(enabled: bool, origin_setting: &str) -> Self {
        // Rocket.Chat compares the setting itself with '*', untrimmed; a list is trimmed.
        let origins = if origin_setting == "*" {
            Origins::Any
        } else {
            Origins::List(
                origin_setting
                    .trim()
                    .split(',')
                    .map(|o| o.trim().to_lowercase())
                    .collect(),
            )
        };
        CorsSettings { enabled, origins }
    }

    /// The verdict for a request with this `Origin` (`None`: absent or not text), and whether it
    /// has an `Access-Control-Request-Method` header.
    pub fn check(&self, origin: Option<&str>, request_method_header: bool) -> Cors {
        if !self.enabled || (origin.is_none() && !request_method_header) {
            return Cors::NotApplied;
        }
        match (&self.origins, origin) {
            (Origins::Any, _) => Cors::Allow(AllowOrigin::Any),
            (Origins::List(list), Some(origin)) if list.contains(&origin.to_lowercase()) => {
                Cors::Allow(AllowOrigin::Origin(origin.to_owned()))
            }
            (Origins::List(_), _) => Cors::Refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_adds_nothing_whatever_the_request() {
        let off = CorsSettings::new(false, "*");
        assert_eq!(off.check(Some("https://a.example"), true), Cors::NotApplied);
        assert_eq!(CorsSettings::default(), off);
    }

    #[test]
    fn only_requests_with_an_origin_or_a_preflight_header_are_concerned() {
        let on = CorsSettings::new(true, "https://a.example");
        assert_eq!(on.check(None, false), Cors::NotApplied);
        // A preflight header without an Origin: no origin can be in the list.
        assert_eq!(on.check(None, true), Cors::Refused);
    }

    #[test]
    fn a_star_allows_every_origin_with_a_star() {
        let any = CorsSettings::new(true, "*");
        assert_eq!(
            any.check(Some("https://x"), false),
            Cors::Allow(AllowOrigin::Any)
        );
        assert_eq!(any.check(None, true), Cors::Allow(AllowOrigin::Any));
    }

    #[test]
    fn a_list_is_trimmed_and_compared_without_case_and_the_origin_echoed_as_sent() {
        let list = CorsSettings::new(true, " https://A.example , https://b.example");
        assert_eq!(
            list.check(Some("https://a.EXAMPLE"), false),
            Cors::Allow(AllowOrigin::Origin("https://a.EXAMPLE".into()))
        );
        assert_eq!(
            list.check(Some("https://b.example"), true),
            Cors::Allow(AllowOrigin::Origin("https://b.example".into()))
        );
        assert_eq!(list.check(Some("https://c.example"), false), Cors::Refused);
        assert_eq!(
            list.check(Some("https://a.example.evil"), false),
            Cors::Refused
        );
    }

    #[test]
    fn a_star_inside_a_list_is_just_an_entry() {
        let list = CorsSettings::new(true, "https://a.example, *");
        assert_eq!(list.check(Some("https://c.example"), false), Cors::Refused);
        assert_eq!(
            CorsSettings::new(true, " *").check(Some("https://c.example"), false),
            Cors::Refused
        );
    }
}
