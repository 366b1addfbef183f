//! The metric store's snapshot on arbitrary bytes: a store or an error
//! (truncated / invalid), never a panic; whatever is accepted snapshots back
//! to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monitor::series::{Store, StoreConfig};

fuzz_target!(|data: &[u8]| {
    if let Ok(store) = Store::restore(StoreConfig { max_metrics: 16 }, data) {
        assert_eq!(store.snapshot(), data);
    }
});
