//! `tessera admin ...` against a data dir, as an operator runs it: JSON on stdout, refusals
//! with a one-line message and exit code 1, the root account made first, and the same data
//! dir used by a running server at the same time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A `tessera` command with no inherited `TESSERA_*` variables and fixed root keys.
fn tessera() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG")
        .env("TESSERA_ROOT_ACCESS_KEY", "rootaccesskey0000001")
        .env("TESSERA_ROOT_SECRET_KEY", "rootsecretkey0123456789")
        .stdin(Stdio::null());
    cmd
}

/// Runs `tessera admin --data-dir DIR ARGS...`, which must succeed; its JSON output.
fn admin(dir: &Path, args: &[&str]) -> Value {
    let out = tessera()
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs an admin command that must be refused; its one-line message.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = tessera()
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#;

#[test]
fn accounts_users_keys_and_policies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");

    let alt = admin(
        &dir,
        &[
            "account",
            "create",
            "alt",
            "--email",
            "alt@example.com",
            "--access-key",
            "AKIAALTACCOUNT000001",
            "--secret-key",
            "altsecretkey0123456789",
        ],
    );
    let account_id = alt["account_id"].as_str().unwrap().to_owned();
    assert_eq!(account_id.len(), 12);
    assert!(account_id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(alt["canonical_user_id"].as_str().unwrap().len(), 64);
    assert_eq!(alt["access_key_id"], "AKIAALTACCOUNT000001");
    assert_eq!(alt["secret_access_key"], "altsecretkey0123456789");

    // The root account came first, with the configured key; generated keys have AWS's shape.
    let list = admin(&dir, &["account", "list"]);
    let names: Vec<&str> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["root", "alt"]);
    let generated = admin(&dir, &["account", "create", "third"]);
    assert!(generated["access_key_id"]
        .as_str()
        .unwrap()
        .starts_with("AKIA"));
    assert_eq!(generated["secret_access_key"].as_str().unwrap().len(), 40);

    assert!(refused(&dir, &["account", "create", "alt"]).contains("exists"));
    assert!(refused(&dir, &["account", "create", "Bad Name"]).contains("account name"));
    assert!(refused(&dir, &["account", "delete", "root"]).contains("root account"));

    // Users by account name or id.
    let bob = admin(
        &dir,
        &[
            "user",
            "create",
            "--account",
            "alt",
            "--path",
            "/team/",
            "bob",
        ],
    );
    assert_eq!(
        bob["arn"],
        format!("arn:aws:iam::{account_id}:user/team/bob")
    );
    assert!(bob["user_id"].as_str().unwrap().starts_with("AIDA"));
    assert!(refused(&dir, &["user", "create", "--account", &account_id, "BOB"]).contains("exists"));
    let users = admin(&dir, &["user", "list", "--account", &account_id]);
    assert_eq!(users["users"].as_array().unwrap().len(), 1);

    // Two keys at most.
    let k1 = admin(
        &dir,
        &["user", "key", "create", "--account", "alt", "--user", "bob"],
    );
    let k1 = k1["access_key_id"].as_str().unwrap().to_owned();
    admin(
        &dir,
        &["user", "key", "create", "--account", "alt", "--user", "bob"],
    );
    assert!(refused(
        &dir,
        &["user", "key", "create", "--account", "alt", "--user", "bob"]
    )
    .contains("AccessKeysPerUser"));
    let d = admin(
        &dir,
        &[
            "user",
            "key",
            "deactivate",
            "--account",
            "alt",
            "--user",
            "bob",
            &k1,
        ],
    );
    assert_eq!(d["status"], "Inactive");
    let keys = admin(
        &dir,
        &["user", "key", "list", "--account", "alt", "--user", "bob"],
    );
    let keys = keys["access_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["status"], "Inactive");
    assert!(
        keys[0].get("secret_access_key").is_none(),
        "no secret in listings"
    );

    // Policies: validated, read back as stored, listed.
    let doc_file = tmp.path().join("ro.json");
    std::fs::write(&doc_file, READ_ONLY).unwrap();
    admin(
        &dir,
        &[
            "user",
            "policy",
            "put",
            "--account",
            "alt",
            "--user",
            "bob",
            "ro",
            &format!("@{}", doc_file.display()),
        ],
    );
    let got = admin(
        &dir,
        &[
            "user",
            "policy",
            "get",
            "--account",
            "alt",
            "--user",
            "bob",
            "ro",
        ],
    );
    assert_eq!(got["policy_document"], READ_ONLY);
    let bad = refused(
        &dir,
        &[
            "user",
            "policy",
            "put",
            "--account",
            "alt",
            "--user",
            "bob",
            "bad",
            r#"{"Statement":[]}"#,
        ],
    );
    assert!(!bad.is_empty());
    let listed = admin(
        &dir,
        &[
            "user",
            "policy",
            "list",
            "--account",
            "alt",
            "--user",
            "bob",
        ],
    );
    assert_eq!(listed["policy_names"], serde_json::json!(["ro"]));

    // DeleteUser waits for its keys and policies.
    assert!(refused(&dir, &["user", "delete", "--account", "alt", "bob"]).contains("must delete"));
    for k in keys {
        let id = k["access_key_id"].as_str().unwrap();
        admin(
            &dir,
            &[
                "user",
                "key",
                "delete",
                "--account",
                "alt",
                "--user",
                "bob",
                id,
            ],
        );
    }
    admin(
        &dir,
        &[
            "user",
            "policy",
            "delete",
            "--account",
            "alt",
            "--user",
            "bob",
            "ro",
        ],
    );
    admin(&dir, &["user", "delete", "--account", "alt", "bob"]);
    assert!(
        refused(&dir, &["user", "delete", "--account", "alt", "bob"]).contains("cannot be found")
    );

    let deleted = admin(&dir, &["account", "delete", &account_id]);
    assert_eq!(deleted["deleted"]["name"], "alt");
    assert!(refused(&dir, &["account", "delete", "alt"]).contains("no account"));
}

/// With a server running on the data dir, admin commands still go through (SQLite makes the
/// second writer wait) and the server keeps serving.
#[test]
fn works_beside_a_running_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut child = tessera()
        .arg("serve")
        .arg("--data-dir")
        .arg(&dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    loop {
        let line = lines.next().expect("server exited").unwrap();
        if line.starts_with("tessera listening on") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not start"
        );
    }
    for i in 0..5 {
        admin(&dir, &["account", "create", &format!("acct-{i}")]);
    }
    let list = admin(&dir, &["account", "list"]);
    assert_eq!(list["accounts"].as_array().unwrap().len(), 6);
    assert_eq!(list["accounts"][0]["name"], "root");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
