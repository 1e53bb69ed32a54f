//! The bound on login attempts per client address, so that secrets cannot be guessed at the
//! console's speed: a fixed window per address (IPv6: per /64), in a table of bounded size.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses tracked at most; beyond, the oldest windows are forgotten.
const MAX_TRACKED: usize = 10_000;

/// Login attempts per address and window.
pub(crate) struct LoginLimiter {
    per_window: u32,
    window: Duration,
    table: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// The key attempts are counted under: an IPv4 address, or the /64 of an IPv6 one.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

impl LoginLimiter {
    pub(crate) fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `ip`; `false` if it is over the limit (the attempt is refused).
    pub(crate) fn attempt(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if table.len() >= MAX_TRACKED {
            table.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if table.len() >= MAX_TRACKED {
                // Many addresses at once: forget the oldest windows.
                let mut starts: Vec<Instant> = table.values().map(|(s, _)| *s).collect();
                starts.sort_unstable();
                let cut = starts[starts.len() / 2];
                table.retain(|_, (start, _)| *start > cut);
            }
        }
        let entry = table.entry(key(ip)).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_beyond_the_limit_until_the_window_ends() {
        let l = LoginLimiter::new(3, Duration::from_millis(200));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.attempt(a) && l.attempt(a) && l.attempt(a));
        assert!(!l.attempt(a));
        assert!(l.attempt(b), "counted per address");
        std::thread::sleep(Duration::from_millis(250));
        assert!(l.attempt(a));
    }

    #[test]
    fn ipv6_counts_per_64() {
        let l = LoginLimiter::new(1, Duration::from_secs(60));
        assert!(l.attempt("2001:db8:1:2::1".parse().unwrap()));
        assert!(!l.attempt("2001:db8:1:2::99".parse().unwrap()));
        assert!(l.attempt("2001:db8:1:3::1".parse().unwrap()));
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = LoginLimiter::new(5, Duration::from_secs(60));
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.attempt(ip));
        }
        assert!(l.table.lock().unwrap().len() <= MAX_TRACKED);
    }
}
