;; Calls (direct, indirect, tail), returns, branches (br, br_if, br_table, if/else),
;; locals and globals: sums f(i) for i in 0..3 where f is picked through a table.
(module
  (type $unary (func (param i32) (result i32)))
  (global $total (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $double $negate)
  (func $double (type $unary) (i32.add (local.get 0) (local.get 0)))
  (func $negate (type $unary) (i32.sub (i32.const 0) (local.get 0)))
  (func $pick (param $i i32) (result i32)
    ;; br_table on i: 0 -> double, 1 -> negate, else -> via tail call
    (block $other
      (block $one
        (block $zero
          (br_table $zero $one $other (local.get $i)))
        (return (call_indirect (type $unary) (local.get $i) (i32.const 0))))
      (return (call_indirect (type $unary) (local.get $i) (i32.const 1))))
    (return_call $double (local.get $i)))
  (func $main (export "main") (result i32) (local $i i32)
    (loop $next
      (global.set $total (i32.add (global.get $total) (call $pick (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 3))))
    (if (result i32) (i32.gt_s (global.get $total) (i32.const 0))
      (then (global.get $total))
      (else (br 0 (i32.const -1))))))
