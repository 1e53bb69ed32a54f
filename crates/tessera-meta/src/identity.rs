//! Accounts, users, access keys and inline policies in SQLite (schema step 2): the bodies of
//! the `MetaStore` identity methods, each run inside one write job or read transaction.
//! Every change bumps `auth_epoch`; a job that fails is rolled back with its bump.

use rusqlite::{params, Connection, OptionalExtension, Row};
use tessera_core::accounts::{
    policy_size, AccessKey, Account, KeyOwner, KeyStatus, KeyUse, User, UserPolicy,
    MAX_KEYS_PER_USER, MAX_USER_POLICY_CHARS,
};
use tessera_core::{Error, Result};

use crate::sqlite::Db as _;

const ACCOUNT_COLUMNS: &str = "id, name, email, canonical_id, created";
const USER_COLUMNS: &str = "account_id, name, path, user_id, arn, created";
const KEY_COLUMNS: &str = "access_key_id, secret, status, account_id, user_name, created, \
     last_used_at, last_used_service, last_used_region";

fn bump(conn: &Connection) -> Result<()> {
    conn.prepare_cached("UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 0")
        .db()?
        .execute([])
        .db()?;
    Ok(())
}

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        email: r.get(2)?,
        canonical_id: r.get(3)?,
        created: r.get(4)?,
    })
}

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        account_id: r.get(0)?,
        name: r.get(1)?,
        path: r.get(2)?,
        user_id: r.get(3)?,
        arn: r.get(4)?,
        created: r.get(5)?,
    })
}

/// A key row; `Err` text for a status no Tessera writes.
fn key_from_row(r: &Row<'_>) -> rusqlite::Result<std::result::Result<AccessKey, String>> {
    let status: String = r.get(2)?;
    let account_id: String = r.get(3)?;
    let user_name: Option<String> = r.get(4)?;
    let at: Option<i64> = r.get(6)?;
    let service: Option<String> = r.get(7)?;
    let region: Option<String> = r.get(8)?;
    let Some(status) = KeyStatus::parse(&status) else {
        return Ok(Err(format!("access key status {status:?}")));
    };
    Ok(Ok(AccessKey {
        access_key_id: r.get(0)?,
        secret: r.get(1)?,
        status,
        owner: match user_name {
            None => KeyOwner::Root { account_id },
            Some(user_name) => KeyOwner::User {
                account_id,
                user_name,
            },
        },
        created: r.get(5)?,
        last_used: match (at, service, region) {
            (Some(at), Some(service), Some(region)) => Some(KeyUse {
                at,
                service,
                region,
            }),
            _ => None,
        },
    }))
}

fn keys_where(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<AccessKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE {filter} ORDER BY seq");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map(args, key_from_row).db()?;
    let mut out = Vec::new();
    for row in rows {
        out.push(
            row.db()?
                .map_err(|what| Error::Internal(format!("corrupt metadata: {what}")))?,
        );
    }
    Ok(out)
}

fn exists(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<bool> {
    Ok(conn
        .prepare_cached(sql)
        .db()?
        .query_row(args, |_| Ok(()))
        .optional()
        .db()?
        .is_some())
}

fn account_exists(conn: &Connection, id: &str) -> Result<bool> {
    exists(conn, "SELECT 1 FROM accounts WHERE id = ?1", &[&id])
}

fn user_exists(conn: &Connection, account_id: &str, name: &str) -> Result<bool> {
    exists(
        conn,
        "SELECT 1 FROM users WHERE account_id = ?1 AND name = ?2",
        &[&account_id, &name],
    )
}

fn key_exists(conn: &Connection, id: &str) -> Result<bool> {
    exists(
        conn,
        "SELECT 1 FROM access_keys WHERE access_key_id = ?1",
        &[&id],
    )
}

fn no_user(name: &str) -> Error {
    Error::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

fn no_key(id: &str) -> Error {
    Error::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
}

fn insert_key(conn: &Connection, k: &AccessKey) -> Result<()> {
    let (at, service, region) = match &k.last_used {
        Some(u) => (
            Some(u.at),
            Some(u.service.as_str()),
            Some(u.region.as_str()),
        ),
        None => (None, None, None),
    };
    conn.prepare_cached(
        "INSERT INTO access_keys (access_key_id, secret, status, account_id, user_name, created, \
         last_used_at, last_used_service, last_used_region) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .db()?
    .execute(params![
        k.access_key_id,
        k.secret,
        k.status.as_str(),
        k.owner.account_id(),
        k.owner.user_name(),
        k.created,
        at,
        service,
        region
    ])
    .db()?;
    Ok(())
}

pub(crate) fn auth_epoch(conn: &Connection) -> Result<u64> {
    let e: i64 = conn
        .prepare_cached("SELECT epoch FROM auth_epoch WHERE id = 0")
        .db()?
        .query_row([], |r| r.get(0))
        .db()?;
    u64::try_from(e).map_err(|_| Error::Internal("corrupt metadata: auth epoch".into()))
}

pub(crate) fn create_account(
    conn: &Connection,
    a: &Account,
    key: Option<&AccessKey>,
) -> Result<()> {
    if exists(
        conn,
        "SELECT 1 FROM accounts WHERE id = ?1 OR name = ?2",
        &[&a.id, &a.name],
    )? {
        return Err(Error::EntityAlreadyExists(format!(
            "an account named {} or with id {} exists",
            a.name, a.id
        )));
    }
    if let Some(k) = key {
        if key_exists(conn, &k.access_key_id)? {
            return Err(Error::EntityAlreadyExists(format!(
                "access key {} exists",
                k.access_key_id
            )));
        }
    }
    conn.prepare_cached(
        "INSERT INTO accounts (id, name, email, canonical_id, created) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .db()?
    .execute(params![a.id, a.name, a.email, a.canonical_id, a.created])
    .db()?;
    if let Some(k) = key {
        insert_key(conn, k)?;
    }
    bump(conn)
}

pub(crate) fn list_accounts(conn: &Connection) -> Result<Vec<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY seq");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map([], account_from_row).db()?;
    rows.map(|r| r.db()).collect()
}

pub(crate) fn delete_account(conn: &Connection, id: &str) -> Result<()> {
    if !account_exists(conn, id)? {
        return Err(Error::NoSuchEntity(format!("no account {id}")));
    }
    if exists(
        conn,
        "SELECT 1 FROM buckets WHERE owner = ?1 LIMIT 1",
        &[&id],
    )? {
        return Err(Error::DeleteConflict(format!(
            "account {id} still owns buckets"
        )));
    }
    for sql in [
        "DELETE FROM user_policies WHERE account_id = ?1",
        "DELETE FROM access_keys WHERE account_id = ?1",
        "DELETE FROM users WHERE account_id = ?1",
        "DELETE FROM accounts WHERE id = ?1",
    ] {
        conn.prepare_cached(sql).db()?.execute([id]).db()?;
    }
    bump(conn)
}

pub(crate) fn set_root_key(conn: &Connection, key: &AccessKey) -> Result<()> {
    let account_id = key.owner.account_id();
    if key.owner.user_name().is_some() || !account_exists(conn, account_id)? {
        return Err(Error::NoSuchEntity(format!("no account {account_id}")));
    }
    if exists(
        conn,
        "SELECT 1 FROM access_keys WHERE access_key_id = ?1 \
         AND (account_id != ?2 OR user_name IS NOT NULL)",
        &[&key.access_key_id, &account_id],
    )? {
        return Err(Error::EntityAlreadyExists(format!(
            "access key {} belongs to another user",
            key.access_key_id
        )));
    }
    conn.prepare_cached("DELETE FROM access_keys WHERE account_id = ?1 AND user_name IS NULL")
        .db()?
        .execute([account_id])
        .db()?;
    insert_key(conn, key)?;
    bump(conn)
}

pub(crate) fn create_user(conn: &Connection, u: &User) -> Result<()> {
    if !account_exists(conn, &u.account_id)? {
        return Err(Error::NoSuchEntity(format!("no account {}", u.account_id)));
    }
    if user_exists(conn, &u.account_id, &u.name)? {
        return Err(Error::EntityAlreadyExists(format!(
            "User with name {} already exists.",
            u.name
        )));
    }
    conn.prepare_cached(
        "INSERT INTO users (account_id, name, path, user_id, arn, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .db()?
    .execute(params![u.account_id, u.name, u.path, u.user_id, u.arn, u.created])
    .db()?;
    bump(conn)
}

pub(crate) fn get_user(conn: &Connection, account_id: &str, name: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND name = ?2");
    conn.prepare_cached(&sql)
        .db()?
        .query_row([account_id, name], user_from_row)
        .optional()
        .db()
}

pub(crate) fn list_users(conn: &Connection, account_id: &str) -> Result<Vec<User>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 ORDER BY name COLLATE BINARY"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map([account_id], user_from_row).db()?;
    rows.map(|r| r.db()).collect()
}

pub(crate) fn update_user(conn: &Connection, account_id: &str, name: &str, u: &User) -> Result<()> {
    let Some(old) = get_user(conn, account_id, name)? else {
        return Err(no_user(name));
    };
    if !old.name.eq_ignore_ascii_case(&u.name) && user_exists(conn, account_id, &u.name)? {
        return Err(Error::EntityAlreadyExists(format!(
            "User with name {} already exists.",
            u.name
        )));
    }
    conn.prepare_cached(
        "UPDATE users SET name = ?3, path = ?4, arn = ?5 WHERE account_id = ?1 AND name = ?2",
    )
    .db()?
    .execute([account_id, &old.name, &u.name, &u.path, &u.arn])
    .db()?;
    for sql in [
        "UPDATE access_keys SET user_name = ?3 WHERE account_id = ?1 AND user_name = ?2",
        "UPDATE user_policies SET user_name = ?3 WHERE account_id = ?1 AND user_name = ?2",
    ] {
        conn.prepare_cached(sql)
            .db()?
            .execute([account_id, &old.name, &u.name])
            .db()?;
    }
    bump(conn)
}

pub(crate) fn delete_user(conn: &Connection, account_id: &str, name: &str) -> Result<()> {
    if !user_exists(conn, account_id, name)? {
        return Err(no_user(name));
    }
    let has_keys = exists(
        conn,
        "SELECT 1 FROM access_keys WHERE account_id = ?1 AND user_name = ?2 LIMIT 1",
        &[&account_id, &name],
    )?;
    let has_policies = exists(
        conn,
        "SELECT 1 FROM user_policies WHERE account_id = ?1 AND user_name = ?2 LIMIT 1",
        &[&account_id, &name],
    )?;
    if has_keys || has_policies {
        return Err(Error::DeleteConflict(
            "Cannot delete entity, must delete access keys and policies first.".into(),
        ));
    }
    conn.prepare_cached("DELETE FROM users WHERE account_id = ?1 AND name = ?2")
        .db()?
        .execute([account_id, name])
        .db()?;
    bump(conn)
}

pub(crate) fn create_access_key(conn: &Connection, k: &AccessKey) -> Result<()> {
    let account_id = k.owner.account_id();
    match k.owner.user_name() {
        None => {
            if !account_exists(conn, account_id)? {
                return Err(Error::NoSuchEntity(format!("no account {account_id}")));
            }
        }
        Some(user) => {
            if !user_exists(conn, account_id, user)? {
                return Err(no_user(user));
            }
            let n: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM access_keys WHERE account_id = ?1 AND user_name = ?2",
                )
                .db()?
                .query_row([account_id, user], |r| r.get(0))
                .db()?;
            if usize::try_from(n).unwrap_or(usize::MAX) >= MAX_KEYS_PER_USER {
                return Err(Error::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
                )));
            }
        }
    }
    if key_exists(conn, &k.access_key_id)? {
        return Err(Error::EntityAlreadyExists(format!(
            "access key {} exists",
            k.access_key_id
        )));
    }
    insert_key(conn, k)?;
    bump(conn)
}

pub(crate) fn get_access_key(conn: &Connection, id: &str) -> Result<Option<AccessKey>> {
    Ok(keys_where(conn, "access_key_id = ?1", &[&id])?
        .into_iter()
        .next())
}

pub(crate) fn list_access_keys(conn: &Connection, owner: &KeyOwner) -> Result<Vec<AccessKey>> {
    match owner.user_name() {
        None => keys_where(
            conn,
            "account_id = ?1 AND user_name IS NULL",
            &[&owner.account_id()],
        ),
        Some(user) => keys_where(
            conn,
            "account_id = ?1 AND user_name = ?2",
            &[&owner.account_id(), &user],
        ),
    }
}

pub(crate) fn set_access_key_status(conn: &Connection, id: &str, status: KeyStatus) -> Result<()> {
    let n = conn
        .prepare_cached("UPDATE access_keys SET status = ?2 WHERE access_key_id = ?1")
        .db()?
        .execute([id, status.as_str()])
        .db()?;
    if n == 0 {
        return Err(no_key(id));
    }
    bump(conn)
}

pub(crate) fn delete_access_key(conn: &Connection, id: &str) -> Result<()> {
    let n = conn
        .prepare_cached("DELETE FROM access_keys WHERE access_key_id = ?1")
        .db()?
        .execute([id])
        .db()?;
    if n == 0 {
        return Err(no_key(id));
    }
    bump(conn)
}

pub(crate) fn record_key_use(conn: &Connection, id: &str, used: &KeyUse) -> Result<()> {
    conn.prepare_cached(
        "UPDATE access_keys SET last_used_at = ?2, last_used_service = ?3, last_used_region = ?4 \
         WHERE access_key_id = ?1",
    )
    .db()?
    .execute(params![id, used.at, used.service, used.region])
    .db()?;
    Ok(())
}

fn policies_of(conn: &Connection, account_id: &str, user: &str) -> Result<Vec<UserPolicy>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, document FROM user_policies WHERE account_id = ?1 AND user_name = ?2 \
             ORDER BY name",
        )
        .db()?;
    let rows = stmt
        .query_map([account_id, user], |r| {
            Ok(UserPolicy {
                name: r.get(0)?,
                document: r.get(1)?,
            })
        })
        .db()?;
    rows.map(|r| r.db()).collect()
}

pub(crate) fn put_user_policy(
    conn: &Connection,
    account_id: &str,
    user: &str,
    p: &UserPolicy,
) -> Result<()> {
    if !user_exists(conn, account_id, user)? {
        return Err(no_user(user));
    }
    let others: usize = policies_of(conn, account_id, user)?
        .iter()
        .filter(|o| o.name != p.name)
        .map(|o| policy_size(&o.document))
        .sum();
    if others + policy_size(&p.document) > MAX_USER_POLICY_CHARS {
        return Err(Error::LimitExceeded(format!(
            "Maximum policy size of {MAX_USER_POLICY_CHARS} bytes exceeded for user {user}"
        )));
    }
    conn.prepare_cached(
        "INSERT INTO user_policies (account_id, user_name, name, document) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (account_id, user_name, name) DO UPDATE SET document = excluded.document",
    )
    .db()?
    .execute([account_id, user, &p.name, &p.document])
    .db()?;
    bump(conn)
}

pub(crate) fn list_user_policies(
    conn: &Connection,
    account_id: &str,
    user: &str,
) -> Result<Vec<UserPolicy>> {
    if !user_exists(conn, account_id, user)? {
        return Err(no_user(user));
    }
    policies_of(conn, account_id, user)
}

pub(crate) fn delete_user_policy(
    conn: &Connection,
    account_id: &str,
    user: &str,
    name: &str,
) -> Result<()> {
    if !user_exists(conn, account_id, user)? {
        return Err(no_user(user));
    }
    let n = conn
        .prepare_cached(
            "DELETE FROM user_policies WHERE account_id = ?1 AND user_name = ?2 AND name = ?3",
        )
        .db()?
        .execute([account_id, user, name])
        .db()?;
    if n == 0 {
        return Err(Error::NoSuchEntity(format!(
            "The user policy with name {name} cannot be found."
        )));
    }
    bump(conn)
}
