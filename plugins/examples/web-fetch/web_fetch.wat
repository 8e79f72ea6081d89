;; web-fetch: fetches a URL through the host's http capability (granted hosts only).
;; It hands its arguments object, {"url": "..."}, to convergio.http_fetch as the request and
;; returns the host's JSON answer as its result: {"result":{"status", "headers", "body", ...}}.
(module
  (import "convergio" "http_fetch" (func $http_fetch (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\"arguments\":")                  ;; 12 bytes
  (data (i32.const 32) "{\"result\":")                    ;; 10 bytes
  (data (i32.const 48) "}")                                 ;; 1 byte
  (data (i32.const 64) "{\"error\":\"bad request\"}")   ;; 23 bytes
  (global $heap (mut i32) (i32.const 1024))
  (global $out (mut i32) (i32.const 0))

  ;; A bump allocator: a fresh instance serves each call, so nothing is ever freed.
  (func $alloc (export "alloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    global.get $heap
    local.set $p
    local.get $p
    local.get $n
    i32.add
    i32.const 7
    i32.add
    i32.const -8
    i32.and
    local.set $end
    local.get $end
    memory.size
    i32.const 16
    i32.shl
    i32.gt_u
    if
      local.get $end
      memory.size
      i32.const 16
      i32.shl
      i32.sub
      i32.const 65535
      i32.add
      i32.const 16
      i32.shr_u
      memory.grow
      i32.const -1
      i32.eq
      if
        unreachable
      end
    end
    local.get $end
    global.set $heap
    local.get $p)

  ;; The address of the first needle in the haystack, or -1.
  (func $find (param $h i32) (param $hl i32) (param $n i32) (param $nl i32) (result i32)
    (local $i i32) (local $j i32)
    block $none
      loop $outer
        local.get $i
        local.get $nl
        i32.add
        local.get $hl
        i32.gt_u
        br_if $none
        i32.const 0
        local.set $j
        block $mismatch
          loop $inner
            local.get $j
            local.get $nl
            i32.ge_u
            if
              local.get $h
              local.get $i
              i32.add
              return
            end
            local.get $h
            local.get $i
            i32.add
            local.get $j
            i32.add
            i32.load8_u
            local.get $n
            local.get $j
            i32.add
            i32.load8_u
            i32.ne
            br_if $mismatch
            local.get $j
            i32.const 1
            i32.add
            local.set $j
            br $inner
          end
        end
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $outer
      end
    end
    i32.const -1)

  (func $put (param $src i32) (param $len i32)
    global.get $out
    local.get $src
    local.get $len
    memory.copy
    global.get $out
    local.get $len
    i32.add
    global.set $out)

  (func (export "call") (param $p i32) (param $n i32) (result i64)
    (local $a i32) (local $got i64) (local $len i32) (local $start i32)
    local.get $p
    local.get $n
    i32.const 16
    i32.const 12
    call $find
    local.tee $a
    i32.const -1
    i32.eq
    if
      i64.const 274877906967   ;; 64 << 32 | 23
      return
    end
    ;; the arguments object runs to the byte before the request's closing brace
    local.get $a
    i32.const 12
    i32.add
    local.tee $a
    local.get $p
    local.get $n
    i32.add
    i32.const 1
    i32.sub
    local.get $a
    i32.sub
    call $http_fetch
    local.tee $got
    i64.const 0xFFFFFFFF
    i64.and
    i32.wrap_i64
    local.tee $len
    i32.const 11
    i32.add
    call $alloc
    local.tee $start
    global.set $out
    i32.const 32
    i32.const 10
    call $put
    local.get $got
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.get $len
    call $put
    i32.const 48
    i32.const 1
    call $put
    local.get $start
    i64.extend_i32_u
    i64.const 32
    i64.shl
    global.get $out
    local.get $start
    i32.sub
    i64.extend_i32_u
    i64.or)
)
