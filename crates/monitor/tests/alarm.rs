//! The alarm engine on a virtual clock: the documented missing-data tables,
//! operators, M of N, percentiles, cadence, reasons and SetAlarmState.

use monitor::{
    Alarm, AlarmDefinition, AlarmState, ComparisonOperator, MetricStatistic, Percentile, Sample,
    Statistic, Timestamp, TreatMissingData,
};

/// 2026-11-29T10:20:00Z, a minute boundary.
const T0: u64 = 1_795_947_600;

fn t(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0 + secs)
}

fn definition(period: u32, n: u32, m: u32, treat: TreatMissingData) -> AlarmDefinition {
    let mut def = AlarmDefinition::new(
        "encoder-errors",
        "onair/MediaLive",
        "Errors",
        MetricStatistic::Statistic(Statistic::Maximum),
        period,
        n,
        1.0,
        ComparisonOperator::GreaterThanThreshold,
    );
    def.datapoints_to_alarm = Some(m);
    def.treat_missing_data = treat;
    def
}

fn alarm(def: AlarmDefinition) -> Alarm {
    match Alarm::new(def, t(0)) {
        Ok(a) => a,
        Err(e) => unreachable!("valid definition refused: {e}"),
    }
}

/// Samples for an AWS-table picture (oldest first, one symbol per period,
/// `X` breaching, `0` not breaching, `-` missing) whose last period ends at
/// `tick`. Each present period gets three samples.
fn picture(tick: Timestamp, period: u64, pic: &str) -> Vec<Sample> {
    let symbols: Vec<&str> = pic.split_whitespace().collect();
    let count = symbols.len() as u64;
    let mut out = Vec::new();
    for (i, s) in (0u64..).zip(symbols) {
        let value = match s {
            "X" => 5.0,
            "0" => 0.0,
            _ => continue,
        };
        let start = tick.minus_secs((count - i) * period);
        for offset in [0, 1, period - 1] {
            out.push(Sample::new(start.plus_secs(offset), value));
        }
    }
    out
}

use AlarmState::{Alarm as A, InsufficientData as I, Ok as O};
use TreatMissingData::{Breaching, Ignore, Missing, NotBreaching};

/// Expected per column, `None` = "Retain current state".
type Row = (&'static str, [Option<AlarmState>; 4]);

fn check_table(m: u32, rows: &[Row]) {
    let columns = [Missing, Ignore, Breaching, NotBreaching];
    for (pic, expected) in rows {
        for (treat, want) in columns.iter().zip(expected) {
            // From every prior state, so "retain" is really retain.
            for prior in [I, O, A] {
                let mut a = alarm(definition(300, 3, m, *treat));
                assert_eq!(a.evaluation_range_periods(), 5);
                if prior != I {
                    let forced = a.set_state(t(0), prior, "test", None);
                    assert!(forced.is_ok());
                }
                let tick = t(3600);
                let ev = a.evaluate(tick, &picture(tick, 300, pic));
                let want = want.unwrap_or(prior);
                assert_eq!(
                    ev.state, want,
                    "{m} of 3, {pic:?}, {treat:?}, from {prior}: {}",
                    ev.state_reason
                );
            }
        }
    }
}

/// "Configuring how CloudWatch alarms treat missing data": Datapoints to
/// Alarm and Evaluation Periods both 3, evaluation range 5.
#[test]
fn missing_data_table_3_of_3() {
    check_table(
        3,
        &[
            ("0 - X - X", [Some(O), Some(O), Some(O), Some(O)]),
            ("- - - - 0", [Some(O), Some(O), Some(O), Some(O)]),
            ("- - - - -", [Some(I), None, Some(A), Some(O)]),
            ("0 X X - X", [Some(A), Some(A), Some(A), Some(A)]),
            ("- - X - -", [Some(A), None, Some(A), Some(O)]),
        ],
    );
}

/// Same page, the M out of N table: Datapoints to Alarm 2, Evaluation
/// Periods 3, evaluation range 5.
#[test]
fn missing_data_table_2_of_3() {
    check_table(
        2,
        &[
            ("0 - X - X", [Some(A), Some(A), Some(A), Some(A)]),
            ("0 0 X 0 X", [Some(A), Some(A), Some(A), Some(A)]),
            ("0 - X - -", [Some(O), Some(O), Some(A), Some(O)]),
            ("- - - - 0", [Some(O), Some(O), Some(A), Some(O)]),
            ("- - - X -", [Some(A), None, Some(A), Some(O)]),
        ],
    );
}

/// "Avoiding premature transitions to alarm state": `- - - - X` and
/// `- - - X -` with M = 3 do not go to ALARM; the next non-breaching point
/// makes them OK.
#[test]
fn premature_alarm_is_avoided() {
    for (pic, next) in [("- - - - X", "- - - X 0"), ("- - - X -", "- - X - 0")] {
        let mut a = alarm(definition(60, 3, 3, Missing));
        let ev = a.evaluate(t(600), &picture(t(600), 60, pic));
        assert_eq!(ev.state, I, "{pic}");
        assert!(!ev.changed);
        let ev = a.evaluate(t(660), &picture(t(660), 60, next));
        assert_eq!(ev.state, O, "{next}");
    }
}

/// Row 2 of the 3-of-3 table with missing data as breaching: OK while the
/// non-breaching point is in the range, ALARM once it has left it.
#[test]
fn breaching_alarm_fires_once_the_good_point_leaves_the_range() {
    let mut a = alarm(definition(60, 3, 3, Breaching));
    let samples = picture(t(600), 60, "0");
    assert_eq!(a.evaluate(t(600), &samples).state, O);
    for minute in 1..=4 {
        assert_eq!(
            a.evaluate(t(600 + 60 * minute), &samples).state,
            O,
            "{minute}"
        );
    }
    let ev = a.evaluate(t(900), &samples);
    assert_eq!(ev.state, A);
    assert_eq!(
        ev.state_reason,
        "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching]."
    );
}

/// With N real datapoints in the range, the most recent N real ones decide
/// and TreatMissingData does not matter.
#[test]
fn real_datapoints_from_farther_back_are_used() {
    for treat in [Missing, Ignore, Breaching, NotBreaching] {
        let mut a = alarm(definition(60, 3, 3, treat));
        let tick = t(600);
        assert_eq!(a.evaluate(tick, &picture(tick, 60, "X X - X -")).state, A);
        assert_eq!(a.evaluate(tick, &picture(tick, 60, "0 X - X -")).state, O);
    }
}

#[test]
fn m_of_n_counts_breaching_datapoints_anywhere_in_the_last_n() {
    let cases = [
        (2, "X 0 X", A),
        (2, "X X 0", A),
        (2, "0 0 X", O),
        (1, "0 0 X", A),
        (3, "X X 0", O),
        (3, "X X X", A),
    ];
    for (m, pic, want) in cases {
        let mut a = alarm(definition(60, 3, m, Missing));
        assert_eq!(
            a.evaluate(t(600), &picture(t(600), 60, pic)).state,
            want,
            "{m} {pic}"
        );
    }
}

#[test]
fn each_comparison_operator() {
    use ComparisonOperator::*;
    // (operator, value, breaching?) against threshold 10.
    let cases = [
        (GreaterThanOrEqualToThreshold, 10.0, true),
        (GreaterThanOrEqualToThreshold, 9.9, false),
        (GreaterThanThreshold, 10.0, false),
        (GreaterThanThreshold, 10.1, true),
        (LessThanThreshold, 10.0, false),
        (LessThanThreshold, 9.9, true),
        (LessThanOrEqualToThreshold, 10.0, true),
        (LessThanOrEqualToThreshold, 10.1, false),
    ];
    for (op, value, breaching) in cases {
        let mut def = definition(60, 1, 1, Missing);
        def.comparison_operator = op;
        def.threshold = 10.0;
        let mut a = alarm(def);
        let ev = a.evaluate(t(120), &[Sample::new(t(90), value)]);
        assert_eq!(ev.state == A, breaching, "{op} {value}");
        let words = match op {
            GreaterThanOrEqualToThreshold => "greater than or equal to",
            GreaterThanThreshold => "greater than",
            LessThanThreshold => "less than",
            _ => "less than or equal to",
        };
        let not = if breaching { "" } else { "not " };
        assert!(
            ev.state_reason
                .contains(&format!("was {not}{words} the threshold (10.0)")),
            "{}",
            ev.state_reason
        );
    }
}

#[test]
fn band_operators_are_refused() {
    for op in [
        ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold,
        ComparisonOperator::LessThanLowerThreshold,
        ComparisonOperator::GreaterThanUpperThreshold,
    ] {
        let mut def = definition(60, 1, 1, Missing);
        def.comparison_operator = op;
        let err = Alarm::new(def, t(0))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("ComparisonOperator: ") && err.contains(op.as_str()),
            "{err}"
        );
    }
}

#[test]
fn percentile_alarm() {
    let p99: Percentile = match "p99".parse() {
        Ok(p) => p,
        Err(e) => unreachable!("{e}"),
    };
    let mut def = definition(60, 1, 1, Missing);
    def.statistic = MetricStatistic::ExtendedStatistic(p99);
    def.threshold = 98.5;
    let mut a = alarm(def);
    // 100 samples 1..=100 in one minute, several per second.
    let samples: Vec<Sample> = (1..=100u64)
        .map(|i| {
            Sample::new(
                Timestamp::from_unix_millis((T0 + 60) * 1000 + i * 300),
                i as f64,
            )
        })
        .collect();
    let ev = a.evaluate(t(120), &samples);
    assert_eq!(ev.state, A, "{}", ev.state_reason);
    assert!(ev.state_reason.contains("[99.0 (29/11/26 10:21:00)]"));
    let data = ev.state_reason_data.unwrap_or_default();
    assert!(data.contains(r#""extendedStatistic":"p99""#), "{data}");
    assert!(
        data.contains(r#""sampleCount":100.0,"value":99.0"#),
        "{data}"
    );
}

#[test]
fn high_resolution_alarms_are_evaluated_every_10_seconds() {
    for period in [10, 20, 30] {
        let mut a = alarm(definition(period, 1, 1, Missing));
        let mut now = t(1);
        let mut ticks = Vec::new();
        for _ in 0..4 {
            let due = a.next_evaluation(now);
            let range = a.query(due);
            assert_eq!(range.end, due);
            assert_eq!(range.start, due.minus_secs(3 * u64::from(period)));
            a.evaluate(due, &[]);
            ticks.push(due);
            now = due;
        }
        assert_eq!(ticks, vec![t(10), t(20), t(30), t(40)], "period {period}");
    }
    // A 30 s period is a rolling window ending at each 10 s tick.
    let mut a = alarm(definition(30, 1, 1, Missing));
    let samples = [Sample::new(t(5), 9.0), Sample::new(t(35), 0.0)];
    assert_eq!(a.evaluate(t(10), &samples).state, A);
    assert_eq!(a.evaluate(t(30), &samples).state, A); // [0, 30) holds the spike
    assert_eq!(a.evaluate(t(40), &samples).state, O); // [10, 40) does not
}

/// "CloudWatch alarms might repeatedly re-evaluate the last set of data
/// points for a period of time after the metric has stopped flowing": the
/// last real datapoint decides while it is in the evaluation range (N + 2).
#[test]
fn last_datapoints_are_re_evaluated_after_the_metric_stops() {
    let mut a = alarm(definition(60, 1, 1, Missing));
    let last = [Sample::new(t(30), 9.0)];
    assert_eq!(a.evaluate(t(60), &last).state, A);
    assert_eq!(a.evaluate(t(120), &last).state, A);
    assert_eq!(a.evaluate(t(180), &last).state, A);
    let ev = a.evaluate(t(240), &last);
    assert_eq!(ev.state, I);
    assert_eq!(
        ev.state_reason,
        "Insufficient Data: 1 datapoint was unknown."
    );
}

#[test]
fn standard_alarms_are_evaluated_every_minute_over_rolling_periods() {
    let mut a = alarm(definition(300, 1, 1, NotBreaching));
    assert_eq!(a.next_evaluation(t(0)), t(0));
    a.evaluate(t(0), &[]);
    assert_eq!(a.next_evaluation(t(0)), t(60));
    assert_eq!(a.next_evaluation(t(61)), t(120));
    // "at the end of the 6th minute, the alarm is evaluated based on the data
    // from minutes 2 to 6": a breach in minute 1 counts at the end of minute
    // 5 and not at the end of minute 6.
    let samples = [Sample::new(t(30), 9.0), Sample::new(t(340), 0.0)];
    assert_eq!(a.evaluate(t(300), &samples).state, A);
    assert_eq!(a.evaluate(t(360), &samples).state, O);
    // Multi-day alarms are evaluated hourly.
    let a = alarm(definition(3600, 25, 25, Missing));
    assert_eq!(a.next_evaluation(t(1)), t(2400)); // 11:00:00Z
}

#[test]
fn transitions_reasons_and_history() {
    let mut def = definition(60, 3, 2, Missing);
    def.alarm_actions = vec!["arn:aws:sns:us-east-1:123456789012:ops".into()];
    def.ok_actions = vec!["arn:aws:sns:us-east-1:123456789012:ok".into()];
    let mut a = alarm(def);
    assert_eq!(a.state(), I);
    assert_eq!(a.state_reason(), "Unchecked: Initial alarm creation");

    let tick = t(600);
    let ev = a.evaluate(tick, &picture(tick, 60, "0 0 X 0 X"));
    assert!(ev.changed);
    assert_eq!((ev.previous_state, ev.state), (I, A));
    assert_eq!(
        ev.state_reason,
        "Threshold Crossed: 2 out of the last 3 datapoints [5.0 (29/11/26 10:29:00), 5.0 (29/11/26 10:27:00)] were greater than the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition)."
    );
    assert_eq!(
        ev.state_reason_data.as_deref(),
        Some(concat!(
            r#"{"version":"1.0","queryDate":"2026-11-29T10:30:00.000+0000","startDate":"2026-11-29T10:27:00.000+0000","#,
            r#""statistic":"Maximum","period":60,"recentDatapoints":[5.0,0.0,5.0],"threshold":1.0,"#,
            r#""evaluatedDatapoints":[{"timestamp":"2026-11-29T10:29:00.000+0000","sampleCount":3.0,"value":5.0},"#,
            r#"{"timestamp":"2026-11-29T10:27:00.000+0000","sampleCount":3.0,"value":5.0}]}"#
        ))
    );
    assert_eq!(
        ev.actions,
        vec!["arn:aws:sns:us-east-1:123456789012:ops".to_owned()]
    );
    let history = ev
        .history
        .unwrap_or_else(|| unreachable!("a change has history"));
    assert_eq!(history.history_item_type, "StateUpdate");
    assert_eq!(
        history.history_summary,
        "Alarm updated from INSUFFICIENT_DATA to ALARM"
    );
    assert!(history.history_data.starts_with(
        r#"{"version":"1.0","oldState":{"stateValue":"INSUFFICIENT_DATA","stateReason":"Unchecked: Initial alarm creation"},"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: 2 out of"#
    ));
    assert!(history
        .history_data
        .contains(r#""stateReasonData":{"version":"1.0","#));
    assert_eq!(ev.datapoints.len(), 5);

    // Same state again: no change, no history, reason kept.
    let ev = a.evaluate(t(660), &picture(t(660), 60, "0 X 0 X X"));
    assert!(!ev.changed && ev.history.is_none() && ev.actions.is_empty());
    assert!(ev
        .state_reason
        .contains("(minimum 2 datapoints for OK -> ALARM transition)"));

    // Back to OK: 2 of 3 needs N - M + 1 = 2 good datapoints.
    let ev = a.evaluate(t(720), &picture(t(720), 60, "X X X 0 0"));
    assert_eq!(ev.state, O);
    assert_eq!(
        ev.state_reason,
        "Threshold Crossed: 2 out of the last 3 datapoints [0.0 (29/11/26 10:31:00), 0.0 (29/11/26 10:30:00)] were not greater than the threshold (1.0) (minimum 2 datapoints for ALARM -> OK transition)."
    );
    assert_eq!(
        ev.actions,
        vec!["arn:aws:sns:us-east-1:123456789012:ok".to_owned()]
    );

    // Everything missing: INSUFFICIENT_DATA.
    let ev = a.evaluate(t(1200), &[]);
    assert_eq!(ev.state, I);
    assert_eq!(
        ev.state_reason,
        "Insufficient Data: 3 datapoints were unknown."
    );
    assert!(ev.actions.is_empty()); // no InsufficientDataActions configured
}

/// Without DatapointsToAlarm, CloudWatch writes the short form
/// (`Threshold Crossed: 1 datapoint [3.0 (26/10/24 18:59:00)] was greater
/// than or equal to the threshold (1.0).`), with filled-in datapoints named
/// after the threshold.
#[test]
fn reasons_without_datapoints_to_alarm() {
    let mut def = definition(60, 1, 1, Missing);
    def.datapoints_to_alarm = None;
    def.comparison_operator = ComparisonOperator::GreaterThanOrEqualToThreshold;
    let mut a = alarm(def);
    let ev = a.evaluate(t(60), &[Sample::new(t(1), 3.0)]);
    assert_eq!(
        ev.state_reason,
        "Threshold Crossed: 1 datapoint [3.0 (29/11/26 10:20:00)] was greater than or equal to the threshold (1.0)."
    );

    let mut def = definition(60, 2, 2, Breaching);
    def.datapoints_to_alarm = None;
    def.comparison_operator = ComparisonOperator::LessThanThreshold;
    let mut a = alarm(def);
    let ev = a.evaluate(t(60), &[Sample::new(t(1), 0.0)]);
    assert_eq!(ev.state, A);
    assert_eq!(
        ev.state_reason,
        "Threshold Crossed: 1 datapoint [0.0 (29/11/26 10:20:00)] was less than the threshold (1.0) and 1 missing datapoint was treated as [Breaching]."
    );

    let mut def = definition(60, 1, 1, NotBreaching);
    def.datapoints_to_alarm = None;
    let mut a = alarm(def);
    let ev = a.evaluate(t(60), &[]);
    assert_eq!(ev.state, O);
    assert_eq!(
        ev.state_reason,
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching]."
    );
}

#[test]
fn actions_disabled_still_changes_state() {
    let mut def = definition(60, 1, 1, Missing);
    def.actions_enabled = false;
    def.alarm_actions = vec!["arn:aws:sns:us-east-1:123456789012:ops".into()];
    let mut a = alarm(def);
    let ev = a.evaluate(t(120), &[Sample::new(t(61), 9.0)]);
    assert!(ev.changed && ev.history.is_some());
    assert!(ev.actions.is_empty());
}

#[test]
fn set_alarm_state_lasts_until_the_next_evaluation() {
    let mut a = alarm(definition(60, 1, 1, Missing));
    let ok = [Sample::new(t(61), 0.0)];
    assert_eq!(a.evaluate(t(120), &ok).state, O);
    let ev = a.set_state(t(130), A, "testing actions", Some(r#"{"by":"ops"}"#));
    let ev = ev.unwrap_or_else(|e| unreachable!("{e}"));
    assert!(ev.changed);
    assert_eq!(a.state(), A);
    assert_eq!(a.state_reason(), "testing actions");
    let h = ev.history.unwrap_or_else(|| unreachable!());
    assert_eq!(h.history_summary, "Alarm updated from OK to ALARM");
    assert!(h.history_data.ends_with(
        r#""newState":{"stateValue":"ALARM","stateReason":"testing actions","stateReasonData":{"by":"ops"}}}"#
    ));
    let ev = a.evaluate(t(180), &[Sample::new(t(121), 0.0)]);
    assert_eq!((ev.previous_state, ev.state), (A, O));

    let err = a
        .set_state(t(200), A, "x", Some("{not json"))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("StateReasonData: must be a JSON document")
    );
    assert_eq!(a.state(), O);
    // IGNORE keeps a forced state while data is missing.
    let mut a = alarm(definition(60, 1, 1, Ignore));
    let _ = a.set_state(t(0), A, "forced", None);
    assert_eq!(a.evaluate(t(600), &[]).state, A);
}

#[test]
fn validation_names_the_member() {
    let err = |def: AlarmDefinition| Alarm::new(def, t(0)).err().map(|e| e.to_string());
    assert_eq!(
        err(definition(0, 1, 1, Missing)).as_deref(),
        Some("Period: must be 10, 20, 30 or a multiple of 60")
    );
    assert_eq!(
        err(definition(60, 3, 4, Missing)).as_deref(),
        Some("DatapointsToAlarm: must be between 1 and EvaluationPeriods")
    );
    let mut a = alarm(definition(60, 1, 1, Missing));
    assert!(a.update(definition(45, 1, 1, Missing)).is_err());
    assert!(a.update(definition(120, 2, 1, Missing)).is_ok());
    assert_eq!(a.state(), I); // an update leaves the state alone
}

#[test]
fn hostile_input_does_not_panic() {
    let mut a = alarm(definition(60, 3, 3, Breaching));
    let weird = [
        Sample::new(Timestamp::from_unix_millis(0), f64::NAN),
        Sample::new(Timestamp::from_unix_millis(u64::MAX), 1.0),
        Sample::new(t(599), f64::INFINITY),
        Sample::new(t(599), f64::NEG_INFINITY),
        Sample::new(t(599), f64::MAX),
        Sample::new(t(599), f64::MAX),
    ];
    for now in [
        Timestamp::from_unix_millis(0),
        t(600),
        Timestamp::from_unix_millis(u64::MAX),
    ] {
        let _ = a.next_evaluation(now);
        let _ = a.query(now);
        let _ = a.evaluate(now, &weird);
        let _ = a.evaluate(now, &[]);
    }
    // Sum overflowing to infinity is still a datapoint, printed like Java.
    let mut def = definition(60, 1, 1, Missing);
    def.statistic = MetricStatistic::Statistic(Statistic::Sum);
    let mut a = alarm(def);
    let ev = a.evaluate(t(600), &weird);
    assert_eq!(ev.state, A);
    assert!(
        ev.state_reason.contains("[Infinity (29/11/26 10:29:00)]"),
        "{}",
        ev.state_reason
    );
}

/// The store path: `Store::alarm_sets` then `Alarm::evaluate_sets` decides
/// as `evaluate` over the raw samples.
mod from_the_store {
    use monitor::series::{MetricId, Store, StoreConfig};
    use monitor::{
        Alarm, AlarmDefinition, ComparisonOperator, Dimension, MetricStatistic, Sample, Statistic,
        StatisticSet, Timestamp, TreatMissingData,
    };
    use proptest::prelude::*;

    use super::{alarm, t};

    fn statistic(i: usize) -> MetricStatistic {
        let names = [
            "SampleCount",
            "Sum",
            "Average",
            "Minimum",
            "Maximum",
            "p0",
            "p50",
            "p90",
            "p99.9",
            "p100",
        ];
        let name = names.get(i % names.len()).copied().unwrap_or("Average");
        match name.parse::<Statistic>() {
            Ok(s) => MetricStatistic::Statistic(s),
            Err(_) => MetricStatistic::ExtendedStatistic(
                name.parse()
                    .unwrap_or_else(|_| unreachable!("test percentile {name}")),
            ),
        }
    }

    fn def(
        stat: MetricStatistic,
        period: u32,
        n: u32,
        m: u32,
        treat: TreatMissingData,
    ) -> AlarmDefinition {
        let mut def = AlarmDefinition::new(
            "bitrate",
            "onair/MediaLive",
            "NetworkIn",
            stat,
            period,
            n,
            2.0,
            ComparisonOperator::LessThanThreshold,
        );
        def.dimensions = vec![Dimension {
            name: "ChannelId".into(),
            value: "1".into(),
        }];
        def.datapoints_to_alarm = Some(m);
        def.treat_missing_data = treat;
        def
    }

    fn as_sets(samples: &[Sample]) -> Vec<(Timestamp, StatisticSet)> {
        samples
            .iter()
            .filter_map(|s| {
                StatisticSet::value(s.value)
                    .ok()
                    .map(|set| (s.timestamp, set))
            })
            .collect()
    }

    const TREATS: [TreatMissingData; 4] = [
        TreatMissingData::Missing,
        TreatMissingData::Ignore,
        TreatMissingData::Breaching,
        TreatMissingData::NotBreaching,
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Sets of one sample each (duplicates and odd milliseconds allowed).
        #[test]
        fn sets_of_one_sample_evaluate_like_samples(
            stat in 0usize..10,
            period in prop::sample::select(vec![10u32, 20, 60, 300]),
            n in 1u32..5,
            m_minus in 0u32..5,
            treat in 0usize..4,
            samples in prop::collection::vec((0u64..3_600_000, 0u8..5), 0..60),
            ticks in prop::collection::vec(0u64..3600, 1..4),
        ) {
            let m = n - m_minus.min(n - 1);
            let treat = TREATS.get(treat).copied().unwrap_or(TreatMissingData::Missing);
            let d = def(statistic(stat), period, n, m, treat);
            let samples: Vec<Sample> = samples
                .iter()
                .map(|(ms, v)| Sample::new(Timestamp::from_unix_millis(t(0).as_unix_millis() + ms), f64::from(*v)))
                .collect();
            let sets = as_sets(&samples);
            let (mut raw, mut stored) = (alarm(d.clone()), alarm(d));
            let mut ticks = ticks;
            ticks.sort_unstable();
            for tick in ticks {
                let now = t(tick + 3600);
                prop_assert_eq!(raw.evaluate(now, &samples), stored.evaluate_sets(now, &sets));
            }
        }
    }

    fn store_with(samples: &[Sample], now: Timestamp, id: &MetricId) -> Store {
        let mut store = Store::new(StoreConfig::default());
        for s in samples {
            if let Err(e) = store.put(now, id, s.timestamp, s.value) {
                unreachable!("refused {s:?}: {e}");
            }
        }
        store
    }

    #[test]
    fn the_store_feeds_alarms_like_raw_samples() {
        // One sample every 7 s for 5 hours, values cycling 0..5.
        let samples: Vec<Sample> = (0..(5 * 3600 / 7))
            .map(|i| Sample::new(t(i * 7), f64::from(u8::try_from(i % 5).unwrap_or(0))))
            .collect();
        let end = t(5 * 3600);
        let cases = [
            // 10 s periods, 1-second points: even percentiles agree.
            def(statistic(8), 10, 3, 2, TreatMissingData::Missing),
            def(statistic(2), 60, 5, 3, TreatMissingData::Breaching),
            // A range reaching back more than 3 h is read as minutes.
            def(statistic(2), 3600, 4, 1, TreatMissingData::NotBreaching),
            def(statistic(0), 3600, 4, 4, TreatMissingData::Missing),
            def(statistic(3), 3600, 3, 2, TreatMissingData::Ignore),
        ];
        for d in cases {
            let id = MetricId::of_alarm(&d).unwrap_or_else(|e| unreachable!("{e}"));
            let store = store_with(&samples, end, &id);
            let mut raw: Alarm = alarm(d.clone());
            let mut stored: Alarm = alarm(d);
            let now = raw.next_evaluation(end);
            let sets = store.alarm_sets(now, &stored);
            assert!(!sets.is_empty());
            let expected = raw.evaluate(now, &samples);
            assert_eq!(stored.evaluate_sets(now, &sets), expected);
            assert!(expected.datapoints.iter().any(Option::is_some));
        }
    }
}
