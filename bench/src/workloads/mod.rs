//! The workloads, one module each; [`all`] lists them in table order.
//!
//! A new workload is a module with a `pub fn workload() -> Workload` whose
//! contenders each implement [`crate::harness::Runner`], plus a line in [`all`].

use crate::harness::Workload;

mod decode_200k;
mod pipelined_10k;
mod seq_select1;

/// Every workload, in the order of the results table.
pub fn all() -> Vec<Workload> {
    vec![seq_select1::workload(), decode_200k::workload(), pipelined_10k::workload()]
}
