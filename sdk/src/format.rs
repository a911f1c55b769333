//! Formatting for notifications: Slack Block Kit blocks, and one small
//! Markdown dialect rendered as Jira's Atlassian Document Format (ADF),
//! plain text, HTML email and Slack `mrkdwn`.
//!
//! ```
//! use falcon_sdk::format::{self, Blocks};
//!
//! let report = "## 2 hosts contained\n\n- **web-01** (Windows)\n- **web-02** (Linux)\n";
//!
//! // A Slack message with a header, fields and a footer.
//! let blocks = Blocks::new()
//!     .header("Containment")
//!     .fields([("Hosts", "2"), ("Severity", "high")])
//!     .section(&format::markdown_to_mrkdwn(report))
//!     .context("sent by `contain-hosts`")
//!     .to_json();
//! assert!(blocks.contains("\"type\":\"header\""));
//!
//! // A Jira description, and an email with its plain-text part.
//! let adf = format::markdown_to_adf(report);
//! assert!(adf.contains("\"bulletList\""));
//! let mail = format::html_email("Containment", report);
//! assert!(mail.html.contains("<strong>web-01</strong>"));
//! assert!(mail.text.contains("- web-01 (Windows)"));
//! ```
//!
//! # The Markdown dialect
//!
//! Blocks: `#` to `######` headings, paragraphs (a line break inside a
//! paragraph is kept), `-` or `*` bullet lists, `1.` numbered lists,
//! fenced code blocks (```` ``` ````) and `---` rules. Inline: `**bold**`,
//! `*italic*` or `_italic_`, `` `code` `` and `[text](https://link)`.
//! Anything else is text; nothing is interpreted as HTML.

use serde_json::{Value, json};

/// Slack's limits: blocks in a message, characters in a header, fields in a
/// section, characters in a text object.
const MAX_BLOCKS: usize = 50;
const MAX_HEADER: usize = 150;
const MAX_FIELDS: usize = 10;
const MAX_TEXT: usize = 3000;

/// A list of Slack Block Kit blocks, for `notify::Message::blocks`.
///
/// Texts are cut to Slack's limits (header 150 characters, text 3000,
/// 10 fields per section, 50 blocks) so that Slack never refuses the message
/// for its size.
#[derive(Debug, Clone, Default)]
pub struct Blocks {
    blocks: Vec<Value>,
}

impl Blocks {
    /// No blocks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A header: large plain text on one line.
    pub fn header(self, text: &str) -> Self {
        let line = text.replace(['\n', '\r'], " ");
        self.push(json!({
            "type": "header",
            "text": { "type": "plain_text", "text": cut(&line, MAX_HEADER), "emoji": true },
        }))
    }

    /// A section of `mrkdwn` text (see [`markdown_to_mrkdwn`]).
    pub fn section(self, mrkdwn: &str) -> Self {
        if mrkdwn.trim().is_empty() {
            return self;
        }
        self.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": cut(mrkdwn, MAX_TEXT) },
        }))
    }

    /// A section of label and value pairs, shown in two columns; pairs past
    /// the tenth start another section.
    pub fn fields<L: AsRef<str>, V: AsRef<str>>(
        mut self,
        pairs: impl IntoIterator<Item = (L, V)>,
    ) -> Self {
        let fields: Vec<Value> = pairs
            .into_iter()
            .map(|(label, value)| {
                let text = format!(
                    "*{}*\n{}",
                    escape_mrkdwn(label.as_ref()),
                    escape_mrkdwn(value.as_ref())
                );
                json!({ "type": "mrkdwn", "text": cut(&text, 2000) })
            })
            .collect();
        for chunk in fields.chunks(MAX_FIELDS) {
            self = self.push(json!({ "type": "section", "fields": chunk }));
        }
        self
    }

    /// A line of small `mrkdwn` text, for a footer.
    pub fn context(self, mrkdwn: &str) -> Self {
        self.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": cut(mrkdwn, MAX_TEXT) }],
        }))
    }

    /// A horizontal rule.
    pub fn divider(self) -> Self {
        self.push(json!({ "type": "divider" }))
    }

    /// How many blocks there are.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The blocks as a JSON array.
    pub fn to_json(&self) -> String {
        Value::Array(self.blocks.clone()).to_string()
    }

    fn push(mut self, block: Value) -> Self {
        if self.blocks.len() < MAX_BLOCKS {
            self.blocks.push(block);
        }
        self
    }
}

/// Escapes the three characters Slack's `mrkdwn` gives a meaning to in
/// plain text: `&`, `<` and `>`.
pub fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An email body: the plain-text part every mail carries, and its HTML
/// alternative, for `notify::Email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailBody {
    /// The plain-text part.
    pub text: String,
    /// A whole HTML document with the same content.
    pub html: String,
}

/// An email from Markdown: a titled HTML document and its plain-text part.
pub fn html_email(title: &str, markdown: &str) -> EmailBody {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.4\">\n{body}</body></html>\n",
        title = escape_html(title),
        body = markdown_to_html(markdown)
    );
    EmailBody {
        text: markdown_to_text(markdown),
        html,
    }
}

/// Markdown as an HTML fragment; every character of the text is escaped,
/// and only `http`, `https` and `mailto` links become links.
pub fn markdown_to_html(markdown: &str) -> String {
    let mut out = String::new();
    for block in parse(markdown) {
        match block {
            Block::Heading(level, inlines) => {
                out.push_str(&format!(
                    "<h{level}>{}</h{level}>\n",
                    html_inlines(&inlines)
                ));
            }
            Block::Paragraph(lines) => {
                let lines: Vec<String> = lines.iter().map(|l| html_inlines(l)).collect();
                out.push_str(&format!("<p>{}</p>\n", lines.join("<br>\n")));
            }
            Block::List { ordered, items } => {
                let tag = if ordered { "ol" } else { "ul" };
                out.push_str(&format!("<{tag}>\n"));
                for item in items {
                    out.push_str(&format!("<li>{}</li>\n", html_inlines(&item)));
                }
                out.push_str(&format!("</{tag}>\n"));
            }
            Block::Code(code) => {
                out.push_str(&format!("<pre><code>{}</code></pre>\n", escape_html(&code)));
            }
            Block::Rule => out.push_str("<hr>\n"),
        }
    }
    out
}

/// Markdown as plain text: markers removed, lists kept as `- ` and `1. `,
/// links as `text (url)`, code blocks indented by four spaces.
pub fn markdown_to_text(markdown: &str) -> String {
    let blocks: Vec<String> = parse(markdown)
        .into_iter()
        .map(|block| match block {
            Block::Heading(_, inlines) => text_inlines(&inlines),
            Block::Paragraph(lines) => lines
                .iter()
                .map(|l| text_inlines(l))
                .collect::<Vec<_>>()
                .join("\n"),
            Block::List { ordered, items } => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let marker = if ordered {
                        format!("{}. ", i + 1)
                    } else {
                        "- ".to_owned()
                    };
                    format!("{marker}{}", text_inlines(item))
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Block::Code(code) => code
                .lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Block::Rule => "----".to_owned(),
        })
        .collect();
    let mut text = blocks.join("\n\n");
    text.push('\n');
    text
}

/// Markdown as Slack `mrkdwn`: `*bold*`, `_italic_`, `<url|text>` links,
/// headings in bold.
pub fn markdown_to_mrkdwn(markdown: &str) -> String {
    let blocks: Vec<String> = parse(markdown)
        .into_iter()
        .map(|block| match block {
            Block::Heading(_, inlines) => format!("*{}*", text_inlines(&inlines)),
            Block::Paragraph(lines) => lines
                .iter()
                .map(|l| mrkdwn_inlines(l))
                .collect::<Vec<_>>()
                .join("\n"),
            Block::List { ordered, items } => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let marker = if ordered {
                        format!("{}. ", i + 1)
                    } else {
                        "• ".to_owned()
                    };
                    format!("{marker}{}", mrkdwn_inlines(item))
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Block::Code(code) => format!("```\n{}\n```", escape_mrkdwn(&code)),
            Block::Rule => "───".to_owned(),
        })
        .collect();
    blocks.join("\n\n")
}

/// Markdown as an Atlassian Document Format document (JSON), for
/// `notify::Ticket::description-adf`.
pub fn markdown_to_adf(markdown: &str) -> String {
    let content: Vec<Value> = parse(markdown)
        .into_iter()
        .map(|block| match block {
            Block::Heading(level, inlines) => json!({
                "type": "heading",
                "attrs": { "level": level },
                "content": adf_inlines(&inlines),
            }),
            Block::Paragraph(lines) => {
                let mut content = Vec::new();
                for (i, line) in lines.iter().enumerate() {
                    if i > 0 {
                        content.push(json!({ "type": "hardBreak" }));
                    }
                    content.extend(adf_inlines(line));
                }
                json!({ "type": "paragraph", "content": content })
            }
            Block::List { ordered, items } => json!({
                "type": if ordered { "orderedList" } else { "bulletList" },
                "content": items.iter().map(|item| json!({
                    "type": "listItem",
                    "content": [{ "type": "paragraph", "content": adf_inlines(item) }],
                })).collect::<Vec<_>>(),
            }),
            Block::Code(code) => {
                // ADF refuses an empty text node.
                let content = if code.is_empty() {
                    json!([])
                } else {
                    json!([{ "type": "text", "text": code }])
                };
                json!({ "type": "codeBlock", "content": content })
            }
            Block::Rule => json!({ "type": "rule" }),
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": content }).to_string()
}

/// One block of the dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    Heading(u8, Vec<Inline>),
    /// Lines of one paragraph.
    Paragraph(Vec<Vec<Inline>>),
    List {
        ordered: bool,
        items: Vec<Vec<Inline>>,
    },
    Code(String),
    Rule,
}

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inline {
    Text(String),
    Bold(String),
    Italic(String),
    Code(String),
    Link { text: String, url: String },
}

fn parse(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut paragraph: Vec<Vec<Inline>> = Vec::new();
    let mut list: Option<(bool, Vec<Vec<Inline>>)> = None;
    let mut code: Option<Vec<&str>> = None;

    fn flush(
        blocks: &mut Vec<Block>,
        paragraph: &mut Vec<Vec<Inline>>,
        list: &mut Option<(bool, Vec<Vec<Inline>>)>,
    ) {
        if !paragraph.is_empty() {
            blocks.push(Block::Paragraph(std::mem::take(paragraph)));
        }
        if let Some((ordered, items)) = list.take() {
            blocks.push(Block::List { ordered, items });
        }
    }

    for line in markdown.lines() {
        if let Some(lines) = &mut code {
            if line.trim_start().starts_with("```") {
                blocks.push(Block::Code(lines.join("\n")));
                code = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            flush(&mut blocks, &mut paragraph, &mut list);
            code = Some(Vec::new());
        } else if trimmed.is_empty() {
            flush(&mut blocks, &mut paragraph, &mut list);
        } else if let Some((level, text)) = heading(trimmed) {
            flush(&mut blocks, &mut paragraph, &mut list);
            blocks.push(Block::Heading(level, inlines(text)));
        } else if trimmed.len() >= 3 && trimmed.chars().all(|c| c == '-') {
            flush(&mut blocks, &mut paragraph, &mut list);
            blocks.push(Block::Rule);
        } else if let Some((ordered, text)) = list_item(trimmed) {
            if !paragraph.is_empty() || list.as_ref().is_some_and(|(o, _)| *o != ordered) {
                flush(&mut blocks, &mut paragraph, &mut list);
            }
            list.get_or_insert_with(|| (ordered, Vec::new()))
                .1
                .push(inlines(text));
        } else {
            if list.is_some() {
                flush(&mut blocks, &mut paragraph, &mut list);
            }
            paragraph.push(inlines(trimmed));
        }
    }
    // An unclosed fence runs to the end, as in CommonMark.
    if let Some(lines) = code {
        blocks.push(Block::Code(lines.join("\n")));
    }
    flush(&mut blocks, &mut paragraph, &mut list);
    blocks
}

fn heading(line: &str) -> Option<(u8, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    let rest = &line[level..];
    ((1..=6).contains(&level) && rest.starts_with(' ')).then(|| (level as u8, rest.trim()))
}

fn list_item(line: &str) -> Option<(bool, &str)> {
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return Some((false, rest.trim()));
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = line[digits..].strip_prefix(". ")?;
    (digits > 0).then(|| (true, rest.trim()))
}

fn inlines(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    let mut previous = ' ';
    while let Some(c) = rest.chars().next() {
        let styled = match c {
            '*' if rest.starts_with("**") => {
                emphasis(rest, "**").map(|(t, n)| (Inline::Bold(t), n))
            }
            '*' => emphasis(rest, "*").map(|(t, n)| (Inline::Italic(t), n)),
            // `host_name_1` is a name, not emphasis.
            '_' if !previous.is_alphanumeric() => {
                emphasis(rest, "_").map(|(t, n)| (Inline::Italic(t), n))
            }
            '`' => delimited(rest, "`").map(|(t, n)| (Inline::Code(t), n)),
            '[' => link(rest),
            _ => None,
        };
        previous = c;
        match styled {
            Some((inline, used)) => {
                if !plain.is_empty() {
                    out.push(Inline::Text(std::mem::take(&mut plain)));
                }
                out.push(inline);
                rest = &rest[used..];
            }
            None => {
                plain.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !plain.is_empty() {
        out.push(Inline::Text(plain));
    }
    out
}

/// `<mark>text<mark>` at the start of `text`: the text and the bytes used.
fn delimited(text: &str, mark: &str) -> Option<(String, usize)> {
    let inner = &text[mark.len()..];
    let end = inner.find(mark)?;
    (end > 0).then(|| (inner[..end].to_owned(), mark.len() * 2 + end))
}

/// Emphasis: delimited text that neither starts nor ends with a space
/// (`a * b * c` is text); an underscore one also needs no letter after it
/// (`_x_y` is text).
fn emphasis(text: &str, mark: &str) -> Option<(String, usize)> {
    let (inner, used) = delimited(text, mark)?;
    let spaced = inner.starts_with(char::is_whitespace) || inner.ends_with(char::is_whitespace);
    let glued = mark == "_" && text[used..].starts_with(|c: char| c.is_alphanumeric());
    (!spaced && !glued).then_some((inner, used))
}

/// `[text](url)` at the start of `text`.
fn link(text: &str) -> Option<(Inline, usize)> {
    let close = text.find("](")?;
    let label = &text[1..close];
    let after = &text[close + 2..];
    let end = after.find(')')?;
    let url = &after[..end];
    if label.is_empty() || url.is_empty() || url.contains(char::is_whitespace) {
        return None;
    }
    let inline = Inline::Link {
        text: label.to_owned(),
        url: url.to_owned(),
    };
    Some((inline, close + 2 + end + 1))
}

fn safe_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["https://", "http://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html_inlines(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|inline| match inline {
            Inline::Text(t) => escape_html(t),
            Inline::Bold(t) => format!("<strong>{}</strong>", escape_html(t)),
            Inline::Italic(t) => format!("<em>{}</em>", escape_html(t)),
            Inline::Code(t) => format!("<code>{}</code>", escape_html(t)),
            Inline::Link { text, url } if safe_url(url) => {
                format!("<a href=\"{}\">{}</a>", escape_html(url), escape_html(text))
            }
            Inline::Link { text, url } => {
                format!("{} ({})", escape_html(text), escape_html(url))
            }
        })
        .collect()
}

fn text_inlines(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|inline| match inline {
            Inline::Text(t) | Inline::Bold(t) | Inline::Italic(t) | Inline::Code(t) => t.clone(),
            Inline::Link { text, url } => format!("{text} ({url})"),
        })
        .collect()
}

fn mrkdwn_inlines(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|inline| match inline {
            Inline::Text(t) => escape_mrkdwn(t),
            Inline::Bold(t) => format!("*{}*", escape_mrkdwn(t)),
            Inline::Italic(t) => format!("_{}_", escape_mrkdwn(t)),
            Inline::Code(t) => format!("`{}`", escape_mrkdwn(t)),
            Inline::Link { text, url } if safe_url(url) => {
                format!("<{}|{}>", url.replace('|', "%7C"), escape_mrkdwn(text))
            }
            Inline::Link { text, url } => {
                format!("{} ({})", escape_mrkdwn(text), escape_mrkdwn(url))
            }
        })
        .collect()
}

fn adf_inlines(inlines: &[Inline]) -> Vec<Value> {
    inlines
        .iter()
        .filter_map(|inline| {
            let (text, mark) = match inline {
                Inline::Text(t) => (t, None),
                Inline::Bold(t) => (t, Some(json!({ "type": "strong" }))),
                Inline::Italic(t) => (t, Some(json!({ "type": "em" }))),
                Inline::Code(t) => (t, Some(json!({ "type": "code" }))),
                Inline::Link { text, url } if safe_url(url) => (
                    text,
                    Some(json!({ "type": "link", "attrs": { "href": url } })),
                ),
                Inline::Link { text, .. } => (text, None),
            };
            // ADF refuses an empty text node.
            if text.is_empty() {
                return None;
            }
            Some(match mark {
                Some(mark) => json!({ "type": "text", "text": text, "marks": [mark] }),
                None => json!({ "type": "text", "text": text }),
            })
        })
        .collect()
}

/// The first `max` characters of `text`, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "# Offboarding\n\nUser **Ana <ana@example.com>** left.\nSee \
                          [the runbook](https://wiki.example.com/run?a=1&b=2).\n\n\
                          - web-01\n- `web-02`\n\n1. contain\n2. _ticket_\n\n\
                          ```\nrm -rf <x>\n```\n---\n";

    #[test]
    fn blocks_build_slack_json_within_its_limits() {
        let json = Blocks::new()
            .header(&"h".repeat(200))
            .section("text with *bold*")
            .section("   ")
            .fields((0..12).map(|i| (format!("host {i}"), "<contained>")))
            .context("by `p`")
            .divider()
            .to_json();
        let blocks: Value = serde_json::from_str(&json).unwrap();
        let blocks = blocks.as_array().unwrap();
        assert_eq!(
            blocks.len(),
            6,
            "the blank section is skipped, 12 fields take two"
        );
        assert_eq!(
            blocks[0]["text"]["text"].as_str().unwrap().chars().count(),
            150
        );
        assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), 10);
        assert_eq!(blocks[3]["fields"].as_array().unwrap().len(), 2);
        assert_eq!(
            blocks[2]["fields"][0]["text"],
            "*host 0*\n&lt;contained&gt;"
        );
        assert_eq!(blocks[5]["type"], "divider");
        let many = (0..60).fold(Blocks::new(), |b, _| b.divider());
        assert_eq!(many.len(), 50);
    }

    #[test]
    fn markdown_becomes_an_adf_document() {
        let adf: Value = serde_json::from_str(&markdown_to_adf(REPORT)).unwrap();
        assert_eq!(
            (adf["type"].as_str(), adf["version"].as_i64()),
            (Some("doc"), Some(1))
        );
        let content = adf["content"].as_array().unwrap();
        let types: Vec<&str> = content
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "heading",
                "paragraph",
                "bulletList",
                "orderedList",
                "codeBlock",
                "rule"
            ]
        );
        assert_eq!(content[0]["attrs"]["level"], 1);
        let paragraph = content[1]["content"].as_array().unwrap();
        assert_eq!(paragraph[1]["text"], "Ana <ana@example.com>");
        assert_eq!(paragraph[1]["marks"][0]["type"], "strong");
        assert!(paragraph.iter().any(|n| n["type"] == "hardBreak"));
        let link = paragraph
            .iter()
            .find(|n| n["text"] == "the runbook")
            .unwrap();
        assert_eq!(
            link["marks"][0]["attrs"]["href"],
            "https://wiki.example.com/run?a=1&b=2"
        );
        assert_eq!(
            content[2]["content"][1]["content"][0]["content"][0]["marks"][0]["type"],
            "code"
        );
        assert_eq!(content[4]["content"][0]["text"], "rm -rf <x>");
    }

    #[test]
    fn markdown_becomes_plain_text_without_markers() {
        let text = markdown_to_text(REPORT);
        assert_eq!(
            text,
            "Offboarding\n\nUser Ana <ana@example.com> left.\nSee the runbook \
             (https://wiki.example.com/run?a=1&b=2).\n\n- web-01\n- web-02\n\n1. contain\n\
             2. ticket\n\n    rm -rf <x>\n\n----\n"
        );
    }

    #[test]
    fn html_email_escapes_everything_and_keeps_a_text_part() {
        let mail = html_email("Report <1>", REPORT);
        assert!(mail.html.contains("<title>Report &lt;1&gt;</title>"));
        assert!(mail.html.contains("<h1>Offboarding</h1>"));
        assert!(
            mail.html
                .contains("<strong>Ana &lt;ana@example.com&gt;</strong>")
        );
        assert!(
            mail.html
                .contains("<a href=\"https://wiki.example.com/run?a=1&amp;b=2\">the runbook</a>")
        );
        assert!(
            mail.html
                .contains("<ul>\n<li>web-01</li>\n<li><code>web-02</code></li>\n</ul>")
        );
        assert!(
            mail.html
                .contains("<ol>\n<li>contain</li>\n<li><em>ticket</em></li>\n</ol>")
        );
        assert!(
            mail.html
                .contains("<pre><code>rm -rf &lt;x&gt;</code></pre>")
        );
        assert!(!mail.html.contains("<x>"));
        assert_eq!(mail.text, markdown_to_text(REPORT));
        let hostile = markdown_to_html("[click](javascript:alert(1)) <script>");
        assert!(
            !hostile.contains("<a ") && !hostile.contains("<script>"),
            "{hostile}"
        );
    }

    #[test]
    fn markdown_becomes_slack_mrkdwn() {
        let mrkdwn = markdown_to_mrkdwn(REPORT);
        assert!(mrkdwn.starts_with("*Offboarding*\n\nUser *Ana &lt;ana@example.com&gt;* left."));
        assert!(mrkdwn.contains("<https://wiki.example.com/run?a=1&b=2|the runbook>"));
        assert!(mrkdwn.contains("• web-01\n• `web-02`"));
        assert!(mrkdwn.contains("2. _ticket_"));
    }

    #[test]
    fn unmatched_markers_stay_text() {
        assert_eq!(
            markdown_to_text("a * b ** c _ [d](e"),
            "a * b ** c _ [d](e\n"
        );
        assert_eq!(markdown_to_text("#no heading"), "#no heading\n");
        assert_eq!(markdown_to_text("3 - 2"), "3 - 2\n");
        assert_eq!(
            markdown_to_text("host_name_1 and _it_"),
            "host_name_1 and it\n"
        );
        assert_eq!(markdown_to_mrkdwn("host_name_1"), "host_name_1");
    }
}
