//! What an index of `rocketchat_room` can serve, by MongoDB's planner rules (contract §4b): the
//! index list as [`IndexSpec`]s, and a filter as the conjunction the planner reads ([`Filter`]).
//! Pure: the index list is read elsewhere and passed in; [`super::sort_plan`] decides from it.
//!
//! MongoDB sorts from an index only when the sort keys follow the index keys in the same order,
//! all directions equal or all reversed, once the index fields the filter pins by equality are
//! taken out of both (the planner's "provided sort" ignores point-bound fields); a partial index
//! only when the filter implies its partial filter; never a sparse, hidden or non-simple
//! collation index, nor a special one (text, hashed, 2dsphere, wildcard).

use mongodb::bson::{doc, Bson, Document};

/// One index of `rocketchat_room`, reduced to what decides whether it can serve a sort.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    pub name: String,
    /// The key pattern, each direction `1` or `-1`.
    pub keys: Vec<(String, i32)>,
    pub partial: Option<Document>,
    /// False for a sparse, hidden or collated index, or a special one: it never serves a sort.
    pub sorts: bool,
}

impl IndexSpec {
    /// From one document of `listIndexes`' reply; `None` when it has no readable key pattern.
    pub fn from_list_entry(entry: &Document) -> Option<Self> {
        let name = entry.get_str("name").unwrap_or_default().to_owned();
        let key = entry.get_document("key").ok()?;
        let mut keys = Vec::with_capacity(key.len());
        let mut ordinary = true;
        for (path, value) in key {
            let direction = match value {
                Bson::Int32(n) => f64::from(*n),
                Bson::Int64(n) => *n as f64,
                Bson::Double(n) => *n,
                _ => {
                    ordinary = false;
                    0.0
                }
            };
            keys.push((path.clone(), if direction < 0.0 { -1 } else { 1 }));
            ordinary &= direction != 0.0 && !path.contains("$**");
        }
        let flag = |name: &str| entry.get_bool(name).unwrap_or(false);
        let simple_collation = match entry.get_document("collation") {
            Ok(collation) => collation.get_str("locale") == Ok("simple"),
            Err(_) => true,
        };
        Some(IndexSpec {
            name,
            keys,
            partial: entry.get_document("partialFilterExpression").ok().cloned(),
            sorts: ordinary && !flag("sparse") && !flag("hidden") && simple_collation,
        })
    }

    /// An index with these keys (name, `{path: dir}`), for tests and the recommended indexes.
    pub fn new(name: &str, keys: &[(&str, i32)], partial: Option<Document>) -> Self {
        IndexSpec {
            name: name.to_owned(),
            keys: keys.iter().map(|(k, d)| ((*k).to_owned(), *d)).collect(),
            partial,
            sorts: true,
        }
    }

    /// The index as `createIndexes` takes it.
    pub fn to_create_entry(&self) -> Document {
        let mut key = Document::new();
        for (path, dir) in &self.keys {
            key.insert(path.as_str(), *dir);
        }
        let mut entry = doc! { "key": key, "name": self.name.as_str() };
        if let Some(partial) = &self.partial {
            entry.insert("partialFilterExpression", partial.clone());
        }
        entry
    }

    /// Whether this index returns the rooms matching `filter` already in `sort` order.
    pub fn serves(&self, filter: &Filter<'_>, sort: &[(String, i32)]) -> bool {
        if !self.sorts || self.partial.as_ref().is_some_and(|p| !filter.implies(p)) {
            return false;
        }
        let pinned = |path: &str| filter.pins(path) && self.keys.iter().any(|(k, _)| k == path);
        let index: Vec<&(String, i32)> = self.keys.iter().filter(|(k, _)| !pinned(k)).collect();
        let wanted: Vec<&(String, i32)> = sort.iter().filter(|(k, _)| !pinned(k)).collect();
        if wanted.len() > index.len() {
            return false;
        }
        let same = wanted
            .iter()
            .zip(&index)
            .all(|(w, i)| w.0 == i.0 && w.1 == i.1);
        let reversed = wanted
            .iter()
            .zip(&index)
            .all(|(w, i)| w.0 == i.0 && w.1 == -i.1);
        same || reversed
    }
}

/// A filter seen as a conjunction of `path: condition` clauses (top-level keys and those of a
/// top-level `$and`; an `$or` adds none).
pub struct Filter<'a>(Vec<(&'a str, &'a Bson)>);

impl<'a> Filter<'a> {
    pub fn new(filter: &'a Document) -> Self {
        let mut clauses = Vec::new();
        collect(filter, &mut clauses);
        Filter(clauses)
    }

    /// Some clause bounds `path` to a single value (a plain value, or `$eq` of one).
    pub fn pins(&self, path: &str) -> bool {
        self.conditions(path).any(|c| point(c).is_some())
    }

    fn conditions<'b>(&'b self, path: &'b str) -> impl Iterator<Item = &'a Bson> + 'b {
        self.0
            .iter()
            .filter(move |(p, _)| *p == path)
            .map(|(_, c)| *c)
    }

    /// Every clause of `partial` is implied by a clause of this filter: the same condition, an
    /// equality with the same value, or, for `$exists: true`, any equality with a non-null value.
    pub fn implies(&self, partial: &Document) -> bool {
        partial.iter().all(|(path, wanted)| {
            if path == "$and" {
                return match wanted {
                    Bson::Array(all) => all.iter().all(|c| match c {
                        Bson::Document(c) => self.implies(c),
                        _ => false,
                    }),
                    _ => false,
                };
            }
            self.conditions(path).any(|have| {
                if have == wanted {
                    return true;
                }
                let Some(value) = point(have) else {
                    return false;
                };
                match point(wanted) {
                    Some(wanted) => wanted == value,
                    None => {
                        *wanted == Bson::Document(doc! { "$exists": true }) && *value != Bson::Null
                    }
                }
            })
        })
    }
}

fn collect<'a>(filter: &'a Document, clauses: &mut Vec<(&'a str, &'a Bson)>) {
    for (path, condition) in filter {
        match (path.as_str(), condition) {
            ("$and", Bson::Array(all)) => {
                for clause in all {
                    if let Bson::Document(clause) = clause {
                        collect(clause, clauses);
                    }
                }
            }
            (p, _) if p.starts_with('$') => {}
            (p, c) => clauses.push((p, c)),
        }
    }
}

/// The one value a condition allows, if it allows one: a plain value (not a document, an array or
/// a pattern), `{$eq: value}` or `{$in: [value]}` (MongoDB reads a one-value `$in` as `$eq`),
/// optionally with `$exists: true`.
fn point(condition: &Bson) -> Option<&Bson> {
    let plain = |v: &Bson| {
        !matches!(
            v,
            Bson::Document(_) | Bson::Array(_) | Bson::RegularExpression(_)
        )
    };
    match condition {
        Bson::Document(ops) if ops.len() == 1 && ops.contains_key("$in") => match ops.get("$in") {
            Some(Bson::Array(values)) if values.len() == 1 && plain(&values[0]) => Some(&values[0]),
            _ => None,
        },
        Bson::Document(ops) => {
            let value = ops.get("$eq").filter(|v| plain(v))?;
            ops.iter()
                .all(|(op, v)| op == "$eq" || (op == "$exists" && *v == Bson::Boolean(true)))
                .then_some(value)
        }
        other => plain(other).then_some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort(keys: &[(&str, i32)]) -> Vec<(String, i32)> {
        keys.iter().map(|(k, d)| ((*k).to_owned(), *d)).collect()
    }

    #[test]
    fn mixed_directions_must_all_match_or_all_be_reversed() {
        let index = [IndexSpec::new("a_b", &[("a", 1), ("b", -1)], None)];
        assert!(index[0].serves(&Filter::new(&doc! {}), &sort(&[("a", 1), ("b", -1)])));
        assert!(index[0].serves(&Filter::new(&doc! {}), &sort(&[("a", -1), ("b", 1)])));
        assert!(!index[0].serves(&Filter::new(&doc! {}), &sort(&[("a", 1), ("b", 1)])));
        assert!(!index[0].serves(&Filter::new(&doc! {}), &sort(&[("b", -1)])));
        assert!(index[0].serves(&Filter::new(&doc! {}), &sort(&[("a", -1)])));
    }

    #[test]
    fn fields_pinned_by_equality_are_skipped_in_the_index_and_the_sort() {
        let index = IndexSpec::new("t_ts", &[("t", 1), ("ts", 1)], None);
        assert!(index.serves(&Filter::new(&doc! {"t": "l"}), &sort(&[("ts", -1)])));
        assert!(index.serves(
            &Filter::new(&doc! {"t": {"$eq": "l"}}),
            &sort(&[("ts", -1)])
        ));
        assert!(index.serves(
            &Filter::new(&doc! {"t": "l"}),
            &sort(&[("t", 1), ("ts", -1)])
        ));
        // Not pinned: a range, a list, or no clause at all.
        assert!(!index.serves(
            &Filter::new(&doc! {"t": {"$in": ["l", "c"]}}),
            &sort(&[("ts", -1)])
        ));
        assert!(index.serves(
            &Filter::new(&doc! {"t": {"$in": ["l"]}}),
            &sort(&[("ts", -1)])
        ));
        assert!(!index.serves(&Filter::new(&doc! {}), &sort(&[("ts", -1)])));
        // In the middle of an index, too; inside a top-level $and, too; never inside an $or.
        let middle = IndexSpec::new(
            "d_t_ts",
            &[("servedBy._id", 1), ("departmentId", 1), ("ts", -1)],
            None,
        );
        let filter = doc! {"servedBy._id": "a", "$and": [{"departmentId": "d"}]};
        assert!(middle.serves(&Filter::new(&filter), &sort(&[("ts", -1)])));
        let filter = doc! {"servedBy._id": "a", "$or": [{"departmentId": "d"}]};
        assert!(!middle.serves(&Filter::new(&filter), &sort(&[("ts", -1)])));
        // A sort key pinned by the filter but not in the index still needs sorting.
        let ts = IndexSpec::new("ts", &[("ts", 1)], None);
        assert!(!ts.serves(
            &Filter::new(&doc! {"open": true}),
            &sort(&[("open", 1), ("ts", 1)])
        ));
    }

    #[test]
    fn a_partial_index_serves_only_a_filter_that_implies_its_partial_filter() {
        let dept = IndexSpec::new(
            "d_ts",
            &[("departmentId", 1), ("ts", 1)],
            Some(doc! {"t": "l"}),
        );
        let sort_ts = sort(&[("ts", -1)]);
        assert!(dept.serves(
            &Filter::new(&doc! {"t": "l", "departmentId": "d1"}),
            &sort_ts
        ));
        assert!(!dept.serves(&Filter::new(&doc! {"departmentId": "d1"}), &sort_ts));
        assert!(!dept.serves(
            &Filter::new(&doc! {"t": "c", "departmentId": "d1"}),
            &sort_ts
        ));
        let exists = IndexSpec::new(
            "x",
            &[("ts", 1)],
            Some(doc! {"closedAt": {"$exists": true}}),
        );
        assert!(exists.serves(
            &Filter::new(&doc! {"closedAt": {"$exists": true}}),
            &sort_ts
        ));
        assert!(exists.serves(&Filter::new(&doc! {"closedAt": 5}), &sort_ts));
        assert!(!exists.serves(&Filter::new(&doc! {"closedAt": {"$gte": 5}}), &sort_ts));
        let both = IndexSpec::new(
            "y",
            &[("ts", 1)],
            Some(doc! {"$and": [{"t": "l"}, {"open": true}]}),
        );
        assert!(both.serves(&Filter::new(&doc! {"t": "l", "open": true}), &sort_ts));
        assert!(!both.serves(&Filter::new(&doc! {"t": "l"}), &sort_ts));
    }

    #[test]
    fn sparse_hidden_collated_and_special_indexes_never_serve_a_sort() {
        let entry = |extra: Document| {
            let mut e = doc! {"v": 2, "key": {"ts": 1}, "name": "ts_1"};
            e.extend(extra);
            IndexSpec::from_list_entry(&e).unwrap()
        };
        let f = doc! {"t": "l"};
        let s = sort(&[("ts", -1)]);
        assert!(entry(doc! {}).serves(&Filter::new(&f), &s));
        assert!(entry(doc! {"collation": {"locale": "simple"}}).serves(&Filter::new(&f), &s));
        assert!(!entry(doc! {"sparse": true}).serves(&Filter::new(&f), &s));
        assert!(!entry(doc! {"hidden": true}).serves(&Filter::new(&f), &s));
        assert!(!entry(doc! {"collation": {"locale": "en", "strength": 2}})
            .serves(&Filter::new(&f), &s));
        for key in [
            doc! {"ts": "hashed"},
            doc! {"fname": "text"},
            doc! {"$**": 1},
        ] {
            let special = IndexSpec::from_list_entry(&doc! {"key": key, "name": "x"}).unwrap();
            assert!(!special.sorts);
        }
        // Directions as MongoDB may store them: int64 and doubles.
        let long =
            IndexSpec::from_list_entry(&doc! {"key": {"ts": -1_i64, "_id": 1.0}, "name": "z"})
                .unwrap();
        assert_eq!(long.keys, sort(&[("ts", -1), ("_id", 1)]));
        assert!(long.sorts);
    }
}
