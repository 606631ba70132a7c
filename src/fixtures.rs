//! Loads fixture files into a database: each `<collection>.json` in a folder is a JSON array of
//! documents in Extended JSON v2 (`{"$date": ...}`, `{"$oid": ...}`, ...), key order kept.
//! This is the one place the project writes, and only when asked (`livechat-rooms load-fixtures`).

use std::path::{Path, PathBuf};

use mongodb::bson::{doc, Bson, Document};
use mongodb::Database;

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "collection {0} already has documents; pass --replace to drop it first, --if-empty to \
         leave it as it is, --add to add to it, or --merge to add only the documents it lacks"
    )]
    NotEmpty(String),
    #[error("database: {0}")]
    Database(#[from] mongodb::error::Error),
}

/// Reads one fixture file into documents.
pub fn read_file(path: &Path) -> Result<Vec<Document>, FixtureError> {
    let invalid = |reason: String| FixtureError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
        path: path.to_owned(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let serde_json::Value::Array(items) = value else {
        return Err(invalid("must hold a JSON array of documents".into()));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match Bson::try_from(item) {
            Ok(Bson::Document(doc)) => Ok(doc),
            Ok(_) => Err(invalid(format!("item {i} is not a document"))),
            Err(e) => Err(invalid(format!("item {i}: {e}"))),
        })
        .collect()
}

/// What to do with a collection that already holds documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Stop with [`FixtureError::NotEmpty`] (the default).
    Refuse,
    /// Drop it and load the file (`--replace`).
    Replace,
    /// Leave it as it is and load nothing into it (`--if-empty`: safe to run on every start).
    Skip,
    /// Insert the file's documents beside those already there (`--add`: a set that extends
    /// another, such as `fixtures/enterprise`).
    Add,
    /// Insert only the documents whose `_id` the collection does not hold yet (`--merge`: the
    /// compose demo loads the fixtures into a database Rocket.Chat has already set up, keeping
    /// Rocket.Chat's own settings, permissions and users).
    Merge,
}

/// Loads every `*.json` file of `dir` into the collection named after it, in name order. Returns
/// each collection with the number of documents inserted, `None` for one left as it was
/// (`--if-empty` on a collection that has documents).
pub async fn load_dir(
    db: &Database,
    dir: &Path,
    existing: Existing,
) -> Result<Vec<(String, Option<usize>)>, FixtureError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| FixtureError::Read {
            path: dir.to_owned(),
            source,
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut loaded = Vec::new();
    for path in files {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let docs = read_file(&path)?;
        let collection = db.collection::<Document>(&name);
        if existing == Existing::Replace {
            collection.drop().await?;
        } else if !matches!(existing, Existing::Add | Existing::Merge)
            && collection.estimated_document_count().await? > 0
        {
            if existing == Existing::Skip {
                loaded.push((name, None));
                continue;
            }
            return Err(FixtureError::NotEmpty(name));
        }
        let docs = if existing == Existing::Merge {
            let mut new = Vec::with_capacity(docs.len());
            for doc in docs {
                let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
                if collection.count_documents(doc! {"_id": id}).await? == 0 {
                    new.push(doc);
                }
            }
            new
        } else {
            docs
        };
        if !docs.is_empty() {
            collection.insert_many(&docs).await?;
        }
        loaded.push((name, Some(docs.len())));
    }
    Ok(loaded)
}
