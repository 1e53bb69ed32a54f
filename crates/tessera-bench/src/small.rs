//! `put-small`: many small PutObjects, to measure what authorization costs per
//! request (caller identity, optionally a bucket policy of N statements).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::s3::Caller;
use crate::{human_bytes, ms, part_body, percentile, round, unique_suffix, Bench, SmallArgs};

/// The key of object `i` under `prefix`.
fn key(prefix: &str, i: u32) -> String {
    format!("{prefix}{i:08}")
}

/// A bucket policy of exactly `n` statements in the style of real ones: Allow
/// and Deny, principals `*` or the caller's account root, conditions, resources
/// under various prefixes. None denies a PutObject under `prefix`; the last
/// statement allows the caller (or `*` when unknown) to write and delete there.
pub fn bucket_policy(bucket: &str, prefix: &str, caller: Option<&Caller>, n: usize) -> Value {
    let account_root = caller
        .map(|c| json!({ "AWS": format!("arn:aws:iam::{}:root", c.account) }))
        .unwrap_or_else(|| json!("*"));
    let obj = |p: &str| format!("arn:aws:s3:::{bucket}/{p}");
    let mut statements: Vec<Value> = (0..n.saturating_sub(1))
        .map(|i| {
            let sid = format!("Filler{i:02}");
            match i % 6 {
                // Public read of a published prefix, from an office network only.
                0 => json!({
                    "Sid": sid, "Effect": "Allow", "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": obj(&format!("public-{i}/*")),
                    "Condition": { "IpAddress": { "aws:SourceIp": format!("10.{i}.0.0/16") } },
                }),
                // Archives are never deleted.
                1 => json!({
                    "Sid": sid, "Effect": "Deny", "Principal": account_root,
                    "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                    "Resource": obj(&format!("archive-{i}/*")),
                }),
                // A locked prefix takes writes only over TLS.
                2 => json!({
                    "Sid": sid, "Effect": "Deny", "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": obj(&format!("locked-{i}/*")),
                    "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                }),
                // Listing of a reports prefix for the account.
                3 => json!({
                    "Sid": sid, "Effect": "Allow", "Principal": account_root,
                    "Action": "s3:ListBucket",
                    "Resource": format!("arn:aws:s3:::{bucket}"),
                    "Condition": { "StringLike": { "s3:prefix": [format!("reports-{i}/*")] } },
                }),
                // Everything through one VPC endpoint is refused (evaluated on every
                // request: the key is absent here, so it never matches).
                4 => json!({
                    "Sid": sid, "Effect": "Deny", "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [format!("arn:aws:s3:::{bucket}"), obj("*")],
                    "Condition": { "StringEquals": { "aws:SourceVpce": format!("vpce-0bad{i:04}") } },
                }),
                // Uploads to an inbox must hand the object to the bucket owner.
                _ => json!({
                    "Sid": sid, "Effect": "Allow", "Principal": account_root,
                    "Action": "s3:PutObject",
                    "Resource": obj(&format!("incoming-{i}/*")),
                    "Condition": { "StringEquals": { "s3:x-amz-acl": "bucket-owner-full-control" } },
                }),
            }
        })
        .collect();
    if n > 0 {
        let caller_principal = caller
            .map(|c| json!({ "AWS": c.arn }))
            .unwrap_or_else(|| json!("*"));
        statements.push(json!({
            "Sid": "BenchCaller", "Effect": "Allow", "Principal": caller_principal,
            "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
            "Resource": obj(&format!("{prefix}*")),
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

impl Bench {
    /// Puts objects `from..to` under `prefix`, `concurrency` at a time; returns
    /// each PUT's latency, sorted.
    async fn put_range(
        &self,
        prefix: &str,
        from: u32,
        to: u32,
        size: usize,
        concurrency: usize,
    ) -> Result<Vec<Duration>> {
        let next = Arc::new(AtomicU32::new(from));
        let prefix: Arc<str> = prefix.into();
        let mut set = JoinSet::new();
        for _ in 0..concurrency.clamp(1, (to - from).max(1) as usize) {
            let (s3, bucket, buf) = (self.s3.clone(), self.bucket.clone(), self.buf.clone());
            let (next, prefix) = (next.clone(), prefix.clone());
            set.spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= to {
                        break;
                    }
                    let body = part_body(&buf, i, size);
                    let k = key(&prefix, i);
                    let t = Instant::now();
                    s3.put_object(&bucket, &k, body)
                        .await
                        .with_context(|| format!("PutObject {k}"))?;
                    lat.push(t.elapsed());
                }
                anyhow::Ok(lat)
            });
        }
        let mut all = Vec::with_capacity((to - from) as usize);
        while let Some(joined) = set.join_next().await {
            match joined.map_err(|e| anyhow!("put task failed: {e}"))? {
                Ok(lat) => all.extend(lat),
                Err(e) => {
                    set.abort_all();
                    return Err(e);
                }
            }
        }
        all.sort();
        Ok(all)
    }

    /// Deletes objects `0..to` under `prefix`; returns how long it took.
    async fn delete_range(&self, prefix: &str, to: u32, concurrency: usize) -> Duration {
        let t = Instant::now();
        let next = Arc::new(AtomicU32::new(0));
        let prefix: Arc<str> = prefix.into();
        let mut set = JoinSet::new();
        for _ in 0..concurrency.clamp(1, to.max(1) as usize) {
            let (s3, bucket) = (self.s3.clone(), self.bucket.clone());
            let (next, prefix) = (next.clone(), prefix.clone());
            set.spawn(async move {
                let mut failed = 0u32;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= to {
                        break;
                    }
                    if s3.delete_object(&bucket, &key(&prefix, i)).await.is_err() {
                        failed += 1;
                    }
                }
                failed
            });
        }
        let mut failed = 0;
        while let Some(joined) = set.join_next().await {
            failed += joined.unwrap_or(0);
        }
        if failed > 0 {
            eprintln!("warning: {failed} objects under {prefix} could not be deleted");
        }
        t.elapsed()
    }

    /// The `put-small` scenario.
    pub async fn put_small(&mut self, a: &SmallArgs) -> Result<Value> {
        if a.count == 0 {
            bail!("--count must be at least 1");
        }
        let size = usize::try_from(a.size).context("--size too large")?;
        if size > self.buf.len() {
            bail!("internal: object size exceeds the random buffer");
        }
        let total = a
            .warmup
            .checked_add(a.count)
            .ok_or_else(|| anyhow!("--warmup + --count too large"))?;
        let prefix = format!("tessera-bench/put-small-{}/", unique_suffix());
        let n = a.bucket_policy_statements;
        println!(
            "== put-small{}: {} PUTs of {} ({} warm-up), {} in flight, bucket policy of {n} statements -> {}/{prefix}",
            a.label.as_deref().map(|l| format!(" [{l}]")).unwrap_or_default(),
            a.count,
            human_bytes(a.size),
            a.warmup,
            a.concurrency,
            self.bucket
        );
        // Who is measured; servers without STS still get benchmarked.
        let caller = match self.s3.caller_identity().await {
            Ok(c) => {
                println!("  caller       {} (account {})", c.arn, c.account);
                Some(c)
            }
            Err(e) => {
                eprintln!("warning: caller unknown (STS GetCallerIdentity failed): {e:#}");
                None
            }
        };
        if n > 0 {
            let doc = bucket_policy(&self.bucket, &prefix, caller.as_ref(), n).to_string();
            self.s3
                .put_bucket_policy(&self.bucket, &doc)
                .await
                .with_context(|| format!("installing a bucket policy of {n} statements"))?;
            println!(
                "  policy       {n} statements, {} bytes, installed",
                doc.len()
            );
        }
        let measured = async {
            self.put_range(&prefix, 0, a.warmup, size, a.concurrency)
                .await
                .context("warm-up")?;
            let t = Instant::now();
            let lat = self
                .put_range(&prefix, a.warmup, total, size, a.concurrency)
                .await?;
            anyhow::Ok((lat, t.elapsed()))
        }
        .await;
        if n > 0 {
            if let Err(e) = self.s3.delete_bucket_policy(&self.bucket).await {
                eprintln!("warning: could not remove the bucket policy: {e:#}");
            }
        }
        let (lat, elapsed) = measured?;
        let delete = if self.common.keep {
            None
        } else {
            Some(self.delete_range(&prefix, total, a.concurrency).await)
        };

        let puts_per_sec = a.count as f64 / elapsed.as_secs_f64();
        let mean = lat.iter().sum::<Duration>() / lat.len().max(1) as u32;
        let [p50, p90, p99, max] = [50.0, 90.0, 99.0, 100.0].map(|p| ms(percentile(&lat, p)));
        println!(
            "  PUT          {puts_per_sec:.0} PUT/s ({} in {:.3} s)",
            a.count,
            elapsed.as_secs_f64()
        );
        println!(
            "  latency      p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms, max {max:.2} ms, mean {:.2} ms",
            ms(mean)
        );
        if let Some(d) = delete {
            println!(
                "  cleanup      {total} DeleteObjects in {:.3} s",
                d.as_secs_f64()
            );
        }
        let mut out = json!({
            "scenario": "put-small",
            "puts_per_sec": round(puts_per_sec, 1),
            "p50_ms": round(p50, 3),
            "p90_ms": round(p90, 3),
            "p99_ms": round(p99, 3),
            "max_ms": round(max, 3),
            "mean_ms": round(ms(mean), 3),
            "size": a.size,
            "count": a.count,
            "warmup": a.warmup,
            "concurrency": a.concurrency,
            "bucket_policy_statements": n,
            "seconds": round(elapsed.as_secs_f64(), 4),
            "caller_arn": caller.map(|c| c.arn),
        });
        if let Some(label) = &a.label {
            out["variant"] = json!(label);
        }
        if let Some(d) = delete {
            out["deletes_per_sec"] = json!(round(total as f64 / d.as_secs_f64(), 1));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_have_n_statements_and_end_with_the_caller() {
        let caller = Caller {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/bench".into(),
        };
        for n in [1, 2, 7, 20] {
            let p = bucket_policy("b", "tessera-bench/x/", Some(&caller), n);
            let st = p["Statement"].as_array().unwrap();
            assert_eq!(st.len(), n);
            let last = &st[n - 1];
            assert_eq!(last["Principal"]["AWS"], caller.arn);
            assert_eq!(last["Resource"], "arn:aws:s3:::b/tessera-bench/x/*");
        }
        assert_eq!(
            bucket_policy("b", "p/", None, 0)["Statement"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
        let anonymous = bucket_policy("b", "p/", None, 3);
        assert_eq!(anonymous["Statement"][2]["Principal"], "*");
    }

    #[test]
    fn no_statement_denies_the_bench_puts() {
        let p = bucket_policy("b", "tessera-bench/x/", None, 20);
        for st in p["Statement"].as_array().unwrap() {
            if st["Effect"] != "Deny" {
                continue;
            }
            let actions = st["Action"].to_string();
            let resources = st["Resource"].to_string();
            let hits_puts = actions.contains("s3:PutObject") || actions.contains("s3:*");
            let hits_prefix = resources.contains("b/*") || resources.contains("tessera-bench");
            // A Deny that could reach the bench's PUTs must carry a condition that is false for it.
            if hits_puts && hits_prefix {
                assert!(st["Condition"]["StringEquals"]["aws:SourceVpce"].is_string());
            }
        }
        let sids: std::collections::HashSet<_> = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].to_string())
            .collect();
        assert_eq!(sids.len(), 20, "Sids are unique");
    }

    #[test]
    fn keys_sort_in_put_order() {
        assert_eq!(key("p/", 7), "p/00000007");
        assert!(key("p/", 9) < key("p/", 10));
    }
}
