//! The store on a virtual clock.

use proptest::prelude::*;

use super::*;
use crate::Dimension;

/// 2026-11-29T10:20:00Z, a minute boundary.
const T0: u64 = 1_795_947_600;

fn t(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0 + secs)
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension {
        name: name.into(),
        value: value.into(),
    }
}

fn id(ns: &str, name: &str, dims: &[(&str, &str)]) -> MetricId {
    let dims = dims.iter().map(|(n, v)| dim(n, v)).collect();
    MetricId::new(ns, name, dims).unwrap_or_else(|e| unreachable!("test id: {e}"))
}

fn set(count: f64, sum: f64, min: f64, max: f64) -> StatisticSet {
    StatisticSet::new(count, sum, min, max).unwrap_or_else(|e| unreachable!("test set: {e}"))
}

fn one(v: f64) -> StatisticSet {
    set(1.0, v, v, v)
}

fn ok(r: Result<(), MonitorError>) {
    if let Err(e) = r {
        unreachable!("refused: {e}");
    }
}

fn timestamps(points: &[(Timestamp, StatisticSet)]) -> Vec<Timestamp> {
    points.iter().map(|(t, _)| *t).collect()
}

#[test]
fn slot_and_metric_sizes() {
    assert_eq!(ring::SLOT_BYTES, 36);
    assert_eq!(SECOND_SLOTS, 18_000);
    assert_eq!(MINUTE_SLOTS, 21_720);
    assert_eq!(METRIC_BYTES, 1_429_920);
}

/// The page of the seconds ring that `ts` falls in.
fn second_page(ts: Timestamp) -> u64 {
    secs_of(ts) % SECOND_SLOTS as u64 / PAGE_SLOTS as u64
}

/// Bytes of one full page, slots and header.
const PAGE_BYTES: usize = PAGE_SLOTS * SLOT_BYTES + ring::PAGE_HEADER_BYTES;

fn usage(store: &Store, m: &MetricId) -> SlotUsage {
    store
        .slots(m)
        .unwrap_or_else(|| unreachable!("{m:?} is in the store"))
}

#[test]
fn memory_grows_with_written_pages_only() {
    let m = id("onair/MediaConnect", "SourceBitRate", &[("FlowARN", "f")]);
    let mut store = Store::new(StoreConfig::default());
    let empty = store.memory_bytes();
    ok(store.put(t(0), &m, t(0), 1.0));
    let one = usage(&store, &m);
    assert_eq!((one.second_pages, one.minute_pages), (1, 1));
    assert_eq!(
        (one.second_slots, one.minute_slots),
        (PAGE_SLOTS, PAGE_SLOTS)
    );
    assert_eq!((one.seconds_used, one.minutes_used), (1, 1));
    assert_eq!(store.memory_bytes(), empty + one.bytes);
    // Two pages, their page table entries and the map entry: about 5 KB
    // instead of 1.4 MB.
    let pages = 2 * PAGE_BYTES;
    assert!((pages..pages + 1024).contains(&one.bytes), "{}", one.bytes);

    // More seconds in the same page cost nothing ...
    let next_page = (1..)
        .map(t)
        .find(|ts| second_page(*ts) != second_page(t(0)))
        .unwrap_or(t(0));
    let mut s = t(1);
    while s < next_page {
        ok(store.put(t(0), &m, s, 1.0));
        s = s.plus_secs(1);
    }
    let same = usage(&store, &m);
    assert_eq!(same.second_pages, 1);
    assert_eq!(same.bytes, one.bytes);
    // ... and the first second of the next page allocates exactly one page.
    ok(store.put(t(0), &m, next_page, 1.0));
    let two = usage(&store, &m);
    assert_eq!((two.second_pages, two.minute_pages), (2, 1));
    assert_eq!(two.bytes, one.bytes + PAGE_BYTES);
    // A second metric costs its own pages; reads allocate nothing.
    let other = id("ns", "other", &[]);
    let before = store.memory_bytes();
    assert!(store
        .read(t(0), &other, t(0), t(60), Resolution::Second)
        .is_empty());
    assert_eq!(store.memory_bytes(), before);
    ok(store.put(t(0), &other, t(0), 1.0));
    assert_eq!(store.memory_bytes(), before + usage(&store, &other).bytes);
}

#[test]
fn a_fully_written_seconds_window_stays_bounded() {
    let m = id("ns", "m", &[]);
    let mut store = Store::new(StoreConfig::default());
    // Every second for 3 hours: the pages covering 10 800 seconds.
    for s in 0..SECOND_RETENTION_SECS {
        ok(store.put(t(s), &m, t(s), 1.0));
    }
    let pages: std::collections::BTreeSet<u64> = (0..SECOND_RETENTION_SECS)
        .map(|s| second_page(t(s)))
        .collect();
    let three_hours = usage(&store, &m);
    assert_eq!(three_hours.second_pages, pages.len());
    assert_eq!(three_hours.seconds_used as u64, SECOND_RETENTION_SECS);
    assert!(three_hours.minute_pages <= 4);
    assert!(
        three_hours.bytes < METRIC_BYTES / 3,
        "{}",
        three_hours.bytes
    );
    // Once the ring has wrapped, every page is allocated and writing on
    // allocates nothing more.
    for s in SECOND_RETENTION_SECS..(6 * 3600) {
        ok(store.put(t(s), &m, t(s), 1.0));
    }
    let full = usage(&store, &m);
    assert_eq!(full.second_pages, SECOND_SLOTS.div_ceil(PAGE_SLOTS));
    assert_eq!(full.second_slots, SECOND_SLOTS);
    for s in (6 * 3600)..(7 * 3600) {
        ok(store.put(t(s), &m, t(s), 1.0));
    }
    let later = usage(&store, &m);
    assert_eq!(later.second_slots, SECOND_SLOTS);
    assert_eq!(
        later.bytes,
        full.bytes + PAGE_BYTES * (later.minute_pages - full.minute_pages)
    );
    assert!(later.bytes < METRIC_BYTES);
}

#[test]
fn expire_gives_back_pages_past_retention() {
    let (stopped, live) = (id("ns", "stopped", &[]), id("ns", "live", &[]));
    let mut store = Store::new(StoreConfig::default());
    // `stopped` is written for an hour, `live` for 8 hours, every second.
    for s in 0..(8 * 3600) {
        if s < 3600 {
            ok(store.put(t(s), &stopped, t(s), 1.0));
        }
        ok(store.put(t(s), &live, t(s), 1.0));
    }
    let now = t(8 * 3600);
    let read = |store: &Store, m: &MetricId, resolution| {
        store.read(now, m, t(0), now.plus_secs(1), resolution)
    };
    let reads = |store: &Store| {
        [&stopped, &live].map(|m| {
            (
                read(store, m, Resolution::Second),
                read(store, m, Resolution::Minute),
            )
        })
    };
    let before = reads(&store);
    let (bytes, stopped_usage) = (store.memory_bytes(), usage(&store, &stopped));
    assert_eq!(usage(&store, &live).second_slots, SECOND_SLOTS);
    assert_eq!(store.expire(now), 0);
    // Nothing readable changed ...
    assert_eq!(reads(&store), before);
    // ... the stopped metric keeps only its minutes ...
    let after = usage(&store, &stopped);
    assert_eq!((after.second_pages, after.seconds_used), (0, 0));
    assert_eq!(after.minute_pages, stopped_usage.minute_pages);
    // ... and the live one the pages of its last 3 hours.
    let live_pages: std::collections::BTreeSet<u64> =
        (5 * 3600..8 * 3600).map(|s| second_page(t(s))).collect();
    assert_eq!(usage(&store, &live).second_pages, live_pages.len());
    // About 840 KB down to 450 KB.
    assert!(store.memory_bytes() < bytes - 380_000, "{bytes}");
    // A snapshot carries what is left, and restores it.
    let restored = Store::restore(store.config(), &store.snapshot());
    assert_eq!(restored.as_ref(), Ok(&store));
}

#[test]
fn seconds_are_readable_for_3_hours_then_as_minutes() {
    let m = id("ns", "m", &[]);
    let mut store = Store::new(StoreConfig::default());
    // The oldest second (3 h) ends a minute, the youngest starts the next.
    let now = t(SECOND_RETENTION_SECS + 659);
    let young = now.minus_secs(SECOND_RETENTION_SECS - 1); // 3 h − 1 s
    let old = now.minus_secs(SECOND_RETENTION_SECS); // 3 h
    ok(store.put(now, &m, young, 1.0));
    ok(store.put(now, &m, old, 2.0));
    assert_eq!(store.resolution(now, young), Resolution::Second);
    assert_eq!(store.resolution(now, old), Resolution::Minute);
    let secs = store.read(now, &m, t(0), now, Resolution::Second);
    assert_eq!(secs, vec![(young, one(1.0))]);
    let mins = store.read(now, &m, t(0), now, Resolution::Minute);
    assert_eq!(
        timestamps(&mins),
        vec![old.floor_to(60), young.floor_to(60)]
    );

    // Written live, a second stays readable until it is 3 h old.
    let mut store = Store::new(StoreConfig::default());
    ok(store.put(t(0), &m, t(0), 5.0));
    let range = (t(0), t(1));
    let at = |now| store.read(now, &m, range.0, range.1, Resolution::Second);
    assert_eq!(at(t(SECOND_RETENTION_SECS - 1)).len(), 1);
    assert_eq!(at(t(SECOND_RETENTION_SECS)).len(), 0);
    let mins = |now| store.read(now, &m, t(0), t(60), Resolution::Minute);
    assert_eq!(mins(t(SECOND_RETENTION_SECS)).len(), 1);
    // A minute stays readable until it is 15 days old.
    let fifteen_days = MINUTE_RETENTION_MINS * 60;
    assert_eq!(mins(t(fifteen_days - 1)).len(), 1);
    assert_eq!(mins(t(fifteen_days)).len(), 0);
}

#[test]
fn a_point_two_hours_ahead_evicts_nothing_within_retention() {
    let m = id("ns", "m", &[]);
    let mut store = Store::new(StoreConfig::default());
    let now = t(50_000);
    ok(store.put(now, &m, now.minus_secs(SECOND_RETENTION_SECS - 1), 1.0));
    ok(store.put(now, &m, now.plus_secs(MAX_FUTURE_SECS), 2.0));
    let end = now.plus_secs(MAX_FUTURE_SECS + 1);
    assert_eq!(store.read(now, &m, t(0), end, Resolution::Second).len(), 2);
    // A minute written live, then a point 2 h ahead when it is 15 days − 1
    // minute old.
    let mut store = Store::new(StoreConfig::default());
    ok(store.put(t(0), &m, t(0), 1.0));
    let now = t(MINUTE_RETENTION_MINS * 60 - 60);
    ok(store.put(now, &m, now.plus_secs(MAX_FUTURE_SECS), 2.0));
    let end = now.plus_secs(MAX_FUTURE_SECS + 60);
    assert_eq!(store.read(now, &m, t(0), end, Resolution::Minute).len(), 2);
}

#[test]
fn minutes_are_the_rollup_of_their_seconds() {
    let m = id("ns", "m", &[]);
    let mut store = Store::new(StoreConfig::default());
    let now = t(600);
    // Three values a second for 3 minutes, one StatisticValues in second 7.
    for s in 0..180u64 {
        for k in 0..3u64 {
            ok(store.put(
                now,
                &m,
                Timestamp::from_unix_millis((T0 + s) * 1000 + k * 300),
                (s * 3 + k) as f64,
            ));
        }
    }
    ok(store.put_statistic_set(now, &m, t(7), set(10.0, -50.0, -9.0, -1.0)));
    let secs = store.read(now, &m, t(0), now, Resolution::Second);
    assert_eq!(secs.len(), 180);
    assert_eq!(secs.first(), Some(&(t(0), set(3.0, 3.0, 0.0, 2.0))));
    let mins = store.read(now, &m, t(0), now, Resolution::Minute);
    assert_eq!(timestamps(&mins), vec![t(0), t(60), t(120)]);
    for (minute, rollup) in &mins {
        let expected = secs
            .iter()
            .filter(|(ts, _)| ts.floor_to(60) == *minute)
            .fold(StatisticSet::EMPTY, |acc, (_, s)| acc.merge(*s));
        assert_eq!(*rollup, expected);
    }
    assert_eq!(
        mins.first().map(|(_, s)| (s.sample_count, s.minimum)),
        Some((190.0, -9.0))
    );
}

#[test]
fn twenty_days_of_1_hz_keep_the_rings_the_same_size() {
    let m = id("onair/MediaLive", "NetworkIn", &[("ChannelId", "1")]);
    let mut store = Store::new(StoreConfig::default());
    let days = 20 * 86_400;
    for s in 0..days {
        ok(store.put(t(s), &m, t(s), 1.0));
    }
    let usage = store.slots(&m);
    assert_eq!(
        usage.map(|u| (
            u.second_slots,
            u.seconds_used,
            u.minute_slots,
            u.minutes_used
        )),
        Some((SECOND_SLOTS, SECOND_SLOTS, MINUTE_SLOTS, MINUTE_SLOTS))
    );
    // Every page allocated: the worst case, and no more than the page
    // headers and table entries besides (622 of each, the tables rounded up
    // to a power of two).
    let pages = SECOND_SLOTS.div_ceil(PAGE_SLOTS) + MINUTE_SLOTS.div_ceil(PAGE_SLOTS);
    assert_eq!(usage.map(|u| u.second_pages + u.minute_pages), Some(pages));
    let bytes = usage.map_or(0, |u| u.bytes);
    assert!(
        (METRIC_BYTES..METRIC_BYTES + 40_960).contains(&bytes),
        "{bytes}"
    );
    let now = t(days - 1); // the last second written
    let end = now.plus_secs(1);
    let secs = store.read(now, &m, t(0), end, Resolution::Second);
    assert_eq!(secs.len() as u64, SECOND_RETENTION_SECS);
    let mins = store.read(now, &m, t(0), end, Resolution::Minute);
    assert_eq!(mins.len() as u64, MINUTE_RETENTION_MINS);
    assert!(mins.iter().all(|(_, s)| s.sample_count == 60.0));
    assert_eq!(
        mins.first().map(|(t, _)| *t),
        Some(end.minus_secs(MINUTE_RETENTION_MINS * 60))
    );
}

#[test]
fn refuses_data_more_than_2_weeks_old_or_2_hours_ahead() {
    let m = id("ns", "m", &[]);
    let mut store = Store::new(StoreConfig::default());
    let now = t(MAX_AGE_SECS + 10);
    ok(store.put(now, &m, now.minus_secs(MAX_AGE_SECS), 1.0));
    ok(store.put(now, &m, now.plus_secs(MAX_FUTURE_SECS), 1.0));
    let too_old = Timestamp::from_unix_millis(now.minus_secs(MAX_AGE_SECS).as_unix_millis() - 1);
    let err = store.put(now, &m, too_old, 1.0).err();
    assert_eq!(
        err.as_ref().map(ToString::to_string).as_deref(),
        Some("Timestamp: 2026-11-29T10:20:09.999+0000 is more than 2 weeks before now (oldest accepted 2026-11-29T10:20:10.000+0000)")
    );
    let too_new = Timestamp::from_unix_millis(now.plus_secs(MAX_FUTURE_SECS).as_unix_millis() + 1);
    assert!(matches!(
        store.put(now, &m, too_new, 1.0),
        Err(MonitorError::TooNew { .. })
    ));
    assert!(store.put(now, &m, now, f64::NAN).is_err());
    // An overflowing sum is refused and leaves the stored point alone.
    ok(store.put(now, &m, now, f64::MAX));
    let err = store
        .put(now, &m, now, f64::MAX)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("Value: the sum of this minute's values would overflow")
    );
    let snapshot = Store::restore(store.config(), &store.snapshot());
    assert_eq!(snapshot.as_ref(), Ok(&store));
    assert_eq!(
        store
            .read(
                now,
                &m,
                t(0),
                now.plus_secs(MAX_FUTURE_SECS + 1),
                Resolution::Minute
            )
            .len(),
        3
    );
}

#[test]
fn time_stamps_up_to_the_year_9999_are_kept() {
    let m = id("ns", "m", &[]);
    let mut store = Store::new(StoreConfig::default());
    let last = LATEST_TIMESTAMP;
    ok(store.put(last, &m, last, 1.0));
    let end = Timestamp::from_unix_millis(u64::MAX);
    assert_eq!(store.read(last, &m, t(0), end, Resolution::Second).len(), 1);
    assert_eq!(store.read(last, &m, t(0), end, Resolution::Minute).len(), 1);
    assert_eq!(
        Store::restore(store.config(), &store.snapshot()).as_ref(),
        Ok(&store)
    );
    let beyond = Timestamp::from_unix_millis(last.as_unix_millis() + 1);
    let err = store
        .put(beyond, &m, beyond, 1.0)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("Timestamp: must be before 10000-01-01T00:00:00Z")
    );
    // A snapshot cannot smuggle one in either: the last minute's unit is
    // the u64 before its four f64.
    let mut bytes = store.snapshot();
    let at = bytes.len() - 40;
    if let Some(unit) = bytes.get_mut(at..at + 8) {
        unit.copy_from_slice(&(mins_of(last) + 1).to_le_bytes());
    }
    let err = Store::restore(store.config(), &bytes)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("snapshot: invalid (minutes point 4223371680: after year 9999)")
    );
}

#[test]
fn the_metric_cap_refuses_new_metrics_only() {
    let mut store = Store::new(StoreConfig { max_metrics: 2 });
    let (a, b, c) = (id("ns", "a", &[]), id("ns", "b", &[]), id("ns", "c", &[]));
    ok(store.put(t(0), &a, t(0), 1.0));
    ok(store.put(t(0), &b, t(0), 1.0));
    let err = store.put(t(0), &c, t(0), 1.0).err();
    assert_eq!(err, Some(MonitorError::MetricLimit { limit: 2 }));
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(
            "metric limit reached: the store holds 2 metrics, its configured maximum (max_metrics)"
        )
    );
    ok(store.put(t(1), &a, t(1), 1.0));
    assert_eq!(store.len(), 2);
    // Once `b` has had no data for 15 days it is forgotten, making room.
    let later = t(MINUTE_RETENTION_MINS * 60);
    ok(store.put(later, &a, later, 1.0));
    assert_eq!(store.expire(later), 1);
    ok(store.put(later, &c, later, 1.0));
    assert_eq!(store.list(&MetricFilter::default()), vec![&a, &c]);
}

#[test]
fn list_filters_like_list_metrics() {
    let mut store = Store::new(StoreConfig::default());
    let ids = [
        id(
            "onair/MediaLive",
            "NetworkIn",
            &[("ChannelId", "1"), ("Pipeline", "0")],
        ),
        id("onair/MediaLive", "NetworkIn", &[("ChannelId", "2")]),
        id("onair/MediaLive", "DroppedFrames", &[("ChannelId", "1")]),
        id("onair/MediaConnect", "SourceBitRate", &[("FlowARN", "f")]),
    ];
    for m in &ids {
        ok(store.put(t(0), m, t(0), 1.0));
    }
    let list = |f: MetricFilter| store.list(&f).into_iter().cloned().collect::<Vec<_>>();
    let by_ns = MetricFilter {
        namespace: Some("onair/MediaLive".into()),
        ..MetricFilter::default()
    };
    assert_eq!(list(by_ns.clone()).len(), 3);
    let by_name = MetricFilter {
        metric_name: Some("NetworkIn".into()),
        ..by_ns.clone()
    };
    assert_eq!(list(by_name.clone()).len(), 2);
    let channel = |value: Option<&str>| DimensionFilter {
        name: "ChannelId".into(),
        value: value.map(Into::into),
    };
    let one = MetricFilter {
        dimensions: vec![channel(Some("1"))],
        ..MetricFilter::default()
    };
    let got = list(one);
    assert_eq!(got.len(), 2);
    assert!(got.contains(&ids[0]) && got.contains(&ids[2]));
    let any_channel = MetricFilter {
        dimensions: vec![channel(None)],
        ..by_name
    };
    assert_eq!(list(any_channel).len(), 2);
    let both = MetricFilter {
        dimensions: vec![
            channel(Some("1")),
            DimensionFilter {
                name: "Pipeline".into(),
                value: None,
            },
        ],
        ..MetricFilter::default()
    };
    assert_eq!(list(both), vec![ids[0].clone()]);
}

#[test]
fn periods_group_sets_for_get_metric_statistics() {
    use crate::{MetricStatistic, Statistic};
    let m = id("ns", "m", &[]);
    let mut store = Store::new(StoreConfig::default());
    let now = t(4 * 3600);
    for s in 0..600u64 {
        ok(store.put(now, &m, t(3 * 3600 + s), (s % 10) as f64));
    }
    // Within 3 hours: 5-minute periods from 1-second points.
    let start = Timestamp::from_unix_millis(t(3 * 3600).as_unix_millis() + 500);
    let periods = store.periods(now, &m, start, now, 300);
    let periods = periods.unwrap_or_default();
    assert_eq!(
        periods
            .iter()
            .map(|p| (p.start, p.sets.len()))
            .collect::<Vec<_>>(),
        vec![(t(3 * 3600), 300), (t(3 * 3600 + 300), 300)]
    );
    let sum = MetricStatistic::Statistic(Statistic::Sum);
    let average = MetricStatistic::Statistic(Statistic::Average);
    let first = periods.first().map(|p| p.sets.as_slice()).unwrap_or(&[]);
    assert_eq!(sum.compute_sets(first).map(|v| v.value), Some(1350.0));
    assert_eq!(average.compute_sets(first).map(|v| v.value), Some(4.5));
    // Later, the same hour comes from minutes for a 1-hour period ...
    let later = t(8 * 3600);
    let hour = store
        .periods(later, &m, t(3 * 3600), later, 3600)
        .unwrap_or_default();
    assert_eq!(hour.len(), 1);
    let sets = hour.first().map(|p| p.sets.as_slice()).unwrap_or(&[]);
    assert_eq!(sets.len(), 10);
    assert_eq!(sum.compute_sets(sets).map(|v| v.value), Some(2700.0));
    // ... and not at all for a 10-second period.
    assert_eq!(
        store.periods(later, &m, t(3 * 3600), later, 10),
        Ok(Vec::new())
    );
    let err = store
        .periods(later, &m, t(0), later, 90)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("Period: must be 1, 5, 10, 20, 30 or a multiple of 60")
    );
}

fn arb_store() -> impl Strategy<Value = Store> {
    let op = (
        0u8..3,
        0u64..(20 * 86_400),
        0u64..20_000,
        -1e6f64..1e6,
        1u32..5,
    );
    proptest::collection::vec(op, 0..40).prop_map(|ops| {
        let mut store = Store::new(StoreConfig { max_metrics: 3 });
        for (metric, now, age, value, count) in ops {
            let m = id("ns", &format!("m{metric}"), &[("d", "v")]);
            let ts = t(now).minus_secs(age);
            let c = f64::from(count);
            let s = set(c, value * c, value - 1.0, value + 1.0);
            let _ = store.put_statistic_set(t(now), &m, ts, s);
        }
        store
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn restore_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Store::restore(StoreConfig::default(), &bytes);
        let mut versioned = vec![1u8];
        versioned.extend_from_slice(&bytes);
        let _ = Store::restore(StoreConfig::default(), &versioned);
    }

    #[test]
    fn restore_of_a_snapshot_is_the_identity(store in arb_store()) {
        let bytes = store.snapshot();
        let restored = Store::restore(store.config(), &bytes);
        prop_assert_eq!(restored.as_ref(), Ok(&store));
        prop_assert_eq!(restored.map(|r| r.snapshot()), Ok(bytes));
    }

    #[test]
    fn restore_refuses_every_corruption_of_a_snapshot_or_accepts_a_valid_store(
        store in arb_store(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = store.snapshot();
        let i = at.index(bytes.len());
        if let Some(b) = bytes.get_mut(i) {
            *b = byte;
        }
        if let Ok(r) = Store::restore(store.config(), &bytes) {
            // Whatever is accepted is a store that snapshots to those bytes.
            prop_assert_eq!(r.snapshot(), bytes);
        }
    }
}
