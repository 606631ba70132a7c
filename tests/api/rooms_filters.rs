//! One test per filter parameter, then combinations. Expected ids follow fixtures/README.md; the
//! default order is newest `ts` first, ties by `_id`.

use crate::helpers::*;

/// The filler rooms lc-11..lc-44 (dep-bulk) in default order: pairs share a `ts`, one day apart.
pub fn bulk_rooms_in_default_order() -> Vec<String> {
    (0..17)
        .rev()
        .flat_map(|k| [11 + 2 * k, 12 + 2 * k])
        .map(|i| format!("lc-{i}"))
        .collect()
}

/// Every livechat room in default order.
pub fn all_rooms_in_default_order() -> Vec<String> {
    let mut ids = bulk_rooms_in_default_order();
    ids.extend(
        [
            "lc-09", "lc-08", "lc-05", "lc-06", "lc-04", "lc-02", "lc-01", "lc-03", "lc-07",
            "lc-10", "lc-45",
        ]
        .map(String::from),
    );
    ids
}

#[tokio::test]
async fn no_parameters_list_every_livechat_room_and_nothing_else() {
    let app = spawn_app().await;
    app.get_rooms("", MANAGER)
        .await
        .assert_rooms(&all_rooms_in_default_order(), 0, LIVECHAT_ROOMS);
}

#[tokio::test]
async fn agents_match_the_agent_id() {
    let app = spawn_app().await;
    let mut expected: Vec<String> = (6..=22).rev().map(|i| format!("lc-{}", 2 * i)).collect();
    expected.extend(["lc-09", "lc-02", "lc-01"].map(String::from));
    app.get_rooms("agents[]=agent-1-id", MANAGER)
        .await
        .assert_rooms(&expected, 0, 20);
}

#[tokio::test]
async fn agents_match_the_agent_username() {
    let app = spawn_app().await;
    app.get_rooms("agents[]=agent.three", MANAGER)
        .await
        .assert_rooms(&["lc-08"], 0, 1);
    let mut expected: Vec<String> = (5..=21)
        .rev()
        .map(|i| format!("lc-{}", 2 * i + 1))
        .collect();
    expected.extend(["lc-05", "lc-06", "lc-04"].map(String::from));
    app.get_rooms("agents=agent.two&agents=nobody", MANAGER)
        .await
        .assert_rooms(&expected, 0, 20);
}

#[tokio::test]
async fn agents_ids_and_usernames_mix() {
    let app = spawn_app().await;
    app.get_rooms(
        "agents[0]=agent.three&agents[1]=agent-1-id&departmentId=dep-sales",
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-08", "lc-02", "lc-01"], 0, 3);
}

#[tokio::test]
async fn room_name_is_a_case_insensitive_substring() {
    let app = spawn_app().await;
    app.get_rooms("roomName=ada", MANAGER)
        .await
        .assert_rooms(&["lc-02", "lc-01", "lc-03"], 0, 3);
    app.get_rooms("roomName=TEST_", MANAGER)
        .await
        .assert_rooms(&["lc-05", "lc-06"], 0, 2);
}

#[tokio::test]
async fn room_name_is_matched_as_text_not_as_a_pattern() {
    let app = spawn_app().await;
    // As a pattern "a.l" would also match "Ada Lovelace".
    app.get_rooms("roomName=a.l", MANAGER)
        .await
        .assert_rooms(&["lc-03"], 0, 1);
    app.get_rooms_with(&[("roomName", "(VIP)")], MANAGER)
        .await
        .assert_rooms(&["lc-04"], 0, 1);
    app.get_rooms_with(&[("roomName", "\"quoted\" \\")], MANAGER)
        .await
        .assert_rooms(&["lc-45"], 0, 1);
}

#[tokio::test]
async fn room_name_in_quotes_is_exact_and_case_sensitive() {
    let app = spawn_app().await;
    app.get_rooms_with(&[("roomName", "\"Ada Lovelace\"")], MANAGER)
        .await
        .assert_rooms(&["lc-01"], 0, 1);
    app.get_rooms_with(&[("roomName", "\"ada\"")], MANAGER)
        .await
        .assert_rooms(NO_ROOMS, 0, 0);
}

#[tokio::test]
async fn empty_room_name_adds_no_filter() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_rooms("roomName=", MANAGER).await.page(),
        (45, 0, LIVECHAT_ROOMS)
    );
}

#[tokio::test]
async fn a_department_id_string_selects_that_department() {
    let app = spawn_app().await;
    app.get_rooms("departmentId=dep-support", MANAGER)
        .await
        .assert_rooms(&["lc-04", "lc-03"], 0, 2);
}

#[tokio::test]
async fn a_department_id_array_selects_any_of_them() {
    let app = spawn_app().await;
    app.get_rooms(
        "departmentId[]=dep-support&departmentId[]=dep-noname",
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-04", "lc-03", "lc-07"], 0, 3);
    app.get_rooms("departmentId=dep-sales&departmentId=dep-noname", MANAGER)
        .await
        .assert_rooms(&["lc-08", "lc-02", "lc-01", "lc-07"], 0, 4);
}

#[tokio::test]
async fn empty_or_undefined_department_id_adds_no_filter() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_rooms("departmentId=", MANAGER).await.page(),
        (45, 0, LIVECHAT_ROOMS)
    );
    assert_eq!(
        app.get_rooms("departmentId=undefined", MANAGER)
            .await
            .page(),
        (45, 0, LIVECHAT_ROOMS)
    );
}

fn open_bulk_rooms() -> Vec<String> {
    bulk_rooms_in_default_order()
        .into_iter()
        .filter(|id| id[3..].parse::<u32>().unwrap() % 3 != 0)
        .collect()
}

fn closed_bulk_rooms() -> Vec<String> {
    bulk_rooms_in_default_order()
        .into_iter()
        .filter(|id| id[3..].parse::<u32>().unwrap() % 3 == 0)
        .collect()
}

#[tokio::test]
async fn open_true_lists_served_open_rooms_not_queued_or_on_hold() {
    let app = spawn_app().await;
    let mut expected = open_bulk_rooms();
    expected.extend(["lc-08", "lc-05", "lc-01"].map(String::from));
    app.get_rooms("open=true", MANAGER)
        .await
        .assert_rooms(&expected, 0, 26);
}

#[tokio::test]
async fn open_false_lists_closed_rooms_not_on_hold() {
    let app = spawn_app().await;
    let mut expected = closed_bulk_rooms();
    expected.extend(["lc-06", "lc-02", "lc-07", "lc-10", "lc-45"].map(String::from));
    app.get_rooms("open=false", MANAGER)
        .await
        .assert_rooms(&expected, 0, 16);
}

#[tokio::test]
async fn open_with_other_text_is_ignored() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_rooms("open=1", MANAGER).await.page(),
        (45, 0, LIVECHAT_ROOMS)
    );
    assert_eq!(
        app.get_rooms("open=", MANAGER).await.page(),
        (45, 0, LIVECHAT_ROOMS)
    );
}

#[tokio::test]
async fn created_at_bounds_are_inclusive_to_the_millisecond() {
    let app = spawn_app().await;
    app.get_rooms_with(
        &[(
            "createdAt",
            r#"{"start":"2018-01-26","end":"2018-01-26T23:59:59.999Z"}"#,
        )],
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-02", "lc-01"], 0, 2);
}

#[tokio::test]
async fn created_at_reads_offsets_and_dates_without_offset_as_utc() {
    let app = spawn_app().await;
    app.get_rooms_with(
        &[(
            "createdAt",
            r#"{"start":"2018-01-26T01:59:59.999+02:00","end":"2018-01-26T00:00:00"}"#,
        )],
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-01", "lc-03"], 0, 2);
}

#[tokio::test]
async fn created_at_may_give_one_bound() {
    let app = spawn_app().await;
    app.get_rooms_with(
        &[(
            "createdAt",
            r#"{"end":"2017-12-31T23:00:00.000Z","start":null}"#,
        )],
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-07", "lc-10", "lc-45"], 0, 3);
    let mut expected = bulk_rooms_in_default_order();
    expected.extend(["lc-09", "lc-08", "lc-05", "lc-06"].map(String::from));
    app.get_rooms_with(
        &[(
            "createdAt",
            r#"{"start":"2018-02-01T08:00:00.000Z","end":""}"#,
        )],
        MANAGER,
    )
    .await
    .assert_rooms(&expected, 0, 38);
}

#[tokio::test]
async fn created_at_start_after_end_matches_nothing() {
    let app = spawn_app().await;
    app.get_rooms_with(
        &[("createdAt", r#"{"start":"2019-01-01","end":"2018-01-01"}"#)],
        MANAGER,
    )
    .await
    .assert_rooms(NO_ROOMS, 0, 0);
}

#[tokio::test]
async fn empty_created_at_adds_no_filter() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_rooms_with(&[("createdAt", "{}")], MANAGER)
            .await
            .page(),
        (45, 0, LIVECHAT_ROOMS)
    );
    assert_eq!(
        app.get_rooms("createdAt=", MANAGER).await.page(),
        (45, 0, LIVECHAT_ROOMS)
    );
}

#[tokio::test]
async fn closed_at_is_a_range_on_closed_at() {
    let app = spawn_app().await;
    app.get_rooms_with(
        &[(
            "closedAt",
            r#"{"start":"2018-01-27T10:00:00.000Z","end":"2018-03-03"}"#,
        )],
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-09", "lc-06", "lc-02"], 0, 3);
    app.get_rooms_with(
        &[("closedAt", r#"{"end":"2018-01-01T00:00:00.000Z"}"#)],
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-07", "lc-10", "lc-45"], 0, 3);
}

#[tokio::test]
async fn tags_match_any_of_them() {
    let app = spawn_app().await;
    app.get_rooms("tags[]=billing", MANAGER)
        .await
        .assert_rooms(&["lc-06", "lc-02"], 0, 2);
    app.get_rooms("tags[]=vip&tags[]=billing", MANAGER)
        .await
        .assert_rooms(&["lc-06", "lc-04", "lc-02", "lc-01"], 0, 4);
}

#[tokio::test]
async fn custom_fields_are_case_insensitive_substrings() {
    let app = spawn_app().await;
    for (fields, ids) in [
        (r#"{"docId":"031041"}"#, &["lc-01"][..]),
        (r#"{"docId":"9"}"#, &["lc-02"]),
        (r#"{"docId":"0"}"#, &["lc-01"]),
        (r#"{"docId":"031041","plan":"gold"}"#, &["lc-01"]),
        (r#"{"docId":"031041","plan":"silver"}"#, &[]),
        (r#"{"cpf":"a.b*c"}"#, &["lc-04"]),
    ] {
        let reply = app
            .get_rooms_with(&[("customFields", fields)], MANAGER)
            .await;
        reply.assert_rooms(ids, 0, ids.len() as u64);
    }
}

#[tokio::test]
async fn custom_fields_values_are_literal_text() {
    let app = spawn_app().await;
    for fields in [
        r#"{"cpf":"a.b.c"}"#,
        r#"{"docId":".*"}"#,
        r#"{"docId":"^0"}"#,
    ] {
        app.get_rooms_with(&[("customFields", fields)], MANAGER)
            .await
            .assert_rooms(NO_ROOMS, 0, 0);
    }
}

#[tokio::test]
async fn empty_custom_fields_add_no_filter() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_rooms_with(&[("customFields", "{}")], MANAGER)
            .await
            .page(),
        (45, 0, LIVECHAT_ROOMS)
    );
}

#[tokio::test]
async fn onhold_lists_rooms_on_hold() {
    let app = spawn_app().await;
    for flag in ["t", "true", "1"] {
        app.get_rooms(&format!("onhold={flag}"), MANAGER)
            .await
            .assert_rooms(&["lc-09", "lc-04"], 0, 2);
    }
    assert_eq!(
        app.get_rooms("onhold=false", MANAGER).await.page(),
        (45, 0, LIVECHAT_ROOMS)
    );
}

#[tokio::test]
async fn queued_lists_open_unserved_rooms() {
    let app = spawn_app().await;
    for flag in ["t", "true", "1"] {
        app.get_rooms(&format!("queued={flag}"), MANAGER)
            .await
            .assert_rooms(&["lc-03"], 0, 1);
    }
}

#[tokio::test]
async fn queued_wins_over_open_and_onhold() {
    let app = spawn_app().await;
    app.get_rooms("queued=true&onhold=true", MANAGER)
        .await
        .assert_rooms(&["lc-03"], 0, 1);
    app.get_rooms("queued=true&open=true", MANAGER)
        .await
        .assert_rooms(&["lc-03"], 0, 1);
    app.get_rooms("queued=true&open=false", MANAGER)
        .await
        .assert_rooms(&["lc-03"], 0, 1);
}

#[tokio::test]
async fn onhold_wins_over_open_false() {
    let app = spawn_app().await;
    app.get_rooms("open=false&onhold=1", MANAGER)
        .await
        .assert_rooms(&["lc-09"], 0, 1);
}

#[tokio::test]
async fn units_match_department_ancestors() {
    let app = spawn_app().await;
    app.get_rooms("units[]=unit-south", MANAGER)
        .await
        .assert_rooms(&["lc-08", "lc-03"], 0, 2);
    app.get_rooms("units[]=unit-north&units[]=unit-south", MANAGER)
        .await
        .assert_rooms(&["lc-08", "lc-01", "lc-03"], 0, 3);
}

#[tokio::test]
async fn filters_combine_with_and() {
    let app = spawn_app().await;
    app.get_rooms(
        "open=true&departmentId=dep-sales&agents[]=agent-1-id",
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-01"], 0, 1);
    app.get_rooms_with(
        &[
            ("tags[]", "vip"),
            ("roomName", "a"),
            ("createdAt", r#"{"start":"2018-01-26"}"#),
            ("customFields", r#"{"docId":"0"}"#),
        ],
        MANAGER,
    )
    .await
    .assert_rooms(&["lc-01"], 0, 1);
    app.get_rooms(
        "open=false&departmentId=dep-sales&tags[]=billing&units[]=unit-north",
        MANAGER,
    )
    .await
    .assert_rooms(NO_ROOMS, 0, 0);
}

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let app = spawn_app().await;
    app.get_rooms("foo=bar&query=%7B%7D&departmentId=dep-support&t=d", MANAGER)
        .await
        .assert_rooms(&["lc-04", "lc-03"], 0, 2);
}
