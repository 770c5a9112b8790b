//! CEL conditions (`when`, `locked_if`, `review_if`, `from`), compiled once when
//! the policy loads. Expressions see two variables: `record`, the loaded row,
//! and `new`, that row with the call's values laid over it (the proposed
//! record; `new` is `record` where no call is judged).
//!
//! Two things happen at compile time so that a call pays little:
//! - the expression's size is bounded (`bounds`): the CEL parser and
//!   interpreter recurse once per nesting level, so an unbounded expression
//!   overflows the stack, which no `catch_unwind` can catch;
//! - the expressions policies actually write (fields, literals, comparisons,
//!   `in` a list, `!`, `&&`, `||`, `?:`, `has()`) are compiled to a tree that
//!   reads the record in place (`fast`). Anything else, and any evaluation the
//!   fast tree cannot finish exactly as CEL would (an error, a missing column,
//!   a list), goes to the CEL interpreter, given only the columns the
//!   expression names.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use cel_parser::ast::{EntryExpr, Expr, IdedExpr, SelectExpr};

use crate::value::{Record, Value};

/// Longest condition text, in bytes. Real conditions are a line or two; the
/// bound keeps the scans and the parser's work small.
pub const CEL_SOURCE_BYTES_MAX: usize = 4_096;
/// Deepest nesting of brackets (`()`, `[]`, `{}`) and `?:` in the text,
/// checked before parsing. The CEL parser descends through its whole
/// grammar for each level, about 140 KiB of stack in a debug build: 14
/// levels overflow a 2 MiB thread. Within all these limits the worst case
/// needs under 1.5 MiB in a debug build and under 128 KiB in a release one
/// (`tests/cel_limits.rs`); real conditions nest two or three levels.
pub const CEL_NESTING_MAX: usize = 8;
/// Most tokens (names, values, operators, brackets) in the text, checked
/// before parsing. Operator chains (`a + b + c …`, `a.b.c …`) parse into
/// trees one level per operator, which the parser then walks recursively; the
/// token count bounds the length of any chain.
pub const CEL_TOKENS_MAX: usize = 256;
/// Deepest parsed expression tree, in levels. The interpreter evaluates one
/// level per stack frame (about 33 KiB each in a debug build).
pub const CEL_DEPTH_MAX: usize = 24;

/// CEL's standard functions, registered once: building them is most of the
/// cost of a fresh context, and every evaluation only adds `record` on top.
static STANDARD: LazyLock<cel_interpreter::Context<'static>> = LazyLock::new(cel_interpreter::Context::default);

/// The record conditions read during one call. Conversion to CEL's value
/// type happens only when a condition needs the interpreter, and then only
/// for the columns it names; a condition that reads `record` as a whole gets
/// the whole record, converted once per call however many conditions use it.
pub struct Prepared<'a> {
    record: &'a Record,
    /// The proposed record (`new`); `record` itself when none is given.
    proposed: &'a Record,
    whole: OnceCell<Result<cel_interpreter::Value, String>>,
    whole_new: OnceCell<Result<cel_interpreter::Value, String>>,
}

impl<'a> Prepared<'a> {
    pub fn new(record: &'a Record) -> Prepared<'a> {
        Prepared::proposed(record, record)
    }

    /// The record and the record as the call would leave it.
    pub fn proposed(record: &'a Record, proposed: &'a Record) -> Prepared<'a> {
        Prepared { record, proposed, whole: OnceCell::new(), whole_new: OnceCell::new() }
    }

    fn whole(&self, var: Var) -> Result<cel_interpreter::Value, String> {
        let (cell, rec) = match var {
            Var::Record => (&self.whole, self.record),
            Var::New => (&self.whole_new, self.proposed),
        };
        cell.get_or_init(|| cel_interpreter::to_value(rec).map_err(|e| e.to_string())).clone()
    }

    fn of(&self, var: Var) -> &'a Record {
        match var {
            Var::Record => self.record,
            Var::New => self.proposed,
        }
    }
}

/// The two records an expression may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Var {
    Record,
    New,
}

impl Var {
    const ALL: [Var; 2] = [Var::Record, Var::New];

    fn name(self) -> &'static str {
        match self {
            Var::Record => "record",
            Var::New => "new",
        }
    }
}

/// Why a condition does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionError {
    /// Over one of the size limits above; the text says how, e.g. "is nested
    /// 2000 levels deep; at most 8 are allowed".
    TooLarge(String),
    /// Not a valid condition: syntax, or a name other than `record`.
    Invalid(String),
}

impl std::fmt::Display for ConditionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConditionError::TooLarge(what) => write!(f, "the expression {what}"),
            ConditionError::Invalid(why) => f.write_str(why),
        }
    }
}

#[derive(Clone)]
pub struct Condition {
    source: String,
    compiled: Arc<Compiled>,
}

struct Compiled {
    expr: IdedExpr,
    /// The columns the expression reads as `record.<column>` or
    /// `new.<column>`, sorted; `None` when it uses `record` or `new` some
    /// other way and so needs all of it.
    columns: Option<Vec<String>>,
    /// Whether it reads `new`: only then is the proposed record built.
    uses_new: bool,
    fast: Option<fast::Fast>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Condition({:?})", self.source)
    }
}

impl Condition {
    pub fn compile(source: &str) -> Result<Condition, String> {
        Condition::parse(source).map_err(|e| e.to_string())
    }

    /// Like `compile`, telling a condition over the size limits apart from
    /// an invalid one (the policy loader words them differently).
    pub fn parse(source: &str) -> Result<Condition, ConditionError> {
        bounds::check_text(source)?;
        let expr = parse_cel(source).map_err(ConditionError::Invalid)?;
        bounds::check_tree(&expr).map_err(ConditionError::TooLarge)?;
        let references = expr.references();
        let variables = references.variables();
        let unknown: Vec<String> =
            variables.iter().filter(|v| **v != "record" && **v != "new").map(|v| v.to_string()).collect();
        if !unknown.is_empty() {
            return Err(ConditionError::Invalid(format!(
                "unknown name {}; conditions may only use `record.<column>` and `new.<column>`",
                unknown.join(", ")
            )));
        }
        let uses_new = variables.contains(&"new");
        let (columns, fast) = (record_columns(&expr), fast::compile(&expr));
        Ok(Condition { source: source.to_string(), compiled: Arc::new(Compiled { expr, columns, uses_new, fast }) })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The columns it reads as `record.<column>` or `new.<column>`, sorted;
    /// `None` when it reads a record as a whole.
    pub fn columns(&self) -> Option<&[String]> {
        self.compiled.columns.as_deref()
    }

    /// Whether it reads the proposed record, `new`.
    pub fn uses_new(&self) -> bool {
        self.compiled.uses_new
    }

    /// Evaluates to a JSON value. An error usually means the record lacks a
    /// column the expression reads; callers treat that as missing context.
    pub fn eval(&self, record: &Record) -> Result<Value, String> {
        self.eval_on(&Prepared::new(record))
    }

    /// Like `eval`, on a record prepared once per call, however many
    /// conditions read it.
    pub fn eval_on(&self, record: &Prepared) -> Result<Value, String> {
        let compiled = &self.compiled;
        if let Some(value) = compiled.fast.as_ref().and_then(|f| f.eval(record)) {
            return Ok(value.json());
        }
        let mut context = STANDARD.new_inner_scope();
        for var in Var::ALL {
            let value = match &compiled.columns {
                Some(columns) => columns_value(record.of(var), columns)?,
                None => record.whole(var)?,
            };
            context.add_variable_from_value(var.name(), value);
        }
        let expr = &compiled.expr;
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cel_interpreter::Value::resolve(expr, &context)))
                .map_err(|_| "evaluation failed".to_string())?
                .map_err(|e| without_values(&e))?;
        result.json().map_err(|_| "the result is not a plain value".to_string())
    }

    pub fn eval_bool(&self, record: &Record) -> Result<bool, String> {
        self.eval_bool_on(&Prepared::new(record))
    }

    pub fn eval_bool_on(&self, record: &Prepared) -> Result<bool, String> {
        match self.eval_on(record)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!("`{}` gave {}, not true or false", self.source, json_type(&other))),
        }
    }
}

/// An evaluation error in words that quote no value: the record it ran on
/// may hold columns the caller may not see (`sight.rs`), and these texts
/// reach callers as notes.
pub fn without_values(e: &cel_interpreter::ExecutionError) -> String {
    use cel_interpreter::ExecutionError as E;
    let ty = |v: &cel_interpreter::Value| v.type_of().to_string();
    match e {
        E::NoSuchKey(key) => format!("the record has no `{key}`"),
        E::UndeclaredReference(name) => format!("unknown name `{name}`"),
        E::ValuesNotComparable(a, b) => format!("a {} cannot be compared with a {}", ty(a), ty(b)),
        E::UnsupportedBinaryOperator(op, a, b) | E::Overflow(op, a, b) => {
            format!("`{op}` cannot be used on a {} and a {}", ty(a), ty(b))
        }
        E::UnsupportedUnaryOperator(op, a) => format!("`{op}` cannot be used on a {}", ty(a)),
        E::UnexpectedType { got, want } => format!("a {got} where a {want} is needed"),
        E::DivisionByZero(_) | E::RemainderByZero(_) => "division by zero".to_string(),
        E::InvalidArgumentCount { expected, actual } => format!("{actual} arguments where {expected} are needed"),
        E::FunctionError { function, .. } => format!("`{function}` failed on this record"),
        E::NotSupportedAsMethod { method, target } => format!("`{method}` cannot be used on a {}", ty(target)),
        _ => "a value has a type the expression cannot use".to_string(),
    }
}

/// A JSON value's kind, for messages that must not quote the value.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn parse_cel(source: &str) -> Result<IdedExpr, String> {
    // The CEL parser can panic on some malformed input instead of
    // returning an error; a broken policy must still get a clear message.
    let parsed = std::panic::catch_unwind(|| cel_parser::Parser::new().parse(source))
        .map_err(|_| "the expression is incomplete or malformed".to_string())?;
    parsed.map_err(|e| {
        let text = e.to_string();
        text.lines().next().unwrap_or("syntax error").trim().to_string()
    })
}

/// The record as CEL sees it, cut down to `columns`. An expression that
/// reads only `record.<column>` cannot tell the difference: a column it
/// names is there exactly when it is in the record, with the same value.
fn columns_value(record: &Record, columns: &[String]) -> Result<cel_interpreter::Value, String> {
    let mut map = HashMap::with_capacity(columns.len());
    for column in columns {
        if let Some(value) = record.get(column) {
            let value = cel_interpreter::to_value(value).map_err(|e| e.to_string())?;
            map.insert(cel_interpreter::objects::Key::String(Arc::new(column.clone())), value);
        }
    }
    Ok(cel_interpreter::Value::Map(cel_interpreter::objects::Map { map: Arc::new(map) }))
}

/// Which record `expr` is, if it is one of the two variables.
fn var_of(expr: &IdedExpr) -> Option<Var> {
    match &expr.expr {
        Expr::Ident(name) if name == "record" => Some(Var::Record),
        Expr::Ident(name) if name == "new" => Some(Var::New),
        _ => None,
    }
}

fn is_record(expr: &IdedExpr) -> bool {
    var_of(expr).is_some()
}

/// The columns `expr` reads as `record.<column>` (including `has(…)`), or
/// `None` if `record` appears any other way (alone, indexed, as a method's
/// target or an argument) or a column is named like a CEL function.
fn record_columns(expr: &IdedExpr) -> Option<Vec<String>> {
    fn collect(expr: &IdedExpr, columns: &mut Vec<String>) -> bool {
        match &expr.expr {
            Expr::Select(select) if is_record(&select.operand) => {
                columns.push(select.field.clone());
                true
            }
            _ if is_record(expr) => false,
            _ => {
                let mut all = true;
                for_each_child(expr, &mut |child| all = all && collect(child, columns));
                all
            }
        }
    }
    let mut columns = Vec::new();
    if !collect(expr, &mut columns) || columns.iter().any(|c| names_a_function(c)) {
        return None;
    }
    columns.sort_unstable();
    columns.dedup();
    Some(columns)
}

/// Whether `record.<name>` on a record without that column gives CEL's
/// function `name` bound to the record (which shows the whole record in an
/// error) rather than a "No such key" error: then the record cannot be cut
/// down to the named columns without changing that error.
fn names_a_function(name: &str) -> bool {
    let ident = |name: &str| IdedExpr { id: 0, expr: Expr::Ident(name.to_string()) };
    let select = SelectExpr { operand: Box::new(ident("record")), field: name.to_string(), test: false };
    let empty = cel_interpreter::objects::Map { map: Arc::new(HashMap::new()) };
    let mut context = STANDARD.new_inner_scope();
    context.add_variable_from_value("record", cel_interpreter::Value::Map(empty));
    let expr = IdedExpr { id: 0, expr: Expr::Select(select) };
    matches!(cel_interpreter::Value::resolve(&expr, &context), Ok(cel_interpreter::Value::Function(..)))
}

/// Calls `f` on each direct sub-expression.
fn for_each_child(expr: &IdedExpr, f: &mut dyn FnMut(&IdedExpr)) {
    match &expr.expr {
        Expr::Call(call) => call.target.iter().map(|t| &**t).chain(&call.args).for_each(f),
        Expr::Comprehension(c) => {
            [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result].into_iter().for_each(|e| f(e))
        }
        Expr::List(list) => list.elements.iter().for_each(f),
        Expr::Map(map) => map.entries.iter().for_each(|e| entry_children(&e.expr, f)),
        Expr::Struct(s) => s.entries.iter().for_each(|e| entry_children(&e.expr, f)),
        Expr::Select(select) => f(&select.operand),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entry_children(entry: &EntryExpr, f: &mut dyn FnMut(&IdedExpr)) {
    match entry {
        EntryExpr::StructField(field) => f(&field.value),
        EntryExpr::MapEntry(e) => {
            f(&e.key);
            f(&e.value)
        }
    }
}

/// Size limits, checked on the text before the parser sees it and on the
/// tree it returns.
mod bounds {
    use super::*;

    pub(super) fn check_text(source: &str) -> Result<(), ConditionError> {
        let too_large = |what: String| Err(ConditionError::TooLarge(what));
        if source.len() > CEL_SOURCE_BYTES_MAX {
            return too_large(format!("is {} bytes long; at most {CEL_SOURCE_BYTES_MAX} are allowed", source.len()));
        }
        let shape = scan(source).map_err(ConditionError::Invalid)?;
        if shape.nesting > CEL_NESTING_MAX {
            return too_large(format!(
                "is nested {} levels deep (brackets and `?:`); at most {CEL_NESTING_MAX} are allowed",
                shape.nesting
            ));
        }
        if shape.tokens > CEL_TOKENS_MAX {
            return too_large(format!(
                "has {} tokens (names, values and operators); at most {CEL_TOKENS_MAX} are allowed",
                shape.tokens
            ));
        }
        Ok(())
    }

    pub(super) fn check_tree(expr: &IdedExpr) -> Result<(), String> {
        let levels = depth(expr);
        if levels > CEL_DEPTH_MAX {
            return Err(format!(
                "is {levels} levels deep once parsed (each operator of a chain like `a + b + c` is one level); \
                 at most {CEL_DEPTH_MAX} are allowed"
            ));
        }
        Ok(())
    }

    /// The tree's depth. Recursive, which is safe: the text's bounds keep
    /// the tree within a few hundred levels, and these frames are small.
    fn depth(expr: &IdedExpr) -> usize {
        let mut deepest = 0;
        for_each_child(expr, &mut |child| deepest = deepest.max(depth(child)));
        deepest + 1
    }

    #[derive(Debug, Default, PartialEq)]
    pub(super) struct Shape {
        pub nesting: usize,
        pub tokens: usize,
    }

    /// Counts nesting and tokens the way CEL's lexer splits the text, so
    /// that brackets inside string literals and comments do not count. Text
    /// this scan could split differently from the lexer (a malformed string,
    /// a number run into a string) or whose brackets do not pair up is
    /// refused: it is not valid CEL anyway, and a misreading could hide
    /// brackets from the count.
    pub(super) fn scan(source: &str) -> Result<Shape, String> {
        let chars: Vec<char> = source.chars().collect();
        let mut open: Vec<char> = Vec::new();
        let (mut shape, mut i) = (Shape::default(), 0);
        while let Some(&c) = chars.get(i) {
            let next = match c {
                ' ' | '\t' | '\r' | '\n' | '\u{c}' => {
                    i += 1;
                    continue;
                }
                '/' if chars.get(i + 1) == Some(&'/') => {
                    i = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |n| i + n);
                    continue;
                }
                '"' | '\'' => string_end(&chars, i, false).ok_or_else(unclosed_string)?,
                '`' => {
                    escaped_name_end(&chars, i).ok_or("a `…` name is not closed, or holds a character it may not")?
                }
                c if c.is_ascii_alphanumeric() || c == '_' => word_end(&chars, i)?,
                '(' | '[' | '{' | '?' => {
                    open.push(c);
                    shape.nesting = shape.nesting.max(open.len());
                    i + 1
                }
                ')' | ']' | '}' => close(&mut open, c).map(|()| i + 1)?,
                _ => operator_end(&chars, i),
            };
            shape.tokens += 1;
            i = next;
        }
        Ok(shape)
    }

    fn unclosed_string() -> String {
        "a string is not closed (on its line, for '…' and \"…\"), or holds an unknown \\ escape".to_string()
    }

    /// Pops the bracket `c` closes, and the `?` of any `?:` inside it.
    fn close(open: &mut Vec<char>, c: char) -> Result<(), String> {
        while open.last() == Some(&'?') {
            open.pop();
        }
        let opener = match c {
            ')' => '(',
            ']' => '[',
            _ => '{',
        };
        match open.pop() {
            Some(o) if o == opener => Ok(()),
            Some(o) => Err(format!("`{c}` closes `{o}`; brackets must pair up")),
            None => Err(format!("`{c}` closes nothing; brackets must pair up")),
        }
    }

    /// Two-character operators count as one token.
    fn operator_end(chars: &[char], i: usize) -> usize {
        let pair: String = chars[i..chars.len().min(i + 2)].iter().collect();
        i + if ["==", "!=", "<=", ">=", "&&", "||"].contains(&pair.as_str()) { 2 } else { 1 }
    }

    /// A name, keyword or number, and the string it may prefix (`r'…'`,
    /// `b"…"`, `br'…'`).
    fn word_end(chars: &[char], start: usize) -> Result<usize, String> {
        let mut end = start;
        while chars.get(end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
            end += 1;
        }
        if chars[start].is_ascii_digit() {
            // `1.5`, `2.0e3`: the fraction is part of the number.
            while chars.get(end) == Some(&'.') && chars.get(end + 1).is_some_and(char::is_ascii_digit) {
                end += 1;
                while chars.get(end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    end += 1;
                }
            }
        }
        if !matches!(chars.get(end), Some('"' | '\'')) {
            return Ok(end);
        }
        let word: String = chars[start..end].iter().collect();
        match word.as_str() {
            "r" | "R" | "br" | "bR" | "Br" | "BR" => string_end(chars, end, true).ok_or_else(unclosed_string),
            "b" | "B" => string_end(chars, end, false).ok_or_else(unclosed_string),
            // A number's digits can end in a prefix (`1r'…'`): the lexer
            // would split them where this scan cannot tell.
            _ if chars[start].is_ascii_digit() => Err(format!("`{word}` runs into a string; separate them")),
            // A name or keyword (`in"x"`), then a string of its own.
            _ => Ok(end),
        }
    }

    /// Where the string literal opening at `i` ends, as CEL's lexer reads
    /// it; `None` if the lexer would not read one whole string there.
    fn string_end(chars: &[char], i: usize, raw: bool) -> Option<usize> {
        let quote = chars[i];
        if chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote) {
            return long_string_end(chars, i + 3, quote, raw);
        }
        let mut j = i + 1;
        loop {
            match *chars.get(j)? {
                c if c == quote => return Some(j + 1),
                '\n' | '\r' => return None,
                '\\' if !raw => j += escape_len(&chars[j..])?,
                _ => j += 1,
            }
        }
    }

    /// A `'''…'''` or `"""…"""` string: it may span lines and ends at the
    /// first unescaped triple quote.
    fn long_string_end(chars: &[char], mut j: usize, quote: char, raw: bool) -> Option<usize> {
        loop {
            if chars.get(j..j + 3) == Some(&[quote; 3][..]) {
                return Some(j + 3);
            }
            match *chars.get(j)? {
                '\\' if !raw => j += escape_len(&chars[j..])?,
                _ => j += 1,
            }
        }
    }

    /// The length of the escape sequence `at` starts with (at a `\`), as
    /// CEL's grammar defines them.
    fn escape_len(at: &[char]) -> Option<usize> {
        let digits = |n: usize, ok: fn(&char) -> bool| at.get(2..2 + n).is_some_and(|d| d.iter().all(ok));
        match at.get(1)? {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '"' | '\'' | '\\' | '?' | '`' => Some(2),
            'x' | 'X' => digits(2, char::is_ascii_hexdigit).then_some(4),
            'u' => digits(4, char::is_ascii_hexdigit).then_some(6),
            'U' => digits(8, char::is_ascii_hexdigit).then_some(10),
            '0'..='3' => digits(2, |d| ('0'..='7').contains(d)).then_some(4),
            _ => None,
        }
    }

    /// A `` `name` `` identifier. It may hold `/`, which must not start a comment.
    fn escaped_name_end(chars: &[char], i: usize) -> Option<usize> {
        let mut j = i + 1;
        while chars.get(j).is_some_and(|c| c.is_ascii_alphanumeric() || "_.-/ ".contains(*c)) {
            j += 1;
        }
        (j > i + 1 && chars.get(j) == Some(&'`')).then_some(j + 1)
    }
}

/// The allocation-free evaluator for the CEL most policies write. `eval`
/// returns `None` whenever CEL's own evaluation would not give a plain value
/// (an error, a missing column, a list or map): the caller then asks the
/// interpreter, which gives the exact result or error text. Every rule here
/// mirrors `cel_interpreter::Value::resolve` and its `PartialEq` /
/// `PartialOrd` (cel-interpreter 0.10); `tests/condition_equivalence.rs`
/// checks the two agree on random expressions and records.
mod fast {
    use std::cmp::Ordering;

    use cel_parser::ast::operators;
    use cel_parser::reference::Val as Literal;

    use super::*;

    pub(super) enum Fast {
        Value(Scalar),
        Column(Var, Box<str>),
        Has(Var, Box<str>),
        Not(Box<Fast>),
        And(Box<[Fast; 2]>),
        Or(Box<[Fast; 2]>),
        Choose(Box<[Fast; 3]>),
        Compare(Compare, Box<[Fast; 2]>),
        InList(Box<Fast>, Box<[Fast]>),
    }

    /// A literal, owned by the compiled tree.
    pub(super) enum Scalar {
        Null,
        Bool(bool),
        Int(i64),
        UInt(u64),
        Float(f64),
        String(Box<str>),
    }

    #[derive(Clone, Copy)]
    pub(super) enum Compare {
        Equal,
        NotEqual,
        Less,
        LessOrEqual,
        Greater,
        GreaterOrEqual,
    }

    /// A value during evaluation, borrowed from the record or the tree.
    #[derive(Clone, Copy, Debug)]
    pub(super) enum Val<'a> {
        Null,
        Bool(bool),
        Int(i64),
        UInt(u64),
        Float(f64),
        Str(&'a str),
    }

    /// `None` if `expr` uses anything outside the subset.
    pub(super) fn compile(expr: &IdedExpr) -> Option<Fast> {
        match &expr.expr {
            Expr::Literal(literal) => literal_value(literal).map(Fast::Value),
            Expr::Select(select) if is_record(&select.operand) => {
                let var = var_of(&select.operand)?;
                let column = select.field.as_str().into();
                Some(if select.test { Fast::Has(var, column) } else { Fast::Column(var, column) })
            }
            Expr::Call(call) if call.target.is_none() => compile_call(&call.func_name, &call.args),
            _ => None,
        }
    }

    fn literal_value(literal: &Literal) -> Option<Scalar> {
        Some(match literal {
            Literal::Null => Scalar::Null,
            Literal::Boolean(b) => Scalar::Bool(*b),
            Literal::Int(i) => Scalar::Int(*i),
            Literal::UInt(u) => Scalar::UInt(*u),
            Literal::Double(f) => Scalar::Float(*f),
            Literal::String(s) => Scalar::String(s.as_str().into()),
            Literal::Bytes(_) => return None,
        })
    }

    fn compile_call(name: &str, args: &[IdedExpr]) -> Option<Fast> {
        let two = |a, b| Some(Box::new([compile(a)?, compile(b)?]));
        let compare = |how, a, b| Some(Fast::Compare(how, two(a, b)?));
        match (name, args) {
            (operators::LOGICAL_NOT, [a]) => Some(Fast::Not(Box::new(compile(a)?))),
            (operators::CONDITIONAL, [c, t, f]) => {
                Some(Fast::Choose(Box::new([compile(c)?, compile(t)?, compile(f)?])))
            }
            (operators::LOGICAL_AND, [a, b]) => Some(Fast::And(two(a, b)?)),
            (operators::LOGICAL_OR, [a, b]) => Some(Fast::Or(two(a, b)?)),
            (operators::EQUALS, [a, b]) => compare(Compare::Equal, a, b),
            (operators::NOT_EQUALS, [a, b]) => compare(Compare::NotEqual, a, b),
            (operators::LESS, [a, b]) => compare(Compare::Less, a, b),
            (operators::LESS_EQUALS, [a, b]) => compare(Compare::LessOrEqual, a, b),
            (operators::GREATER, [a, b]) => compare(Compare::Greater, a, b),
            (operators::GREATER_EQUALS, [a, b]) => compare(Compare::GreaterOrEqual, a, b),
            (operators::IN, [item, IdedExpr { expr: Expr::List(list), .. }]) => {
                let items = list.elements.iter().map(compile).collect::<Option<Vec<_>>>()?;
                Some(Fast::InList(Box::new(compile(item)?), items.into()))
            }
            _ => None,
        }
    }

    impl Fast {
        pub(super) fn eval<'a>(&'a self, record: &'a Prepared<'a>) -> Option<Val<'a>> {
            Some(match self {
                Fast::Value(v) => v.val(),
                Fast::Column(var, name) => column(crate::value::column(record.of(*var), name)?)?,
                Fast::Has(var, name) => Val::Bool(crate::value::column(record.of(*var), name).is_some()),
                Fast::Not(e) => Val::Bool(!e.eval(record)?.truthy()),
                // `&&` gives a bool; `||` gives its first truthy operand.
                Fast::And(e) => Val::Bool(e[0].eval(record)?.truthy() && e[1].eval(record)?.truthy()),
                Fast::Or(e) => match e[0].eval(record)? {
                    left if left.truthy() => left,
                    _ => e[1].eval(record)?,
                },
                Fast::Choose(e) => match e[0].eval(record)?.truthy() {
                    true => e[1].eval(record)?,
                    false => e[2].eval(record)?,
                },
                Fast::Compare(how, e) => Val::Bool(compare(*how, e[0].eval(record)?, e[1].eval(record)?)?),
                Fast::InList(item, list) => in_list(item.eval(record)?, list, record)?,
            })
        }
    }

    /// CEL builds the whole list, so every element must evaluate.
    fn in_list<'a>(item: Val<'a>, list: &'a [Fast], record: &'a Prepared<'a>) -> Option<Val<'a>> {
        let mut found = false;
        for element in list {
            found |= equal(item, element.eval(record)?);
        }
        Some(Val::Bool(found))
    }

    /// A column as `cel_interpreter::to_value` converts it: JSON numbers
    /// serialize as u64 when non-negative integers, i64 when negative, f64
    /// otherwise.
    fn column(value: &Value) -> Option<Val<'_>> {
        Some(match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) if n.is_u64() => Val::UInt(n.as_u64()?),
            Value::Number(n) if n.is_i64() => Val::Int(n.as_i64()?),
            Value::Number(n) => Val::Float(n.as_f64()?),
            Value::String(s) => Val::Str(s),
            Value::Array(_) | Value::Object(_) => return None,
        })
    }

    fn compare(how: Compare, a: Val, b: Val) -> Option<bool> {
        Some(match how {
            Compare::Equal => equal(a, b),
            Compare::NotEqual => !equal(a, b),
            Compare::Less => order(a, b)? == Ordering::Less,
            Compare::LessOrEqual => order(a, b)? != Ordering::Greater,
            Compare::Greater => order(a, b)? == Ordering::Greater,
            Compare::GreaterOrEqual => order(a, b)? != Ordering::Less,
        })
    }

    /// `PartialEq for cel_interpreter::Value`: numbers compare across types.
    fn equal(a: Val, b: Val) -> bool {
        match (a, b) {
            (Val::Null, Val::Null) => true,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::UInt(a), Val::UInt(b)) => a == b,
            (Val::Float(a), Val::Float(b)) => a == b,
            (Val::Int(a), Val::UInt(b)) | (Val::UInt(b), Val::Int(a)) => u64::try_from(a).is_ok_and(|a| a == b),
            (Val::Int(a), Val::Float(b)) | (Val::Float(b), Val::Int(a)) => a as f64 == b,
            (Val::UInt(a), Val::Float(b)) | (Val::Float(b), Val::UInt(a)) => a as f64 == b,
            _ => false,
        }
    }

    /// `PartialOrd for cel_interpreter::Value`; `None` is CEL's "can not be
    /// compared" error.
    fn order(a: Val, b: Val) -> Option<Ordering> {
        match (a, b) {
            (Val::Null, Val::Null) => Some(Ordering::Equal),
            (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(&b)),
            (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
            (Val::Int(a), Val::Int(b)) => Some(a.cmp(&b)),
            (Val::UInt(a), Val::UInt(b)) => Some(a.cmp(&b)),
            (Val::Float(a), Val::Float(b)) => a.partial_cmp(&b),
            // A negative i64 is below every u64.
            (Val::Int(a), Val::UInt(b)) => Some(u64::try_from(a).map_or(Ordering::Less, |a| a.cmp(&b))),
            (Val::UInt(a), Val::Int(b)) => Some(i64::try_from(a).map_or(Ordering::Greater, |a| a.cmp(&b))),
            (Val::Int(a), Val::Float(b)) => (a as f64).partial_cmp(&b),
            (Val::UInt(a), Val::Float(b)) => (a as f64).partial_cmp(&b),
            (Val::Float(a), Val::Int(b)) => a.partial_cmp(&(b as f64)),
            (Val::Float(a), Val::UInt(b)) => a.partial_cmp(&(b as f64)),
            _ => None,
        }
    }

    impl Scalar {
        fn val(&self) -> Val<'_> {
            match self {
                Scalar::Null => Val::Null,
                Scalar::Bool(b) => Val::Bool(*b),
                Scalar::Int(i) => Val::Int(*i),
                Scalar::UInt(u) => Val::UInt(*u),
                Scalar::Float(f) => Val::Float(*f),
                Scalar::String(s) => Val::Str(s),
            }
        }
    }

    impl Val<'_> {
        /// CEL's truthiness as the interpreter applies it to `!`, `&&`, `||`, `?:`.
        fn truthy(self) -> bool {
            match self {
                Val::Null => false,
                Val::Bool(b) => b,
                Val::Int(i) => i != 0,
                Val::UInt(u) => u != 0,
                Val::Float(f) => f != 0.0,
                Val::Str(s) => !s.is_empty(),
            }
        }

        /// As `cel_interpreter::Value::json` converts it.
        pub(super) fn json(self) -> Value {
            match self {
                Val::Null => Value::Null,
                Val::Bool(b) => Value::Bool(b),
                Val::Int(i) => Value::from(i),
                Val::UInt(u) => Value::from(u),
                Val::Float(f) => Value::from(f),
                Val::Str(s) => Value::String(s.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests;
