//! The workloads, one module each; [`all`] lists them in table order.
//!
//! A new workload is a module with a `pub fn workload() -> Workload` whose
//! contenders each implement [`crate::harness::Runner`], plus a line in [`all`].

use crate::harness::Workload;

pub mod copy;
mod decode_200k;
mod insert_1k;
mod pipelined_10k;
mod pool_10k;
mod seq_select1;

/// Every workload, in the order of the results table.
pub fn all() -> Vec<Workload> {
    let mut all = vec![
        seq_select1::workload(),
        decode_200k::workload(),
        pipelined_10k::workload(),
        pool_10k::workload(),
        pool_10k::workload_noreset(),
        insert_1k::executemany(),
        insert_1k::batch(),
        copy::copy_in_1m(),
        copy::copy_out_1m(),
        copy::copy_5m_rss(),
    ];
    crate::asyncpg::drop_if_unavailable(&mut all);
    all
}
