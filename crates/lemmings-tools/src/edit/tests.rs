//! Unit tests of the planner: each rung, each error, the splice's bookkeeping, and a
//! deterministic fuzz that no input panics.

use super::*;

fn apply(content: &str, old: &str, new: &str) -> (Rung, String) {
    match plan_edit(content, old, new, false) {
        Ok(plan) => (plan.rung, plan.new_content),
        Err(e) => panic!("{}", e.message("f")),
    }
}

fn error(content: &str, old: &str, new: &str) -> EditError {
    match plan_edit(content, old, new, false) {
        Ok(plan) => panic!("planned {plan:?}"),
        Err(e) => e,
    }
}

#[test]
fn exact_replaces_the_unique_match() {
    assert_eq!(
        apply("let a = 1;\nlet b = 2;\n", "b = 2", "b = 3"),
        (Rung::Exact, "let a = 1;\nlet b = 3;\n".into())
    );
    assert_eq!(apply("α → β\n", "→", "⇒"), (Rung::Exact, "α ⇒ β\n".into()));
}

#[test]
fn line_numbers_are_stripped_from_old_and_new() {
    let file = "fn main() {\n    run();\n}\n";
    let (rung, out) = apply(file, "   2|     run();\n   3| }", "   2|     run(1);\n   3| }");
    assert_eq!(
        (rung, out.as_str()),
        (Rung::LineNumbersStripped, "fn main() {\n    run(1);\n}\n")
    );
    // new_string without prefixes is used as written.
    assert_eq!(
        apply(file, "   2|     run();", "    go();").1,
        "fn main() {\n    go();\n}\n"
    );
    // Stripped, then a looser rung: the prefixes and a flattened indentation together.
    let (rung, out) = apply(file, "  1| fn main() {\n  2| run();", "  1| fn main() {\n  2| go();");
    assert_eq!(
        (rung, out.as_str()),
        (Rung::TrimmedLines, "fn main() {\n    go();\n}\n")
    );
}

#[test]
fn line_endings_rung_keeps_crlf_trailing_whitespace_and_the_missing_final_newline() {
    let (rung, out) = apply("a\r\nb\r\nc\r\n", "a\nb\n", "x\ny\nz\n");
    assert_eq!((rung, out.as_str()), (Rung::LineEndings, "x\r\ny\r\nz\r\nc\r\n"));
    let (rung, out) = apply("a  \nb\t\nc\n", "a\nb", "a\nB");
    assert_eq!((rung, out.as_str()), (Rung::LineEndings, "a  \nB\nc\n"));
    let (rung, out) = apply("a\nb", "b\n", "c\n");
    assert_eq!((rung, out.as_str()), (Rung::LineEndings, "a\nc"));
    // Deleting the last line of a file without a final newline leaves it without one.
    assert_eq!(apply("a\nb", "b\n", "").1, "a");
}

#[test]
fn indentation_rung_shifts_new_string_by_the_same_offset() {
    let file = "impl A {\n    fn f() {\n        g();\n    }\n}\n";
    let (rung, out) = apply(file, "fn f() {\n    g();\n}", "fn f() {\n    g();\n    h();\n}");
    assert_eq!(rung, Rung::Indentation);
    assert_eq!(out, "impl A {\n    fn f() {\n        g();\n        h();\n    }\n}\n");
    // One level too many.
    let (rung, out) = apply(file, "            g();\n        }", "            k();\n        }");
    assert_eq!(
        (rung, out.as_str()),
        (Rung::Indentation, "impl A {\n    fn f() {\n        k();\n    }\n}\n")
    );
}

#[test]
fn tabs_rung_re_indents_with_the_files_tabs() {
    let file = "func f() {\n\tif x {\n\t\ty()\n\t}\n}\n";
    let (rung, out) = apply(
        file,
        "    if x {\n        y()\n    }",
        "    if x {\n        y()\n        z()\n    }",
    );
    assert_eq!(rung, Rung::Tabs);
    assert_eq!(out, "func f() {\n\tif x {\n\t\ty()\n\t\tz()\n\t}\n}\n");
}

#[test]
fn trimmed_lines_rung_re_indents_against_kept_lines() {
    let file = "def f():\n    if x:\n        y()\n    return 1\n";
    // The model flattened the block; the inserted line goes with the line before it.
    let (rung, out) = apply(file, "if x:\ny()\nreturn 1", "if x:\ny()\nz()\nreturn 2");
    assert_eq!(rung, Rung::TrimmedLines);
    assert_eq!(out, "def f():\n    if x:\n        y()\n        z()\n    return 2\n");
}

#[test]
fn blank_lines_rung_keeps_the_files_blank_lines() {
    let file = "a();\n\nb();\nc();\n";
    let (rung, out) = apply(file, "a();\nb();", "a();\nb(1);");
    assert_eq!((rung, out.as_str()), (Rung::BlankLines, "a();\n\nb(1);\nc();\n"));
    let (rung, out) = apply("a();\nb();\n", "a();\n\nb();\n", "a();\n\nb(2);\n");
    assert_eq!((rung, out.as_str()), (Rung::BlankLines, "a();\nb(2);\n"));
}

#[test]
fn spacing_and_typography_rungs_keep_unchanged_lines_verbatim() {
    let file = "let x   = 1;\nlet y = 2;\n";
    let (rung, out) = apply(file, "let x = 1;\nlet y = 2;", "let x = 1;\nlet y = 3;");
    assert_eq!((rung, out.as_str()), (Rung::Spacing, "let x   = 1;\nlet y = 3;\n"));
    let file = "msg = “it’s done”\nn = 1\n";
    let (rung, out) = apply(file, "msg = \"it's done\"\nn = 1", "msg = \"it's done\"\nn = 2");
    assert_eq!((rung, out.as_str()), (Rung::Typography, "msg = “it’s done”\nn = 2\n"));
}

#[test]
fn replace_all_replaces_every_match_of_the_deciding_rung() {
    let plan = plan_edit("x = 1\ny = 1\nx = 1\n", "x = 1", "x = 2", true).expect("plan");
    assert_eq!(plan.new_content, "x = 2\ny = 1\nx = 2\n");
    assert_eq!(
        plan.replacements.iter().map(|s| s.first_line).collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(plan.notes, ["replaced 2 occurrences"]);
    // Overlapping matches: the earliest of each overlapping group.
    assert_eq!(
        plan_edit("aaa", "aa", "b", true).map(|p| p.new_content),
        Ok("ba".into())
    );
}

#[test]
fn spans_give_bytes_and_lines_of_the_new_text() {
    let plan = plan_edit("a\nb\nc\n", "b\n", "x\ny\n", false).expect("plan");
    assert_eq!(
        plan.replacements,
        [Span {
            bytes: 2..6,
            first_line: 2,
            last_line: 3
        }]
    );
    let plan = plan_edit("a\nb\nc\n", "b\n", "", false).expect("plan");
    assert_eq!(
        plan.replacements,
        [Span {
            bytes: 2..2,
            first_line: 2,
            last_line: 2
        }]
    );
}

#[test]
fn empty_and_identical_arguments_are_refused() {
    assert_eq!(error("a", "", "b"), EditError::EmptyOld);
    assert_eq!(error("a", "a", "a"), EditError::Identical);
    assert_eq!(error("a", "a\r\nb", "a\nb"), EditError::Identical);
    assert_eq!(error("a", "  1| a", "a"), EditError::Identical);
    assert_eq!(error("", "a", "b"), EditError::EmptyFile);
    assert_eq!(error("\u{feff}", "a", "b"), EditError::EmptyFile);
}

#[test]
fn ambiguity_is_an_error_naming_the_lines_and_the_rung() {
    assert_eq!(
        error("x\ny\nx\n", "x", "z"),
        EditError::Ambiguous {
            count: 2,
            lines: vec![1, 3],
            rung: Rung::Exact
        }
    );
    let e = error("  f()\n    f()\n", "f()  ", "g()");
    assert_eq!(
        e,
        EditError::Ambiguous {
            count: 2,
            lines: vec![1, 2],
            rung: Rung::Indentation
        }
    );
    assert!(
        e.message("a.py")
            .contains("(lines 1, 2) when ignoring indentation; add surrounding lines")
    );
    // An overlapping second occurrence also makes a match ambiguous.
    assert!(matches!(error("aaa", "aa", "b"), EditError::Ambiguous { count: 2, .. }));
}

#[test]
fn not_found_reports_the_closest_lines_or_that_the_edit_is_made() {
    let file = "fn a() {\n    let total = compute(1, 2);\n    print(total);\n}\n";
    let EditError::NotFound {
        closest: Some(closest),
        new_present: None,
    } = error(file, "let total = compute(1, 3);\nprint(total);", "x")
    else {
        panic!("no closest lines")
    };
    assert_eq!(
        (closest.first_line, closest.last_line, closest.first_difference),
        (2, 3, Some(2))
    );
    assert_eq!(
        error(file, "zzz qqq", "x"),
        EditError::NotFound {
            closest: None,
            new_present: None
        }
    );
    let e = error(file, "print(sum);", "    print(total);");
    assert!(matches!(
        e,
        EditError::NotFound {
            new_present: Some((3, 3)),
            ..
        }
    ));
}

#[test]
fn an_addition_already_made_is_not_made_twice() {
    let file = "a();\nb();\nc();\n";
    assert_eq!(
        error(file, "a();\n", "a();\nb();\n"),
        EditError::AlreadyApplied {
            first_line: 1,
            last_line: 2
        }
    );
    assert_eq!(
        error(file, "c();", "b();\nc();"),
        EditError::AlreadyApplied {
            first_line: 2,
            last_line: 3
        }
    );
    // Not there yet, or asked for everywhere: made.
    assert_eq!(apply(file, "c();", "c();\nd();").1, "a();\nb();\nc();\nd();\n");
    assert!(plan_edit(file, "a();\n", "a();\nb();\n", true).is_ok());
}

#[test]
fn an_edit_that_changes_nothing_is_refused() {
    // Matched ignoring trailing whitespace, and new_string only drops that whitespace.
    assert_eq!(
        error("a \nb\n", "a\nb", "a  \nb"),
        EditError::NoChange {
            rung: Rung::LineEndings
        }
    );
}

#[test]
fn context_numbers_lines_and_separates_hunks() {
    let file: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    let plan = plan_edit(&file, "line 3\n", "three\n", false).expect("plan");
    assert_eq!(
        context(&plan.new_content, &plan, 1),
        "   2| line 2\n   3| three\n   4| line 4\n"
    );
    let file: String = (1..=60)
        .map(|i| {
            if i % 3 == 0 {
                "x\n".to_owned()
            } else {
                format!("y{i}\n")
            }
        })
        .collect();
    let plan = plan_edit(&file, "x\n", "z\n", true).expect("plan");
    let shown = context(&plan.new_content, &plan, 0);
    assert_eq!(shown.lines().filter(|l| *l == "...").count(), 9, "{shown}");
    assert!(shown.starts_with("   3| z\n...\n   6| z\n"), "{shown}");
    assert!(shown.ends_with("... and 10 more replacements\n"), "{shown}");
    let tall: String = (1..=40).map(|i| format!("n{i}\n")).collect();
    let plan = plan_edit("a\nb\n", "a\n", &tall, false).expect("plan");
    let shown = context(&plan.new_content, &plan, 2);
    assert_eq!(shown.lines().count(), 8 + 1 + 8 + 1, "{shown}");
    assert!(shown.contains("   8| n8\n...\n  33| n33\n"), "{shown}");
    let plan = plan_edit("only\n", "only\n", "", false).expect("plan");
    assert_eq!(context(&plan.new_content, &plan, 5), "(the file is now empty)");
}

/// A small deterministic generator, so the fuzz needs no dependency and always runs the same.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }

    fn text(&mut self, len: usize) -> String {
        const PIECES: [&str; 16] = [
            "a", "b", " ", "  ", "\t", "\n", "\r\n", "é", "€", "’", "\"", "  1| ", "2:", "\u{feff}", "x = 1;", "}",
        ];
        (0..self.next(len)).map(|_| PIECES[self.next(PIECES.len())]).collect()
    }
}

/// `text` changed the way a model's copy differs from the file.
fn perturb(rng: &mut Lcg, text: &str) -> String {
    match rng.next(7) {
        0 => text.replace('\t', "    "),
        1 => text.replace("\r\n", "\n"),
        2 => text.lines().map(|l| format!("  {l}\n")).collect(),
        3 => text.lines().map(|l| format!("{}\n", l.trim_start())).collect(),
        4 => text
            .lines()
            .enumerate()
            .map(|(i, l)| format!("{:>4}| {l}\n", i + 3))
            .collect(),
        5 => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => text.replace('\'', "’"),
    }
}

#[test]
fn no_input_panics_and_spans_stay_on_char_boundaries() {
    let mut rng = Lcg(7);
    let mut planned = 0;
    for _ in 0..5_000 {
        let content = rng.text(40);
        let (old, new) = if rng.next(2) == 0 {
            // A near miss: a piece of the file, perturbed the way models do.
            let a = rng.next(content.len() + 1);
            let b = rng.next(content.len() + 1);
            let piece = content.get(a.min(b)..a.max(b)).unwrap_or("x");
            (perturb(&mut rng, piece), perturb(&mut rng, piece) + &rng.text(4))
        } else {
            (rng.text(12), rng.text(12))
        };
        let replace_all = rng.next(2) == 0;
        match plan_edit(&content, &old, &new, replace_all) {
            Ok(plan) => {
                planned += 1;
                assert_ne!(plan.new_content, content);
                assert!(plan.replacements.windows(2).all(|w| w[0].bytes.end <= w[1].bytes.start));
                for span in &plan.replacements {
                    let ok = plan.new_content.get(span.bytes.clone()).is_some();
                    assert!(ok, "{content:?} {old:?} {new:?}");
                    assert!(span.first_line <= span.last_line);
                }
                let _ = context(&plan.new_content, &plan, 5);
            }
            Err(e) => {
                let _ = e.message("f");
            }
        }
    }
    assert!(planned > 500, "only {planned} edits planned");
}
