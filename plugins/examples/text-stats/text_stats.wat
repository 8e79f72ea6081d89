;; text-stats: counts characters, words and lines of a text. Pure: it imports nothing.
;;
;; ABI (docs/adr/0005-plugin-abi.md): the host writes {"tool":"stats","arguments":{"text":"..."}}
;; (compact JSON, arguments already checked against the tool's schema) at alloc(len), calls
;; call(ptr, len), and reads back ptr << 32 | len of {"result":{...}} or {"error":"..."}.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "\"text\":\"")                     ;; 8 bytes: the needle
  (data (i32.const 32) "{\"result\":{\"chars\":")         ;; 19 bytes
  (data (i32.const 64) ",\"words\":")                     ;; 9 bytes
  (data (i32.const 80) ",\"lines\":")                     ;; 9 bytes
  (data (i32.const 96) "}}")                              ;; 2 bytes
  (data (i32.const 112) "{\"error\":\"missing text\"}")   ;; 24 bytes
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

  ;; Writes an unsigned decimal number at $out (digits reversed in scratch space first).
  (func $put_num (param $v i32)
    (local $len i32)
    loop $digit
      i32.const 900
      local.get $len
      i32.add
      local.get $v
      i32.const 10
      i32.rem_u
      i32.const 48
      i32.add
      i32.store8
      local.get $len
      i32.const 1
      i32.add
      local.set $len
      local.get $v
      i32.const 10
      i32.div_u
      local.tee $v
      br_if $digit
    end
    loop $copy
      local.get $len
      i32.const 1
      i32.sub
      local.set $len
      global.get $out
      i32.const 900
      local.get $len
      i32.add
      i32.load8_u
      i32.store8
      global.get $out
      i32.const 1
      i32.add
      global.set $out
      local.get $len
      br_if $copy
    end)

  (func (export "call") (param $p i32) (param $n i32) (result i64)
    (local $s i32) (local $end i32) (local $c i32) (local $kind i32) (local $start i32)
    (local $chars i32) (local $words i32) (local $lines i32) (local $inword i32) (local $lastnl i32)
    local.get $p
    local.get $n
    i32.const 16
    i32.const 8
    call $find
    local.tee $s
    i32.const -1
    i32.eq
    if
      i64.const 481036337176   ;; 112 << 32 | 24: the "missing text" error
      return
    end
    local.get $s
    i32.const 8
    i32.add
    local.set $s
    local.get $p
    local.get $n
    i32.add
    local.set $end
    block $done
      loop $scan
        local.get $s
        local.get $end
        i32.ge_u
        br_if $done
        local.get $s
        i32.load8_u
        local.tee $c
        i32.const 34                 ;; the closing quote
        i32.eq
        br_if $done
        ;; kind: 0 visible character, 1 blank, 2 newline, 3 UTF-8 continuation byte
        local.get $c
        i32.const 92                 ;; a backslash escape
        i32.eq
        if (result i32)
          local.get $s
          i32.const 1
          i32.add
          local.tee $s
          i32.load8_u
          local.tee $c
          i32.const 110              ;; \n
          i32.eq
          if (result i32)
            i32.const 2
          else
            local.get $c
            i32.const 116            ;; \t
            i32.eq
            local.get $c
            i32.const 114            ;; \r
            i32.eq
            i32.or
            if (result i32)
              i32.const 1
            else
              local.get $c
              i32.const 117          ;; \uXXXX
              i32.eq
              if
                local.get $s
                i32.const 4
                i32.add
                local.set $s
              end
              i32.const 0
            end
          end
        else
          local.get $c
          i32.const 32
          i32.eq
          if (result i32)
            i32.const 1
          else
            local.get $c
            i32.const 192
            i32.and
            i32.const 128
            i32.eq
            if (result i32)
              i32.const 3
            else
              i32.const 0
            end
          end
        end
        local.tee $kind
        i32.const 3
        i32.ne
        if
          local.get $chars
          i32.const 1
          i32.add
          local.set $chars
          local.get $kind
          i32.eqz
          if
            local.get $inword
            i32.eqz
            if
              local.get $words
              i32.const 1
              i32.add
              local.set $words
            end
            i32.const 1
            local.set $inword
            i32.const 0
            local.set $lastnl
          else
            i32.const 0
            local.set $inword
            local.get $kind
            i32.const 2
            i32.eq
            local.set $lastnl
            local.get $lines
            local.get $lastnl
            i32.add
            local.set $lines
          end
        end
        local.get $s
        i32.const 1
        i32.add
        local.set $s
        br $scan
      end
    end
    ;; a last line without a newline still counts
    local.get $chars
    i32.const 0
    i32.ne
    local.get $lastnl
    i32.eqz
    i32.and
    local.get $lines
    i32.add
    local.set $lines
    i32.const 96
    call $alloc
    local.tee $start
    global.set $out
    i32.const 32
    i32.const 19
    call $put
    local.get $chars
    call $put_num
    i32.const 64
    i32.const 9
    call $put
    local.get $words
    call $put_num
    i32.const 80
    i32.const 9
    call $put
    local.get $lines
    call $put_num
    i32.const 96
    i32.const 2
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
