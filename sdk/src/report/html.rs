//! HTML reports: a self-contained page with tables and inline SVG bar
//! charts. The page holds no script and loads nothing, so it opens the same
//! from an email attachment, a ticket or a file share.
//!
//! ```
//! use falcon_sdk::report::Table;
//! use falcon_sdk::report::html::{BarChart, Document};
//!
//! let mut chart = BarChart::new("Alerts by severity");
//! chart.bar("Critical", 4.0).bar("High", 11.0);
//! let mut table = Table::new(["Severity", "Alerts"]);
//! table.row(["Critical", "4"]).row(["High", "11"]);
//!
//! let mut page = Document::new("Weekly report");
//! page.paragraph("Week 48.").chart(&chart).table(&table);
//! let html = page.render();
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains("<svg"));
//! ```

use std::fmt::Write as _;

use super::Table;

/// Escapes text for HTML and SVG, in element content and in quoted
/// attribute values alike: `&`, `<`, `>`, `"` and `'`.
///
/// ```
/// use falcon_sdk::report::html::escape;
/// assert_eq!(escape("<a href=\"x\">Tom & Jerry's</a>"),
///            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Width of the whole chart, in pixels.
const CHART_WIDTH: u32 = 640;
/// Where labels end (right-aligned) and bars start.
const LABEL_WIDTH: u32 = 200;
/// The longest bar; the rest of the width holds the value.
const BAR_SPACE: u32 = 360;
const ROW_HEIGHT: u32 = 24;
const BAR_HEIGHT: u32 = 16;
const TITLE_HEIGHT: u32 = 28;
/// Labels longer than this are shortened with `…` (the full text stays in
/// the bar's tooltip).
const LABEL_CHARS: usize = 30;

/// A horizontal bar chart, rendered as inline SVG.
///
/// Bars are scaled to the largest value; negative and non-finite values
/// draw as empty bars. Labels and the title are escaped.
///
/// ```
/// use falcon_sdk::report::html::BarChart;
///
/// let mut chart = BarChart::new("Hosts by platform");
/// chart.bar("Windows", 80.0).bar("Linux", 40.0);
/// let svg = chart.render();
/// assert!(svg.starts_with("<svg "));
/// assert!(svg.contains(">Windows</text>"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BarChart {
    title: String,
    bars: Vec<(String, f64)>,
}

impl BarChart {
    /// An empty chart with this title (an empty title draws none).
    ///
    /// ```
    /// let chart = falcon_sdk::report::html::BarChart::new("Findings");
    /// assert!(chart.is_empty());
    /// ```
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            bars: Vec::new(),
        }
    }

    /// Adds a bar.
    ///
    /// ```
    /// let mut chart = falcon_sdk::report::html::BarChart::new("Findings");
    /// chart.bar("Inactive", 3.0).bar("Never logged in", 1.0);
    /// assert_eq!(chart.len(), 2);
    /// ```
    pub fn bar(&mut self, label: impl Into<String>, value: f64) -> &mut Self {
        self.bars.push((label.into(), value));
        self
    }

    /// Number of bars.
    ///
    /// ```
    /// assert_eq!(falcon_sdk::report::html::BarChart::new("x").len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// Whether the chart has no bars.
    ///
    /// ```
    /// assert!(falcon_sdk::report::html::BarChart::new("x").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// The chart as an `<svg>` element, one line per drawn element.
    ///
    /// ```
    /// let mut chart = falcon_sdk::report::html::BarChart::new("");
    /// chart.bar("a", 1.0);
    /// let svg = chart.render();
    /// assert!(svg.contains("<rect x=\"208\" y=\"4\" width=\"360\" height=\"16\""));
    /// ```
    pub fn render(&self) -> String {
        let top = if self.title.is_empty() {
            0
        } else {
            TITLE_HEIGHT
        };
        let height = top + ROW_HEIGHT * self.bars.len() as u32 + 8;
        let max = self
            .bars
            .iter()
            .map(|(_, v)| *v)
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" \
             height=\"{height}\" viewBox=\"0 0 {CHART_WIDTH} {height}\" role=\"img\" \
             font-family=\"sans-serif\" font-size=\"12\">\n"
        );
        if !self.title.is_empty() {
            let title = escape(&self.title);
            let _ = writeln!(out, "<title>{title}</title>");
            let _ = writeln!(
                out,
                "<text x=\"0\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{title}</text>"
            );
        }
        for (i, (label, value)) in self.bars.iter().enumerate() {
            let y = top + ROW_HEIGHT * i as u32 + 4;
            let baseline = y + 12;
            let width = if max > 0.0 && value.is_finite() && *value > 0.0 {
                (value / max * f64::from(BAR_SPACE)).round() as u32
            } else {
                0
            };
            let bar_x = LABEL_WIDTH + 8;
            let _ = writeln!(
                out,
                "<text x=\"{LABEL_WIDTH}\" y=\"{baseline}\" text-anchor=\"end\">{}</text>",
                escape(&shorten(label))
            );
            let _ = writeln!(
                out,
                "<rect x=\"{bar_x}\" y=\"{y}\" width=\"{width}\" height=\"{BAR_HEIGHT}\" \
                 fill=\"#3b6fb6\"><title>{}: {}</title></rect>",
                escape(label),
                number(*value)
            );
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{baseline}\">{}</text>",
                bar_x + width + 6,
                number(*value)
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

/// Whole numbers without a fraction, others with one decimal.
fn number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.1}")
    }
}

fn shorten(label: &str) -> String {
    match label.char_indices().nth(LABEL_CHARS) {
        Some((cut, _)) => format!("{}…", &label[..cut]),
        None => label.to_owned(),
    }
}

/// The page's style: readable tables, nothing fetched.
const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f0f0f0}";

/// A self-contained HTML page: a title, then blocks in the order added.
///
/// ```
/// use falcon_sdk::report::html::Document;
///
/// let mut page = Document::new("Access audit");
/// page.heading(2, "Summary").paragraph("3 users & 2 roles.");
/// let html = page.render();
/// assert!(html.contains("<title>Access audit</title>"));
/// assert!(html.contains("<h2>Summary</h2>\n<p>3 users &amp; 2 roles.</p>\n"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    title: String,
    body: String,
}

impl Document {
    /// An empty page; `title` is both the window title and the `<h1>`.
    ///
    /// ```
    /// let page = falcon_sdk::report::html::Document::new("Report");
    /// assert!(page.render().contains("<h1>Report</h1>"));
    /// ```
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            body: String::new(),
        }
    }

    /// Adds a heading; `level` is clamped to 2..=6 (the title is the `<h1>`).
    ///
    /// ```
    /// let mut page = falcon_sdk::report::html::Document::new("Report");
    /// page.heading(9, "Details");
    /// assert!(page.render().contains("<h6>Details</h6>"));
    /// ```
    pub fn heading(&mut self, level: u8, text: &str) -> &mut Self {
        let level = level.clamp(2, 6);
        let _ = writeln!(self.body, "<h{level}>{}</h{level}>", escape(text));
        self
    }

    /// Adds a paragraph of text.
    ///
    /// ```
    /// let mut page = falcon_sdk::report::html::Document::new("Report");
    /// page.paragraph("<none>");
    /// assert!(page.render().contains("<p>&lt;none&gt;</p>"));
    /// ```
    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
        self
    }

    /// Adds a bulleted list.
    ///
    /// ```
    /// let mut page = falcon_sdk::report::html::Document::new("Report");
    /// page.list(["one", "two"]);
    /// assert!(page.render().contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"));
    /// ```
    pub fn list<S: AsRef<str>>(&mut self, items: impl IntoIterator<Item = S>) -> &mut Self {
        self.body.push_str("<ul>\n");
        for item in items {
            let _ = writeln!(self.body, "<li>{}</li>", escape(item.as_ref()));
        }
        self.body.push_str("</ul>\n");
        self
    }

    /// Adds a table, rendered with [`Table::render_html`].
    ///
    /// ```
    /// use falcon_sdk::report::{Table, html::Document};
    /// let mut table = Table::new(["Host"]);
    /// table.row(["web-01"]);
    /// let mut page = Document::new("Report");
    /// page.table(&table);
    /// assert!(page.render().contains("<td>web-01</td>"));
    /// ```
    pub fn table(&mut self, table: &Table) -> &mut Self {
        self.body.push_str(&table.render_html());
        self
    }

    /// Adds a bar chart, rendered inline with [`BarChart::render`].
    ///
    /// ```
    /// use falcon_sdk::report::html::{BarChart, Document};
    /// let mut chart = BarChart::new("Findings");
    /// chart.bar("Inactive", 2.0);
    /// let mut page = Document::new("Report");
    /// page.chart(&chart);
    /// assert!(page.render().contains("<figure>\n<svg "));
    /// ```
    pub fn chart(&mut self, chart: &BarChart) -> &mut Self {
        self.body.push_str("<figure>\n");
        self.body.push_str(&chart.render());
        self.body.push_str("</figure>\n");
        self
    }

    /// The whole page.
    ///
    /// ```
    /// let html = falcon_sdk::report::html::Document::new("R").render();
    /// assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    /// assert!(html.ends_with("</body>\n</html>\n"));
    /// ```
    pub fn render(&self) -> String {
        let title = escape(&self.title);
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <h1>{title}</h1>\n{}</body>\n</html>\n",
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_chart_scales_to_the_largest_value_and_escapes_labels() {
        let mut chart = BarChart::new("Alerts <week>");
        chart
            .bar("High & up", 10.0)
            .bar("Low", 2.5)
            .bar("Broken", f64::NAN)
            .bar("Negative", -3.0);
        assert_eq!(
            chart.render(),
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"132\" \
             viewBox=\"0 0 640 132\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <title>Alerts &lt;week&gt;</title>\n\
             <text x=\"0\" y=\"18\" font-size=\"14\" font-weight=\"bold\">Alerts &lt;week&gt;</text>\n\
             <text x=\"200\" y=\"44\" text-anchor=\"end\">High &amp; up</text>\n\
             <rect x=\"208\" y=\"32\" width=\"360\" height=\"16\" fill=\"#3b6fb6\"><title>High &amp; up: 10</title></rect>\n\
             <text x=\"574\" y=\"44\">10</text>\n\
             <text x=\"200\" y=\"68\" text-anchor=\"end\">Low</text>\n\
             <rect x=\"208\" y=\"56\" width=\"90\" height=\"16\" fill=\"#3b6fb6\"><title>Low: 2.5</title></rect>\n\
             <text x=\"304\" y=\"68\">2.5</text>\n\
             <text x=\"200\" y=\"92\" text-anchor=\"end\">Broken</text>\n\
             <rect x=\"208\" y=\"80\" width=\"0\" height=\"16\" fill=\"#3b6fb6\"><title>Broken: NaN</title></rect>\n\
             <text x=\"214\" y=\"92\">NaN</text>\n\
             <text x=\"200\" y=\"116\" text-anchor=\"end\">Negative</text>\n\
             <rect x=\"208\" y=\"104\" width=\"0\" height=\"16\" fill=\"#3b6fb6\"><title>Negative: -3</title></rect>\n\
             <text x=\"214\" y=\"116\">-3</text>\n\
             </svg>\n"
        );
    }

    #[test]
    fn an_all_zero_chart_draws_empty_bars_and_long_labels_are_shortened() {
        let mut chart = BarChart::new("");
        chart.bar("x".repeat(40), 0.0);
        assert_eq!(
            chart.render(),
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"32\" \
             viewBox=\"0 0 640 32\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <text x=\"200\" y=\"16\" text-anchor=\"end\">xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…</text>\n\
             <rect x=\"208\" y=\"4\" width=\"0\" height=\"16\" fill=\"#3b6fb6\">\
             <title>xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx: 0</title></rect>\n\
             <text x=\"214\" y=\"16\">0</text>\n\
             </svg>\n"
        );
    }

    #[test]
    fn a_document_escapes_its_title_and_blocks() {
        let mut table = Table::new(["a"]);
        table.row(["<1>"]);
        let mut page = Document::new("R&D");
        page.heading(1, "Sum'mary")
            .paragraph("x < y")
            .list(["\"q\""])
            .table(&table);
        assert_eq!(
            page.render(),
            format!(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
                 <title>R&amp;D</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
                 <h1>R&amp;D</h1>\n<h2>Sum&#39;mary</h2>\n<p>x &lt; y</p>\n\
                 <ul>\n<li>&quot;q&quot;</li>\n</ul>\n\
                 <table>\n<thead><tr><th>a</th></tr></thead>\n<tbody>\n\
                 <tr><td>&lt;1&gt;</td></tr>\n</tbody>\n</table>\n\
                 </body>\n</html>\n"
            )
        );
    }
}
