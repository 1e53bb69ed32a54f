//! The versioned schema of the SQLite store, upgraded in place at open.
//!
//! The version is `PRAGMA user_version`: 0 is an empty database, `N` the schema after step `N`
//! of `MIGRATIONS`. Opening runs every pending step in ONE transaction with the new version,
//! so an upgrade that fails leaves the database exactly as it was. A schema change (object
//! versioning, accounts...) appends a step; a step that has shipped is never edited.
//! Version 1 is the schema Tessera shipped first; `crates/tessera/tests/fixtures/datadir-v1` is a
//! data dir of it, read back by every test run.

use rusqlite::{Connection, TransactionBehavior};
use tracing::info;

use crate::sqlite::Db as _;

/// One schema step, from the version before it to its own (its position in the list, from 1).
pub(crate) struct Migrate {
    /// What the step does, for the log and the error of a failed upgrade.
    pub(crate) what: &'static str,
    /// Runs the step inside the upgrade transaction.
    pub(crate) apply: fn(&Connection) -> rusqlite::Result<()>,
}

/// Every schema step, in order: step `i` (from 0) brings version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[Migrate] = &[
    Migrate {
        what: "initial schema",
        apply: v1_initial,
    },
    Migrate {
        what: "accounts, users, access keys, user policies; bucket owners, upload initiators",
        apply: v2_accounts,
    },
    Migrate {
        what:
            "bucket settings (policy, ACL, public access block, ownership); object owners and ACLs",
        apply: v3_access,
    },
    Migrate {
        what: "object versions and delete markers; storage class, redirect and tags",
        apply: v4_versions,
    },
    Migrate {
        what: "named leases (one node runs the lifecycle worker)",
        apply: v5_leases,
    },
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why the metadata store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database was written by a newer Tessera: refused, never downgraded.
    #[error(
        "metadata schema version {found} is newer than this tessera supports ({supported}); upgrade tessera"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    /// `user_version` holds something no Tessera writes.
    #[error("metadata schema version {0} is not valid")]
    BadVersion(i64),
    /// A step failed; the upgrade was rolled back and the database is as it was.
    #[error("metadata schema upgrade to version {version} ({what}) failed")]
    Migration {
        version: i64,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// Any other failure (the file, SQLite, the writer thread).
    #[error(transparent)]
    Store(#[from] tessera_core::Error),
}

/// The version recorded in the database.
pub(crate) fn user_version(conn: &Connection) -> tessera_core::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).db()
}

/// Brings the database to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), OpenError> {
    run(conn, MIGRATIONS)
}

/// Applies the steps of `steps` the database has not had yet, in one transaction.
fn run(conn: &mut Connection, steps: &[Migrate]) -> Result<(), OpenError> {
    let supported = i64::try_from(steps.len()).unwrap_or(i64::MAX);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    let found = user_version(&tx)?;
    if found > supported {
        return Err(OpenError::SchemaTooNew { found, supported });
    }
    let Ok(done) = usize::try_from(found) else {
        return Err(OpenError::BadVersion(found));
    };
    if done == steps.len() {
        return Ok(());
    }
    for (version, step) in (found + 1..).zip(&steps[done..]) {
        info!(
            from = version - 1,
            to = version,
            step = step.what,
            "upgrading the metadata schema"
        );
        (step.apply)(&tx).map_err(|source| OpenError::Migration {
            version,
            what: step.what,
            source,
        })?;
    }
    tx.pragma_update(None, "user_version", supported).db()?;
    tx.commit().db()?;
    info!(version = supported, "metadata schema upgraded");
    Ok(())
}

/// Version 1: buckets, objects and their segments, uploads and parts, completed uploads.
fn v1_initial(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "
CREATE TABLE buckets (
    name    TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    region  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE objects (
    bucket              TEXT NOT NULL,
    key                 BLOB NOT NULL,
    object_id           TEXT NOT NULL UNIQUE,
    size                INTEGER NOT NULL,
    etag                TEXT NOT NULL,
    last_modified       INTEGER NOT NULL,
    content_type        TEXT,
    content_encoding    TEXT,
    content_disposition TEXT,
    content_language    TEXT,
    cache_control       TEXT,
    expires             TEXT,
    user_metadata       TEXT,
    checksum_algorithm  TEXT,
    checksum_type       TEXT,
    checksum_value      TEXT,
    parts_count         INTEGER,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;

CREATE TABLE segments (
    object_id   TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    offset      INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    blob        TEXT NOT NULL,
    etag        TEXT NOT NULL,
    checksums   TEXT NOT NULL,
    PRIMARY KEY (object_id, part_number)
) WITHOUT ROWID;
CREATE INDEX segments_by_offset ON segments (object_id, offset);
CREATE INDEX segments_by_blob ON segments (blob);

CREATE TABLE uploads (
    upload_id           TEXT PRIMARY KEY,
    bucket              TEXT NOT NULL,
    key                 BLOB NOT NULL,
    initiated           INTEGER NOT NULL,
    content_type        TEXT,
    content_encoding    TEXT,
    content_disposition TEXT,
    content_language    TEXT,
    cache_control       TEXT,
    expires             TEXT,
    user_metadata       TEXT,
    checksum_algorithm  TEXT,
    checksum_type       TEXT
);
CREATE INDEX uploads_by_key ON uploads (bucket, key, initiated, upload_id);

CREATE TABLE parts (
    upload_id     TEXT NOT NULL,
    part_number   INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    blob          TEXT NOT NULL,
    checksums     TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE INDEX parts_by_blob ON parts (blob);

CREATE TABLE completed_uploads (
    upload_id          TEXT PRIMARY KEY,
    bucket             TEXT NOT NULL,
    key                TEXT NOT NULL,
    etag               TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type      TEXT,
    checksum_value     TEXT,
    completed          INTEGER NOT NULL
);
CREATE INDEX completed_uploads_by_bucket ON completed_uploads (bucket);
CREATE INDEX completed_uploads_by_time ON completed_uploads (completed);
",
    )
}

/// Version 2: accounts, IAM users, access keys, inline user policies and the auth epoch;
/// buckets gain their owner account, uploads their initiator (an ARN). Existing buckets and
/// uploads belong to a root account created here (the server gives it the configured root key
/// at start, as the first account); with none, the server creates that account itself.
fn v2_accounts(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "
CREATE TABLE accounts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL UNIQUE,
    email        TEXT,
    canonical_id TEXT NOT NULL UNIQUE,
    created      INTEGER NOT NULL
);

CREATE TABLE users (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL COLLATE NOCASE,
    path       TEXT NOT NULL,
    user_id    TEXT NOT NULL UNIQUE,
    arn        TEXT NOT NULL,
    created    INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

CREATE TABLE access_keys (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    access_key_id     TEXT NOT NULL UNIQUE,
    secret            TEXT NOT NULL,
    status            TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    user_name         TEXT COLLATE NOCASE,
    created           INTEGER NOT NULL,
    last_used_at      INTEGER,
    last_used_service TEXT,
    last_used_region  TEXT
);
CREATE INDEX access_keys_by_owner ON access_keys (account_id, user_name);

CREATE TABLE user_policies (
    account_id TEXT NOT NULL,
    user_name  TEXT NOT NULL COLLATE NOCASE,
    name       TEXT NOT NULL,
    document   TEXT NOT NULL,
    PRIMARY KEY (account_id, user_name, name)
) WITHOUT ROWID;

CREATE TABLE auth_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 0),
    epoch INTEGER NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (0, 0);

ALTER TABLE buckets ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX buckets_by_owner ON buckets (owner, name);
ALTER TABLE uploads ADD COLUMN initiator TEXT NOT NULL DEFAULT '';

INSERT INTO accounts (id, name, email, canonical_id, created)
SELECT printf('%d', 100000000000 + abs(random() % 900000000000)), 'root', NULL,
       lower(hex(randomblob(32))), CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE EXISTS (SELECT 1 FROM buckets) OR EXISTS (SELECT 1 FROM uploads);
UPDATE buckets SET owner = (SELECT id FROM accounts ORDER BY seq LIMIT 1);
UPDATE uploads SET initiator = 'arn:aws:iam::' || (SELECT id FROM accounts ORDER BY seq LIMIT 1) || ':root';
",
    )
}

/// Version 3: buckets gain their configuration documents (a JSON object of name -> document);
/// objects and uploads their owner account and ACL. Existing objects and uploads belong to
/// their bucket's owner, with no ACL (the owner alone, full control).
fn v3_access(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "
ALTER TABLE buckets ADD COLUMN settings TEXT;
ALTER TABLE objects ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN acl TEXT;
ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN acl TEXT;
UPDATE objects SET owner = (SELECT owner FROM buckets WHERE buckets.name = objects.bucket);
UPDATE uploads SET owner = (SELECT owner FROM buckets WHERE buckets.name = uploads.bucket);
",
    )
}

/// Version 4: versions. `objects` keeps the current version of each key (an object or a
/// delete marker), `versions` every other one, both with the same columns; a sequencer orders
/// a key's versions, newest first. Existing objects become `null` versions ordered by their
/// last-modified time; uploads get the sequencer of their initiation. Objects and uploads gain
/// `attrs` (storage class, website redirect, tags).
fn v4_versions(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "
ALTER TABLE objects ADD COLUMN version_id TEXT NOT NULL DEFAULT 'null';
ALTER TABLE objects ADD COLUMN sequencer TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN delete_marker INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN attrs TEXT;
UPDATE objects SET sequencer =
    printf('%019d', 9223372036854775807 - last_modified * 1000) || lower(hex(randomblob(8)));

CREATE TABLE versions (
    bucket              TEXT NOT NULL,
    key                 BLOB NOT NULL,
    object_id           TEXT NOT NULL UNIQUE,
    size                INTEGER NOT NULL,
    etag                TEXT NOT NULL,
    last_modified       INTEGER NOT NULL,
    content_type        TEXT,
    content_encoding    TEXT,
    content_disposition TEXT,
    content_language    TEXT,
    cache_control       TEXT,
    expires             TEXT,
    user_metadata       TEXT,
    checksum_algorithm  TEXT,
    checksum_type       TEXT,
    checksum_value      TEXT,
    parts_count         INTEGER,
    owner               TEXT NOT NULL DEFAULT '',
    acl                 TEXT,
    version_id          TEXT NOT NULL,
    sequencer           TEXT NOT NULL,
    delete_marker       INTEGER NOT NULL DEFAULT 0,
    attrs               TEXT,
    PRIMARY KEY (bucket, key, sequencer)
) WITHOUT ROWID;
CREATE UNIQUE INDEX versions_by_id ON versions (bucket, key, version_id);

ALTER TABLE uploads ADD COLUMN sequencer TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN attrs TEXT;
UPDATE uploads SET sequencer =
    printf('%019d', 9223372036854775807 - initiated * 1000) || lower(hex(randomblob(8)));

ALTER TABLE completed_uploads ADD COLUMN version_id TEXT NOT NULL DEFAULT 'null';
",
    )
}

/// Version 5: named leases with their holder and expiry, so that of the nodes sharing the
/// store one at a time does a background job (the lifecycle worker).
fn v5_leases(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
) WITHOUT ROWID;
",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteMetaStore;
    use tessera_core::MetaStore;

    fn table_exists(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }

    /// A version-1 database holding one bucket and one upload, as the first release left it.
    async fn v1_database(path: &std::path::Path) {
        let mut conn = Connection::open(path).unwrap();
        run(&mut conn, &MIGRATIONS[..1]).unwrap();
        conn.execute_batch(
            "INSERT INTO buckets (name, created, region) VALUES ('kept', 1, 'r');
             INSERT INTO uploads (upload_id, bucket, key, initiated) VALUES ('u1', 'kept', x'6b', 2);",
        )
        .unwrap();
        assert_eq!(user_version(&conn).unwrap(), 1);
    }

    /// Step 2 gives existing buckets and uploads to a root account it creates.
    #[tokio::test]
    async fn step_two_gives_old_buckets_to_a_root_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        v1_database(&path).await;
        let store = SqliteMetaStore::open(&path).await.unwrap();
        let accounts = store.list_accounts().await.unwrap();
        assert_eq!(accounts.len(), 1);
        let root = &accounts[0];
        assert_eq!(root.name, "root");
        assert!(
            tessera_core::accounts::is_account_id(&root.id),
            "{}",
            root.id
        );
        assert_eq!(root.canonical_id.len(), 64);
        assert_eq!(
            store.get_bucket("kept").await.unwrap().unwrap().owner,
            root.id
        );
        let upload = store.get_upload("u1").await.unwrap().unwrap();
        assert_eq!(upload.initiator, format!("arn:aws:iam::{}:root", root.id));
        // Step 4: the upload's sequencer is that of its initiation (2 ms after the epoch).
        assert_eq!(upload.sequencer.len(), 35);
        assert_eq!(&upload.sequencer[..19], &format!("{:019}", i64::MAX - 2000));
        // Step 3: owners come from the bucket, no ACL, no settings.
        assert_eq!(
            (upload.owner.as_str(), upload.acl.as_deref()),
            (root.id.as_str(), None)
        );
        assert!(store
            .get_bucket("kept")
            .await
            .unwrap()
            .unwrap()
            .settings
            .is_empty());
    }

    /// A fresh database gets no account from the migration (the server makes the root one).
    #[tokio::test]
    async fn fresh_database_has_no_account() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(&dir.path().join("m.db"))
            .await
            .unwrap();
        assert!(store.list_accounts().await.unwrap().is_empty());
    }

    fn add_notes(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    }

    fn fail(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch("INSERT INTO no_such_table VALUES (1)")
    }

    fn steps_with(extra: &[Migrate]) -> Vec<Migrate> {
        let mut steps: Vec<Migrate> = MIGRATIONS
            .iter()
            .map(|m| Migrate {
                what: m.what,
                apply: m.apply,
            })
            .collect();
        steps.extend(extra.iter().map(|m| Migrate {
            what: m.what,
            apply: m.apply,
        }));
        steps
    }

    #[test]
    fn fresh_database_gets_every_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("m.db")).unwrap();
        let steps = steps_with(&[Migrate {
            what: "notes",
            apply: add_notes,
        }]);
        run(&mut conn, &steps).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION + 1);
        assert!(table_exists(&conn, "buckets") && table_exists(&conn, "notes"));
        assert!(table_exists(&conn, "accounts") && table_exists(&conn, "access_keys"));
        // Up to date: running again changes nothing.
        run(&mut conn, &steps).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION + 1);
    }

    /// An appended step upgrades a version-1 database in place, keeping its data.
    #[tokio::test]
    async fn appended_step_upgrades_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        v1_database(&path).await;
        let mut conn = Connection::open(&path).unwrap();
        let steps = steps_with(&[Migrate {
            what: "notes",
            apply: add_notes,
        }]);
        run(&mut conn, &steps).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION + 1);
        assert!(table_exists(&conn, "notes"));
        let name: String = conn
            .query_row("SELECT name FROM buckets", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "kept");
    }

    /// A step that fails rolls the whole upgrade back: the steps before it too.
    #[tokio::test]
    async fn failed_step_rolls_the_whole_upgrade_back() {
        let version = SCHEMA_VERSION + 2;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        v1_database(&path).await;
        {
            let mut conn = Connection::open(&path).unwrap();
            let steps = steps_with(&[
                Migrate {
                    what: "notes",
                    apply: add_notes,
                },
                Migrate {
                    what: "broken step",
                    apply: fail,
                },
            ]);
            let err = run(&mut conn, &steps).unwrap_err();
            assert!(
                matches!(
                    err,
                    OpenError::Migration {
                        version: v,
                        what: "broken step",
                        ..
                    } if v == version
                ),
                "{err:?}"
            );
            assert_eq!(user_version(&conn).unwrap(), 1);
            assert!(
                !table_exists(&conn, "notes"),
                "the step before was rolled back"
            );
            assert!(!table_exists(&conn, "accounts"), "step 2 was rolled back");
        }
        // The old version still opens and reads.
        let store = SqliteMetaStore::open(&path).await.unwrap();
        assert!(store.get_bucket("kept").await.unwrap().is_some());
    }

    /// A database of a newer schema is refused, with a one-line message, and left untouched.
    #[tokio::test]
    async fn newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        v1_database(&path).await;
        let newer = SCHEMA_VERSION + 1;
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", newer)
            .unwrap();
        let err = SqliteMetaStore::open(&path).await.err().unwrap();
        assert!(
            matches!(err, OpenError::SchemaTooNew { found, supported }
                if found == newer && supported == SCHEMA_VERSION),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "metadata schema version {newer} is newer than this tessera supports \
                 ({SCHEMA_VERSION}); upgrade tessera"
            )
        );
        let conn = Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), newer);
    }

    #[test]
    fn negative_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("m.db")).unwrap();
        conn.pragma_update(None, "user_version", -3).unwrap();
        assert!(matches!(migrate(&mut conn), Err(OpenError::BadVersion(-3))));
    }
}
