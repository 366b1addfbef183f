//! Metric math on arbitrary text: `monitor::expr::parse` and a whole
//! `evaluate` over two metrics and a second expression give a result or an
//! error naming the query, never a panic; every returned point is a number
//! and points come oldest first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monitor::expr::{evaluate, parse, Query, Series, Window};
use monitor::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse(src);
    let t = |m: u64| Timestamp::from_unix_secs(1_795_947_600 + 60 * m);
    let series = |label: &str, values: &[(u64, f64)]| Series {
        label: label.into(),
        period: 60,
        points: values.iter().map(|&(m, v)| (t(m), v)).collect(),
    };
    let queries = [
        Query::metric(
            "m1",
            series("A", &[(0, 1.0), (1, -2.5), (3, 0.0), (7, 1e300)]),
        ),
        Query::metric("m2", series("B", &[(1, 4.0), (2, 0.0), (3, -1e-300)])).hidden(),
        Query::expression("e1", src),
        Query::expression("e2", "m1 * 2 + FILL(m2, LINEAR)"),
    ];
    if let Ok(results) = evaluate(
        &queries,
        Window {
            start: t(0),
            end: t(10),
        },
    ) {
        for r in results {
            assert!(r.points.iter().all(|p| p.1.is_finite()));
            assert!(r.points.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }
});
