//! Login sessions, in this process's memory (per node: a console behind a load balancer needs
//! sticky sessions). A session is found by the SHA-256 of its cookie, so that a lookup never
//! compares the secret id itself; it ends after an idle period, at an absolute age, at logout,
//! or when the table is full and it is the oldest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Who a session acts as, from STS GetCallerIdentity at login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) access_key_id: String,
    pub(crate) account_id: String,
    pub(crate) arn: String,
    /// The IAM user's name; `None` for the account root.
    pub(crate) user_name: Option<String>,
}

/// What a request's session carries.
pub(crate) struct Session {
    pub(crate) identity: Identity,
    /// The key's secret, to sign the forwarded requests (wiped when the session is dropped).
    pub(crate) secret: Zeroizing<String>,
    /// The token state-changing requests must echo in `X-CSRF-Token`.
    pub(crate) csrf_token: String,
}

struct Entry {
    session: Arc<Session>,
    created: Instant,
    last_seen: Instant,
}

/// Lifetimes and bounds of sessions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// A session unused for this long ends.
    pub(crate) idle: Duration,
    /// A session ends this long after login, used or not.
    pub(crate) max_age: Duration,
    /// Sessions at most; a login beyond ends the oldest.
    pub(crate) max_sessions: usize,
}

/// The session table.
pub(crate) struct Sessions {
    limits: Limits,
    table: Mutex<HashMap<[u8; 32], Entry>>,
}

/// 256 random bits, base64url without padding.
fn random_token() -> String {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// The table key of a cookie value.
fn key_of(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

impl Sessions {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            table: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        // Each update is one map operation: the table stays consistent if a holder panicked.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.last_seen) >= self.limits.idle
            || now.duration_since(e.created) >= self.limits.max_age
    }

    /// Starts a session; returns its cookie value (the session id) and the session.
    pub(crate) fn create(
        &self,
        identity: Identity,
        secret: Zeroizing<String>,
    ) -> (String, Arc<Session>) {
        let id = random_token();
        let session = Arc::new(Session {
            identity,
            secret,
            csrf_token: random_token(),
        });
        let now = Instant::now();
        let mut table = self.table();
        if table.len() >= self.limits.max_sessions {
            table.retain(|_, e| !self.expired(e, now));
        }
        while table.len() >= self.limits.max_sessions.max(1) {
            let oldest = table.iter().min_by_key(|(_, e)| e.created).map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    table.remove(&k);
                    tracing::info!("console: session table full, oldest session ended");
                }
                None => break,
            }
        }
        table.insert(
            key_of(&id),
            Entry {
                session: Arc::clone(&session),
                created: now,
                last_seen: now,
            },
        );
        (id, session)
    }

    /// The live session of cookie value `id`, marked as used now; an expired one is removed.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Session>> {
        let key = key_of(id);
        let now = Instant::now();
        let mut table = self.table();
        let entry = table.get_mut(&key)?;
        if self.expired(entry, now) {
            table.remove(&key);
            return None;
        }
        entry.last_seen = now;
        Some(Arc::clone(&entry.session))
    }

    /// Ends the session of cookie value `id`; whether there was one.
    pub(crate) fn remove(&self, id: &str) -> bool {
        self.table().remove(&key_of(id)).is_some()
    }

    /// Live sessions (expired ones not yet removed are not counted).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let now = Instant::now();
        self.table()
            .values()
            .filter(|e| !self.expired(e, now))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(n: u32) -> Identity {
        Identity {
            access_key_id: format!("AK{n}"),
            account_id: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:root".into(),
            user_name: None,
        }
    }

    fn limits(idle_ms: u64, max_sessions: usize) -> Limits {
        Limits {
            idle: Duration::from_millis(idle_ms),
            max_age: Duration::from_secs(3600),
            max_sessions,
        }
    }

    #[test]
    fn ids_are_random_256_bit_tokens() {
        let s = Sessions::new(limits(60_000, 10));
        let (a, sa) = s.create(who(1), Zeroizing::new("x".into()));
        let (b, sb) = s.create(who(2), Zeroizing::new("y".into()));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_ne!(sa.csrf_token, sb.csrf_token);
        assert_ne!(sa.csrf_token, a);
        assert_eq!(s.get(&a).unwrap().identity, who(1));
        assert!(s.get("nope").is_none());
        assert!(s.remove(&a));
        assert!(s.get(&a).is_none());
        assert!(!s.remove(&a));
    }

    #[test]
    fn idle_sessions_expire_and_use_extends_them() {
        let s = Sessions::new(limits(300, 10));
        let (id, _) = s.create(who(1), Zeroizing::new("x".into()));
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(100));
            assert!(s.get(&id).is_some(), "used sessions stay alive");
        }
        std::thread::sleep(Duration::from_millis(350));
        assert!(s.get(&id).is_none());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn absolute_age_ends_a_session_in_use() {
        let s = Sessions::new(Limits {
            idle: Duration::from_secs(60),
            max_age: Duration::from_millis(200),
            max_sessions: 10,
        });
        let (id, _) = s.create(who(1), Zeroizing::new("x".into()));
        std::thread::sleep(Duration::from_millis(100));
        assert!(s.get(&id).is_some());
        std::thread::sleep(Duration::from_millis(150));
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn a_full_table_ends_the_oldest_session() {
        let s = Sessions::new(limits(60_000, 2));
        let (a, _) = s.create(who(1), Zeroizing::new("x".into()));
        std::thread::sleep(Duration::from_millis(2));
        let (b, _) = s.create(who(2), Zeroizing::new("x".into()));
        std::thread::sleep(Duration::from_millis(2));
        let (c, _) = s.create(who(3), Zeroizing::new("x".into()));
        assert!(s.get(&a).is_none());
        assert!(s.get(&b).is_some());
        assert!(s.get(&c).is_some());
        assert_eq!(s.len(), 2);
    }
}
