//! Metric math against the examples of the User Guide ("Using metric
//! math"), then the request-level rules, then properties.

use proptest::prelude::*;

use super::*;

/// 2026-11-29T10:20:00Z, a minute boundary.
const T0: u64 = 1_795_947_600;

fn t(minute: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0 + 60 * minute)
}

/// A one-minute series; `None` is a minute without data.
fn series(label: &str, values: &[Option<f64>]) -> Series {
    Series {
        label: label.into(),
        period: 60,
        points: values
            .iter()
            .zip(0..)
            .filter_map(|(v, m)| v.map(|v| (t(m), v)))
            .collect(),
    }
}

fn window(minutes: u64) -> Window {
    Window {
        start: t(0),
        end: t(minutes),
    }
}

/// Evaluate `expression` as query `e` over hidden metric queries; its
/// values per minute of a 5-minute window, or the error.
fn run(metrics: &[(&str, Series)], expression: &str) -> Result<Vec<Option<f64>>, String> {
    let results = run_all(metrics, &[("e", expression)], 5)?;
    let [result] = results.as_slice() else {
        return Err(format!("{} results", results.len()));
    };
    Ok(by_minute(&result.points, 5))
}

fn by_minute(points: &[(Timestamp, f64)], minutes: u64) -> Vec<Option<f64>> {
    (0..minutes)
        .map(|m| points.iter().find(|p| p.0 == t(m)).map(|p| p.1))
        .collect()
}

fn run_all(
    metrics: &[(&str, Series)],
    expressions: &[(&str, &str)],
    minutes: u64,
) -> Result<Vec<QueryResult>, String> {
    let mut queries: Vec<Query> = metrics
        .iter()
        .map(|(id, s)| Query::metric(*id, s.clone()).hidden())
        .collect();
    queries.extend(expressions.iter().map(|(id, e)| Query::expression(*id, *e)));
    evaluate(&queries, window(minutes)).map_err(|e| e.to_string())
}

fn s(values: &[f64]) -> Vec<Option<f64>> {
    values.iter().map(|v| Some(*v)).collect()
}

const N: Option<f64> = None;

/// The comparison table: metric1 = [30, 20, 0, 0], metric2 = [20, -, 20, -].
#[test]
fn comparison_and_logical_operators() {
    let m = [
        ("metric1", series("m1", &s(&[30.0, 20.0, 0.0, 0.0]))),
        ("metric2", series("m2", &[Some(20.0), N, Some(20.0), N])),
    ];
    let table = [
        ("(metric1 < metric2)", [0.0, 0.0, 1.0, 0.0]),
        ("(metric1 >= 30)", [1.0, 0.0, 0.0, 0.0]),
        ("(metric1 > 15 AND metric2 > 15)", [1.0, 0.0, 0.0, 0.0]),
        ("metric1 > 15 && metric2 > 15", [1.0, 0.0, 0.0, 0.0]),
        ("metric1 == 0 OR metric2 == 20", [1.0, 0.0, 1.0, 1.0]),
        ("metric1 != 0 || metric2 <= 0", [1.0, 1.0, 0.0, 0.0]),
    ];
    for (expr, want) in table {
        let mut want = s(&want);
        want.push(N);
        assert_eq!(run(&m, expr), Ok(want), "{expr}");
    }
    // Two scalars compare to a scalar: the result must still be a series.
    assert_eq!(
        run(&m, "metric1 * (2 > 1)").map(|v| v.first().copied().flatten()),
        Ok(Some(30.0))
    );
}

/// The IF tables: metric1 = [1, 1, 0, 0, -], metric2 = [30, -, 0, 0, 30],
/// metric3 = [0, 0, 20, -, 20].
#[test]
fn if_expressions() {
    let m = [
        (
            "metric1",
            series("a", &[Some(1.0), Some(1.0), Some(0.0), Some(0.0), N]),
        ),
        (
            "metric2",
            series("b", &[Some(30.0), N, Some(0.0), Some(0.0), Some(30.0)]),
        ),
        (
            "metric3",
            series("c", &[Some(0.0), Some(0.0), Some(20.0), N, Some(20.0)]),
        ),
    ];
    let table: [(&str, [Option<f64>; 5]); 7] = [
        (
            "IF(metric1, metric2, metric3)",
            [Some(30.0), Some(0.0), Some(20.0), N, N],
        ),
        (
            "IF(metric1, 5, metric3)",
            [Some(5.0), Some(5.0), Some(20.0), N, N],
        ),
        (
            "IF(metric1, metric2, 5)",
            [Some(30.0), Some(0.0), Some(5.0), Some(5.0), N],
        ),
        ("IF(metric1, metric2)", [Some(30.0), Some(0.0), N, N, N]),
        // Use cases: keep the low values; map to two values.
        ("IF(metric2 < 10, metric2)", [N, N, Some(0.0), Some(0.0), N]),
        (
            "IF(metric3 < 10, 10, 2)",
            [Some(10.0), Some(10.0), Some(2.0), N, Some(2.0)],
        ),
        // A scalar condition picks a whole series.
        (
            "IF(PERIOD(metric1) == 60, metric2, metric3)",
            [Some(30.0), N, Some(0.0), Some(0.0), Some(30.0)],
        ),
    ];
    for (expr, want) in table {
        assert_eq!(run(&m, expr), Ok(want.to_vec()), "{expr}");
    }
    // Without a second branch, a false scalar condition is an empty series.
    assert_eq!(run(&m, "IF(0, metric2)"), Ok(vec![N; 5]));
}

#[test]
fn arithmetic_between_scalars_series_and_arrays() {
    let m = [
        ("m1", series("A", &[Some(10.0), Some(20.0), N, Some(40.0)])),
        ("m2", series("B", &[Some(1.0), N, Some(4.0), Some(4.0)])),
        ("m3", series("C", &s(&[2.0, 2.0, 2.0, 2.0]))),
    ];
    let table: [(&str, [Option<f64>; 5]); 9] = [
        ("5 * m1", [Some(50.0), Some(100.0), N, Some(200.0), N]),
        // A minute missing on one side counts as 0 on that side.
        (
            "m1 - m2",
            [Some(9.0), Some(20.0), Some(-4.0), Some(36.0), N],
        ),
        (
            "m1 * PERIOD(m1) / 60",
            [Some(10.0), Some(20.0), N, Some(40.0), N],
        ),
        ("-m1 + 2 ^ 3", [Some(-2.0), Some(-12.0), N, Some(-32.0), N]),
        (
            "-5 * m1 / -(1 + 4)",
            [Some(10.0), Some(20.0), N, Some(40.0), N],
        ),
        (
            "SUM(100 / [m1, m2])",
            [Some(110.0), Some(5.0), Some(25.0), Some(27.5), N],
        ),
        (
            "AVG([m1, m2] / m3)",
            [Some(2.75), Some(5.0), Some(1.0), Some(11.0), N],
        ),
        (
            "SUM(-[m1, m2])",
            [Some(-11.0), Some(-20.0), Some(-4.0), Some(-44.0), N],
        ),
        ("m3 ^ m2", [Some(2.0), Some(1.0), Some(16.0), Some(16.0), N]),
    ];
    for (expr, want) in table {
        assert_eq!(run(&m, expr), Ok(want.to_vec()), "{expr}");
    }
    // An array stays an array: one result per series, in request order.
    let results = run_all(&m, &[("e", "METRICS() * 100")], 5).unwrap_or_default();
    let labels: Vec<&str> = results.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["A", "B", "C"]);
    assert!(results.iter().all(|r| r.id == "e"));
    assert_eq!(
        results.first().map(|r| by_minute(&r.points, 4)),
        Some(vec![Some(1000.0), Some(2000.0), N, Some(4000.0)])
    );
}

#[test]
fn division_by_zero_drops_the_point_and_says_so() {
    let m = [
        ("errors", series("E", &s(&[1.0, 0.0, 3.0]))),
        ("requests", series("R", &s(&[10.0, 0.0, 0.0]))),
    ];
    let results = run_all(&m, &[("e", "errors / requests"), ("f", "errors * 2")], 3);
    let results = results.unwrap_or_default();
    let [e, f] = results.as_slice() else {
        unreachable!("two results: {results:?}");
    };
    assert_eq!(e.points, vec![(t(0), 0.1)]);
    assert_eq!(
        e.messages,
        vec![Message {
            code: "ArithmeticError".into(),
            value: ARITHMETIC_ERROR.into()
        }]
    );
    assert_eq!(e.status_code, StatusCode::Complete);
    assert!(f.messages.is_empty());
    // LOG of 0 and of negative values is no number either.
    let m = [("m1", series("A", &s(&[100.0, 0.0, -1.0, 1.0])))];
    assert_eq!(
        run(&m, "LOG10(m1)"),
        Ok(vec![Some(2.0), N, N, Some(0.0), N])
    );
}

#[test]
fn sum_avg_min_max_stddev_of_one_series_are_scalars() {
    let m = [(
        "m1",
        series("A", &[Some(2.0), Some(4.0), N, Some(4.0), Some(6.0)]),
    )];
    let table = [
        // SUM, AVG, MIN, MAX, STDDEV (population) = 16, 4, 2, 6, √2.
        (
            "m1 - AVG(m1)",
            [Some(-2.0), Some(0.0), N, Some(0.0), Some(2.0)],
        ),
        (
            "m1 * 0 + SUM(m1)",
            [Some(16.0), Some(16.0), N, Some(16.0), Some(16.0)],
        ),
        (
            "m1 - MIN(m1)",
            [Some(0.0), Some(2.0), N, Some(2.0), Some(4.0)],
        ),
        (
            "MAX(m1) / m1",
            [Some(3.0), Some(1.5), N, Some(1.5), Some(1.0)],
        ),
        (
            "(m1 - AVG(m1)) / STDDEV(m1) * STDDEV(m1) ^ 2 / 2",
            [
                Some(-2.0f64.sqrt()),
                Some(0.0),
                N,
                Some(0.0),
                Some(2.0f64.sqrt()),
            ],
        ),
        ("TIME_SERIES(MAX(m1))", [Some(6.0); 5]),
        ("TIME_SERIES(5 * AVG(m1))", [Some(20.0); 5]),
        ("TIME_SERIES(10)", [Some(10.0); 5]),
    ];
    for (expr, want) in table {
        let got = run(&m, expr).unwrap_or_default();
        let close = got.iter().zip(want.iter()).all(|(g, w)| match (g, w) {
            (Some(g), Some(w)) => (g - w).abs() < 1e-9,
            (None, None) => true,
            _ => false,
        });
        assert!(close && got.len() == 5, "{expr}: {got:?}");
    }
    // A scalar cannot be the result.
    assert_eq!(
        run(&m, "AVG(m1)"),
        Err(
            "e: the expression returns a scalar; it must return a time series or an array \
             of time series"
                .into()
        )
    );
    // Of no points: SUM is 0, the others no number (and drop what uses them).
    let empty = [("m1", series("A", &[]))];
    assert_eq!(run(&empty, "TIME_SERIES(SUM(m1))"), Ok(s(&[0.0; 5])));
    assert_eq!(run(&empty, "TIME_SERIES(AVG(m1))"), Ok(vec![N; 5]));
}

#[test]
fn sum_avg_min_max_stddev_of_an_array_are_series() {
    let m = [
        ("m1", series("A", &[Some(1.0), Some(4.0), N])),
        ("m2", series("B", &[Some(3.0), N, Some(-2.0)])),
    ];
    // A series without a point at a minute counts as 0 there.
    let table: [(&str, [Option<f64>; 5]); 5] = [
        ("SUM([m1, m2])", [Some(4.0), Some(4.0), Some(-2.0), N, N]),
        ("AVG([m1, m2])", [Some(2.0), Some(2.0), Some(-1.0), N, N]),
        ("MIN(METRICS())", [Some(1.0), Some(0.0), Some(-2.0), N, N]),
        ("MAX(METRICS())", [Some(3.0), Some(4.0), Some(0.0), N, N]),
        ("STDDEV([m1, m2])", [Some(1.0), Some(2.0), Some(1.0), N, N]),
    ];
    for (expr, want) in table {
        assert_eq!(run(&m, expr), Ok(want.to_vec()), "{expr}");
    }
    assert_eq!(
        run(&m, "SUM(METRICS()) / SUM(m1) * 5"),
        Ok(vec![Some(4.0), Some(4.0), Some(-2.0), N, N])
    );
}

#[test]
fn metrics_selects_metric_queries_by_id() {
    let m = [
        ("errors_4xx", series("4xx", &s(&[1.0]))),
        ("errors_5xx", series("5xx", &s(&[2.0]))),
        ("requests", series("R", &s(&[100.0]))),
    ];
    let table = [
        (r#"SUM(METRICS("errors"))"#, 3.0),
        (
            r#"SUM(METRICS("errors")) / SUM(METRICS("requests")) * 100"#,
            3.0,
        ),
        (r#"SUM([METRICS("4xx"), METRICS("5xx")])"#, 3.0),
        ("SUM(METRICS())", 103.0),
        ("requests / METRIC_COUNT(METRICS())", 100.0 / 3.0),
        (r#"TIME_SERIES(METRIC_COUNT(METRICS("nothing")) + 7)"#, 7.0),
    ];
    for (expr, want) in table {
        let got = run(&m, expr).map(|v| v.first().copied().flatten());
        let got = got.ok().flatten().unwrap_or(f64::NAN);
        assert!((got - want).abs() < 1e-9, "{expr}: {got}");
    }
    // Expressions are not metrics.
    let results = run_all(&m, &[("e1", "requests * 2"), ("e2", "METRICS()")], 1);
    let labels: Vec<String> = results
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.id == "e2")
        .map(|r| r.label)
        .collect();
    assert_eq!(labels, ["4xx", "5xx", "R"]);
    // An array with no series is one empty result under the query's id.
    let results = run_all(&m, &[("e", r#"METRICS("none")"#)], 1).unwrap_or_default();
    assert_eq!(results.len(), 1);
    assert!(results.iter().all(|r| r.id == "e" && r.points.is_empty()));
}

#[test]
fn fill_with_a_value_a_series_repeat_or_linear() {
    let m = [
        ("m1", series("A", &[N, Some(2.0), N, N, Some(8.0)])),
        ("m2", series("B", &[Some(1.0), N, N, Some(5.0), N])),
        ("m3", series("C", &s(&[9.0, 9.0, 9.0, 9.0, 9.0]))),
    ];
    let table: [(&str, [Option<f64>; 5]); 6] = [
        (
            "FILL(m1, 10)",
            [Some(10.0), Some(2.0), Some(10.0), Some(10.0), Some(8.0)],
        ),
        (
            "FILL(m1, MIN(m1))",
            [Some(2.0), Some(2.0), Some(2.0), Some(2.0), Some(8.0)],
        ),
        // REPEAT carries the last real value forward; nothing before it.
        (
            "FILL(m1, REPEAT)",
            [N, Some(2.0), Some(2.0), Some(2.0), Some(8.0)],
        ),
        // LINEAR joins the real values around a gap; edges stay empty.
        (
            "FILL(m1, LINEAR)",
            [N, Some(2.0), Some(4.0), Some(6.0), Some(8.0)],
        ),
        (
            "FILL(m2, LINEAR)",
            [Some(1.0), Some(7.0 / 3.0), Some(11.0 / 3.0), Some(5.0), N],
        ),
        (
            "FILL(m1, m2)",
            [Some(1.0), Some(2.0), N, Some(5.0), Some(8.0)],
        ),
    ];
    for (expr, want) in table {
        let got = run(&m, expr).unwrap_or_default();
        let close = got.len() == 5
            && got.iter().zip(want.iter()).all(|(g, w)| match (g, w) {
                (Some(g), Some(w)) => (g - w).abs() < 1e-9,
                (None, None) => true,
                _ => false,
            });
        assert!(close, "{expr}: {got:?}");
    }
    // Arrays: every series filled, by a scalar, a series or LINEAR.
    let results = run_all(&m, &[("e", "FILL(METRICS(), 0)")], 5).unwrap_or_default();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r.points.len() == 5));
    let results = run_all(&m, &[("e", "FILL(METRICS(), m3)")], 5).unwrap_or_default();
    assert!(results.iter().all(|r| r.points.len() == 5));
    let results = run_all(&m, &[("e", "FILL(METRICS(), LINEAR)")], 5).unwrap_or_default();
    let counts: Vec<usize> = results.iter().map(|r| r.points.len()).collect();
    assert_eq!(counts, [4, 4, 5]);
    // A metric without data at all, filled: the usual alarm guard.
    let empty = [("m1", series("A", &[]))];
    assert_eq!(run(&empty, "FILL(m1, 0)"), Ok(s(&[0.0; 5])));
}

#[test]
fn rate_diff_diff_time_and_running_sum() {
    // Points at minutes 0, 1 and 3.
    let m = [("m1", series("A", &[Some(10.0), Some(70.0), N, Some(10.0)]))];
    let table: [(&str, [Option<f64>; 5]); 4] = [
        ("DIFF(m1)", [N, Some(60.0), N, Some(-60.0), N]),
        ("DIFF_TIME(m1)", [N, Some(60.0), N, Some(120.0), N]),
        ("RATE(m1)", [N, Some(1.0), N, Some(-0.5), N]),
        (
            "RUNNING_SUM(m1)",
            [Some(10.0), Some(80.0), N, Some(90.0), N],
        ),
    ];
    for (expr, want) in table {
        assert_eq!(run(&m, expr), Ok(want.to_vec()), "{expr}");
    }
    let results = run_all(&m, &[("e", "RATE(METRICS())")], 5).unwrap_or_default();
    assert_eq!(results.len(), 1);
    let sums = run_all(&m, &[("e", "RUNNING_SUM([m1, m1 * 2])")], 5).unwrap_or_default();
    assert_eq!(sums.len(), 2);
}

#[test]
fn abs_ceil_floor_log_and_array_helpers() {
    let m = [
        ("m1", series("A", &s(&[-1.5, 2.25]))),
        ("m2", series("B", &[])),
    ];
    let table: [(&str, [Option<f64>; 5]); 6] = [
        ("ABS(m1 - m2)", [Some(1.5), Some(2.25), N, N, N]),
        ("CEIL(m1)", [Some(-1.0), Some(3.0), N, N, N]),
        ("FLOOR(m1)", [Some(-2.0), Some(2.0), N, N, N]),
        ("MIN(ABS([m1, m2]))", [Some(0.0), Some(0.0), N, N, N]),
        ("LOG(ABS(m1) * 0 + 1)", [Some(0.0), Some(0.0), N, N, N]),
        (
            "FIRST(REMOVE_EMPTY([m2, m1])) + LAST(METRICS())",
            [Some(-1.5), Some(2.25), N, N, N],
        ),
    ];
    for (expr, want) in table {
        assert_eq!(run(&m, expr), Ok(want.to_vec()), "{expr}");
    }
    let results = run_all(&m, &[("e", "ABS(METRICS())")], 2).unwrap_or_default();
    assert_eq!(results.len(), 2);
    assert_eq!(
        run(&m, "FLOOR(CEIL(2.5)) * m1"),
        Ok(vec![Some(-4.5), Some(6.75), N, N, N])
    );
}

#[test]
fn labels_follow_the_console() {
    let queries = [
        Query::metric("m1", series("Errors", &s(&[1.0]))),
        Query::metric("m2", series("Faults", &s(&[2.0])))
            .labelled("Server faults")
            .hidden(),
        Query::expression("e1", "FILL(METRICS(), 0)").labelled("Filled With 0:"),
        Query::expression("e2", "m1 + m2"),
        Query::expression("e3", "m1 * 2").labelled("Double"),
        Query::expression("e4", "METRICS()"),
    ];
    let results = evaluate(&queries, window(1)).unwrap_or_default();
    let labels: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r.id.as_str(), r.label.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("m1", "Errors"),
            ("e1", "Filled With 0: Errors"),
            ("e1", "Filled With 0: Server faults"),
            ("e2", "e2"),
            ("e3", "Double"),
            ("e4", "Errors"),
            ("e4", "Server faults"),
        ]
    );
}

#[test]
fn expressions_run_after_what_they_read() {
    let m = [("m1", series("A", &s(&[1.0, 2.0])))];
    // e1 reads e2, declared after it; e3 reads both.
    let results = run_all(
        &m,
        &[("e1", "e2 * 10"), ("e2", "m1 + 1"), ("e3", "e1 - e2")],
        2,
    );
    let values: Vec<(String, Vec<Option<f64>>)> = results
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.id, by_minute(&r.points, 2)))
        .collect();
    assert_eq!(
        values,
        [
            ("e1".to_owned(), s(&[20.0, 30.0])),
            ("e2".to_owned(), s(&[2.0, 3.0])),
            ("e3".to_owned(), s(&[18.0, 27.0])),
        ]
    );
}

#[test]
fn request_errors_name_the_query() {
    let m = [("m1", series("A", &s(&[1.0])))];
    let err = |expressions: &[(&str, &str)]| run_all(&m, expressions, 1).err().unwrap_or_default();
    assert_eq!(err(&[("e1", "m1 + m9")]), "e1: unknown Id m9");
    assert_eq!(
        err(&[("e1", "e2 + 1"), ("e2", "e3 * 2"), ("e3", "e1 - m1")]),
        "circular dependency: e1 -> e2 -> e3 -> e1"
    );
    assert_eq!(err(&[("e1", "e1 + 1")]), "circular dependency: e1 -> e1");
    assert_eq!(
        err(&[("e1", "m1 +")]),
        "e1: at position 4: expected a number, an Id, a function, '(' or '[', found end of expression"
    );
    assert_eq!(
        err(&[("e1", "SEARCH('{AWS/EC2} CPUUtilization', 'Average', 300)")]),
        "e1: at position 0: SEARCH is not supported"
    );
    assert_eq!(
        err(&[("e1", "ANOMALY_DETECTION_BAND(m1)")]),
        "e1: at position 0: ANOMALY_DETECTION_BAND is not supported"
    );
    assert_eq!(
        err(&[("e1", "INSIGHT_RULE_METRIC(rule, Sum)")]),
        "e1: at position 0: INSIGHT_RULE_METRIC is not supported"
    );
    assert_eq!(err(&[("m1", "1")]), "Id m1: used by more than one query");
    assert_eq!(
        err(&[("E1", "m1")]),
        "Id \"E1\": must start with a lowercase letter"
    );
    assert_eq!(
        err(&[("e-1", "m1")]),
        "Id \"e-1\": may hold only letters, digits and underscores"
    );
    assert_eq!(err(&[("", "m1")]), "Id \"\": must be 1 to 255 characters");
    let type_errors = [
        (
            "SUM(5) * m1",
            "e1: SUM takes a time series or an array of time series, not a scalar",
        ),
        (
            "TIME_SERIES(m1)",
            "e1: TIME_SERIES takes a scalar, not a time series",
        ),
        (
            "IF(METRICS(), 1, 0)",
            "e1: IF takes a time series or a scalar as condition, not an array",
        ),
        (
            "METRICS() + [m1, m1]",
            "e1: + between two arrays of time series is not supported",
        ),
        (
            "METRICS() > 1",
            "e1: > compares time series or scalars, not arrays of time series",
        ),
        ("[m1, 2]", "e1: an array holds time series, not scalars"),
        (
            "FIRST(m1)",
            "e1: FIRST takes an array of time series, not a time series",
        ),
        (
            "FILL(m1, METRICS())",
            "e1: FILL fills with a scalar, a time series, REPEAT or LINEAR, not an array",
        ),
        (
            "FILL(2, 0) * m1",
            "e1: FILL takes a time series or an array of time series",
        ),
        (
            "m1 / PERIOD(e2)",
            "e1: PERIOD takes the Id of a metric; e2 is an expression",
        ),
    ];
    for (expr, want) in type_errors {
        assert_eq!(err(&[("e1", expr), ("e2", "m1")]), want, "{expr}");
    }
    let long_id = "a".repeat(MAX_ID_CHARS);
    assert_eq!(check_id(&long_id), Ok(()));
    assert!(check_id(&format!("{long_id}a")).is_err());
}

#[test]
fn return_data_and_window_limits() {
    let m1 = series("A", &s(&[1.0]));
    let hidden = [Query::metric("m1", m1.clone()).hidden()];
    assert_eq!(check_return_data(&hidden), Err(ExprError::NoReturnData));
    assert_eq!(evaluate(&hidden, window(1)), Ok(Vec::new()));
    assert_eq!(
        check_return_data(&[Query::metric("m1", m1.clone())]),
        Ok(())
    );
    // FILL over 15 days of 1-second periods is more than GetMetricData
    // returns: refused, not allocated.
    let mut fine = m1;
    fine.period = 1;
    let queries = [
        Query::metric("m1", fine).hidden(),
        Query::expression("e1", "FILL(m1, 0)"),
    ];
    let wide = Window {
        start: t(0),
        end: Timestamp::from_unix_secs(T0 + 15 * 86_400),
    };
    assert_eq!(
        evaluate(&queries, wide)
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("e1: the time range holds more than 100800 periods")
    );
}

#[test]
fn the_deepest_expressions_evaluate() {
    let m = [("m1", series("A", &s(&[1.0, 2.0])))];
    // Nested calls and a long chain, each one level short of the limit.
    let nested = format!(
        "{}m1{}",
        "ABS(".repeat(MAX_DEPTH - 2),
        ")".repeat(MAX_DEPTH - 2)
    );
    assert_eq!(
        run(&m, &nested).map(|v| v.into_iter().flatten().collect::<Vec<_>>()),
        Ok(vec![1.0, 2.0])
    );
    let chain = format!("m1{}", " + m1 - m1".repeat((MAX_DEPTH - 2) / 2));
    assert_eq!(
        run(&m, &chain).map(|v| v.into_iter().flatten().collect::<Vec<_>>()),
        Ok(vec![1.0, 2.0])
    );
    let too_deep = format!("{}m1{}", "ABS(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(run(&m, &too_deep).is_err());
}

fn arb_points() -> impl Strategy<Value = Vec<Option<f64>>> {
    proptest::collection::vec(proptest::option::of(-1e6f64..1e6), 0..12)
}

/// Well-formed expressions over `m1`, `m2` (metrics) and `e2`, built from
/// every operator and function, so evaluation is exercised, not just the
/// parser's refusals.
fn arb_expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("m1".to_owned()),
        Just("m2".to_owned()),
        Just("e2".to_owned()),
        Just("METRICS()".to_owned()),
        Just(r#"METRICS("2")"#.to_owned()),
        Just("PERIOD(m1)".to_owned()),
        (-3i32..4).prop_map(|v| v.to_string()),
        Just("0.5".to_owned()),
    ];
    let ops = ["+", "-", "*", "/", "^", "<", ">=", "==", "!=", "AND", "||"];
    let functions = [
        "SUM",
        "AVG",
        "MIN",
        "MAX",
        "STDDEV",
        "ABS",
        "CEIL",
        "FLOOR",
        "LOG",
        "LOG10",
        "DIFF",
        "DIFF_TIME",
        "RATE",
        "RUNNING_SUM",
        "TIME_SERIES",
        "FIRST",
        "LAST",
        "METRIC_COUNT",
        "REMOVE_EMPTY",
    ];
    leaf.prop_recursive(4, 48, 3, move |inner| {
        prop_oneof![
            (
                inner.clone(),
                proptest::sample::select(ops.to_vec()),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (proptest::sample::select(functions.to_vec()), inner.clone())
                .prop_map(|(f, a)| format!("{f}({a})")),
            (
                inner.clone(),
                prop_oneof![
                    inner.clone(),
                    Just("REPEAT".to_owned()),
                    Just("LINEAR".to_owned())
                ]
            )
                .prop_map(|(a, b)| format!("FILL({a}, {b})")),
            (
                inner.clone(),
                inner.clone(),
                proptest::option::of(inner.clone())
            )
                .prop_map(|(c, a, b)| match b {
                    Some(b) => format!("IF({c}, {a}, {b})"),
                    None => format!("IF({c}, {a})"),
                }),
            proptest::collection::vec(inner, 1..3).prop_map(|xs| format!("[{}]", xs.join(", "))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics(src in ".{0,64}") {
        let _ = parse(&src);
    }

    #[test]
    fn parse_never_panics_on_near_expressions(
        src in r#"[a-zA-Z0-9_ ,.()\[\]+\-*/^<>=!&|"]{0,96}"#
    ) {
        if let Ok(expr) = parse(&src) {
            prop_assert!(expr.depth() <= MAX_DEPTH);
        }
    }

    #[test]
    fn evaluate_never_panics(
        src in r#"(m1|m2|e2|METRICS\(\)|SUM\(|FILL\(|RATE\(|IF\(|TIME_SERIES\(|REPEAT|LINEAR|[0-9.]{1,3}|[-+*/^(),<>=\[\] ])+"#,
        a in arb_points(),
        b in arb_points(),
    ) {
        let queries = [
            Query::metric("m1", series("A", &a)),
            Query::metric("m2", series("B", &b)).hidden(),
            Query::expression("e1", src),
            Query::expression("e2", "m1 * 2"),
        ];
        let _ = evaluate(&queries, window(12));
    }

    #[test]
    fn well_formed_expressions_parse_and_evaluate_without_panic(
        src in arb_expression(),
        a in arb_points(),
        b in arb_points(),
    ) {
        prop_assert!(parse(&src).is_ok(), "{}", src);
        let queries = [
            Query::metric("m1", series("A", &a)),
            Query::metric("m2", series("B", &b)).hidden(),
            Query::expression("e1", src),
            Query::expression("e2", "m1 * 2"),
        ];
        if let Ok(results) = evaluate(&queries, window(12)) {
            for r in results {
                prop_assert!(r.points.iter().all(|p| p.1.is_finite()));
                prop_assert!(r.points.windows(2).all(|w| matches!(w, [x, y] if x.0 < y.0)));
            }
        }
    }

    /// `a + b - b` is `a` at every timestamp of `a`, and 0 where only `b`
    /// has a point (missing counts as 0).
    #[test]
    fn adding_and_subtracting_a_series_gives_it_back(a in arb_points(), b in arb_points()) {
        let m = [("a", series("A", &a)), ("b", series("B", &b))];
        let results = run_all(&m, &[("e", "a + b - b")], 12);
        prop_assert!(results.is_ok());
        let results = results.unwrap_or_default();
        let got = results.first().map(|r| by_minute(&r.points, 12)).unwrap_or_default();
        for (m, g) in got.iter().enumerate() {
            let want_a = a.get(m).copied().flatten();
            let has_b = b.get(m).copied().flatten().is_some();
            match (want_a, g) {
                (Some(x), Some(y)) => prop_assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{} vs {}", x, y),
                (None, Some(y)) => prop_assert!(has_b && *y == 0.0),
                (None, None) => prop_assert!(!has_b),
                (Some(_), None) => prop_assert!(false, "minute {} lost", m),
            }
        }
    }
}
