//! The edit ladder on a table of real-world near misses: each row is a file, the `old_string`
//! and `new_string` a small model sent, and what the model reads back (the rung, notes,
//! resulting file and echoed context, or the error message). `UPDATE_EXPECT=1` refreshes them.
//!
//! In the rendered file and context, a tab shows as `⇥`, a carriage return as `␍`, trailing
//! spaces as `·`, a byte-order mark as `<BOM>`, and a missing final newline as a last line
//! `(no newline at end of file)`.

use expect_test::{Expect, expect};
use lemmings_tools::edit::{context, plan_edit};

fn check(content: &str, old: &str, new: &str, replace_all: bool, expect: Expect) {
    let actual = match plan_edit(content, old, new, replace_all) {
        Ok(plan) => {
            let mut out = format!("rung: {}\n", plan.rung);
            for note in &plan.notes {
                out.push_str(&format!("note: {note}\n"));
            }
            out.push_str("file:\n");
            out.push_str(&visible(&plan.new_content));
            if !plan.new_content.is_empty() && !plan.new_content.ends_with('\n') {
                out.push_str("\n(no newline at end of file)\n");
            }
            out.push_str("context:\n");
            out.push_str(&visible(&context(&plan.new_content, &plan, 5)));
            out
        }
        Err(e) => e.message("src/lib.rs") + "\n",
    };
    expect.assert_eq(&actual);
}

/// Whitespace a snapshot would hide, made visible.
fn visible(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let (body, end) = match line.strip_suffix("\r\n") {
                Some(body) => (body, "␍\n"),
                None => line.strip_suffix('\n').map_or((line, ""), |body| (body, "\n")),
            };
            let trimmed = body.trim_end_matches(' ');
            let dots = "·".repeat(body.len() - trimmed.len());
            format!("{}{dots}{end}", trimmed.replace('\t', "⇥").replace('\u{feff}', "<BOM>"))
        })
        .collect()
}

const RUST: &str = "\
use std::io;

pub struct Counter {
    count: u32,
}

impl Counter {
    pub fn new() -> Self {
        Counter { count: 0 }
    }

    pub fn bump(&mut self) {
        self.count += 1;
    }
}
";

const PYTHON: &str = "\
class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError(\"empty\")
        return self.items.pop()
";

const GO: &str = "package main\n\nfunc main() {\n\tfor i := 0; i < 3; i++ {\n\t\tfmt.Println(i)\n\t}\n}\n";

#[test]
fn exact_single_line() {
    check(
        RUST,
        "        self.count += 1;",
        "        self.count = self.count.saturating_add(1);",
        false,
        expect![[r#"
            rung: exact
            file:
            use std::io;

            pub struct Counter {
                count: u32,
            }

            impl Counter {
                pub fn new() -> Self {
                    Counter { count: 0 }
                }

                pub fn bump(&mut self) {
                    self.count = self.count.saturating_add(1);
                }
            }
            context:
               8|     pub fn new() -> Self {
               9|         Counter { count: 0 }
              10|     }
              11|·
              12|     pub fn bump(&mut self) {
              13|         self.count = self.count.saturating_add(1);
              14|     }
              15| }
        "#]],
    );
}

#[test]
fn exact_partial_line() {
    check(
        RUST,
        "count: u32",
        "count: u64",
        false,
        expect![[r#"
        rung: exact
        file:
        use std::io;

        pub struct Counter {
            count: u64,
        }

        impl Counter {
            pub fn new() -> Self {
                Counter { count: 0 }
            }

            pub fn bump(&mut self) {
                self.count += 1;
            }
        }
        context:
           1| use std::io;
           2|·
           3| pub struct Counter {
           4|     count: u64,
           5| }
           6|·
           7| impl Counter {
           8|     pub fn new() -> Self {
           9|         Counter { count: 0 }
    "#]],
    );
}

#[test]
fn spaces_for_a_tab_indented_file() {
    check(
        GO,
        "    for i := 0; i < 3; i++ {\n        fmt.Println(i)\n    }",
        "    for i := 0; i < 3; i++ {\n        fmt.Println(i * 2)\n    }",
        false,
        expect![[r#"
            rung: tabs
            note: matched counting a tab as 4 columns (the file indents with tabs, old_string with spaces); new_string was re-indented with tabs
            file:
            package main

            func main() {
            ⇥for i := 0; i < 3; i++ {
            ⇥⇥fmt.Println(i * 2)
            ⇥}
            }
            context:
               1| package main
               2|·
               3| func main() {
               4| ⇥for i := 0; i < 3; i++ {
               5| ⇥⇥fmt.Println(i * 2)
               6| ⇥}
               7| }
        "#]],
    );
}

#[test]
fn spaces_for_tabs_from_column_zero() {
    check(
        GO,
        "func main() {\n    for i := 0; i < 3; i++ {\n        fmt.Println(i)",
        "func main() {\n    for i := 0; i < 3; i++ {\n        if i > 0 {\n            fmt.Println(i)\n        }",
        false,
        expect![[r#"
            rung: tabs
            note: matched counting a tab as 4 columns (the file indents with tabs, old_string with spaces); new_string was re-indented with tabs
            file:
            package main

            func main() {
            ⇥for i := 0; i < 3; i++ {
            ⇥⇥if i > 0 {
            ⇥⇥⇥fmt.Println(i)
            ⇥⇥}
            ⇥}
            }
            context:
               1| package main
               2|·
               3| func main() {
               4| ⇥for i := 0; i < 3; i++ {
               5| ⇥⇥if i > 0 {
               6| ⇥⇥⇥fmt.Println(i)
               7| ⇥⇥}
               8| ⇥}
               9| }
        "#]],
    );
}

#[test]
fn model_dropped_one_indentation_level() {
    check(
        PYTHON,
        "def push(self, item):\n    self.items.append(item)",
        "def push(self, item):\n    if item is None:\n        raise ValueError(\"none\")\n    self.items.append(item)",
        false,
        expect![[r#"
            rung: indentation
            note: matched ignoring indentation (the file indents by 4 more spaces); new_string was re-indented the same way
            file:
            class Stack:
                def __init__(self):
                    self.items = []

                def push(self, item):
                    if item is None:
                        raise ValueError("none")
                    self.items.append(item)

                def pop(self):
                    if not self.items:
                        raise IndexError("empty")
                    return self.items.pop()
            context:
               1| class Stack:
               2|     def __init__(self):
               3|         self.items = []
               4|·
               5|     def push(self, item):
               6|         if item is None:
               7|             raise ValueError("none")
               8|         self.items.append(item)
               9|·
              10|     def pop(self):
              11|         if not self.items:
              12|             raise IndexError("empty")
              13|         return self.items.pop()
        "#]],
    );
}

#[test]
fn model_added_one_indentation_level() {
    check(
        RUST,
        "        pub fn new() -> Self {\n            Counter { count: 0 }\n        }",
        "        pub fn new() -> Self {\n            Counter { count: 1 }\n        }",
        false,
        expect![[r#"
            rung: indentation
            note: matched ignoring indentation (the file indents by 4 fewer spaces); new_string was re-indented the same way
            file:
            use std::io;

            pub struct Counter {
                count: u32,
            }

            impl Counter {
                pub fn new() -> Self {
                    Counter { count: 1 }
                }

                pub fn bump(&mut self) {
                    self.count += 1;
                }
            }
            context:
               3| pub struct Counter {
               4|     count: u32,
               5| }
               6|·
               7| impl Counter {
               8|     pub fn new() -> Self {
               9|         Counter { count: 1 }
              10|     }
              11|·
              12|     pub fn bump(&mut self) {
              13|         self.count += 1;
              14|     }
              15| }
        "#]],
    );
}

#[test]
fn two_space_indentation_for_a_four_space_file() {
    check(
        PYTHON,
        "  def push(self, item):\n    self.items.append(item)",
        "  def push(self, item):\n    if item is not None:\n      self.items.append(item)",
        false,
        expect![[r#"
            rung: trimmed-lines
            note: matched comparing trimmed lines (old_string indents half as deep per level as the file); new_string was re-indented to the file's indentation
            file:
            class Stack:
                def __init__(self):
                    self.items = []

                def push(self, item):
                    if item is not None:
                        self.items.append(item)

                def pop(self):
                    if not self.items:
                        raise IndexError("empty")
                    return self.items.pop()
            context:
               1| class Stack:
               2|     def __init__(self):
               3|         self.items = []
               4|·
               5|     def push(self, item):
               6|         if item is not None:
               7|             self.items.append(item)
               8|·
               9|     def pop(self):
              10|         if not self.items:
              11|             raise IndexError("empty")
              12|         return self.items.pop()
        "#]],
    );
}

#[test]
fn uneven_indentation_is_matched_on_trimmed_lines() {
    check(
        PYTHON,
        "def pop(self):\nif not self.items:\nraise IndexError(\"empty\")\nreturn self.items.pop()",
        "def pop(self):\nif not self.items:\nraise IndexError(\"pop from empty stack\")\nreturn self.items.pop()",
        false,
        expect![[r#"
            rung: trimmed-lines
            note: matched comparing trimmed lines (the indentation differs unevenly); new_string was re-indented to the file's indentation
            file:
            class Stack:
                def __init__(self):
                    self.items = []

                def push(self, item):
                    self.items.append(item)

                def pop(self):
                    if not self.items:
                        raise IndexError("pop from empty stack")
                    return self.items.pop()
            context:
               3|         self.items = []
               4|·
               5|     def push(self, item):
               6|         self.items.append(item)
               7|·
               8|     def pop(self):
               9|         if not self.items:
              10|             raise IndexError("pop from empty stack")
              11|         return self.items.pop()
        "#]],
    );
}

#[test]
fn trailing_whitespace_in_the_file() {
    check(
        "fn main() {   \n    let x = 1; \n    println!(\"{x}\");\n}\n",
        "fn main() {\n    let x = 1;\n",
        "fn main() {\n    let x = 2;\n",
        false,
        expect![[r#"
            rung: line-endings
            note: matched ignoring trailing whitespace
            file:
            fn main() {···
                let x = 2;
                println!("{x}");
            }
            context:
               1| fn main() {···
               2|     let x = 2;
               3|     println!("{x}");
               4| }
        "#]],
    );
}

#[test]
fn crlf_file_with_lf_old_string() {
    check(
        "[package]\r\nname = \"demo\"\r\nversion = \"0.1.0\"\r\n",
        "name = \"demo\"\nversion = \"0.1.0\"",
        "name = \"demo\"\nversion = \"0.2.0\"\nedition = \"2024\"",
        false,
        expect![[r#"
            rung: line-endings
            note: matched after converting old_string's line endings to the file's CRLF
            note: wrote new_string with the file's CRLF line endings
            file:
            [package]␍
            name = "demo"␍
            version = "0.2.0"␍
            edition = "2024"␍
            context:
               1| [package]
               2| name = "demo"
               3| version = "0.2.0"
               4| edition = "2024"
        "#]],
    );
}

#[test]
fn crlf_old_string_in_a_crlf_file_with_lf_new_string() {
    check(
        "a = 1\r\nb = 2\r\n",
        "a = 1\r\nb = 2",
        "a = 1\nb = 3",
        false,
        expect![[r#"
        rung: exact
        note: wrote new_string with the file's CRLF line endings
        file:
        a = 1␍
        b = 3␍
        context:
           1| a = 1
           2| b = 3
    "#]],
    );
}

#[test]
fn copied_read_file_prefixes_in_old_string() {
    check(
        RUST,
        "  13|         self.count += 1;\n  14|     }",
        "        self.count += 2;\n    }",
        false,
        expect![[r#"
        rung: line-numbers-stripped
        note: stripped line-number prefixes like `  13| ` from old_string
        file:
        use std::io;

        pub struct Counter {
            count: u32,
        }

        impl Counter {
            pub fn new() -> Self {
                Counter { count: 0 }
            }

            pub fn bump(&mut self) {
                self.count += 2;
            }
        }
        context:
           8|     pub fn new() -> Self {
           9|         Counter { count: 0 }
          10|     }
          11|·
          12|     pub fn bump(&mut self) {
          13|         self.count += 2;
          14|     }
          15| }
    "#]],
    );
}

#[test]
fn copied_read_file_prefixes_in_both_strings() {
    check(
        RUST,
        "   8|     pub fn new() -> Self {\n   9|         Counter { count: 0 }\n  10|     }",
        "   8|     pub fn new() -> Self {\n   9|         Counter { count: 10 }\n  10|     }",
        false,
        expect![[r#"
            rung: line-numbers-stripped
            note: stripped line-number prefixes like `   8| ` from old_string and new_string
            file:
            use std::io;

            pub struct Counter {
                count: u32,
            }

            impl Counter {
                pub fn new() -> Self {
                    Counter { count: 10 }
                }

                pub fn bump(&mut self) {
                    self.count += 1;
                }
            }
            context:
               3| pub struct Counter {
               4|     count: u32,
               5| }
               6|·
               7| impl Counter {
               8|     pub fn new() -> Self {
               9|         Counter { count: 10 }
              10|     }
              11|·
              12|     pub fn bump(&mut self) {
              13|         self.count += 1;
              14|     }
              15| }
        "#]],
    );
}

#[test]
fn copied_prefixes_in_only_some_new_lines() {
    check(
        RUST,
        "  13|         self.count += 1;",
        "  13|         self.count += 1;\n        self.log();",
        false,
        expect![[r#"
            rung: line-numbers-stripped
            note: stripped line-number prefixes like `  13| ` from old_string and from the new_string lines that carry them
            file:
            use std::io;

            pub struct Counter {
                count: u32,
            }

            impl Counter {
                pub fn new() -> Self {
                    Counter { count: 0 }
                }

                pub fn bump(&mut self) {
                    self.count += 1;
                    self.log();
                }
            }
            context:
               8|     pub fn new() -> Self {
               9|         Counter { count: 0 }
              10|     }
              11|·
              12|     pub fn bump(&mut self) {
              13|         self.count += 1;
              14|         self.log();
              15|     }
              16| }
        "#]],
    );
}

#[test]
fn copied_cat_n_prefixes() {
    check(
        GO,
        "     5\t\t\tfmt.Println(i)\n     6\t\t}",
        "     5\t\t\tprintln(i)\n     6\t\t}",
        false,
        expect![[r#"
        rung: line-numbers-stripped
        note: stripped line-number prefixes like `     5	` from old_string and new_string
        file:
        package main

        func main() {
        ⇥for i := 0; i < 3; i++ {
        ⇥⇥println(i)
        ⇥}
        }
        context:
           1| package main
           2|·
           3| func main() {
           4| ⇥for i := 0; i < 3; i++ {
           5| ⇥⇥println(i)
           6| ⇥}
           7| }
    "#]],
    );
}

#[test]
fn copied_grep_prefixes() {
    check(
        GO,
        "4:\tfor i := 0; i < 3; i++ {\n5:\t\tfmt.Println(i)",
        "4:\tfor i := 0; i < 5; i++ {\n5:\t\tfmt.Println(i)",
        false,
        expect![[r#"
            rung: line-numbers-stripped
            note: stripped line-number prefixes like `4:` from old_string and new_string
            file:
            package main

            func main() {
            ⇥for i := 0; i < 5; i++ {
            ⇥⇥fmt.Println(i)
            ⇥}
            }
            context:
               1| package main
               2|·
               3| func main() {
               4| ⇥for i := 0; i < 5; i++ {
               5| ⇥⇥fmt.Println(i)
               6| ⇥}
               7| }
        "#]],
    );
}

#[test]
fn crlf_file_with_copied_prefixes_and_a_dropped_level() {
    check(
        "fn main() {\r\n    if ok {\r\n        run();\r\n    }\r\n}\r\n",
        "   2| if ok {\n   3|     run();\n   4| }",
        "   2| if ok {\n   3|     run();\n   4|     log();\n   5| }",
        false,
        expect![[r#"
            rung: indentation
            note: stripped line-number prefixes like `   2| ` from old_string and new_string
            note: matched ignoring indentation (the file indents by 4 more spaces); new_string was re-indented the same way
            note: wrote new_string with the file's CRLF line endings
            file:
            fn main() {␍
                if ok {␍
                    run();␍
                    log();␍
                }␍
            }␍
            context:
               1| fn main() {
               2|     if ok {
               3|         run();
               4|         log();
               5|     }
               6| }
        "#]],
    );
}

#[test]
fn yaml_numbers_are_not_taken_for_prefixes() {
    check(
        "codes:\n  200: ok\n  404: missing\n",
        "200: ok\n404: missing",
        "200: ok\n404: not found",
        false,
        expect![[r#"
            rung: indentation
            note: matched ignoring indentation (the file indents by 2 more spaces); new_string was re-indented the same way
            file:
            codes:
              200: ok
              404: not found
            context:
               1| codes:
               2|   200: ok
               3|   404: not found
        "#]],
    );
}

#[test]
fn found_twice_is_ambiguous() {
    check(
        "fn a() {\n    cleanup();\n}\n\nfn b() {\n    cleanup();\n}\n",
        "    cleanup();",
        "    cleanup_all();",
        false,
        expect![[r#"
            error: old_string found 2 times in src/lib.rs (lines 2, 6); add surrounding lines to make it unique, or set replace_all
        "#]],
    );
}

#[test]
fn found_twice_with_replace_all() {
    check(
        "fn a() {\n    cleanup();\n}\n\nfn b() {\n    cleanup();\n}\n",
        "    cleanup();",
        "    cleanup_all();",
        true,
        expect![[r#"
            rung: exact
            note: replaced 2 occurrences
            file:
            fn a() {
                cleanup_all();
            }

            fn b() {
                cleanup_all();
            }
            context:
               1| fn a() {
               2|     cleanup_all();
               3| }
               4|·
               5| fn b() {
               6|     cleanup_all();
               7| }
        "#]],
    );
}

#[test]
fn replace_all_on_a_looser_rung() {
    check(
        "def a():\n    x = load()\n    return x\n\nclass B:\n    def a(self):\n        x = load()\n        return x\n",
        "x = load()\nreturn x",
        "x = load()\nreturn x or default()",
        true,
        expect![[r#"
            rung: indentation
            note: matched ignoring indentation (the file indents by 4 more spaces); new_string was re-indented the same way
            note: replaced 2 occurrences
            file:
            def a():
                x = load()
                return x or default()

            class B:
                def a(self):
                    x = load()
                    return x or default()
            context:
               1| def a():
               2|     x = load()
               3|     return x or default()
               4|·
               5| class B:
               6|     def a(self):
               7|         x = load()
               8|         return x or default()
        "#]],
    );
}

#[test]
fn ambiguous_on_a_looser_rung() {
    check(
        "def a():\n    return 1\n\nclass B:\n    def a():\n        return 1\n",
        "def a():\n  return 1",
        "def a():\n  return 2",
        false,
        expect![[r#"
            error: old_string found 2 times in src/lib.rs (lines 1, 5) when comparing trimmed lines; add surrounding lines to make it unique, or set replace_all
        "#]],
    );
}

#[test]
fn blank_line_missing_in_old_string() {
    check(
        RUST,
        "        Counter { count: 0 }\n    }\n    pub fn bump(&mut self) {",
        "        Counter { count: 0 }\n    }\n    pub fn bump(&mut self, by: u32) {",
        false,
        expect![[r#"
            rung: blank-lines
            note: matched ignoring blank lines (the file has 1 more blank line there); the file's blank lines were kept where new_string leaves them alone
            file:
            use std::io;

            pub struct Counter {
                count: u32,
            }

            impl Counter {
                pub fn new() -> Self {
                    Counter { count: 0 }
                }

                pub fn bump(&mut self, by: u32) {
                    self.count += 1;
                }
            }
            context:
               4|     count: u32,
               5| }
               6|·
               7| impl Counter {
               8|     pub fn new() -> Self {
               9|         Counter { count: 0 }
              10|     }
              11|·
              12|     pub fn bump(&mut self, by: u32) {
              13|         self.count += 1;
              14|     }
              15| }
        "#]],
    );
}

#[test]
fn extra_blank_line_in_old_string() {
    check(
        "a = 1\nb = 2\nc = 3\n",
        "a = 1\n\nb = 2\n",
        "a = 1\n\nb = 20\n",
        false,
        expect![[r#"
            rung: blank-lines
            note: matched ignoring blank lines (old_string has 1 more blank line); the file's blank lines were kept where new_string leaves them alone
            file:
            a = 1
            b = 20
            c = 3
            context:
               1| a = 1
               2| b = 20
               3| c = 3
        "#]],
    );
}

#[test]
fn spaces_inside_lines_differ() {
    check(
        "let v = vec![1,2,3];\nlet n = v.len();\n",
        "let v = vec![1, 2, 3];\nlet n = v.len();",
        "let v = vec![1, 2, 3];\nlet n = v.len() + 1;",
        false,
        expect![[r#"
            rung: spacing
            note: matched ignoring spaces inside lines; lines new_string leaves alone keep the file's spacing
            file:
            let v = vec![1,2,3];
            let n = v.len() + 1;
            context:
               1| let v = vec![1,2,3];
               2| let n = v.len() + 1;
        "#]],
    );
}

#[test]
fn typographic_quotes_in_the_file() {
    check(
        "# Guide\n\nIt’s “simple” — really.\nRun it…\n",
        "It's \"simple\" - really.\nRun it...",
        "It's \"simple\" - really.\nRun it twice...",
        false,
        expect![[r#"
            rung: typography
            note: matched treating typographic quotes, dashes and ellipses as ASCII; lines new_string leaves alone keep the file's characters
            file:
            # Guide

            It’s “simple” — really.
            Run it twice...
            context:
               1| # Guide
               2|·
               3| It’s “simple” — really.
               4| Run it twice...
        "#]],
    );
}

#[test]
fn old_string_with_a_final_newline_the_file_lacks() {
    check(
        "[a]\nx = 1\ny = 2",
        "x = 1\ny = 2\n",
        "x = 1\ny = 3\n",
        false,
        expect![[r#"
        rung: line-endings
        note: old_string ends with a newline the file lacks at its end; the file still ends without one
        file:
        [a]
        x = 1
        y = 3
        (no newline at end of file)
        context:
           1| [a]
           2| x = 1
           3| y = 3
    "#]],
    );
}

#[test]
fn empty_file() {
    check(
        "",
        "fn main() {}",
        "fn main() { run(); }",
        false,
        expect![[r#"
        error: src/lib.rs is empty, so old_string cannot be found in it; write the whole file instead
    "#]],
    );
}

#[test]
fn multibyte_content() {
    check(
        "// 計算する\nfn 合計(a: i32) -> i32 {\n    a + 1 // ➕ 🚀\n}\n",
        "fn 合計(a: i32) -> i32 {\n  a + 1 // ➕ 🚀\n}",
        "fn 合計(a: i32) -> i32 {\n  a + 2 // ➕ 🚀\n}",
        false,
        expect![[r#"
            rung: trimmed-lines
            note: matched comparing trimmed lines (old_string indents half as deep per level as the file); new_string was re-indented to the file's indentation
            file:
            // 計算する
            fn 合計(a: i32) -> i32 {
                a + 2 // ➕ 🚀
            }
            context:
               1| // 計算する
               2| fn 合計(a: i32) -> i32 {
               3|     a + 2 // ➕ 🚀
               4| }
        "#]],
    );
}

#[test]
fn edit_already_applied() {
    let edited = RUST.replace("+= 1;\n", "+= 1;\n        self.changed = true;\n");
    check(
        &edited,
        "        self.count += 1;\n",
        "        self.count += 1;\n        self.changed = true;\n",
        false,
        expect![[r#"
            error: new_string is already in src/lib.rs (lines 13–14), around the only match of old_string: the edit seems to be made already; read those lines to check, and to add the text once more, use the current text as old_string
        "#]],
    );
    check(
        "fn bump(&mut self) {\n    self.count = self.count.saturating_add(1);\n}\n",
        "    self.count += 1;",
        "    self.count = self.count.saturating_add(1);",
        false,
        expect![[r#"
            error: old_string not found in src/lib.rs, but new_string is already there (line 2): the edit seems to be made already; read those lines to check
        "#]],
    );
}

#[test]
fn not_found_with_a_close_window() {
    check(
        PYTHON,
        "    def pop(self):\n        if len(self.items) == 0:\n            raise IndexError(\"empty\")",
        "    def pop(self):\n        if not self.items:\n            raise IndexError(\"pop from empty\")",
        false,
        expect![[r#"
            error: old_string not found in src/lib.rs; the closest lines are 8–10 (the first difference is on line 9):
               8|     def pop(self):
               9|         if not self.items:
              10|             raise IndexError("empty")
            copy them exactly (without the line-number prefix) or read the file again
        "#]],
    );
}

#[test]
fn not_found_with_nothing_close() {
    check(
        PYTHON,
        "async fn handler(req: Request) -> Response {",
        "async fn handler() {}",
        false,
        expect![[r#"
        error: old_string not found in src/lib.rs, and no lines are close to it; read the file again and copy the lines to change exactly
    "#]],
    );
}

#[test]
fn identical_and_empty_arguments() {
    check(
        RUST,
        "   13|         self.count += 1;",
        "        self.count += 1;",
        false,
        expect![[r#"
        error: old_string and new_string are the same, so there is nothing to change; put the changed text in new_string
    "#]],
    );
    check(
        RUST,
        "",
        "use std::fmt;",
        false,
        expect![[r#"
        error: old_string is empty; to insert text, put a neighbouring line in old_string and repeat it in new_string with your addition; to fill an empty file, write the whole file instead
    "#]],
    );
}

#[test]
fn edit_that_changes_nothing() {
    check(
        "x = 1   \ny = 2\n",
        "x = 1\ny = 2",
        "x = 1 \ny = 2",
        false,
        expect![[r#"
        error: the edit would not change src/lib.rs: old_string matched only when ignoring line endings and trailing whitespace, and new_string differs from it only there; put the change you want in new_string
    "#]],
    );
}

#[test]
fn deleting_a_block() {
    check(
        RUST,
        "\n    pub fn bump(&mut self) {\n        self.count += 1;\n    }\n",
        "",
        false,
        expect![[r#"
            rung: exact
            file:
            use std::io;

            pub struct Counter {
                count: u32,
            }

            impl Counter {
                pub fn new() -> Self {
                    Counter { count: 0 }
                }
            }
            context:
               6|·
               7| impl Counter {
               8|     pub fn new() -> Self {
               9|         Counter { count: 0 }
              10|     }
              11| }
        "#]],
    );
}

#[test]
fn file_with_a_byte_order_mark() {
    check(
        "\u{feff}first\nsecond\n",
        "  first",
        "  zeroth\n  first",
        false,
        expect![[r#"
        rung: indentation
        note: matched ignoring indentation (the file indents by 2 fewer spaces); new_string was re-indented the same way
        file:
        <BOM>zeroth
        first
        second
        context:
           1| zeroth
           2| first
           3| second
    "#]],
    );
}

#[test]
fn tall_replacement_context_is_capped() {
    let body: String = (1..=30).map(|i| format!("    step{i}();\n")).collect();
    check(
        "fn run() {\n    todo();\n}\n",
        "    todo();\n",
        &body,
        false,
        expect![[r#"
        rung: exact
        file:
        fn run() {
            step1();
            step2();
            step3();
            step4();
            step5();
            step6();
            step7();
            step8();
            step9();
            step10();
            step11();
            step12();
            step13();
            step14();
            step15();
            step16();
            step17();
            step18();
            step19();
            step20();
            step21();
            step22();
            step23();
            step24();
            step25();
            step26();
            step27();
            step28();
            step29();
            step30();
        }
        context:
           1| fn run() {
           2|     step1();
           3|     step2();
           4|     step3();
           5|     step4();
           6|     step5();
           7|     step6();
           8|     step7();
           9|     step8();
        ...
          24|     step23();
          25|     step24();
          26|     step25();
          27|     step26();
          28|     step27();
          29|     step28();
          30|     step29();
          31|     step30();
          32| }
    "#]],
    );
}

#[test]
fn large_file_near_miss_and_repetitive_lines() {
    let file: String = (0..50_000).map(|i| format!("    let v{i} = f({i});\n")).collect();
    check(
        &file,
        "let v41999 = f(41998);\nlet v42000 = f(42000);",
        "x",
        false,
        expect![[r#"
        error: old_string not found in src/lib.rs; the closest lines are 42000–42001 (the first difference is on line 42000):
        42000|     let v41999 = f(41999);
        42001|     let v42000 = f(42000);
        copy them exactly (without the line-number prefix) or read the file again
    "#]],
    );
    let braces = "}\n".repeat(20_000);
    check(
        &braces,
        &"  }\n".repeat(500),
        "x",
        false,
        expect![[r#"
        error: old_string found 8000 times in src/lib.rs (lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 7990 more) when ignoring indentation; add surrounding lines to make it unique, or set replace_all
    "#]],
    );
}
