//! Output in the conventions of kubectl: aligned columns for people, JSON for scripts. Messages about
//! the run (progress, counts, hints) go to stderr so that stdout stays parseable.
use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
}

/// A table without borders, headers in capitals.
pub fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_header(headers.iter().map(|h| h.to_uppercase()));
    for column in t.column_iter_mut() {
        column.set_padding((0, 3));
    }
    t
}

/// Prints `rows` as JSON or JSON Lines, or `table()` for people.
pub fn emit<T: Serialize>(format: Format, rows: &[T], table: impl FnOnce() -> Table) {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => {
            let _ = writeln!(out, "{}", table().trim_fmt());
        }
        Format::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(rows).expect("serialisable")
            );
        }
        Format::Jsonl => {
            for row in rows {
                let _ = writeln!(out, "{}", serde_json::to_string(row).expect("serialisable"));
            }
        }
    }
}

/// Prints one document: JSON for `json`/`jsonl`, `text()` for people.
pub fn emit_one<T: Serialize>(format: Format, doc: &T, text: impl FnOnce() -> String) {
    let mut out = std::io::stdout().lock();
    let _ = match format {
        Format::Table => writeln!(out, "{}", text().trim_end()),
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(doc).expect("serialisable")
        ),
        Format::Jsonl => writeln!(out, "{}", serde_json::to_string(doc).expect("serialisable")),
    };
}

/// A message about the run, on stderr.
pub fn note(msg: &str) {
    eprintln!("{msg}");
}

/// `3d4h`, `2h13m`, `4m10s`, `12s`: the age of something, as kubectl shows it.
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - since).num_seconds().max(0);
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match () {
        _ if d > 0 => format!("{d}d{h}h"),
        _ if h > 0 => format!("{h}h{m}m"),
        _ if m > 0 => format!("{m}m{}s", s % 60),
        _ => format!("{s}s"),
    }
}

/// `text` cut to `max` characters with an ellipsis.
pub fn cut(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Asks `question` on the terminal; true only for an explicit "yes". Without a terminal nobody can
/// answer, so it is a no (use `--yes` in scripts).
pub fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} Type 'yes' to go on: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now = Utc::now();
        let ago = |s: i64| age(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(12), "12s");
        assert_eq!(ago(250), "4m10s");
        assert_eq!(ago(2 * 3600 + 13 * 60), "2h13m");
        assert_eq!(ago(3 * 86_400 + 4 * 3600), "3d4h");
    }

    #[test]
    fn long_text_is_cut_on_one_line() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("a\nb", 10), "a b");
        assert_eq!(cut("0123456789abc", 5), "0123…");
    }
}
