//! What to trace: event kinds, state resources, functions and a limit, parsed from the
//! comma-separated lists of the command line with one-line errors.

use std::fmt;

/// The kind of an instruction, which is the `event` of its trace line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `call`, `call_indirect`, `return_call`, `return_call_indirect`.
    Call,
    /// `return`, and the `end` that closes a function.
    Return,
    /// `br`, `br_if`, `br_table`, `if`, `else`.
    Branch,
    /// Every memory load, scalar and vector.
    Load,
    /// Every memory store, scalar and vector.
    Store,
    /// `local.get`, `local.set`, `local.tee`.
    Local,
    /// `global.get`, `global.set`.
    Global,
    /// `memory.size`, `memory.grow`, `memory.fill`, `memory.copy`, `memory.init`, `data.drop`.
    Memory,
    /// `table.*` and `elem.drop`.
    Table,
    /// Everything else: constants, arithmetic, comparisons, conversions, `drop`, `select`,
    /// references, SIMD lane operations.
    Other,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        EventKind::Call,
        EventKind::Return,
        EventKind::Branch,
        EventKind::Load,
        EventKind::Store,
        EventKind::Local,
        EventKind::Global,
        EventKind::Memory,
        EventKind::Table,
        EventKind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Call => "call",
            EventKind::Return => "return",
            EventKind::Branch => "branch",
            EventKind::Load => "load",
            EventKind::Store => "store",
            EventKind::Local => "local",
            EventKind::Global => "global",
            EventKind::Memory => "memory",
            EventKind::Table => "table",
            EventKind::Other => "other",
        }
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A part of the program state an event can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `func`, `name` (from the name section, when it has one) and `pc`.
    Pc,
    /// The operand stack before the instruction, bottom first.
    Stack,
    /// The frame's locals before the instruction, parameters first.
    Locals,
    /// Every global of the instance, after the instruction.
    Globals,
    /// For loads and stores: the effective address and the value loaded or stored.
    Memory,
}

impl Resource {
    pub const ALL: [Resource; 5] = [
        Resource::Pc,
        Resource::Stack,
        Resource::Locals,
        Resource::Globals,
        Resource::Memory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Pc => "pc",
            Resource::Stack => "stack",
            Resource::Locals => "locals",
            Resource::Globals => "globals",
            Resource::Memory => "memory",
        }
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A set of flags named on the command line, e.g. `call,branch` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set<T> {
    bits: u16,
    _kind: std::marker::PhantomData<T>,
}

impl<T> Set<T> {
    fn from_bits(bits: u16) -> Self {
        Set {
            bits,
            _kind: std::marker::PhantomData,
        }
    }
}

impl Set<EventKind> {
    pub fn contains(&self, kind: EventKind) -> bool {
        self.bits & kind.bit() != 0
    }
}

impl Set<Resource> {
    pub fn contains(&self, resource: Resource) -> bool {
        self.bits & resource.bit() != 0
    }
}

/// A bad value in a trace option; its message names the option and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError(pub String);

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionError {}

/// Parses a comma-separated list of names from `all` (`all` selects every one).
fn parse_list<T: Copy>(
    option: &str,
    text: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
    bit: impl Fn(T) -> u16,
) -> Result<u16, OptionError> {
    let mut bits = 0;
    for word in text.split(',').map(str::trim) {
        if word == "all" {
            bits |= all.iter().map(|&t| bit(t)).fold(0, |a, b| a | b);
            continue;
        }
        match all.iter().find(|&&t| name(t) == word) {
            Some(&t) => bits |= bit(t),
            None => {
                let names: Vec<_> = all.iter().map(|&t| name(t)).collect();
                return Err(OptionError(format!(
                    "{option} {text}: unknown name `{word}` (expected all or a comma-separated \
                     list of {})",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(bits)
}

/// Everything that selects what a trace shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOptions {
    pub events: Set<EventKind>,
    pub resources: Set<Resource>,
    /// Only instructions of these functions (module indices); `None`: every function.
    pub functions: Option<Vec<u32>>,
    /// Stop tracing after this many events (the program then runs on untraced).
    pub limit: Option<u64>,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            events: Set::from_bits(u16::MAX),
            resources: Set::from_bits(Resource::Pc.bit() | Resource::Memory.bit()),
            functions: None,
            limit: None,
        }
    }
}

impl TraceOptions {
    /// `--trace-events`: `all` or kinds such as `call,branch,load,store`.
    pub fn parse_events(text: &str) -> Result<Set<EventKind>, OptionError> {
        let bits = parse_list(
            "--trace-events",
            text,
            &EventKind::ALL,
            EventKind::name,
            EventKind::bit,
        )?;
        Ok(Set::from_bits(bits))
    }

    /// `--trace-resource`: `all` or parts such as `pc,stack,locals,globals,memory`.
    pub fn parse_resources(text: &str) -> Result<Set<Resource>, OptionError> {
        let bits = parse_list(
            "--trace-resource",
            text,
            &Resource::ALL,
            Resource::name,
            Resource::bit,
        )?;
        Ok(Set::from_bits(bits))
    }

    /// `--trace-functions`: names (name section or export) or indices, comma-separated.
    pub fn parse_functions(
        text: &str,
        module: &tern_interp::Module,
    ) -> Result<Vec<u32>, OptionError> {
        text.split(',')
            .map(str::trim)
            .map(|word| {
                word.parse()
                    .ok()
                    .filter(|&i| module.func_type(i).is_some())
                    .or_else(|| module.func_by_name(word))
                    .ok_or_else(|| {
                        OptionError(format!("--trace-functions {text}: no function `{word}`"))
                    })
            })
            .collect()
    }

    pub fn traces_func(&self, func: u32) -> bool {
        self.functions.as_ref().is_none_or(|f| f.contains(&func))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse() {
        let events = TraceOptions::parse_events("call, branch").unwrap();
        assert!(events.contains(EventKind::Call) && events.contains(EventKind::Branch));
        assert!(!events.contains(EventKind::Load));
        let all = TraceOptions::parse_events("all").unwrap();
        assert!(EventKind::ALL.iter().all(|&k| all.contains(k)));
        let resources = TraceOptions::parse_resources("stack,globals").unwrap();
        assert!(resources.contains(Resource::Stack) && !resources.contains(Resource::Pc));
    }

    #[test]
    fn unknown_names_are_one_line_errors() {
        let e = TraceOptions::parse_events("call,jump").unwrap_err().0;
        assert!(
            e.contains("unknown name `jump`") && !e.contains('\n'),
            "{e}"
        );
        let e = TraceOptions::parse_resources("").unwrap_err().0;
        assert!(e.starts_with("--trace-resource"), "{e}");
    }
}
