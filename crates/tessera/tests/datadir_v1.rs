//! Data dirs written by earlier Tessera releases keep working: `tests/fixtures/datadir-v1` was
//! made by the binary of metadata schema version 1 (with `make_datadir_v1.py`, over S3). A copy
//! is served by today's binary (which upgrades the schema in place), then every object is read
//! back through the domain and compared with the fixture's `manifest.json`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use md5::{Digest, Md5};
use serde::Deserialize;
use tessera_core::objects::{GetObjectRequest, ListRequest};
use tessera_core::{BlobStore, MetaStore, Options, Tessera};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/datadir-v1");

#[derive(Deserialize)]
struct Manifest {
    schema_version: i64,
    buckets: Vec<String>,
    objects: Vec<ManifestObject>,
    uploads: Vec<ManifestUpload>,
}

#[derive(Deserialize)]
struct ManifestObject {
    bucket: String,
    key: String,
    size: u64,
    md5: String,
    etag: String,
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    parts_count: Option<u32>,
    checksum: Option<ManifestChecksum>,
}

#[derive(Deserialize)]
struct ManifestChecksum {
    algorithm: String,
    #[serde(rename = "type")]
    checksum_type: String,
    value: String,
}

#[derive(Deserialize)]
struct ManifestUpload {
    bucket: String,
    key: String,
    upload_id: String,
    parts: Vec<ManifestPart>,
}

#[derive(Deserialize)]
struct ManifestPart {
    part_number: u32,
    size: u64,
    md5: String,
    etag: String,
}

fn manifest() -> Manifest {
    let text = std::fs::read_to_string(Path::new(FIXTURE).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Copies the fixture's data dir (everything but the manifest and the script) to `to`.
fn copy_fixture(to: &Path) {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    copy_dir(&Path::new(FIXTURE).join("data"), to);
}

/// `tessera serve` on `data_dir` with fixed root keys and no inherited `TESSERA_*` variables.
fn serve(data_dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG")
        .env("TESSERA_ROOT_ACCESS_KEY", "fixtureaccesskey")
        .env("TESSERA_ROOT_SECRET_KEY", "fixturesecretkey0123456789")
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .stdin(Stdio::null());
    cmd
}

/// Starts the binary on `data_dir`, waits until it listens, stops it with SIGTERM and checks
/// that it exited cleanly.
fn serve_and_stop(data_dir: &Path, log: &Path) {
    let mut child: Child = serve(data_dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("tessera listening on ") => break,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not start; stderr: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }
    #[allow(unsafe_code)] // SIGTERM to the server under test: std has no signal API
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "stderr: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn schema_version(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn fixture_is_small() {
    fn size(p: &Path) -> u64 {
        if p.is_dir() {
            std::fs::read_dir(p)
                .unwrap()
                .map(|e| size(&e.unwrap().path()))
                .sum()
        } else {
            std::fs::metadata(p).unwrap().len()
        }
    }
    let total = size(Path::new(FIXTURE));
    assert!(total < 1 << 20, "fixture is {total} bytes");
    assert_eq!(manifest().schema_version, 1);
    let db = Path::new(FIXTURE).join("data/meta.sqlite3");
    assert_eq!(schema_version(&db), 1, "the fixture is schema version 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_data_dir_is_served_and_reads_back() {
    let manifest = manifest();
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    copy_fixture(&data_dir);
    let log = tmp.path().join("stderr.log");
    let blocking_dir = data_dir.clone();
    let blocking_log = log.clone();
    tokio::task::spawn_blocking(move || serve_and_stop(&blocking_dir, &blocking_log))
        .await
        .unwrap();
    let db = data_dir.join("meta.sqlite3");
    assert_eq!(schema_version(&db), tessera_meta::SCHEMA_VERSION);

    // Schema step 2 ran: the buckets and the upload of version 1 belong to the root account,
    // whose root key is the one the server was started with.
    let meta = tessera_meta::SqliteMetaStore::open(&db).await.unwrap();
    let accounts = meta.list_accounts().await.unwrap();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let root = &accounts[0];
    assert_eq!(root.name, "root");
    assert!(
        tessera_core::accounts::is_account_id(&root.id),
        "{}",
        root.id
    );
    let key = meta
        .get_access_key("fixtureaccesskey")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        key.owner,
        tessera_core::accounts::KeyOwner::Root {
            account_id: root.id.clone()
        }
    );
    assert_eq!(key.secret, "fixturesecretkey0123456789");
    for bucket in &manifest.buckets {
        let b = meta.get_bucket(bucket).await.unwrap().unwrap();
        assert_eq!(b.owner, root.id, "{bucket}");
    }
    for want in &manifest.uploads {
        let u = meta.get_upload(&want.upload_id).await.unwrap().unwrap();
        assert_eq!(u.initiator, format!("arn:aws:iam::{}:root", root.id));
    }

    // Every object reads back with its bytes, ETag and stored headers.
    let blob_store = Arc::new(tessera_blob::LocalBlobStore::open(&data_dir.join("blobs")).unwrap());
    let blobs: Arc<dyn BlobStore> = blob_store.clone();
    let options = Options {
        min_part_size: 1,
        ..Options::default()
    };
    let tessera = Tessera::open(Arc::new(meta), blobs, options).await.unwrap();

    let buckets: Vec<String> = tessera
        .list_buckets(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(buckets, manifest.buckets);

    for want in &manifest.objects {
        let request = GetObjectRequest {
            bucket: want.bucket.clone(),
            key: want.key.clone(),
            ..GetObjectRequest::default()
        };
        let read = tessera.get_object(&request, true).await.unwrap();
        let mut body = read.body.expect("a body");
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        let o = read.object;
        assert_eq!(bytes.len() as u64, want.size, "{}", want.key);
        assert_eq!(o.size, want.size, "{}", want.key);
        assert_eq!(hex::encode(Md5::digest(&bytes)), want.md5, "{}", want.key);
        assert_eq!(o.etag, want.etag, "{}", want.key);
        // Schema step 4: objects from before versioning are `null` versions.
        assert_eq!(o.version_id, "null", "{}", want.key);
        assert!(!o.delete_marker && o.sequencer.len() == 35, "{}", want.key);
        // boto3 sends binary/octet-stream when told nothing; the manifest names those it set.
        if let Some(content_type) = &want.content_type {
            assert_eq!(o.headers.content_type.as_ref(), Some(content_type));
        }
        assert_eq!(o.user_metadata, want.metadata, "{}", want.key);
        assert_eq!(o.parts_count, want.parts_count, "{}", want.key);
        // boto3 sent a CRC32 with every PUT; the manifest names the multipart one.
        if let Some(checksum) = &want.checksum {
            let got = o.checksum.as_ref().expect("a checksum");
            assert_eq!(got.algorithm.as_str(), checksum.algorithm);
            assert_eq!(got.checksum_type.as_str(), checksum.checksum_type);
            assert_eq!(got.value, checksum.value);
        }
    }

    // Each bucket lists exactly the manifest's keys, in byte order.
    for bucket in &manifest.buckets {
        let page = tessera
            .list_objects(&ListRequest {
                bucket: bucket.clone(),
                max_keys: 1000,
                ..ListRequest::default()
            })
            .await
            .unwrap();
        let listed: Vec<String> = page.objects.into_iter().map(|o| o.key).collect();
        let mut expected: Vec<String> = manifest
            .objects
            .iter()
            .filter(|o| &o.bucket == bucket)
            .map(|o| o.key.clone())
            .collect();
        expected.sort();
        assert_eq!(listed, expected, "{bucket}");
    }

    // The upload in progress is listed with its part.
    for want in &manifest.uploads {
        let page = tessera
            .list_uploads(&want.bucket, "", None, None, None, 1000)
            .await
            .unwrap();
        let ids: Vec<(String, String)> = page
            .uploads
            .into_iter()
            .map(|u| (u.key, u.upload_id))
            .collect();
        assert_eq!(ids, [(want.key.clone(), want.upload_id.clone())]);
        let parts = tessera
            .list_parts(&want.bucket, &want.key, &want.upload_id, 0, 1000)
            .await
            .unwrap();
        let mut got = Vec::new();
        for p in parts.parts {
            // The part's bytes are there too, for the Complete still to come.
            let mut stream = blob_store.read(&p.blob, 0, p.size).await.unwrap();
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            let md5 = hex::encode(Md5::digest(&bytes));
            got.push((p.part_number, p.size, p.etag, md5));
        }
        let expected: Vec<(u32, u64, String, String)> = want
            .parts
            .iter()
            .map(|p| (p.part_number, p.size, p.etag.clone(), p.md5.clone()))
            .collect();
        assert_eq!(got, expected);
    }
}

#[test]
fn newer_schema_is_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir: PathBuf = tmp.path().join("data");
    copy_fixture(&data_dir);
    let db = data_dir.join("meta.sqlite3");
    let newer = tessera_meta::SCHEMA_VERSION + 7;
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", newer).unwrap();
    }
    // Logging off: the refusal is then the only line (by default INFO lines come before it).
    let output = serve(&data_dir).env("TESSERA_LOG", "off").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    let expected = format!(
        "metadata schema version {newer} is newer than this tessera supports ({}); upgrade tessera",
        tessera_meta::SCHEMA_VERSION
    );
    assert_eq!(
        stderr,
        format!(
            "tessera: error: cannot open metadata store {}: {expected}\n",
            db.display()
        )
    );
    assert!(output.stdout.is_empty());
    assert_eq!(
        schema_version(&db),
        newer,
        "a refused database is left as it was"
    );
}
