//! Prometheus metrics without a metrics framework: request counts by route and status,
//! latency histograms by route, and the database pool's state, rendered as text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

#[derive(Default)]
struct Series {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Latency>,
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
    pub stock: StockCounters,
}

/// How holds and availability reads were served: batched, from memory, from the database.
#[derive(Default)]
pub struct StockCounters {
    /// Transactions that placed queued holds of one level together.
    pub hold_batches: AtomicU64,
    /// Holds answered by those transactions (placed or refused).
    pub batched_holds: AtomicU64,
    /// Batches that failed and were retried one hold at a time.
    pub failed_batches: AtomicU64,
    /// Holds refused as sold out from memory, without a transaction.
    pub sold_out_from_memory: AtomicU64,
    pub availability_cache_hits: AtomicU64,
    pub availability_cache_misses: AtomicU64,
}

impl StockCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The pool's state at scrape time.
pub struct PoolGauges {
    pub max_size: u32,
    pub connections: u32,
    pub idle: u32,
}

impl Metrics {
    /// Records one request. `route` is the matched pattern (`/v1/stock/{location}/{sku}`), never
    /// the raw path, so the number of series stays bounded.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut series = self.series.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *series.requests.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let latency = series.latency.entry((method.to_string(), route.to_string())).or_default();
        latency.count += 1;
        latency.sum_seconds += seconds;
        for (bucket, bound) in latency.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    pub fn render(&self, pool: PoolGauges) -> String {
        let series = self.series.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        out.push_str("# HELP http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((method, route, status), count) in &series.requests {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((method, route), latency) in &series.latency {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, count) in BUCKETS.iter().zip(latency.buckets) {
                let _ = writeln!(out, "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", latency.count);
            let _ = writeln!(out, "http_request_duration_seconds_sum{{{labels}}} {}", latency.sum_seconds);
            let _ = writeln!(out, "http_request_duration_seconds_count{{{labels}}} {}", latency.count);
        }
        out.push_str("# HELP db_pool_connections Database connections by state.\n");
        out.push_str("# TYPE db_pool_connections gauge\n");
        let _ = writeln!(out, "db_pool_connections{{state=\"idle\"}} {}", pool.idle);
        let _ = writeln!(out, "db_pool_connections{{state=\"in_use\"}} {}", pool.connections.saturating_sub(pool.idle));
        out.push_str("# HELP db_pool_max_connections The pool's size limit.\n");
        out.push_str("# TYPE db_pool_max_connections gauge\n");
        let _ = writeln!(out, "db_pool_max_connections {}", pool.max_size);
        let stock = &self.stock;
        for (name, help, counter) in [
            ("hold_batches_total", "Transactions that placed queued holds of one level together.", &stock.hold_batches),
            ("batched_holds_total", "Holds answered by batch transactions.", &stock.batched_holds),
            (
                "failed_hold_batches_total",
                "Batches that failed and were retried one hold at a time.",
                &stock.failed_batches,
            ),
            (
                "holds_sold_out_from_memory_total",
                "Holds refused as sold out without a transaction.",
                &stock.sold_out_from_memory,
            ),
            (
                "availability_cache_hits_total",
                "Availability reads answered from the cache.",
                &stock.availability_cache_hits,
            ),
            (
                "availability_cache_misses_total",
                "Availability reads that went to the database.",
                &stock.availability_cache_misses,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_add_up() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/v1/x/{id}", 200, Duration::from_millis(2));
        metrics.observe("GET", "/v1/x/{id}", 404, Duration::from_millis(200));
        let text = metrics.render(PoolGauges { max_size: 8, connections: 3, idle: 1 });
        assert!(text.contains("http_requests_total{method=\"GET\",route=\"/v1/x/{id}\",status=\"200\"} 1"));
        assert!(text.contains("http_requests_total{method=\"GET\",route=\"/v1/x/{id}\",status=\"404\"} 1"));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"0.25\"} 2"));
        assert!(text.contains("http_request_duration_seconds_count{method=\"GET\",route=\"/v1/x/{id}\"} 2"));
        assert!(text.contains("db_pool_connections{state=\"in_use\"} 2"));
    }
}
