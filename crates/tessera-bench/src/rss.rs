//! Samples a process's resident set from /proc/PID/status on a thread of
//! its own while a scenario runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

/// `VmRSS` and `VmHWM` of one reading, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reading {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// What a sampling run saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct RssStats {
    /// The largest VmRSS sampled.
    pub peak_rss_kib: u64,
    /// VmHWM at the last good reading: the kernel's own peak over the
    /// process's whole life, so it also covers what fell between samples.
    pub hwm_kib: u64,
    pub samples: u64,
}

impl RssStats {
    /// The figure to judge: the kernel's high-water mark, or the sampled
    /// peak if that is larger (it cannot be, unless VmHWM is missing).
    pub fn peak_kib(&self) -> u64 {
        self.peak_rss_kib.max(self.hwm_kib)
    }
}

pub fn parse_status(text: &str) -> Option<Reading> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    let rss_kib = field("VmRSS:")?;
    Some(Reading {
        rss_kib,
        hwm_kib: field("VmHWM:").unwrap_or(rss_kib),
    })
}

pub fn read(pid: u32) -> Result<Reading> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status(&text)
        .ok_or_else(|| anyhow!("{path}: no VmRSS line (a kernel thread or a zombie?)"))
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<RssStats>,
}

impl Sampler {
    /// Starts sampling every `interval`; fails at once if the process cannot be read.
    pub fn start(pid: u32, interval: Duration) -> Result<Self> {
        let first = read(pid)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                let mut stats = RssStats {
                    peak_rss_kib: first.rss_kib,
                    hwm_kib: first.hwm_kib,
                    samples: 1,
                };
                loop {
                    let last = flag.load(Ordering::Relaxed);
                    match read(pid) {
                        Ok(r) => {
                            stats.peak_rss_kib = stats.peak_rss_kib.max(r.rss_kib);
                            stats.hwm_kib = stats.hwm_kib.max(r.hwm_kib);
                            stats.samples += 1;
                        }
                        Err(_) => break, // the process is gone
                    }
                    if last {
                        break;
                    }
                    std::thread::sleep(interval);
                }
                stats
            })?;
        Ok(Self { stop, handle })
    }

    /// Takes one last reading and returns what was seen.
    pub fn finish(self) -> RssStats {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status() {
        let text = "Name:\ttessera\nVmPeak:\t  300000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\nThreads:\t4\n";
        assert_eq!(
            parse_status(text),
            Some(Reading {
                rss_kib: 70_000,
                hwm_kib: 81_234
            })
        );
        assert_eq!(parse_status("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn samples_this_process() {
        let pid = std::process::id();
        let s = Sampler::start(pid, Duration::from_millis(1)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let stats = s.finish();
        assert!(stats.samples >= 2);
        assert!(stats.peak_rss_kib > 0);
        assert!(stats.hwm_kib >= stats.peak_rss_kib);
    }
}
