//! Report builders: Markdown tables, CSV, JSON, and HTML pages with inline
//! SVG charts. Every builder escapes what it is given, so a user called
//! `<script>` or `a|b` or `"=cmd"` cannot change the report's structure.
//!
//! One [`Table`] renders to each format, so a plugin offering several output
//! formats fills its rows once:
//!
//! ```
//! use falcon_sdk::report::Table;
//!
//! let mut table = Table::new(["Host", "Sensor"]);
//! table.row(["web-01", "7.20.18"]).row(["db|02", "7.19.1"]);
//!
//! assert_eq!(
//!     table.render(),
//!     "| Host | Sensor |\n| --- | --- |\n| web-01 | 7.20.18 |\n| db\\|02 | 7.19.1 |\n"
//! );
//! assert_eq!(table.render_csv(), "Host,Sensor\r\nweb-01,7.20.18\r\ndb|02,7.19.1\r\n");
//! assert!(table.render_html().contains("<td>db|02</td>"));
//! ```
//!
//! [`html::Document`] assembles a self-contained page (no script, no external
//! resource) from headings, paragraphs, tables and [`html::BarChart`]s;
//! [`json`] renders any serialisable value.

use std::fmt::Write as _;

pub mod html;

/// Escapes text for a Markdown table cell: pipes, backslashes and line
/// breaks would otherwise break the table.
///
/// ```
/// assert_eq!(falcon_sdk::report::cell("a|b\nc"), "a\\|b c");
/// ```
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes one CSV field as RFC 4180 describes: a field holding a comma, a
/// double quote or a line break is quoted, with its quotes doubled.
///
/// A field a spreadsheet would run as a formula (starting with `=`, `+`,
/// `@`, a tab, a carriage return, or `-` when it is not a number) gets a
/// leading `'`, so that a user name such as `=HYPERLINK(...)` opens as text
/// (CSV injection). Numbers such as `-5` are left alone.
///
/// ```
/// use falcon_sdk::report::csv_field;
///
/// assert_eq!(csv_field("plain"), "plain");
/// assert_eq!(csv_field("O'Brien, Pat"), "\"O'Brien, Pat\"");
/// assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
/// assert_eq!(csv_field("=1+1"), "'=1+1");
/// assert_eq!(csv_field("-5"), "-5");
/// ```
pub fn csv_field(text: &str) -> String {
    let formula = match text.chars().next() {
        Some('=' | '+' | '@' | '\t' | '\r') => true,
        Some('-') => text.parse::<f64>().is_err(),
        _ => false,
    };
    let text = if formula {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Renders `value` as indented JSON with a final line break: the form a
/// plugin's JSON report takes, easy to read and to pipe into `jq`.
///
/// ```
/// let text = falcon_sdk::report::json(&serde_json::json!({"hosts": 3}));
/// assert_eq!(text, "{\n  \"hosts\": 3\n}\n");
/// ```
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serialising into memory fails only for maps with non-string keys or a
    // failing `Serialize` impl; say so in the report rather than panic.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("failed to serialise the report: {e}") }).to_string()
    });
    text.push('\n');
    text
}

/// A table of text cells that renders as Markdown, CSV or HTML.
///
/// ```
/// use falcon_sdk::report::Table;
///
/// let mut table = Table::new(["Finding", "Users"]);
/// table.row(["Inactive", "3"]);
/// assert_eq!(table.len(), 1);
/// assert_eq!(table.headers(), ["Finding", "Users"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    ///
    /// ```
    /// let table = falcon_sdk::report::Table::new(["Host", "Platform"]);
    /// assert!(table.is_empty());
    /// ```
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are left empty and extra cells dropped.
    ///
    /// ```
    /// let mut table = falcon_sdk::report::Table::new(["a", "b"]);
    /// table.row(["1"]).row(["2", "3", "ignored"]);
    /// assert_eq!(table.rows()[0], ["1", ""]);
    /// assert_eq!(table.rows()[1], ["2", "3"]);
    /// ```
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        let mut row: Vec<String> = cells.into_iter().map(Into::into).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
        self
    }

    /// The column headers.
    ///
    /// ```
    /// let table = falcon_sdk::report::Table::new(["Host"]);
    /// assert_eq!(table.headers(), ["Host"]);
    /// ```
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The rows, each as long as the headers.
    ///
    /// ```
    /// let mut table = falcon_sdk::report::Table::new(["Host"]);
    /// table.row(["web-01"]);
    /// assert_eq!(table.rows(), [["web-01"]]);
    /// ```
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// Number of rows.
    ///
    /// ```
    /// let mut table = falcon_sdk::report::Table::new(["Host"]);
    /// table.row(["web-01"]);
    /// assert_eq!(table.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    ///
    /// ```
    /// assert!(falcon_sdk::report::Table::new(["Host"]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders the table as Markdown, one line per row, escaping every cell
    /// with [`cell`].
    ///
    /// ```
    /// let mut table = falcon_sdk::report::Table::new(["Host"]);
    /// table.row(["web-01"]);
    /// assert_eq!(table.render(), "| Host |\n| --- |\n| web-01 |\n");
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            out.push('|');
            for c in cells {
                let _ = write!(out, " {} |", cell(c));
            }
            out.push('\n');
        };
        line(&mut out, &self.headers);
        out.push('|');
        for _ in &self.headers {
            out.push_str(" --- |");
        }
        out.push('\n');
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }

    /// Renders the table as CSV (RFC 4180): a header line, then one line per
    /// row, each ended by CRLF, every field escaped with [`csv_field`].
    ///
    /// ```
    /// let mut table = falcon_sdk::report::Table::new(["Name", "Roles"]);
    /// table.row(["Pat", "admin,analyst"]);
    /// assert_eq!(table.render_csv(), "Name,Roles\r\nPat,\"admin,analyst\"\r\n");
    /// ```
    pub fn render_csv(&self) -> String {
        let mut out = String::new();
        for cells in std::iter::once(&self.headers).chain(&self.rows) {
            let fields: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// Renders the table as an HTML `<table>`, every cell escaped with
    /// [`html::escape`]. Put it in a page with [`html::Document::table`].
    ///
    /// ```
    /// let mut table = falcon_sdk::report::Table::new(["Name"]);
    /// table.row(["<b>Pat</b>"]);
    /// assert_eq!(
    ///     table.render_html(),
    ///     "<table>\n<thead><tr><th>Name</th></tr></thead>\n<tbody>\n\
    ///      <tr><td>&lt;b&gt;Pat&lt;/b&gt;</td></tr>\n</tbody>\n</table>\n"
    /// );
    /// ```
    pub fn render_html(&self) -> String {
        let mut out = String::from("<table>\n<thead><tr>");
        for header in &self.headers {
            let _ = write!(out, "<th>{}</th>", html::escape(header));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<td>{}</td>", html::escape(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped() {
        let mut t = Table::new(["name", "note"]);
        t.row(["a|b", "line\nbreak"]).row(["only one"]);
        assert_eq!(
            t.render(),
            "| name | note |\n| --- | --- |\n| a\\|b | line break |\n| only one |  |\n"
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut t = Table::new(["name", "note", "n"]);
        t.row(["O\"Brien", "two\nlines", "-12.5"])
            .row(["a,b", "@SUM(A1)", "-"])
            .row(["", "+1", "\r"]);
        assert_eq!(
            t.render_csv(),
            "name,note,n\r\n\
             \"O\"\"Brien\",\"two\nlines\",-12.5\r\n\
             \"a,b\",'@SUM(A1),'-\r\n\
             ,'+1,\"'\r\"\r\n"
        );
    }

    #[test]
    fn html_tables_escape_every_cell() {
        let mut t = Table::new(["<th>", "it's"]);
        t.row(["a & b", "\"q\""]);
        assert_eq!(
            t.render_html(),
            "<table>\n<thead><tr><th>&lt;th&gt;</th><th>it&#39;s</th></tr></thead>\n<tbody>\n\
             <tr><td>a &amp; b</td><td>&quot;q&quot;</td></tr>\n</tbody>\n</table>\n"
        );
    }

    #[test]
    fn json_is_indented_with_a_final_newline() {
        let value = serde_json::json!({"a": [1, 2], "b": "x"});
        assert_eq!(
            json(&value),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"x\"\n}\n"
        );
    }
}
