;; A trap ends the trace with the trapping instruction, which carries the trap.
(module
  (func $divide (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))
