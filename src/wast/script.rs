//! The directives of a `.wast` script, interpreted once for every engine. An engine
//! plugs in through [`ScriptEngine`] (compile, instantiate, register, invoke, read a
//! global, tell traps apart); module names, definitions and the current module are kept
//! here.

use super::values::{arg_value, matches_ret};
use super::{Result, WastReport, buffer};
use std::collections::HashMap;
use tern_interp::Value;
use wast::parser;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, Wat};

/// Why an invocation or instantiation did not give values.
pub(super) enum Failure<T> {
    /// A trap, as the engine describes it.
    Trap(T),
    Other(String),
}

impl<T: std::fmt::Display> std::fmt::Display for Failure<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Trap(trap) => write!(f, "trap: {trap}"),
            Failure::Other(message) => f.write_str(message),
        }
    }
}

/// What instantiating a module gave.
pub(super) enum Instantiated<I, T> {
    Instance(I),
    /// The imports do not match (what `assert_unlinkable` expects).
    Unlinkable(String),
    Failed(Failure<T>),
}

/// An engine that runs scripts.
pub(super) trait ScriptEngine {
    type Module: Clone;
    type Instance: Copy;
    type Trap: std::fmt::Display;

    /// Encodes and validates a module; an error is a malformed or invalid module.
    fn compile(&self, wat: &mut QuoteWat<'_>) -> Result<Self::Module>;
    fn instantiate(&mut self, module: &Self::Module) -> Instantiated<Self::Instance, Self::Trap>;
    /// Makes `instance`'s exports importable as module `name`.
    fn register(&mut self, name: &str, instance: Self::Instance) -> Result<()>;
    fn invoke(
        &mut self,
        instance: Self::Instance,
        name: &str,
        args: &[Value],
    ) -> std::result::Result<Vec<Value>, Failure<Self::Trap>>;
    fn global(&mut self, instance: Self::Instance, name: &str) -> Result<Value>;
    /// Whether `trap` is the one a script's message describes.
    fn trap_matches(trap: &Self::Trap, message: &str) -> bool;
    /// Whether `trap` is a call stack exhaustion.
    fn is_exhaustion(trap: &Self::Trap) -> bool;
}

/// Runs the script `source` on `engine`, which is handed back with the report (for
/// what it counted); the error is a script that does not parse.
pub(super) fn run_script<E: ScriptEngine>(source: &str, engine: E) -> Result<(WastReport, E)> {
    let buffer = buffer(source)?;
    let wast: Wast<'_> = parser::parse(&buffer).map_err(|e| e.to_string())?;
    let mut script = Script {
        engine,
        current: None,
        named: HashMap::new(),
        definitions: HashMap::new(),
    };
    let mut report = WastReport::default();
    for directive in wast.directives {
        let (line, _) = directive.span().linecol_in(source);
        report.directives += 1;
        match script.directive(directive) {
            Ok(()) => report.passed += 1,
            Err(message) => report.failures.push((line + 1, message)),
        }
    }
    Ok((report, script.engine))
}

struct Script<E: ScriptEngine> {
    engine: E,
    current: Option<E::Instance>,
    named: HashMap<String, E::Instance>,
    definitions: HashMap<String, E::Module>,
}

type Outcome<E> = std::result::Result<Vec<Value>, Failure<<E as ScriptEngine>::Trap>>;

impl<E: ScriptEngine> Script<E> {
    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<E::Instance> {
        match id {
            Some(id) => self
                .named
                .get(id.name())
                .copied()
                .ok_or_else(|| format!("unknown module ${}", id.name())),
            None => self
                .current
                .ok_or_else(|| "no module instantiated yet".into()),
        }
    }

    fn add_instance(
        &mut self,
        name: Option<wast::token::Id<'_>>,
        module: &E::Module,
    ) -> Result<()> {
        let id = match self.engine.instantiate(module) {
            Instantiated::Instance(id) => id,
            Instantiated::Unlinkable(message) => return Err(message),
            Instantiated::Failed(failure) => return Err(failure.to_string()),
        };
        if let Some(name) = name {
            self.named.insert(name.name().to_string(), id);
        }
        self.current = Some(id);
        Ok(())
    }

    fn directive(&mut self, directive: WastDirective<'_>) -> Result<()> {
        match directive {
            WastDirective::Module(mut wat) => {
                let module = self.engine.compile(&mut wat)?;
                self.add_instance(wat.name(), &module)
            }
            WastDirective::ModuleDefinition(mut wat) => {
                let module = self.engine.compile(&mut wat)?;
                if let Some(name) = wat.name() {
                    self.definitions.insert(name.name().to_string(), module);
                }
                Ok(())
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let name = module.ok_or("module instance without a definition name")?;
                let def = self
                    .definitions
                    .get(name.name())
                    .cloned()
                    .ok_or("unknown definition")?;
                self.add_instance(instance, &def)
            }
            WastDirective::Register { name, module, .. } => {
                let id = self.instance(module)?;
                self.engine.register(name, id)
            }
            WastDirective::Invoke(invoke) => {
                self.invoke(invoke).map(drop).map_err(|e| e.to_string())
            }
            WastDirective::AssertMalformed { mut module, .. }
            | WastDirective::AssertInvalid { mut module, .. } => {
                match self.engine.compile(&mut module) {
                    Ok(_) => Err("module was accepted".into()),
                    Err(_) => Ok(()),
                }
            }
            WastDirective::AssertUnlinkable { module, .. } => {
                let module = self.engine.compile(&mut QuoteWat::Wat(module))?;
                match self.engine.instantiate(&module) {
                    Instantiated::Unlinkable(_) => Ok(()),
                    Instantiated::Failed(other) => {
                        Err(format!("expected a link error, got: {other}"))
                    }
                    Instantiated::Instance(_) => Err("module linked".into()),
                }
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let actual = self.execute(exec).map_err(|e| e.to_string())?;
                if actual.len() != results.len() {
                    return Err(format!(
                        "expected {} results, got {actual:?}",
                        results.len()
                    ));
                }
                for (value, expected) in actual.iter().zip(&results) {
                    if !matches_ret(value, expected) {
                        return Err(format!("expected {expected:?}, got {value:?}"));
                    }
                }
                Ok(())
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec) {
                Ok(values) => Err(format!("expected trap `{message}`, got {values:?}")),
                Err(Failure::Trap(trap)) if E::trap_matches(&trap, message) => Ok(()),
                Err(other) => Err(format!("expected trap `{message}`, got: {other}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(call) {
                Err(Failure::Trap(trap)) if E::is_exhaustion(&trap) => Ok(()),
                Ok(values) => Err(format!("expected `{message}`, got {values:?}")),
                Err(other) => Err(format!("expected `{message}`, got: {other}")),
            },
            other => Err(format!("unsupported directive {other:?}")),
        }
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Outcome<E> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(invoke),
            WastExecute::Wat(Wat::Module(module)) => {
                let module = self
                    .engine
                    .compile(&mut QuoteWat::Wat(Wat::Module(module)))
                    .map_err(Failure::Other)?;
                match self.engine.instantiate(&module) {
                    Instantiated::Instance(_) => Ok(Vec::new()),
                    Instantiated::Unlinkable(message) => Err(Failure::Other(message)),
                    Instantiated::Failed(failure) => Err(failure),
                }
            }
            WastExecute::Wat(_) => Err(Failure::Other("components are not supported".into())),
            WastExecute::Get { module, global, .. } => {
                let id = self.instance(module).map_err(Failure::Other)?;
                let value = self.engine.global(id, global).map_err(Failure::Other)?;
                Ok(vec![value])
            }
        }
    }

    fn invoke(&mut self, invoke: WastInvoke<'_>) -> Outcome<E> {
        let id = self.instance(invoke.module).map_err(Failure::Other)?;
        let args = invoke
            .args
            .iter()
            .map(arg_value)
            .collect::<Result<Vec<_>>>()
            .map_err(Failure::Other)?;
        self.engine.invoke(id, invoke.name, &args)
    }
}
