;; kv-notes: saves and reads short notes in the tenant's private key-value store.
;; Capabilities: kv (convergio.kv_get, convergio.kv_put) and log (convergio.log).
;; Keys and values are kept as their escaped JSON string text, so a value read back is valid JSON.
(module
  (import "convergio" "kv_get" (func $kv_get (param i32 i32) (result i64)))
  (import "convergio" "kv_put" (func $kv_put (param i32 i32 i32 i32) (result i32)))
  (import "convergio" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"tool\":\"put\"")             ;; 13 bytes
  (data (i32.const 32) "\"key\":\"")                       ;; 7 bytes
  (data (i32.const 48) "\"value\":\"")                     ;; 9 bytes
  (data (i32.const 64) "{\"result\":\"saved\"}")          ;; 18 bytes
  (data (i32.const 96) "{\"error\":\"the store refused the note\"}")  ;; 38 bytes
  (data (i32.const 144) "{\"error\":\"no note under that key\"}")     ;; 34 bytes
  (data (i32.const 192) "{\"result\":\"")                  ;; 11 bytes
  (data (i32.const 208) "\"}")                               ;; 2 bytes
  (data (i32.const 224) "kv-notes: saved a note")           ;; 22 bytes
  (data (i32.const 256) "{\"error\":\"bad request\"}")    ;; 23 bytes
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

  ;; The address of the closing quote of a JSON string whose content starts at $s.
  (func $str_end (param $s i32) (param $end i32) (result i32)
    (local $c i32)
    block $done
      loop $scan
        local.get $s
        local.get $end
        i32.ge_u
        br_if $done
        local.get $s
        i32.load8_u
        local.tee $c
        i32.const 34
        i32.eq
        br_if $done
        local.get $s
        local.get $c
        i32.const 92
        i32.eq
        i32.const 1
        i32.add
        i32.add
        local.set $s
        br $scan
      end
    end
    local.get $s)

  (func $const (param $ptr i32) (param $len i32) (result i64)
    local.get $ptr
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get $len
    i64.extend_i32_u
    i64.or)

  (func (export "call") (param $p i32) (param $n i32) (result i64)
    (local $end i32) (local $k i32) (local $kend i32) (local $v i32) (local $vend i32)
    (local $got i64) (local $start i32)
    local.get $p
    local.get $n
    i32.add
    local.set $end
    ;; the key is in both tools
    local.get $p
    local.get $n
    i32.const 32
    i32.const 7
    call $find
    local.tee $k
    i32.const -1
    i32.eq
    if
      i32.const 256
      i32.const 23
      call $const
      return
    end
    local.get $k
    i32.const 7
    i32.add
    local.tee $k
    local.get $end
    call $str_end
    local.set $kend
    ;; put: {"tool":"put" at the very start of the request
    local.get $p
    i32.const 13
    i32.const 16
    i32.const 13
    call $find
    local.get $p
    i32.eq
    if
      local.get $p
      local.get $n
      i32.const 48
      i32.const 9
      call $find
      local.tee $v
      i32.const -1
      i32.eq
      if
        i32.const 256
        i32.const 23
        call $const
        return
      end
      local.get $v
      i32.const 9
      i32.add
      local.tee $v
      local.get $end
      call $str_end
      local.set $vend
      local.get $k
      local.get $kend
      local.get $k
      i32.sub
      local.get $v
      local.get $vend
      local.get $v
      i32.sub
      call $kv_put
      if
        i32.const 96
        i32.const 38
        call $const
        return
      end
      i32.const 224
      i32.const 22
      call $log
      i32.const 64
      i32.const 18
      call $const
      return
    end
    ;; get
    local.get $k
    local.get $kend
    local.get $k
    i32.sub
    call $kv_get
    local.tee $got
    i64.const 0
    i64.lt_s
    if
      i32.const 144
      i32.const 34
      call $const
      return
    end
    local.get $got
    i64.const 0xFFFFFFFF
    i64.and
    i32.wrap_i64
    i32.const 13
    i32.add
    call $alloc
    local.tee $start
    global.set $out
    i32.const 192
    i32.const 11
    call $put
    local.get $got
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.get $got
    i64.const 0xFFFFFFFF
    i64.and
    i32.wrap_i64
    call $put
    i32.const 208
    i32.const 2
    call $put
    local.get $start
    global.get $out
    local.get $start
    i32.sub
    call $const)
)
