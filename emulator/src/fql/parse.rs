//! Recursive-descent parser for FQL filters.
//!
//! Grammar (whitespace allowed between tokens):
//!
//! ```text
//! filter  = "*" | or
//! or      = and { "," and }
//! and     = unary { "+" unary }
//! unary   = "(" or ")" | test
//! test    = field ":" [op] operand
//! op      = "!~" | "!" | "~" | ">=" | ">" | "<=" | "<" | "*"
//! operand = "[" literal { "," literal } "]" | literal
//! literal = quoted | number | "true" | "false" | "null" | "NULL" | relative
//! ```

use super::{Expr, FqlError, Literal, Op, Operand, Test, Text};

type Result<T> = std::result::Result<T, FqlError>;

/// Parses a whole filter.
pub(super) fn filter(src: &str) -> Result<Expr> {
    if src.trim().is_empty() {
        return Err(FqlError::new(0, "empty filter"));
    }
    if src.trim() == "*" {
        return Ok(Expr::All);
    }
    let mut parser = Parser {
        chars: src.chars().collect(),
        pos: 0,
    };
    let expr = parser.or()?;
    parser.skip_ws();
    match parser.peek() {
        None => Ok(expr),
        Some(c) => Err(parser.error(format!("unexpected `{c}`"))),
    }
}

/// Relative time `now`, `now-7d`, `now+1h`: seconds from now, or `None` if `text`
/// is not one.
pub(super) fn relative(text: &str) -> Option<i64> {
    let rest = text.strip_prefix("now")?;
    if rest.is_empty() {
        return Some(0);
    }
    let (sign, rest) = match rest.as_bytes()[0] {
        b'-' => (-1, &rest[1..]),
        b'+' => (1, &rest[1..]),
        _ => return None,
    };
    let unit = rest.chars().last()?;
    let amount = &rest[..rest.len() - unit.len_utf8()];
    if amount.is_empty() || !amount.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    amount.parse::<i64>().ok()?.checked_mul(seconds * sign)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn error(&self, message: impl Into<String>) -> FqlError {
        FqlError::new(self.pos, message)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Consumes `c` (after optional whitespace) if it is next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    fn or(&mut self) -> Result<Expr> {
        let mut parts = vec![self.and()?];
        while self.eat(',') {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr> {
        let mut parts = vec![self.unary()?];
        while self.eat('+') {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr> {
        if !self.eat('(') {
            return self.test().map(Expr::Test);
        }
        let inner = self.or()?;
        if !self.eat(')') {
            return Err(self.error("expected `)`"));
        }
        Ok(inner)
    }

    fn test(&mut self) -> Result<Test> {
        let field = self.field()?;
        if !self.eat(':') {
            return Err(self.error(format!("expected `:` after field `{field}`")));
        }
        let op_at = self.pos;
        let op = self.op();
        let operand = self.operand()?;
        check_operand(op, &operand).map_err(|message| FqlError::new(op_at, message))?;
        Ok(Test { field, op, operand })
    }

    /// A dotted field name of ASCII letters, digits and underscores.
    fn field(&mut self) -> Result<String> {
        self.skip_ws();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.pos += 1;
        }
        let field: String = self.chars[start..self.pos].iter().collect();
        if field.is_empty() {
            return Err(self.error(match self.peek() {
                Some(c) => format!("expected a field name, found `{c}`"),
                None => "expected a field name".to_owned(),
            }));
        }
        if field.split('.').any(str::is_empty) {
            return Err(FqlError::new(
                start,
                format!("invalid field name `{field}`"),
            ));
        }
        Ok(field)
    }

    fn op(&mut self) -> Op {
        self.skip_ws();
        let next = self.chars.get(self.pos + 1).copied();
        let (op, len) = match (self.peek(), next) {
            (Some('!'), Some('~')) => (Op::NotContains, 2),
            (Some('!'), _) => (Op::Ne, 1),
            (Some('~'), _) => (Op::Contains, 1),
            (Some('>'), Some('=')) => (Op::Ge, 2),
            (Some('>'), _) => (Op::Gt, 1),
            (Some('<'), Some('=')) => (Op::Le, 2),
            (Some('<'), _) => (Op::Lt, 1),
            // `:*'10.*'` is an explicit wildcard match; the quoted value carries the
            // stars, so it means the same as plain `:`.
            (Some('*'), Some('\'' | '"')) => (Op::Eq, 1),
            _ => (Op::Eq, 0),
        };
        self.pos += len;
        op
    }

    fn operand(&mut self) -> Result<Operand> {
        if !self.eat('[') {
            return self.literal().map(Operand::One);
        }
        let mut items = vec![self.literal()?];
        while self.eat(',') {
            items.push(self.literal()?);
        }
        if !self.eat(']') {
            return Err(self.error("expected `,` or `]` in list"));
        }
        Ok(Operand::List(items))
    }

    fn literal(&mut self) -> Result<Literal> {
        self.skip_ws();
        match self.peek() {
            Some(quote @ ('\'' | '"')) => {
                self.pos += 1;
                self.quoted(quote)
            }
            _ => self.bare(),
        }
    }

    /// The rest of a quoted string whose opening `quote` has been consumed.
    fn quoted(&mut self, quote: char) -> Result<Literal> {
        let start = self.pos - 1;
        let (mut segments, mut current) = (Vec::new(), String::new());
        loop {
            let Some(c) = self.peek() else {
                return Err(FqlError::new(start, "unterminated string"));
            };
            self.pos += 1;
            match c {
                _ if c == quote => break,
                '\\' => current.push(self.escaped()?),
                '*' => segments.push(std::mem::take(&mut current)),
                _ => current.push(c),
            }
        }
        segments.push(current);
        Ok(text_literal(segments))
    }

    /// The character an escape sequence stands for; the backslash is consumed.
    fn escaped(&mut self) -> Result<char> {
        match self.peek() {
            Some(c @ ('\'' | '"' | '\\' | '*')) => {
                self.pos += 1;
                Ok(c)
            }
            Some(c) => Err(FqlError::new(
                self.pos - 1,
                format!("unsupported escape `\\{c}`"),
            )),
            None => Err(FqlError::new(self.pos - 1, "unterminated string")),
        }
    }

    /// An unquoted number, boolean, `null` or relative time.
    fn bare(&mut self) -> Result<Literal> {
        let start = self.pos;
        while self.peek().is_some_and(|c| !is_bare_stop(c)) {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        classify_bare(&word).ok_or_else(|| {
            let message = match self.peek() {
                _ if !word.is_empty() => format!("unquoted value `{word}`; quote text values"),
                Some(c) => format!("expected a value, found `{c}`"),
                None => "expected a value".to_owned(),
            };
            FqlError::new(start, message)
        })
    }
}

fn is_bare_stop(c: char) -> bool {
    c.is_whitespace() || matches!(c, '+' | ',' | '(' | ')' | '[' | ']' | '\'' | '"' | ':')
}

fn classify_bare(word: &str) -> Option<Literal> {
    match word {
        "true" => Some(Literal::Bool(true)),
        "false" => Some(Literal::Bool(false)),
        "null" | "NULL" => Some(Literal::Null),
        _ if is_number(word) => word.parse().ok().map(Literal::Number),
        _ => relative(word).map(Literal::Relative),
    }
}

/// `-?digits(.digits)?`, the number forms FQL clients send.
fn is_number(word: &str) -> bool {
    let digits = word.strip_prefix('-').unwrap_or(word);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && all_digits(frac)
}

/// A quoted value; a star-free `'now-7d'` is a relative time, as Falcon reads it.
fn text_literal(segments: Vec<String>) -> Literal {
    if segments.len() == 1 {
        if let Some(offset) = relative(&segments[0]) {
            return Literal::Relative(offset);
        }
        let value = segments.into_iter().next().unwrap_or_default();
        return Literal::Text(Text {
            value,
            segments: None,
        });
    }
    Literal::Text(Text {
        value: segments.join("*"),
        segments: Some(segments),
    })
}

/// Rejects operator and value pairs that have no meaning.
fn check_operand(op: Op, operand: &Operand) -> std::result::Result<(), String> {
    let literals = match operand {
        Operand::One(lit) => std::slice::from_ref(lit),
        Operand::List(items) => items.as_slice(),
    };
    for lit in literals {
        match (op, lit) {
            (Op::Gt | Op::Ge | Op::Lt | Op::Le, Literal::Bool(_) | Literal::Null) => {
                return Err("comparison needs a number, a timestamp or text".to_owned());
            }
            (Op::Contains | Op::NotContains, Literal::Text(_)) => {}
            (Op::Contains | Op::NotContains, _) => {
                return Err("`~` needs quoted text".to_owned());
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Literal {
        Literal::Text(Text {
            value: value.to_owned(),
            segments: None,
        })
    }

    fn test(field: &str, op: Op, lit: Literal) -> Expr {
        Expr::Test(Test {
            field: field.to_owned(),
            op,
            operand: Operand::One(lit),
        })
    }

    fn err(src: &str) -> FqlError {
        filter(src).expect_err(src)
    }

    #[test]
    fn simple_equality() {
        assert_eq!(
            filter("status:'active'"),
            Ok(test("status", Op::Eq, text("active")))
        );
        assert_eq!(
            filter("status:\"active\""),
            Ok(test("status", Op::Eq, text("active")))
        );
    }

    #[test]
    fn operators() {
        let cases = [
            ("a:!'x'", Op::Ne),
            ("a:~'x'", Op::Contains),
            ("a:!~'x'", Op::NotContains),
            ("a:>'x'", Op::Gt),
            ("a:>='x'", Op::Ge),
            ("a:<'x'", Op::Lt),
            ("a:<='x'", Op::Le),
            ("a:*'x'", Op::Eq),
        ];
        for (src, op) in cases {
            assert_eq!(filter(src), Ok(test("a", op, text("x"))), "{src}");
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let expr = filter("a:1,b:2+c:3").expect("valid");
        let Expr::Or(parts) = expr else {
            panic!("top level is not OR")
        };
        assert!(matches!(parts[0], Expr::Test(_)));
        assert!(matches!(&parts[1], Expr::And(inner) if inner.len() == 2));
    }

    #[test]
    fn parentheses_override_precedence() {
        let expr = filter("(a:1,b:2)+c:3").expect("valid");
        let Expr::And(parts) = expr else {
            panic!("top level is not AND")
        };
        assert!(matches!(&parts[0], Expr::Or(inner) if inner.len() == 2));
    }

    #[test]
    fn whitespace_between_tokens_is_allowed() {
        assert_eq!(filter(" a : 'x' "), filter("a:'x'"));
        assert_eq!(filter("( a:1 , b:2 ) + c:3"), filter("(a:1,b:2)+c:3"));
    }

    #[test]
    fn unquoted_scalars() {
        assert_eq!(filter("a:5"), Ok(test("a", Op::Eq, Literal::Number(5.0))));
        assert_eq!(
            filter("a:>=-2.5"),
            Ok(test("a", Op::Ge, Literal::Number(-2.5)))
        );
        assert_eq!(filter("a:true"), Ok(test("a", Op::Eq, Literal::Bool(true))));
        assert_eq!(filter("a:NULL"), Ok(test("a", Op::Eq, Literal::Null)));
        assert_eq!(filter("a:!null"), Ok(test("a", Op::Ne, Literal::Null)));
    }

    #[test]
    fn relative_times_quoted_or_not() {
        assert_eq!(
            filter("t:>'now-7d'"),
            Ok(test("t", Op::Gt, Literal::Relative(-604_800)))
        );
        assert_eq!(
            filter("t:<now-24h"),
            Ok(test("t", Op::Lt, Literal::Relative(-86_400)))
        );
        assert_eq!(
            filter("t:>=now-30m"),
            Ok(test("t", Op::Ge, Literal::Relative(-1_800)))
        );
        assert_eq!(relative("now+2s"), Some(2));
        assert_eq!(relative("now"), Some(0));
        assert_eq!(relative("now-7"), None);
        assert_eq!(relative("now-7y"), None);
        assert_eq!(relative("nowhere"), None);
    }

    #[test]
    fn escapes_inside_quotes() {
        assert_eq!(
            filter(r"n:'O\'Brien'"),
            Ok(test("n", Op::Eq, text("O'Brien")))
        );
        assert_eq!(
            filter(r#"n:"say \"hi\"""#),
            Ok(test("n", Op::Eq, text("say \"hi\"")))
        );
        assert_eq!(
            filter(r"p:'C:\\Windows'"),
            Ok(test("p", Op::Eq, text(r"C:\Windows")))
        );
        assert_eq!(filter(r"p:'a\*b'"), Ok(test("p", Op::Eq, text("a*b"))));
        // The other quote kind needs no escape.
        assert_eq!(
            filter(r#"n:"O'Brien""#),
            Ok(test("n", Op::Eq, text("O'Brien")))
        );
    }

    #[test]
    fn stars_make_wildcards() {
        let expr = filter("h:'PC-*-01'").expect("valid");
        let Expr::Test(Test {
            operand: Operand::One(Literal::Text(t)),
            ..
        }) = expr
        else {
            panic!("not a text test")
        };
        assert_eq!(t.value, "PC-*-01");
        assert_eq!(t.segments, Some(vec!["PC-".to_owned(), "-01".to_owned()]));
    }

    #[test]
    fn non_ascii_values_and_positions() {
        assert_eq!(filter("n:'Nguyễn'"), Ok(test("n", Op::Eq, text("Nguyễn"))));
        // Positions count characters, not bytes.
        assert_eq!(err("n:'Zoë'+").position(), 8);
    }

    #[test]
    fn lists() {
        let expr = filter("id:['a', 'b',3]").expect("valid");
        let Expr::Test(Test {
            op: Op::Eq,
            operand: Operand::List(items),
            ..
        }) = expr
        else {
            panic!("not a list")
        };
        assert_eq!(items, vec![text("a"), text("b"), Literal::Number(3.0)]);
        assert!(filter("id:!['a']").is_ok());
    }

    #[test]
    fn empty_value_and_match_all() {
        assert_eq!(filter("a:''"), Ok(test("a", Op::Eq, text(""))));
        assert_eq!(filter("a:!''"), Ok(test("a", Op::Ne, text(""))));
        assert_eq!(filter(" * "), Ok(Expr::All));
    }

    #[test]
    fn dotted_fields() {
        assert_eq!(
            filter("device.hostname:'x'"),
            Ok(test("device.hostname", Op::Eq, text("x")))
        );
        assert!(
            err("device..hostname:'x'")
                .message()
                .contains("invalid field")
        );
    }

    #[test]
    fn malformed_filters_are_errors() {
        let cases = [
            ("", "empty filter"),
            ("status", "expected `:`"),
            ("status:", "expected a value"),
            ("status:active", "unquoted value `active`"),
            ("status:'active", "unterminated string"),
            ("a:'x'+", "expected a field name"),
            ("a:'x',", "expected a field name"),
            ("(a:'x'", "expected `)`"),
            ("a:'x')", "unexpected `)`"),
            ("a:'x' b:'y'", "unexpected `b`"),
            ("a:['x'", "expected `,` or `]`"),
            ("a:[]", "expected a value, found `]`"),
            (r"a:'\n'", "unsupported escape"),
            ("a:>true", "comparison needs"),
            ("a:~5", "`~` needs quoted text"),
            ("a:'x'b", "unexpected `b`"),
            ("'a':'x'", "expected a field name"),
            ("a::'x'", "expected a value"),
            ("a:1.", "unquoted value"),
            ("a:now-7x", "unquoted value"),
        ];
        for (src, expected) in cases {
            let e = err(src);
            assert!(e.message().contains(expected), "{src:?} gave {e}");
        }
    }

    #[test]
    fn error_display_is_lowercase_with_position() {
        assert_eq!(
            err("status:active").to_string(),
            "unquoted value `active`; quote text values at position 7"
        );
    }
}
