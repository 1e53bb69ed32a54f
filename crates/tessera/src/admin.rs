//! `tessera admin ...`: accounts, IAM users, their keys and inline policies, managed on the
//! data dir's metadata store directly. Safe beside a running server: SQLite lets this second
//! writer wait for the server's transactions, and every change moves the auth epoch, which
//! the server checks on each request. Every command prints one JSON document on stdout.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use tessera_core::accounts::{AccessKey, Account, KeyStatus, User};
use tessera_core::{Options, Tessera};

use crate::config::{self, Layer, Settings};
use crate::credentials;

/// Which data dir, resolved like `serve`'s settings; accepted anywhere after `admin`.
#[derive(Args)]
pub struct AdminArgs {
    /// Data directory [env: TESSERA_DATA_DIR] [default: ./tessera-data]
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// TOML settings file [env: TESSERA_CONFIG]
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Accounts: each owns buckets and has a root user with access keys.
    #[command(subcommand)]
    Account(AccountCommand),
    /// IAM users of an account, their access keys and inline policies.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Creates an account and its root access key; prints its ids and the key.
    Create {
        /// Account name: lowercase letters, digits, `.`, `_`, `-`
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Root access key id to use instead of a generated one (requires --secret-key)
        #[arg(long, requires = "secret_key")]
        access_key: Option<String>,
        /// Root secret key to use instead of a generated one (requires --access-key)
        #[arg(long, requires = "access_key")]
        secret_key: Option<String>,
    },
    /// Lists the accounts, the root account first.
    List,
    /// Deletes an account with its users and keys; refused while it owns buckets.
    Delete {
        /// Account name or 12-digit id
        account: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Creates an IAM user.
    Create {
        /// Account name or id
        #[arg(long)]
        account: String,
        /// IAM path, e.g. /team/
        #[arg(long, default_value = "/")]
        path: String,
        name: String,
    },
    /// Lists an account's users.
    List {
        #[arg(long)]
        account: String,
    },
    /// Deletes a user; refused while it has access keys or inline policies.
    Delete {
        #[arg(long)]
        account: String,
        name: String,
    },
    /// A user's access keys (at most two).
    #[command(subcommand)]
    Key(KeyCommand),
    /// A user's inline policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

/// The user a key or policy command acts on.
#[derive(Args)]
struct UserRef {
    /// The account's name or 12-digit id.
    #[arg(long)]
    account: String,
    #[arg(long)]
    user: String,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Creates an active key; the secret is shown only here.
    Create {
        #[command(flatten)]
        who: UserRef,
    },
    /// Lists a user's keys (without secrets).
    List {
        #[command(flatten)]
        who: UserRef,
    },
    /// Deletes a key; refused from the next request on.
    Delete {
        #[command(flatten)]
        who: UserRef,
        access_key_id: String,
    },
    /// Makes a key inactive; refused from the next request on.
    Deactivate {
        #[command(flatten)]
        who: UserRef,
        access_key_id: String,
    },
    /// Makes a key active again.
    Activate {
        #[command(flatten)]
        who: UserRef,
        access_key_id: String,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Adds or replaces an inline policy (the document as JSON text, or @FILE).
    Put {
        #[command(flatten)]
        who: UserRef,
        name: String,
        document: String,
    },
    /// Prints an inline policy's document.
    Get {
        #[command(flatten)]
        who: UserRef,
        name: String,
    },
    /// Lists the names of a user's inline policies.
    List {
        #[command(flatten)]
        who: UserRef,
    },
    /// Deletes an inline policy.
    Delete {
        #[command(flatten)]
        who: UserRef,
        name: String,
    },
}

fn account_json(a: &Account) -> Value {
    json!({
        "account_id": a.id,
        "name": a.name,
        "email": a.email,
        "canonical_user_id": a.canonical_id,
        "created": a.created,
    })
}

fn user_json(u: &User) -> Value {
    json!({
        "user_name": u.name,
        "path": u.path,
        "user_id": u.user_id,
        "arn": u.arn,
        "created": u.created,
    })
}

fn key_json(k: &AccessKey, with_secret: bool) -> Value {
    let mut v = json!({
        "access_key_id": k.access_key_id,
        "status": k.status.as_str(),
        "created": k.created,
        "last_used": k.last_used.as_ref().map(|u| json!({
            "at": u.at, "service": u.service, "region": u.region,
        })),
    });
    if with_secret {
        v["secret_access_key"] = json!(k.secret);
    }
    v
}

/// Runs `tessera admin ...`.
pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let cli = Layer {
        data_dir: args.data_dir.clone(),
        ..Layer::default()
    };
    let settings = Settings::resolve(cli, args.config.clone(), std::env::vars_os())?;
    crate::init_logging("warn")?;
    let env_creds = credentials::from_env(
        config::known_env_var(config::ENV_ROOT_ACCESS_KEY)?,
        config::known_env_var(config::ENV_ROOT_SECRET_KEY)?,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")?;
    let out = runtime.block_on(async {
        let tessera = open(&settings, env_creds).await?;
        execute(&tessera, args.command).await
    })?;
    println!("{out}");
    Ok(())
}

/// Opens the data dir's stores (creating it as `serve` would). When no account exists yet,
/// the root account is made first from the root key `serve` would use, so that the accounts
/// created here never take its place; an existing root key is left as it is (a running
/// server may use another one from its environment).
async fn open(
    settings: &Settings,
    env_creds: Option<credentials::Credentials>,
) -> anyhow::Result<Tessera> {
    let data_dir = &settings.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let meta_path = data_dir.join("meta.sqlite3");
    let meta = tessera_meta::SqliteMetaStore::open(&meta_path)
        .await
        .with_context(|| format!("cannot open metadata store {}", meta_path.display()))?;
    let blob_dir = data_dir.join("blobs");
    let blobs = tessera_blob::LocalBlobStore::open(&blob_dir)
        .with_context(|| format!("cannot open blob store {}", blob_dir.display()))?;
    let options = Options {
        region: settings.region.clone(),
        ..Options::default()
    };
    let tessera = Tessera::open(Arc::new(meta), Arc::new(blobs), options)
        .await
        .context("cannot open Tessera")?;
    if tessera.accounts().await?.is_empty() {
        let (creds, source) = credentials::resolve(env_creds, data_dir)?;
        if let credentials::Source::Generated(path) = &source {
            // `serve` will load them from there and not print them: say where they are.
            eprintln!(
                "tessera: root credentials generated and stored in {}",
                path.display()
            );
        }
        tessera
            .ensure_root_account(&creds.access_key, &creds.secret_key)
            .await
            .context("cannot create the root account")?;
    }
    Ok(tessera)
}

/// The policy document: the text itself, or the content of the file after `@`.
fn document(arg: &str) -> anyhow::Result<String> {
    match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy document {path}")),
        None => Ok(arg.to_owned()),
    }
}

async fn execute(t: &Tessera, command: AdminCommand) -> anyhow::Result<Value> {
    let value = match command {
        AdminCommand::Account(cmd) => match cmd {
            AccountCommand::Create {
                name,
                email,
                access_key,
                secret_key,
            } => {
                let keys = access_key.zip(secret_key);
                let (account, key) = t.create_account(&name, email, keys).await?;
                let mut v = account_json(&account);
                v["access_key_id"] = json!(key.access_key_id);
                v["secret_access_key"] = json!(key.secret);
                v
            }
            AccountCommand::List => {
                let accounts = t.accounts().await?;
                json!({ "accounts": accounts.iter().map(account_json).collect::<Vec<_>>() })
            }
            AccountCommand::Delete { account } => {
                let deleted = t.delete_account(&account).await?;
                json!({ "deleted": account_json(&deleted) })
            }
        },
        AdminCommand::User(cmd) => user(t, cmd).await?,
    };
    Ok(value)
}

async fn user(t: &Tessera, cmd: UserCommand) -> anyhow::Result<Value> {
    let id = |a: String| async move { t.find_account(&a).await.map(|a| a.id) };
    let value = match cmd {
        UserCommand::Create {
            account,
            path,
            name,
        } => user_json(&t.create_user(&id(account).await?, &name, &path).await?),
        UserCommand::List { account } => {
            let users = t.list_users(&id(account).await?).await?;
            json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() })
        }
        UserCommand::Delete { account, name } => {
            t.delete_user(&id(account).await?, &name).await?;
            json!({ "deleted": name })
        }
        UserCommand::Key(cmd) => match cmd {
            KeyCommand::Create {
                who: UserRef { account, user },
            } => {
                let key = t.create_user_key(&id(account).await?, &user).await?;
                let mut v = key_json(&key, true);
                v["user_name"] = json!(user);
                v
            }
            KeyCommand::List {
                who: UserRef { account, user },
            } => {
                let keys = t.list_user_keys(&id(account).await?, &user).await?;
                json!({ "access_keys": keys.iter().map(|k| key_json(k, false)).collect::<Vec<_>>() })
            }
            KeyCommand::Delete {
                who: UserRef { account, user },
                access_key_id,
            } => {
                t.delete_user_key(&id(account).await?, &user, &access_key_id)
                    .await?;
                json!({ "deleted": access_key_id })
            }
            KeyCommand::Deactivate {
                who: UserRef { account, user },
                access_key_id,
            } => {
                t.set_user_key_status(
                    &id(account).await?,
                    &user,
                    &access_key_id,
                    KeyStatus::Inactive,
                )
                .await?;
                json!({ "access_key_id": access_key_id, "status": "Inactive" })
            }
            KeyCommand::Activate {
                who: UserRef { account, user },
                access_key_id,
            } => {
                t.set_user_key_status(
                    &id(account).await?,
                    &user,
                    &access_key_id,
                    KeyStatus::Active,
                )
                .await?;
                json!({ "access_key_id": access_key_id, "status": "Active" })
            }
        },
        UserCommand::Policy(cmd) => match cmd {
            PolicyCommand::Put {
                who: UserRef { account, user },
                name,
                document: doc,
            } => {
                let doc = document(&doc)?;
                t.put_user_policy(&id(account).await?, &user, &name, &doc)
                    .await?;
                json!({ "user_name": user, "policy_name": name })
            }
            PolicyCommand::Get {
                who: UserRef { account, user },
                name,
            } => {
                let p = t.user_policy(&id(account).await?, &user, &name).await?;
                json!({ "user_name": user, "policy_name": p.name, "policy_document": p.document })
            }
            PolicyCommand::List {
                who: UserRef { account, user },
            } => {
                let policies = t.list_user_policies(&id(account).await?, &user).await?;
                json!({ "policy_names": policies.iter().map(|p| p.name.as_str()).collect::<Vec<_>>() })
            }
            PolicyCommand::Delete {
                who: UserRef { account, user },
                name,
            } => {
                t.delete_user_policy(&id(account).await?, &user, &name)
                    .await?;
                json!({ "deleted": name })
            }
        },
    };
    Ok(value)
}
