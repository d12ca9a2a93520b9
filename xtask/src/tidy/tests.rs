//! Unit tests of the tidy checks on synthetic input, plus `tidy`, which runs them on this repository.

use super::*;

/// The real check: `cargo test --workspace` fails while the repository has any problem.
#[test]
fn tidy() {
    let problems = run(&workspace_root()).expect("tidy could not run");
    let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        problems.is_empty(),
        "tidy found {} problem(s):\n{}",
        problems.len(),
        list.join("\n")
    );
}

/// (name, folder, `publish = false`, [(dependency, kind)]) where kind is `None` for normal.
type FakeMember<'a> = (&'a str, &'a str, bool, &'a [(&'a str, Option<&'a str>)]);

/// A fake `cargo metadata` with the given members, each with a manifest that inherits lints.
fn metadata(members: &[FakeMember<'_>]) -> Workspace {
    let packages: Vec<Value> = members
        .iter()
        .map(|(name, dir, unpublished, deps)| {
            let deps: Vec<Value> = deps
                .iter()
                .map(|(dep, kind)| serde_json::json!({ "name": dep, "kind": kind }))
                .collect();
            let manifest = if dir.is_empty() {
                "/ws/Cargo.toml".to_owned()
            } else {
                format!("/ws/{dir}/Cargo.toml")
            };
            serde_json::json!({
                "id": format!("id-{name}"),
                "name": name,
                "manifest_path": manifest,
                "publish": if *unpublished { serde_json::json!([]) } else { Value::Null },
                "dependencies": deps,
            })
        })
        .collect();
    let ids: Vec<String> = members.iter().map(|(name, ..)| format!("id-{name}")).collect();
    let json = serde_json::json!({ "workspace_root": "/ws", "workspace_members": ids, "packages": packages });
    let mut workspace = parse_metadata(&json.to_string()).unwrap();
    for member in &mut workspace.members {
        member.manifest = "[package]\nname = \"x\"\n\n[lints]\nworkspace = true\n".to_owned();
    }
    workspace
}

fn render(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn dependency_direction_allows_the_table() {
    let ws = metadata(&[
        (
            "lemmings-graph",
            "crates/lemmings-graph",
            true,
            &[("lemmings-graph-macros", None), ("serde", None)],
        ),
        (
            "lemmings-graph-macros",
            "crates/lemmings-graph-macros",
            true,
            &[("lemmings-testkit", Some("dev"))],
        ),
        (
            "lemmings-testkit",
            "crates/lemmings-testkit",
            true,
            &[("lemmings-graph", None)],
        ),
        ("xtask", "xtask", true, &[("lemmings-testkit", None)]),
    ]);
    assert_eq!(render(&check_dependency_direction(&ws)), Vec::<String>::new());
}

#[test]
fn dependency_direction_catches_upward_edges_and_unknown_crates() {
    let ws = metadata(&[
        (
            "lemmings-graph",
            "crates/lemmings-graph",
            true,
            &[("lemmings-store", Some("dev"))],
        ),
        (
            "lemmings-store",
            "crates/lemmings-store",
            true,
            &[("lemmings-testkit", Some("build"))],
        ),
        ("lemmings-testkit", "crates/lemmings-testkit", true, &[]),
        ("lemmings-new", "crates/lemmings-new", true, &[]),
    ]);
    let problems = render(&check_dependency_direction(&ws));
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0]
            .starts_with("crates/lemmings-graph/Cargo.toml: `lemmings-graph` must not depend on `lemmings-store` (dev")
    );
    assert!(problems[1].contains("`lemmings-store` must not depend on `lemmings-testkit` (build"));
    assert!(problems[2].contains("add it to the dependency table in xtask/src/tidy.rs"));
}

#[test]
fn external_deps_are_confined() {
    let ws = metadata(&[
        ("lemmings-store", "crates/lemmings-store", true, &[("sqlx", None)]),
        (
            "lemmings-models",
            "crates/lemmings-models",
            true,
            &[("reqwest", None), ("rig-reqwest", None), ("sqlx", Some("dev"))],
        ),
        (
            "lemmings-graph",
            "crates/lemmings-graph",
            true,
            &[("rusqlite", None), ("rig-core", None), ("sqlx", None)],
        ),
        (
            "lemmings",
            "",
            false,
            &[("sqlx", None), ("rig-http", None), ("rigid", None)],
        ),
    ]);
    assert_eq!(
        render(&check_external_deps(&ws)),
        [
            "crates/lemmings-graph/Cargo.toml: `lemmings-graph` does no I/O and must not depend on `rusqlite`; \
             put this in another crate",
            "crates/lemmings-graph/Cargo.toml: only `lemmings-models` may depend on `rig-core`; \
             go through its API instead",
            "crates/lemmings-graph/Cargo.toml: only `lemmings-store` may depend on `sqlx`; go through its API instead",
            "Cargo.toml: only `lemmings-store` may depend on `sqlx`; go through its API instead",
            "Cargo.toml: only `lemmings-models` may depend on `rig-http`; go through its API instead",
        ]
    );
}

#[test]
fn graph_io_is_reported_with_line_numbers() {
    let text = "//! ok\nuse std::fmt;\nuse std::fs::File;\nlet k = std::env::var(\"HOME\");\n";
    assert_eq!(
        render(&check_graph_io("a.rs", text)),
        [
            "a.rs:3: `lemmings-graph` does no I/O but this mentions `std::fs`; pass data or a trait in instead",
            "a.rs:4: `lemmings-graph` does no I/O but this mentions `std::env::var`; pass data or a trait in instead",
        ]
    );
}

#[test]
fn header_must_be_the_first_line() {
    assert!(check_header("a.rs", "//! What this is.\nfn f() {}\n").is_empty());
    assert_eq!(check_header("b.rs", "\n//! Late.\n").len(), 1);
    assert_eq!(check_header("c.rs", "/// Item doc.\nfn f() {}\n").len(), 1);
    assert_eq!(check_header("d.rs", "").len(), 1);
}

#[test]
fn stubs_are_reported() {
    let text = format!("//! x\nfn f() {{ {}) }}\n{}]\nfn g() {{}}\n", STUBS[0], STUBS[2]);
    let problems = render(&check_stubs("s.rs", &text));
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("s.rs:2: `todo"));
    assert!(problems[1].starts_with(&format!("s.rs:3: `{}`", STUBS[2])));
    assert!(check_stubs("t.rs", "//! x\nfn todo() {}\n").is_empty());
}

#[test]
fn manifests_need_lints_publish_false_and_matching_folders() {
    let mut ws = metadata(&[
        ("lemmings", "", false, &[]),
        ("xtask", "xtask", true, &[]),
        ("lemmings-graph", "crates/lemmings-graph", true, &[]),
        ("lemmings-store", "crates/store", false, &[]),
    ]);
    ws.members[2].manifest = "[package]\nname = \"lemmings-graph\"\n[lints.rust]\nworkspace = true\n".to_owned();
    assert_eq!(
        render(&check_manifests(&ws)),
        [
            "crates/lemmings-graph/Cargo.toml: add `[lints]` with `workspace = true` so the workspace lints apply",
            "crates/store/Cargo.toml: add `publish = false` to [package]: internal crates are not published",
            "crates/store/Cargo.toml: package `lemmings-store` must live in `crates/lemmings-store` \
             (folder name = package name)",
        ]
    );
}

#[test]
fn workspace_lints_tolerate_spacing_and_comments() {
    assert!(has_workspace_lints("[lints]\n  workspace=true # inherit\n"));
    assert!(!has_workspace_lints("[lints]\nworkspace = false\n"));
    assert!(!has_workspace_lints("[package]\nworkspace = true\n"));
}
