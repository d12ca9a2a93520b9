//! Behaviour of the code `#[derive(State)]` generates, exercised through the public traits.

use expect_test::expect;
use lemmings_graph::{
    ApplyError, Changes, ChannelData, ChannelSpec, Command, Message, MessageUpdate, ReduceError, Reducer, ReducerKind,
    State, TaskUpdate, Update, Write,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Msg {
    pub id: Option<String>,
    pub text: String,
}

impl Message for Msg {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn set_id(&mut self, id: String) {
        self.id = Some(id);
    }
}

fn msg(id: &str, text: &str) -> Msg {
    Msg {
        id: Some(id.to_owned()),
        text: text.to_owned(),
    }
}

/// Keeps the larger value: a `with = Type` reducer.
struct Max;

impl Reducer<u32> for Max {
    type Update = u32;
    const KIND: ReducerKind = ReducerKind::Custom;
    const SINGLE_WRITER: bool = false;
    const DELTA: bool = false;

    fn reduce(value: &mut u32, update: u32) -> Result<(), ReduceError> {
        if update == u32::MAX {
            return Err(ReduceError::new("u32::MAX is reserved"));
        }
        *value = (*value).max(update);
        Ok(())
    }
}

/// Inserts the update's words, keeping the list sorted and free of duplicates: a `fn` reducer.
fn merge_sorted(value: &mut Vec<String>, update: Vec<String>) {
    value.extend(update);
    value.sort();
    value.dedup();
}

#[derive(Clone, Debug, Default, PartialEq, State)]
pub struct Demo {
    /// What happened, in order.
    #[reducer(append)]
    pub log: Vec<String>,
    #[reducer(add)]
    pub total: i64,
    pub status: String,
    #[reducer(messages)]
    pub messages: Vec<Msg>,
    #[reducer(fn = merge_sorted)]
    pub tags: Vec<String>,
    #[reducer(with = Max)]
    pub high: u32,
    #[reducer(last_value)]
    pub note: Option<String>,
}

fn tasks(updates: Vec<(&'static str, DemoUpdate)>) -> Vec<TaskUpdate<'static, DemoUpdate>> {
    updates
        .into_iter()
        .map(|(writer, update)| TaskUpdate { writer, update })
        .collect()
}

fn apply(state: &mut Demo, updates: Vec<(&'static str, DemoUpdate)>) -> Result<Changes, ApplyError> {
    state.apply(&mut tasks(updates))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A channel set as a sorted list of channel names, for readable assertions.
fn names(set: &lemmings_graph::ChannelSet) -> Vec<&'static str> {
    set.iter().map(|index| Demo::channels()[index].name).collect()
}

#[test]
fn channels_describe_every_field_in_order() {
    let table: String = Demo::channels()
        .iter()
        .map(
            |ChannelSpec {
                 name,
                 kind,
                 single_writer,
                 delta,
             }| {
                format!(
                    "{name}: {} single_writer={single_writer} delta={delta}\n",
                    kind.as_str()
                )
            },
        )
        .collect();
    expect![[r#"
        log: append single_writer=false delta=true
        total: add single_writer=false delta=false
        status: last_value single_writer=true delta=false
        messages: messages single_writer=false delta=true
        tags: custom single_writer=false delta=false
        high: custom single_writer=false delta=false
        note: last_value single_writer=true delta=false
    "#]]
    .assert_eq(&table);
}

#[test]
fn apply_folds_each_channel_in_task_order() {
    let mut state = Demo {
        log: strings(&["start"]),
        total: 10,
        high: 5,
        ..Demo::default()
    };
    let changes = apply(
        &mut state,
        vec![
            (
                "a",
                DemoUpdate::default()
                    .log(strings(&["a1", "a2"]))
                    .total(5)
                    .messages(vec![msg("m1", "hello").into(), msg("m2", "there").into()])
                    .tags(strings(&["zeta", "alpha"]))
                    .high(7_u32),
            ),
            (
                "b",
                DemoUpdate::default()
                    .log(strings(&["b1"]))
                    .total(-2)
                    .status("running")
                    .messages(vec![MessageUpdate::Remove("m1".to_owned()), msg("m2", "there!").into()])
                    .tags(strings(&["alpha", "beta"]))
                    .high(6_u32),
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        state,
        Demo {
            log: strings(&["start", "a1", "a2", "b1"]),
            total: 13,
            status: "running".to_owned(),
            messages: vec![msg("m2", "there!")],
            tags: strings(&["alpha", "beta", "zeta"]),
            high: 7,
            note: None,
        }
    );
    assert_eq!(
        names(&changes.written),
        ["log", "total", "status", "messages", "tags", "high"]
    );
    assert!(changes.overwritten.is_empty());
}

#[test]
fn apply_takes_the_writes_out_of_the_updates() {
    let mut state = Demo::default();
    let mut updates = tasks(vec![("a", DemoUpdate::default().total(1).note(Some("n".to_owned())))]);
    state.apply(&mut updates).unwrap();
    assert!(updates[0].update.is_empty(), "{:?}", updates[0].update);
    assert_eq!(state.note.as_deref(), Some("n"));
}

#[test]
fn two_writers_of_a_last_value_channel_conflict() {
    let mut state = Demo::default();
    let err = apply(
        &mut state,
        vec![
            ("left", DemoUpdate::default().status("l")),
            ("middle", DemoUpdate::default().total(1)),
            ("right", DemoUpdate::default().status("r")),
        ],
    )
    .unwrap_err();
    assert_eq!(
        err,
        ApplyError::Conflict {
            channel: "status",
            first: "left".to_owned(),
            second: "right".to_owned()
        }
    );
    expect![[r#"channel `status` can take one value per superstep but left and right both wrote it; give it a reducer (e.g. #[reducer(append)]) or route the writers into different supersteps"#]]
        .assert_eq(&err.to_string());
}

#[test]
fn reducer_errors_name_the_channel_and_writer() {
    let mut state = Demo::default();
    let err = apply(&mut state, vec![("w", DemoUpdate::default().high(u32::MAX))]).unwrap_err();
    expect![[r#"channel `high` rejected the update from w: u32::MAX is reserved"#]].assert_eq(&err.to_string());
}

#[test]
fn overwrite_replaces_earlier_writes_and_ignores_later_ones() {
    let mut state = Demo {
        log: strings(&["old"]),
        ..Demo::default()
    };
    let changes = apply(
        &mut state,
        vec![
            ("a", DemoUpdate::default().log(strings(&["a"]))),
            ("b", DemoUpdate::default().overwrite_log(strings(&["fresh"]))),
            ("c", DemoUpdate::default().log(strings(&["c"])).total(3)),
        ],
    )
    .unwrap();
    assert_eq!(state.log, strings(&["fresh"]));
    assert_eq!(state.total, 3, "other channels of a later writer still apply");
    assert_eq!(names(&changes.written), ["log", "total"]);
    assert_eq!(names(&changes.overwritten), ["log"]);
}

#[test]
fn writes_before_an_overwrite_are_still_folded() {
    // The removal of an unknown id fails in the reducer even though a later task overwrites the
    // list: earlier writes are folded, not skipped.
    let mut state = Demo::default();
    let err = apply(
        &mut state,
        vec![
            (
                "a",
                DemoUpdate::default().messages(vec![MessageUpdate::Remove("ghost".to_owned())]),
            ),
            ("b", DemoUpdate::default().overwrite_messages(vec![msg("m", "x")])),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(err, ApplyError::Reduce { channel: "messages", ref writer, .. } if writer == "a"),
        "{err:?}"
    );
}

#[test]
fn a_second_overwrite_is_an_error() {
    let mut state = Demo::default();
    let err = apply(
        &mut state,
        vec![
            ("a", DemoUpdate::default().overwrite_log(strings(&["a"]))),
            ("b", DemoUpdate::default().overwrite_log(strings(&["b"]))),
        ],
    )
    .unwrap_err();
    assert_eq!(
        err,
        ApplyError::DoubleOverwrite {
            channel: "log",
            first: "a".to_owned(),
            second: "b".to_owned()
        }
    );
}

#[test]
fn written_lists_the_channels_an_update_writes() {
    let update = DemoUpdate::default()
        .total(1)
        .overwrite_tags(strings(&["t"]))
        .note(None);
    assert_eq!(update.written().iter().collect::<Vec<_>>(), [1, 4, 6]);
    assert!(!update.is_empty());
    assert!(DemoUpdate::default().is_empty());
}

#[test]
fn update_json() {
    let update = DemoUpdate::default().log(strings(&["a"]));
    expect![[r#"{"log":["a"]}"#]].assert_eq(&serde_json::to_string(&update).unwrap());

    let update = DemoUpdate::default()
        .overwrite_log(strings(&["a", "b"]))
        .total(2)
        .note(None);
    expect![[r#"{"log":{"__overwrite__":["a","b"]},"total":2,"note":null}"#]]
        .assert_eq(&serde_json::to_string(&update).unwrap());

    let back: DemoUpdate = serde_json::from_str(r#"{"log":{"__overwrite__":["a","b"]},"total":2}"#).unwrap();
    assert_eq!(back.written().iter().collect::<Vec<_>>(), [0, 1]);
    assert!(matches!(back.log, Some(Write::Overwrite(ref log)) if *log == strings(&["a", "b"])));
    assert!(matches!(back.total, Some(Write::Update(2))));

    let err = serde_json::from_str::<DemoUpdate>(r#"{"logs":["a"]}"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown field `logs`, expected one of `log`, `total`"),
        "{err}"
    );
}

#[test]
fn a_null_last_value_write_is_not_a_missing_write() {
    // `note` is an `Option`, so `note(None)` writes null; the update must keep it as a write.
    let update = DemoUpdate::default().note(None);
    let encoded = update.encode().unwrap();
    let mut decoded = DemoUpdate::default();
    decoded.decode_channel(encoded[0].0, &encoded[0].1).unwrap();
    assert!(matches!(decoded.note, Some(Write::Update(None))), "{decoded:?}");
}

#[test]
fn encode_and_decode_channels_round_trip() {
    let update = DemoUpdate::default()
        .log(strings(&["x"]))
        .overwrite_total(7)
        .messages(vec![msg("m", "hi").into(), MessageUpdate::RemoveAll])
        .high(3_u32);
    let encoded = update.encode().unwrap();
    let shown: Vec<String> = encoded
        .iter()
        .map(|(channel, bytes)| format!("{channel}: {}", String::from_utf8_lossy(bytes)))
        .collect();
    expect![[r#"
        [
            "0: [\"x\"]",
            "1: {\"__overwrite__\":7}",
            "3: [{\"id\":\"m\",\"text\":\"hi\"},{\"__remove__\":\"__remove_all__\"}]",
            "5: 3",
        ]
    "#]]
    .assert_debug_eq(&shown);

    let mut decoded = DemoUpdate::default();
    for (channel, bytes) in &encoded {
        decoded.decode_channel(*channel, bytes).unwrap();
    }
    assert_eq!(decoded.written(), update.written());
    assert_eq!(decoded.encode().unwrap(), encoded);

    let err = decoded.decode_channel(7, b"1").unwrap_err();
    expect![[r#"state `Demo` has no channel 7"#]].assert_eq(&err.to_string());
    assert!(decoded.decode_channel(1, b"\"seven\"").is_err());
}

#[test]
fn encode_channel_writes_the_whole_value() {
    let state = Demo {
        log: strings(&["a"]),
        total: 4,
        ..Demo::default()
    };
    assert_eq!(state.encode_channel(0).unwrap(), br#"["a"]"#);
    assert_eq!(state.encode_channel(1).unwrap(), b"4");
    let err = state.encode_channel(7).unwrap_err();
    expect![[r#"state `Demo` has no channel 7"#]].assert_eq(&err.to_string());
}

fn full(json: &str) -> ChannelData {
    ChannelData::Full(json.as_bytes().to_vec().into())
}

fn delta(json: &str) -> ChannelData {
    ChannelData::Delta(json.as_bytes().to_vec().into())
}

#[test]
fn restore_a_full_value_then_deltas() {
    let mut state = Demo {
        log: strings(&["stale"]),
        ..Demo::default()
    };
    let chain = [full(r#"["a"]"#), delta(r#"[["b"],["c","d"]]"#), delta(r#"[["e"]]"#)];
    state.restore_channel(0, &chain).unwrap();
    assert_eq!(state.log, strings(&["a", "b", "c", "d", "e"]));

    let mut state = Demo::default();
    state
        .restore_channel(
            3,
            &[
                full(r#"[{"id":"m1","text":"one"}]"#),
                delta(r#"[[{"id":"m1","text":"uno"}]]"#),
            ],
        )
        .unwrap();
    assert_eq!(state.messages, vec![msg("m1", "uno")]);
}

#[test]
fn restore_a_chain_that_starts_with_a_delta_starts_from_the_default() {
    let mut state = Demo {
        log: strings(&["stale"]),
        ..Demo::default()
    };
    state
        .restore_channel(
            0,
            &[delta(r#"[["a"]]"#), delta(r#"[["y"],{"__overwrite__":["x"]},["z"]]"#)],
        )
        .unwrap();
    // As in `apply`: within one superstep's delta, writes after an overwrite are moot.
    assert_eq!(state.log, strings(&["x"]));
}

#[test]
fn restore_reports_bad_data_and_unknown_channels() {
    let mut state = Demo::default();
    let err = state.restore_channel(0, &[full(r#"["a"]"#), delta("[1]")]).unwrap_err();
    assert_eq!(err.channel, "log");
    assert!(err.reason.starts_with("delta 1: "), "{err}");

    let err = state.restore_channel(7, &[]).unwrap_err();
    expect![[r#"cannot restore channel `?`: state `Demo` has no channel 7"#]].assert_eq(&err.to_string());
}

#[test]
fn diff_gives_the_net_change_per_channel() {
    let before = Demo {
        log: strings(&["a"]),
        total: 5,
        status: "old".to_owned(),
        tags: strings(&["t"]),
        ..Demo::default()
    };
    let mut after = before.clone();
    let changes = apply(
        &mut after,
        vec![
            ("a", DemoUpdate::default().log(strings(&["b"])).total(3).status("new")),
            (
                "b",
                DemoUpdate::default()
                    .log(strings(&["c"]))
                    .total(4)
                    .overwrite_tags(strings(&["u"])),
            ),
        ],
    )
    .unwrap();
    let diff = Demo::diff(&before, &after, &changes);
    expect![[r#"{"log":["b","c"],"total":7,"status":"new","tags":{"__overwrite__":["u"]}}"#]]
        .assert_eq(&serde_json::to_string(&diff).unwrap());

    // Applying the diff to `before` gives `after`.
    let mut replay = before.clone();
    apply(&mut replay, vec![("subgraph", diff)]).unwrap();
    assert_eq!(replay, after);
}

#[test]
fn prepare_gives_messages_ids() {
    let mut update = DemoUpdate::default().messages(vec![
        MessageUpdate::Upsert(Msg {
            id: None,
            text: "new".to_owned(),
        }),
        msg("kept", "x").into(),
    ]);
    update.prepare();
    let Some(Write::Update(ops)) = &update.messages else {
        panic!("messages write expected: {update:?}")
    };
    let ids: Vec<Option<&str>> = ops
        .iter()
        .map(|op| match op {
            MessageUpdate::Upsert(message) => message.id(),
            other => panic!("upsert expected, got {other:?}"),
        })
        .collect();
    assert!(ids[0].is_some_and(|id| !id.is_empty()), "{ids:?}");
    assert_eq!(ids[1], Some("kept"));
}

#[test]
fn an_update_converts_into_a_command() {
    let command = Command::<Demo>::from(DemoUpdate::default().total(1));
    assert!(format!("{command:?}").contains("total: Some(Update(1))"), "{command:?}");
}

/// A state with a renamed update type and fields whose names are keywords or common method names.
#[derive(Clone, Debug, Default, State)]
#[state(update = Step)]
struct Awkward {
    r#type: String,
    update: u8,
    default: u8,
    #[reducer(add)]
    add: u8,
    #[reducer(fn = update)]
    value: Vec<u8>,
}

/// A reducer function named like the generated code's own variables.
fn update(value: &mut Vec<u8>, update: Vec<u8>) {
    value.extend(update.into_iter().rev());
}

#[test]
fn raw_and_awkward_field_names_work() {
    let names: Vec<&str> = Awkward::channels().iter().map(|spec| spec.name).collect();
    assert_eq!(names, ["type", "update", "default", "add", "value"]);

    // The `default` field's setter shadows `Default::default` in `Step::default()`.
    let step = <Step as Default>::default()
        .r#type("t")
        .update(1)
        .default(2)
        .add(3)
        .value(vec![1, 2]);
    expect![[r#"{"type":"t","update":1,"default":2,"add":3,"value":[1,2]}"#]]
        .assert_eq(&serde_json::to_string(&step).unwrap());
    let overwrite = <Step as Default>::default().overwrite_type("o");
    expect![[r#"{"type":{"__overwrite__":"o"}}"#]].assert_eq(&serde_json::to_string(&overwrite).unwrap());

    let mut state = Awkward {
        add: 1,
        ..Awkward::default()
    };
    state
        .apply(&mut [TaskUpdate {
            writer: "w",
            update: step,
        }])
        .unwrap();
    assert_eq!(
        (state.r#type.as_str(), state.update, state.default, state.add),
        ("t", 1, 2, 4)
    );
    assert_eq!(state.value, [2, 1]);
    let _: Command<Awkward> = <Step as Default>::default().into();
}

#[derive(Clone, Debug, Default, State)]
struct Empty {}

#[test]
fn a_state_without_fields_has_no_channels() {
    assert!(Empty::channels().is_empty());
    let mut state = Empty {};
    let changes = state
        .apply(&mut [TaskUpdate {
            writer: "w",
            update: EmptyUpdate::default(),
        }])
        .unwrap();
    assert_eq!(changes, Changes::default());
    assert!(EmptyUpdate::default().encode().unwrap().is_empty());
    expect![[r#"{}"#]].assert_eq(&serde_json::to_string(&EmptyUpdate::default()).unwrap());
}

/// The expansion must not depend on names the user's module may shadow.
mod shadowed {
    #![allow(dead_code, non_camel_case_types)]

    use lemmings_graph::State;

    struct Option;
    struct Some;
    struct None;
    struct Result;
    struct Ok;
    struct Err;
    struct Vec;
    // Not `u8` or `usize`: serde's derive itself names those unqualified.
    trait Default {}
    trait Into {}
    trait From {}
    trait Iterator {}
    #[allow(unused_macros)]
    macro_rules! format {
        () => {};
    }

    #[derive(Clone, Debug, ::core::default::Default, State)]
    pub(super) struct Shadowed {
        #[reducer(append)]
        pub(super) log: ::std::vec::Vec<::std::string::String>,
        #[reducer(fn = keep_last)]
        pub(super) last: ::core::primitive::u8,
    }

    fn keep_last(value: &mut ::core::primitive::u8, update: ::core::primitive::u8) {
        *value = update;
    }
}

#[test]
fn the_expansion_survives_shadowed_names() {
    let mut state = shadowed::Shadowed::default();
    let update = shadowed::ShadowedUpdate::default().log(vec!["a".to_owned()]).last(4);
    state.apply(&mut [TaskUpdate { writer: "w", update }]).unwrap();
    assert_eq!((state.log, state.last), (vec!["a".to_owned()], 4));
}
