//! tessera-bench: a lean S3 load generator (multipart uploads, small PUTs).
//!
//! Works against any S3 endpoint (path-style, SigV4 with UNSIGNED-PAYLOAD).
//! Each scenario prints human-readable figures and ends with one line
//! `BENCH {json}` for machines (`scenario` first; GB are decimal, 1e9 bytes).
//!
//! ```text
//! tessera-bench [--endpoint URL] [--access-key K --secret-key S] [--bucket B]
//!               [--server-pid PID] <put-multipart|complete-many|rss|md5|sse|put-small|all> [flags]
//! ```
//!
//! Every part body is a slice of one random buffer allocated at start-up.
//! `crates/tessera-bench/run.sh` runs `all` against a fresh local Tessera;
//! `auth.sh` runs `put-small` as root, as an IAM user and under a bucket policy.

mod md5bench;
mod rss;
mod s3;
mod sigv4;
mod small;
mod ssebench;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use rand::RngCore;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use md5bench::Md5Result;
use s3::{CompletedPart, S3};
use sigv4::Credentials;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// S3's limit on parts per upload.
const MAX_PARTS: u64 = 10_000;
/// Extra random bytes past the largest part, so parts start at different
/// offsets of the one buffer and no two neighbouring parts are identical.
const BUFFER_SLACK: usize = 1 << 20;

#[derive(Parser, Debug)]
// A flag given twice takes the last value, so scripts can put defaults before "$@".
#[command(name = "tessera-bench", version, about, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug)]
struct Common {
    /// S3 endpoint (http only), addressed path-style.
    #[arg(long, global = true, default_value = "http://127.0.0.1:9000")]
    endpoint: String,
    #[arg(long, global = true, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: Option<String>,
    #[arg(
        long,
        global = true,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    secret_key: Option<String>,
    #[arg(long, global = true, default_value = "us-east-1")]
    region: String,
    /// Bucket to use; created if missing.
    #[arg(long, global = true, default_value = "tessera-bench")]
    bucket: String,
    /// Sample this process's VmRSS/VmHWM from /proc during every scenario.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// The server RSS figure the `rss` scenario checks against.
    #[arg(long, global = true, default_value_t = 256)]
    rss_limit_mib: u64,
    /// How long the MD5 measurement runs.
    #[arg(long, global = true, default_value_t = 2.0)]
    md5_seconds: f64,
    /// Per-request timeout.
    #[arg(long, global = true, default_value_t = 300)]
    timeout_secs: u64,
    /// Leave the uploaded objects in place (they are deleted by default).
    #[arg(long, global = true)]
    keep: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// One big multipart upload: GB/s over the whole upload, Complete latency.
    PutMultipart(PutArgs),
    /// put-multipart into a plain bucket and into one with SSE-S3 default encryption,
    /// alternating: both figures (medians) and the ratio.
    IngestSse(IngestArgs),
    /// Thousands of tiny parts: ListParts paging and Complete latency.
    CompleteMany(ManyArgs),
    /// Big parts all in flight at once while the server's RSS is sampled.
    Rss(RssArgs),
    /// This machine's MD5 throughput, one thread per core.
    Md5,
    /// One core's plain copy vs SSE chunked AES-256-GCM encrypt and decrypt (no server).
    Sse,
    /// Many small PutObjects: PUT/s and latency percentiles (authorization overhead).
    PutSmall(SmallArgs),
    /// md5, sse, put-multipart, complete-many and rss in sequence.
    All(AllArgs),
}

#[derive(Args, Debug, Clone)]
struct SmallArgs {
    /// Object size.
    #[arg(long, default_value = "4KiB", value_parser = parse_size)]
    size: u64,
    /// PUTs measured.
    #[arg(long, default_value_t = 20_000)]
    count: u32,
    /// PUTs made first and left out of the figures (connections, caches).
    #[arg(long, default_value_t = 500)]
    warmup: u32,
    /// PutObject requests in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Install a bucket policy of this many statements for the run (removed after).
    #[arg(long, default_value_t = 0)]
    bucket_policy_statements: usize,
    /// Names this run in the BENCH line (`variant`), e.g. root or iam-user.
    #[arg(long)]
    label: Option<String>,
}

#[derive(Args, Debug, Clone)]
struct PutArgs {
    /// Object size (suffixes K/M/G/KiB/MiB/GiB are binary, KB/MB/GB decimal).
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    size: u64,
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    part_size: u64,
    /// UploadPart requests in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

#[derive(Args, Debug, Clone)]
struct IngestArgs {
    #[command(flatten)]
    put: PutArgs,
    /// Plain / SSE-S3 pairs of uploads (medians are reported).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
}

#[derive(Args, Debug, Clone)]
struct RssArgs {
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    size: u64,
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    part_size: u64,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

#[derive(Args, Debug, Clone)]
struct ManyArgs {
    /// Number of parts (at most 10000).
    #[arg(long, default_value_t = 10_000)]
    parts: u32,
    /// Size of each part; the server must accept parts this small
    /// (e.g. tessera's --min-part-size 1).
    #[arg(long, default_value = "1KiB", value_parser = parse_size)]
    part_size: u64,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// max-parts per ListParts page.
    #[arg(long, default_value_t = 1000)]
    page_size: u32,
}

#[derive(Args, Debug, Clone)]
struct AllArgs {
    /// Object size for put-multipart and rss (rss uses at least 512 MiB).
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    size: u64,
    /// Part count for complete-many.
    #[arg(long, default_value_t = 10_000)]
    parts: u32,
}

/// "1GiB", "16M", "1024", "1.5GB"…: K/M/G/T and KiB…TiB are binary, KB…TB decimal.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => KIB,
        "m" | "mib" => MIB,
        "g" | "gib" => GIB,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("not a size: {s:?} (e.g. 16MiB, 1GiB, 4096)"))?;
    let bytes = n * mult as f64;
    if !(1.0..1.0e18).contains(&bytes) {
        return Err(format!("size out of range: {s:?}"));
    }
    Ok(bytes.round() as u64)
}

fn human_bytes(n: u64) -> String {
    if n >= GIB && n.is_multiple_of(GIB) {
        format!("{} GiB", n / GIB)
    } else if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nearest-rank percentile of an already sorted slice.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}-{}", std::process::id())
}

/// Part `number`'s body: a slice of the one random buffer, no copy. The
/// start moves with the part number so consecutive parts differ.
fn part_body(buf: &Bytes, number: u32, len: usize) -> Bytes {
    assert!(len <= buf.len(), "part larger than the random buffer");
    let slack = buf.len() - len;
    let off = if slack == 0 {
        0
    } else {
        (number as usize).wrapping_mul(4099) % (slack + 1)
    };
    buf.slice(off..off + len)
}

/// Checks a multipart ETag: 32 hex digits, a dash, the part count.
fn check_multipart_etag(etag: &str, parts: u64) -> Result<()> {
    let ok = etag.rsplit_once('-').is_some_and(|(hash, n)| {
        hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && n == parts.to_string()
    });
    if !ok {
        bail!("CompleteMultipartUpload ETag {etag:?} does not end in \"-{parts}\" after an MD5");
    }
    Ok(())
}

struct Bench {
    s3: S3,
    bucket: String,
    buf: Bytes,
    common: Common,
    /// Measured once per run and reused by every scenario that reports it.
    md5: Option<Md5Result>,
}

impl Bench {
    fn rss_sampler(&self) -> Result<Option<rss::Sampler>> {
        self.common
            .server_pid
            .map(|pid| {
                rss::Sampler::start(pid, Duration::from_millis(20))
                    .with_context(|| format!("sampling --server-pid {pid}"))
            })
            .transpose()
    }

    fn md5(&mut self) -> Md5Result {
        if let Some(r) = &self.md5 {
            return r.clone();
        }
        let len = (md5bench::MD5_BUFFER).min(self.buf.len());
        let r = md5bench::run(
            &self.buf[..len],
            md5bench::cores(),
            Duration::from_secs_f64(self.common.md5_seconds.max(0.01)),
        );
        self.md5 = Some(r.clone());
        r
    }

    /// Prints the MD5 ceiling and adds it (and the ratio to `gbps`) to `out`.
    fn append_md5(&mut self, out: &mut Value, gbps: Option<f64>) {
        let m = self.md5();
        print!(
            "  md5 ceiling  {:.3} GB/s on {} cores ({:.3} GB/s per core)",
            m.gbps_total, m.threads, m.gbps_per_core
        );
        out["md5_gbps"] = json!(round(m.gbps_total, 3));
        out["md5_gbps_per_core"] = json!(round(m.gbps_per_core, 3));
        out["md5_threads"] = json!(m.threads);
        if let Some(g) = gbps {
            let ratio = g / m.gbps_total;
            println!("; this run = {:.2}x the md5 ceiling", ratio);
            out["ratio_to_md5"] = json!(round(ratio, 3));
        } else {
            println!();
        }
    }

    fn append_rss(&self, out: &mut Value, stats: Option<rss::RssStats>) -> Option<bool> {
        let stats = stats?;
        let limit = self.common.rss_limit_mib;
        let peak_mib = stats.peak_kib() as f64 / 1024.0;
        let ok = peak_mib < limit as f64;
        println!(
            "  server RSS   peak sampled {:.1} MiB, VmHWM {:.1} MiB ({} samples): {} {limit} MiB",
            stats.peak_rss_kib as f64 / 1024.0,
            stats.hwm_kib as f64 / 1024.0,
            stats.samples,
            if ok { "under" } else { "NOT under" }
        );
        out["server_peak_rss_mib"] = json!(round(stats.peak_rss_kib as f64 / 1024.0, 1));
        out["server_vmhwm_mib"] = json!(round(stats.hwm_kib as f64 / 1024.0, 1));
        out["rss_limit_mib"] = json!(limit);
        out["rss_ok"] = json!(ok);
        Some(ok)
    }

    async fn cleanup(&self, key: &str) {
        if self.common.keep {
            return;
        }
        if let Err(e) = self.s3.delete_object(&self.bucket, key).await {
            eprintln!("warning: could not delete {}/{key}: {e:#}", self.bucket);
        }
    }

    /// Uploads parts 1..=count with `concurrency` requests in flight.
    /// Returns the parts in order and each part's latency.
    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        count: u32,
        size_of: impl Fn(u32) -> usize + Send + Sync + Copy + 'static,
        concurrency: usize,
    ) -> Result<(Vec<CompletedPart>, Vec<Duration>)> {
        let next = Arc::new(AtomicU32::new(1));
        let key: Arc<str> = key.into();
        let upload_id: Arc<str> = upload_id.into();
        let mut set = JoinSet::new();
        for _ in 0..concurrency.clamp(1, count.max(1) as usize) {
            let (s3, bucket, buf) = (self.s3.clone(), self.bucket.clone(), self.buf.clone());
            let (next, key, upload_id) = (next.clone(), key.clone(), upload_id.clone());
            set.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n > count {
                        break;
                    }
                    let body = part_body(&buf, n, size_of(n));
                    let t = Instant::now();
                    let etag = s3
                        .upload_part(&bucket, &key, &upload_id, n, body)
                        .await
                        .with_context(|| format!("UploadPart {n}"))?;
                    done.push((n, etag, t.elapsed()));
                }
                anyhow::Ok(done)
            });
        }
        let mut all = Vec::with_capacity(count as usize);
        while let Some(joined) = set.join_next().await {
            match joined.map_err(|e| anyhow!("upload task failed: {e}"))? {
                Ok(done) => all.extend(done),
                Err(e) => {
                    set.abort_all();
                    return Err(e);
                }
            }
        }
        all.sort_by_key(|(n, _, _)| *n);
        if all.len() != count as usize {
            bail!("uploaded {} parts, expected {count}", all.len());
        }
        let mut lat: Vec<Duration> = all.iter().map(|p| p.2).collect();
        lat.sort();
        let parts = all
            .into_iter()
            .map(|(number, etag, _)| CompletedPart { number, etag })
            .collect();
        Ok((parts, lat))
    }

    /// Runs `body` on a fresh upload; aborts the upload if it fails.
    async fn with_upload<T, F, Fut>(&self, key: &str, body: F) -> Result<(T, Duration)>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let t0 = Instant::now();
        let upload_id = self
            .s3
            .create_multipart(&self.bucket, key)
            .await
            .context("CreateMultipartUpload")?;
        let create = t0.elapsed();
        match body(upload_id.clone()).await {
            Ok(v) => Ok((v, create)),
            Err(e) => {
                if let Err(abort) = self.s3.abort_multipart(&self.bucket, key, &upload_id).await {
                    eprintln!("warning: AbortMultipartUpload failed too: {abort:#}");
                }
                Err(e)
            }
        }
    }

    /// put-multipart and rss: one object of `size` in parts of `part_size`.
    async fn put_multipart(
        &mut self,
        scenario: &str,
        size: u64,
        part_size: u64,
        concurrency: usize,
    ) -> Result<Value> {
        if part_size as usize > self.buf.len() {
            bail!("internal: part size exceeds the random buffer");
        }
        let count = size.div_ceil(part_size);
        if count > MAX_PARTS {
            bail!("{count} parts of {part_size} bytes exceed S3's {MAX_PARTS}-part limit");
        }
        let count = count as u32;
        let last = (size - (count as u64 - 1) * part_size) as usize;
        let ps = part_size as usize;
        let size_of = move |n: u32| if n == count { last } else { ps };
        let key = format!("tessera-bench/{scenario}-{}", unique_suffix());
        println!(
            "== {scenario}: {:.3} GB ({}) in {count} parts of {}, {concurrency} in flight -> {}/{key}",
            size as f64 / 1e9,
            human_bytes(size),
            human_bytes(part_size),
            self.bucket
        );

        let sampler = self.rss_sampler()?;
        let this: &Self = self;
        let k = key.as_str();
        let t0 = Instant::now();
        let ((lat, complete, etag), create) = this
            .with_upload(k, |upload_id| async move {
                let (parts, lat) = this
                    .upload_parts(k, &upload_id, count, size_of, concurrency)
                    .await?;
                let tc = Instant::now();
                let etag = this
                    .s3
                    .complete_multipart(&this.bucket, k, &upload_id, &parts)
                    .await
                    .context("CompleteMultipartUpload")?;
                Ok((lat, tc.elapsed(), etag))
            })
            .await?;
        let total = t0.elapsed();
        let rss = sampler.map(rss::Sampler::finish);
        check_multipart_etag(&etag, count as u64)?;
        self.cleanup(&key).await;

        let gbps = size as f64 / 1e9 / total.as_secs_f64();
        println!(
            "  upload       {:.3} s, {gbps:.3} GB/s (create + {count} parts + complete)",
            total.as_secs_f64()
        );
        println!(
            "  UploadPart   p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(percentile(&lat, 50.0)),
            ms(percentile(&lat, 99.0)),
            ms(percentile(&lat, 100.0))
        );
        println!(
            "  create       {:.1} ms; complete {:.1} ms; ETag {etag} ok",
            ms(create),
            ms(complete)
        );
        let mut out = json!({
            "scenario": scenario,
            "gbps": round(gbps, 4),
            "bytes": size,
            "part_size": part_size,
            "parts": count,
            "concurrency": concurrency,
            "seconds": round(total.as_secs_f64(), 4),
            "create_ms": round(ms(create), 2),
            "complete_ms": round(ms(complete), 2),
            "part_p50_ms": round(ms(percentile(&lat, 50.0)), 2),
            "part_p99_ms": round(ms(percentile(&lat, 99.0)), 2),
            "part_max_ms": round(ms(percentile(&lat, 100.0)), 2),
            "etag": etag,
        });
        self.append_rss(&mut out, rss);
        self.append_md5(&mut out, Some(gbps));
        Ok(out)
    }

    /// ingest-sse: put-multipart alternately into the plain bucket and into `<bucket>-sse`,
    /// whose default encryption is SSE-S3 (checked), `rounds` times each; the medians and
    /// their ratio (the issue's bar: SSE-S3 at 80 % of plain or better).
    async fn ingest_sse(&mut self, a: &IngestArgs) -> Result<Value> {
        let plain_bucket = self.bucket.clone();
        let sse_bucket = format!("{plain_bucket}-sse");
        self.s3.ensure_bucket(&sse_bucket).await?;
        self.s3.enable_default_sse_s3(&sse_bucket).await?;
        let p = &a.put;
        let (mut plain, mut sse) = (Vec::new(), Vec::new());
        for _ in 0..a.rounds.max(1) {
            for (bucket, scenario) in [
                (&plain_bucket, "ingest-plain"),
                (&sse_bucket, "ingest-sse-s3"),
            ] {
                self.bucket = bucket.clone();
                let out = self
                    .put_multipart(scenario, p.size, p.part_size, p.concurrency)
                    .await;
                self.bucket = plain_bucket.clone();
                let gbps = out?["gbps"].as_f64().unwrap_or(0.0);
                if scenario == "ingest-plain" {
                    plain.push(gbps);
                } else {
                    sse.push(gbps);
                }
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (plain_gbps, sse_gbps) = (median(&mut plain), median(&mut sse));
        let ratio = if plain_gbps > 0.0 {
            sse_gbps / plain_gbps
        } else {
            0.0
        };
        println!(
            "== ingest-sse: plain {plain_gbps:.3} GB/s {plain:?}, SSE-S3 {sse_gbps:.3} GB/s {sse:?}: SSE-S3 at {:.1} % of plain",
            ratio * 100.0
        );
        Ok(json!({
            "scenario": "ingest-sse",
            "plain_gbps": round(plain_gbps, 4),
            "sse_s3_gbps": round(sse_gbps, 4),
            "ratio": round(ratio, 4),
            "plain_runs": plain,
            "sse_s3_runs": sse,
            "bytes": p.size,
            "part_size": p.part_size,
            "concurrency": p.concurrency,
        }))
    }

    async fn complete_many(&mut self, a: &ManyArgs) -> Result<Value> {
        let count = a.parts;
        if count == 0 || count as u64 > MAX_PARTS {
            bail!("--parts must be 1..={MAX_PARTS}");
        }
        if a.page_size == 0 {
            bail!("--page-size must be at least 1");
        }
        let ps = a.part_size as usize;
        let key = format!("tessera-bench/complete-many-{}", unique_suffix());
        println!(
            "== complete-many: {count} parts of {}, {} in flight, ListParts pages of {} -> {}/{key}",
            human_bytes(a.part_size),
            a.concurrency,
            a.page_size,
            self.bucket
        );
        let sampler = self.rss_sampler()?;
        let page_size = a.page_size;
        let concurrency = a.concurrency;
        let this: &Self = self;
        let k = key.as_str();
        let ((upload, pages, complete, etag), _) = this
            .with_upload(k, |upload_id| async move {
                let t = Instant::now();
                let (parts, _) = this
                    .upload_parts(k, &upload_id, count, move |_| ps, concurrency)
                    .await?;
                let upload = t.elapsed();

                let mut pages = Vec::new();
                let mut marker = 0u32;
                loop {
                    let t = Instant::now();
                    let page = this
                        .s3
                        .list_parts(&this.bucket, k, &upload_id, page_size, marker)
                        .await
                        .with_context(|| format!("ListParts after part {marker}"))?;
                    pages.push(t.elapsed());
                    let want_end = (marker as u64 + page_size as u64).min(count as u64) as u32;
                    let want: Vec<u32> = (marker + 1..=want_end).collect();
                    if page.part_numbers != want {
                        bail!(
                            "ListParts after {marker}: got {} parts ({:?}..{:?}), expected {}..={want_end}",
                            page.part_numbers.len(),
                            page.part_numbers.first(),
                            page.part_numbers.last(),
                            marker + 1
                        );
                    }
                    let more = want_end < count;
                    if page.is_truncated != more {
                        bail!(
                            "ListParts after {marker}: IsTruncated {} but {} parts remain",
                            page.is_truncated,
                            count - want_end
                        );
                    }
                    if !more {
                        break;
                    }
                    match page.next_marker {
                        Some(m) if m == want_end => marker = m,
                        other => bail!(
                            "ListParts after {marker}: NextPartNumberMarker {other:?}, expected {want_end}"
                        ),
                    }
                }

                let t = Instant::now();
                let etag = this
                    .s3
                    .complete_multipart(&this.bucket, k, &upload_id, &parts)
                    .await
                    .context("CompleteMultipartUpload")?;
                Ok((upload, pages, t.elapsed(), etag))
            })
            .await?;
        let rss = sampler.map(rss::Sampler::finish);
        check_multipart_etag(&etag, count as u64)?;
        self.cleanup(&key).await;

        let mut sorted = pages.clone();
        sorted.sort();
        let (p50, max) = (percentile(&sorted, 50.0), percentile(&sorted, 100.0));
        let pps = count as f64 / upload.as_secs_f64();
        println!(
            "  upload       {count} parts in {:.3} s ({pps:.0} parts/s)",
            upload.as_secs_f64()
        );
        println!(
            "  ListParts    {} pages, all {count} parts seen: p50 {:.2} ms, max {:.2} ms",
            pages.len(),
            ms(p50),
            ms(max)
        );
        println!("  complete     {:.2} ms; ETag {etag} ok", ms(complete));
        let mut out = json!({
            "scenario": "complete-many",
            "parts": count,
            "part_size": a.part_size,
            "concurrency": a.concurrency,
            "upload_seconds": round(upload.as_secs_f64(), 4),
            "upload_parts_per_sec": round(pps, 1),
            "complete_ms": round(ms(complete), 2),
            "list_pages": pages.len(),
            "list_page_size": a.page_size,
            "list_p50_ms": round(ms(p50), 2),
            "list_max_ms": round(ms(max), 2),
            "etag": etag,
        });
        self.append_rss(&mut out, rss);
        self.append_md5(&mut out, None);
        Ok(out)
    }

    async fn rss(&mut self, a: &RssArgs) -> Result<Value> {
        if self.common.server_pid.is_none() {
            eprintln!("warning: rss without --server-pid measures throughput only");
        }
        let mut out = self
            .put_multipart("rss", a.size, a.part_size, a.concurrency)
            .await?;
        if let Some(ok) = out.get("rss_ok").and_then(Value::as_bool) {
            println!(
                "  check        server RSS stays under {} MiB: {}",
                self.common.rss_limit_mib,
                if ok { "PASS" } else { "FAIL" }
            );
        } else {
            out["rss_ok"] = Value::Null;
        }
        Ok(out)
    }

    /// Encryption against a plain copy on one core, with MD5's per-core figure beside it: the
    /// write path hashes every byte, so `1 / (1/md5 + 1/encrypt)` bounds an encrypted ingest
    /// that is CPU-bound on hashing.
    fn sse_scenario(&mut self) -> Result<Value> {
        let len = md5bench::MD5_BUFFER.min(self.buf.len());
        let secs = self.common.md5_seconds.max(0.01);
        let r = ssebench::run(&self.buf[..len], Duration::from_secs_f64(secs))?;
        let md5 = self.md5().gbps_per_core;
        let hashed = 1.0 / (1.0 / md5 + 1.0 / r.encrypt_gbps);
        println!(
            "== sse: one core, {} buffer in {} pieces, {:.2} s each",
            human_bytes(r.buffer as u64),
            human_bytes(ssebench::PIECE as u64),
            r.seconds_each
        );
        println!("  copy         {:.3} GB/s", r.copy_gbps);
        println!(
            "  encrypt      {:.3} GB/s (AES-256-GCM, 64 KiB chunks); {:.2}x copy",
            r.encrypt_gbps,
            r.encrypt_gbps / r.copy_gbps
        );
        println!(
            "  decrypt      {:.3} GB/s; {:.2}x copy",
            r.decrypt_gbps,
            r.decrypt_gbps / r.copy_gbps
        );
        println!(
            "  md5 + encrypt {:.3} GB/s per core = {:.0}% of md5 alone ({:.3} GB/s)",
            hashed,
            100.0 * hashed / md5,
            md5
        );
        Ok(json!({
            "scenario": "sse",
            "gbps": round(r.encrypt_gbps, 4),
            "copy_gbps": round(r.copy_gbps, 4),
            "encrypt_gbps": round(r.encrypt_gbps, 4),
            "decrypt_gbps": round(r.decrypt_gbps, 4),
            "md5_gbps_per_core": round(md5, 4),
            "md5_plus_encrypt_gbps": round(hashed, 4),
            "seconds_each": round(r.seconds_each, 3),
            "bytes": r.buffer,
        }))
    }

    fn md5_scenario(&mut self) -> Value {
        let m = self.md5();
        println!(
            "== md5: {} threads x {} buffer for {:.2} s",
            m.threads,
            human_bytes(md5bench::MD5_BUFFER.min(self.buf.len()) as u64),
            m.seconds
        );
        println!(
            "  md5          {:.3} GB/s total, {:.3} GB/s per core",
            m.gbps_total, m.gbps_per_core
        );
        json!({
            "scenario": "md5",
            "gbps": round(m.gbps_total, 4),
            "gbps_per_core": round(m.gbps_per_core, 4),
            "threads": m.threads,
            "seconds": round(m.seconds, 3),
            "bytes": m.bytes,
        })
    }
}

/// Prints the final machine-readable line: `BENCH {json}`, with
/// `scenario` and (where there is one) `gbps` first, the rest sorted.
fn emit(v: &Value) {
    println!("BENCH {}", bench_line(v));
}

fn bench_line(v: &Value) -> String {
    let Some(map) = v.as_object() else {
        return v.to_string();
    };
    let first = ["scenario", "gbps"];
    let fields = first
        .iter()
        .filter_map(|k| map.get_key_value(*k))
        .chain(map.iter().filter(|(k, _)| !first.contains(&k.as_str())))
        .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
        .collect::<Vec<_>>();
    format!("{{{}}}", fields.join(","))
}

fn credentials(c: &Common) -> Result<Credentials> {
    let access_key = c
        .access_key
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow!("no access key: pass --access-key or set AWS_ACCESS_KEY_ID"))?;
    let secret_key = c
        .secret_key
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow!("no secret key: pass --secret-key or set AWS_SECRET_ACCESS_KEY"))?;
    Ok(Credentials {
        access_key,
        secret_key,
        region: c.region.clone(),
        service: "s3".into(),
    })
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let common = cli.common;

    // The one random buffer every part body is sliced from.
    let largest_part = match &cli.cmd {
        Cmd::PutMultipart(a) => a.part_size,
        Cmd::IngestSse(a) => a.put.part_size,
        Cmd::Rss(a) => a.part_size,
        Cmd::CompleteMany(a) => a.part_size,
        Cmd::PutSmall(a) => a.size,
        Cmd::Md5 | Cmd::Sse => 0,
        Cmd::All(a) => {
            let put = PutArgs::defaults(a.size);
            let rss = RssArgs::defaults(a.size);
            put.part_size
                .max(rss.part_size)
                .max(ManyArgs::defaults(a.parts).part_size)
        }
    };
    let largest_part = usize::try_from(largest_part).context("part size too large")?;
    let buf_len = largest_part.max(md5bench::MD5_BUFFER) + BUFFER_SLACK;
    let mut buf = vec![0u8; buf_len];
    rand::thread_rng().fill_bytes(&mut buf);
    let buf = Bytes::from(buf);

    if let Some(pid) = common.server_pid {
        rss::read(pid).with_context(|| format!("--server-pid {pid}"))?;
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let _guard = rt.enter();
    let needs_s3 = !matches!(cli.cmd, Cmd::Md5 | Cmd::Sse);
    let creds = if needs_s3 {
        credentials(&common)?
    } else {
        Credentials {
            access_key: String::new(),
            secret_key: String::new(),
            region: common.region.clone(),
            service: "s3".into(),
        }
    };
    let s3 = S3::new(
        &common.endpoint,
        creds,
        Duration::from_secs(common.timeout_secs.max(1)),
    )?;
    let mut bench = Bench {
        s3,
        bucket: common.bucket.clone(),
        buf,
        common,
        md5: None,
    };
    if needs_s3 {
        rt.block_on(bench.s3.ensure_bucket(&bench.bucket))?;
    }

    match cli.cmd {
        Cmd::Md5 => emit(&bench.md5_scenario()),
        Cmd::Sse => emit(&bench.sse_scenario()?),
        Cmd::PutMultipart(a) => {
            let out = rt.block_on(bench.put_multipart(
                "put-multipart",
                a.size,
                a.part_size,
                a.concurrency,
            ))?;
            emit(&out);
        }
        Cmd::IngestSse(a) => {
            let out = rt.block_on(bench.ingest_sse(&a))?;
            emit(&out);
        }
        Cmd::CompleteMany(a) => {
            let out = rt.block_on(bench.complete_many(&a))?;
            emit(&out);
        }
        Cmd::Rss(a) => {
            let out = rt.block_on(bench.rss(&a))?;
            emit(&out);
        }
        Cmd::PutSmall(a) => match rt.block_on(bench.put_small(&a)) {
            Ok(out) => emit(&out),
            Err(e) if e.chain().any(|c| c.is::<s3::Unsupported>()) => {
                // Exit 3: the server lacks what the scenario needs (auth.sh reports it as skipped).
                eprintln!("tessera-bench: put-small cannot run: {e:#}");
                std::process::exit(3);
            }
            Err(e) => return Err(e),
        },
        Cmd::All(a) => {
            // MD5 first, on an idle machine; the others reuse its figure.
            emit(&bench.md5_scenario());
            emit(&bench.sse_scenario()?);
            let put = PutArgs::defaults(a.size);
            let out = rt.block_on(bench.put_multipart(
                "put-multipart",
                put.size,
                put.part_size,
                put.concurrency,
            ))?;
            emit(&out);
            let out = rt.block_on(bench.complete_many(&ManyArgs::defaults(a.parts)))?;
            emit(&out);
            // Enough 64 MiB parts to keep 8 in flight, whatever --size says.
            let out = rt.block_on(bench.rss(&RssArgs::defaults(a.size.max(8 * 64 * MIB))))?;
            emit(&out);
        }
    }
    Ok(())
}

impl PutArgs {
    fn defaults(size: u64) -> Self {
        Self {
            size,
            part_size: 16 * MIB,
            concurrency: 4,
        }
    }
}

impl RssArgs {
    fn defaults(size: u64) -> Self {
        Self {
            size,
            part_size: 64 * MIB,
            concurrency: 8,
        }
    }
}

impl ManyArgs {
    fn defaults(parts: u32) -> Self {
        Self {
            parts,
            part_size: KIB,
            concurrency: 16,
            page_size: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "tessera-bench",
            "put-multipart",
            "--size",
            "64MiB",
            "--endpoint",
            "http://127.0.0.1:1",
            "--server-pid",
            "1",
        ])
        .unwrap();
        assert_eq!(cli.common.endpoint, "http://127.0.0.1:1");
        assert_eq!(cli.common.server_pid, Some(1));
        match cli.cmd {
            Cmd::PutMultipart(a) => {
                assert_eq!(a.size, 64 * MIB);
                assert_eq!(a.part_size, 16 * MIB);
                assert_eq!(a.concurrency, 4);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["tessera-bench", "rss"]).unwrap();
        match cli.cmd {
            Cmd::Rss(a) => {
                assert_eq!((a.size, a.part_size, a.concurrency), (GIB, 64 * MIB, 8))
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["tessera-bench", "complete-many"]).unwrap();
        match cli.cmd {
            Cmd::CompleteMany(a) => {
                let d = ManyArgs::defaults(10_000);
                assert_eq!(
                    (a.parts, a.part_size, a.concurrency, a.page_size),
                    (d.parts, d.part_size, d.concurrency, d.page_size)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn put_small_arguments() {
        let cli = Cli::try_parse_from(["tessera-bench", "put-small"]).unwrap();
        match cli.cmd {
            Cmd::PutSmall(a) => {
                assert_eq!((a.size, a.count, a.concurrency), (4096, 20_000, 16));
                assert_eq!((a.bucket_policy_statements, a.label), (0, None));
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "tessera-bench",
            "put-small",
            "--size",
            "1KiB",
            "--bucket-policy-statements",
            "20",
            "--label",
            "iam-user",
        ])
        .unwrap();
        match cli.cmd {
            Cmd::PutSmall(a) => {
                assert_eq!((a.size, a.bucket_policy_statements), (1024, 20));
                assert_eq!(a.label.as_deref(), Some("iam-user"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(GIB));
        assert_eq!(parse_size("16M"), Ok(16 * MIB));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(human_bytes(16 * MIB), "16 MiB");
        assert_eq!(human_bytes(1000), "1000 B");
    }

    #[test]
    fn parts_are_slices_of_the_one_buffer() {
        let buf = Bytes::from((0..=255u8).cycle().take(10_000).collect::<Vec<_>>());
        let a = part_body(&buf, 1, 4096);
        let b = part_body(&buf, 2, 4096);
        assert_eq!(a.len(), 4096);
        assert_ne!(a, b);
        // Same allocation, no copy.
        let base = buf.as_ptr() as usize;
        for p in [&a, &b] {
            let at = p.as_ptr() as usize;
            assert!(at >= base && at + p.len() <= base + buf.len());
        }
        assert_eq!(part_body(&buf, 7, 10_000).len(), 10_000);
    }

    #[test]
    fn multipart_etags() {
        assert!(check_multipart_etag("0123456789abcdef0123456789abcdef-64", 64).is_ok());
        assert!(check_multipart_etag("0123456789abcdef0123456789abcdef-6", 64).is_err());
        assert!(check_multipart_etag("0123456789abcdef0123456789abcdef", 1).is_err());
        assert!(check_multipart_etag("xyz-1", 1).is_err());
    }

    #[test]
    fn bench_lines_lead_with_the_scenario() {
        let v = json!({"bytes": 1, "gbps": 1.5, "scenario": "put-multipart", "etag": "a\"b"});
        let line = bench_line(&v);
        assert_eq!(
            line,
            r#"{"scenario":"put-multipart","gbps":1.5,"bytes":1,"etag":"a\"b"}"#
        );
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), v);
    }

    #[test]
    fn percentiles() {
        let v: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(5));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(10));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(10));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
