use std::collections::BTreeMap;

use super::*;
use crate::{ControlError, ControlPlane, Settings};

const NOW: i64 = 1_750_000_000_000;
const DAY: i64 = batch::DAY_MS;

fn cp() -> std::sync::Arc<ControlPlane> {
    ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default())
}

fn no_tags() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn ev(ts: i64, message: &str) -> InputEvent {
    InputEvent {
        timestamp: ts,
        message: message.into(),
    }
}

fn group_query(limit: usize) -> GroupQuery {
    GroupQuery {
        limit,
        ..GroupQuery::default()
    }
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| name(i).to_string()).collect()
}

/// A group `g` with stream `s` holding `messages` at NOW, NOW+1, ….
fn with_events(cp: &ControlPlane, messages: &[&str]) {
    let logs = cp.logs();
    logs.create_group("g", None, &no_tags(), NOW).unwrap();
    logs.create_stream("g", "s", NOW).unwrap();
    let events: Vec<InputEvent> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| ev(NOW + i as i64, m))
        .collect();
    if !events.is_empty() {
        logs.put_events("g", "s", &events, NOW).unwrap();
    }
}

#[test]
fn groups_are_created_once_listed_by_prefix_and_deleted() {
    let cp = cp();
    let logs = cp.logs();
    for name in [
        "/aws/mediaconnect/b",
        "/aws/mediaconnect/a",
        "/other",
        "/aws/medialive/c",
    ] {
        logs.create_group(name, None, &no_tags(), NOW).unwrap();
    }
    assert!(matches!(
        logs.create_group("/other", None, &no_tags(), NOW),
        Err(ControlError::Conflict(_))
    ));
    let page = logs
        .describe_groups(&GroupQuery {
            prefix: Some("/aws/mediaconnect/".into()),
            ..group_query(50)
        })
        .unwrap();
    assert_eq!(
        names(&page.items, |g| &g.name),
        ["/aws/mediaconnect/a", "/aws/mediaconnect/b"]
    );
    assert_eq!(page.next_token, None);
    let page = logs
        .describe_groups(&GroupQuery {
            contains: Some("live".into()),
            ..group_query(50)
        })
        .unwrap();
    assert_eq!(names(&page.items, |g| &g.name), ["/aws/medialive/c"]);

    logs.delete_group("/other").unwrap();
    assert!(matches!(
        logs.delete_group("/other"),
        Err(ControlError::NotFound(_))
    ));
    assert_eq!(logs.group("/other").unwrap(), None);
    // The name can be used again.
    logs.create_group("/other", None, &no_tags(), NOW).unwrap();
}

#[test]
fn group_names_follow_the_model() {
    let logs_cp = cp();
    let logs = logs_cp.logs();
    for bad in ["", "has space", "colon:", "aws/reserved", &"x".repeat(513)] {
        let err = logs.create_group(bad, None, &no_tags(), NOW).unwrap_err();
        assert!(err.to_string().contains("logGroupName"), "{bad}: {err}");
    }
    logs.create_group("#a.b-c_d/E9", None, &no_tags(), NOW)
        .unwrap();
    assert!(check_stream_name("logStreamName", "a:b").is_err());
    assert!(check_stream_name("logStreamName", "a*b").is_err());
    check_stream_name("logStreamName", "any thing/é").unwrap();
    assert_eq!(check_retention("retentionInDays", 30).unwrap(), 30);
    let err = check_retention("retentionInDays", 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'retentionInDays'") && err.contains("[1, 3, 5"),
        "{err}"
    );
}

#[test]
fn group_pages_never_repeat_a_token_and_cover_everything() {
    let cp = cp();
    let logs = cp.logs();
    let all: Vec<String> = (0..7).map(|i| format!("/g/{i}")).collect();
    for n in &all {
        logs.create_group(n, None, &no_tags(), NOW).unwrap();
    }
    let (mut seen, mut tokens, mut token) = (Vec::new(), Vec::new(), None);
    loop {
        let page = logs
            .describe_groups(&GroupQuery {
                token: token.clone(),
                ..group_query(3)
            })
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(names(&page.items, |g| &g.name));
        match page.next_token {
            Some(t) => {
                assert!(!tokens.contains(&t), "token {t} repeated");
                tokens.push(t.clone());
                token = Some(t);
            }
            None => break,
        }
    }
    assert_eq!(seen, all);
    assert_eq!(tokens.len(), 2);
}

#[test]
fn streams_list_by_name_or_last_event_time() {
    let cp = cp();
    let logs = cp.logs();
    logs.create_group("g", None, &no_tags(), NOW).unwrap();
    for s in ["b", "a", "c"] {
        logs.create_stream("g", s, NOW).unwrap();
    }
    assert!(matches!(
        logs.create_stream("g", "a", NOW),
        Err(ControlError::Conflict(_))
    ));
    assert!(matches!(
        logs.create_stream("nope", "a", NOW),
        Err(ControlError::NotFound(_))
    ));
    logs.put_events("g", "c", &[ev(NOW - 10, "x")], NOW)
        .unwrap();
    logs.put_events("g", "a", &[ev(NOW - 5, "y")], NOW).unwrap();
    let list = |q: StreamQuery| {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = logs
                .describe_streams(
                    "g",
                    &StreamQuery {
                        token: token.clone(),
                        ..q.clone()
                    },
                )
                .unwrap();
            out.extend(names(&page.items, |s| &s.name));
            token = page.next_token;
            if token.is_none() {
                return out;
            }
        }
    };
    let q = StreamQuery {
        limit: 1,
        ..StreamQuery::default()
    };
    assert_eq!(list(q.clone()), ["a", "b", "c"]);
    assert_eq!(
        list(StreamQuery {
            descending: true,
            ..q.clone()
        }),
        ["c", "b", "a"]
    );
    assert_eq!(
        list(StreamQuery {
            prefix: Some("b".into()),
            ..q.clone()
        }),
        ["b"]
    );
    assert_eq!(
        list(StreamQuery {
            order: StreamOrder::LastEventTime,
            ..q.clone()
        }),
        ["b", "c", "a"]
    );
    let page = logs
        .describe_streams("g", &StreamQuery { limit: 50, ..q })
        .unwrap();
    let a = &page.items[0];
    assert_eq!(
        (a.first_event_ms, a.last_event_ms),
        (Some(NOW - 5), Some(NOW - 5))
    );
    assert_eq!((a.last_ingestion_ms, a.uploads), (Some(NOW), 1));
    assert_eq!(page.items[1].first_event_ms, None);
}

#[test]
fn get_events_reads_from_the_tail_by_default_and_pages_both_ways() {
    let cp = cp();
    with_events(&cp, &["e0", "e1", "e2", "e3", "e4"]);
    let logs = cp.logs();
    let msgs = |p: &GetPage| names(&p.events, |e| &e.message);
    let q = GetQuery {
        limit: Some(2),
        ..GetQuery::default()
    };
    let last = logs.get_events("g", "s", &q).unwrap();
    assert_eq!(msgs(&last), ["e3", "e4"]);
    let earlier = logs
        .get_events(
            "g",
            "s",
            &GetQuery {
                token: Some(last.backward.clone()),
                ..q.clone()
            },
        )
        .unwrap();
    assert_eq!(msgs(&earlier), ["e1", "e2"]);
    // At the end, the same forward token comes back.
    let end = logs
        .get_events(
            "g",
            "s",
            &GetQuery {
                token: Some(last.forward.clone()),
                ..q.clone()
            },
        )
        .unwrap();
    assert!(end.events.is_empty());
    assert_eq!(end.forward, last.forward);

    // From the head, forward to the end, in pages.
    let (mut seen, mut token) = (Vec::new(), None);
    loop {
        let page = logs
            .get_events(
                "g",
                "s",
                &GetQuery {
                    token: token.clone(),
                    from_head: true,
                    ..q.clone()
                },
            )
            .unwrap();
        if token.as_ref() == Some(&page.forward) {
            break;
        }
        seen.extend(msgs(&page));
        token = Some(page.forward);
    }
    assert_eq!(seen, ["e0", "e1", "e2", "e3", "e4"]);

    // startTime is inclusive, endTime exclusive.
    let window = logs
        .get_events(
            "g",
            "s",
            &GetQuery {
                start: Some(NOW + 1),
                end: Some(NOW + 3),
                ..GetQuery::default()
            },
        )
        .unwrap();
    assert_eq!(msgs(&window), ["e1", "e2"]);
    assert!(matches!(
        logs.get_events("g", "nope", &q),
        Err(ControlError::NotFound(m)) if m.contains("log stream")
    ));
    assert!(logs
        .get_events(
            "g",
            "s",
            &GetQuery {
                token: Some("a/1/1".into()),
                ..q
            }
        )
        .is_err());
}

#[test]
fn an_empty_stream_still_gives_tokens_that_find_later_events() {
    let cp = cp();
    with_events(&cp, &[]);
    let logs = cp.logs();
    let empty = logs.get_events("g", "s", &GetQuery::default()).unwrap();
    assert!(empty.events.is_empty());
    logs.put_events("g", "s", &[ev(NOW, "late")], NOW).unwrap();
    let page = logs
        .get_events(
            "g",
            "s",
            &GetQuery {
                token: Some(empty.forward),
                ..GetQuery::default()
            },
        )
        .unwrap();
    assert_eq!(names(&page.events, |e| &e.message), ["late"]);
}

#[test]
fn filter_matches_patterns_across_streams_in_time_order() {
    let cp = cp();
    let logs = cp.logs();
    logs.create_group("g", None, &no_tags(), NOW).unwrap();
    for s in ["alpha", "beta"] {
        logs.create_stream("g", s, NOW).unwrap();
    }
    logs.put_events(
        "g",
        "alpha",
        &[ev(NOW, "flow started"), ev(NOW + 2, "flow stopped")],
        NOW,
    )
    .unwrap();
    logs.put_events(
        "g",
        "beta",
        &[ev(NOW + 1, "flow started again"), ev(NOW + 3, "ERROR x")],
        NOW,
    )
    .unwrap();
    let filter = |q: FilterQuery| {
        let page = logs.filter_events("g", &q).unwrap();
        names(&page.items, |e| &e.message)
    };
    assert_eq!(
        filter(FilterQuery::default()),
        [
            "flow started",
            "flow started again",
            "flow stopped",
            "ERROR x"
        ]
    );
    let started = FilterQuery {
        pattern: FilterPattern::parse("started").unwrap(),
        ..FilterQuery::default()
    };
    assert_eq!(
        filter(started.clone()),
        ["flow started", "flow started again"]
    );
    assert_eq!(
        filter(FilterQuery {
            streams: StreamSelect::Names(vec!["beta".into()]),
            ..started.clone()
        }),
        ["flow started again"]
    );
    assert_eq!(
        filter(FilterQuery {
            streams: StreamSelect::Prefix("al".into()),
            ..FilterQuery::default()
        }),
        ["flow started", "flow stopped"]
    );
    assert_eq!(
        filter(FilterQuery {
            start: Some(NOW + 1),
            end: Some(NOW + 2),
            ..FilterQuery::default()
        }),
        ["flow started again", "flow stopped"]
    );
    assert_eq!(
        filter(FilterQuery {
            descending: true,
            pattern: FilterPattern::parse("?ERROR ?stopped").unwrap(),
            ..FilterQuery::default()
        }),
        ["ERROR x", "flow stopped"]
    );
    let page = logs.filter_events("g", &FilterQuery::default()).unwrap();
    assert_eq!(page.items[0].stream, "alpha");
    assert_eq!(page.items[1].stream, "beta");
    assert!(matches!(
        logs.filter_events("nope", &FilterQuery::default()),
        Err(ControlError::NotFound(m)) if m.contains("log group")
    ));
}

#[test]
fn filter_pages_in_both_directions_without_repeating_tokens() {
    let cp = cp();
    let messages: Vec<String> = (0..25)
        .map(|i| format!("{} {i}", if i % 3 == 0 { "hit" } else { "miss" }))
        .collect();
    with_events(
        &cp,
        &messages.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let logs = cp.logs();
    for descending in [false, true] {
        let (mut seen, mut tokens, mut token) = (Vec::new(), Vec::new(), None);
        loop {
            let page = logs
                .filter_events(
                    "g",
                    &FilterQuery {
                        pattern: FilterPattern::parse("hit").unwrap(),
                        limit: Some(2),
                        token: token.clone(),
                        descending,
                        ..FilterQuery::default()
                    },
                )
                .unwrap();
            seen.extend(names(&page.items, |e| &e.message));
            match page.next_token {
                Some(t) => {
                    assert!(!tokens.contains(&t));
                    tokens.push(t.clone());
                    token = Some(t);
                }
                None => break,
            }
        }
        let mut want: Vec<String> = (0..25)
            .filter(|i| i % 3 == 0)
            .map(|i| format!("hit {i}"))
            .collect();
        if descending {
            want.reverse();
        }
        assert_eq!(seen, want, "descending: {descending}");
        // Nine hits, two per page: four full pages announce more; the fifth ends.
        assert_eq!(tokens.len(), 4);
    }
}

#[test]
fn put_events_reports_rejected_events_and_keeps_totals() {
    let cp = cp();
    with_events(&cp, &[]);
    let logs = cp.logs();
    let out = logs
        .put_events(
            "g",
            "s",
            &[
                ev(NOW - 15 * DAY, "old"),
                ev(NOW, "kept"),
                ev(NOW + 3 * 3_600_000, "new"),
            ],
            NOW,
        )
        .unwrap();
    assert_eq!(out.verdict.accepted, 1..2);
    assert_eq!(out.verdict.too_old_end, Some(0));
    assert_eq!(out.verdict.too_new_start, Some(2));
    assert_eq!(out.sequence_token, events::sequence_token(1));
    let g = logs.group("g").unwrap().unwrap();
    assert_eq!((g.events, g.stored_bytes), (1, 4));
    assert!(matches!(
        logs.put_events("g", "nope", &[ev(NOW, "x")], NOW),
        Err(ControlError::NotFound(_))
    ));
    assert!(matches!(
        logs.put_events("g", "s", &[ev(NOW, "b"), ev(NOW - 1, "a")], NOW),
        Err(ControlError::BadRequest(_))
    ));
}

#[test]
fn purge_deletes_expired_events_and_bounds_the_default_group() {
    let cp = cp();
    with_events(&cp, &["a", "b"]);
    let logs = cp.logs();
    logs.set_retention("g", Some(1)).unwrap();
    assert_eq!(logs.purge(NOW + DAY / 2).unwrap(), PurgeReport::default());
    let report = logs.purge(NOW + 2 * DAY).unwrap();
    assert_eq!(report.expired, 2);
    let g = logs.group("g").unwrap().unwrap();
    assert_eq!((g.events, g.stored_bytes), (0, 0));

    let flow = LogSource {
        service: "mediaconnect",
        name: "f",
        id: "",
    };
    for i in 0..30 {
        cp.log_event(&flow, NOW + i, &format!("event {i}")).unwrap();
    }
    let report = logs.purge_bounded(NOW + 30, 10).unwrap();
    assert_eq!(report.over_cap, 20);
    let page = logs
        .filter_events(DEFAULT_GROUP, &FilterQuery::default())
        .unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(page.items[0].message, "event 20");
    // The default group expires after its 30 days.
    let report = logs.purge(NOW + 31 * DAY).unwrap();
    assert_eq!(report.expired, 10);
}

#[test]
fn deleting_a_stream_removes_its_events_in_chunks() {
    let cp = cp();
    with_events(&cp, &["keep"]);
    let logs = cp.logs();
    logs.create_stream("g", "big", NOW).unwrap();
    let big: Vec<InputEvent> = (0..(DELETE_CHUNK + 10))
        .map(|i| ev(NOW + i / 1000, "x"))
        .collect();
    for chunk in big.chunks(batch::MAX_BATCH_EVENTS) {
        logs.put_events("g", "big", chunk, NOW).unwrap();
    }
    assert_eq!(logs.group("g").unwrap().unwrap().events, DELETE_CHUNK + 11);
    logs.delete_stream("g", "big").unwrap();
    let g = logs.group("g").unwrap().unwrap();
    assert_eq!((g.events, g.stored_bytes), (1, 4));
    let left: i64 = cp
        .store
        .conn()
        .unwrap()
        .query_row("SELECT count(*) FROM log_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 1);
    assert!(matches!(
        logs.delete_stream("g", "big"),
        Err(ControlError::NotFound(_))
    ));
}

#[test]
fn the_sink_writes_to_the_named_group_when_it_exists() {
    let flow = LogSource {
        service: "mediaconnect",
        name: "Show:1*",
        id: "arn:aws:mediaconnect:us-east-1:1:flow:1-a:Show",
    };
    assert_eq!(
        destination(&flow, |_| false),
        (
            DEFAULT_GROUP.to_string(),
            "mediaconnect/Show_1_".to_string()
        )
    );
    let simple = LogSource {
        name: "Show",
        ..flow
    };
    assert_eq!(
        destination(&simple, |g| g == "/aws/mediaconnect/Show"),
        ("/aws/mediaconnect/Show".to_string(), "Show".to_string())
    );
    // A name that cannot be a group name never asks the store.
    let spaced = LogSource {
        name: "My Show",
        ..flow
    };
    assert_eq!(
        destination(&spaced, |_| panic!("asked")).0,
        DEFAULT_GROUP.to_string()
    );

    let cp = cp();
    cp.log_event(&simple, NOW, "flow started").unwrap();
    let g = cp.logs().group(DEFAULT_GROUP).unwrap().unwrap();
    assert_eq!(g.retention_days, Some(DEFAULT_GROUP_RETENTION_DAYS));
    cp.logs()
        .create_group("/aws/mediaconnect/Show", None, &no_tags(), NOW)
        .unwrap();
    cp.log_event(&simple, NOW + 1, "flow stopped").unwrap();
    let page = cp
        .logs()
        .filter_events("/aws/mediaconnect/Show", &FilterQuery::default())
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].stream, "Show");
    assert_eq!(
        page.items[0].message,
        "flow stopped (arn:aws:mediaconnect:us-east-1:1:flow:1-a:Show)"
    );
    let page = cp
        .logs()
        .filter_events(DEFAULT_GROUP, &FilterQuery::default())
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].stream, "mediaconnect/Show");
}

#[test]
fn tags_change_within_the_limit() {
    let cp = cp();
    let logs = cp.logs();
    let tags = BTreeMap::from([("team".to_string(), "news".to_string())]);
    logs.create_group("g", None, &tags, NOW).unwrap();
    logs.change_tags("g", |t| {
        t.insert("env".into(), "prod".into());
    })
    .unwrap();
    assert_eq!(logs.tags("g").unwrap().len(), 2);
    assert!(matches!(
        logs.change_tags("g", |t| t
            .extend((0..50).map(|i| (i.to_string(), String::new())))),
        Err(ControlError::Conflict(_))
    ));
    assert_eq!(logs.tags("g").unwrap().len(), 2);
    let reserved = BTreeMap::from([("aws:x".to_string(), String::new())]);
    assert!(check_tags("tags", &reserved).is_err());
    assert!(matches!(logs.tags("nope"), Err(ControlError::NotFound(_))));
}

#[test]
fn groups_and_events_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cp = ControlPlane::open(dir.path(), Settings::default()).unwrap();
        with_events(&cp, &["durable"]);
        cp.logs().set_retention("g", Some(7)).unwrap();
    }
    let cp = ControlPlane::open(dir.path(), Settings::default()).unwrap();
    let g = cp.logs().group("g").unwrap().unwrap();
    assert_eq!(g.retention_days, Some(7));
    let page = cp
        .logs()
        .filter_events("g", &FilterQuery::default())
        .unwrap();
    assert_eq!(page.items[0].message, "durable");
}

#[test]
fn arns_and_identifiers() {
    assert_eq!(
        group_arn("us-east-1", "111122223333", "/aws/x"),
        "arn:aws:logs:us-east-1:111122223333:log-group:/aws/x"
    );
    assert_eq!(group_name_of("/aws/x"), Some("/aws/x"));
    assert_eq!(
        group_name_of("arn:aws:logs:us-east-1:1:log-group:/aws/x:*"),
        Some("/aws/x")
    );
    assert_eq!(
        group_name_of("arn:aws:logs:us-east-1:1:log-group:/aws/x"),
        Some("/aws/x")
    );
    assert_eq!(
        group_name_of("arn:aws:logs:us-east-1:1:destination:d"),
        None
    );
}
