;; A longer run for the checkpoint test: sum of 1..n with a store per step.
(module
  (memory 1)
  (func $sum (export "sum") (param $n i32) (result i32) (local $acc i32)
    (loop $again
      (local.set $acc (i32.add (local.get $acc) (local.get $n)))
      (i32.store (i32.const 0) (local.get $acc))
      (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (call $twice (i32.load (i32.const 0))))
  (func $twice (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2))))
