//! Operating the service: liveness, readiness, metrics, the ledger check behind
//! `clickcollect check`, and the background jobs that `serve` and `worker` run.

pub mod jobs;
pub mod routes;
