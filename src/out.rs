//! Writing to stdout without panicking when the reader goes away (`lemmings threads | head`):
//! a closed pipe ends the process quietly with exit 0, as other command-line tools do.

use std::io::Write as _;

/// Writes `text` to stdout as it is.
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}

/// Writes `text` and a newline to stdout.
pub(crate) fn line(text: &str) {
    print(&format!("{text}\n"));
}

/// `println!` that ends the process quietly on a closed pipe (see [`line`]).
macro_rules! out_line {
    () => {
        $crate::out::line("")
    };
    ($($arg:tt)*) => {
        $crate::out::line(&format!($($arg)*))
    };
}

/// `print!` that ends the process quietly on a closed pipe (see [`print`]).
macro_rules! out_print {
    ($($arg:tt)*) => {
        $crate::out::print(&format!($($arg)*))
    };
}
