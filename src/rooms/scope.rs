//! [`Scope`]: which rooms a user may see (contract §3b), a value that authorization hands to the
//! filter builder beside the parsed query. Rocket.Chat Enterprise restricts monitors and agents to
//! their business units and departments; everyone else sees every room.

use std::sync::Arc;

use mongodb::bson::{doc, Document};

/// Roles that see every room even where units exist.
const UNRESTRICTED_ROLES: [&str; 2] = ["admin", "livechat-manager"];
/// Roles that are restricted to their units where units exist.
const RESTRICTED_ROLES: [&str; 2] = ["livechat-monitor", "livechat-agent"];

/// What the departments collection says about units: whether the workspace has any, and each
/// department's `ancestors` (the units it belongs to).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitTree {
    /// A `type: "u"` department exists.
    pub has_units: bool,
    /// `(_id, ancestors)` of every department that is not a unit itself.
    pub departments: Vec<(String, Vec<String>)>,
}

impl UnitTree {
    /// Whether a user with these roles is restricted here (§3b): the workspace has a unit, and the
    /// roles hold a monitor or agent role but neither admin nor livechat-manager.
    pub fn restricts(&self, roles: &[String]) -> bool {
        let has = |wanted: &[&str]| roles.iter().any(|r| wanted.contains(&r.as_str()));
        self.has_units && has(&RESTRICTED_ROLES) && !has(&UNRESTRICTED_ROLES)
    }
}

/// The rooms a request may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every room (Community, managers and admins, or a workspace without units).
    All,
    /// Only the rooms of these units and departments: `units` are the units the user monitors
    /// plus the departments they serve as an agent (Rocket.Chat's `getUnitsFromUser`).
    Restricted {
        units: Arc<Vec<String>>,
        tree: Arc<UnitTree>,
    },
}

impl Scope {
    /// The clause every listing of this scope is ANDed with, `None` for [`Scope::All`]. With a
    /// `units` parameter the user's units are narrowed to those (never widened): `U` = theirs ∩
    /// the parameter's; `D` = the departments whose `ancestors` meet `U` or whose `_id` is in `U`.
    /// Whether the user sees only their units' rooms.
    pub fn is_restricted(&self) -> bool {
        matches!(self, Scope::Restricted { .. })
    }

    pub fn clause(&self, units_param: Option<&[String]>) -> Option<Document> {
        let Scope::Restricted { units, tree } = self else {
            return None;
        };
        let units: Vec<&String> = units
            .iter()
            .filter(|u| units_param.is_none_or(|wanted| wanted.contains(u)))
            .collect();
        let departments: Vec<&String> = tree
            .departments
            .iter()
            .filter(|(id, ancestors)| {
                units.contains(&id) || ancestors.iter().any(|a| units.contains(&a))
            })
            .map(|(id, _)| id)
            .collect();
        Some(doc! { "$or": [
            { "departmentAncestors": { "$in": units } },
            { "departmentId": { "$in": departments } },
        ] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| (*s).to_owned()).collect()
    }

    fn tree() -> Arc<UnitTree> {
        Arc::new(UnitTree {
            has_units: true,
            departments: vec![
                ("d1".into(), vec!["u1".into()]),
                ("d2".into(), vec!["u1".into()]),
                ("d3".into(), vec!["u2".into()]),
                ("d4".into(), vec![]),
            ],
        })
    }

    #[test]
    fn monitors_and_agents_are_restricted_only_where_units_exist_and_not_as_managers() {
        let with_units = tree();
        assert!(with_units.restricts(&roles(&["user", "livechat-monitor"])));
        assert!(with_units.restricts(&roles(&["livechat-agent"])));
        assert!(!with_units.restricts(&roles(&["livechat-monitor", "livechat-manager"])));
        assert!(!with_units.restricts(&roles(&["livechat-agent", "admin"])));
        assert!(!with_units.restricts(&roles(&["user"])));
        assert!(!UnitTree::default().restricts(&roles(&["livechat-monitor"])));
    }

    fn restricted(units: &[&str]) -> Scope {
        Scope::Restricted {
            units: Arc::new(roles(units)),
            tree: tree(),
        }
    }

    #[test]
    fn the_clause_names_the_units_and_their_departments() {
        assert_eq!(Scope::All.clause(None), None);
        assert_eq!(
            restricted(&["u1"]).clause(None),
            Some(doc! {"$or": [
                {"departmentAncestors": {"$in": ["u1"]}},
                {"departmentId": {"$in": ["d1", "d2"]}},
            ]})
        );
        // An agent's departments count as units, and name themselves.
        assert_eq!(
            restricted(&["u2", "d4"]).clause(None),
            Some(doc! {"$or": [
                {"departmentAncestors": {"$in": ["u2", "d4"]}},
                {"departmentId": {"$in": ["d3", "d4"]}},
            ]})
        );
    }

    #[test]
    fn the_units_parameter_narrows_and_never_widens() {
        assert_eq!(
            restricted(&["u1", "u2"]).clause(Some(&roles(&["u2", "u3"]))),
            Some(doc! {"$or": [
                {"departmentAncestors": {"$in": ["u2"]}},
                {"departmentId": {"$in": ["d3"]}},
            ]})
        );
        let empty: Vec<String> = Vec::new();
        assert_eq!(
            restricted(&["u1"]).clause(Some(&roles(&["u2"]))),
            Some(doc! {"$or": [
                {"departmentAncestors": {"$in": &empty}},
                {"departmentId": {"$in": &empty}},
            ]})
        );
        assert_eq!(
            restricted(&[]).clause(None),
            Some(doc! {"$or": [
                {"departmentAncestors": {"$in": &empty}},
                {"departmentId": {"$in": &empty}},
            ]})
        );
    }
}
