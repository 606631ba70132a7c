//! [`RoomsQuery`]: the validated, typed form of the request. Every rule of the contract's parameter
//! table is checked here, once; nothing downstream looks at raw text again.

use mongodb::bson::DateTime;

use super::cursor::CursorToken;
use super::params::{Param, RawRoomsParams};
pub use super::typing::{
    JsonQueryParam, ParamError, Typed, TypedParams, MAX_CUSTOM_FIELDS, MAX_REGEX_BYTES,
    MAX_SORT_KEYS,
};
use super::values::{custom_fields, date_range, field_spec, json_query, sort_spec};
pub use super::values::{DateRange, Direction, FieldSpec, LiteralPattern, SortSpec};
use crate::jsdate;

/// `roomName`: a case-insensitive substring of `fname`, or, in double quotes, the exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomName {
    Contains(LiteralPattern),
    Exact(String),
}

/// `departmentId`: one department or any of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departments {
    One(String),
    Any(Vec<String>),
}

/// The request, validated. Field docs say what each parameter means; the filter it makes is
/// [`super::filter::to_filter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomsQuery {
    /// `agents`: rooms served by any of these agents (id or username).
    pub agents: Option<Vec<String>>,
    pub room_name: Option<RoomName>,
    pub departments: Option<Departments>,
    /// `open`: `Some(true)` open rooms being served, `Some(false)` closed rooms.
    pub open: Option<bool>,
    /// `createdAt`: range on `ts`.
    pub created_at: DateRange,
    /// `closedAt`: range on `closedAt`.
    pub closed_at: DateRange,
    /// `tags`: rooms with any of these tags.
    pub tags: Option<Vec<String>>,
    /// `customFields`: per key, a case-insensitive substring of `livechatData.<key>`, in the order given.
    pub custom_fields: Vec<(String, LiteralPattern)>,
    /// `onhold`: only rooms on hold.
    pub onhold: bool,
    /// `queued`: only queued rooms (open, not served, not on hold).
    pub queued: bool,
    /// `units`: rooms whose `departmentAncestors` hold any of these.
    pub units: Option<Vec<String>>,
    /// `offset`: rooms to skip (default 0).
    pub offset: u64,
    /// `count`: the requested page size; the effective limit also depends on the settings
    /// ([`crate::api_settings::Pagination::limit`]).
    pub count: Option<u64>,
    pub sort: Option<SortSpec>,
    pub fields: Option<FieldSpec>,
    /// `cursor` (§7): page by a cursor instead of `offset`; `Start` for an empty value.
    pub cursor: Option<CursorToken>,
    /// `updatedSince` (§7): rooms whose `_updatedAt` is at or after it.
    pub updated_since: Option<DateTime>,
}

impl TryFrom<RawRoomsParams> for RoomsQuery {
    type Error = ParamError;

    /// Types every parameter first (in [`Param::ALL`] order), then checks what the text says in the
    /// same order, so the first error reported does not depend on the order of the query string.
    fn try_from(raw: RawRoomsParams) -> Result<Self, Self::Error> {
        let mut p = TypedParams::coerce(raw)?;
        let agents = p.list(Param::Agents);
        let departments = match p.take(Param::DepartmentId) {
            Some(Typed::Text(id)) => departments(id),
            Some(Typed::List(ids)) => Some(Departments::Any(ids)),
            _ => None,
        };
        let open = match p.text(Param::Open).as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        let tags = p.list(Param::Tags);
        let room_name = p
            .text(Param::RoomName)
            .map(room_name)
            .transpose()?
            .flatten();
        let units = p.list(Param::Units);
        let offset_given = p.number(Param::Offset);
        let offset = offset_given.unwrap_or(0);
        let count = p.number(Param::Count);
        let sort = json_query(JsonQueryParam::Sort, p.text(Param::Sort), sort_spec)?;
        let fields = json_query(JsonQueryParam::Fields, p.text(Param::Fields), field_spec)?
            .filter(|f| !f.0.is_empty());
        let created_at = date_range("createdAt", p.text(Param::CreatedAt))?;
        let closed_at = date_range("closedAt", p.text(Param::ClosedAt))?;
        let custom_fields = custom_fields(p.text(Param::CustomFields))?;
        let onhold = is_truthy_flag(p.text(Param::Onhold));
        let queued = is_truthy_flag(p.text(Param::Queued));
        let cursor = p
            .text(Param::Cursor)
            .map(|c| CursorToken::parse(&c))
            .transpose()?;
        let updated_since = match p.text(Param::UpdatedSince) {
            None => None,
            Some(text) => Some(
                jsdate::parse(&text)
                    .map(DateTime::from_millis)
                    .ok_or(ParamError::InvalidDateParam("updatedSince"))?,
            ),
        };
        if cursor.is_some() {
            if offset_given.is_some() {
                return Err(ParamError::CursorWithOffset);
            }
            if updated_since.is_some() && sort.is_some() {
                return Err(ParamError::SortWithUpdatedSinceWalk);
            }
        }
        let query = RoomsQuery {
            agents,
            room_name,
            departments,
            open,
            created_at,
            closed_at,
            tags,
            custom_fields,
            onhold,
            queued,
            units,
            offset,
            count,
            sort,
            fields,
            cursor,
            updated_since,
        };
        if query.cursor.is_some() && !query.keeps_sort_keys() {
            return Err(ParamError::CursorNeedsSortKeys);
        }
        Ok(query)
    }
}

impl RoomsQuery {
    /// The sort requested, as `(path, 1 or -1)`: `sort`'s keys in order; default `{"ts": -1}`, or
    /// `{"_updatedAt": 1}` for an `updatedSince` walk. What is sent is decided from it and the
    /// indexes ([`super::sort_plan::plan_sort`]).
    pub fn requested_sort(&self) -> Vec<(String, i32)> {
        match &self.sort {
            Some(spec) => spec
                .0
                .iter()
                .map(|(key, dir)| (key.clone(), if *dir == Direction::Asc { 1 } else { -1 }))
                .collect(),
            None if self.cursor.is_some() && self.updated_since.is_some() => {
                vec![("_updatedAt".to_owned(), 1)]
            }
            None => vec![("ts".to_owned(), -1)],
        }
    }

    /// Whether the projection keeps `_id` and every sort key, which a cursor is made of.
    fn keeps_sort_keys(&self) -> bool {
        let Some(FieldSpec(fields)) = &self.fields else {
            return true;
        };
        let covers = |field: &str, path: &str| {
            path == field
                || path
                    .strip_prefix(field)
                    .is_some_and(|rest| rest.starts_with('.'))
        };
        let inclusion = fields
            .iter()
            .any(|(path, include)| *include && path != "_id");
        let mut keys: Vec<String> = self.requested_sort().into_iter().map(|(k, _)| k).collect();
        keys.push("_id".to_owned());
        keys.iter().all(|key| {
            if key == "_id" {
                return !fields
                    .iter()
                    .any(|(path, include)| path == "_id" && !include);
            }
            let named = fields
                .iter()
                .any(|(path, include)| covers(path, key) && (*include == inclusion));
            if inclusion {
                named
            } else {
                !named
            }
        })
    }

    /// Reads and validates a raw query string.
    pub fn from_query_string(query: &str) -> Result<Self, ParamError> {
        RawRoomsParams::from_query_string(query).try_into()
    }

    /// True when `agents` is exactly one id equal to `user_id` (an agent listing their own rooms).
    pub fn is_only_agent(&self, user_id: &str) -> bool {
        matches!(self.agents.as_deref(), Some([only]) if only == user_id)
    }
}

/// Rocket.Chat's client sends "" or "undefined" for "all departments".
fn departments(id: String) -> Option<Departments> {
    (!id.is_empty() && id != "undefined").then_some(Departments::One(id))
}

fn room_name(name: String) -> Result<Option<RoomName>, ParamError> {
    Ok(if name.is_empty() {
        None
    } else if name.starts_with('"') && name.ends_with('"') {
        // As JavaScript's `slice(1, -1)`: a lone `"` is the empty exact name.
        let inner = name
            .get(1..name.len().saturating_sub(1))
            .unwrap_or_default();
        Some(RoomName::Exact(inner.to_owned()))
    } else {
        let pattern = LiteralPattern::new(&name).ok_or(ParamError::TooLong("roomName"))?;
        Some(RoomName::Contains(pattern))
    })
}

/// Rocket.Chat's `['t', 'true', '1'].includes(value)`.
fn is_truthy_flag(value: Option<String>) -> bool {
    matches!(value.as_deref(), Some("t" | "true" | "1"))
}

/// The JSON a text parameter holds: `None` when it is absent or empty (no filter, the default),
/// else the text with what it parses to (`None`: not JSON).
/// The parsing shortcuts the parameter tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::{ParamError, RoomsQuery};

    pub fn parse(q: &str) -> Result<RoomsQuery, ParamError> {
        RoomsQuery::from_query_string(q)
    }

    /// The 400's message of a query that must be refused.
    pub fn err(q: &str) -> String {
        parse(q).unwrap_err().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{err, parse};
    use super::*;

    #[test]
    fn no_parameters_give_the_default_query() {
        assert_eq!(parse("").unwrap(), RoomsQuery::default());
    }

    fn pattern(text: &str) -> LiteralPattern {
        LiteralPattern::new(text).unwrap()
    }

    #[test]
    fn department_id_empty_or_undefined_means_no_filter() {
        assert_eq!(parse("departmentId=").unwrap().departments, None);
        assert_eq!(parse("departmentId=undefined").unwrap().departments, None);
    }

    #[test]
    fn department_id_is_read_as_one_id_or_a_list() {
        assert_eq!(
            parse("departmentId=d1").unwrap().departments,
            Some(Departments::One("d1".into()))
        );
        assert_eq!(
            parse("departmentId[]=d1").unwrap().departments,
            Some(Departments::Any(vec!["d1".into()]))
        );
    }

    #[test]
    fn open_other_than_true_or_false_is_ignored() {
        assert_eq!(parse("open=true").unwrap().open, Some(true));
        assert_eq!(parse("open=false").unwrap().open, Some(false));
        assert_eq!(parse("open=yes").unwrap().open, None);
        assert_eq!(parse("open=TRUE").unwrap().open, None);
    }

    #[test]
    fn a_room_name_too_long_for_a_mongodb_pattern_is_rejected() {
        let fits = "a".repeat(MAX_REGEX_BYTES);
        assert!(parse(&format!("roomName={fits}")).is_ok());
        // Each `.` is escaped to two bytes.
        let dots = ".".repeat(MAX_REGEX_BYTES / 2 + 1);
        assert_eq!(
            err(&format!("roomName={dots}")),
            r#"The "roomName" query parameter is too long"#
        );
        // An exact name is no pattern.
        assert!(parse(&format!("roomName=%22{dots}%22")).is_ok());
    }

    #[test]
    fn room_name_in_quotes_is_exact() {
        assert_eq!(
            parse("roomName=%22Ada%22").unwrap().room_name,
            Some(RoomName::Exact("Ada".into()))
        );
        assert_eq!(
            parse("roomName=%22").unwrap().room_name,
            Some(RoomName::Exact(String::new()))
        );
        assert_eq!(
            parse("roomName=Ada").unwrap().room_name,
            Some(RoomName::Contains(pattern("Ada")))
        );
        assert_eq!(parse("roomName=").unwrap().room_name, None);
    }

    #[test]
    fn onhold_and_queued_accept_t_true_and_1() {
        for v in ["t", "true", "1"] {
            assert!(parse(&format!("onhold={v}")).unwrap().onhold, "{v}");
            assert!(parse(&format!("queued={v}")).unwrap().queued, "{v}");
        }
        for v in ["false", "0", "yes", "", "True"] {
            assert!(!parse(&format!("onhold={v}")).unwrap().onhold, "{v}");
        }
    }

    #[test]
    fn only_agent_means_exactly_the_user_alone() {
        assert!(parse("agents[]=u1").unwrap().is_only_agent("u1"));
        assert!(!parse("agents[]=u1&agents[]=u1")
            .unwrap()
            .is_only_agent("u1"));
        assert!(!parse("agents[]=u2").unwrap().is_only_agent("u1"));
        assert!(!parse("").unwrap().is_only_agent("u1"));
    }
}
